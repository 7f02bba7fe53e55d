// Both coordinator stores keep the same contract: what was put survives a
// reopen, migrations keep their full phase history, placements move and go.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../coordinator/sqlite-store.js';
import { FileStore, type MigrationRecord, type Store } from '../../coordinator/store.js';

const kinds: [string, (dir: string) => Promise<Store>][] = [
  ['SqliteStore', async (dir) => new SqliteStore(join(dir, 'tern.db'))],
  ['FileStore', async (dir) => new FileStore(dir).init()],
];

function migration(id: string): MigrationRecord {
  return {
    id,
    container: 'c1',
    from: 'hostA',
    to: 'hostB',
    mode: 'stop-and-copy',
    phase: 'preflight',
    history: [{ phase: 'preflight', atMs: 1000 }],
    startedMs: 1000,
  };
}

for (const [kind, open] of kinds) {
  describe(`${kind}`, () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'tern-store-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('keeps a migration and its whole phase history across a reopen', async () => {
      const s = await open(dir);
      const m = migration('m1');
      await s.putMigration(m);
      m.phase = 'dumping';
      m.history.push({ phase: 'dumping', atMs: 1100 });
      m.phase = 'transferring';
      m.history.push({ phase: 'transferring', atMs: 1200, detail: '3 files' });
      m.dumpMs = 42;
      await s.putMigration(m);
      m.phase = 'aborting';
      m.error = 'boom';
      m.history.push({ phase: 'aborting', atMs: 1300, detail: 'boom' });
      await s.putMigration(m);
      s.close();
      const again = await open(dir);
      const [back] = await again.migrations();
      assert.equal(back.phase, 'aborting');
      assert.equal(back.error, 'boom');
      assert.equal(back.dumpMs, 42);
      assert.deepEqual(
        back.history.map((h) => [h.phase, h.atMs, h.detail]),
        [
          ['preflight', 1000, undefined],
          ['dumping', 1100, undefined],
          ['transferring', 1200, '3 files'],
          ['aborting', 1300, 'boom'],
        ],
      );
      again.close();
    });

    it("keeps a migration's mode reason, address and post-copy figures across a reopen, not its live progress", async () => {
      const s = await open(dir);
      const m: MigrationRecord = {
        ...migration('m2'),
        mode: 'postcopy',
        modeReason: 'allowed by --allow-postcopy',
        ip: '10.78.0.12/24',
        phase: 'done',
        resumedAtMs: 1500,
        pagesMovedBytes: 268435456,
        pagesDoneMs: 480,
        roundBytes: [4096],
        progressBytes: 123,
      };
      await s.putMigration(m);
      s.close();
      const [back] = await (await open(dir)).migrations();
      const { progressBytes: _, ...kept } = m;
      const plain = (o: object) => JSON.parse(JSON.stringify(o));
      assert.deepEqual(plain(back), plain(kept));
    });

    it('keeps hosts, updated in place', async () => {
      const s = await open(dir);
      const h = {
        name: 'hostA',
        address: '10.0.0.1:7701',
        lan: '10.78.0.0/24',
        criuVersion: '4.2.1',
        kernel: '6.18',
        lastSeenMs: 5,
      };
      await s.putHost(h);
      await s.putHost({ ...h, address: '10.0.0.9:7701', lastSeenMs: 9 });
      s.close();
      const again = await open(dir);
      assert.deepEqual(await again.hosts(), [{ ...h, address: '10.0.0.9:7701', lastSeenMs: 9 }]);
      again.close();
    });

    it('moves and deletes placements', async () => {
      const s = await open(dir);
      await s.putPlacement({ name: 'c1', host: 'hostA', ip: '10.78.0.10/24', updatedMs: 1 });
      await s.putPlacement({ name: 'c2', host: 'hostA', ip: '10.78.0.11/24', updatedMs: 1 });
      await s.putPlacement({ name: 'c1', host: 'hostB', ip: '10.78.0.10/24', updatedMs: 2 });
      await s.deletePlacement('c2');
      s.close();
      const again = await open(dir);
      assert.deepEqual(await again.placements(), [
        { name: 'c1', host: 'hostB', ip: '10.78.0.10/24', updatedMs: 2 },
      ]);
      again.close();
    });
  });
}
