// The workload every benchmark container runs and what the benchmark reads
// off it: /bin/workload's heartbeat (the downtime the workload saw) and memhog
// (memory of a given size and content), the addresses benchmark containers
// get, and the peak RSS of the coordinator and agents during a move.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TESTBED_DIR } from '../deploy/testbed/driver.js';
import { startTime } from '../kernel/proc.js';
import { log, sleep } from './util.js';

/** A heartbeat every millisecond into /tmp/hb, and `mib` MiB of memory (kind random or half) checksummed into /tmp/mem. */
export function workloadScript(mib: number, kind: string, seed: number): string {
  // Idle: the heartbeat alone; /tmp/mem says it is ready at once.
  if (kind === 'idle') return '/bin/workload heartbeat /tmp/hb & echo idle > /tmp/mem; wait';
  return `/bin/workload heartbeat /tmp/hb & /bin/workload memhog ${mib} ${seed} ${kind} /tmp/mem & wait`;
}

/**
 * An address for a benchmark container, given explicitly from the top of the
 * LAN, which the coordinator never hands out by itself (it picks .10-.200):
 * containers others start meanwhile cannot be given the same one.
 */
let lanSlot = 0;
export const benchAddress = () => `10.78.0.${201 + (lanSlot++ % 39)}/24`;

// ------------------------------------------------------------ heartbeat

export interface Beat {
  seq: number;
  /** Wall-clock time of the beat, µs. */
  atUs: number;
  /** Largest gap between two beats since the heartbeat started, µs. */
  maxGapUs: number;
}

export async function readBeat(file: string): Promise<Beat> {
  for (let i = 0; ; i++) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const m = /^(\d+) (\d+) (\d+)\n/.exec(text);
    if (m) return { seq: Number(m[1]), atUs: Number(m[2]), maxGapUs: Number(m[3]) };
    if (i > 200) throw new Error(`no heartbeat in ${file}`);
    await sleep(5);
  }
}

/** The first beat written after wall-clock time `afterMs`: the tree runs again. */
export async function beatAfter(file: string, afterMs: number): Promise<Beat> {
  const until = Date.now() + 20_000;
  for (;;) {
    const b = await readBeat(file);
    if (b.atUs > afterMs * 1000) return b;
    if (Date.now() > until) throw new Error(`heartbeat in ${file} did not resume`);
    await sleep(5);
  }
}

/**
 * The downtime the workload saw: the largest heartbeat gap, provided the move
 * made it (it grew past the largest gap seen before the move).
 */
export function gapMs(before: Beat, after: Beat, what: string): number | undefined {
  if (after.maxGapUs > before.maxGapUs) return after.maxGapUs / 1000;
  log(
    `warning: ${what}: the move left no heartbeat gap above the ${before.maxGapUs / 1000} ms seen before it`,
  );
  return undefined;
}

/** Waits until the memhog has filled its memory (it writes /tmp/mem then). */
export async function waitReady(rootfs: string, what: string): Promise<void> {
  const until = Date.now() + 120_000;
  while (!existsSync(join(rootfs, 'tmp', 'mem'))) {
    if (Date.now() > until) throw new Error(`${what} never got ready`);
    await sleep(50);
  }
}

// ------------------------------------------------------------ daemons' peak RSS

export interface Daemon {
  name: string;
  pid: number;
  /** /proc start time: tells a restarted daemon (the testbed is shared) from the one measured. */
  start: string;
}

/** The coordinator and the given hosts' agents as they run now; one that is not running is left out. */
export async function daemons(agents: string[]): Promise<Daemon[]> {
  const out: Daemon[] = [];
  for (const name of ['coordinator', ...agents]) {
    const pid = Number(
      (await readFile(join(TESTBED_DIR, 'pids', `${name}.pid`), 'utf8').catch(() => '')).trim(),
    );
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const start = await startTime(pid);
    if (cmd.includes(name === 'coordinator' ? 'tern-coordinator.js' : 'tern-agent.js') && start)
      out.push({ name, pid, start });
  }
  return out;
}

/** Resets each daemon's VmHWM to its current RSS (clear_refs 5); returns those reset. */
export async function resetPeaks(ds: Daemon[]): Promise<Daemon[]> {
  const reset: Daemon[] = [];
  for (const d of ds) {
    try {
      await writeFile(`/proc/${d.pid}/clear_refs`, '5');
      reset.push(d);
    } catch {
      // restarted or gone meanwhile: no figure for it this time
    }
  }
  return reset;
}

/** VmHWM in MiB of each daemon that is still the same process. */
export async function peaks(ds: Daemon[]): Promise<Record<string, number | undefined>> {
  const out: Record<string, number | undefined> = {};
  for (const d of ds) {
    const status = await readFile(`/proc/${d.pid}/status`, 'utf8').catch(() => '');
    const m = /^VmHWM:\s+(\d+) kB/m.exec(status);
    if (m && (await startTime(d.pid)) === d.start) out[d.name] = Number(m[1]) / 1024;
  }
  return out;
}
