// Domain errors. Every layer throws TernError with a code; the gRPC boundary
// (proto/rpc.ts) maps codes to status codes and back, so a user sees the same
// message whichever process found the problem. No gRPC import here: kernel/
// uses these too.

export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'ABORTED'
  | 'CANCELLED'
  | 'DEADLINE_EXCEEDED'
  | 'DATA_LOSS'
  | 'PERMISSION_DENIED'
  | 'INTERNAL';

export class TernError extends Error {
  readonly code: ErrorCode;
  /** Set when the peer was never reached (no connection), as opposed to a peer that answered with an error. */
  readonly unreachable: boolean;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; unreachable?: boolean }) {
    super(message, options);
    this.code = code;
    this.unreachable = options?.unreachable ?? false;
    this.name = 'TernError';
  }
}

/** Whether err says the peer could not be reached at all (nothing answered). */
export function isUnreachable(err: unknown): boolean {
  return err instanceof TernError && err.unreachable;
}

export const invalid = (msg: string) => new TernError('INVALID_ARGUMENT', msg);
export const notFound = (msg: string) => new TernError('NOT_FOUND', msg);
export const precondition = (msg: string) => new TernError('FAILED_PRECONDITION', msg);

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Keeps the first cause and attaches cleanup failures to it, so the user sees
 * why the operation failed, not why the cleanup after it also failed.
 */
export function withCleanupErrors(first: unknown, cleanup: unknown[]): unknown {
  const extra = cleanup.filter((e) => e !== undefined);
  if (extra.length === 0) return first;
  if (first instanceof Error) {
    const note = extra.map(errorMessage).join('; ');
    first.message = `${first.message} (cleanup also failed: ${note})`;
    (first as Error & { cleanupErrors?: unknown[] }).cleanupErrors = extra;
  }
  return first;
}
