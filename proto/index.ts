// The one place that loads tern's wire contract. Every client and server is
// built from here so loader options and channel settings never drift apart.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './gen/tern.js';

export type { AgentClient, AgentHandlers } from './gen/tern/v1/Agent.js';
export type { Container, Container__Output } from './gen/tern/v1/Container.js';
export type { CoordinatorClient, CoordinatorHandlers } from './gen/tern/v1/Coordinator.js';
export type { Host__Output } from './gen/tern/v1/Host.js';
export type { ImageChunk, ImageChunk__Output } from './gen/tern/v1/ImageChunk.js';
export type { Migration, Migration__Output } from './gen/tern/v1/Migration.js';
export type * from './gen/tern.js';

/** Options shared by the code generator (package.json "gen") and the runtime loader. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

const here = dirname(fileURLToPath(import.meta.url));
/** proto/tern.proto, found from both the source tree and dist/. */
export const PROTO_PATH = here.includes('/dist/')
  ? join(here, '..', '..', 'proto', 'tern.proto')
  : join(here, 'tern.proto');

let loaded: ProtoGrpcType | undefined;
export function ternProto(): ProtoGrpcType {
  if (!loaded) {
    const def = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
    loaded = grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
  }
  return loaded;
}

/** Receive windows of 16 MiB: the chunk stream runs ~3x faster than with defaults. */
const WINDOW = 16 * 1024 * 1024;
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc-node.flow_control_window': WINDOW,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  // A peer that was down (a coordinator restart, a cut link) is tried again
  // within 2 s of coming back, not after grpc's default backoff of up to 2 min,
  // during which every call fails at once: agents re-register and frozen
  // sources hear their verdict in seconds.
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': 2000,
};
export const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
};

/** Accepts host:port or unix:///path (as grpc-js does) and returns the grpc target. */
export function grpcTarget(address: string): string {
  if (address.startsWith('unix:')) return address;
  if (address.startsWith('/')) return `unix://${address}`;
  return address;
}

export function agentClient(address: string): import('./gen/tern/v1/Agent.js').AgentClient {
  const Ctor = ternProto().tern.v1.Agent;
  return new Ctor(grpcTarget(address), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
}

export function coordinatorClient(address: string): import('./gen/tern/v1/Coordinator.js').CoordinatorClient {
  const Ctor = ternProto().tern.v1.Coordinator;
  return new Ctor(grpcTarget(address), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
}

/** Binds a server and resolves with the actual port (0 = pick one). */
export function bindServer(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(grpcTarget(address), grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    );
  });
}

export { grpc };
