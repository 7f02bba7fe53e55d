import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AbortResponse as _tern_v1_AbortResponse, AbortResponse__Output as _tern_v1_AbortResponse__Output } from './tern/v1/AbortResponse';
import type { AgentClient as _tern_v1_AgentClient, AgentDefinition as _tern_v1_AgentDefinition } from './tern/v1/Agent';
import type { CheckRequest as _tern_v1_CheckRequest, CheckRequest__Output as _tern_v1_CheckRequest__Output } from './tern/v1/CheckRequest';
import type { CheckResponse as _tern_v1_CheckResponse, CheckResponse__Output as _tern_v1_CheckResponse__Output } from './tern/v1/CheckResponse';
import type { CommitResponse as _tern_v1_CommitResponse, CommitResponse__Output as _tern_v1_CommitResponse__Output } from './tern/v1/CommitResponse';
import type { Container as _tern_v1_Container, Container__Output as _tern_v1_Container__Output } from './tern/v1/Container';
import type { ContainerRef as _tern_v1_ContainerRef, ContainerRef__Output as _tern_v1_ContainerRef__Output } from './tern/v1/ContainerRef';
import type { CoordExecRequest as _tern_v1_CoordExecRequest, CoordExecRequest__Output as _tern_v1_CoordExecRequest__Output } from './tern/v1/CoordExecRequest';
import type { CoordRunRequest as _tern_v1_CoordRunRequest, CoordRunRequest__Output as _tern_v1_CoordRunRequest__Output } from './tern/v1/CoordRunRequest';
import type { CoordinatorClient as _tern_v1_CoordinatorClient, CoordinatorDefinition as _tern_v1_CoordinatorDefinition } from './tern/v1/Coordinator';
import type { CordonRequest as _tern_v1_CordonRequest, CordonRequest__Output as _tern_v1_CordonRequest__Output } from './tern/v1/CordonRequest';
import type { DryRunResponse as _tern_v1_DryRunResponse, DryRunResponse__Output as _tern_v1_DryRunResponse__Output } from './tern/v1/DryRunResponse';
import type { DumpProgressResponse as _tern_v1_DumpProgressResponse, DumpProgressResponse__Output as _tern_v1_DumpProgressResponse__Output } from './tern/v1/DumpProgressResponse';
import type { DumpRequest as _tern_v1_DumpRequest, DumpRequest__Output as _tern_v1_DumpRequest__Output } from './tern/v1/DumpRequest';
import type { DumpResponse as _tern_v1_DumpResponse, DumpResponse__Output as _tern_v1_DumpResponse__Output } from './tern/v1/DumpResponse';
import type { EstimateResponse as _tern_v1_EstimateResponse, EstimateResponse__Output as _tern_v1_EstimateResponse__Output } from './tern/v1/EstimateResponse';
import type { EvacuateEvent as _tern_v1_EvacuateEvent, EvacuateEvent__Output as _tern_v1_EvacuateEvent__Output } from './tern/v1/EvacuateEvent';
import type { EvacuateRequest as _tern_v1_EvacuateRequest, EvacuateRequest__Output as _tern_v1_EvacuateRequest__Output } from './tern/v1/EvacuateRequest';
import type { ExecRequest as _tern_v1_ExecRequest, ExecRequest__Output as _tern_v1_ExecRequest__Output } from './tern/v1/ExecRequest';
import type { ExecResponse as _tern_v1_ExecResponse, ExecResponse__Output as _tern_v1_ExecResponse__Output } from './tern/v1/ExecResponse';
import type { Finding as _tern_v1_Finding, Finding__Output as _tern_v1_Finding__Output } from './tern/v1/Finding';
import type { HandoffRequest as _tern_v1_HandoffRequest, HandoffRequest__Output as _tern_v1_HandoffRequest__Output } from './tern/v1/HandoffRequest';
import type { HeartbeatRequest as _tern_v1_HeartbeatRequest, HeartbeatRequest__Output as _tern_v1_HeartbeatRequest__Output } from './tern/v1/HeartbeatRequest';
import type { HeartbeatResponse as _tern_v1_HeartbeatResponse, HeartbeatResponse__Output as _tern_v1_HeartbeatResponse__Output } from './tern/v1/HeartbeatResponse';
import type { Host as _tern_v1_Host, Host__Output as _tern_v1_Host__Output } from './tern/v1/Host';
import type { ImageChunk as _tern_v1_ImageChunk, ImageChunk__Output as _tern_v1_ImageChunk__Output } from './tern/v1/ImageChunk';
import type { InspectResponse as _tern_v1_InspectResponse, InspectResponse__Output as _tern_v1_InspectResponse__Output } from './tern/v1/InspectResponse';
import type { ListAllContainersRequest as _tern_v1_ListAllContainersRequest, ListAllContainersRequest__Output as _tern_v1_ListAllContainersRequest__Output } from './tern/v1/ListAllContainersRequest';
import type { ListContainersRequest as _tern_v1_ListContainersRequest, ListContainersRequest__Output as _tern_v1_ListContainersRequest__Output } from './tern/v1/ListContainersRequest';
import type { ListContainersResponse as _tern_v1_ListContainersResponse, ListContainersResponse__Output as _tern_v1_ListContainersResponse__Output } from './tern/v1/ListContainersResponse';
import type { ListHostsRequest as _tern_v1_ListHostsRequest, ListHostsRequest__Output as _tern_v1_ListHostsRequest__Output } from './tern/v1/ListHostsRequest';
import type { ListHostsResponse as _tern_v1_ListHostsResponse, ListHostsResponse__Output as _tern_v1_ListHostsResponse__Output } from './tern/v1/ListHostsResponse';
import type { ListMigrationsRequest as _tern_v1_ListMigrationsRequest, ListMigrationsRequest__Output as _tern_v1_ListMigrationsRequest__Output } from './tern/v1/ListMigrationsRequest';
import type { ListMigrationsResponse as _tern_v1_ListMigrationsResponse, ListMigrationsResponse__Output as _tern_v1_ListMigrationsResponse__Output } from './tern/v1/ListMigrationsResponse';
import type { Migration as _tern_v1_Migration, Migration__Output as _tern_v1_Migration__Output } from './tern/v1/Migration';
import type { MigrationRef as _tern_v1_MigrationRef, MigrationRef__Output as _tern_v1_MigrationRef__Output } from './tern/v1/MigrationRef';
import type { PagesStatusRequest as _tern_v1_PagesStatusRequest, PagesStatusRequest__Output as _tern_v1_PagesStatusRequest__Output } from './tern/v1/PagesStatusRequest';
import type { PagesStatusResponse as _tern_v1_PagesStatusResponse, PagesStatusResponse__Output as _tern_v1_PagesStatusResponse__Output } from './tern/v1/PagesStatusResponse';
import type { PhaseEvent as _tern_v1_PhaseEvent, PhaseEvent__Output as _tern_v1_PhaseEvent__Output } from './tern/v1/PhaseEvent';
import type { PreDumpRequest as _tern_v1_PreDumpRequest, PreDumpRequest__Output as _tern_v1_PreDumpRequest__Output } from './tern/v1/PreDumpRequest';
import type { PreDumpResponse as _tern_v1_PreDumpResponse, PreDumpResponse__Output as _tern_v1_PreDumpResponse__Output } from './tern/v1/PreDumpResponse';
import type { PrepareSourceRequest as _tern_v1_PrepareSourceRequest, PrepareSourceRequest__Output as _tern_v1_PrepareSourceRequest__Output } from './tern/v1/PrepareSourceRequest';
import type { PrepareSourceResponse as _tern_v1_PrepareSourceResponse, PrepareSourceResponse__Output as _tern_v1_PrepareSourceResponse__Output } from './tern/v1/PrepareSourceResponse';
import type { PrepareTargetRequest as _tern_v1_PrepareTargetRequest, PrepareTargetRequest__Output as _tern_v1_PrepareTargetRequest__Output } from './tern/v1/PrepareTargetRequest';
import type { PrepareTargetResponse as _tern_v1_PrepareTargetResponse, PrepareTargetResponse__Output as _tern_v1_PrepareTargetResponse__Output } from './tern/v1/PrepareTargetResponse';
import type { ReadImagesRequest as _tern_v1_ReadImagesRequest, ReadImagesRequest__Output as _tern_v1_ReadImagesRequest__Output } from './tern/v1/ReadImagesRequest';
import type { ReceiveImagesRequest as _tern_v1_ReceiveImagesRequest, ReceiveImagesRequest__Output as _tern_v1_ReceiveImagesRequest__Output } from './tern/v1/ReceiveImagesRequest';
import type { ReceiveImagesResponse as _tern_v1_ReceiveImagesResponse, ReceiveImagesResponse__Output as _tern_v1_ReceiveImagesResponse__Output } from './tern/v1/ReceiveImagesResponse';
import type { ReceiveRootfsRequest as _tern_v1_ReceiveRootfsRequest, ReceiveRootfsRequest__Output as _tern_v1_ReceiveRootfsRequest__Output } from './tern/v1/ReceiveRootfsRequest';
import type { RegisterHostRequest as _tern_v1_RegisterHostRequest, RegisterHostRequest__Output as _tern_v1_RegisterHostRequest__Output } from './tern/v1/RegisterHostRequest';
import type { RegisterHostResponse as _tern_v1_RegisterHostResponse, RegisterHostResponse__Output as _tern_v1_RegisterHostResponse__Output } from './tern/v1/RegisterHostResponse';
import type { RestoreRequest as _tern_v1_RestoreRequest, RestoreRequest__Output as _tern_v1_RestoreRequest__Output } from './tern/v1/RestoreRequest';
import type { RestoreResponse as _tern_v1_RestoreResponse, RestoreResponse__Output as _tern_v1_RestoreResponse__Output } from './tern/v1/RestoreResponse';
import type { ResumeResponse as _tern_v1_ResumeResponse, ResumeResponse__Output as _tern_v1_ResumeResponse__Output } from './tern/v1/ResumeResponse';
import type { RunContainerRequest as _tern_v1_RunContainerRequest, RunContainerRequest__Output as _tern_v1_RunContainerRequest__Output } from './tern/v1/RunContainerRequest';
import type { StartMigrationRequest as _tern_v1_StartMigrationRequest, StartMigrationRequest__Output as _tern_v1_StartMigrationRequest__Output } from './tern/v1/StartMigrationRequest';
import type { StopResponse as _tern_v1_StopResponse, StopResponse__Output as _tern_v1_StopResponse__Output } from './tern/v1/StopResponse';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tern: {
    v1: {
      AbortResponse: MessageTypeDefinition<_tern_v1_AbortResponse, _tern_v1_AbortResponse__Output>
      Agent: SubtypeConstructor<typeof grpc.Client, _tern_v1_AgentClient> & { service: _tern_v1_AgentDefinition }
      CheckRequest: MessageTypeDefinition<_tern_v1_CheckRequest, _tern_v1_CheckRequest__Output>
      CheckResponse: MessageTypeDefinition<_tern_v1_CheckResponse, _tern_v1_CheckResponse__Output>
      CommitResponse: MessageTypeDefinition<_tern_v1_CommitResponse, _tern_v1_CommitResponse__Output>
      Container: MessageTypeDefinition<_tern_v1_Container, _tern_v1_Container__Output>
      ContainerRef: MessageTypeDefinition<_tern_v1_ContainerRef, _tern_v1_ContainerRef__Output>
      CoordExecRequest: MessageTypeDefinition<_tern_v1_CoordExecRequest, _tern_v1_CoordExecRequest__Output>
      CoordRunRequest: MessageTypeDefinition<_tern_v1_CoordRunRequest, _tern_v1_CoordRunRequest__Output>
      Coordinator: SubtypeConstructor<typeof grpc.Client, _tern_v1_CoordinatorClient> & { service: _tern_v1_CoordinatorDefinition }
      CordonRequest: MessageTypeDefinition<_tern_v1_CordonRequest, _tern_v1_CordonRequest__Output>
      DryRunResponse: MessageTypeDefinition<_tern_v1_DryRunResponse, _tern_v1_DryRunResponse__Output>
      DumpProgressResponse: MessageTypeDefinition<_tern_v1_DumpProgressResponse, _tern_v1_DumpProgressResponse__Output>
      DumpRequest: MessageTypeDefinition<_tern_v1_DumpRequest, _tern_v1_DumpRequest__Output>
      DumpResponse: MessageTypeDefinition<_tern_v1_DumpResponse, _tern_v1_DumpResponse__Output>
      EstimateResponse: MessageTypeDefinition<_tern_v1_EstimateResponse, _tern_v1_EstimateResponse__Output>
      EvacuateEvent: MessageTypeDefinition<_tern_v1_EvacuateEvent, _tern_v1_EvacuateEvent__Output>
      EvacuateRequest: MessageTypeDefinition<_tern_v1_EvacuateRequest, _tern_v1_EvacuateRequest__Output>
      ExecRequest: MessageTypeDefinition<_tern_v1_ExecRequest, _tern_v1_ExecRequest__Output>
      ExecResponse: MessageTypeDefinition<_tern_v1_ExecResponse, _tern_v1_ExecResponse__Output>
      Finding: MessageTypeDefinition<_tern_v1_Finding, _tern_v1_Finding__Output>
      HandoffRequest: MessageTypeDefinition<_tern_v1_HandoffRequest, _tern_v1_HandoffRequest__Output>
      HeartbeatRequest: MessageTypeDefinition<_tern_v1_HeartbeatRequest, _tern_v1_HeartbeatRequest__Output>
      HeartbeatResponse: MessageTypeDefinition<_tern_v1_HeartbeatResponse, _tern_v1_HeartbeatResponse__Output>
      Host: MessageTypeDefinition<_tern_v1_Host, _tern_v1_Host__Output>
      ImageChunk: MessageTypeDefinition<_tern_v1_ImageChunk, _tern_v1_ImageChunk__Output>
      InspectResponse: MessageTypeDefinition<_tern_v1_InspectResponse, _tern_v1_InspectResponse__Output>
      ListAllContainersRequest: MessageTypeDefinition<_tern_v1_ListAllContainersRequest, _tern_v1_ListAllContainersRequest__Output>
      ListContainersRequest: MessageTypeDefinition<_tern_v1_ListContainersRequest, _tern_v1_ListContainersRequest__Output>
      ListContainersResponse: MessageTypeDefinition<_tern_v1_ListContainersResponse, _tern_v1_ListContainersResponse__Output>
      ListHostsRequest: MessageTypeDefinition<_tern_v1_ListHostsRequest, _tern_v1_ListHostsRequest__Output>
      ListHostsResponse: MessageTypeDefinition<_tern_v1_ListHostsResponse, _tern_v1_ListHostsResponse__Output>
      ListMigrationsRequest: MessageTypeDefinition<_tern_v1_ListMigrationsRequest, _tern_v1_ListMigrationsRequest__Output>
      ListMigrationsResponse: MessageTypeDefinition<_tern_v1_ListMigrationsResponse, _tern_v1_ListMigrationsResponse__Output>
      Migration: MessageTypeDefinition<_tern_v1_Migration, _tern_v1_Migration__Output>
      MigrationRef: MessageTypeDefinition<_tern_v1_MigrationRef, _tern_v1_MigrationRef__Output>
      PagesStatusRequest: MessageTypeDefinition<_tern_v1_PagesStatusRequest, _tern_v1_PagesStatusRequest__Output>
      PagesStatusResponse: MessageTypeDefinition<_tern_v1_PagesStatusResponse, _tern_v1_PagesStatusResponse__Output>
      PhaseEvent: MessageTypeDefinition<_tern_v1_PhaseEvent, _tern_v1_PhaseEvent__Output>
      PreDumpRequest: MessageTypeDefinition<_tern_v1_PreDumpRequest, _tern_v1_PreDumpRequest__Output>
      PreDumpResponse: MessageTypeDefinition<_tern_v1_PreDumpResponse, _tern_v1_PreDumpResponse__Output>
      PrepareSourceRequest: MessageTypeDefinition<_tern_v1_PrepareSourceRequest, _tern_v1_PrepareSourceRequest__Output>
      PrepareSourceResponse: MessageTypeDefinition<_tern_v1_PrepareSourceResponse, _tern_v1_PrepareSourceResponse__Output>
      PrepareTargetRequest: MessageTypeDefinition<_tern_v1_PrepareTargetRequest, _tern_v1_PrepareTargetRequest__Output>
      PrepareTargetResponse: MessageTypeDefinition<_tern_v1_PrepareTargetResponse, _tern_v1_PrepareTargetResponse__Output>
      ReadImagesRequest: MessageTypeDefinition<_tern_v1_ReadImagesRequest, _tern_v1_ReadImagesRequest__Output>
      ReceiveImagesRequest: MessageTypeDefinition<_tern_v1_ReceiveImagesRequest, _tern_v1_ReceiveImagesRequest__Output>
      ReceiveImagesResponse: MessageTypeDefinition<_tern_v1_ReceiveImagesResponse, _tern_v1_ReceiveImagesResponse__Output>
      ReceiveRootfsRequest: MessageTypeDefinition<_tern_v1_ReceiveRootfsRequest, _tern_v1_ReceiveRootfsRequest__Output>
      RegisterHostRequest: MessageTypeDefinition<_tern_v1_RegisterHostRequest, _tern_v1_RegisterHostRequest__Output>
      RegisterHostResponse: MessageTypeDefinition<_tern_v1_RegisterHostResponse, _tern_v1_RegisterHostResponse__Output>
      RestoreRequest: MessageTypeDefinition<_tern_v1_RestoreRequest, _tern_v1_RestoreRequest__Output>
      RestoreResponse: MessageTypeDefinition<_tern_v1_RestoreResponse, _tern_v1_RestoreResponse__Output>
      ResumeResponse: MessageTypeDefinition<_tern_v1_ResumeResponse, _tern_v1_ResumeResponse__Output>
      RunContainerRequest: MessageTypeDefinition<_tern_v1_RunContainerRequest, _tern_v1_RunContainerRequest__Output>
      StartMigrationRequest: MessageTypeDefinition<_tern_v1_StartMigrationRequest, _tern_v1_StartMigrationRequest__Output>
      StopResponse: MessageTypeDefinition<_tern_v1_StopResponse, _tern_v1_StopResponse__Output>
    }
  }
}

