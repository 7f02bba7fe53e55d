// The plain case: the pipeline a user could script by hand. The same workload
// in a container outside tern (cases/container.ts) on hostA, moved to hostB
// with criu dump, tar and lz4 over one TCP stream on the underlay (bash's
// /dev/tcp into a few-line node listener: Debian 12's busybox nc quits before
// the stream ends), then criu restore under tern-shim. The in-place case
// follows on the same container.
import { mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { inHost } from '../../deploy/testbed/driver.js';
import { type WarmHold, warmMemory } from '../../kernel/warm.js';
import { background, checkStop } from '../cleanup.js';
import { FROM, TO } from '../config.js';
import { dirBytes, freePort, hex, must, settle, waitListening } from '../util.js';
import { beatAfter, benchAddress, gapMs, readBeat, workloadScript } from '../workload.js';
import { PlainContainer } from './container.js';
import { type InPlaceRun, inPlaceRun } from './inplace.js';

export interface PlainRun {
  /** Largest heartbeat gap (ms). */
  downtimeMs?: number;
  /** From `criu dump` starting to `criu restore -d` returning with the tree running. */
  pipelineMs: number;
  dumpMs: number;
  /** tar | lz4 -> TCP -> lz4 -d | tar, until the receiver has unpacked everything. */
  copyMs: number;
  restoreMs: number;
  imageBytes: number;
}

/** What the plain and in-place cases need from the run. */
export interface PlainSetup {
  /** Work directory of the run; each container gets a dir below it. */
  work: string;
  /**
   * A tmpfs directory for images and CRIU's logs (or the work directory if
   * there is none): tern's agents keep theirs on a tmpfs, and so does a
   * script that wants speed.
   */
  fast: string;
  /** tern-shim wrappers per host (cases/container.ts shimWrappers). */
  wrappers: Record<string, string>;
  /** hostB's underlay address, where the images are sent. */
  toAddress: string;
  /** The workload rootfs each container gets a copy of. */
  rootfs: string;
}

/** The plain pipeline's receiving end: one connection's bytes to stdout. */
const LISTENER = `
const s = require('net').createServer((c) => { c.pipe(process.stdout); c.on('end', () => s.close()); });
s.listen(Number(process.env.BENCH_PORT), process.env.BENCH_ADDR);`;

/** One run of the plain case, then the in-place case on the same container. */
export async function plainRun(
  mib: number,
  kind: string,
  label: string,
  setup: PlainSetup,
): Promise<{ plain: PlainRun; inPlace: InPlaceRun }> {
  const { toAddress } = setup;
  const id = `bench-plain-${label}-${hex(2)}`;
  const dir = join(setup.work, id);
  const fast = join(setup.fast, id);
  const c = new PlainContainer(id, dir, setup.wrappers, setup.rootfs);
  let warm: WarmHold[] = [];
  try {
    await c.launch(workloadScript(mib, kind, 7), benchAddress());
    await settle();
    checkStop();

    // The receiver is up before the freeze, as a script would have it. lz4
    // only where it pays, as tern does: not on memory that does not compress.
    const compress = kind === 'half';
    const port = freePort();
    await mkdir(join(dir, TO), { recursive: true });
    // The images land on the tmpfs: tar follows this link (--keep-directory-symlink).
    await mkdir(join(fast, TO, 'images'), { recursive: true });
    await symlink(join(fast, TO, 'images'), join(dir, TO, 'images'));
    const rx = background(
      [
        'ip',
        'netns',
        'exec',
        `tern-${TO}`,
        'sh',
        '-c',
        `"$BENCH_NODE" -e "$BENCH_LISTENER" | ${compress ? 'lz4 -d -c |' : ''} tar -C ${dir}/${TO} --keep-directory-symlink -xpf -`,
      ],
      `receiver for ${id}`,
      {
        BENCH_NODE: process.execPath,
        BENCH_LISTENER: LISTENER,
        BENCH_PORT: String(port),
        BENCH_ADDR: toAddress,
      },
    );
    await waitListening(TO, port);

    // The memory the frozen window allocates (the images' page cache, then
    // the restored tree) is warmed first and let go when needed, as tern's
    // target does (kernel/warm.ts): a script could do the same.
    await c.prewire(TO);
    warm = [await warmMemory(mib << 20), await warmMemory(mib << 20)];
    await Promise.all(warm.map((w) => w.ready));
    await warm[0].release();
    const before = await readBeat(join(c.rootfs(FROM), 'tmp', 'hb'));
    const t0 = performance.now();
    const dumpMs = await c.dump(join(fast, FROM, 'images'), join(fast, FROM, 'logs'));
    const t1 = performance.now();
    await must(
      inHost(FROM, [
        'bash',
        '-c',
        `tar --numeric-owner -C ${fast}/${FROM} -cf - images -C ${dir}/${FROM} rootfs | ${compress ? 'lz4 -1 -c' : 'cat'} > /dev/tcp/${toAddress}/${port}`,
      ]),
      'sending the images',
    );
    const got = await rx.done;
    if (got.code !== 0) throw new Error(`receiving the images failed (${got.code}): ${got.stderr.trim()}`);
    await rx.stop();
    const copyMs = performance.now() - t1;
    await warm[1].release();
    const restoreMs = await c.restore(TO, join(fast, TO, 'images'), join(fast, TO, 'logs'));
    const pipelineMs = performance.now() - t0;
    const wallDone = Date.now();
    const after = await beatAfter(join(c.rootfs(TO), 'tmp', 'hb'), wallDone);
    const plain: PlainRun = {
      downtimeMs: gapMs(before, after, id),
      pipelineMs,
      dumpMs,
      copyMs,
      restoreMs,
      imageBytes: await dirBytes(join(fast, TO, 'images')),
    };
    return { plain, inPlace: await inPlaceRun(c, fast, mib) };
  } finally {
    for (const w of warm) await w.release();
    await c.stop();
    // Images on the tmpfs are memory: they go with the run.
    await rm(fast, { recursive: true, force: true });
  }
}
