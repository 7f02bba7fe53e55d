// The default coordinator store: one SQLite database (WAL, synchronous=FULL,
// so a committed transaction survives a crash of the process or the machine).
// Migrations keep their phase history in their own table.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Mode, Phase } from './phases.js';
import {
  type HostRecord,
  type MigrationRecord,
  type PhaseEntry,
  type Placement,
  persisted,
  type Store,
} from './store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS hosts (
  name TEXT PRIMARY KEY, address TEXT NOT NULL, lan TEXT NOT NULL,
  criu_version TEXT NOT NULL, kernel TEXT NOT NULL, last_seen_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS placements (
  name TEXT PRIMARY KEY, host TEXT NOT NULL, ip TEXT NOT NULL, updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS migrations (
  id TEXT PRIMARY KEY, container TEXT NOT NULL, src TEXT NOT NULL, dst TEXT NOT NULL,
  phase TEXT NOT NULL, error TEXT, started_ms INTEGER NOT NULL, finished_ms INTEGER,
  metrics TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS phase_history (
  migration TEXT NOT NULL REFERENCES migrations(id), seq INTEGER NOT NULL,
  phase TEXT NOT NULL, at_ms INTEGER NOT NULL, detail TEXT,
  PRIMARY KEY (migration, seq));
CREATE INDEX IF NOT EXISTS migrations_open ON migrations(phase);
`;

/** The fields of a migration that have columns of their own. */
const COLUMNS = [
  'id',
  'container',
  'from',
  'to',
  'mode',
  'phase',
  'error',
  'history',
  'startedMs',
  'finishedMs',
] as const;

/** What of a migration is kept as JSON beside its columns: every other persisted field. */
type Metrics = Omit<ReturnType<typeof persisted>, (typeof COLUMNS)[number]>;

/** A row of the migrations table. */
interface MigrationRow {
  id: string;
  container: string;
  src: string;
  dst: string;
  mode: Mode;
  phase: Phase;
  error: string | null;
  started_ms: number;
  finished_ms: number | null;
  metrics: string;
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    // Databases made before migrations had a mode: every one of them was stop-and-copy.
    const cols = this.db.prepare('PRAGMA table_info(migrations)').all() as { name: string }[];
    if (!cols.some((c) => c.name === 'mode'))
      this.db.exec(`ALTER TABLE migrations ADD COLUMN mode TEXT NOT NULL DEFAULT 'stop-and-copy'`);
    // Hosts recorded before agents had a data channel have none until they register again.
    const hostCols = this.db.prepare('PRAGMA table_info(hosts)').all() as { name: string }[];
    if (!hostCols.some((c) => c.name === 'data_address'))
      this.db.exec(`ALTER TABLE hosts ADD COLUMN data_address TEXT NOT NULL DEFAULT ''`);
    if (!hostCols.some((c) => c.name === 'cordoned'))
      this.db.exec('ALTER TABLE hosts ADD COLUMN cordoned INTEGER NOT NULL DEFAULT 0');
  }

  /**
   * A statement prepared once and kept. Preparing on every write costs CPU,
   * and each prepared statement holds native memory that V8 does not see
   * until it collects the statement's small wrapper: a coordinator writing
   * a phase every few milliseconds grew by about 180 KiB per migration.
   */
  private stmt(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  async putMigration(m: MigrationRecord): Promise<void> {
    const metrics = Object.fromEntries(
      Object.entries(persisted(m)).filter(([k]) => !(COLUMNS as readonly string[]).includes(k)),
    ) as Metrics;
    const upsert = this.stmt(
      `INSERT INTO migrations (id, container, src, dst, mode, phase, error, started_ms, finished_ms, metrics)
       VALUES (@id, @container, @src, @dst, @mode, @phase, @error, @started, @finished, @metrics)
       ON CONFLICT(id) DO UPDATE SET phase = excluded.phase, error = excluded.error,
         finished_ms = excluded.finished_ms, metrics = excluded.metrics`,
    );
    const known = this.stmt('SELECT COUNT(*) AS n FROM phase_history WHERE migration = ?');
    const addPhase = this.stmt(
      'INSERT INTO phase_history (migration, seq, phase, at_ms, detail) VALUES (?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      upsert.run({
        id: m.id,
        container: m.container,
        src: m.from,
        dst: m.to,
        mode: m.mode,
        phase: m.phase,
        error: m.error ?? null,
        started: m.startedMs,
        finished: m.finishedMs ?? null,
        metrics: JSON.stringify(metrics),
      });
      const have = (known.get(m.id) as { n: number }).n;
      m.history.slice(have).forEach((h, i) => {
        addPhase.run(m.id, have + i, h.phase, h.atMs, h.detail ?? null);
      });
    })();
  }

  async migrations(): Promise<MigrationRecord[]> {
    const rows = this.stmt('SELECT * FROM migrations ORDER BY started_ms').all() as MigrationRow[];
    return rows.map((r) => this.record(r));
  }

  async migration(id: string): Promise<MigrationRecord | undefined> {
    const r = this.stmt('SELECT * FROM migrations WHERE id = ?').get(id) as MigrationRow | undefined;
    return r && this.record(r);
  }

  private record(r: MigrationRow): MigrationRecord {
    const hist = this.stmt('SELECT phase, at_ms, detail FROM phase_history WHERE migration = ? ORDER BY seq');
    return {
      id: r.id,
      container: r.container,
      from: r.src,
      to: r.dst,
      mode: r.mode,
      phase: r.phase,
      error: r.error ?? undefined,
      startedMs: r.started_ms,
      finishedMs: r.finished_ms ?? undefined,
      history: (hist.all(r.id) as { phase: Phase; at_ms: number; detail: string | null }[]).map(
        (h): PhaseEntry => ({ phase: h.phase, atMs: h.at_ms, detail: h.detail ?? undefined }),
      ),
      ...(JSON.parse(r.metrics) as Metrics),
    };
  }

  async putHost(h: HostRecord): Promise<void> {
    this.stmt(
      `INSERT INTO hosts (name, address, data_address, lan, criu_version, kernel, last_seen_ms, cordoned)
         VALUES (@name, @address, @dataAddress, @lan, @criuVersion, @kernel, @lastSeenMs, @cordoned)
         ON CONFLICT(name) DO UPDATE SET address = excluded.address, data_address = excluded.data_address, lan = excluded.lan,
           criu_version = excluded.criu_version, kernel = excluded.kernel, last_seen_ms = excluded.last_seen_ms,
           cordoned = excluded.cordoned`,
    ).run({ ...h, dataAddress: h.dataAddress ?? '', cordoned: h.cordoned ? 1 : 0 });
  }

  async hosts(): Promise<HostRecord[]> {
    return (
      this.stmt('SELECT * FROM hosts ORDER BY name').all() as {
        name: string;
        address: string;
        data_address: string;
        lan: string;
        criu_version: string;
        kernel: string;
        last_seen_ms: number;
        cordoned: number;
      }[]
    ).map((r) => ({
      name: r.name,
      address: r.address,
      ...(r.data_address ? { dataAddress: r.data_address } : {}),
      lan: r.lan,
      criuVersion: r.criu_version,
      kernel: r.kernel,
      lastSeenMs: r.last_seen_ms,
      ...(r.cordoned ? { cordoned: true } : {}),
    }));
  }

  async putPlacement(p: Placement): Promise<void> {
    this.stmt(
      `INSERT INTO placements (name, host, ip, updated_ms) VALUES (@name, @host, @ip, @updatedMs)
         ON CONFLICT(name) DO UPDATE SET host = excluded.host, ip = excluded.ip, updated_ms = excluded.updated_ms`,
    ).run(p);
  }

  async deletePlacement(name: string): Promise<void> {
    this.stmt('DELETE FROM placements WHERE name = ?').run(name);
  }

  async placements(): Promise<Placement[]> {
    return (
      this.stmt('SELECT * FROM placements ORDER BY name').all() as {
        name: string;
        host: string;
        ip: string;
        updated_ms: number;
      }[]
    ).map((r) => ({ name: r.name, host: r.host, ip: r.ip, updatedMs: r.updated_ms }));
  }

  close(): void {
    this.db.close();
  }
}
