// A container with a heartbeat counter, child processes and 64 MiB of memory
// of known checksum moves hostA -> hostB -> hostA on the local testbed, with
// real CRIU, namespaces, veths and gRPC. Everything it had must survive.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  alive,
  down,
  execIn,
  heartbeat,
  hostDir,
  inHost,
  memoryChecksums,
  migrate,
  ownsTestbed,
  record,
  runWorkload,
  tern,
  up,
  waitFor,
  workloadRootfs,
} from '../../deploy/testbed/driver.js';
import { requirePrivileges } from '../lib/privileges.js';

const NAME = 'mover';
const NETADMIN = 'netadmin';

interface Snapshot {
  procs: string[];
  hostname: string;
  ip: string;
  mac: string;
  seq: number;
}

async function snapshot(): Promise<Snapshot> {
  // Long-lived processes only: the ps of this exec is filtered out.
  const ps = (await execIn(NAME, 'ps', '-o', 'pid,ppid,args'))
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() && !/\bps\b/.test(l))
    .map((l) => l.trim().replace(/\s+/g, ' '));
  const link = await execIn(NAME, 'ip', '-o', 'link', 'show', 'eth0');
  const addr = await execIn(NAME, 'ip', '-o', '-4', 'addr', 'show', 'eth0');
  return {
    procs: ps,
    hostname: (await execIn(NAME, 'hostname')).trim(),
    ip: /inet (\S+)/.exec(addr)?.[1] ?? '',
    mac: /link\/ether (\S+)/.exec(link)?.[1] ?? '',
    seq: await heartbeat(NAME),
  };
}

async function verifyMemory(): Promise<void> {
  const { want, got } = await memoryChecksums(NAME);
  assert.equal(got, want, 'memory checksum after migration differs');
}

async function move(from: string, to: string, before: Snapshot): Promise<void> {
  const src = await record(from, NAME);
  assert.ok(src, `no record of ${NAME} on ${from}`);
  const r = await migrate('--from', from, '--to', to, NAME);
  assert.equal(r.code, 0, `migrate failed: ${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /transferring/);
  assert.match(r.stdout, /committing/);
  assert.match(r.stdout, /downtime \d+ ms/);
  assert.match(r.stdout, /MiB moved, [\d.]+ MiB on the wire/);

  // Placement: listed on the target, record and rootfs moved, source emptied.
  const ps = await tern('ps');
  assert.match(
    ps.stdout,
    new RegExp(`^${NAME}\\s+${to}\\s+running\\s+${before.ip.replace(/\./g, '\\.')}`, 'm'),
  );
  const dst = await record(to, NAME);
  assert.ok(dst, `no record of ${NAME} on ${to}`);
  assert.ok(
    existsSync(join(hostDir(to), 'containers', NAME, 'rootfs', 'bin', 'workload')),
    'rootfs not on the target',
  );
  assert.ok(!existsSync(join(hostDir(from), 'containers', NAME)), 'container directory left on the source');
  assert.equal(await alive(src.pid), false, 'source tree still alive');

  // Network identity: outer veth on the target's bridge, gone from the source.
  const link = await inHost(to, ['ip', '-o', 'link', 'show', dst.veth]);
  assert.equal(link.code, 0, `veth ${dst.veth} missing on ${to}`);
  assert.match(link.stdout, /master br0/);
  const old = await inHost(from, ['ip', '-o', 'link', 'show', src.veth]);
  assert.notEqual(old.code, 0, `veth ${src.veth} still present on ${from}`);

  const after = await snapshot();
  assert.deepEqual(after.procs, before.procs, 'processes (pids, parents, commands) differ');
  assert.equal(after.hostname, before.hostname);
  assert.equal(after.ip, before.ip);
  assert.equal(after.mac, before.mac);
  assert.ok(after.seq > before.seq, `heartbeat counter went from ${before.seq} to ${after.seq}`);
  const later = await waitFor('counter to advance', async () => {
    const s = await heartbeat(NAME);
    return s > after.seq ? s : undefined;
  });
  assert.ok(later > after.seq);
  await verifyMemory();
}

describe('migration of a running container (privileged)', function () {
  this.timeout(600_000);
  let cleanupRootfs: (() => Promise<void>) | undefined;
  let rootfsDir = '';

  before(async function () {
    requirePrivileges(this);
    await up(2);
    const rootfs = await workloadRootfs();
    cleanupRootfs = rootfs.cleanup;
    rootfsDir = rootfs.dir;
    await runWorkload(
      'hostA',
      NAME,
      rootfs.dir,
      '/bin/workload heartbeat /tmp/hb & /bin/workload memhog 64 4242 random /tmp/mem & wait',
      '/tmp/mem',
    );
  });

  after(async () => {
    if (ownsTestbed()) {
      await tern('stop', NAME).catch(() => {});
      await tern('stop', NETADMIN).catch(() => {});
    }
    await down().catch(() => {});
    await cleanupRootfs?.();
  });

  it('moves hostA -> hostB with pids, memory, counter, hostname, IP, MAC and veth intact', async () => {
    const before = await snapshot();
    assert.ok(before.procs.length >= 3, `expected init and two children:\n${before.procs.join('\n')}`);
    await move('hostA', 'hostB', before);
  });

  it('moves back hostB -> hostA the same way', async () => {
    const before = await snapshot();
    await move('hostB', 'hostA', before);
  });

  it('keeps the network settings a container with NET_ADMIN made itself', async () => {
    // A container without NET_ADMIN cannot change its network namespace, and
    // its target wires it as a launch does (kernel/netwire.ts); one with it
    // has CRIU dump and restore the namespace whole.
    await runWorkload('hostA', NETADMIN, rootfsDir, 'exec /bin/workload heartbeat /tmp/hb', '/tmp/hb', [
      'NET_ADMIN',
    ]);
    await execIn(NETADMIN, 'ip', 'addr', 'add', '192.168.77.1/32', 'dev', 'lo');
    await execIn(NETADMIN, 'ip', 'route', 'add', '192.168.78.0/24', 'dev', 'eth0');
    const m = await migrate('--from', 'hostA', '--to', 'hostB', NETADMIN);
    assert.equal(m.code, 0, `migrate failed: ${m.stdout}\n${m.stderr}`);
    assert.equal((await record('hostB', NETADMIN))?.state, 'running');
    assert.match(await execIn(NETADMIN, 'ip', '-o', 'addr', 'show', 'dev', 'lo'), /192\.168\.77\.1\/32/);
    assert.match(await execIn(NETADMIN, 'ip', 'route'), /192\.168\.78\.0\/24 dev eth0/);
    await tern('stop', NETADMIN);
  });
});
