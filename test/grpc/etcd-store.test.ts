// The etcd store against a real etcd member on 127.0.0.1: records as the
// SQLite store keeps them, one leader at a time, fenced writes, and a leader
// that steps down by itself when it cannot renew its lease.
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { EtcdStore, type EtcdStoreOptions } from '../../coordinator/etcd-store.js';
import { FollowerMetrics, leadServingMetrics } from '../../coordinator/follower.js';
import type { MigrationRecord } from '../../coordinator/store.js';
import { type EtcdMember, etcdForSuite, freePort } from '../../deploy/testbed/etcd.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('etcd store: records, leadership, fencing (real etcd on 127.0.0.1)', function () {
  this.timeout(60_000);
  let etcd: EtcdMember;
  const stores: EtcdStore[] = [];
  let prefixN = 0;

  before(async function () {
    etcd = await etcdForSuite(this);
  });

  after(async () => {
    await etcd?.stop();
  });

  afterEach(() => {
    for (const s of stores.splice(0)) s.close();
  });

  /** A store on its own prefix; deposals are counted. */
  function store(identity: string, prefix: string, over: Partial<EtcdStoreOptions> = {}) {
    const deposed: string[] = [];
    const s = new EtcdStore({
      endpoints: [etcd.url],
      prefix,
      leaseTtlSec: 2,
      identity,
      onDeposed: (why) => deposed.push(why),
      ...over,
    });
    stores.push(s);
    return { s, deposed };
  }

  const migration = (id: string, phase: MigrationRecord['phase']): MigrationRecord => ({
    id,
    container: 'web',
    from: 'hostA',
    to: 'hostB',
    mode: 'stop-and-copy',
    phase,
    history: [{ phase: 'preflight', atMs: 1 }],
    startedMs: 1,
    progressBytes: 99,
  });

  it('keeps hosts, placements and migrations with their history, as the SQLite store does', async () => {
    const prefix = `/t${prefixN++}/`;
    const { s } = store('10.0.0.1:7700', prefix);
    await s.lead();
    await s.putHost({
      name: 'hostA',
      address: '10.0.0.2:7701',
      lan: '10.78.0.0/24',
      criuVersion: '4.2',
      kernel: '6',
      lastSeenMs: 5,
    });
    await s.putPlacement({ name: 'web', host: 'hostA', ip: '10.78.0.10', updatedMs: 5 });
    await s.putPlacement({ name: 'db', host: 'hostA', ip: '10.78.0.11', updatedMs: 5 });
    await s.deletePlacement('db');
    await s.putMigration(migration('m1', 'preflight'));
    await s.putMigration({
      ...migration('m1', 'dumping'),
      history: [
        { phase: 'preflight', atMs: 1 },
        { phase: 'dumping', atMs: 2 },
      ],
    });
    assert.deepEqual(
      (await s.hosts()).map((h) => h.name),
      ['hostA'],
    );
    assert.deepEqual(
      (await s.placements()).map((p) => p.name),
      ['web'],
    );
    const [m] = await s.migrations();
    assert.equal(m.phase, 'dumping');
    assert.deepEqual(
      m.history.map((h) => h.phase),
      ['preflight', 'dumping'],
    );
    assert.equal(m.progressBytes, undefined, 'progress is for watchers, never stored');
    assert.equal((await s.migration(m.id))?.phase, 'dumping', 'one migration by id');
    assert.equal(await s.migration('mmnothere000001'), undefined);
    await assert.rejects(
      s.putHost({ name: '../x', address: 'a', lan: 'l', criuVersion: 'c', kernel: 'k', lastSeenMs: 0 }),
    );
  });

  it('lets one coordinator lead; a follower leads once the leader resigns, and reads its records', async () => {
    const prefix = `/t${prefixN++}/`;
    const a = store('10.0.0.1:7700', prefix);
    const seen: string[] = [];
    const b = store('10.0.0.2:7700', prefix, { onFollowing: (l) => seen.push(l) });
    await a.s.lead();
    await a.s.putMigration(migration('m2', 'transferring'));
    let bLeads = false;
    const bLead = b.s.lead().then(() => {
      bLeads = true;
    });
    await sleep(1500);
    assert.equal(bLeads, false, 'a second coordinator must not lead while the first does');
    assert.deepEqual(seen, ['10.0.0.1:7700'], 'the follower names the leader');
    await a.s.resign();
    await bLead;
    assert.ok(b.s.leading());
    assert.equal((await b.s.migrations())[0].phase, 'transferring');
    await assert.rejects(a.s.putMigration(migration('m2', 'aborting')), /does not lead/);
  });

  it('a follower serves /metrics saying it follows, and whom, until it leads', async () => {
    const prefix = `/t${prefixN++}/`;
    const a = store('10.0.0.1:7700', prefix);
    await a.s.lead();
    const metrics = new FollowerMetrics();
    const b = store('10.0.0.2:7700', prefix, { onFollowing: (l) => metrics.follow(l) });
    const listen = `127.0.0.1:${await freePort()}`;
    const leading = leadServingMetrics(() => b.s.lead(), listen, metrics);
    const scrape = async () => (await fetch(`http://${listen}/metrics`)).text();
    let text = '';
    for (let i = 0; i < 50 && !text.includes('10.0.0.1:7700'); i++) {
      await sleep(100);
      text = await scrape().catch(() => '');
    }
    assert.match(text, /^tern_coordinator_leader 0$/m);
    assert.match(text, /^tern_coordinator_following\{leader="10\.0\.0\.1:7700"\} 1$/m);
    assert.match(text, /^tern_coordinator_process_cpu_seconds_total /m, 'and its process metrics');
    await a.s.resign();
    await leading;
    assert.ok(b.s.leading());
    // The address is free for the leading coordinator's own metrics.
    await assert.rejects(scrape());
  });

  it('refuses the writes of a leader whose key is gone, and deposes it, while a new leader writes', async () => {
    const prefix = `/t${prefixN++}/`;
    const a = store('10.0.0.1:7700', prefix, { leaseTtlSec: 30 });
    const b = store('10.0.0.2:7700', prefix);
    await a.s.lead();
    const bLead = b.s.lead();
    // What etcd does when a lease runs out, done at once: the leader key goes.
    const raw = new Etcd3({ hosts: etcd.url });
    try {
      await raw.delete().key(`${prefix}leader`);
    } finally {
      raw.close();
    }
    await bLead;
    await b.s.putMigration(migration('m3', 'aborting'));
    await assert.rejects(a.s.putMigration(migration('m3', 'committing')), /no longer leads/);
    assert.equal(a.deposed.length, 1, 'the old leader is told to stop');
    assert.equal((await b.s.migrations())[0].phase, 'aborting', 'the old leader wrote nothing');
  });

  it('steps a leader down by itself when it cannot renew its lease, before the lease runs out', async () => {
    const prefix = `/t${prefixN++}/`;
    const a = store('10.0.0.1:7700', prefix, { leaseTtlSec: 3 });
    await a.s.lead();
    const paused = Date.now();
    etcd.pause();
    try {
      while (!a.deposed.length && Date.now() - paused < 10_000) await sleep(50);
    } finally {
      etcd.resume();
    }
    const after = Date.now() - paused;
    assert.equal(a.deposed.length, 1, 'the leader stepped down');
    assert.match(a.deposed[0], /not renewed/);
    assert.ok(after < 3000, `stepped down ${after} ms after etcd stopped answering, within the 3 s lease`);
    await assert.rejects(a.s.putMigration(migration('m4', 'dumping')), /does not lead/);
  });
});
