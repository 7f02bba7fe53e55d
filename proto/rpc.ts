// The gRPC boundary: domain errors to status codes on the way out, status
// codes back to domain errors on the way in, and promise wrappers for unary
// calls so the rest of tern never touches callbacks.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { type ErrorCode, TernError } from '../core/errors.js';

const toStatus: Record<ErrorCode, grpc.status> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  ALREADY_EXISTS: grpc.status.ALREADY_EXISTS,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  ABORTED: grpc.status.ABORTED,
  CANCELLED: grpc.status.CANCELLED,
  DEADLINE_EXCEEDED: grpc.status.DEADLINE_EXCEEDED,
  DATA_LOSS: grpc.status.DATA_LOSS,
  PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
  INTERNAL: grpc.status.INTERNAL,
};
const fromStatus = new Map<number, ErrorCode>(Object.entries(toStatus).map(([k, v]) => [v, k as ErrorCode]));

/** Converts anything thrown by a handler into a status for the client. */
export function toServiceError(err: unknown, log?: Logger): Partial<grpc.ServiceError> {
  if (err instanceof TernError) {
    return { code: toStatus[err.code], details: err.message, message: err.message };
  }
  const asGrpc = err as Partial<grpc.ServiceError>;
  if (typeof asGrpc?.code === 'number' && typeof asGrpc.details === 'string') {
    // An error from a downstream call: pass its status through unchanged.
    return { code: asGrpc.code, details: asGrpc.details, message: asGrpc.details };
  }
  log?.error({ err }, 'unexpected error');
  return { code: grpc.status.UNKNOWN, details: 'internal error (see the daemon log)' };
}

/** Converts a client-side gRPC error into a TernError carrying the server's message. */
export function fromServiceError(err: unknown, what: string): TernError {
  const e = err as Partial<grpc.ServiceError>;
  if (typeof e?.code === 'number') {
    if (e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED) {
      // Transport failures say nothing about which peer: name it. A peer's own
      // UNAVAILABLE answer (e.g. "host hostB is down") already says it all.
      const transport =
        !e.details || /No connection|connect|Connection dropped|Deadline|ECONN|EHOST|socket/i.test(e.details);
      // Never connected: grpc-js's own words, at the start (a peer's message names its peer first).
      const unreachable =
        e.code === grpc.status.UNAVAILABLE &&
        (!e.details || /^(No connection established|connect E|Failed to connect)/.test(e.details));
      return new TernError(
        e.code === grpc.status.UNAVAILABLE ? 'UNAVAILABLE' : 'DEADLINE_EXCEEDED',
        transport ? `${what}: ${e.details || 'unreachable'}` : (e.details ?? what),
        { cause: err, unreachable },
      );
    }
    const code = fromStatus.get(e.code) ?? 'INTERNAL';
    return new TernError(code, e.details || e.message || what, { cause: err });
  }
  if (err instanceof TernError) return err;
  return new TernError('INTERNAL', `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

// Typed after the generated clients' last overload, (argument, callback), so
// TypeScript infers request and response types; called with all four arguments.
type UnaryFn<Req, Res> = (req: Req, cb: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;
type FullUnaryFn<Req, Res> = (
  req: Req,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: grpc.requestCallback<Res>,
) => grpc.ClientUnaryCall;

export interface CallOpts {
  /** Deadline in ms from now. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Prefix for error messages, e.g. "hostB". */
  what?: string;
}

/** Promise wrapper for a unary call; errors come back as TernError. */
export function unary<Req, Res>(
  client: grpc.Client,
  fn: UnaryFn<Req, Res>,
  req: Req,
  opts: CallOpts = {},
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const callOpts: grpc.CallOptions = {};
    if (opts.timeoutMs) callOpts.deadline = Date.now() + opts.timeoutMs;
    const full = fn as unknown as FullUnaryFn<Req, Res>;
    const call = full.call(client, req, new grpc.Metadata(), callOpts, (err, res) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) reject(fromServiceError(err, opts.what ?? 'call failed'));
      else resolve(res as Res);
    });
    const onAbort = () => call.cancel();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Wraps an async handler for a unary method. */
export function handleUnary<Req, Res>(
  log: Logger,
  fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request, call).then(
      (res) => callback(null, res),
      (err) => callback(toServiceError(err, log) as grpc.ServiceError),
    );
  };
}

/**
 * Writes to a server stream honouring back-pressure: when write() returns
 * false, waits for 'drain' (or for the call to end).
 */
export function writeWithBackpressure<T>(call: grpc.ServerWritableStream<unknown, T>, msg: T): Promise<void> {
  if (call.write(msg)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = () => {
      call.off('drain', done);
      call.off('cancelled', cancelled);
      resolve();
    };
    const cancelled = () => {
      call.off('drain', done);
      reject(new TernError('CANCELLED', 'stream cancelled by the receiver'));
    };
    call.on('drain', done);
    call.once('cancelled', cancelled);
  });
}
