// What a benchmark run measures, read once from the environment: runs per
// case, memory sizes and contents, the raw TCP stream's size, warm-up, where
// results go. Also the two hosts every case moves between.
import { join } from 'node:path';
import { ROOT } from '../deploy/testbed/driver.js';
import { defaultShimPath } from '../kernel/shim.js';

function intEnv(name: string, dflt: number): number {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isInteger(v) || v < 0)
    throw new Error(`${name} must be a whole number (got ${process.env[name]})`);
  return v;
}

export const RUNS = intEnv('BENCH_RUNS', 5);
/** Cases of 1 GiB and more take ~40 s a run here: fewer of them keep the whole run under 15 minutes. */
export const RUNS_LARGE = intEnv('BENCH_RUNS_LARGE', 3);
export const runsFor = (mib: number) => (mib >= 1024 ? RUNS_LARGE : RUNS);
export const SIZES = (process.env.BENCH_SIZES ?? '64,256,1024').split(',').map((s) => {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_SIZES: bad size ${JSON.stringify(s)} (MiB)`);
  return n;
});
export const VARIANTS = (process.env.BENCH_VARIANTS ?? 'random,half').split(',').map((s) => {
  const v = s.trim();
  if (v !== 'random' && v !== 'half')
    throw new Error(`BENCH_VARIANTS: ${JSON.stringify(s)} is not random or half`);
  return v;
});
export const TCP_MIB = intEnv('BENCH_TCP_MIB', 512);
/**
 * Post-copy cases (random memory, tern only: their baselines are the
 * stop-and-copy cases of the same size in the same run); BENCH_POSTCOPY=
 * (empty) skips them.
 */
export const POSTCOPY_SIZES = (process.env.BENCH_POSTCOPY ?? '256,1024')
  .split(',')
  .filter((s) => s.trim())
  .map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_POSTCOPY: bad size ${JSON.stringify(s)} (MiB)`);
    return n;
  });
/** The idle case (a heartbeat only, a few MiB) runs first unless BENCH_IDLE=0. */
export const IDLE = process.env.BENCH_IDLE !== '0';
export const WARMUP = process.env.BENCH_WARMUP !== '0';
export const OUT = process.env.BENCH_OUT || join(ROOT, 'bench', 'results', 'latest.json');
export const WORK_BASE = process.env.BENCH_DIR || '/var/lib/tern/bench';
export const SHIM = defaultShimPath();
export const FROM = 'hostA';
export const TO = 'hostB';
