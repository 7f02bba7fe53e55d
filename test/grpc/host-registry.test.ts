// The coordinator's host registry finds a container by asking the hosts
// that reported it, not every host of the fleet; a container that moved is
// found where an agent's answer said it now runs. Real gRPC over mutual TLS
// to small agents that answer ListContainers and Resume.
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { HostRegistry } from '../../coordinator/hosts.js';
import type { Store } from '../../coordinator/store.js';
import {
  type AgentHandlers,
  bindServer,
  type Container__Output,
  type grpc,
  newServer,
  ternProto,
} from '../../proto/index.js';
import { AGENT_POLICY } from '../../proto/roles.js';
import { unary } from '../../proto/rpc.js';
import { testCert } from '../lib/pki.js';

const HOSTS = ['hostA', 'hostB', 'hostC', 'hostD'];

/** A store that keeps nothing (the registry only writes hosts to it here). */
const store: Store = {
  putMigration: async () => {},
  migrations: async () => [],
  migration: async () => undefined,
  putHost: async () => {},
  hosts: async () => [],
  putPlacement: async () => {},
  deletePlacement: async () => {},
  placements: async () => [],
  close: () => {},
};

describe('host registry: finding a container', function () {
  this.timeout(30_000);
  const servers: grpc.Server[] = [];
  /** What each agent runs, and how often it was asked for its list. */
  const runs = new Map<string, Container__Output[]>();
  const asked = new Map<string, number>();
  let reg: HostRegistry;

  const container = (name: string, host: string) =>
    ({ name, host, state: 'running', ip: '10.78.0.10/24' }) as Container__Output;

  before(async () => {
    reg = new HostRegistry(
      store,
      60_000,
      pino({ level: 'silent' }),
      await testCert({ role: 'coordinator', name: 'coordinator' }),
    );
    for (const host of HOSTS) {
      runs.set(host, []);
      const s = newServer(AGENT_POLICY);
      s.addService(ternProto().tern.v1.Agent.service, {
        ListContainers: (_call, cb) => {
          asked.set(host, (asked.get(host) ?? 0) + 1);
          cb(null, { containers: runs.get(host) });
        },
        Resume: (_call, cb) => cb(null, { container: runs.get(host)?.[0] }),
      } as Partial<AgentHandlers> as AgentHandlers);
      const port = await bindServer(s, '127.0.0.1:0', await testCert({ role: 'agent', name: host }));
      servers.push(s);
      await reg.register({
        name: host,
        address: `127.0.0.1:${port}`,
        lan: '10.78.0.0/24',
        criuVersion: '',
        kernel: '',
        lastSeenMs: Date.now(),
        containers: [],
      });
    }
  });

  after(() => {
    reg?.close();
    for (const s of servers) s.forceShutdown();
  });

  beforeEach(() => asked.clear());

  it('asks only the host whose last report named it', async () => {
    runs.set('hostB', [container('web', 'hostB')]);
    reg.heartbeat('hostB', [container('web', 'hostB')]);
    const c = await reg.findContainer('web');
    assert.equal(c.host, 'hostB');
    assert.deepEqual([...asked.keys()], ['hostB']);
  });

  it('asks every host when none of those that reported it has it any more', async () => {
    runs.set('hostB', []);
    runs.set('hostD', [container('web', 'hostD')]);
    const c = await reg.findContainer('web');
    assert.equal(c.host, 'hostD');
    assert.deepEqual([...asked.keys()].sort(), HOSTS);
  });

  it('learns where a container runs from an agent’s answer that carries it', async () => {
    runs.set('hostD', []);
    runs.set('hostC', [container('web', 'hostC')]);
    reg.heartbeat('hostD', []);
    const a = reg.agent('hostC');
    await unary(a, a.Resume, { migration_id: 'm1' });
    asked.clear();
    const c = await reg.findContainer('web');
    assert.equal(c.host, 'hostC');
    assert.deepEqual([...asked.keys()], ['hostC']);
  });

  it('still says when no host has it', async () => {
    await assert.rejects(reg.findContainer('nothere'), /no container named nothere/);
    assert.deepEqual([...asked.keys()].sort(), HOSTS);
  });

  it('takes the heartbeats’ word for a container that one host alone reports running', () => {
    reg.heartbeat('hostA', [container('db', 'hostA')]);
    assert.equal(reg.reported('db')?.host, 'hostA');
    assert.equal(asked.size, 0, 'no host asked');
  });

  it('does not when two hosts name it (a heartbeat from before a move), or it does not run', async () => {
    // The old host's heartbeat left before the move; the new host's answer named it since.
    reg.heartbeat('hostA', [container('db', 'hostA')]);
    reg.heartbeat('hostB', [{ ...container('db', 'hostB'), state: 'restored' }]);
    assert.equal(reg.reported('db'), undefined);
    reg.heartbeat('hostB', []);
    reg.heartbeat('hostA', [{ ...container('db', 'hostA'), state: 'exited' }]);
    assert.equal(reg.reported('db'), undefined);
    assert.equal(reg.reported('nothere'), undefined);
  });

  it('does not for a host that is down', async () => {
    const quick = new HostRegistry(
      store,
      50,
      pino({ level: 'silent' }),
      await testCert({ role: 'coordinator', name: 'coordinator' }),
    );
    await quick.register({
      name: 'hostA',
      address: '127.0.0.1:1',
      lan: '10.78.0.0/24',
      criuVersion: '',
      kernel: '',
      lastSeenMs: Date.now(),
      containers: [container('cache', 'hostA')],
    });
    assert.equal(quick.reported('cache')?.host, 'hostA');
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(quick.reported('cache'), undefined);
    quick.close();
  });
});
