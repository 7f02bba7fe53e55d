// Where a migration keeps its images, logs and hold or slot record: on a
// tmpfs when they fit there, else in the state dir on disk. A dump writes
// tens of image files while the tree is frozen, and the target creates as
// many again while the source waits; on a disk each creation can cost up to
// a millisecond (measured on the test machine: 30 files in 10-30 ms on ext4,
// 0.2 ms on tmpfs), and the page server's writes and the restore's reads go
// at memory speed. Images on a tmpfs take memory: they go there only when the
// host keeps enough besides for the tree restored from them.
import { existsSync } from 'node:fs';
import { mkdir, readdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { TMPFS_MAGIC } from '../../core/files.js';
import { checkMigrationId } from '../../core/names.js';
import { memoryInfo } from '../../kernel/warm.js';
import { type AgentOptions, fastBase } from '../config.js';

/** Room kept free beyond what a migration's images take. */
export const SPACE_MARGIN = 1.1;
/** Memory the host keeps for itself besides images on the tmpfs and the tree restored from them. */
const MEMORY_HEADROOM = 1 << 30;

export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** Whether `bytes` of images fit on a tmpfs with `free` bytes, on a host with this much memory. */
export function fitsInMemory(
  bytes: number,
  free: number,
  mem: { available: number; total: number },
): boolean {
  const headroom = Math.max(MEMORY_HEADROOM, Math.floor(mem.total / 10));
  // The images, and the tree restored from them as much again.
  return free >= bytes * SPACE_MARGIN && mem.available >= 2 * bytes * SPACE_MARGIN + headroom;
}

export class WorkDirs {
  readonly disk: string;
  private fast: string | undefined;

  constructor(
    opts: AgentOptions,
    private readonly log: Logger,
  ) {
    this.disk = join(opts.stateDir, 'migrations');
    this.fast = fastBase(opts);
  }

  /** Makes both bases; a fast dir that is not on a tmpfs is not used (said once, here). */
  async open(): Promise<void> {
    await mkdir(this.disk, { recursive: true });
    const fast = this.fast;
    if (!fast) return;
    try {
      await mkdir(fast, { recursive: true, mode: 0o700 });
      const s = await statfs(fast);
      if (s.type !== TMPFS_MAGIC) {
        this.log.warn({ dir: fast }, 'fast dir is not on a tmpfs: images stay in the state dir');
        this.fast = undefined;
      } else
        this.log.info(
          { dir: fast, free: s.bavail * s.bsize },
          'migration images go on this tmpfs when they fit',
        );
    } catch (e) {
      this.log.warn({ dir: fast, err: (e as Error).message }, 'no fast dir: images stay in the state dir');
      this.fast = undefined;
    }
  }

  /** The bases that may hold migrations, the tmpfs first. */
  bases(): string[] {
    return this.fast ? [this.fast, this.disk] : [this.disk];
  }

  /** Every migration directory there is, with its id: what an earlier agent left. */
  async all(): Promise<{ entry: string; base: string }[]> {
    const out: { entry: string; base: string }[] = [];
    for (const base of this.bases())
      for (const entry of await readdir(base).catch(() => [] as string[]))
        if (entry !== 'trash') out.push({ entry, base });
    return out;
  }

  /** The directory of migration `id`: where it is, or where it would be on disk. */
  dirOf(id: string): string {
    return this.existing(id) ?? join(this.disk, id);
  }

  /** Where migration `id`'s directory is, if it exists. */
  private existing(id: string): string | undefined {
    checkMigrationId(id);
    return this.bases()
      .map((base) => join(base, id))
      .find((d) => existsSync(d));
  }

  /**
   * Where migration `id`, whose images take about `bytes`, keeps them: on the
   * tmpfs when they fit beside the memory the host needs, else on disk (said
   * in the log). An existing directory stays where it is.
   */
  async place(id: string, bytes: number): Promise<string> {
    const known = this.existing(id);
    if (known) return known;
    if (this.fast) {
      const [free, mem] = await Promise.all([freeBytes(this.fast), memoryInfo()]);
      if (fitsInMemory(bytes, free, mem)) return join(this.fast, id);
      this.log.info(
        { migration: id, bytes, tmpfsFree: free, memoryAvailable: mem.available },
        'images on disk: they would not fit in memory beside what the host needs',
      );
    }
    return join(this.disk, id);
  }
}
