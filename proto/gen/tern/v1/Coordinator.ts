// Original file: proto/tern.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Container as _tern_v1_Container, Container__Output as _tern_v1_Container__Output } from '../../tern/v1/Container';
import type { ContainerRef as _tern_v1_ContainerRef, ContainerRef__Output as _tern_v1_ContainerRef__Output } from '../../tern/v1/ContainerRef';
import type { CoordExecRequest as _tern_v1_CoordExecRequest, CoordExecRequest__Output as _tern_v1_CoordExecRequest__Output } from '../../tern/v1/CoordExecRequest';
import type { CoordRunRequest as _tern_v1_CoordRunRequest, CoordRunRequest__Output as _tern_v1_CoordRunRequest__Output } from '../../tern/v1/CoordRunRequest';
import type { CordonRequest as _tern_v1_CordonRequest, CordonRequest__Output as _tern_v1_CordonRequest__Output } from '../../tern/v1/CordonRequest';
import type { DryRunResponse as _tern_v1_DryRunResponse, DryRunResponse__Output as _tern_v1_DryRunResponse__Output } from '../../tern/v1/DryRunResponse';
import type { EvacuateEvent as _tern_v1_EvacuateEvent, EvacuateEvent__Output as _tern_v1_EvacuateEvent__Output } from '../../tern/v1/EvacuateEvent';
import type { EvacuateRequest as _tern_v1_EvacuateRequest, EvacuateRequest__Output as _tern_v1_EvacuateRequest__Output } from '../../tern/v1/EvacuateRequest';
import type { ExecResponse as _tern_v1_ExecResponse, ExecResponse__Output as _tern_v1_ExecResponse__Output } from '../../tern/v1/ExecResponse';
import type { HeartbeatRequest as _tern_v1_HeartbeatRequest, HeartbeatRequest__Output as _tern_v1_HeartbeatRequest__Output } from '../../tern/v1/HeartbeatRequest';
import type { HeartbeatResponse as _tern_v1_HeartbeatResponse, HeartbeatResponse__Output as _tern_v1_HeartbeatResponse__Output } from '../../tern/v1/HeartbeatResponse';
import type { Host as _tern_v1_Host, Host__Output as _tern_v1_Host__Output } from '../../tern/v1/Host';
import type { ImageChunk as _tern_v1_ImageChunk, ImageChunk__Output as _tern_v1_ImageChunk__Output } from '../../tern/v1/ImageChunk';
import type { ListAllContainersRequest as _tern_v1_ListAllContainersRequest, ListAllContainersRequest__Output as _tern_v1_ListAllContainersRequest__Output } from '../../tern/v1/ListAllContainersRequest';
import type { ListContainersResponse as _tern_v1_ListContainersResponse, ListContainersResponse__Output as _tern_v1_ListContainersResponse__Output } from '../../tern/v1/ListContainersResponse';
import type { ListHostsRequest as _tern_v1_ListHostsRequest, ListHostsRequest__Output as _tern_v1_ListHostsRequest__Output } from '../../tern/v1/ListHostsRequest';
import type { ListHostsResponse as _tern_v1_ListHostsResponse, ListHostsResponse__Output as _tern_v1_ListHostsResponse__Output } from '../../tern/v1/ListHostsResponse';
import type { ListMigrationsRequest as _tern_v1_ListMigrationsRequest, ListMigrationsRequest__Output as _tern_v1_ListMigrationsRequest__Output } from '../../tern/v1/ListMigrationsRequest';
import type { ListMigrationsResponse as _tern_v1_ListMigrationsResponse, ListMigrationsResponse__Output as _tern_v1_ListMigrationsResponse__Output } from '../../tern/v1/ListMigrationsResponse';
import type { Migration as _tern_v1_Migration, Migration__Output as _tern_v1_Migration__Output } from '../../tern/v1/Migration';
import type { MigrationRef as _tern_v1_MigrationRef, MigrationRef__Output as _tern_v1_MigrationRef__Output } from '../../tern/v1/MigrationRef';
import type { ReadImagesRequest as _tern_v1_ReadImagesRequest, ReadImagesRequest__Output as _tern_v1_ReadImagesRequest__Output } from '../../tern/v1/ReadImagesRequest';
import type { RegisterHostRequest as _tern_v1_RegisterHostRequest, RegisterHostRequest__Output as _tern_v1_RegisterHostRequest__Output } from '../../tern/v1/RegisterHostRequest';
import type { RegisterHostResponse as _tern_v1_RegisterHostResponse, RegisterHostResponse__Output as _tern_v1_RegisterHostResponse__Output } from '../../tern/v1/RegisterHostResponse';
import type { StartMigrationRequest as _tern_v1_StartMigrationRequest, StartMigrationRequest__Output as _tern_v1_StartMigrationRequest__Output } from '../../tern/v1/StartMigrationRequest';
import type { StopResponse as _tern_v1_StopResponse, StopResponse__Output as _tern_v1_StopResponse__Output } from '../../tern/v1/StopResponse';

export interface CoordinatorClient extends grpc.Client {
  CancelMigration(argument: _tern_v1_MigrationRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  CancelMigration(argument: _tern_v1_MigrationRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  CancelMigration(argument: _tern_v1_MigrationRef, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  CancelMigration(argument: _tern_v1_MigrationRef, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  cancelMigration(argument: _tern_v1_MigrationRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  cancelMigration(argument: _tern_v1_MigrationRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  cancelMigration(argument: _tern_v1_MigrationRef, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  cancelMigration(argument: _tern_v1_MigrationRef, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  
  Cordon(argument: _tern_v1_CordonRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Host__Output>): grpc.ClientUnaryCall;
  Cordon(argument: _tern_v1_CordonRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_Host__Output>): grpc.ClientUnaryCall;
  Cordon(argument: _tern_v1_CordonRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Host__Output>): grpc.ClientUnaryCall;
  Cordon(argument: _tern_v1_CordonRequest, callback: grpc.requestCallback<_tern_v1_Host__Output>): grpc.ClientUnaryCall;
  cordon(argument: _tern_v1_CordonRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Host__Output>): grpc.ClientUnaryCall;
  cordon(argument: _tern_v1_CordonRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_Host__Output>): grpc.ClientUnaryCall;
  cordon(argument: _tern_v1_CordonRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Host__Output>): grpc.ClientUnaryCall;
  cordon(argument: _tern_v1_CordonRequest, callback: grpc.requestCallback<_tern_v1_Host__Output>): grpc.ClientUnaryCall;
  
  DryRun(argument: _tern_v1_StartMigrationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_DryRunResponse__Output>): grpc.ClientUnaryCall;
  DryRun(argument: _tern_v1_StartMigrationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_DryRunResponse__Output>): grpc.ClientUnaryCall;
  DryRun(argument: _tern_v1_StartMigrationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_DryRunResponse__Output>): grpc.ClientUnaryCall;
  DryRun(argument: _tern_v1_StartMigrationRequest, callback: grpc.requestCallback<_tern_v1_DryRunResponse__Output>): grpc.ClientUnaryCall;
  dryRun(argument: _tern_v1_StartMigrationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_DryRunResponse__Output>): grpc.ClientUnaryCall;
  dryRun(argument: _tern_v1_StartMigrationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_DryRunResponse__Output>): grpc.ClientUnaryCall;
  dryRun(argument: _tern_v1_StartMigrationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_DryRunResponse__Output>): grpc.ClientUnaryCall;
  dryRun(argument: _tern_v1_StartMigrationRequest, callback: grpc.requestCallback<_tern_v1_DryRunResponse__Output>): grpc.ClientUnaryCall;
  
  Evacuate(argument: _tern_v1_EvacuateRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tern_v1_EvacuateEvent__Output>;
  Evacuate(argument: _tern_v1_EvacuateRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tern_v1_EvacuateEvent__Output>;
  evacuate(argument: _tern_v1_EvacuateRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tern_v1_EvacuateEvent__Output>;
  evacuate(argument: _tern_v1_EvacuateRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tern_v1_EvacuateEvent__Output>;
  
  ExecContainer(argument: _tern_v1_CoordExecRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ExecResponse__Output>): grpc.ClientUnaryCall;
  ExecContainer(argument: _tern_v1_CoordExecRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ExecResponse__Output>): grpc.ClientUnaryCall;
  ExecContainer(argument: _tern_v1_CoordExecRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ExecResponse__Output>): grpc.ClientUnaryCall;
  ExecContainer(argument: _tern_v1_CoordExecRequest, callback: grpc.requestCallback<_tern_v1_ExecResponse__Output>): grpc.ClientUnaryCall;
  execContainer(argument: _tern_v1_CoordExecRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ExecResponse__Output>): grpc.ClientUnaryCall;
  execContainer(argument: _tern_v1_CoordExecRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ExecResponse__Output>): grpc.ClientUnaryCall;
  execContainer(argument: _tern_v1_CoordExecRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ExecResponse__Output>): grpc.ClientUnaryCall;
  execContainer(argument: _tern_v1_CoordExecRequest, callback: grpc.requestCallback<_tern_v1_ExecResponse__Output>): grpc.ClientUnaryCall;
  
  GetMigration(argument: _tern_v1_MigrationRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  GetMigration(argument: _tern_v1_MigrationRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  GetMigration(argument: _tern_v1_MigrationRef, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  GetMigration(argument: _tern_v1_MigrationRef, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  getMigration(argument: _tern_v1_MigrationRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  getMigration(argument: _tern_v1_MigrationRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  getMigration(argument: _tern_v1_MigrationRef, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  getMigration(argument: _tern_v1_MigrationRef, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  
  Heartbeat(argument: _tern_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _tern_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _tern_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _tern_v1_HeartbeatRequest, callback: grpc.requestCallback<_tern_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _tern_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _tern_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _tern_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _tern_v1_HeartbeatRequest, callback: grpc.requestCallback<_tern_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  
  ListContainers(argument: _tern_v1_ListAllContainersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ListContainersResponse__Output>): grpc.ClientUnaryCall;
  ListContainers(argument: _tern_v1_ListAllContainersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ListContainersResponse__Output>): grpc.ClientUnaryCall;
  ListContainers(argument: _tern_v1_ListAllContainersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ListContainersResponse__Output>): grpc.ClientUnaryCall;
  ListContainers(argument: _tern_v1_ListAllContainersRequest, callback: grpc.requestCallback<_tern_v1_ListContainersResponse__Output>): grpc.ClientUnaryCall;
  listContainers(argument: _tern_v1_ListAllContainersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ListContainersResponse__Output>): grpc.ClientUnaryCall;
  listContainers(argument: _tern_v1_ListAllContainersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ListContainersResponse__Output>): grpc.ClientUnaryCall;
  listContainers(argument: _tern_v1_ListAllContainersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ListContainersResponse__Output>): grpc.ClientUnaryCall;
  listContainers(argument: _tern_v1_ListAllContainersRequest, callback: grpc.requestCallback<_tern_v1_ListContainersResponse__Output>): grpc.ClientUnaryCall;
  
  ListHosts(argument: _tern_v1_ListHostsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ListHostsResponse__Output>): grpc.ClientUnaryCall;
  ListHosts(argument: _tern_v1_ListHostsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ListHostsResponse__Output>): grpc.ClientUnaryCall;
  ListHosts(argument: _tern_v1_ListHostsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ListHostsResponse__Output>): grpc.ClientUnaryCall;
  ListHosts(argument: _tern_v1_ListHostsRequest, callback: grpc.requestCallback<_tern_v1_ListHostsResponse__Output>): grpc.ClientUnaryCall;
  listHosts(argument: _tern_v1_ListHostsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ListHostsResponse__Output>): grpc.ClientUnaryCall;
  listHosts(argument: _tern_v1_ListHostsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ListHostsResponse__Output>): grpc.ClientUnaryCall;
  listHosts(argument: _tern_v1_ListHostsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ListHostsResponse__Output>): grpc.ClientUnaryCall;
  listHosts(argument: _tern_v1_ListHostsRequest, callback: grpc.requestCallback<_tern_v1_ListHostsResponse__Output>): grpc.ClientUnaryCall;
  
  ListMigrations(argument: _tern_v1_ListMigrationsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ListMigrationsResponse__Output>): grpc.ClientUnaryCall;
  ListMigrations(argument: _tern_v1_ListMigrationsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ListMigrationsResponse__Output>): grpc.ClientUnaryCall;
  ListMigrations(argument: _tern_v1_ListMigrationsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ListMigrationsResponse__Output>): grpc.ClientUnaryCall;
  ListMigrations(argument: _tern_v1_ListMigrationsRequest, callback: grpc.requestCallback<_tern_v1_ListMigrationsResponse__Output>): grpc.ClientUnaryCall;
  listMigrations(argument: _tern_v1_ListMigrationsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ListMigrationsResponse__Output>): grpc.ClientUnaryCall;
  listMigrations(argument: _tern_v1_ListMigrationsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_ListMigrationsResponse__Output>): grpc.ClientUnaryCall;
  listMigrations(argument: _tern_v1_ListMigrationsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_ListMigrationsResponse__Output>): grpc.ClientUnaryCall;
  listMigrations(argument: _tern_v1_ListMigrationsRequest, callback: grpc.requestCallback<_tern_v1_ListMigrationsResponse__Output>): grpc.ClientUnaryCall;
  
  PullImages(argument: _tern_v1_ReadImagesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tern_v1_ImageChunk__Output>;
  PullImages(argument: _tern_v1_ReadImagesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tern_v1_ImageChunk__Output>;
  pullImages(argument: _tern_v1_ReadImagesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tern_v1_ImageChunk__Output>;
  pullImages(argument: _tern_v1_ReadImagesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tern_v1_ImageChunk__Output>;
  
  RegisterHost(argument: _tern_v1_RegisterHostRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_RegisterHostResponse__Output>): grpc.ClientUnaryCall;
  RegisterHost(argument: _tern_v1_RegisterHostRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_RegisterHostResponse__Output>): grpc.ClientUnaryCall;
  RegisterHost(argument: _tern_v1_RegisterHostRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_RegisterHostResponse__Output>): grpc.ClientUnaryCall;
  RegisterHost(argument: _tern_v1_RegisterHostRequest, callback: grpc.requestCallback<_tern_v1_RegisterHostResponse__Output>): grpc.ClientUnaryCall;
  registerHost(argument: _tern_v1_RegisterHostRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_RegisterHostResponse__Output>): grpc.ClientUnaryCall;
  registerHost(argument: _tern_v1_RegisterHostRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_RegisterHostResponse__Output>): grpc.ClientUnaryCall;
  registerHost(argument: _tern_v1_RegisterHostRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_RegisterHostResponse__Output>): grpc.ClientUnaryCall;
  registerHost(argument: _tern_v1_RegisterHostRequest, callback: grpc.requestCallback<_tern_v1_RegisterHostResponse__Output>): grpc.ClientUnaryCall;
  
  RunContainer(argument: _tern_v1_CoordRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Container__Output>): grpc.ClientUnaryCall;
  RunContainer(argument: _tern_v1_CoordRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_Container__Output>): grpc.ClientUnaryCall;
  RunContainer(argument: _tern_v1_CoordRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Container__Output>): grpc.ClientUnaryCall;
  RunContainer(argument: _tern_v1_CoordRunRequest, callback: grpc.requestCallback<_tern_v1_Container__Output>): grpc.ClientUnaryCall;
  runContainer(argument: _tern_v1_CoordRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Container__Output>): grpc.ClientUnaryCall;
  runContainer(argument: _tern_v1_CoordRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_Container__Output>): grpc.ClientUnaryCall;
  runContainer(argument: _tern_v1_CoordRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Container__Output>): grpc.ClientUnaryCall;
  runContainer(argument: _tern_v1_CoordRunRequest, callback: grpc.requestCallback<_tern_v1_Container__Output>): grpc.ClientUnaryCall;
  
  StartMigration(argument: _tern_v1_StartMigrationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  StartMigration(argument: _tern_v1_StartMigrationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  StartMigration(argument: _tern_v1_StartMigrationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  StartMigration(argument: _tern_v1_StartMigrationRequest, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  startMigration(argument: _tern_v1_StartMigrationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  startMigration(argument: _tern_v1_StartMigrationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  startMigration(argument: _tern_v1_StartMigrationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  startMigration(argument: _tern_v1_StartMigrationRequest, callback: grpc.requestCallback<_tern_v1_Migration__Output>): grpc.ClientUnaryCall;
  
  StopContainer(argument: _tern_v1_ContainerRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  StopContainer(argument: _tern_v1_ContainerRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  StopContainer(argument: _tern_v1_ContainerRef, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  StopContainer(argument: _tern_v1_ContainerRef, callback: grpc.requestCallback<_tern_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  stopContainer(argument: _tern_v1_ContainerRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  stopContainer(argument: _tern_v1_ContainerRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_tern_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  stopContainer(argument: _tern_v1_ContainerRef, options: grpc.CallOptions, callback: grpc.requestCallback<_tern_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  stopContainer(argument: _tern_v1_ContainerRef, callback: grpc.requestCallback<_tern_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  
  WatchMigration(argument: _tern_v1_MigrationRef, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tern_v1_Migration__Output>;
  WatchMigration(argument: _tern_v1_MigrationRef, options?: grpc.CallOptions): grpc.ClientReadableStream<_tern_v1_Migration__Output>;
  watchMigration(argument: _tern_v1_MigrationRef, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tern_v1_Migration__Output>;
  watchMigration(argument: _tern_v1_MigrationRef, options?: grpc.CallOptions): grpc.ClientReadableStream<_tern_v1_Migration__Output>;
  
}

export interface CoordinatorHandlers extends grpc.UntypedServiceImplementation {
  CancelMigration: grpc.handleUnaryCall<_tern_v1_MigrationRef__Output, _tern_v1_Migration>;
  
  Cordon: grpc.handleUnaryCall<_tern_v1_CordonRequest__Output, _tern_v1_Host>;
  
  DryRun: grpc.handleUnaryCall<_tern_v1_StartMigrationRequest__Output, _tern_v1_DryRunResponse>;
  
  Evacuate: grpc.handleServerStreamingCall<_tern_v1_EvacuateRequest__Output, _tern_v1_EvacuateEvent>;
  
  ExecContainer: grpc.handleUnaryCall<_tern_v1_CoordExecRequest__Output, _tern_v1_ExecResponse>;
  
  GetMigration: grpc.handleUnaryCall<_tern_v1_MigrationRef__Output, _tern_v1_Migration>;
  
  Heartbeat: grpc.handleUnaryCall<_tern_v1_HeartbeatRequest__Output, _tern_v1_HeartbeatResponse>;
  
  ListContainers: grpc.handleUnaryCall<_tern_v1_ListAllContainersRequest__Output, _tern_v1_ListContainersResponse>;
  
  ListHosts: grpc.handleUnaryCall<_tern_v1_ListHostsRequest__Output, _tern_v1_ListHostsResponse>;
  
  ListMigrations: grpc.handleUnaryCall<_tern_v1_ListMigrationsRequest__Output, _tern_v1_ListMigrationsResponse>;
  
  PullImages: grpc.handleServerStreamingCall<_tern_v1_ReadImagesRequest__Output, _tern_v1_ImageChunk>;
  
  RegisterHost: grpc.handleUnaryCall<_tern_v1_RegisterHostRequest__Output, _tern_v1_RegisterHostResponse>;
  
  RunContainer: grpc.handleUnaryCall<_tern_v1_CoordRunRequest__Output, _tern_v1_Container>;
  
  StartMigration: grpc.handleUnaryCall<_tern_v1_StartMigrationRequest__Output, _tern_v1_Migration>;
  
  StopContainer: grpc.handleUnaryCall<_tern_v1_ContainerRef__Output, _tern_v1_StopResponse>;
  
  WatchMigration: grpc.handleServerStreamingCall<_tern_v1_MigrationRef__Output, _tern_v1_Migration>;
  
}

export interface CoordinatorDefinition extends grpc.ServiceDefinition {
  CancelMigration: MethodDefinition<_tern_v1_MigrationRef, _tern_v1_Migration, _tern_v1_MigrationRef__Output, _tern_v1_Migration__Output>
  Cordon: MethodDefinition<_tern_v1_CordonRequest, _tern_v1_Host, _tern_v1_CordonRequest__Output, _tern_v1_Host__Output>
  DryRun: MethodDefinition<_tern_v1_StartMigrationRequest, _tern_v1_DryRunResponse, _tern_v1_StartMigrationRequest__Output, _tern_v1_DryRunResponse__Output>
  Evacuate: MethodDefinition<_tern_v1_EvacuateRequest, _tern_v1_EvacuateEvent, _tern_v1_EvacuateRequest__Output, _tern_v1_EvacuateEvent__Output>
  ExecContainer: MethodDefinition<_tern_v1_CoordExecRequest, _tern_v1_ExecResponse, _tern_v1_CoordExecRequest__Output, _tern_v1_ExecResponse__Output>
  GetMigration: MethodDefinition<_tern_v1_MigrationRef, _tern_v1_Migration, _tern_v1_MigrationRef__Output, _tern_v1_Migration__Output>
  Heartbeat: MethodDefinition<_tern_v1_HeartbeatRequest, _tern_v1_HeartbeatResponse, _tern_v1_HeartbeatRequest__Output, _tern_v1_HeartbeatResponse__Output>
  ListContainers: MethodDefinition<_tern_v1_ListAllContainersRequest, _tern_v1_ListContainersResponse, _tern_v1_ListAllContainersRequest__Output, _tern_v1_ListContainersResponse__Output>
  ListHosts: MethodDefinition<_tern_v1_ListHostsRequest, _tern_v1_ListHostsResponse, _tern_v1_ListHostsRequest__Output, _tern_v1_ListHostsResponse__Output>
  ListMigrations: MethodDefinition<_tern_v1_ListMigrationsRequest, _tern_v1_ListMigrationsResponse, _tern_v1_ListMigrationsRequest__Output, _tern_v1_ListMigrationsResponse__Output>
  PullImages: MethodDefinition<_tern_v1_ReadImagesRequest, _tern_v1_ImageChunk, _tern_v1_ReadImagesRequest__Output, _tern_v1_ImageChunk__Output>
  RegisterHost: MethodDefinition<_tern_v1_RegisterHostRequest, _tern_v1_RegisterHostResponse, _tern_v1_RegisterHostRequest__Output, _tern_v1_RegisterHostResponse__Output>
  RunContainer: MethodDefinition<_tern_v1_CoordRunRequest, _tern_v1_Container, _tern_v1_CoordRunRequest__Output, _tern_v1_Container__Output>
  StartMigration: MethodDefinition<_tern_v1_StartMigrationRequest, _tern_v1_Migration, _tern_v1_StartMigrationRequest__Output, _tern_v1_Migration__Output>
  StopContainer: MethodDefinition<_tern_v1_ContainerRef, _tern_v1_StopResponse, _tern_v1_ContainerRef__Output, _tern_v1_StopResponse__Output>
  WatchMigration: MethodDefinition<_tern_v1_MigrationRef, _tern_v1_Migration, _tern_v1_MigrationRef__Output, _tern_v1_Migration__Output>
}
