// A coordinator that has run for a long time keeps what is under way and the
// most recent ended migrations in memory; older ones stay in its store and
// are still found by id.
import assert from 'node:assert/strict';
import { KEEP_ENDED } from '../../coordinator/server.js';
import type { MigrationRecord } from '../../coordinator/store.js';
import { call, coordinatorClient, startCoordinator, type TestCoordinator } from '../lib/coordinator.js';
import { testCert } from '../lib/pki.js';

const OLDER = 5;

/** Ended migration number i, started i seconds after the first. */
function ended(i: number): MigrationRecord {
  const at = 1_700_000_000_000 + i * 1000;
  return {
    id: `mmhist${String(i).padStart(9, '0')}`,
    container: `c${i}`,
    from: 'hostA',
    to: 'hostB',
    mode: 'stop-and-copy',
    phase: 'done',
    history: [
      { phase: 'preflight', atMs: at },
      { phase: 'done', atMs: at + 500 },
    ],
    startedMs: at,
    finishedMs: at + 500,
  };
}

for (const kind of ['sqlite', 'file'] as const) {
  describe(`a coordinator with a long history (${kind} store)`, function () {
    this.timeout(60_000);
    let t: TestCoordinator;

    before(async () => {
      t = await startCoordinator(kind, async (s) => {
        for (let i = 0; i < KEEP_ENDED + OLDER; i++) await s.putMigration(ended(i));
      });
    });
    after(() => t?.stop());

    it(`lists the last ${KEEP_ENDED} ended migrations, and finds older ones in its store by id`, async () => {
      const c = coordinatorClient(t.address, await testCert({ role: 'operator', name: 'admin' }));
      try {
        const list = (await call(c, 'ListMigrations', {})) as { migrations: { id: string }[] };
        assert.equal(list.migrations.length, KEEP_ENDED);
        assert.equal(
          list.migrations[0].id,
          ended(OLDER).id,
          'the oldest kept is not the one after those let go',
        );
        const old = (await call(c, 'GetMigration', { id: ended(0).id })) as { id: string; phase: string };
        assert.equal(old.id, ended(0).id);
        assert.equal(old.phase, 'done');
        await assert.rejects(
          call(c, 'GetMigration', { id: 'mmnothere000001' }),
          /no migration mmnothere000001/,
        );
        await assert.rejects(call(c, 'CancelMigration', { id: ended(1).id }), /already ended/);
      } finally {
        c.close();
      }
    });
  });
}
