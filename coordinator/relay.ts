// The image relay: the target agent pulls a migration's image stream from
// here while the coordinator pulls it from the source agent, one message at a
// time, so HTTP/2 flow control gives back-pressure end to end.
import type { Logger } from 'pino';
import { notFound, precondition, TernError } from '../core/errors.js';
import type { CoordinatorHandlers } from '../proto/index.js';
import { toServiceError, writeWithBackpressure } from '../proto/rpc.js';
import { callerOf, describe } from '../proto/tls.js';
import type { HostRegistry } from './hosts.js';
import type { MigrationRecord } from './store.js';

/** The relay's own deadline toward the source: as long as the target's whole receive may take. */
const UPSTREAM_DEADLINE_MS = 1_800_000;

export function relayImages(
  call: Parameters<CoordinatorHandlers['PullImages']>[0],
  migrations: Map<string, MigrationRecord>,
  hosts: HostRegistry,
  log: Logger,
  count: (migration: string, bytes: number) => void,
): void {
  const id = call.request.migration_id;
  (async () => {
    const m = migrations.get(id);
    if (!m) throw notFound(`no migration ${id}`);
    if (m.phase !== 'transferring') throw precondition(`migration ${id} is ${m.phase}, not transferring`);
    // Only the migration's target may pull its images.
    const caller = callerOf(call);
    if (caller?.role !== 'agent' || caller.name !== m.to)
      throw new TernError('PERMISSION_DENIED', `${describe(caller)} is not the target of migration ${id}`);
    const src = hosts.agent(m.from);
    const upstream = src.ReadImages({ migration_id: id }, { deadline: Date.now() + UPSTREAM_DEADLINE_MS });
    call.on('cancelled', () => upstream.cancel());
    // for-await pulls one message at a time from the source stream, and
    // waits for the target's window before pulling the next.
    let n = 0;
    for await (const chunk of upstream) {
      if (call.cancelled) return;
      await writeWithBackpressure(call, chunk);
      count(id, chunk.data?.length ?? 0);
      n++;
    }
    log.debug({ migration: id, chunks: n }, 'relay: upstream ended');
    call.end();
  })().catch((e) => {
    // grpc-js sends a status for 'error', never for destroy().
    if (!call.cancelled) call.emit('error', toServiceError(e, log));
  });
}
