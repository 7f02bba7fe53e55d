// The scale run's child processes (and the undoing of all it made): the real coordinator
// (dist/bin/tern-coordinator.js, its own process, its log in a file) and the
// agent workers, and what /proc says of a process's CPU time and memory.
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The agent workers' niceness (SCALE_WORKER_NICE; 0: the same priority as the coordinator). */
const WORKER_NICE = Number(process.env.SCALE_WORKER_NICE ?? 10);

/** What the run made and how to undo it, newest last. */
const made: { what: string; undo: () => Promise<void> }[] = [];

/** Registers the undoing of `what`; the returned function undoes it now (once). */
export function onCleanup(what: string, undo: () => Promise<void>): () => Promise<void> {
  const entry = { what, undo };
  made.push(entry);
  return async () => {
    const i = made.indexOf(entry);
    if (i < 0) return;
    made.splice(i, 1);
    await undo();
  };
}

/** Undoes everything still registered, newest first; a failure is reported and the rest still go. */
export async function cleanupAll(): Promise<void> {
  for (let e = made.pop(); e; e = made.pop()) {
    try {
      await e.undo();
    } catch (err) {
      process.stderr.write(`[scale] warning: removing ${e.what} failed: ${(err as Error).message}\n`);
    }
  }
}

/**
 * utime + stime (clock ticks) from the text of /proc/PID/stat; with
 * `children`, also those of its children that it has waited for (cutime +
 * cstime: the tar and find an agent runs).
 */
export function cpuTicks(stat: string, children = false): number {
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 to 17 of the line; f[0] is field 3 (state).
  return Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0);
}

/** Busy and total jiffies of the whole machine, from the text of /proc/stat. */
export function machineTicks(stat: string): { busy: number; total: number } {
  const f = (stat.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  // idle and iowait
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
}

/** The machine's CPU time so far: busy and total jiffies over all cores. */
export function machineCpu(): { busy: number; total: number } {
  try {
    return machineTicks(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return { busy: 0, total: 0 };
  }
}

/** A field of /proc/PID/status in KiB (VmRSS, VmHWM...), 0 if missing. */
export function statusKiB(status: string, field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
}

let tck = 0;
/** Clock ticks per second (getconf CLK_TCK), the unit of /proc's CPU times. */
export function clockTicks(): number {
  if (!tck) {
    try {
      tck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      tck = 100;
    }
  }
  return tck;
}

/** CPU seconds a process (with `children`: and its children) has used so far (0 once it is gone). */
export function cpuSeconds(pid: number, children = false): number {
  try {
    return cpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'), children) / clockTicks();
  } catch {
    return 0;
  }
}

/** Resident memory now and its peak (VmHWM), MiB. */
export function memoryMiB(pid: number): { rss: number; peak: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rss: statusKiB(s, 'VmRSS') / 1024, peak: statusKiB(s, 'VmHWM') / 1024 };
  } catch {
    return { rss: 0, peak: 0 };
  }
}

export interface Child {
  pid: number;
  child: ChildProcess;
  /** Settles with the exit code when the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after graceMs; settles once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

function track(child: ChildProcess, what: string): Child {
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const stop = onCleanup(what, async () => {
    if (gone) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  });
  return { pid: child.pid ?? 0, child, exited, stop };
}

/**
 * Starts tern-coordinator as its own process with `args`, its log (stdout
 * and stderr) into logFile; `profileDir`: with node's CPU profiler, the
 * profile written there when it stops.
 */
export function startCoordinator(args: string[], logFile: string, profileDir?: string): Child {
  const fd = openSync(logFile, 'a');
  const prof = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const flags = (process.env.SCALE_COORDINATOR_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [...flags, ...prof, join(DIST, 'bin', 'tern-coordinator.js'), ...args],
    {
      stdio: ['ignore', fd, fd],
    },
  );
  closeSync(fd);
  return track(child, 'the coordinator');
}

/**
 * Forks an agent worker (sim-agents.ts) with an IPC channel, at a lower
 * CPU priority than the coordinator (nice): the simulated fleet needs most
 * of this machine, and on a shared one the system under test would queue
 * for CPU behind it, which a coordinator on a host of its own does not. Its
 * agents look at their certificate files once an hour rather than every
 * 10 s: a thousand agents in a few processes would otherwise spend a good
 * part of the machine rebuilding TLS contexts, which real agents do on
 * hosts of their own.
 */
export function startWorker(i: number, profileDir?: string): Child {
  const child = fork(join(DIST, 'test', 'scale', 'sim-agents.js'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'json',
    execArgv: profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
    env: { ...process.env, TERN_CERT_REFRESH_MS: String(3600_000) },
  });
  if (child.pid) setPriority(child.pid, WORKER_NICE);
  return track(child, `agent worker ${i}`);
}

/** The unlabelled samples of a Prometheus text exposition, by name. */
export function promSamples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

/**
 * From the coordinator's own call histogram (tern_coordinator_calls_seconds):
 * how many calls of these methods it answered so far, and how many of them
 * within `le` seconds (a bucket bound of the histogram, as written there).
 */
export function answeredWithin(
  text: string,
  le: string,
  methods: readonly string[],
): { within: number; total: number } {
  let within = 0;
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^tern_coordinator_calls_seconds_(bucket|count)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels = new Map([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (!methods.includes(labels.get('method') ?? '')) continue;
    if (m[1] === 'count') total += Number(m[3]);
    else if (labels.get('le') === le) within += Number(m[3]);
  }
  return { within, total };
}

/** The coordinator's /metrics text now ('' if it does not answer). */
export async function scrapeText(port: number): Promise<string> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
    return await r.text();
  } catch {
    return '';
  }
}

/** What the coordinator's /metrics says now (empty if it does not answer). */
export async function scrape(port: number): Promise<Map<string, number>> {
  return promSamples(await scrapeText(port));
}

/** The last lines of a log file, to show why something failed. */
export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
