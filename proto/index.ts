// The one place that loads tern's wire contract. Every client and server is
// built from here so loader options and channel settings never drift apart.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { TernError } from '../core/errors.js';
import type { CertFiles } from '../core/pki.js';
import type { ProtoGrpcType } from './gen/tern.js';
import {
  authorize,
  channelCredentials,
  type Policy,
  requireTls,
  serverCredentials,
  tlsReady,
} from './tls.js';

export type { AgentClient, AgentHandlers } from './gen/tern/v1/Agent.js';
export type { Container, Container__Output } from './gen/tern/v1/Container.js';
export type { CoordinatorClient, CoordinatorHandlers } from './gen/tern/v1/Coordinator.js';
export type { EvacuateEvent, EvacuateEvent__Output } from './gen/tern/v1/EvacuateEvent.js';
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
  // tern serves no channelz: its per-channel and per-call bookkeeping would be kept for nothing.
  'grpc.enable_channelz': 0,
};
export const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
  'grpc.enable_channelz': 0,
};

/**
 * Accepts host:port or unix:///path (as grpc-js does) and returns the grpc
 * target. A comma-separated list of IP:port addresses (coordinators that
 * take over from each other) becomes one channel over all of them: only the
 * leader listens, and the channel connects to whichever accepts, again after
 * the leader changed.
 */
export function grpcTarget(address: string): string {
  if (address.startsWith('unix:')) return address;
  if (address.startsWith('/')) return `unix://${address}`;
  if (!address.includes(',')) return address;
  const list = address.split(',').map((a) => a.trim());
  const v4 = list.every((a) => /^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(a));
  const v6 = list.every((a) => /^\[[0-9a-fA-F:.]+\]:\d+$/.test(a));
  if (!v4 && !v6)
    throw new TernError(
      'INVALID_ARGUMENT',
      `a list of addresses must be all IPv4 or all [IPv6] addresses with ports: ${JSON.stringify(address)}`,
    );
  return `${v4 ? 'ipv4' : 'ipv6'}:${list.join(',')}`;
}

export const isUnix = (address: string) => grpcTarget(address).startsWith('unix:');

/**
 * grpcTarget for a client channel: one IP address too goes to grpc-js's IP
 * resolver. Its DNS resolver, the default, would make a c-ares resolver for
 * an address that names no one to look up, and keep it as long as the
 * channel: on a coordinator, one per agent it ever called.
 */
export function channelTarget(address: string): string {
  if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(address)) return `ipv4:${address}`;
  if (/^\[[0-9a-fA-F:.]+\]:\d+$/.test(address)) return `ipv6:${address}`;
  return grpcTarget(address);
}

/**
 * A client of the agent serving `host` at address, over mutual TLS with
 * files' certificate; the agent must present host's certificate. `options`
 * add to (or override) the channel settings: interceptors, idle timeout.
 */
export function agentClient(
  address: string,
  tls: CertFiles | undefined,
  host?: string,
  options: grpc.ClientOptions = {},
): import('./gen/tern/v1/Agent.js').AgentClient {
  const Ctor = ternProto().tern.v1.Agent;
  const creds = channelCredentials(requireTls(tls, address), { role: 'agent', name: host });
  // The name sent in TLS (SNI): the identity expected, not an IP address.
  return new Ctor(channelTarget(address), creds, {
    ...CHANNEL_OPTIONS,
    'grpc.ssl_target_name_override': host ?? 'agent',
    ...options,
  });
}

/**
 * A client of the coordinator: over its local unix socket (no certificate),
 * or over mutual TLS with files' certificate to a coordinator's certificate.
 */
export function coordinatorClient(
  address: string,
  tls?: CertFiles,
): import('./gen/tern/v1/Coordinator.js').CoordinatorClient {
  const Ctor = ternProto().tern.v1.Coordinator;
  if (isUnix(address))
    return new Ctor(grpcTarget(address), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  const creds = channelCredentials(requireTls(tls, address), { role: 'coordinator' });
  return new Ctor(channelTarget(address), creds, {
    ...CHANNEL_OPTIONS,
    'grpc.ssl_target_name_override': 'coordinator',
  });
}

/**
 * A server whose every call passes the policy's role check first
 * (proto/tls.ts). `local`: it is bound only to a unix socket, whose callers
 * need no certificate.
 */
/** Observes every call a server answers: method name, gRPC status code, seconds. */
export type CallObserver = (method: string, code: number, seconds: number) => void;

export function newServer(
  policy: Policy,
  onDenied?: (method: string, who: string) => void,
  local = false,
  observe?: CallObserver,
): grpc.Server {
  const interceptors = [authorize(policy, onDenied, local)];
  if (observe) interceptors.unshift(timeCalls(observe));
  return new grpc.Server({ ...SERVER_OPTIONS, interceptors });
}

/** A server interceptor that reports each call's outcome and duration (refused ones too). */
function timeCalls(observe: CallObserver): grpc.ServerInterceptor {
  return (method, call) => {
    const t0 = process.hrtime.bigint();
    const name = method.path.split('/').pop() ?? method.path;
    return new grpc.ServerInterceptingCall(call, {
      sendStatus: (status, next) => {
        observe(name, status.code, Number(process.hrtime.bigint() - t0) / 1e9);
        next(status);
      },
    });
  };
}

/**
 * Binds a server and resolves with the actual port (0 = pick one): a unix
 * socket in plaintext, a TCP address only with mutual TLS.
 */
export async function bindServer(server: grpc.Server, address: string, tls?: CertFiles): Promise<number> {
  let creds = grpc.ServerCredentials.createInsecure();
  if (!isUnix(address)) {
    const files = requireTls(tls, address);
    await tlsReady(files);
    creds = serverCredentials(files);
  }
  return new Promise((resolve, reject) => {
    server.bindAsync(grpcTarget(address), creds, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

export { grpc, tlsReady };
