// Running helper programs (criu, ip, nsenter, tar) with captured output.
import { type ChildProcess, spawn } from 'node:child_process';
import { TernError } from '../core/errors.js';

export interface RunResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
}

export interface RunOptions {
  input?: Buffer | string;
  timeoutMs?: number;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Cap on captured output per stream; the rest is dropped. */
  maxOutput?: number;
}

/** Runs argv to completion. Never throws for a non-zero exit; see runOk. */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      signal: opts.signal,
      timeout: opts.timeoutMs,
      killSignal: 'SIGKILL',
    });
    const max = opts.maxOutput ?? 16 * 1024 * 1024;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout.on('data', (b: Buffer) => {
      if (outLen < max) out.push(b);
      outLen += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errLen < max) err.push(b);
      errLen += b.length;
    });
    child.on('error', (e) =>
      reject(new TernError('INTERNAL', `cannot run ${argv[0]}: ${e.message}`, { cause: e })),
    );
    child.on('close', (code, signal) =>
      resolve({ code: code ?? -1, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }),
    );
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** The error for a run that failed: the command and the last lines of its stderr. */
export function runError(argv: string[], r: RunResult): TernError {
  const why = r.stderr.toString().trim().split('\n').slice(-3).join(' / ') || `exit ${r.code ?? r.signal}`;
  return new TernError('INTERNAL', `${argv.slice(0, 3).join(' ')} failed: ${why}`);
}

/** Runs argv and throws a TernError quoting stderr unless it exits 0. */
export async function runOk(argv: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw runError(argv, r);
  return r.stdout.toString();
}

/** A child process with its stderr collected and its exit status awaited (-1: it did not start). */
export interface Watched {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** What it wrote to stderr so far. */
  readonly stderr: string;
}

export function watched(child: ChildProcess): Watched {
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(-1));
    child.on('close', (code) => resolve(code));
  });
  return {
    child,
    exited,
    get stderr() {
      return err;
    },
  };
}
