// The tern case: a fresh container (heartbeat + memhog) started with `tern
// run` on hostA, moved to hostB by the coordinator, then stopped. Downtime is
// the largest heartbeat gap; bytes and phase times come from the migration
// record; peak RSS (VmHWM, reset first) from the daemons.
import { join } from 'node:path';
import { connect, follow } from '../../bin/cli.js';
import { hostDir, tern } from '../../deploy/testbed/driver.js';
import type { Migration__Output } from '../../proto/index.js';
import { unary } from '../../proto/rpc.js';
import { checkStop, onCleanup } from '../cleanup.js';
import { FROM, TO } from '../config.js';
import { hex, MIB, settle, sleep } from '../util.js';
import {
  beatAfter,
  benchAddress,
  daemons,
  gapMs,
  peaks,
  readBeat,
  resetPeaks,
  waitReady,
  workloadScript,
} from '../workload.js';

export interface TernRun {
  name: string;
  migration: string;
  /** How memory moved: stop-and-copy, or postcopy (pages after the resume). */
  mode: 'stop-and-copy' | 'postcopy';
  /** Post-copy: from the resume until the last page had arrived (ms). */
  pagesDoneMs?: number;
  /** Post-copy: page stream bytes that arrived after the resume. */
  pagesMovedBytes?: number;
  /** Largest heartbeat gap (ms). */
  downtimeMs?: number;
  /** The coordinator's own figure: from the dump call to the resume answer. */
  coordinatorDowntimeMs: number;
  totalMs: number;
  /** Time spent in each phase, from the migration's history. */
  phases: Record<string, number>;
  /** Image bytes that passed through the coordinator, as it counted them (0 on the direct path). */
  coordinatorBytes: number;
  /** Image set as dumped, and rootfs as measured before the freeze. */
  imageBytes: number;
  rootfsBytes: number;
  /** Bytes the chunk stream carried before lz4: image files plus the rootfs tar. */
  rawBytes: number;
  /** Bytes the chunk stream carried after lz4. */
  wireBytes: number;
  /** Raw bytes of the chunk stream per second of the transfer phase. */
  chunkMiBps: number;
  peakRssMiB: Record<string, number | undefined>;
}

const client = connect();
/** Every container this run asked tern to start, to check none is left behind. */
const ternNames = new Set<string>();
/** The tern migration in flight, cancelled on Ctrl-C. */
let activeMigration: string | undefined;

interface TernState {
  /** `tern run` was sent and may not have finished: the container can still appear. */
  creating: boolean;
  migration?: string;
}

async function stopTern(name: string, st: TernState): Promise<void> {
  if (st.migration) {
    // Cut short mid-move: abort it if it is still before the commit point, then let it end.
    await unary(client, client.CancelMigration, { id: st.migration }, { timeoutMs: 10_000 }).catch(() => {});
    await follow(client, st.migration, () => {}).catch(() => {});
  }
  const began = Date.now();
  for (;;) {
    const r = await tern('stop', name);
    if (r.code === 0) return;
    const gone = /no container named/.test(r.stderr);
    if (gone && !(st.creating && Date.now() - began < 15_000)) return;
    if (Date.now() - began > 120_000) throw new Error(`tern stop ${name}: ${r.stderr.trim()}`);
    await sleep(1000);
  }
}

/** Time spent in each phase: from its entry in the history to the next one's. */
function phaseTimes(m: Migration__Output): Record<string, number> {
  const out: Record<string, number> = {};
  const h = m.history;
  for (let i = 0; i + 1 < h.length; i++) out[h[i].phase] = Number(h[i + 1].at_ms) - Number(h[i].at_ms);
  return out;
}

/** One run of the tern case; `rootfs` is copied into the container by tern. */
export async function ternRun(
  mib: number,
  kind: string,
  label: string,
  rootfs: string,
  mode: TernRun['mode'] = 'stop-and-copy',
): Promise<TernRun> {
  const name = `bench-${label}-${hex(2)}`;
  const st: TernState = { creating: true };
  ternNames.add(name);
  const done = onCleanup(`container ${name}`, () => stopTern(name, st));
  try {
    const r = await tern(
      'run',
      '--host',
      FROM,
      '--name',
      name,
      '--ip',
      benchAddress(),
      '--rootfs',
      rootfs,
      '--',
      '/bin/sh',
      '-c',
      workloadScript(mib, kind, 7),
    );
    if (r.code !== 0) throw new Error(`tern run ${name} failed: ${r.stderr.trim()}`);
    st.creating = false;
    await waitReady(join(hostDir(FROM), 'containers', name, 'rootfs'), name);
    await settle();
    checkStop();
    const before = await readBeat(join(hostDir(FROM), 'containers', name, 'rootfs', 'tmp', 'hb'));
    const measured = await resetPeaks(await daemons([FROM, TO]));
    const m = await unary(
      client,
      client.StartMigration,
      { container: name, from: FROM, to: TO, mode },
      { timeoutMs: 60_000, what: 'migrate' },
    );
    st.migration = m.id;
    activeMigration = m.id;
    const end = await follow(client, m.id, () => {});
    activeMigration = undefined;
    if (end.phase !== 'done')
      throw new Error(`migration ${m.id} of ${name} ended ${end.phase}: ${end.error}`);
    st.migration = undefined;
    const peakRssMiB = await peaks(measured);
    const after = await beatAfter(
      join(hostDir(TO), 'containers', name, 'rootfs', 'tmp', 'hb'),
      Number(end.finished_ms),
    );
    const rawBytes = Number(end.raw_bytes);
    const transferMs = Number(end.transfer_ms);
    return {
      name,
      migration: end.id,
      mode,
      pagesDoneMs: mode === 'postcopy' ? Number(end.pages_done_ms) : undefined,
      pagesMovedBytes: mode === 'postcopy' ? Number(end.pages_moved_bytes) : undefined,
      downtimeMs: gapMs(before, after, name),
      coordinatorDowntimeMs: Number(end.downtime_ms),
      totalMs: Number(end.finished_ms) - Number(end.started_ms),
      phases: phaseTimes(end),
      imageBytes: Number(end.image_bytes),
      coordinatorBytes: Number(end.coordinator_bytes),
      rootfsBytes: Number(end.rootfs_bytes),
      rawBytes,
      wireBytes: Number(end.wire_bytes),
      chunkMiBps: transferMs > 0 ? rawBytes / MIB / (transferMs / 1000) : 0,
      peakRssMiB,
    };
  } finally {
    activeMigration = undefined;
    await done();
  }
}

/** Asks the coordinator to cancel the migration in flight, if any (Ctrl-C). */
export function cancelActive(): void {
  if (activeMigration)
    void unary(client, client.CancelMigration, { id: activeMigration }, { timeoutMs: 10_000 }).catch(
      () => {},
    );
}

/** Records tern still lists for this run's containers after `tern stop` (e.g. an exited one on the source host). */
export async function leftovers(): Promise<string[]> {
  return (await tern('ps')).stdout
    .split('\n')
    .filter((l) => ternNames.has(l.split(/\s+/)[0]))
    .map((l) => l.trim().replace(/\s+/g, ' '));
}

export function closeClient(): void {
  client.close();
}
