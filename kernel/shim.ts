// tern-shim (kernel/native/tern-shim.c) is the parent and reaper of every
// container init: it creates the namespaces for a new container, or runs
// `criu restore` so the restored tree is re-parented to it. Without it a dead
// container would linger as a zombie, since the host's adopting process does
// not necessarily reap. These helpers drive its line protocol on stdout/stdin.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TernError } from '../core/errors.js';
import { alive, innerPid, processTree } from './proc.js';

/** A helper program that `npm run build` builds into dist/native/ (tern-shim, tern-relay). */
export function nativePath(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', 'native', name), join(here, '..', 'dist', 'native', name)];
  return candidates.find((p) => existsSync(p)) ?? candidates[0];
}

export const defaultShimPath = () => nativePath('tern-shim');

export interface LaunchSpec {
  rootfs: string;
  hostname: string;
  /** Path inside the rootfs that receives the container's stdout and stderr. */
  console: string;
  env: string[];
  /** Capabilities beyond the default set (core/caps.ts names). */
  capAdd?: string[];
  /** Without tern's seccomp filter. */
  noSeccomp?: boolean;
  command: string[];
  exitFile?: string;
}

export interface Launched {
  pid: number;
  shimPid: number;
}

class ShimSession {
  private readonly lines: string[] = [];
  private waiters: ((l: string | undefined) => void)[] = [];
  private closed = false;
  private stderr = '';

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (l) => {
      const w = this.waiters.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
    rl.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(undefined);
    });
    child.stderr.on('data', (b: Buffer) => {
      this.stderr += b.toString();
    });
    child.stdin.on('error', () => {});
  }

  next(timeoutMs: number): Promise<string | undefined> {
    const l = this.lines.shift();
    if (l !== undefined || this.closed) return Promise.resolve(l);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(undefined);
      }, timeoutMs);
      const done = (v: string | undefined) => {
        clearTimeout(t);
        resolve(v);
      };
      this.waiters.push(done);
    });
  }

  failure(what: string, line: string | undefined): TernError {
    const why = line?.startsWith('error: ')
      ? line.slice(7)
      : this.stderr.trim() || 'tern-shim exited unexpectedly';
    return new TernError('INTERNAL', `${what}: ${why}`);
  }

  /** Whether the shim has not exited yet (until then its pid cannot be reused). */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Whether the shim closed its output (it exited or is about to). */
  get ended(): boolean {
    return this.closed;
  }

  /** Waits until the shim has exited, up to timeoutMs; returns whether it has. */
  exited(timeoutMs: number): Promise<boolean> {
    if (!this.running) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(!this.running), timeoutMs);
      this.child.once('exit', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Detaches: the shim lives on as the container's reaper. */
  release(): void {
    this.child.stdin.end();
    this.child.stdout.destroy();
    this.child.stderr.destroy();
    this.child.unref();
  }
}

function startShim(shim: string, args: string[]): ShimSession {
  if (!existsSync(shim)) {
    throw new TernError('FAILED_PRECONDITION', `tern-shim not found at ${shim} (run: make install)`);
  }
  const child = spawn(shim, args, { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  child.on('error', () => {});
  return new ShimSession(child);
}

function parsePid(line: string | undefined): number | undefined {
  const m = /^pid (\d+)$/.exec(line ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * Starts a container init in new pid, mount, net, uts and ipc namespaces.
 * `configure(pid)` runs while the init waits (e.g. to move a veth into its
 * netns); if it throws, the init is killed before it ever runs.
 */
export async function launchContainer(
  shim: string,
  spec: LaunchSpec,
  configure: (pid: number) => Promise<void>,
): Promise<Launched> {
  const args = ['launch', '--rootfs', spec.rootfs, '--hostname', spec.hostname, '--console', spec.console];
  for (const e of spec.env) args.push('--env', e);
  for (const c of spec.capAdd ?? []) args.push('--cap-add', c);
  if (spec.noSeccomp) args.push('--no-seccomp', '1');
  if (spec.exitFile) args.push('--exit-file', spec.exitFile);
  args.push('--', ...spec.command);
  const s = startShim(shim, args);
  const first = await s.next(10_000);
  const pid = parsePid(first);
  if (pid === undefined) {
    s.child.kill('SIGKILL');
    throw s.failure('cannot create the container', first);
  }
  try {
    await configure(pid);
  } catch (e) {
    s.child.stdin.end('abort\n');
    await s.next(5_000);
    throw e;
  }
  s.child.stdin.write('go\n');
  const verdict = await s.next(10_000);
  if (verdict !== 'ok') {
    s.child.kill('SIGKILL');
    throw s.failure('cannot start the container', verdict);
  }
  const shimPid = s.child.pid as number;
  s.release();
  return { pid, shimPid };
}

/** How the shim reports a failed `criu restore` (the rest are the shim's own errors). */
const CRIU_FAILED = /^criu (exited with status \d+|killed by signal \d+)$/;

/** Whether a restoreUnderShim failure is `criu restore` failing (its log says why). */
export function isCriuFailure(failure: string): boolean {
  return CRIU_FAILED.test(failure);
}

export interface RestoreUnderShimOptions {
  pidfile: string;
  log: string;
  exitFile?: string;
  /** How long `criu restore` may take before everything is killed. */
  timeoutMs: number;
  /** How long the shim may take to confirm the restored root once it named it. */
  confirmMs?: number;
  /** Aborting kills `criu restore` and whatever it created, then rejects with CANCELLED. */
  signal?: AbortSignal;
}

/**
 * Runs `criu restore -d` (argv) under a shim that becomes the reaper of the
 * restored root. Resolves once criu has exited 0 and the root is the shim's
 * child. Otherwise nothing that was started is left running, and it resolves
 * with `failure`: criu failed (isCriuFailure; CRIU cleaned up after itself and
 * the shim killed whatever was left), did not finish within timeoutMs, or the
 * shim did not confirm the restored root (criu, the tree and the shim were
 * killed from here). Aborting `signal` kills criu, what it created and the
 * shim, and rejects with CANCELLED.
 */
export async function restoreUnderShim(
  shim: string,
  argv: string[],
  opts: RestoreUnderShimOptions,
): Promise<Launched & { failure?: string }> {
  const cancelled = () =>
    new TernError('CANCELLED', 'restore cancelled: criu restore and its tree were killed');
  if (opts.signal?.aborted) throw cancelled();
  const args = ['restore', '--pidfile', opts.pidfile, '--log', opts.log];
  if (opts.exitFile) args.push('--exit-file', opts.exitFile);
  args.push('--', ...argv);
  const s = startShim(shim, args);
  const shimPid = s.child.pid as number;
  let onAbort = () => {};
  const abort = new Promise<'abort'>((resolve) => {
    onAbort = () => resolve('abort');
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
  const step = (timeoutMs: number) => Promise.race([s.next(timeoutMs), abort]);
  const failed = (failure: string) => ({ pid: 0, shimPid: 0, failure });
  try {
    const first = await step(opts.timeoutMs);
    if (first === 'abort') {
      await cancelShim(s);
      throw cancelled();
    }
    const pid = parsePid(first);
    if (pid === undefined) {
      const why = first?.startsWith('error: ') ? first.slice(7) : undefined;
      if (why && isCriuFailure(why)) return failed(why);
      const ended = s.ended;
      await killShimTree(s);
      if (why === 'cancelled') throw cancelled();
      if (first !== undefined) return failed(`tern-shim: ${why ?? first}`);
      if (ended) return failed(s.failure('tern-shim', undefined).message);
      return failed(
        `criu restore did not finish within ${opts.timeoutMs / 1000} s; it and its tree were killed`,
      );
    }
    const ok = await step(opts.confirmMs ?? 5_000);
    if (ok === 'abort' || opts.signal?.aborted) {
      await killShimTree(s, pid);
      throw cancelled();
    }
    if (ok !== 'ok') {
      await killShimTree(s, pid);
      const why = ok?.startsWith('error: ') ? ` (${ok.slice(7)})` : '';
      return failed(
        `tern-shim did not confirm the restored tree (root pid ${pid})${why}; the tree and the shim were killed`,
      );
    }
    s.release();
    return { pid, shimPid };
  } catch (e) {
    if (!(e instanceof TernError)) await killShimTree(s).catch(() => {});
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Cancels a restore in progress: SIGTERM makes the shim kill criu and
 * everything it created, then exit. If it does not, everything is killed
 * from here.
 */
async function cancelShim(s: ShimSession): Promise<void> {
  if (s.running) {
    try {
      process.kill(s.child.pid as number, 'SIGTERM');
    } catch {
      // gone meanwhile
    }
    await s.exited(10_000);
  }
  await killShimTree(s);
}

/**
 * Kills the shim, every process below it (criu, the restored tree) and, if
 * given, the restored root named by the shim. The shim is stopped first so it
 * neither exits nor reaps meanwhile: whatever a dying criu leaves behind is
 * re-parented to it and stays in view.
 */
async function killShimTree(s: ShimSession, root?: number): Promise<void> {
  const shimPid = s.child.pid as number;
  if (s.running) {
    try {
      process.kill(shimPid, 'SIGSTOP');
    } catch {
      // gone meanwhile
    }
    for (let round = 0; round < 100 && s.running; round++) {
      const live: number[] = [];
      for (const p of (await processTree(shimPid)).slice(1)) if (await alive(p)) live.push(p);
      if (live.length === 0) break;
      for (const p of live) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    try {
      process.kill(shimPid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    await s.exited(10_000);
  }
  // A shim that died on its own left the root to the host's init. Only the
  // init of a pid namespace (pid 1 inside) is taken to be the restored root,
  // so a pid an ordinary process has reused meanwhile is left alone.
  if (root !== undefined && (await alive(root)) && (await innerPid(root)) === 1) {
    for (const p of await processTree(root)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}
