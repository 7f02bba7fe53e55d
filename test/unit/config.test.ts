import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_DEFAULTS, agentOptions } from '../../agent/config.js';
import { COORDINATOR_DEFAULTS, coordinatorOptions } from '../../coordinator/config.js';
import { TernError } from '../../core/errors.js';

function assertInvalid(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TernError, `expected a TernError, got ${String(e)}`);
    assert.equal(e.code, 'INVALID_ARGUMENT');
    assert.match(e.message, message);
    return true;
  });
}

const REQUIRED = ['--host', 'hostA', '--listen', '127.0.0.1:7701', '--coordinator', '127.0.0.1:7700'];

describe('config', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tern-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  async function configFile(name: string, content: unknown): Promise<string> {
    const p = join(dir, name);
    await writeFile(p, typeof content === 'string' ? content : JSON.stringify(content));
    return p;
  }

  describe('agentOptions', () => {
    it('fills defaults around the required flags', () => {
      const o = agentOptions(REQUIRED);
      assert.deepEqual(o, {
        ...AGENT_DEFAULTS,
        host: 'hostA',
        listen: '127.0.0.1:7701',
        coordinator: '127.0.0.1:7700',
        advertise: '127.0.0.1:7701',
      });
      assert.equal(o.lan, '10.78.0.0/24');
      assert.equal(o.bridge, 'br0');
    });

    const missing: { drop: string; message: RegExp }[] = [
      { drop: '--host', message: /^agent: --host is required$/ },
      { drop: '--listen', message: /^agent: --listen is required \(host:port\)$/ },
      {
        drop: '--coordinator',
        message: /^agent: --coordinator is required \(host:port, or IP:port,IP:port,...\)$/,
      },
    ];
    for (const { drop, message } of missing) {
      it(`requires ${drop}`, () => {
        const i = REQUIRED.indexOf(drop);
        const argv = [...REQUIRED.slice(0, i), ...REQUIRED.slice(i + 2)];
        assertInvalid(() => agentOptions(argv), message);
      });
    }

    it('reports --host first when nothing is given', () => {
      assertInvalid(() => agentOptions([]), /--host is required/);
    });

    it('advertise defaults to listen and can be set', () => {
      assert.equal(agentOptions(REQUIRED).advertise, '127.0.0.1:7701');
      assert.equal(agentOptions([...REQUIRED, '--advertise', '10.0.0.5:7701']).advertise, '10.0.0.5:7701');
    });

    it('maps every flag to its option', () => {
      const o = agentOptions([
        ...REQUIRED,
        '--bridge',
        'br9',
        '--lan',
        '10.9.0.0/16',
        '--state-dir',
        '/tmp/s',
        '--criu',
        '/usr/sbin/criu',
        '--shim',
        '/usr/lib/tern-shim',
        '--default-rootfs',
        '/srv/rootfs',
        '--orphan-timeout-sec',
        '60',
        '--heartbeat-ms',
        '500',
        '--log-level',
        'debug',
        '--pki',
        '/tmp/pki',
        '--rootfs-base',
        '/srv/a',
        '--rootfs-base',
        '/srv/b',
        '--metrics-listen',
        '127.0.0.1:0',
        '--test-faults',
      ]);
      assert.deepEqual(
        {
          rootfsBases: o.rootfsBases,
          testFaults: o.testFaults,
          pki: o.pki,
          bridge: o.bridge,
          lan: o.lan,
          stateDir: o.stateDir,
          criu: o.criu,
          shim: o.shim,
          defaultRootfs: o.defaultRootfs,
          orphanTimeoutSec: o.orphanTimeoutSec,
          heartbeatMs: o.heartbeatMs,
          logLevel: o.logLevel,
          metricsListen: o.metricsListen,
        },
        {
          rootfsBases: ['/srv/a', '/srv/b'],
          testFaults: true,
          pki: '/tmp/pki',
          bridge: 'br9',
          lan: '10.9.0.0/16',
          stateDir: '/tmp/s',
          criu: '/usr/sbin/criu',
          shim: '/usr/lib/tern-shim',
          defaultRootfs: '/srv/rootfs',
          orphanTimeoutSec: 60,
          heartbeatMs: 500,
          logLevel: 'debug',
          metricsListen: '127.0.0.1:0',
        },
      );
    });

    it('reads a JSON config file and lets flags override it', async () => {
      const cfg = await configFile('agent.json', {
        host: 'fromfile',
        listen: '0.0.0.0:7701',
        coordinator: '10.0.0.1:7700',
        bridge: 'brfile',
        lan: '10.50.0.0/24',
        heartbeatMs: 1500,
      });
      const fromFile = agentOptions(['--config', cfg]);
      assert.equal(fromFile.host, 'fromfile');
      assert.equal(fromFile.bridge, 'brfile');
      assert.equal(fromFile.lan, '10.50.0.0/24');
      assert.equal(fromFile.heartbeatMs, 1500);
      assert.equal(fromFile.advertise, '0.0.0.0:7701');
      assert.equal(fromFile.stateDir, AGENT_DEFAULTS.stateDir);

      const o = agentOptions([
        '--config',
        cfg,
        '--host',
        'fromflag',
        '--bridge',
        'brflag',
        '--heartbeat-ms',
        '700',
      ]);
      assert.equal(o.host, 'fromflag');
      assert.equal(o.bridge, 'brflag');
      assert.equal(o.heartbeatMs, 700);
      // Not given as flags: still from the file.
      assert.equal(o.lan, '10.50.0.0/24');
      assert.equal(o.coordinator, '10.0.0.1:7700');
    });

    it('reports an unreadable or malformed config file', async () => {
      const bad = await configFile('bad.json', '{ not json');
      assertInvalid(() => agentOptions(['--config', bad]), /^cannot read config .*bad\.json: /);
      assertInvalid(
        () => agentOptions(['--config', join(dir, 'missing.json')]),
        /^cannot read config .*ENOENT/,
      );
    });

    for (const lan of ['10.78.0.0', '10.78.0.0/33', '10.78.0.0/4', '300.0.0.0/24', 'lan']) {
      it(`rejects the LAN ${JSON.stringify(lan)}`, () => {
        assertInvalid(() => agentOptions([...REQUIRED, '--lan', lan]), /invalid (network|IPv4 address)/);
      });
    }

    for (const host of ['a/b', '-x', 'a b', '..', 'x'.repeat(64)]) {
      it(`rejects the host name ${JSON.stringify(host.length > 20 ? `${host.slice(0, 4)}...` : host)}`, () => {
        assertInvalid(() => agentOptions([`--host=${host}`, ...REQUIRED.slice(2)]), /invalid host name/);
      });
    }

    const numbers: { flag: string; value: string; message: RegExp }[] = [
      { flag: '--orphan-timeout-sec', value: '0', message: /orphanTimeoutSec must be >= 1/ },
      { flag: '--orphan-timeout-sec', value: 'soon', message: /orphanTimeoutSec must be >= 1/ },
      { flag: '--heartbeat-ms', value: '99', message: /heartbeatMs must be >= 100/ },
      { flag: '--heartbeat-ms', value: 'NaN', message: /heartbeatMs must be >= 100/ },
    ];
    for (const { flag, value, message } of numbers) {
      it(`rejects ${flag} ${value}`, () => {
        assertInvalid(() => agentOptions([...REQUIRED, flag, value]), message);
      });
    }

    it('rejects unknown flags', () => {
      assert.throws(() => agentOptions([...REQUIRED, '--frobnicate', 'x']), /frobnicate/);
    });
  });

  describe('coordinatorOptions', () => {
    it('uses the defaults with no flags', () => {
      assert.deepEqual(coordinatorOptions([]), {
        ...COORDINATOR_DEFAULTS,
        advertise: COORDINATOR_DEFAULTS.listen,
      });
      assert.equal(COORDINATOR_DEFAULTS.listen, '0.0.0.0:7700');
      assert.equal(COORDINATOR_DEFAULTS.hostTimeoutMs, 6000);
    });

    it('applies every flag', () => {
      assert.deepEqual(
        coordinatorOptions([
          '--listen',
          '127.0.0.1:9000',
          '--advertise',
          '10.0.0.1:9000',
          '--socket',
          '/tmp/c.sock',
          '--state-dir',
          '/tmp/state',
          '--host-timeout-ms',
          '1500',
          '--store',
          'file',
          '--max-migrations-per-host',
          '3',
          '--stall-ms',
          '4000',
          '--log-level',
          'warn',
          '--pki',
          '/tmp/pki',
          '--name',
          'coord1',
          '--metrics-listen',
          '127.0.0.1:9700',
          '--test-faults',
          '--etcd-prefix',
          '/t1/',
        ]),
        {
          listen: '127.0.0.1:9000',
          advertise: '10.0.0.1:9000',
          socket: '/tmp/c.sock',
          pki: '/tmp/pki',
          name: 'coord1',
          testFaults: true,
          stateDir: '/tmp/state',
          store: 'file',
          etcdEndpoints: [],
          etcdPrefix: '/t1/',
          leaseTtlSec: 5,
          hostTimeoutMs: 1500,
          maxMigrationsPerHost: 3,
          stallMs: 4000,
          precopy: COORDINATOR_DEFAULTS.precopy,
          metricsListen: '127.0.0.1:9700',
          logLevel: 'warn',
        },
      );
    });

    it('takes the pre-copy rules from the config file, each one on its own, and checks them', async () => {
      const cfg = await configFile('coord-precopy.json', { precopy: { maxRounds: 3 } });
      assert.deepEqual(coordinatorOptions(['--config', cfg]).precopy, {
        ...COORDINATOR_DEFAULTS.precopy,
        maxRounds: 3,
      });
      const bad = await configFile('coord-precopy-bad.json', { precopy: { maxRounds: 0 } });
      assertInvalid(
        () => coordinatorOptions(['--config', bad]),
        /precopy\.maxRounds must be a whole number from 1 to 20/,
      );
      const shrink = await configFile('coord-precopy-shrink.json', { precopy: { shrink: 1.5 } });
      assertInvalid(() => coordinatorOptions(['--config', shrink]), /precopy\.shrink in \(0, 1\]/);
    });

    it('refuses a metrics address that is not host:port', () => {
      assertInvalid(
        () => coordinatorOptions(['--metrics-listen', '9700']),
        /invalid metrics address "9700": want host:port/,
      );
      assertInvalid(
        () => agentOptions([...REQUIRED, '--metrics-listen', 'localhost:http']),
        /invalid metrics address "localhost:http"/,
      );
    });

    it('advertise defaults to listen', () => {
      assert.equal(coordinatorOptions(['--listen', '127.0.0.1:9000']).advertise, '127.0.0.1:9000');
    });

    it('allows a socket-only coordinator', () => {
      const o = coordinatorOptions(['--listen', '', '--socket', '/tmp/c.sock']);
      assert.equal(o.listen, '');
      assert.equal(o.socket, '/tmp/c.sock');
    });

    it('needs --listen or --socket', () => {
      assertInvalid(
        () => coordinatorOptions(['--listen', '', '--socket', '']),
        /^coordinator: give --listen or --socket$/,
      );
    });

    for (const v of ['499', 'x', '-1']) {
      it(`rejects --host-timeout-ms ${v}`, () => {
        assertInvalid(
          () => coordinatorOptions([`--host-timeout-ms=${v}`]),
          /^coordinator: hostTimeoutMs must be >= 500$/,
        );
      });
    }

    it('reads a config file and lets flags override it', async () => {
      const cfg = await configFile('coord.json', {
        listen: '127.0.0.1:8800',
        stateDir: '/srv/tern',
        hostTimeoutMs: 9000,
      });
      const fromFile = coordinatorOptions(['--config', cfg]);
      assert.equal(fromFile.listen, '127.0.0.1:8800');
      assert.equal(fromFile.advertise, '127.0.0.1:8800');
      assert.equal(fromFile.stateDir, '/srv/tern');
      assert.equal(fromFile.hostTimeoutMs, 9000);
      assert.equal(fromFile.socket, COORDINATOR_DEFAULTS.socket);

      const o = coordinatorOptions(['--config', cfg, '--state-dir', '/other', '--host-timeout-ms', '700']);
      assert.equal(o.stateDir, '/other');
      assert.equal(o.hostTimeoutMs, 700);
      assert.equal(o.listen, '127.0.0.1:8800');
    });

    it('reports a malformed config file', async () => {
      const bad = await configFile('coord-bad.json', '[1,');
      assertInvalid(() => coordinatorOptions(['--config', bad]), /^cannot read config .*coord-bad\.json/);
    });

    it('takes an etcd store with its endpoints, and refuses one without', () => {
      const o = coordinatorOptions([
        '--store',
        'etcd',
        '--etcd-endpoints',
        'http://10.0.0.1:2379,https://10.0.0.2:2379',
        '--lease-ttl',
        '4',
      ]);
      assert.deepEqual(o.etcdEndpoints, ['http://10.0.0.1:2379', 'https://10.0.0.2:2379']);
      assert.equal(o.leaseTtlSec, 4);
      assert.equal(o.etcdPrefix, '/tern/');
      assertInvalid(() => coordinatorOptions(['--store', 'etcd']), /needs --etcd-endpoints/);
      assertInvalid(
        () => coordinatorOptions(['--store', 'etcd', '--etcd-endpoints', '10.0.0.1:2379']),
        /is not http\(s\):\/\/host:port/,
      );
      assertInvalid(
        () => coordinatorOptions(['--store', 'etcd', '--etcd-endpoints', 'http://a:1', '--lease-ttl', '1']),
        /leaseTtlSec/,
      );
      assertInvalid(() => coordinatorOptions(['--store', 'zk']), /store must be sqlite, file or etcd/);
    });
  });
});
