// Coordinators that take over from each other: two real coordinator
// processes on one real etcd member, the agents and the client given both
// addresses. The leader dies at each phase of a migration; the follower
// takes over alone (nothing is restarted) and ends the migration the way a
// restarted coordinator would: aborted with the container on the source
// before the commit point, done on the target after it.
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { type EtcdMember, etcdForSuite } from '../../deploy/testbed/etcd.js';
import { Cluster, type Daemon } from './cluster.js';

describe('in-process: coordinators taking over from each other on etcd', function () {
  this.timeout(120_000);
  let etcd: EtcdMember | undefined;
  let c: Cluster;
  let n = 0;

  before(async function () {
    etcd = await etcdForSuite(this);
    c = new Cluster({ etcd: etcd.url, prefix: '/tern-ha/', leaseTtlSec: 2 });
    await c.start();
  });
  after(async () => {
    await c?.stop();
    await etcd?.stop();
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`${c.logTails()}\n`);
    c.disarm();
    c.world.delays = { cpuinfoMs: 0, dumpMs: 0, restoreMs: 0 };
    c.autoRestart = true;
    await c.restartDead();
  });

  const cases: { point: string; expect: 'hostA' | 'hostB' }[] = [
    { point: 'after-dumping', expect: 'hostA' },
    { point: 'after-transferring', expect: 'hostA' },
    { point: 'before-committing', expect: 'hostA' },
    { point: 'after-committing', expect: 'hostB' },
    { point: 'after-committed', expect: 'hostB' },
  ];
  for (const k of cases) {
    it(`the leader dies at ${k.point}: the follower leads and ends it on ${k.expect}`, async () => {
      await c.waitUp();
      const name = `h${++n}`;
      const { memory } = await c.run(name, 'hostA');
      const leader = c.leader as Daemon;
      assert.ok(leader, 'a coordinator leads');
      c.faults(leader, `${k.point}=crash`);
      const id = await c.migrate(name, 'hostB');
      c.autoRestart = false;
      await c.waitDead(leader, id);
      c.faults(leader, '');
      // Nothing restarts the dead leader: the other coordinator must take over.
      await c.waitFor('another coordinator leading', async () => !!c.leader && c.leader !== leader, 15_000);
      const m = await c.waitEnd(id);
      assert.equal(m.phase, k.expect === 'hostA' ? 'aborted' : 'done', m.error);
      await c.expectOnce(name, k.expect, memory);
    });
  }

  it('a leader whose key is gone while it dumps (its lease ran out) stops at its next write; the follower aborts the move', async () => {
    await c.waitUp();
    const name = `h${++n}`;
    const { memory } = await c.run(name, 'hostA');
    const leader = c.leader as Daemon;
    c.world.delays = { cpuinfoMs: 0, dumpMs: 1500, restoreMs: 0 };
    const id = await c.migrate(name, 'hostB');
    c.autoRestart = false;
    await c.waitPhase(id, ['dumping']);
    // What etcd does when the leader's lease runs out behind a cut link.
    const raw = new Etcd3({ hosts: (etcd as EtcdMember).url });
    try {
      await raw.delete().key('/tern-ha/leader');
    } finally {
      raw.close();
    }
    await c.waitDead(leader);
    await c.waitFor('another coordinator leading', async () => !!c.leader && c.leader !== leader, 15_000);
    const m = await c.waitEnd(id);
    assert.equal(m.phase, 'aborted', m.error);
    await c.expectOnce(name, 'hostA', memory);
  });
});
