// Emptying a host on a three-host testbed: a cordoned host is refused as a
// target and for new containers, and `tern evacuate` moves four containers
// off hostA onto the two others, reporting each move and a summary.
import assert from 'node:assert/strict';
import { down, migrate, ownsTestbed, record, tern, up, waitFor } from '../../deploy/testbed/driver.js';
import { requirePrivileges } from '../lib/privileges.js';

const NAMES = ['ev1', 'ev2', 'ev3', 'ev4'];

async function hostsJson(): Promise<{ name: string; cordoned: boolean; up: boolean }[]> {
  return JSON.parse((await tern('hosts', '--json')).stdout);
}

describe('cordon and evacuate (privileged)', function () {
  this.timeout(300_000);

  before(async function () {
    requirePrivileges(this);
    await up(3);
    for (const n of NAMES) {
      const r = await tern(
        'run',
        '--host',
        'hostA',
        '--name',
        n,
        '--',
        '/bin/sh',
        '-c',
        'while :; do sleep 1; done',
      );
      assert.equal(r.code, 0, r.stderr);
    }
    await waitFor('the containers', async () => {
      for (const n of NAMES) if ((await tern('exec', n, '--', 'true')).code !== 0) return undefined;
      return true;
    });
  });

  after(async () => {
    if (ownsTestbed()) {
      for (const h of ['hostA', 'hostB', 'hostC']) await tern('uncordon', h).catch(() => {});
      for (const n of [...NAMES, 'ev-new']) await tern('stop', n).catch(() => {});
    }
    await down().catch(() => {});
  });

  it('a cordoned host takes no incoming migration and no new container, until uncordoned', async () => {
    const c = await tern('cordon', 'hostC');
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /hostC cordoned/);
    assert.equal((await hostsJson()).find((h) => h.name === 'hostC')?.cordoned, true);
    assert.match((await tern('hosts')).stdout, /hostC\s+up, cordoned/);
    const m = await migrate('--to', 'hostC', 'ev1');
    assert.notEqual(m.code, 0);
    assert.match(m.stderr, /host hostC is cordoned: it takes no incoming migrations \(tern uncordon hostC/);
    assert.equal((await record('hostA', 'ev1'))?.state, 'running');
    const r = await tern('run', '--host', 'hostC', '--name', 'ev-new', '--', '/bin/sleep', '1000');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /host hostC is cordoned: it takes no new containers/);
    const u = await tern('uncordon', 'hostC');
    assert.equal(u.code, 0, u.stderr);
    assert.equal((await hostsJson()).find((h) => h.name === 'hostC')?.cordoned, false);
  });

  it('evacuate moves every container off a host onto the others, each reported, and cordons it', async () => {
    const r = await tern('evacuate', 'hostA', '--json');
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as { event: string; container?: string; to?: string; moved?: number; left?: number },
      );
    const done = events.filter((e) => e.event === 'done');
    assert.deepEqual(done.map((e) => e.container).sort(), NAMES);
    assert.equal(events.filter((e) => e.event === 'started').length, 4);
    assert.deepEqual(events[events.length - 1], { event: 'end', moved: 4, left: 0 });
    // Spread over both other hosts, none left on hostA.
    const targets = new Set(done.map((e) => e.to));
    assert.deepEqual([...targets].sort(), ['hostB', 'hostC']);
    for (const e of done)
      assert.equal((await record(e.to as string, e.container as string))?.state, 'running');
    for (const n of NAMES) assert.equal(await record('hostA', n), undefined);
    assert.equal((await hostsJson()).find((h) => h.name === 'hostA')?.cordoned, true);
    // Nothing moves back onto it while it is cordoned.
    const back = await migrate('--to', 'hostA', 'ev1');
    assert.match(back.stderr, /host hostA is cordoned/);
  });

  it('evacuating an empty host says so and moves nothing', async () => {
    const r = await tern('evacuate', 'hostA');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^evacuate hostA: 0 moved, 0 left on hostA; hostA stays cordoned$/m);
  });
});
