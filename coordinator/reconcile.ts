// Keeps the coordinator's records in line with what agents report: where
// running containers are (placements), and parts of aborted (or unknown)
// migrations that an agent still holds (told to abort, which unfreezes a held
// tree and removes a stray stopped copy or stale images).
import type { Logger } from 'pino';
import { validateName } from '../core/names.js';
import { unary } from '../proto/rpc.js';
import type { HostRegistry, LiveHost } from './hosts.js';
import type { MigrationRecord, Placement, Store } from './store.js';

export class Reconciler {
  private readonly aborting = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly hosts: HostRegistry,
    private readonly placement: Map<string, Placement>,
    private readonly migrations: Map<string, MigrationRecord>,
    private readonly activeMigration: (container: string) => MigrationRecord | undefined,
    private readonly log: Logger,
  ) {}

  /** Records where running containers are, as their agent reports them; persisted, then kept. */
  async placements(h: LiveHost): Promise<void> {
    for (const c of h.containers) {
      if (c.state !== 'running' || this.activeMigration(c.name)) continue;
      validateName('container', c.name);
      const known = this.placement.get(c.name);
      if (known?.host === h.name && known.ip === c.ip) continue;
      const p = { name: c.name, host: h.name, ip: c.ip, updatedMs: Date.now() };
      await this.store.putPlacement(p);
      this.placement.set(c.name, p);
    }
  }

  /**
   * An agent holds a part of a migration that has ended in abort (or that
   * this coordinator never knew): tell it to abort. Never for a migration
   * that is still running or past its commit point.
   */
  migrationsOn(host: string, ids: string[]): void {
    for (const id of ids) {
      const m = this.migrations.get(id);
      if (m && m.phase !== 'aborted') continue;
      const key = `${host}/${id}`;
      if (this.aborting.has(key)) continue;
      this.aborting.add(key);
      this.log.warn({ host, migration: id }, 'agent holds a part of an ended migration: aborting it there');
      const a = this.hosts.agent(host);
      unary(a, a.Abort, { migration_id: id }, { timeoutMs: 120_000, what: host })
        .catch((e) =>
          this.log.error({ host, migration: id, err: (e as Error).message }, 'reconcile abort failed'),
        )
        .finally(() => this.aborting.delete(key));
    }
  }
}
