import assert from 'node:assert/strict';
import type { Phase } from '../../coordinator/phases.js';
import { answeredWithin, cpuTicks, machineTicks, statusKiB } from '../scale/procs.js';
import {
  byKind,
  kindTable,
  type Move,
  mergeResults,
  percentile,
  type Sample,
  summarize,
  summaryLine,
  table,
  transitions,
  within,
} from '../scale/stats.js';

const hb = (at: number, ms: number, ok = true): Sample => ({ kind: 'heartbeat', at, ms, ok });

describe('scale: figures of the scale run', () => {
  it('takes percentiles by nearest rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(v, 50), 50);
    assert.equal(percentile(v, 99), 99);
    assert.equal(percentile(v, 100), 100);
    assert.equal(percentile([7], 99), 7);
    assert.equal(percentile([1, 2], 50), 1);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('sums up samples, leaving failed calls out of the latencies and counting them', () => {
    const s = summarize([hb(0, 3), hb(0, 1), hb(0, 2), hb(0, 500, false)]);
    assert.deepEqual(s, { count: 3, errors: 1, p50: 2, p99: 3, max: 3 });
    const k = byKind([hb(0, 4), { kind: 'start', at: 0, ms: 20, ok: true }]);
    assert.equal(k.heartbeat.count, 1);
    assert.equal(k.start.p99, 20);
    assert.equal(k.all.count, 2);
    assert.equal(k.register.count, 0);
    assert.ok(Number.isNaN(k.register.p50));
  });

  it('keeps the samples that ended within a window', () => {
    const s = [hb(10, 1), hb(20, 1), hb(30, 1)];
    assert.deepEqual(
      within(s, 10, 30).map((x) => x.at),
      [10, 20],
    );
  });

  it('times a transition from the agent reply that ended a phase to the next phase on the watch', () => {
    const move: Move = {
      id: 'm1',
      container: 'app0001',
      from: 'sim0001',
      to: 'sim0002',
      live: { dumping: 105, transferring: 230, done: 900 },
      before: ['preflight'],
    };
    const replies = new Map<string, Map<Phase, number>>([
      [
        'm1',
        new Map<Phase, number>([
          ['preflight', 100],
          ['dumping', 222],
          ['committed', 880],
          // a reply whose next phase the watch did not see live
          ['restoring', 500],
        ]),
      ],
    ]);
    assert.deepEqual(
      transitions([move], replies).map((s) => [s.at, s.ms]),
      [
        [105, 5],
        [230, 8],
        [900, 20],
      ],
    );
    assert.deepEqual(transitions([move], new Map()), []);
  });

  it('prints the one line and aligned tables', () => {
    const all = { count: 10, errors: 0, p50: 1.234, p99: 12.5, max: 40 };
    assert.equal(
      summaryLine({ agents: 1000, migrations: 50, all, peakRssMiB: 180.4 }),
      'scale: 1000 agents, 50 concurrent migrations, control p50 1.2 ms p99 12.5 ms, coordinator rss 180 MiB',
    );
    assert.equal(
      table(
        ['a', 'bb'],
        [
          ['x', '1'],
          ['yyy', '22'],
        ],
      ),
      'a    bb\n---  --\nx     1\nyyy  22',
    );
    const t = kindTable(byKind([hb(0, 2)]));
    assert.match(t, /^heartbeat\s+1\s+0\s+2\.0\s+2\.0\s+2\.0$/m);
    assert.match(t, /^register\s+0\s+0\s+-\s+-\s+-$/m);
  });

  it('keeps the other stores in the results file, and a skip only where nothing was recorded', () => {
    const old = { sqlite: { p99: 9 }, etcd: { p99: 30 } };
    assert.deepEqual(mergeResults(old, { sqlite: { p99: 8 } }, { etcd: 'no etcd' }), {
      sqlite: { p99: 8 },
      etcd: { p99: 30 },
    });
    assert.deepEqual(mergeResults({}, { sqlite: { p99: 8 } }, { etcd: 'no etcd' }), {
      sqlite: { p99: 8 },
      etcd: { skipped: 'no etcd' },
    });
  });

  it('reads CPU time and memory as /proc writes them', () => {
    const stat = '4242 (node (x) y) S 1 2 3 4 5 6 7 8 9 10 120 30 7 3 20 0 11 0 99';
    assert.equal(cpuTicks(stat), 150);
    assert.equal(cpuTicks(stat, true), 160);
    assert.equal(statusKiB('Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n', 'VmHWM'), 204800);
    assert.equal(statusKiB('Name:\tnode\n', 'VmHWM'), 0);
    assert.deepEqual(machineTicks('cpu  100 5 50 800 40 1 2 0 0 0\ncpu0 1 2 3\n'), { busy: 158, total: 998 });
  });

  it("counts the control calls the coordinator's histogram says it answered within a bound", () => {
    const text = [
      '# HELP tern_coordinator_calls_seconds gRPC calls',
      'tern_coordinator_calls_seconds_bucket{le="0.01",method="Heartbeat",code="0"} 90',
      'tern_coordinator_calls_seconds_bucket{le="0.05",method="Heartbeat",code="0"} 98',
      'tern_coordinator_calls_seconds_bucket{le="+Inf",method="Heartbeat",code="0"} 100',
      'tern_coordinator_calls_seconds_count{method="Heartbeat",code="0"} 100',
      'tern_coordinator_calls_seconds_bucket{le="0.05",method="StartMigration",code="9"} 1',
      'tern_coordinator_calls_seconds_count{method="StartMigration",code="9"} 2',
      'tern_coordinator_calls_seconds_bucket{le="0.05",method="ListHosts",code="0"} 7',
      'tern_coordinator_calls_seconds_count{method="ListHosts",code="0"} 7',
    ].join('\n');
    assert.deepEqual(answeredWithin(text, '0.05', ['Heartbeat', 'StartMigration']), {
      within: 99,
      total: 102,
    });
    assert.deepEqual(answeredWithin('', '0.05', ['Heartbeat']), { within: 0, total: 0 });
  });
});
