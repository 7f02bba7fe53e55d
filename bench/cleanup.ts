// Undoing what the benchmark made, and Ctrl-C. Everything the benchmark
// creates (containers, trees, veths, work dirs, background processes, the
// testbed it brought up) registers how to undo it here. Normal flow undoes
// each thing as soon as it is done with it; on failure or Ctrl-C whatever is
// left is undone newest first.
import { spawn } from 'node:child_process';
import type { Result } from '../deploy/testbed/driver.js';
import { log } from './util.js';

const pending = new Map<number, { what: string; fn: () => Promise<void> }>();
let nextCleanup = 0;

/** Registers fn as the undoing of `what`; the returned function runs it now (once). */
export function onCleanup(what: string, fn: () => Promise<void>): () => Promise<void> {
  const id = nextCleanup++;
  pending.set(id, { what, fn });
  return async () => {
    if (pending.delete(id)) await fn();
  };
}

/** Undoes everything still registered, newest first; a failure is logged and the rest still run. */
export async function cleanupAll(): Promise<void> {
  while (pending.size > 0) {
    const id = Math.max(...pending.keys());
    const t = pending.get(id);
    pending.delete(id);
    if (!t) continue;
    try {
      await t.fn();
    } catch (e) {
      log(`warning: cleaning up ${t.what} failed: ${(e as Error).message}`);
    }
  }
}

export class Interrupted extends Error {}

/** Set by Ctrl-C: the current step ends (a running migration is cancelled), then everything is cleaned up. */
let stopping = false;
export const isStopping = () => stopping;
export function requestStop(): void {
  stopping = true;
}
export function checkStop(): void {
  if (stopping) throw new Interrupted('interrupted');
}

/** A process started in the background (its own process group), killed on cleanup. */
export interface Background {
  pid: number;
  done: Promise<Result>;
  stop: () => Promise<void>;
}

export function background(argv: string[], what: string, env?: NodeJS.ProcessEnv): Background {
  const child = spawn(argv[0], argv.slice(1), {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  let exited = false;
  const done = new Promise<Result>((resolve) => {
    child.on('error', (e) => {
      exited = true;
      resolve({ code: -1, stdout, stderr: `${stderr}${e.message}` });
    });
    child.on('close', (code) => {
      exited = true;
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
  const stop = onCleanup(what, async () => {
    if (exited) return;
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
    await done;
  });
  return { pid: child.pid as number, done, stop };
}
