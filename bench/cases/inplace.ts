// The in-place case: the plain container, already moved to hostB, dumped and
// restored there by CRIU alone: the floor for anything built on CRIU.
import { join } from 'node:path';
import { warmMemory } from '../../kernel/warm.js';
import { checkStop } from '../cleanup.js';
import { TO } from '../config.js';
import { settle } from '../util.js';
import { beatAfter } from '../workload.js';
import type { PlainContainer } from './container.js';

export interface InPlaceRun {
  dumpMs: number;
  restoreMs: number;
  totalMs: number;
}

/**
 * criu dump + criu restore of c (mib MiB of workload) on hostB, where the
 * plain case left it; images and logs go to `dir` (on a tmpfs, as tern's
 * and the plain case's). The dump's page cache gets warm
 * memory as tern's target does (kernel/warm.ts); the restore reuses what the
 * dumped tree freed.
 */
export async function inPlaceRun(c: PlainContainer, dir: string, mib: number): Promise<InPlaceRun> {
  await settle();
  checkStop();
  await c.prewire(TO);
  const warm = await warmMemory(mib << 20);
  await warm.ready;
  await warm.release();
  const dumpMs = await c.dump(join(dir, TO, 'images-in-place'), join(dir, TO, 'logs'));
  const restoreMs = await c.restore(TO, join(dir, TO, 'images-in-place'), join(dir, TO, 'logs'));
  await beatAfter(join(c.rootfs(TO), 'tmp', 'hb'), Date.now());
  return { dumpMs, restoreMs, totalMs: dumpMs + restoreMs };
}
