// What an operator's tools see on the testbed: every `--json` output parsed,
// `migrate --json` as JSON lines from start to end, /metrics of the
// coordinator and an agent scraped after a real migration showing it
// counted, and the gRPC health service of each daemon answering SERVING.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  down,
  migrate,
  ownsTestbed,
  ROOT,
  record,
  runWorkload,
  sh,
  tern,
  testbedEnv,
  up,
  workloadRootfs,
} from '../../deploy/testbed/driver.js';
import { requirePrivileges } from '../lib/privileges.js';

const NAME = 'obs-json';
const BIG = 'obs-bar';

/** GET http://address/metrics from inside a daemon's network namespace. */
async function scrape(netns: string, address: string): Promise<string> {
  const r = await sh([
    'ip',
    'netns',
    'exec',
    netns,
    'curl',
    '-sS',
    '--max-time',
    '5',
    `http://${address}/metrics`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** The value of one sample of a metric (labels as written), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:]+)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[3] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}

/** Asks a daemon's gRPC health service from inside a network namespace, as a probe with the operator certificate. */
const PROBE = `
const { checkHealth } = await import(process.env.TERN_HEALTH);
const { certFiles } = await import(process.env.TERN_PKI_JS);
const tls = certFiles(process.env.PKI, { role: 'operator', name: 'admin' });
console.log(await checkHealth(process.env.ADDR, tls, { role: process.env.ROLE, name: process.env.WHO || undefined })
  .catch((e) => 'error ' + e.message));
`;

async function probe(netns: string, address: string, role: string, who = ''): Promise<string> {
  const e = await testbedEnv();
  const r = await sh(['ip', 'netns', 'exec', netns, process.execPath, '--input-type=module', '-e', PROBE], {
    env: {
      TERN_HEALTH: join(ROOT, 'dist', 'proto', 'health.js'),
      TERN_PKI_JS: join(ROOT, 'dist', 'core', 'pki.js'),
      PKI: e.TESTBED_PKI,
      ADDR: address,
      ROLE: role,
      WHO: who,
    },
    timeoutMs: 20_000,
  });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

describe('observing tern: JSON, metrics, health (privileged)', function () {
  this.timeout(300_000);
  let cleanupRootfs: (() => Promise<void>) | undefined;
  let migrationId = '';

  before(async function () {
    requirePrivileges(this);
    await up(2);
    const r = await workloadRootfs();
    cleanupRootfs = r.cleanup;
    await runWorkload(
      'hostA',
      NAME,
      r.dir,
      '/bin/workload heartbeat /tmp/hb & /bin/workload memhog 32 5 random /tmp/mem & wait',
      '/tmp/mem',
    );
    await runWorkload(
      'hostA',
      BIG,
      r.dir,
      '/bin/workload heartbeat /tmp/hb & /bin/workload memhog 512 6 random /tmp/mem & wait',
      '/tmp/mem',
    );
  });

  after(async () => {
    if (ownsTestbed()) for (const n of [NAME, BIG]) await tern('stop', n).catch(() => {});
    await down().catch(() => {});
    await cleanupRootfs?.();
  });

  it('migrate --json prints one JSON object per line: started, each phase in order, the end record', async () => {
    const r = await migrate('--from', 'hostA', '--to', 'hostB', '--json', NAME);
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const first = events[0];
    assert.equal(first.event, 'started');
    assert.equal(first.container, NAME);
    assert.equal(first.from, 'hostA');
    assert.equal(first.to, 'hostB');
    migrationId = String(first.migration);
    const phases = events.filter((e) => e.event === 'phase');
    assert.deepEqual(
      phases.map((e) => e.phase),
      ['preflight', 'dumping', 'transferring', 'restoring', 'committing', 'committed', 'done'],
    );
    for (const p of phases) {
      assert.equal(p.migration, migrationId);
      assert.equal(typeof p.atMs, 'number');
    }
    const end = events[events.length - 1];
    assert.equal(end.event, 'end');
    assert.equal(end.id, migrationId);
    assert.equal(end.phase, 'done');
    assert.equal(end.mode, 'stop-and-copy');
    assert.ok(typeof end.downtimeMs === 'number' && end.downtimeMs > 0, `downtimeMs ${end.downtimeMs}`);
    assert.ok((end.history as unknown[]).length === 7);
    assert.equal((await record('hostB', NAME))?.state, 'running');
  });

  it('hosts, ps, migrations and migration ID take --json', async () => {
    const hosts = JSON.parse((await tern('hosts', '--json')).stdout) as Record<string, unknown>[];
    assert.deepEqual(
      hosts.map((h) => [h.name, h.up]),
      [
        ['hostA', true],
        ['hostB', true],
      ],
    );
    assert.equal(typeof hosts[0].criuVersion, 'string');
    const ps = JSON.parse((await tern('ps', '--json')).stdout) as Record<string, unknown>[];
    const mine = ps.find((c) => c.name === NAME);
    assert.ok(mine, JSON.stringify(ps));
    assert.equal(mine.host, 'hostB');
    assert.equal(mine.state, 'running');
    assert.match(String(mine.ip), /^10\.78\.0\.\d+\/24$/);
    assert.equal(typeof mine.pid, 'number');
    const list = JSON.parse((await tern('migrations', '--json')).stdout) as Record<string, unknown>[];
    assert.ok(list.some((m) => m.id === migrationId && m.phase === 'done'));
    const one = JSON.parse((await tern('migration', migrationId, '--json')).stdout) as Record<
      string,
      unknown
    >;
    assert.equal(one.id, migrationId);
    assert.equal(one.container, NAME);
    assert.equal(one.coordinatorBytes, 0);
  });

  it("the coordinator's /metrics counts the migration; the agents' count their calls", async () => {
    const e = await testbedEnv();
    const coord = await scrape(e.TESTBED_COORD_NETNS, e.TESTBED_METRICS_coordinator);
    assert.ok(
      (sample(coord, 'tern_migrations_total', { outcome: 'done', mode: 'stop-and-copy' }) ?? 0) >= 1,
      coord,
    );
    assert.ok((sample(coord, 'tern_migration_downtime_seconds_count', { mode: 'stop-and-copy' }) ?? 0) >= 1);
    assert.ok((sample(coord, 'tern_migration_phase_seconds_count', { phase: 'dumping' }) ?? 0) >= 1);
    assert.ok((sample(coord, 'tern_migration_bytes_total', { kind: 'pages_during_dump' }) ?? 0) >= 32 << 20);
    assert.equal(sample(coord, 'tern_coordinator_leader', {}), 1, 'a coordinator that serves leads');
    assert.equal(sample(coord, 'tern_host_up', { host: 'hostA' }), 1);
    assert.equal(sample(coord, 'tern_host_up', { host: 'hostB' }), 1);
    assert.ok((sample(coord, 'tern_host_containers', { host: 'hostB' }) ?? 0) >= 1);
    assert.ok(
      (sample(coord, 'tern_coordinator_calls_seconds_count', { method: 'StartMigration', code: '0' }) ?? 0) >=
        1,
    );
    const src = await scrape(e.TESTBED_NETNS_hostA, e.TESTBED_METRICS_hostA);
    assert.ok(
      (sample(src, 'tern_agent_calls_seconds_count', { method: 'DumpAndHold', code: '0' }) ?? 0) >= 1,
      src,
    );
    assert.ok((sample(src, 'tern_agent_calls_seconds_count', { method: 'Commit', code: '0' }) ?? 0) >= 1);
    const dst = await scrape(e.TESTBED_NETNS_hostB, e.TESTBED_METRICS_hostB);
    assert.ok(
      (sample(dst, 'tern_agent_calls_seconds_count', { method: 'RestoreStopped', code: '0' }) ?? 0) >= 1,
    );
    assert.ok((sample(dst, 'tern_agent_containers', { state: 'running', host: 'hostB' }) ?? 0) >= 1, dst);
    // Beside /metrics the coordinator serves its web view; anything else is not found.
    const code = async (netns: string, url: string) =>
      (await sh(['ip', 'netns', 'exec', netns, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', url]))
        .stdout;
    const coordUrl = `http://${e.TESTBED_METRICS_coordinator}`;
    assert.equal(await code(e.TESTBED_COORD_NETNS, `${coordUrl}/nothing-here`), '404');
    assert.equal(await code(e.TESTBED_COORD_NETNS, `${coordUrl}/`), '200');
    assert.equal(await code(e.TESTBED_COORD_NETNS, `${coordUrl}/api/fleet`), '200');
    // An agent serves /metrics alone.
    assert.equal(await code(e.TESTBED_NETNS_hostA, `http://${e.TESTBED_METRICS_hostA}/`), '404');
  });

  it('migrate on a terminal shows a progress bar while the pages flow, and the phase lines', async () => {
    // script(1) gives migrate a terminal; what it drew is in the transcript.
    const cmd = `node ${join(ROOT, 'dist', 'bin', 'migrate.js')} --to hostB ${BIG}`;
    const r = await sh(['script', '-q', '-e', '-c', cmd, '/dev/null'], {
      env: { TERM: 'xterm', COLUMNS: '120' },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // Without the terminal's control sequences (ESC [ ... letter, ESC 7, ESC 8).
    const ESC = String.fromCharCode(27);
    const text = r.stdout.replace(new RegExp(`${ESC}(\\[[0-9;?]*[A-Za-z]|[78])`, 'g'), '');
    assert.match(text, /dumping \|[█░]+\| \d+\.\d\/5\d\d\.\d MiB {2}\d+ MiB\/s/);
    assert.match(text, /\d+\.\d+s {2}transferring/);
    assert.match(text, /migrated obs-bar hostA -> hostB in/);
    // Without a terminal: the phase lines only.
    const plain = await migrate('--to', 'hostA', BIG);
    assert.equal(plain.code, 0, plain.stderr);
    assert.doesNotMatch(plain.stdout, /MiB\/s/);
    // The closing line names the address the container kept.
    assert.match(plain.stdout, /^migrated obs-bar hostB -> hostA in .*; address 10\.78\.0\.\d+ kept$/m);
  });

  it('every daemon answers the gRPC health check SERVING', async () => {
    const e = await testbedEnv();
    const local = await tern('health');
    assert.equal(local.code, 0, local.stderr);
    assert.match(local.stdout, /^coordinator unix:\/\/\S+: SERVING$/m);
    assert.equal(await probe(e.TESTBED_COORD_NETNS, e.TESTBED_COORDINATOR, 'coordinator'), 'SERVING');
    for (const h of ['hostA', 'hostB'])
      assert.equal(await probe(e[`TESTBED_NETNS_${h}`], e[`TESTBED_AGENT_${h}`], 'agent', h), 'SERVING');
  });
});
