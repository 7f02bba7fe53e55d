// The warm-up before the measured runs: memory this VM has never handed out
// costs several times more per page on first touch than memory it has used
// before, so the memory the largest case needs is touched once, then each
// case runs once at 16 MiB and the TCP probe once, none of it recorded.
import { freemem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { sh } from '../deploy/testbed/driver.js';
import { type PlainSetup, plainRun } from './cases/plain.js';
import { ternRun } from './cases/tern.js';
import { SIZES } from './config.js';
import { tcpNode } from './tcp.js';
import { log, MIB, must } from './util.js';

/** Allocates and fills BENCH_GIB GiB, then exits, giving the memory back. */
const TOUCH = `
const keep = [];
for (let i = 0; i < Number(process.env.BENCH_GIB) * 4; i++) keep.push(Buffer.alloc(256 << 20, 1));`;

export async function warmUp(setup: PlainSetup): Promise<void> {
  const gib = Math.min(Math.ceil((5 * Math.max(...SIZES)) / 1024), Math.floor(freemem() / 2 / 1024 / MIB));
  if (gib > 0) {
    const t0 = performance.now();
    await must(sh([process.execPath, '-e', TOUCH], { env: { BENCH_GIB: String(gib) } }), 'touching memory');
    log(`warming up: touched ${gib} GiB of memory in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  log('warming up (16 MiB: tern, plain, in place, TCP)');
  await ternRun(16, 'random', 'warmup', setup.rootfs);
  await plainRun(16, 'random', 'warmup', setup);
  await tcpNode(setup.toAddress, 64);
}
