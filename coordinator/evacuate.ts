// Evacuating a host: every container on it moves to the other hosts, one
// move per free place within the per-host migration limit, each to the host
// with the most memory left once the moves already planned are counted (then
// the fewest containers). A container no host has room for, or whose move
// fails, stays running where it is and is named with the reason.
import { errorMessage } from '../core/errors.js';
import type { EvacuateEvent } from '../proto/index.js';
import { TERMINAL } from './phases.js';
import type { MigrationRecord } from './store.js';

/** A host a container may go to: up, not cordoned, not the one evacuated. */
export interface Candidate {
  name: string;
  /** MemAvailable as last reported (0: unknown). */
  memAvailable: number;
  containers: number;
}

/** Moves already planned onto a host in this evacuation. */
export type Planned = Map<string, { bytes: number; count: number }>;

/** A target needs this much more free memory than the container holds. */
export const ROOM_MARGIN = 1.1;

const mib = (b: number) => `${Math.round(b / (1 << 20))} MiB`;

/** Where a container of `bytes` goes, or why nowhere. */
export function pickTarget(
  cands: Candidate[],
  planned: Planned,
  bytes: number,
): { host?: string; why?: string } {
  if (cands.length === 0) return { why: 'no other host is up and open (not cordoned)' };
  const scored = cands
    .map((c) => {
      const p = planned.get(c.name) ?? { bytes: 0, count: 0 };
      return { name: c.name, room: c.memAvailable - p.bytes, count: c.containers + p.count };
    })
    .sort((a, b) => b.room - a.room || a.count - b.count || a.name.localeCompare(b.name));
  const best = scored[0];
  if (best.room < bytes * ROOM_MARGIN)
    return {
      why: `no host has room for its ${mib(bytes)} of memory (the most: ${best.name} with ${mib(Math.max(0, best.room))} free after the moves planned)`,
    };
  return { host: best.name };
}

export interface EvacuationHost {
  /** Running containers on the host, with their resident memory. */
  containers(): Promise<{ name: string; bytes: number }[]>;
  /** Where they may go, as known now. */
  candidates(): Candidate[];
  /** Starts a stop-and-copy move; resolves with the migration as created. */
  start(container: string, to: string): Promise<MigrationRecord>;
  /** Resolves when the migration ends. */
  ended(id: string): Promise<MigrationRecord>;
  /** Moves at once (the per-host limit). */
  parallel: number;
}

/**
 * Runs an evacuation, reporting each step through `send`; `stopped()` true
 * means start no more moves (those started go on by themselves, and the
 * run ends without waiting for them).
 */
export async function evacuate(
  h: EvacuationHost,
  send: (e: Partial<EvacuateEvent>) => void,
  stopped: () => boolean,
): Promise<void> {
  // The largest first: they are the hardest to place.
  const todo = (await h.containers()).sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name));
  const planned: Planned = new Map();
  const running = new Set<Promise<void>>();
  let moved = 0;
  let left = 0;
  for (const [i, c] of todo.entries()) {
    while (running.size >= h.parallel && !stopped()) await Promise.race(running);
    if (stopped()) {
      left += todo.length - i;
      break;
    }
    const pick = pickTarget(h.candidates(), planned, c.bytes);
    if (!pick.host) {
      left++;
      send({ container: c.name, outcome: 'skipped', error: pick.why });
      continue;
    }
    let m: MigrationRecord;
    try {
      m = await h.start(c.name, pick.host);
    } catch (e) {
      left++;
      send({ container: c.name, to: pick.host, outcome: 'skipped', error: errorMessage(e) });
      continue;
    }
    const p = planned.get(pick.host) ?? { bytes: 0, count: 0 };
    planned.set(pick.host, { bytes: p.bytes + c.bytes, count: p.count + 1 });
    send({ container: c.name, to: pick.host, migration_id: m.id, outcome: 'started' });
    const done: Promise<void> = h
      .ended(m.id)
      .then((end) => {
        if (end.phase === 'done') moved++;
        else left++;
        send({
          container: c.name,
          to: pick.host,
          migration_id: m.id,
          outcome: end.phase,
          error: end.error ?? '',
          downtime_ms: end.phase === 'done' ? (end.downtimeMs ?? 0) : 0,
        });
      })
      .finally(() => running.delete(done));
    running.add(done);
  }
  if (!stopped()) await Promise.all(running);
  send({ end: true, moved, left: left + (stopped() ? running.size : 0) });
}

/** Resolves with a migration once it has ended, as the runner reports it. */
export function whenEnded(
  watch: (id: string, fn: (m: MigrationRecord) => void) => () => void,
  current: MigrationRecord,
): Promise<MigrationRecord> {
  if (TERMINAL.includes(current.phase)) return Promise.resolve(current);
  return new Promise((resolve) => {
    const stop = watch(current.id, (m) => {
      if (!TERMINAL.includes(m.phase)) return;
      stop();
      resolve(m);
    });
  });
}
