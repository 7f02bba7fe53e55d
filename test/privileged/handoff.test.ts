// The other sides of the handoff on the local testbed: an established TCP
// connection survives a move; a failed restore on the target leaves the
// container running on the source and nothing on the target; bad requests
// get one clear error each and freeze nothing.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  background,
  down,
  heartbeat,
  hostDir,
  inHost,
  migrate,
  migrationDirs,
  ownsTestbed,
  ROOT,
  record,
  runWorkload,
  sh,
  tern,
  testbed,
  up,
  waitFor,
  workloadRootfs,
} from '../../deploy/testbed/driver.js';
import { requirePrivileges } from '../lib/privileges.js';

async function assertRunningOn(name: string, host: string): Promise<void> {
  const ps = await tern('ps');
  assert.match(ps.stdout, new RegExp(`^${name}\\s+${host}\\s+running\\s`, 'm'), ps.stdout);
  const a = await heartbeat(name);
  const b = await waitFor('counter to advance', async () => {
    const c = await heartbeat(name);
    return c > a ? c : undefined;
  });
  assert.ok(b > a);
}

/** Nothing of the container on `host`: no record, rootfs, images, veth or tree. */
async function assertHostClean(host: string, name: string): Promise<void> {
  assert.equal(await record(host, name), undefined, `record of ${name} left on ${host}`);
  assert.ok(!existsSync(join(hostDir(host), 'containers', name)), `container dir left on ${host}`);
  assert.deepEqual(await migrationDirs(host), [], `migration work dirs left on ${host}`);
  const links = await inHost(host, ['ip', '-o', 'link', 'show']);
  assert.doesNotMatch(links.stdout, /tern[0-9a-f]{8}/, `veth left on ${host}:\n${links.stdout}`);
  const procs = await sh(['pgrep', '-f', `${hostDir(host)}/containers/${name}`]);
  assert.equal(procs.stdout.trim(), '', `processes left on ${host}`);
}

describe('handoff edges (privileged)', function () {
  this.timeout(600_000);
  let rootfs: Awaited<ReturnType<typeof workloadRootfs>> | undefined;
  const stopClient: (() => void)[] = [];

  before(async function () {
    requirePrivileges(this);
    await up(2);
    rootfs = await workloadRootfs();
  });

  after(async () => {
    for (const s of stopClient) s();
    if (ownsTestbed()) {
      for (const n of ['tcp', 'ab']) await tern('stop', n).catch(() => {});
    }
    await rm(join(hostDir('hostB'), 'faults'), { force: true }).catch(() => {});
    await down().catch(() => {});
    await rootfs?.cleanup();
  });

  it('keeps an established TCP connection open and answering across a move', async () => {
    await runWorkload(
      'hostA',
      'tcp',
      rootfs?.dir ?? '',
      '/bin/workload echo 7000 & /bin/workload heartbeat /tmp/hb & wait',
      '/tmp/hb',
    );
    const ip = (await record('hostA', 'tcp'))?.ip.split('/')[0] ?? '';
    const status = join(rootfs?.dir ?? '', 'client.status');
    // The client runs on hostA's network (outside the container), one connection, never reconnects.
    const client = background('hostA', [
      join(rootfs?.dir ?? '', 'bin', 'workload'),
      'client',
      ip,
      '7000',
      status,
    ]);
    stopClient.push(client.stop);
    const parse = async () => {
      const t = await readFile(status, 'utf8').catch(() => '');
      const m = /sent (\d+) ok (\d+) errors (\d+)(.*)/.exec(t);
      return m
        ? { sent: Number(m[1]), ok: Number(m[2]), errors: Number(m[3]), rest: m[4].trim(), text: t }
        : undefined;
    };
    const before = await waitFor('client to exchange 20 lines', async () => {
      const s = await parse();
      return s && s.ok >= 20 ? s : undefined;
    });
    const m = await migrate('--from', 'hostA', '--to', 'hostB', 'tcp');
    assert.equal(m.code, 0, `${m.stdout}\n${m.stderr}`);
    const after = await waitFor('client to exchange 50 more lines', async () => {
      const s = await parse();
      return s && s.ok >= before.ok + 50 ? s : undefined;
    });
    assert.equal(after.errors, 0, `client saw errors: ${after.text}`);
    assert.equal(after.rest, '', `connection closed: ${after.text}`);
    assert.equal(after.sent, after.ok, `lines lost: ${after.text}`);
    client.stop();
    await tern('stop', 'tcp');
  });

  it('aborts when the target restore fails: container keeps running on hostA, hostB holds nothing', async () => {
    await runWorkload('hostA', 'ab', rootfs?.dir ?? '', '/bin/workload heartbeat /tmp/hb & wait', '/tmp/hb');
    const pid = (await record('hostA', 'ab'))?.pid;
    await writeFile(join(hostDir('hostB'), 'faults'), 'restore=fail\n');
    try {
      const m = await migrate('--from', 'hostA', '--to', 'hostB', 'ab');
      assert.equal(m.code, 1, m.stdout);
      assert.match(m.stdout, /aborting/);
      const lines = m.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `expected one error line, got:\n${m.stderr}`);
      assert.match(lines[0], /^migrate: error: .*injected fault at restore.*keeps running on hostA/);
    } finally {
      await rm(join(hostDir('hostB'), 'faults'), { force: true });
    }
    await assertRunningOn('ab', 'hostA');
    assert.equal((await record('hostA', 'ab'))?.pid, pid, 'the original tree was replaced');
    assert.equal((await record('hostA', 'ab'))?.state, 'running');
    await assertHostClean('hostB', 'ab');
    const list = await tern('migrations');
    assert.match(list.stdout, /ab\s+hostA\s+hostB\s+aborted/);
  });

  describe('bad input: one clear error, nothing frozen', () => {
    const cases: [string, string[], RegExp][] = [
      ['unknown container', ['--to', 'hostB', 'nosuch'], /no container named nosuch/],
      ['unknown host', ['--to', 'hostZ', 'ab'], /unknown host hostZ/],
      ['same source and target', ['--from', 'hostA', '--to', 'hostA', 'ab'], /same host/],
      ['already on the target', ['--to', 'hostA', 'ab'], /already on hostA/],
      ['a name with /', ['--to', 'hostB', 'a/b'], /must not contain "\/"/],
      ['a name with ..', ['--to', 'hostB', '..'], /must not contain "\/" or "\.\."/],
      ['a host name with ..', ['--to', '../hostB', 'ab'], /invalid host name/],
    ];
    for (const [what, args, re] of cases) {
      it(`refuses ${what}`, async () => {
        const m = await migrate(...args);
        assert.equal(m.code, 1);
        const lines = m.stderr.trim().split('\n');
        assert.equal(lines.length, 1, m.stderr);
        assert.match(lines[0], /^migrate: error: /);
        assert.match(lines[0], re);
        assert.equal((await record('hostA', 'ab'))?.state, 'running');
      });
    }

    it('refuses a target host that is down', async () => {
      const s = await testbed('stop-agent', 'hostB');
      assert.equal(s.code, 0, s.stderr);
      try {
        await waitFor(
          'hostB to be reported down',
          async () => /hostB\s+down/.test((await tern('hosts')).stdout) || undefined,
          30_000,
        );
        const m = await migrate('--to', 'hostB', 'ab');
        assert.equal(m.code, 1);
        assert.match(m.stderr.trim(), /^migrate: error: host hostB is down/);
        assert.equal(m.stderr.trim().split('\n').length, 1);
      } finally {
        const st = await testbed('start-agent', 'hostB');
        assert.equal(st.code, 0, st.stderr);
      }
      await assertRunningOn('ab', 'hostA');
    });

    it('refuses bad names and addresses in tern run', async () => {
      for (const [args, re] of [
        [['--name', 'x/y'], /must not contain/],
        [['--name', 'ok1', '--ip', '192.168.1.5/24'], /outside the container LAN/],
        [['--name', 'ab'], /already exists/],
      ] as [string[], RegExp][]) {
        const r = await tern('run', '--host', 'hostA', ...args, '--', '/bin/true');
        assert.equal(r.code, 1, r.stdout);
        assert.match(r.stderr, re);
      }
      const r = await tern('run', '--host', 'hostQ', '--name', 'zz', '--', '/bin/true');
      assert.match(r.stderr, /unknown host hostQ/);
    });

    it('passes stdout and exit code of tern exec through', async () => {
      const r = await tern('exec', 'ab', '--', 'sh', '-c', 'echo hello; exit 7');
      assert.equal(r.code, 7);
      assert.equal(r.stdout, 'hello\n');
      const u = await tern('exec', 'nosuch', '--', 'true');
      assert.equal(u.code, 1);
      assert.match(u.stderr, /no container named nosuch/);
    });
  });

  it('leaves no CLI entry point unbuilt', () => {
    for (const b of ['tern', 'migrate', 'tern-agent', 'tern-coordinator']) {
      assert.ok(existsSync(join(ROOT, 'dist', 'bin', `${b}.js`)), b);
    }
  });
});
