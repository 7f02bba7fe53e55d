// Removing a directory tree (a container's rootfs, a migration's images) can
// take longer than a move should wait. A directory is renamed into the state
// dir's trash at once, which frees its name, and deleted from there in the
// background; whatever a crash leaves in the trash goes at the next start.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';

export class Trash {
  /** One trash per filesystem the agent writes to (the state dir, the tmpfs for images), longest first. */
  private readonly roots: string[];

  constructor(
    private readonly stateDir: string,
    private readonly log: Logger,
    others: string[] = [],
  ) {
    this.roots = [stateDir, ...others].sort((a, b) => b.length - a.length);
  }

  /** Empties what an earlier agent left in the trash. */
  async purge(): Promise<void> {
    for (const r of this.roots) {
      await rm(join(r, 'trash'), { recursive: true, force: true });
      await mkdir(join(r, 'trash'), { recursive: true }).catch(() => {});
    }
  }

  /**
   * Takes path away at once (it may not exist) and deletes it in the
   * background. Falls back to deleting in place if it cannot be renamed.
   */
  async discard(path: string): Promise<void> {
    // A rename stays on one filesystem: the trash of the root path is under.
    const root = this.roots.find((r) => path.startsWith(`${r}/`)) ?? this.stateDir;
    const dir = join(root, 'trash');
    await mkdir(dir, { recursive: true });
    const to = join(dir, `${basename(path)}.${randomBytes(4).toString('hex')}`);
    try {
      await rename(path, to);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      await rm(path, { recursive: true, force: true });
      return;
    }
    void this.erase(to);
  }

  /** Deletes a trashed tree; a shim may still write its exit file there, so try again. */
  private async erase(path: string): Promise<void> {
    for (let attempt = 1; attempt <= 10; attempt++) {
      try {
        await rm(path, { recursive: true, force: true });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
    this.log.warn({ path }, 'could not empty the trash; it goes at the next start');
  }
}
