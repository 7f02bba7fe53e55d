// Small helpers of the benchmark: progress lines on stderr, running commands
// that must succeed, waiting for a listener in a host's netns, reading the
// testbed's env file.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { inHost, type Result, sh, TESTBED_DIR } from '../deploy/testbed/driver.js';

export const MIB = 1024 * 1024;

export const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

export const hex = (n: number) => randomBytes(n).toString('hex');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function must(r: Promise<Result>, what: string): Promise<string> {
  const res = await r;
  if (res.code !== 0) throw new Error(`${what} failed (${res.code}): ${(res.stderr || res.stdout).trim()}`);
  return res.stdout;
}

/** Runs argv and returns how long it took; throws unless it exits 0. */
export async function timed(argv: string[], what: string): Promise<number> {
  const t0 = performance.now();
  await must(sh(argv), what);
  return performance.now() - t0;
}

/** Lets writeback from the previous step finish outside the measured window. */
export async function settle(): Promise<void> {
  await sh(['sync']);
  await sleep(300);
}

/** Waits until something listens on TCP port in the host's netns. */
export async function waitListening(host: string, port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await inHost(host, ['ss', '-Hltn', `sport = :${port}`]);
    if (r.code === 0 && r.stdout.trim()) return;
    await sleep(25);
  }
  throw new Error(`nothing listens on port ${port} in ${host}`);
}

export const freePort = () => 20000 + Math.floor(Math.random() * 20000);

/** Total size of the regular files directly in dir. */
export async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const f of await readdir(dir)) {
    const s = await stat(join(dir, f));
    if (s.isFile()) n += s.size;
  }
  return n;
}

/** KEY=VALUE lines of the testbed's env file. */
export async function testbedEnv(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const line of (await readFile(join(TESTBED_DIR, 'testbed.env'), 'utf8')).split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].replace(/^"(.*)"$/, '$1');
  }
  return out;
}
