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

/** Built by `npm run build` into dist/native/. */
export function defaultShimPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, '..', 'native', 'tern-shim'),
    join(here, '..', 'dist', 'native', 'tern-shim'),
  ];
  return candidates.find((p) => existsSync(p)) ?? candidates[0];
}

export interface LaunchSpec {
  rootfs: string;
  hostname: string;
  /** Path inside the rootfs that receives the container's stdout and stderr. */
  console: string;
  env: string[];
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

/**
 * Runs `criu restore -d` (argv) under a shim that becomes the reaper of the
 * restored root. Resolves once criu has exited 0 and the root is the shim's child.
 */
export async function restoreUnderShim(
  shim: string,
  argv: string[],
  opts: { pidfile: string; log: string; exitFile?: string; timeoutMs: number },
): Promise<Launched & { failure?: string }> {
  const args = ['restore', '--pidfile', opts.pidfile, '--log', opts.log];
  if (opts.exitFile) args.push('--exit-file', opts.exitFile);
  args.push('--', ...argv);
  const s = startShim(shim, args);
  const first = await s.next(opts.timeoutMs);
  const pid = parsePid(first);
  if (pid === undefined) {
    if (first === undefined && !s.child.killed) s.child.kill('SIGKILL');
    return {
      pid: 0,
      shimPid: 0,
      failure: first?.startsWith('error: ') ? first.slice(7) : (first ?? 'timed out'),
    };
  }
  const ok = await s.next(5_000);
  if (ok !== 'ok') {
    return {
      pid,
      shimPid: 0,
      failure: ok?.startsWith('error: ') ? ok.slice(7) : 'tern-shim did not confirm',
    };
  }
  const shimPid = s.child.pid as number;
  s.release();
  return { pid, shimPid };
}
