// Memory and pids limits, tried for real on the local testbed: the container
// runs in a cgroup of its own with the limits asked for, a task that goes
// past them is stopped while the container and its agent go on, `tern exec`
// counts against them, and all of it is the same on the target after a move.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  down,
  migrate,
  ownsTestbed,
  record,
  runReady,
  tern,
  up,
  waitFor,
} from '../../deploy/testbed/driver.js';
import { requirePrivileges } from '../lib/privileges.js';

const NAME = 'lim-box';
const MEMORY = 48 * 2 ** 20;
const PIDS = 24;

/** The container's cgroup directory per controller, as its init's /proc/PID/cgroup names it. */
async function cgroupDirs(pid: number): Promise<{ memory: string; pids: string; path: string }> {
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).trim().split('\n');
  const v1 = (c: string) =>
    lines.map((l) => l.split(':')).find(([, list]) => list.split(',').includes(c))?.[2];
  const mem = v1('memory');
  const pids = v1('pids');
  if (mem && pids)
    return { memory: join('/sys/fs/cgroup/memory', mem), pids: join('/sys/fs/cgroup/pids', pids), path: mem };
  const unified = lines.find((l) => l.startsWith('0::'))?.slice(3) ?? '';
  return { memory: join('/sys/fs/cgroup', unified), pids: join('/sys/fs/cgroup', unified), path: unified };
}

async function limitsOf(pid: number): Promise<{ memory: number; pids: number; path: string }> {
  const d = await cgroupDirs(pid);
  const v2 = d.memory === d.pids;
  const memory = (await readFile(join(d.memory, v2 ? 'memory.max' : 'memory.limit_in_bytes'), 'utf8')).trim();
  const pids = (await readFile(join(d.pids, 'pids.max'), 'utf8')).trim();
  return { memory: Number(memory), pids: Number(pids), path: d.path };
}

async function pidOn(host: string): Promise<number> {
  const r = await record(host, NAME);
  assert.ok(r, `no record of ${NAME} on ${host}`);
  return r.pid;
}

/** Allocates about 96 MiB inside the container (a shell variable): past the memory limit. */
const HOG = ['sh', '-c', 'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo kept'];
/** Starts more tasks than the pids limit allows. */
const FORKS = ['sh', '-c', `i=0; while [ $i -lt ${PIDS + 8} ]; do sleep 3 & i=$((i+1)); done; wait`];

describe('container memory and pids limits (privileged)', function () {
  this.timeout(300_000);

  before(async function () {
    requirePrivileges(this);
    await up(2);
    await runReady(
      'hostA',
      NAME,
      ['--memory', '48m', '--pids', String(PIDS)],
      'touch /tmp/ready; while :; do sleep 1; done',
    );
  });

  after(async () => {
    if (ownsTestbed()) await tern('stop', NAME).catch(() => {});
    await down().catch(() => {});
  });

  it('refuses limits too small to start a container under, naming them', async () => {
    const r = await tern('run', '--host', 'hostA', '--name', 'lim-tiny', '--memory', '1k', '--', '/bin/true');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /memory limit 1024 is below the minimum of 4 MiB/);
    const p = await tern('run', '--host', 'hostA', '--name', 'lim-tiny', '--pids', 'many', '--', '/bin/true');
    assert.notEqual(p.code, 0);
    assert.match(p.stderr, /--pids takes a whole number/);
  });

  it('runs the container in a cgroup of its own with the limits asked for', async () => {
    const got = await limitsOf(await pidOn('hostA'));
    assert.equal(got.memory, MEMORY);
    assert.equal(got.pids, PIDS);
    assert.match(got.path, new RegExp(`/tern-hostA/${NAME}$`));
  });

  it('stops a task past the memory limit, and the container and its agent go on', async () => {
    const r = await tern('exec', NAME, '--', ...HOG);
    assert.equal(r.code, 137, `the memory hog was not killed: ${r.stdout}${r.stderr}`);
    assert.equal((await tern('exec', NAME, '--', 'cat', '/tmp/ready')).code, 0, 'the container is gone');
    const hosts = await tern('hosts');
    assert.match(hosts.stdout, /hostA\s+up/);
  });

  it('refuses tasks past the pids limit', async () => {
    const r = await tern('exec', NAME, '--', ...FORKS);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /can't fork|Resource temporarily unavailable/);
  });

  it('moves the limits with the container, and removes the cgroup from the source', async () => {
    const source = await cgroupDirs(await pidOn('hostA'));
    const m = await migrate('--from', 'hostA', '--to', 'hostB', NAME);
    assert.equal(m.code, 0, m.stderr);
    const got = await limitsOf(await pidOn('hostB'));
    assert.equal(got.memory, MEMORY);
    assert.equal(got.pids, PIDS);
    assert.match(got.path, new RegExp(`/tern-hostB/${NAME}$`));
    await waitFor(
      'the source cgroup to go',
      async () => (!existsSync(source.memory) && !existsSync(source.pids)) || undefined,
    );
    const r = await tern('exec', NAME, '--', ...HOG);
    assert.equal(r.code, 137, `the memory hog was not killed on the target: ${r.stdout}${r.stderr}`);
    const f = await tern('exec', NAME, '--', ...FORKS);
    assert.match(f.stderr, /can't fork|Resource temporarily unavailable/);
    assert.equal((await tern('exec', NAME, '--', 'cat', '/tmp/ready')).code, 0);
  });
});
