// Memory warmed before the freeze and handed back the moment a migration
// needs it. On a virtual machine whose hypervisor reclaims free guest memory
// (virtio-balloon free page reporting), a page that has been free for a few
// seconds costs a hypervisor fault on its first touch: 1.5-2.5 s per GiB on
// the test machine, against 0.35 s per GiB for memory freed a moment ago.
// The target of a move allocates the dump's pages (page cache) and then the
// restored tree's memory while the source is frozen; tern-warm
// (native/tern-warm.c) holds that much memory touched during the preflight
// and gives it back when it is needed, so the kernel hands out pages that
// are still backed. On a host without such a hypervisor it costs a few
// hundred ms of preflight and nothing while frozen. docs/data-path.md.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { nativePath } from './shim.js';

export const defaultWarmPath = () => nativePath('tern-warm');

/** Memory held touched until released. */
export interface WarmHold {
  /** Bytes asked for (0: nothing was held). */
  readonly bytes: number;
  /** The helper holding them. */
  readonly pid?: number;
  /** Resolves when the memory is held (or the helper gave up), with how long that took. */
  readonly ready: Promise<{ heldBytes: number; ms: number }>;
  /** Gives the memory back to the kernel at once; idempotent. */
  release(): Promise<void>;
}

export const NO_WARMTH: WarmHold = {
  bytes: 0,
  ready: Promise.resolve({ heldBytes: 0, ms: 0 }),
  release: async () => {},
};

/** Never hold less free memory than this for the host's own use. */
const HEADROOM_MIN = 1 << 30;
/** Below this a warm-up saves too little to be worth a process. */
const WORTH_WARMING = 32 << 20;

/** MemAvailable and MemTotal from /proc/meminfo, in bytes. */
export async function memoryInfo(): Promise<{ available: number; total: number }> {
  const text = await readFile('/proc/meminfo', 'utf8');
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { available: kib('MemAvailable'), total: kib('MemTotal') };
}

/**
 * How much of `want` bytes can be warmed while leaving the host a headroom
 * (10 % of its memory, at least 1 GiB) beside what is already in use.
 */
export function warmable(want: number, mem: { available: number; total: number }): number {
  const headroom = Math.max(HEADROOM_MIN, Math.floor(mem.total / 10));
  const bytes = Math.max(0, Math.min(want, mem.available - headroom));
  return bytes < WORTH_WARMING ? 0 : bytes;
}

/** Starts holding up to `want` bytes (less if the host is short of memory). */
export async function warmMemory(want: number, helper = defaultWarmPath()): Promise<WarmHold> {
  const bytes = warmable(want, await memoryInfo());
  if (bytes === 0) return NO_WARMTH;
  const started = Date.now();
  const child: ChildProcess = spawn(helper, [String(bytes)], { stdio: ['pipe', 'pipe', 'ignore'] });
  // The helper exits when its stdin closes: with this process, if it dies.
  child.stdin?.on('error', () => {});
  const exited = new Promise<void>((resolve) => {
    child.on('error', () => resolve());
    child.on('close', () => resolve());
  });
  const ready = new Promise<{ heldBytes: number; ms: number }>((resolve) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^ready (\d+)\n/.exec(out);
      if (m) resolve({ heldBytes: Number(m[1]), ms: Date.now() - started });
    });
    void exited.then(() => resolve({ heldBytes: 0, ms: Date.now() - started }));
  });
  let released: Promise<void> | undefined;
  return {
    bytes,
    pid: child.pid,
    ready,
    release: () => {
      // SIGKILL: the memory is freed as the helper exits, even mid-warm-up.
      if (!released) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        released = exited;
      }
      return released;
    },
  };
}
