// Receiving a migration's images on the target: the chunk stream written
// into the slot and checked file by file, the page stream's digest compared
// with what the source sent, and the rootfs brought up to date (whole, or the
// changes since the pre-copy).
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TernError } from '../../core/errors.js';
import { ChunkReceiver, type EncodeStats } from '../../proto/chunks.js';
import { type ChunkStream, type HandoffContext, ROOTFS_TAR } from './context.js';
import { ROOTFS_DELTA, ROOTFS_DIRS } from './rootfs.js';
import type { ReceiveLimits, TargetSlot } from './slot.js';

/**
 * Feeds a stream into a receiver; a stream that stops moving for stallMs
 * ends it. With `from`, the stall clock starts only at the first chunk or
 * when `from` settles, whichever comes first: a fetch opened before the
 * freeze waits, without a deadline, for a source that has not frozen yet.
 */
export async function pump(
  stream: ChunkStream,
  rx: ChunkReceiver,
  stallMs: number,
  from?: Promise<unknown>,
  /** Returns at the end message, leaving the rest of the stream unread (a held fetch: TargetService.watchGone). */
  stopAtEnd = false,
): Promise<void> {
  const it = stream[Symbol.asyncIterator]();
  let stalled = false;
  let over = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      stream.cancel();
    }, stallMs);
  };
  try {
    if (from)
      void from.then(() => {
        if (!over && !timer) arm();
      });
    else arm();
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      arm();
      await rx.accept(r.value);
      if (stopAtEnd && r.value.end) break;
    }
    rx.finish();
  } catch (e) {
    // As a for-await loop would: the stream's source gets to clean up.
    it.return?.(undefined).catch(() => {});
    await rx.discard();
    if (stalled)
      throw new TernError(
        'DEADLINE_EXCEEDED',
        `image stream stalled: no data for ${Math.round(stallMs / 1000)} s`,
      );
    throw e;
  } finally {
    over = true;
    clearTimeout(timer);
  }
}

/**
 * Writes a pulled chunk stream into the slot, verifies it, unpacks the
 * rootfs. An `early` receive (the fetch opened before the freeze, read as
 * soon as the source sends) leaves the page streams to be checked when the
 * coordinator says what the source sent (checkPages), and starts its stall
 * clock at the first chunk or when `early` settles.
 */
export async function writeImages(
  ctx: HandoffContext,
  s: TargetSlot,
  stream: ChunkStream,
  limits: ReceiveLimits,
  early?: Promise<unknown>,
): Promise<EncodeStats> {
  // Pages a page server already wrote stay; anything else left from an earlier try goes.
  if (!s.pages) {
    await rm(s.imagesDir, { recursive: true, force: true });
    await mkdir(s.imagesDir, { recursive: true });
  }
  const rx = new ChunkReceiver(s.imagesDir, limits.maxBytes > 0 ? { maxBytes: limits.maxBytes } : {});
  const rootfs = ctx.containers.rootfs(s.container.name);
  // After a pre-copy, what unpacks the rootfs changes is started now: an
  // early receive begins before the freeze.
  const unpacker = s.rootfsPrecopied ? ctx.host.rootfs.startDelta(rootfs) : undefined;
  const t0 = Date.now();
  let t1 = t0;
  let t2 = t0;
  try {
    await pump(stream, rx, limits.stallMs, early, !!early);
    t1 = Date.now();
    if (!early) await checkPages(s, limits);
    t2 = Date.now();
    if (rx.received.includes(ROOTFS_TAR)) {
      await replaceRootfs(ctx, rootfs, join(s.imagesDir, ROOTFS_TAR));
    } else if (unpacker) {
      // Only what changed since the pre-copy (nothing at all if nothing did).
      const delta = rx.received.includes(ROOTFS_DELTA) ? join(s.imagesDir, ROOTFS_DELTA) : undefined;
      const dirs = rx.received.includes(ROOTFS_DIRS) ? join(s.imagesDir, ROOTFS_DIRS) : undefined;
      await unpacker.apply(delta, dirs);
      for (const f of [delta, dirs]) if (f) await rm(f);
    } else {
      throw new TernError('DATA_LOSS', 'image stream carried no rootfs');
    }
  } finally {
    unpacker?.cancel();
  }
  ctx.log.info(
    {
      migration: s.id,
      files: rx.stats.files,
      bytes: rx.stats.rawBytes,
      streamMs: t1 - t0,
      pagesMs: t2 - t1,
      rootfsMs: Date.now() - t2,
      early: !!early,
    },
    early ? 'images received early' : 'images received and checked',
  );
  return rx.stats;
}

/** The pages the page servers received are, byte for byte, the ones the source sent. */
export async function checkPages(s: TargetSlot, limits: ReceiveLimits): Promise<void> {
  await checkRounds(s, limits);
  const sent = limits.pages;
  if (!s.pages) {
    if (sent)
      throw new TernError(
        'DATA_LOSS',
        `the source sent ${sent.bytes} bytes of pages, but no page server here received them`,
      );
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const got = await Promise.race([
    s.pages.result,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TernError('DEADLINE_EXCEEDED', 'the page server did not finish')),
        limits.stallMs,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  if (!sent) throw new TernError('DATA_LOSS', 'pages arrived, but the source announced none');
  if (got.bytes !== sent.bytes)
    throw new TernError(
      'DATA_LOSS',
      `page stream cut: the source sent ${sent.bytes} bytes, the page server received ${got.bytes}`,
    );
}

/** Pre-copy: every round the source sent arrived whole, and no other. */
async function checkRounds(s: TargetSlot, limits: ReceiveLimits): Promise<void> {
  const sent = limits.rounds ?? [];
  const got = s.rounds ?? [];
  if (sent.length !== got.length)
    throw new TernError(
      'DATA_LOSS',
      `the source sent ${sent.length} pre-copy rounds, ${got.length} arrived here`,
    );
  for (const [i, r] of got.entries()) {
    const g = await r.result.catch((e: Error) => {
      throw new TernError('DATA_LOSS', `pre-copy round ${i + 1} did not arrive: ${e.message}`);
    });
    if (g.bytes !== sent[i].bytes)
      throw new TernError(
        'DATA_LOSS',
        `pre-copy round ${i + 1} cut: the source sent ${sent[i].bytes} bytes, the page server received ${g.bytes}`,
      );
  }
}

/** Before the freeze: the whole rootfs (the pre-copy), unpacked into the container's directory here. */
export async function writeRootfs(
  ctx: HandoffContext,
  s: TargetSlot,
  stream: ChunkStream,
  limits: ReceiveLimits,
): Promise<EncodeStats> {
  const dir = join(s.workDir, 'rootfs-in');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const rx = new ChunkReceiver(dir, limits.maxBytes > 0 ? { maxBytes: limits.maxBytes } : {});
  await pump(stream, rx, limits.stallMs);
  if (!rx.received.includes(ROOTFS_TAR))
    throw new TernError('DATA_LOSS', 'rootfs pre-copy carried no rootfs');
  await replaceRootfs(ctx, ctx.containers.rootfs(s.container.name), join(dir, ROOTFS_TAR));
  await rm(dir, { recursive: true, force: true });
  return rx.stats;
}

/** Replaces whatever is in rootfs with the content of a tar file, and removes the tar. */
async function replaceRootfs(ctx: HandoffContext, rootfs: string, tarFile: string): Promise<void> {
  await rm(rootfs, { recursive: true, force: true });
  await mkdir(rootfs, { recursive: true });
  await ctx.host.rootfs.unpack(rootfs, tarFile);
  await rm(tarFile);
}
