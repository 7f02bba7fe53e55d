import assert from 'node:assert/strict';
import { type Candidate, evacuate, type Planned, pickTarget } from '../../coordinator/evacuate.js';
import type { MigrationRecord } from '../../coordinator/store.js';
import type { EvacuateEvent } from '../../proto/index.js';

const MIB = 1 << 20;

describe('evacuate: where each container goes', () => {
  const hosts = (...free: number[]): Candidate[] =>
    free.map((f, i) => ({ name: `h${i + 1}`, memAvailable: f * MIB, containers: 0 }));

  it('takes the host with the most memory left after the moves already planned', () => {
    const planned: Planned = new Map([['h1', { bytes: 900 * MIB, count: 1 }]]);
    assert.deepEqual(pickTarget(hosts(1000, 500), planned, 64 * MIB), { host: 'h2' });
    assert.deepEqual(pickTarget(hosts(1000, 500), new Map(), 64 * MIB), { host: 'h1' });
  });

  it('between equal hosts, the one with fewer containers', () => {
    const c = hosts(1000, 1000);
    c[0].containers = 3;
    assert.deepEqual(pickTarget(c, new Map(), 64 * MIB), { host: 'h2' });
  });

  it('names why a container cannot go anywhere', () => {
    assert.match(pickTarget([], new Map(), MIB).why ?? '', /no other host is up and open/);
    assert.match(
      pickTarget(hosts(100, 50), new Map(), 100 * MIB).why ?? '',
      /no host has room for its 100 MiB of memory \(the most: h1 with 100 MiB free/,
    );
  });
});

describe('evacuate: the run', () => {
  /** A fleet where moves end as `outcome` says, after a tick. */
  function fleet(
    containers: { name: string; bytes: number }[],
    free: number[],
    outcome = (_c: string) => 'done',
  ) {
    const started: string[] = [];
    let inFlight = 0;
    let most = 0;
    const records = new Map<string, MigrationRecord>();
    return {
      started,
      most: () => most,
      host: {
        parallel: 2,
        containers: async () => containers,
        candidates: () => free.map((f, i) => ({ name: `h${i + 1}`, memAvailable: f * MIB, containers: 0 })),
        start: async (container: string, to: string) => {
          started.push(`${container}->${to}`);
          inFlight++;
          most = Math.max(most, inFlight);
          const m = {
            id: `m-${container}`,
            container,
            from: 'h0',
            to,
            phase: 'preflight',
          } as MigrationRecord;
          records.set(m.id, m);
          return m;
        },
        ended: async (id: string) => {
          await new Promise((r) => setTimeout(r, 5));
          inFlight--;
          const m = records.get(id) as MigrationRecord;
          const phase = outcome(m.container);
          return {
            ...m,
            phase,
            downtimeMs: 100,
            error: phase === 'done' ? undefined : 'it failed',
          } as MigrationRecord;
        },
      },
    };
  }

  it('moves every container, largest first, spread over the hosts, two at a time, and sums up', async () => {
    const f = fleet(
      [
        { name: 'a', bytes: 10 * MIB },
        { name: 'b', bytes: 40 * MIB },
        { name: 'c', bytes: 30 * MIB },
        { name: 'd', bytes: 20 * MIB },
      ],
      [1000, 1000],
    );
    const events: Partial<EvacuateEvent>[] = [];
    await evacuate(
      f.host,
      (e) => events.push(e),
      () => false,
    );
    assert.deepEqual(f.started, ['b->h1', 'c->h2', 'd->h2', 'a->h1']);
    assert.equal(f.most(), 2);
    assert.equal(events.filter((e) => e.outcome === 'started').length, 4);
    assert.equal(events.filter((e) => e.outcome === 'done').length, 4);
    assert.deepEqual(events[events.length - 1], { end: true, moved: 4, left: 0 });
  });

  it('leaves a container that cannot move where it is, named with the reason, and goes on', async () => {
    const f = fleet(
      [
        { name: 'big', bytes: 2000 * MIB },
        { name: 'small', bytes: MIB },
        { name: 'flaky', bytes: MIB },
      ],
      [1000],
      (c) => (c === 'flaky' ? 'aborted' : 'done'),
    );
    const events: Partial<EvacuateEvent>[] = [];
    await evacuate(
      f.host,
      (e) => events.push(e),
      () => false,
    );
    const big = events.find((e) => e.container === 'big');
    assert.equal(big?.outcome, 'skipped');
    assert.match(big?.error ?? '', /no host has room for its 2000 MiB/);
    assert.equal(events.find((e) => e.container === 'flaky' && e.outcome !== 'started')?.outcome, 'aborted');
    assert.deepEqual(events[events.length - 1], { end: true, moved: 1, left: 2 });
  });

  it('once stopped, starts no new move', async () => {
    const f = fleet(
      ['a', 'b', 'c', 'd'].map((name) => ({ name, bytes: MIB })),
      [1000, 1000],
    );
    let stop = false;
    const events: Partial<EvacuateEvent>[] = [];
    await evacuate(
      f.host,
      (e) => {
        events.push(e);
        if (e.outcome === 'started') stop = true;
      },
      () => stop,
    );
    assert.equal(f.started.length, 1);
    assert.deepEqual(events[events.length - 1], { end: true, moved: 0, left: 4 });
  });
});
