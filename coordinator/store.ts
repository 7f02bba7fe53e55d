// Durable coordinator state behind an interface, so a different store can
// replace the file store. The file store writes each record atomically
// (write to a temporary file, fsync, rename) before the caller acts on it.
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Faults } from '../core/faults.js';
import { checkMigrationId, validateName } from '../core/names.js';
import type { Mode, Phase } from './phases.js';

export interface PhaseEntry {
  phase: Phase;
  atMs: number;
  detail?: string;
}

export interface MigrationRecord {
  id: string;
  container: string;
  from: string;
  to: string;
  /** How memory moves; chooses the step table the migration walks. */
  mode: Mode;
  /**
   * The container's address (CIDR) as the move began. Taken while it moves:
   * in a post-copy move neither host lists the container between the commit
   * and the restore.
   */
  ip?: string;
  /** With `migrate --mode auto`: why this mode was chosen. */
  modeReason?: string;
  phase: Phase;
  error?: string;
  history: PhaseEntry[];
  startedMs: number;
  finishedMs?: number;
  downtimeMs?: number;
  rawBytes?: number;
  wireBytes?: number;
  dumpMs?: number;
  transferMs?: number;
  restoreMs?: number;
  frozenAtMs?: number;
  /** Resident memory and rootfs size the source measured while the container ran. */
  memoryBytes?: number;
  rootfsBytes?: number;
  /** Size of the image set the dump wrote. */
  imageBytes?: number;
  /** When the source's hold gives up and its tree resumes there: no commit after this. */
  holdUntilMs?: number;
  /** Length of the page stream the source sent to the target's page server during the dump. */
  pagesBytes?: number;
  /**
   * Both agents wire a network namespace the source did not dump (a container
   * that cannot change its own): the dump leaves it out (kernel/netwire.ts).
   */
  emptyNet?: boolean;
  /** Image bytes the coordinator itself relayed (0 when the agents used their data channel). */
  coordinatorBytes?: number;
  /** Post-copy: page stream bytes that arrived on the target after the resume (so far, while pulling). */
  pagesMovedBytes?: number;
  /** Post-copy: from the resume until the last page arrived. */
  pagesDoneMs?: number;
  /** Post-copy: when the target tree started to run. */
  resumedAtMs?: number;
  /** Pre-copy: the length of each round's page stream as the source sent it (round 1 first). */
  roundBytes?: number[];
  /** While pages flow (dumping, a pre-copy round): bytes sent so far; shown to watchers, not persisted, dropped at every transition. */
  progressBytes?: number;
}

/** A migration as every store keeps it: without what is shown to watchers only (progressBytes). */
export function persisted(m: MigrationRecord): Omit<MigrationRecord, 'progressBytes'> {
  const { progressBytes: _, ...rec } = m;
  return rec;
}

export interface HostRecord {
  name: string;
  address: string;
  /** The agent's data channel, where peers fetch image streams (host:port). */
  dataAddress?: string;
  lan: string;
  criuVersion: string;
  kernel: string;
  lastSeenMs: number;
  /** Takes no new containers and no incoming migrations (tern cordon). */
  cordoned?: boolean;
}

/** Where a container runs, as last confirmed by its agent or a migration. */
export interface Placement {
  name: string;
  host: string;
  ip: string;
  updatedMs: number;
}

/**
 * The coordinator's durable state. Each put is durable when its promise
 * resolves; the coordinator acts only after that.
 */
export interface Store {
  putMigration(m: MigrationRecord): Promise<void>;
  migrations(): Promise<MigrationRecord[]>;
  /** One migration by id, ended long ago or not (undefined if there is none). */
  migration(id: string): Promise<MigrationRecord | undefined>;
  putHost(h: HostRecord): Promise<void>;
  hosts(): Promise<HostRecord[]>;
  putPlacement(p: Placement): Promise<void>;
  deletePlacement(name: string): Promise<void>;
  placements(): Promise<Placement[]>;
  close(): void;
}

async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/** One JSON file per record; for tests and hosts without SQLite. */
export class FileStore implements Store {
  constructor(private readonly dir: string) {}

  async init(): Promise<this> {
    await mkdir(join(this.dir, 'migrations'), { recursive: true });
    await mkdir(join(this.dir, 'hosts'), { recursive: true });
    return this;
  }

  putMigration(m: MigrationRecord): Promise<void> {
    checkMigrationId(m.id);
    return writeAtomic(join(this.dir, 'migrations', `${m.id}.json`), JSON.stringify(persisted(m)));
  }

  async migrations(): Promise<MigrationRecord[]> {
    // Records written before migrations had a mode were all stop-and-copy.
    return (await this.readAll<MigrationRecord>('migrations')).map((m) => ({
      ...m,
      mode: m.mode ?? 'stop-and-copy',
    }));
  }

  async migration(id: string): Promise<MigrationRecord | undefined> {
    checkMigrationId(id);
    try {
      const m = JSON.parse(
        await readFile(join(this.dir, 'migrations', `${id}.json`), 'utf8'),
      ) as MigrationRecord;
      return { ...m, mode: m.mode ?? 'stop-and-copy' };
    } catch {
      return undefined;
    }
  }

  putHost(h: HostRecord): Promise<void> {
    validateName('host', h.name);
    return writeAtomic(join(this.dir, 'hosts', `${h.name}.json`), JSON.stringify(h));
  }

  async hosts(): Promise<HostRecord[]> {
    return this.readAll<HostRecord>('hosts');
  }

  async putPlacement(p: Placement): Promise<void> {
    validateName('container', p.name);
    await mkdir(join(this.dir, 'placements'), { recursive: true });
    await writeAtomic(join(this.dir, 'placements', `${p.name}.json`), JSON.stringify(p));
  }

  async deletePlacement(name: string): Promise<void> {
    validateName('container', name);
    await rm(join(this.dir, 'placements', `${name}.json`), { force: true });
  }

  async placements(): Promise<Placement[]> {
    await mkdir(join(this.dir, 'placements'), { recursive: true });
    return this.readAll<Placement>('placements');
  }

  close(): void {}

  private async readAll<T>(sub: string): Promise<T[]> {
    const out: T[] = [];
    for (const f of await readdir(join(this.dir, sub))) {
      if (!f.endsWith('.json')) continue;
      try {
        out.push(JSON.parse(await readFile(join(this.dir, sub, f), 'utf8')) as T);
      } catch {
        // A torn temporary write never has the .json name; anything else unreadable is skipped.
      }
    }
    return out;
  }
}

/**
 * The store with fault point store-<phase> on every migration write, so a
 * test can make the store itself refuse to record a phase.
 */
export function faultyStore(store: Store, faults: Faults): Store {
  return {
    putMigration: async (m) => {
      faults.hit(`store-${m.phase}`);
      await store.putMigration(m);
    },
    migrations: () => store.migrations(),
    migration: (id) => store.migration(id),
    putHost: (h) => store.putHost(h),
    hosts: () => store.hosts(),
    putPlacement: (p) => store.putPlacement(p),
    deletePlacement: (n) => store.deletePlacement(n),
    placements: () => store.placements(),
    close: () => store.close(),
  };
}
