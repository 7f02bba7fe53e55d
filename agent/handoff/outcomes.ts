// How each migration ended on this host, kept after its working directory is
// gone, so that a command the coordinator repeats (Commit after a lost
// answer, Resume after a coordinator restart) is answered as the first was.
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkMigrationId } from '../../core/names.js';

/** 'committed' on a source; 'resumed <container>' on a target. */
export type Outcome = 'committed' | `resumed ${string}`;

export class Outcomes {
  private readonly dir: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'outcomes');
  }

  /**
   * Written before the answer that waits on it, at the commit point and the
   * resume: a few bytes, written at once rather than queued behind whatever
   * else the agent has in its thread pool at that moment (a tree's files
   * going, images being read).
   */
  async record(id: string, outcome: Outcome): Promise<void> {
    const file = join(this.dir, checkMigrationId(id));
    try {
      writeFileSync(file, outcome);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(file, outcome);
    }
  }

  async get(id: string): Promise<Outcome | undefined> {
    const text = await readFile(join(this.dir, checkMigrationId(id)), 'utf8').catch(() => undefined);
    return text as Outcome | undefined;
  }

  /** Post-copy, on the target: every page arrived, or the container was lost. */
  async recordPages(id: string, outcome: PagesOutcome): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFile(join(this.dir, `${checkMigrationId(id)}.pages`), outcome);
  }

  async pages(id: string): Promise<PagesOutcome | undefined> {
    const text = await readFile(join(this.dir, `${checkMigrationId(id)}.pages`), 'utf8').catch(
      () => undefined,
    );
    return text as PagesOutcome | undefined;
  }
}

/** 'done <bytes>': every page arrived; 'lost <why>': pages are missing for good. */
export type PagesOutcome = `done ${number}` | `lost ${string}`;
