// Original file: proto/tern.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AbortResponse as _tern_v1_AbortResponse, AbortResponse__Output as _tern_v1_AbortResponse__Output } from '../../tern/v1/AbortResponse';
import type { CheckRequest as _tern_v1_CheckRequest, CheckRequest__Output as _tern_v1_CheckRequest__Output } from '../../tern/v1/CheckRequest';
import type { CheckResponse as _tern_v1_CheckResponse, CheckResponse__Output as _tern_v1_CheckResponse__Output } from '../../tern/v1/CheckResponse';
import type { CommitResponse as _tern_v1_CommitResponse, CommitResponse__Output as _tern_v1_CommitResponse__Output } from '../../tern/v1/CommitResponse';
import type { Container as _tern_v1_Container, Container__Output as _tern_v1_Container__Output } from '../../tern/v1/Container';
import type { ContainerRef as _tern_v1_ContainerRef, ContainerRef__Output as _tern_v1_ContainerRef__Output } from '../../tern/v1/ContainerRef';
import type { DumpProgressResponse as _tern_v1_DumpProgressResponse, DumpProgressResponse__Output as _tern_v1_DumpProgressResponse__Output } from '../../tern/v1/DumpProgressResponse';
import type { DumpRequest as _tern_v1_DumpRequest, DumpRequest__Output as _tern_v1_DumpRequest__Output } from '../../tern/v1/DumpRequest';
import type { DumpResponse as _tern_v1_DumpResponse, DumpResponse__Output as _tern_v1_DumpResponse__Output } from '../../tern/v1/DumpResponse';
import type { EstimateResponse as _tern_v1_EstimateResponse, EstimateResponse__Output as _tern_v1_EstimateResponse__Output } from '../../tern/v1/EstimateResponse';
import type { ExecRequest as _tern_v1_ExecRequest, ExecRequest__Output as _tern_v1_ExecRequest__Output } from '../../tern/v1/ExecRequest';
import type { ExecResponse as _tern_v1_ExecResponse, ExecResponse__Output as _tern_v1_ExecResponse__Output } from '../../tern/v1/ExecResponse';
import type { HandoffRequest as _tern_v1_HandoffRequest, HandoffRequest__Output as _tern_v1_HandoffRequest__Output } from '../../tern/v1/HandoffRequest';
import type { ImageChunk as _tern_v1_ImageChunk, ImageChunk__Output as _tern_v1_ImageChunk__Output } from '../../tern/v1/ImageChunk';
import type { InspectResponse as _tern_v1_InspectResponse, InspectResponse__Output as _tern_v1_InspectResponse__Output } from '../../tern/v1/InspectResponse';
import type { ListContainersRequest as _tern_v1_ListContainersRequest, ListContainersRequest__Output as _tern_v1_ListContainersRequest__Output } from '../../tern/v1/ListContainersRequest';
import type { ListContainersResponse as _tern_v1_ListContainersResponse, ListContainersResponse__Output as _tern_v1_ListContainersResponse__Output } from '../../tern/v1/ListContainersResponse';
import type { PagesStatusRequest as _tern_v1_PagesStatusRequest, PagesStatusRequest__Output as _tern_v1_PagesStatusRequest__Output } from '../../tern/v1/PagesStatusRequest';
import type { PagesStatusResponse as _tern_v1_PagesStatusResponse, PagesStatusResponse__Output as _tern_v1_PagesStatusResponse__Output } from '../../tern/v1/PagesStatusResponse';
import type { PreDumpRequest as _tern_v1_PreDumpRequest, PreDumpRequest__Output as _tern_v1_PreDumpRequest__Output } from '../../tern/v1/PreDumpRequest';
import type { PreDumpResponse as _tern_v1_PreDumpResponse, PreDumpResponse__Output as _tern_v1_PreDumpResponse__Output } from '../../tern/v1/PreDumpResponse';
import type { PrepareSourceRequest as _tern_v1_PrepareSourceRequest, PrepareSourceRequest__Output as _tern_v1_PrepareSourceRequest__Output } from '../../tern/v1/PrepareSourceRequest';
import type { PrepareSourceResponse as _tern_v1_PrepareSourceResponse, PrepareSourceResponse__Output as _tern_v1_PrepareSourceResponse__Output } from '../../tern/v1/PrepareSourceResponse';
import type { PrepareTargetRequest as _tern_v1_PrepareTargetRequest, PrepareTargetRequest__Output as _tern_v1_PrepareTargetRequest__Output } from '../../tern/v1/PrepareTargetRequest';
import type { PrepareTargetResponse as _tern_v1_PrepareTargetResponse, PrepareTargetResponse__Output as _tern_v1_PrepareTargetResponse__Output } from '../../tern/v1/PrepareTargetResponse';
import type { ReadImagesRequest as _tern_v1_ReadImagesRequest, ReadImagesRequest__Output as _tern_v1_ReadImagesRequest__Output } from '../../tern/v1/ReadImagesRequest';
import type { ReceiveImagesRequest as _tern_v1_ReceiveImagesRequest, ReceiveImagesRequest__Output as _tern_v1_ReceiveImagesRequest__Output } from '../../tern/v1/ReceiveImagesRequest';
import type { ReceiveImagesResponse as _tern_v1_ReceiveImagesResponse, ReceiveImagesResponse__Output as _tern_v1_ReceiveImagesResponse__Output } from '../../tern/v1/ReceiveImagesResponse';
import type { ReceiveRootfsRequest as _tern_v1_ReceiveRootfsRequest, ReceiveRootfsRequest__Output as _tern_v1_ReceiveRootfsRequest__Output } from '../../tern/v1/ReceiveRootfsRequest';
import type { RestoreRequest as _tern_v1_RestoreRequest, RestoreRequest__Output as _tern_v1_RestoreRequest__Output } from '../../tern/v1/RestoreRequest';
import type { RestoreResponse as _tern_v1_RestoreResponse, RestoreResponse__Output as _tern_v1_RestoreResponse__Output } from '../../tern/v1/RestoreResponse';
import type { ResumeResponse as _tern_v1_ResumeResponse, ResumeResponse__Output as _tern_v1_ResumeResponse__Output } from '../../tern/v1/ResumeResponse';
import type { RunContainerRequest as _tern_v1_RunContainerRequest, RunContainerRequest__Output as _tern_v1_RunContainerRequest__Output } from '../../tern/v1/RunContainerRequest';
import type { StopResponse as _tern_v1_StopResponse, StopResponse__Output as _tern_v1_StopResponse__Output } from '../../tern/v1/StopResponse';

export interface AgentClient extends grpc.Client {
  Abort(argument: _tern_v1_HandoffRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  Abort(argument: _tern_v1_HandoffRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  Abort(argument: _tern_v1_HandoffRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  Abort(argument: _tern_v1_HandoffRequest, callback: grpc.requestCallback<_tern_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  abort(argument: _tern_v1_HandoffRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  abort(argument: _tern_v1_HandoffRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  abort(argument: _tern_v1_HandoffRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  abort(argument: _tern_v1_HandoffRequest, callback: grpc.requestCallback<_tern_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  
  Check(argument: _tern_v1_CheckRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_CheckResponse__Output>): grpc.ClientUnaryCall;
  Check(argument: _tern_v1_CheckRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_CheckResponse__Output>): grpc.ClientUnaryCall;
  Check(argument: _tern_v1_CheckRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_CheckResponse__Output>): grpc.ClientUnaryCall;
  Check(argument: _tern_v1_CheckRequest, callback: grpc.requestCallback<_tern_v1_CheckResponse__Output>): grpc.ClientUnaryCall;
  check(argument: _tern_v1_CheckRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_CheckResponse__Output>): grpc.ClientUnaryCall;
  check(argument: _tern_v1_CheckRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_CheckResponse__Output>): grpc.ClientUnaryCall;
  check(argument: _tern_v1_CheckRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_CheckResponse__Output>): grpc.ClientUnaryCall;
  check(argument: _tern_v1_CheckRequest, callback: grpc.requestCallback<_tern_v1_CheckResponse__Output>): grpc.ClientUnaryCall;
  
  CheckTarget(argument: _tern_v1_PrepareTargetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  CheckTarget(argument: _tern_v1_PrepareTargetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  CheckTarget(argument: _tern_v1_PrepareTargetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  CheckTarget(argument: _tern_v1_PrepareTargetRequest, callback: grpc.requestCallback<_tern_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  checkTarget(argument: _tern_v1_PrepareTargetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  checkTarget(argument: _tern_v1_PrepareTargetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  checkTarget(argument: _tern_v1_PrepareTargetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  checkTarget(argument: _tern_v1_PrepareTargetRequest, callback: grpc.requestCallback<_tern_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  
  Commit(argument: _tern_v1_HandoffRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_CommitResponse__Output>): grpc.ClientUnaryCall;
  Commit(argument: _tern_v1_HandoffRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_CommitResponse__Output>): grpc.ClientUnaryCall;
  Commit(argument: _tern_v1_HandoffRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_CommitResponse__Output>): grpc.ClientUnaryCall;
  Commit(argument: _tern_v1_HandoffRequest, callback: grpc.requestCallback<_tern_v1_CommitResponse__Output>): grpc.ClientUnaryCall;
  commit(argument: _tern_v1_HandoffRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_CommitResponse__Output>): grpc.ClientUnaryCall;
  commit(argument: _tern_v1_HandoffRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_CommitResponse__Output>): grpc.ClientUnaryCall;
  commit(argument: _tern_v1_HandoffRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_CommitResponse__Output>): grpc.ClientUnaryCall;
  commit(argument: _tern_v1_HandoffRequest, callback: grpc.requestCallback<_tern_v1_CommitResponse__Output>): grpc.ClientUnaryCall;
  
  DumpAndHold(argument: _tern_v1_DumpRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_DumpResponse__Output>): grpc.ClientUnaryCall;
  DumpAndHold(argument: _tern_v1_DumpRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_DumpResponse__Output>): grpc.ClientUnaryCall;
  DumpAndHold(argument: _tern_v1_DumpRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_DumpResponse__Output>): grpc.ClientUnaryCall;
  DumpAndHold(argument: _tern_v1_DumpRequest, callback: grpc.requestCallback<_tern_v1_DumpResponse__Output>): grpc.ClientUnaryCall;
  dumpAndHold(argument: _tern_v1_DumpRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_DumpResponse__Output>): grpc.ClientUnaryCall;
  dumpAndHold(argument: _tern_v1_DumpRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_DumpResponse__Output>): grpc.ClientUnaryCall;
  dumpAndHold(argument: _tern_v1_DumpRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_DumpResponse__Output>): grpc.ClientUnaryCall;
  dumpAndHold(argument: _tern_v1_DumpRequest, callback: grpc.requestCallback<_tern_v1_DumpResponse__Output>): grpc.ClientUnaryCall;
  
  DumpProgress(argument: _tern_v1_HandoffRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_DumpProgressResponse__Output>): grpc.ClientUnaryCall;
  DumpProgress(argument: _tern_v1_HandoffRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_DumpProgressResponse__Output>): grpc.ClientUnaryCall;
  DumpProgress(argument: _tern_v1_HandoffRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_DumpProgressResponse__Output>): grpc.ClientUnaryCall;
  DumpProgress(argument: _tern_v1_HandoffRequest, callback: grpc.requestCallback<_tern_v1_DumpProgressResponse__Output>): grpc.ClientUnaryCall;
  dumpProgress(argument: _tern_v1_HandoffRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_DumpProgressResponse__Output>): grpc.ClientUnaryCall;
  dumpProgress(argument: _tern_v1_HandoffRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_DumpProgressResponse__Output>): grpc.ClientUnaryCall;
  dumpProgress(argument: _tern_v1_HandoffRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_DumpProgressResponse__Output>): grpc.ClientUnaryCall;
  dumpProgress(argument: _tern_v1_HandoffRequest, callback: grpc.requestCallback<_tern_v1_DumpProgressResponse__Output>): grpc.ClientUnaryCall;
  
  Estimate(argument: _tern_v1_ContainerRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_EstimateResponse__Output>): grpc.ClientUnaryCall;
  Estimate(argument: _tern_v1_ContainerRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_EstimateResponse__Output>): grpc.ClientUnaryCall;
  Estimate(argument: _tern_v1_ContainerRef, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_EstimateResponse__Output>): grpc.ClientUnaryCall;
  Estimate(argument: _tern_v1_ContainerRef, callback: grpc.requestCallback<_tern_v1_EstimateResponse__Output>): grpc.ClientUnaryCall;
  estimate(argument: _tern_v1_ContainerRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_EstimateResponse__Output>): grpc.ClientUnaryCall;
  estimate(argument: _tern_v1_ContainerRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_EstimateResponse__Output>): grpc.ClientUnaryCall;
  estimate(argument: _tern_v1_ContainerRef, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_EstimateResponse__Output>): grpc.ClientUnaryCall;
  estimate(argument: _tern_v1_ContainerRef, callback: grpc.requestCallback<_tern_v1_EstimateResponse__Output>): grpc.ClientUnaryCall;
  
  Exec(argument: _tern_v1_ExecRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ExecResponse__Output>): grpc.ClientUnaryCall;
  Exec(argument: _tern_v1_ExecRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ExecResponse__Output>): grpc.ClientUnaryCall;
  Exec(argument: _tern_v1_ExecRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ExecResponse__Output>): grpc.ClientUnaryCall;
  Exec(argument: _tern_v1_ExecRequest, callback: grpc.requestCallback<_tern_v1_ExecResponse__Output>): grpc.ClientUnaryCall;
  exec(argument: _tern_v1_ExecRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ExecResponse__Output>): grpc.ClientUnaryCall;
  exec(argument: _tern_v1_ExecRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ExecResponse__Output>): grpc.ClientUnaryCall;
  exec(argument: _tern_v1_ExecRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ExecResponse__Output>): grpc.ClientUnaryCall;
  exec(argument: _tern_v1_ExecRequest, callback: grpc.requestCallback<_tern_v1_ExecResponse__Output>): grpc.ClientUnaryCall;
  
  Inspect(argument: _tern_v1_ContainerRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  Inspect(argument: _tern_v1_ContainerRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  Inspect(argument: _tern_v1_ContainerRef, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  Inspect(argument: _tern_v1_ContainerRef, callback: grpc.requestCallback<_tern_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  inspect(argument: _tern_v1_ContainerRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  inspect(argument: _tern_v1_ContainerRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  inspect(argument: _tern_v1_ContainerRef, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  inspect(argument: _tern_v1_ContainerRef, callback: grpc.requestCallback<_tern_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  
  ListContainers(argument: _tern_v1_ListContainersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ListContainersResponse__Output>): grpc.ClientUnaryCall;
  ListContainers(argument: _tern_v1_ListContainersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ListContainersResponse__Output>): grpc.ClientUnaryCall;
  ListContainers(argument: _tern_v1_ListContainersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ListContainersResponse__Output>): grpc.ClientUnaryCall;
  ListContainers(argument: _tern_v1_ListContainersRequest, callback: grpc.requestCallback<_tern_v1_ListContainersResponse__Output>): grpc.ClientUnaryCall;
  listContainers(argument: _tern_v1_ListContainersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ListContainersResponse__Output>): grpc.ClientUnaryCall;
  listContainers(argument: _tern_v1_ListContainersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ListContainersResponse__Output>): grpc.ClientUnaryCall;
  listContainers(argument: _tern_v1_ListContainersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ListContainersResponse__Output>): grpc.ClientUnaryCall;
  listContainers(argument: _tern_v1_ListContainersRequest, callback: grpc.requestCallback<_tern_v1_ListContainersResponse__Output>): grpc.ClientUnaryCall;
  
  PagesStatus(argument: _tern_v1_PagesStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_PagesStatusResponse__Output>): grpc.ClientUnaryCall;
  PagesStatus(argument: _tern_v1_PagesStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_PagesStatusResponse__Output>): grpc.ClientUnaryCall;
  PagesStatus(argument: _tern_v1_PagesStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_PagesStatusResponse__Output>): grpc.ClientUnaryCall;
  PagesStatus(argument: _tern_v1_PagesStatusRequest, callback: grpc.requestCallback<_tern_v1_PagesStatusResponse__Output>): grpc.ClientUnaryCall;
  pagesStatus(argument: _tern_v1_PagesStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_PagesStatusResponse__Output>): grpc.ClientUnaryCall;
  pagesStatus(argument: _tern_v1_PagesStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_PagesStatusResponse__Output>): grpc.ClientUnaryCall;
  pagesStatus(argument: _tern_v1_PagesStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_PagesStatusResponse__Output>): grpc.ClientUnaryCall;
  pagesStatus(argument: _tern_v1_PagesStatusRequest, callback: grpc.requestCallback<_tern_v1_PagesStatusResponse__Output>): grpc.ClientUnaryCall;
  
  PreDump(argument: _tern_v1_PreDumpRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_PreDumpResponse__Output>): grpc.ClientUnaryCall;
  PreDump(argument: _tern_v1_PreDumpRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_PreDumpResponse__Output>): grpc.ClientUnaryCall;
  PreDump(argument: _tern_v1_PreDumpRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_PreDumpResponse__Output>): grpc.ClientUnaryCall;
  PreDump(argument: _tern_v1_PreDumpRequest, callback: grpc.requestCallback<_tern_v1_PreDumpResponse__Output>): grpc.ClientUnaryCall;
  preDump(argument: _tern_v1_PreDumpRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_PreDumpResponse__Output>): grpc.ClientUnaryCall;
  preDump(argument: _tern_v1_PreDumpRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_PreDumpResponse__Output>): grpc.ClientUnaryCall;
  preDump(argument: _tern_v1_PreDumpRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_PreDumpResponse__Output>): grpc.ClientUnaryCall;
  preDump(argument: _tern_v1_PreDumpRequest, callback: grpc.requestCallback<_tern_v1_PreDumpResponse__Output>): grpc.ClientUnaryCall;
  
  PrepareSource(argument: _tern_v1_PrepareSourceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_PrepareSourceResponse__Output>): grpc.ClientUnaryCall;
  PrepareSource(argument: _tern_v1_PrepareSourceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_PrepareSourceResponse__Output>): grpc.ClientUnaryCall;
  PrepareSource(argument: _tern_v1_PrepareSourceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_PrepareSourceResponse__Output>): grpc.ClientUnaryCall;
  PrepareSource(argument: _tern_v1_PrepareSourceRequest, callback: grpc.requestCallback<_tern_v1_PrepareSourceResponse__Output>): grpc.ClientUnaryCall;
  prepareSource(argument: _tern_v1_PrepareSourceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_PrepareSourceResponse__Output>): grpc.ClientUnaryCall;
  prepareSource(argument: _tern_v1_PrepareSourceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_PrepareSourceResponse__Output>): grpc.ClientUnaryCall;
  prepareSource(argument: _tern_v1_PrepareSourceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_PrepareSourceResponse__Output>): grpc.ClientUnaryCall;
  prepareSource(argument: _tern_v1_PrepareSourceRequest, callback: grpc.requestCallback<_tern_v1_PrepareSourceResponse__Output>): grpc.ClientUnaryCall;
  
  PrepareTarget(argument: _tern_v1_PrepareTargetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_PrepareTargetResponse__Output>): grpc.ClientUnaryCall;
  PrepareTarget(argument: _tern_v1_PrepareTargetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_PrepareTargetResponse__Output>): grpc.ClientUnaryCall;
  PrepareTarget(argument: _tern_v1_PrepareTargetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_PrepareTargetResponse__Output>): grpc.ClientUnaryCall;
  PrepareTarget(argument: _tern_v1_PrepareTargetRequest, callback: grpc.requestCallback<_tern_v1_PrepareTargetResponse__Output>): grpc.ClientUnaryCall;
  prepareTarget(argument: _tern_v1_PrepareTargetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_PrepareTargetResponse__Output>): grpc.ClientUnaryCall;
  prepareTarget(argument: _tern_v1_PrepareTargetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_PrepareTargetResponse__Output>): grpc.ClientUnaryCall;
  prepareTarget(argument: _tern_v1_PrepareTargetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_PrepareTargetResponse__Output>): grpc.ClientUnaryCall;
  prepareTarget(argument: _tern_v1_PrepareTargetRequest, callback: grpc.requestCallback<_tern_v1_PrepareTargetResponse__Output>): grpc.ClientUnaryCall;
  
  ReadImages(argument: _tern_v1_ReadImagesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tern_v1_ImageChunk__Output>;
  ReadImages(argument: _tern_v1_ReadImagesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tern_v1_ImageChunk__Output>;
  readImages(argument: _tern_v1_ReadImagesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tern_v1_ImageChunk__Output>;
  readImages(argument: _tern_v1_ReadImagesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tern_v1_ImageChunk__Output>;
  
  ReceiveImages(argument: _tern_v1_ReceiveImagesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ReceiveImagesResponse__Output>): grpc.ClientUnaryCall;
  ReceiveImages(argument: _tern_v1_ReceiveImagesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ReceiveImagesResponse__Output>): grpc.ClientUnaryCall;
  ReceiveImages(argument: _tern_v1_ReceiveImagesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ReceiveImagesResponse__Output>): grpc.ClientUnaryCall;
  ReceiveImages(argument: _tern_v1_ReceiveImagesRequest, callback: grpc.requestCallback<_tern_v1_ReceiveImagesResponse__Output>): grpc.ClientUnaryCall;
  receiveImages(argument: _tern_v1_ReceiveImagesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ReceiveImagesResponse__Output>): grpc.ClientUnaryCall;
  receiveImages(argument: _tern_v1_ReceiveImagesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ReceiveImagesResponse__Output>): grpc.ClientUnaryCall;
  receiveImages(argument: _tern_v1_ReceiveImagesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ReceiveImagesResponse__Output>): grpc.ClientUnaryCall;
  receiveImages(argument: _tern_v1_ReceiveImagesRequest, callback: grpc.requestCallback<_tern_v1_ReceiveImagesResponse__Output>): grpc.ClientUnaryCall;
  
  ReceiveRootfs(argument: _tern_v1_ReceiveRootfsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ReceiveImagesResponse__Output>): grpc.ClientUnaryCall;
  ReceiveRootfs(argument: _tern_v1_ReceiveRootfsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ReceiveImagesResponse__Output>): grpc.ClientUnaryCall;
  ReceiveRootfs(argument: _tern_v1_ReceiveRootfsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ReceiveImagesResponse__Output>): grpc.ClientUnaryCall;
  ReceiveRootfs(argument: _tern_v1_ReceiveRootfsRequest, callback: grpc.requestCallback<_tern_v1_ReceiveImagesResponse__Output>): grpc.ClientUnaryCall;
  receiveRootfs(argument: _tern_v1_ReceiveRootfsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ReceiveImagesResponse__Output>): grpc.ClientUnaryCall;
  receiveRootfs(argument: _tern_v1_ReceiveRootfsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ReceiveImagesResponse__Output>): grpc.ClientUnaryCall;
  receiveRootfs(argument: _tern_v1_ReceiveRootfsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ReceiveImagesResponse__Output>): grpc.ClientUnaryCall;
  receiveRootfs(argument: _tern_v1_ReceiveRootfsRequest, callback: grpc.requestCallback<_tern_v1_ReceiveImagesResponse__Output>): grpc.ClientUnaryCall;
  
  RestoreStopped(argument: _tern_v1_RestoreRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_RestoreResponse__Output>): grpc.ClientUnaryCall;
  RestoreStopped(argument: _tern_v1_RestoreRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_RestoreResponse__Output>): grpc.ClientUnaryCall;
  RestoreStopped(argument: _tern_v1_RestoreRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_RestoreResponse__Output>): grpc.ClientUnaryCall;
  RestoreStopped(argument: _tern_v1_RestoreRequest, callback: grpc.requestCallback<_tern_v1_RestoreResponse__Output>): grpc.ClientUnaryCall;
  restoreStopped(argument: _tern_v1_RestoreRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_RestoreResponse__Output>): grpc.ClientUnaryCall;
  restoreStopped(argument: _tern_v1_RestoreRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_RestoreResponse__Output>): grpc.ClientUnaryCall;
  restoreStopped(argument: _tern_v1_RestoreRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_RestoreResponse__Output>): grpc.ClientUnaryCall;
  restoreStopped(argument: _tern_v1_RestoreRequest, callback: grpc.requestCallback<_tern_v1_RestoreResponse__Output>): grpc.ClientUnaryCall;
  
  Resume(argument: _tern_v1_HandoffRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ResumeResponse__Output>): grpc.ClientUnaryCall;
  Resume(argument: _tern_v1_HandoffRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ResumeResponse__Output>): grpc.ClientUnaryCall;
  Resume(argument: _tern_v1_HandoffRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ResumeResponse__Output>): grpc.ClientUnaryCall;
  Resume(argument: _tern_v1_HandoffRequest, callback: grpc.requestCallback<_tern_v1_ResumeResponse__Output>): grpc.ClientUnaryCall;
  resume(argument: _tern_v1_HandoffRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ResumeResponse__Output>): grpc.ClientUnaryCall;
  resume(argument: _tern_v1_HandoffRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ResumeResponse__Output>): grpc.ClientUnaryCall;
  resume(argument: _tern_v1_HandoffRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ResumeResponse__Output>): grpc.ClientUnaryCall;
  resume(argument: _tern_v1_HandoffRequest, callback: grpc.requestCallback<_tern_v1_ResumeResponse__Output>): grpc.ClientUnaryCall;
  
  RunContainer(argument: _tern_v1_RunContainerRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Container__Output>): grpc.ClientUnaryCall;
  RunContainer(argument: _tern_v1_RunContainerRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_Container__Output>): grpc.ClientUnaryCall;
  RunContainer(argument: _tern_v1_RunContainerRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Container__Output>): grpc.ClientUnaryCall;
  RunContainer(argument: _tern_v1_RunContainerRequest, callback: grpc.requestCallback<_tern_v1_Container__Output>): grpc.ClientUnaryCall;
  runContainer(argument: _tern_v1_RunContainerRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Container__Output>): grpc.ClientUnaryCall;
  runContainer(argument: _tern_v1_RunContainerRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_Container__Output>): grpc.ClientUnaryCall;
  runContainer(argument: _tern_v1_RunContainerRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Container__Output>): grpc.ClientUnaryCall;
  runContainer(argument: _tern_v1_RunContainerRequest, callback: grpc.requestCallback<_tern_v1_Container__Output>): grpc.ClientUnaryCall;
  
  StopContainer(argument: _tern_v1_ContainerRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  StopContainer(argument: _tern_v1_ContainerRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  StopContainer(argument: _tern_v1_ContainerRef, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  StopContainer(argument: _tern_v1_ContainerRef, callback: grpc.requestCallback<_tern_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  stopContainer(argument: _tern_v1_ContainerRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  stopContainer(argument: _tern_v1_ContainerRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  stopContainer(argument: _tern_v1_ContainerRef, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  stopContainer(argument: _tern_v1_ContainerRef, callback: grpc.requestCallback<_tern_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface AgentHandlers extends grpc.UntypedServiceImplementation {
  Abort: grpc.handleUnaryCall<_tern_v1_HandoffRequest__Output, _tern_v1_AbortResponse>;
  
  Check: grpc.handleUnaryCall<_tern_v1_CheckRequest__Output, _tern_v1_CheckResponse>;
  
  CheckTarget: grpc.handleUnaryCall<_tern_v1_PrepareTargetRequest__Output, _tern_v1_InspectResponse>;
  
  Commit: grpc.handleUnaryCall<_tern_v1_HandoffRequest__Output, _tern_v1_CommitResponse>;
  
  DumpAndHold: grpc.handleUnaryCall<_tern_v1_DumpRequest__Output, _tern_v1_DumpResponse>;
  
  DumpProgress: grpc.handleUnaryCall<_tern_v1_HandoffRequest__Output, _tern_v1_DumpProgressResponse>;
  
  Estimate: grpc.handleUnaryCall<_tern_v1_ContainerRef__Output, _tern_v1_EstimateResponse>;
  
  Exec: grpc.handleUnaryCall<_tern_v1_ExecRequest__Output, _tern_v1_ExecResponse>;
  
  Inspect: grpc.handleUnaryCall<_tern_v1_ContainerRef__Output, _tern_v1_InspectResponse>;
  
  ListContainers: grpc.handleUnaryCall<_tern_v1_ListContainersRequest__Output, _tern_v1_ListContainersResponse>;
  
  PagesStatus: grpc.handleUnaryCall<_tern_v1_PagesStatusRequest__Output, _tern_v1_PagesStatusResponse>;
  
  PreDump: grpc.handleUnaryCall<_tern_v1_PreDumpRequest__Output, _tern_v1_PreDumpResponse>;
  
  PrepareSource: grpc.handleUnaryCall<_tern_v1_PrepareSourceRequest__Output, _tern_v1_PrepareSourceResponse>;
  
  PrepareTarget: grpc.handleUnaryCall<_tern_v1_PrepareTargetRequest__Output, _tern_v1_PrepareTargetResponse>;
  
  ReadImages: grpc.handleServerStreamingCall<_tern_v1_ReadImagesRequest__Output, _tern_v1_ImageChunk>;
  
  ReceiveImages: grpc.handleUnaryCall<_tern_v1_ReceiveImagesRequest__Output, _tern_v1_ReceiveImagesResponse>;
  
  ReceiveRootfs: grpc.handleUnaryCall<_tern_v1_ReceiveRootfsRequest__Output, _tern_v1_ReceiveImagesResponse>;
  
  RestoreStopped: grpc.handleUnaryCall<_tern_v1_RestoreRequest__Output, _tern_v1_RestoreResponse>;
  
  Resume: grpc.handleUnaryCall<_tern_v1_HandoffRequest__Output, _tern_v1_ResumeResponse>;
  
  RunContainer: grpc.handleUnaryCall<_tern_v1_RunContainerRequest__Output, _tern_v1_Container>;
  
  StopContainer: grpc.handleUnaryCall<_tern_v1_ContainerRef__Output, _tern_v1_StopResponse>;
  
}

export interface AgentDefinition extends grpc.ServiceDefinition {
  Abort: MethodDefinition<_tern_v1_HandoffRequest, _tern_v1_AbortResponse, _tern_v1_HandoffRequest__Output, _tern_v1_AbortResponse__Output>
  Check: MethodDefinition<_tern_v1_CheckRequest, _tern_v1_CheckResponse, _tern_v1_CheckRequest__Output, _tern_v1_CheckResponse__Output>
  CheckTarget: MethodDefinition<_tern_v1_PrepareTargetRequest, _tern_v1_InspectResponse, _tern_v1_PrepareTargetRequest__Output, _tern_v1_InspectResponse__Output>
  Commit: MethodDefinition<_tern_v1_HandoffRequest, _tern_v1_CommitResponse, _tern_v1_HandoffRequest__Output, _tern_v1_CommitResponse__Output>
  DumpAndHold: MethodDefinition<_tern_v1_DumpRequest, _tern_v1_DumpResponse, _tern_v1_DumpRequest__Output, _tern_v1_DumpResponse__Output>
  DumpProgress: MethodDefinition<_tern_v1_HandoffRequest, _tern_v1_DumpProgressResponse, _tern_v1_HandoffRequest__Output, _tern_v1_DumpProgressResponse__Output>
  Estimate: MethodDefinition<_tern_v1_ContainerRef, _tern_v1_EstimateResponse, _tern_v1_ContainerRef__Output, _tern_v1_EstimateResponse__Output>
  Exec: MethodDefinition<_tern_v1_ExecRequest, _tern_v1_ExecResponse, _tern_v1_ExecRequest__Output, _tern_v1_ExecResponse__Output>
  Inspect: MethodDefinition<_tern_v1_ContainerRef, _tern_v1_InspectResponse, _tern_v1_ContainerRef__Output, _tern_v1_InspectResponse__Output>
  ListContainers: MethodDefinition<_tern_v1_ListContainersRequest, _tern_v1_ListContainersResponse, _tern_v1_ListContainersRequest__Output, _tern_v1_ListContainersResponse__Output>
  PagesStatus: MethodDefinition<_tern_v1_PagesStatusRequest, _tern_v1_PagesStatusResponse, _tern_v1_PagesStatusRequest__Output, _tern_v1_PagesStatusResponse__Output>
  PreDump: MethodDefinition<_tern_v1_PreDumpRequest, _tern_v1_PreDumpResponse, _tern_v1_PreDumpRequest__Output, _tern_v1_PreDumpResponse__Output>
  PrepareSource: MethodDefinition<_tern_v1_PrepareSourceRequest, _tern_v1_PrepareSourceResponse, _tern_v1_PrepareSourceRequest__Output, _tern_v1_PrepareSourceResponse__Output>
  PrepareTarget: MethodDefinition<_tern_v1_PrepareTargetRequest, _tern_v1_PrepareTargetResponse, _tern_v1_PrepareTargetRequest__Output, _tern_v1_PrepareTargetResponse__Output>
  ReadImages: MethodDefinition<_tern_v1_ReadImagesRequest, _tern_v1_ImageChunk, _tern_v1_ReadImagesRequest__Output, _tern_v1_ImageChunk__Output>
  ReceiveImages: MethodDefinition<_tern_v1_ReceiveImagesRequest, _tern_v1_ReceiveImagesResponse, _tern_v1_ReceiveImagesRequest__Output, _tern_v1_ReceiveImagesResponse__Output>
  ReceiveRootfs: MethodDefinition<_tern_v1_ReceiveRootfsRequest, _tern_v1_ReceiveImagesResponse, _tern_v1_ReceiveRootfsRequest__Output, _tern_v1_ReceiveImagesResponse__Output>
  RestoreStopped: MethodDefinition<_tern_v1_RestoreRequest, _tern_v1_RestoreResponse, _tern_v1_RestoreRequest__Output, _tern_v1_RestoreResponse__Output>
  Resume: MethodDefinition<_tern_v1_HandoffRequest, _tern_v1_ResumeResponse, _tern_v1_HandoffRequest__Output, _tern_v1_ResumeResponse__Output>
  RunContainer: MethodDefinition<_tern_v1_RunContainerRequest, _tern_v1_Container, _tern_v1_RunContainerRequest__Output, _tern_v1_Container__Output>
  StopContainer: MethodDefinition<_tern_v1_ContainerRef, _tern_v1_StopResponse, _tern_v1_ContainerRef__Output, _tern_v1_StopResponse__Output>
}
