// The container boundary and the host's files, tried for real on the local
// testbed: what a container's root may not do, before and after a move, and
// what a caller may not make an agent do with the host's paths.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BASE_ROOTFS,
  buildStatic,
  down,
  execIn,
  hostDir,
  migrate,
  ownsTestbed,
  ROOT,
  runReady,
  sh,
  tern,
  up,
} from '../../deploy/testbed/driver.js';
import { requirePrivileges } from '../lib/privileges.js';

const NAME = 'sec-box';

/** What the container's own root tries at start; each line `what=exit status`. */
const ATTEMPTS = [
  'mknod /tmp/disk b 8 0; echo mknod=$?',
  'mkdir -p /tmp/m; mount -t tmpfs none /tmp/m; echo mount=$?',
  'echo 1 > /proc/sys/kernel/sysrq; echo procsys=$?',
  'echo h > /proc/sysrq-trigger; echo sysrq=$?',
  'echo x > /proc/sys/kernel/core_pattern; echo corepattern=$?',
].join('; ');

async function statusField(name: string, field: string): Promise<string> {
  const s = await execIn(name, 'cat', '/proc/1/status');
  const m = new RegExp(`^${field}:\\s+(\\S+)`, 'm').exec(s);
  assert.ok(m, `${field} in /proc/1/status`);
  return m[1];
}

/** What test/fixtures/syscalls.c reports inside the container: syscall -> 0 or errno name. */
async function syscalls(name: string): Promise<Record<string, string>> {
  const out = await execIn(name, '/bin/syscalls');
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => l.split('=')),
  );
}

/** Runs argv as the unprivileged user nobody on the host. */
const asNobody = (argv: string[]) =>
  sh(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', ...argv]);

describe('the container boundary (privileged)', function () {
  this.timeout(300_000);
  let work = '';

  before(async function () {
    requirePrivileges(this);
    await up(2);
    work = await mkdtemp(join(tmpdir(), 'tern-sec-'));
    const rootfs = join(work, 'rootfs');
    await cp(BASE_ROOTFS, rootfs, { recursive: true, verbatimSymlinks: true });
    await buildStatic(join(ROOT, 'test/fixtures/syscalls.c'), join(rootfs, 'bin', 'syscalls'));
    await runReady(
      'hostA',
      NAME,
      ['--rootfs', rootfs],
      `(${ATTEMPTS}) > /tmp/attempts 2>/dev/null; cp /bin/busybox /tmp/suid; chmod 4755 /tmp/suid; touch /tmp/ready; while :; do sleep 1; done`,
    );
  });

  after(async () => {
    if (ownsTestbed()) await tern('stop', NAME).catch(() => {});
    await down().catch(() => {});
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("refuses the container's root mknod, mount and writes to /proc/sys and sysrq", async () => {
    const got = Object.fromEntries(
      (await execIn(NAME, 'cat', '/tmp/attempts'))
        .trim()
        .split('\n')
        .map((l) => l.split('=')),
    );
    for (const what of ['mknod', 'mount', 'procsys', 'sysrq', 'corepattern'])
      assert.notEqual(got[what], '0', `${what} succeeded inside the container`);
    assert.equal(existsSync(join(hostDir('hostA'), 'containers', NAME, 'rootfs', 'tmp', 'disk')), false);
  });

  it('masks /proc/timer_list and runs with a trimmed bounding set and no_new_privs', async () => {
    assert.equal((await execIn(NAME, 'wc', '-c', '/proc/timer_list')).trim().split(/\s+/)[0], '0');
    const bnd = BigInt(`0x${await statusField(NAME, 'CapBnd')}`);
    for (const [cap, bit] of [
      ['SYS_ADMIN', 21n],
      ['SYS_MODULE', 16n],
      ['MKNOD', 27n],
      ['SYS_RAWIO', 17n],
      ['SYS_TIME', 25n],
    ] as const)
      assert.equal((bnd >> bit) & 1n, 0n, `${cap} is in the bounding set`);
    assert.equal(await statusField(NAME, 'NoNewPrivs'), '1');
  });

  it('filters syscalls: no user namespace, no keyring, no BPF, no clock', async () => {
    assert.equal(await statusField(NAME, 'Seccomp'), '2');
    assert.deepEqual(await syscalls(NAME), {
      clock_settime: 'EPERM',
      keyctl: 'EPERM',
      bpf: 'EPERM',
      unshare_user: 'EPERM',
    });
  });

  it('confines tern exec as the container is', async () => {
    const r = await tern('exec', NAME, '--', 'mknod', '/tmp/disk2', 'b', '8', '0');
    assert.notEqual(r.code, 0, 'mknod through tern exec succeeded');
    const s = await execIn(NAME, 'cat', '/proc/self/status');
    assert.match(s, /^NoNewPrivs:\s+1$/m);
  });

  it('a setuid file made inside is not runnable by a host user, before and after a move', async () => {
    const onHost = (h: string) => join(hostDir(h), 'containers', NAME, 'rootfs', 'tmp', 'suid');
    const before = await asNobody([onHost('hostA'), 'id', '-u']);
    assert.notEqual(before.code, 0, `nobody ran the container's setuid file on hostA: ${before.stdout}`);
    const capBefore = await statusField(NAME, 'CapBnd');
    const m = await migrate('--from', 'hostA', '--to', 'hostB', NAME);
    assert.equal(m.code, 0, m.stderr);
    const after = await asNobody([onHost('hostB'), 'id', '-u']);
    assert.ok(existsSync(onHost('hostB')), 'the setuid file moved');
    assert.notEqual(after.code, 0, `nobody ran the container's setuid file on hostB: ${after.stdout}`);
    // The boundary moved with the tree.
    assert.equal(await statusField(NAME, 'CapBnd'), capBefore);
    assert.equal(await statusField(NAME, 'NoNewPrivs'), '1');
    assert.equal(await statusField(NAME, 'Seccomp'), '2');
    assert.equal((await syscalls(NAME)).unshare_user, 'EPERM');
    assert.equal((await execIn(NAME, 'wc', '-c', '/proc/timer_list')).trim().split(/\s+/)[0], '0');
    const r = await tern('exec', NAME, '--', 'sh', '-c', 'echo 1 > /proc/sys/kernel/sysrq');
    assert.notEqual(r.code, 0, 'wrote /proc/sys after the move');
  });

  it('refuses a --rootfs outside the allowed base directories', async () => {
    const r = await tern(
      'run',
      '--host',
      'hostA',
      '--name',
      'sec-etc',
      '--rootfs',
      '/etc',
      '--',
      '/bin/true',
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /rootfs \/etc is outside the directories this agent copies root filesystems from/);
    // A symlink inside an allowed base that leads out is refused the same way.
    const link = join(work, 'to-etc');
    await symlink('/etc', link);
    const l = await tern('run', '--host', 'hostA', '--name', 'sec-link', '--rootfs', link, '--', '/bin/true');
    assert.notEqual(l.code, 0);
    assert.match(l.stderr, /is outside the directories/);
  });

  it('a symlinked dev in a rootfs creates nothing on the host', async () => {
    const outside = join(work, 'outside');
    await mkdir(outside);
    const rootfs = join(work, 'rootfs-devlink');
    await cp(BASE_ROOTFS, rootfs, { recursive: true, verbatimSymlinks: true });
    await rm(join(rootfs, 'dev'), { recursive: true, force: true });
    await symlink(outside, join(rootfs, 'dev'));
    const r = await tern(
      'run',
      '--host',
      'hostA',
      '--name',
      'sec-devlink',
      '--rootfs',
      rootfs,
      '--',
      '/bin/sleep',
      '1000',
    );
    try {
      assert.deepEqual(await readdir(outside), [], 'the shim wrote device nodes into a host directory');
    } finally {
      if (r.code === 0) await tern('stop', 'sec-devlink');
    }
  });

  it('moves a sparse 1 TiB file as sparse', async () => {
    await execIn(
      NAME,
      'sh',
      '-c',
      'dd if=/dev/zero of=/tmp/sparse bs=1 count=1 seek=1099511627775 2>/dev/null',
    );
    const m = await migrate('--from', 'hostB', '--to', 'hostA', NAME);
    assert.equal(m.code, 0, m.stderr);
    const size = (await execIn(NAME, 'stat', '-c', '%s %b', '/tmp/sparse')).trim().split(' ');
    assert.equal(size[0], '1099511627776');
    assert.ok(Number(size[1]) < 1024, `the moved file uses ${size[1]} blocks`);
  });
});
