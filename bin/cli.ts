// Shared by the `tern` and `migrate` commands: coordinator address, output helpers.

import { errorMessage, isUnreachable } from '../core/errors.js';
import { type CertFiles, certFiles, DEFAULT_PKI_DIR } from '../core/pki.js';
import { type CoordinatorClient, coordinatorClient, type Migration__Output } from '../proto/index.js';
import { unary } from '../proto/rpc.js';

export const DEFAULT_SOCKET = '/run/tern/coordinator.sock';

/**
 * A reader that goes away (`migrate ... | head`) ends the command as a
 * closed pipe would (status 141), without a stack trace; what the
 * coordinator was asked to do goes on.
 */
export function quietOnClosedPipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(141);
    throw e;
  });
}

/** --coordinator, else $TERN_COORDINATOR, else $TERN_SOCKET, else the local socket. */
export function coordinatorAddress(flag?: string): string {
  return flag || process.env.TERN_COORDINATOR || `unix://${process.env.TERN_SOCKET || DEFAULT_SOCKET}`;
}

/** The operator certificate presented over TCP: $TERN_PKI/operator/$TERN_OPERATOR. */
export function operatorCerts(): CertFiles {
  return certFiles(process.env.TERN_PKI || DEFAULT_PKI_DIR, {
    role: 'operator',
    name: process.env.TERN_OPERATOR || 'admin',
  });
}

export function connect(flag?: string): CoordinatorClient {
  return coordinatorClient(coordinatorAddress(flag), operatorCerts());
}

export function fail(cmd: string, e: unknown): never {
  const msg = isUnreachable(e) ? unreachable(coordinatorAddress()) : errorMessage(e);
  process.stderr.write(`${cmd}: error: ${msg}\n`);
  process.exit(1);
}

/**
 * What to say when no coordinator answered. With a list of addresses
 * (coordinators on etcd) only the leader serves: none answering means none
 * leads, most often because etcd has no quorum.
 */
export function unreachable(address: string): string {
  if (address.includes(','))
    return `no coordinator of ${address} answered: only the one that leads serves, so none leads now (are they running, and does etcd have a quorum? see their logs: journalctl -u tern-coordinator)`;
  return `cannot reach the coordinator at ${address} (is it running? try: deploy/testbed.sh up)`;
}

export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n')}\n`;
}

export function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** Phases past the commit point, whose failed steps the coordinator tries again. */
const RETRIED = ['committing', 'committed', 'pulling'];

/** What follow() reports as it happens: a phase entered, or a step past the commit point tried again. */
export type FollowEvent =
  | { event: 'phase'; migration: string; phase: string; atMs: number; detail?: string }
  | { event: 'retry'; migration: string; phase: string; error: string };

/**
 * Follows a migration until it ends, printing each phase as it is entered
 * (`print` gets the line, and the event it tells of).
 */
export async function follow(
  client: CoordinatorClient,
  id: string,
  print: (line: string, e: FollowEvent) => void,
  signal?: AbortSignal,
  onUpdate?: (m: Migration__Output) => void,
): Promise<Migration__Output> {
  const call = client.WatchMigration({ id });
  signal?.addEventListener('abort', () => call.cancel(), { once: true });
  let printed = 0;
  let last: Migration__Output | undefined;
  let retrying = '';
  try {
    for await (const m of call as AsyncIterable<Migration__Output>) {
      last = m;
      onUpdate?.(m);
      const t0 = Number(m.started_ms);
      for (; printed < m.history.length; printed++) {
        const h = m.history[printed];
        const at = ((Number(h.at_ms) - t0) / 1000).toFixed(3).padStart(8);
        print(`${at}s  ${h.phase}${h.detail ? `  (${h.detail})` : ''}`, {
          event: 'phase',
          migration: m.id,
          phase: h.phase,
          atMs: Number(h.at_ms),
          detail: h.detail || undefined,
        });
      }
      // Past the commit point a failed step is tried again: say so once per error.
      if (m.error && RETRIED.includes(m.phase) && m.error !== retrying) {
        retrying = m.error;
        print(`           ${m.phase}: ${m.error}; trying again`, {
          event: 'retry',
          migration: m.id,
          phase: m.phase,
          error: m.error,
        });
      }
    }
  } catch (e) {
    if (!last) throw e;
  }
  if (!last) throw new Error('the coordinator ended the watch without any state');
  // The watch may end early (e.g. a lost connection): ask for the final state.
  return unary(client, client.GetMigration, { id }, { timeoutMs: 10_000, what: 'get migration' }).catch(
    () => last as Migration__Output,
  );
}

/** The closing line of a successful migration. */
export function summary(m: Migration__Output): string {
  const total = ((Number(m.finished_ms) - Number(m.started_ms)) / 1000).toFixed(2);
  return (
    `migrated ${m.container} ${m.from} -> ${m.to} in ${total} s: downtime ${m.downtime_ms} ms, ` +
    `${mib(Number(m.raw_bytes))} moved, ${mib(Number(m.wire_bytes))} on the wire ` +
    `(dump ${m.dump_ms} ms, transfer ${m.transfer_ms} ms, restore ${m.restore_ms} ms)` +
    (m.mode === 'postcopy'
      ? `; memory ${mib(Number(m.pages_moved_bytes))} followed in ${m.pages_done_ms} ms after the resume`
      : '') +
    (m.ip ? `; address ${m.ip.split('/')[0]} kept` : '')
  );
}
