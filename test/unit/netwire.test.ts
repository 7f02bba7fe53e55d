// Which containers have CRIU dump their network namespace, the script that
// wires a restored one as a launch does, and the namespace made for a
// restore before the freeze (kernel/netwire.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  changesItsNetwork,
  prewiredFor,
  prewiredName,
  prewiringScript,
  upScript,
  wiringScript,
} from '../../kernel/netwire.js';

const net = { veth: 'tern1a2b3c4d', bridge: 'br0', mac: '02:00:0a:4e:00:0a', ip: '10.78.0.10/24' };
/** What either script sets inside the namespace, each on a line of its own. */
const INSIDE = [
  'link set lo up',
  'link set eth0 address 02:00:0a:4e:00:0a',
  'addr add 10.78.0.10/24 dev eth0',
  'link set eth0 up',
];

describe('the network namespace tern wires itself', () => {
  it('is the namespace of a container that cannot change it (no NET_ADMIN, no SYS_ADMIN)', () => {
    assert.equal(changesItsNetwork(undefined), false);
    assert.equal(changesItsNetwork([]), false);
    assert.equal(changesItsNetwork(['SYS_PTRACE', 'NET_RAW']), false);
    assert.equal(changesItsNetwork(['NET_ADMIN']), true);
    assert.equal(changesItsNetwork(['sys_admin']), true);
    assert.equal(changesItsNetwork(['CAP_NET_ADMIN']), true);
  });

  it('wires the veth, MAC, address and lo at setup-namespaces, as a launch does', () => {
    const s = wiringScript(net);
    assert.match(s, /ip link add 'tern1a2b3c4d' type veth peer name eth0 netns "\$CRTOOLS_INIT_PID"/);
    assert.match(s, /ip link set 'tern1a2b3c4d' master 'br0' up/);
    assert.match(s, /nsenter -t "\$CRTOOLS_INIT_PID" -n ip -batch -/);
    for (const line of INSIDE) assert.ok(s.includes(`\n${line}\n`), `missing: ${line}`);
  });

  it('does nothing at every other action of CRIU', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tern-netwire-'));
    try {
      // Without a PATH to a shell's tools: any command it ran would fail.
      const script = join(dir, 'wire.sh');
      writeFileSync(script, wiringScript(net), { mode: 0o700 });
      for (const action of ['pre-restore', 'post-setup-namespaces', 'post-restore', 'network-unlock']) {
        const r = spawnSync(script, [], {
          env: { ...process.env, CRTOOLS_SCRIPT_ACTION: action, CRTOOLS_INIT_PID: '0', PATH: '/nonexistent' },
        });
        assert.equal(r.status, 0, `${action}: ${r.stderr}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses names and addresses it would have to quote', () => {
    assert.throws(() => wiringScript({ ...net, veth: "x'; reboot; '" }), /bad interface name/);
    assert.throws(() => wiringScript({ ...net, bridge: 'br 0' }), /bad interface name/);
    assert.throws(() => wiringScript({ ...net, mac: '02:00:0a:4e:00' }), /bad MAC address/);
    assert.throws(() => wiringScript({ ...net, ip: '10.78.0.10' }), /bad address/);
  });
});

describe('the network namespace made before a restore', () => {
  it('is named for the migration and the host, and only those names count as its', () => {
    const name = prewiredName('mmx0x7rjk06abd0', 'hostB');
    assert.equal(name, 'tern-restore-mmx0x7rjk06abd0@hostB');
    assert.equal(prewiredFor(name, 'hostB'), true);
    assert.equal(prewiredFor(name, 'hostA'), false);
    assert.equal(prewiredFor(prewiredName('m1', 'a-b'), 'b'), false);
    assert.equal(prewiredFor('tern-hostB', 'hostB'), false);
    assert.throws(() => prewiredName('m/../x', 'hostB'), /bad migration id/);
    assert.throws(() => prewiredName('m1', 'host B'), /bad migration id .* or host/);
  });

  it('is wired as a launch wires one, with the outer veth end on the bridge but down', () => {
    const s = prewiringScript('tern-restore-m1@hostB', net);
    assert.match(s, /ip netns add 'tern-restore-m1@hostB'/);
    assert.match(s, /ip link add 'tern1a2b3c4d' type veth peer name eth0 netns 'tern-restore-m1@hostB'/);
    assert.match(s, /ip link set 'tern1a2b3c4d' master 'br0'\n/);
    assert.doesNotMatch(s, /master 'br0' up/);
    assert.match(s, /trap "ip netns del 'tern-restore-m1@hostB'" EXIT/);
    for (const line of INSIDE) assert.ok(s.includes(`\n${line}\n`), `missing: ${line}`);
    assert.throws(() => prewiringScript("x'; reboot", net), /bad network namespace name/);
    assert.throws(() => prewiringScript('tern-restore-m1@hostB', { ...net, mac: 'nope' }), /bad MAC address/);
  });

  it('has its outer end set up at setup-namespaces, and nothing done at other actions', () => {
    const s = upScript('tern1a2b3c4d');
    assert.match(s, /exec ip link set 'tern1a2b3c4d' up/);
    assert.throws(() => upScript('bad name'), /bad interface name/);
    const dir = mkdtempSync(join(tmpdir(), 'tern-netwire-'));
    try {
      const script = join(dir, 'up.sh');
      writeFileSync(script, s, { mode: 0o700 });
      for (const action of ['pre-restore', 'post-restore', 'network-unlock']) {
        const r = spawnSync(script, [], {
          env: { ...process.env, CRTOOLS_SCRIPT_ACTION: action, PATH: '/nonexistent' },
        });
        assert.equal(r.status, 0, `${action}: ${r.stderr}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
