// Mutual TLS with roles on a real coordinator: who may call what, over TCP
// and over the local socket. Each refused call names why.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { type CertFiles, initCa, issue } from '../../core/pki.js';
import { bindServer, type CoordinatorClient, coordinatorClient, grpc, ternProto } from '../../proto/index.js';
import { channelCredentials, tlsReady } from '../../proto/tls.js';
import { call, startCoordinator, type TestCoordinator } from '../lib/coordinator.js';
import { testCert } from '../lib/pki.js';

describe('mutual TLS and roles (coordinator)', function () {
  this.timeout(30_000);
  let t: TestCoordinator;
  let address = '';
  let socket = '';
  const clients: CoordinatorClient[] = [];
  const as = (files: CertFiles | undefined, where = address) => {
    const c = coordinatorClient(where, files);
    clients.push(c);
    return c;
  };

  before(async () => {
    t = await startCoordinator();
    address = t.address;
    socket = t.socket;
  });

  after(async () => {
    for (const c of clients) c.close();
    await t?.stop();
  });

  it('serves an operator certificate', async () => {
    const r = (await call(as(await testCert({ role: 'operator', name: 'alice' })), 'ListHosts', {})) as {
      hosts: unknown[];
    };
    assert.deepEqual(r.hosts, []);
  });

  it("reads a connection's client certificate once, not at every call", async () => {
    const c = as(await testCert({ role: 'operator', name: 'carol' }));
    await call(c, 'ListHosts', {});
    const proto = TLSSocket.prototype as unknown as { getPeerCertificate: (detailed?: boolean) => unknown };
    const read = proto.getPeerCertificate;
    let reads = 0;
    proto.getPeerCertificate = function (this: TLSSocket, detailed?: boolean) {
      reads++;
      return read.call(this, detailed);
    };
    try {
      for (let i = 0; i < 5; i++) await call(c, 'ListHosts', {});
      await call(c, 'ListMigrations', {});
    } finally {
      proto.getPeerCertificate = read;
    }
    assert.equal(reads, 0, `the certificate was read ${reads} times for 6 calls on one connection`);
    // And the identity still decides: the same connection's role is checked at every call.
    await assert.rejects(
      call(c, 'RegisterHost', { name: 'x' }),
      /RegisterHost is not allowed for operator carol/,
    );
  });

  it('serves the local socket without a certificate, and the socket is root-only', async () => {
    await call(as(undefined, `unix://${socket}`), 'ListHosts', {});
    assert.equal(statSync(socket).mode & 0o777, 0o600);
  });

  it('has no plaintext TCP: a client without certificates is refused before it connects', () => {
    assert.throws(() => coordinatorClient(address), /speaks only mutual TLS/);
  });

  it('a daemon without readable certificate files says which file', async () => {
    const missing = { ca: '/nonexistent/ca.crt', cert: '/nonexistent/x.crt', key: '/nonexistent/x.key' };
    await assert.rejects(
      bindServer(new grpc.Server(), '127.0.0.1:0', missing),
      /cannot read the CA certificate \/nonexistent\/ca\.crt/,
    );
  });

  it('refuses a plaintext connection to the TCP port', async () => {
    const Ctor = ternProto().tern.v1.Coordinator;
    const plain = new Ctor(address, grpc.credentials.createInsecure());
    clients.push(plain);
    await assert.rejects(
      call(plain, 'ListHosts', {}),
      (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE,
    );
  });

  it('refuses a certificate from another CA', async () => {
    const other = mkdtempSync(join(tmpdir(), 'tern-pki-other-'));
    try {
      await initCa(other);
      const files = await issue(other, { role: 'operator', name: 'mallory' });
      await assert.rejects(
        call(as(files), 'ListHosts', {}),
        (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE,
      );
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('refuses user operations to an agent certificate', async () => {
    await assert.rejects(
      call(as(await testCert({ role: 'agent', name: 'hostA' })), 'StartMigration', {
        container: 'web',
        to: 'hostA',
      }),
      (e: grpc.ServiceError) =>
        e.code === grpc.status.PERMISSION_DENIED &&
        /StartMigration is not allowed for agent hostA/.test(e.details),
    );
  });

  it('refuses a registration from an operator', async () => {
    await assert.rejects(
      call(as(await testCert({ role: 'operator', name: 'alice' })), 'RegisterHost', {
        name: 'hostA',
        address: '127.0.0.1:1',
      }),
      (e: grpc.ServiceError) =>
        e.code === grpc.status.PERMISSION_DENIED &&
        /RegisterHost is not allowed for operator alice/.test(e.details),
    );
  });

  it('refuses an agent that registers or beats for another host', async () => {
    const hostA = as(await testCert({ role: 'agent', name: 'hostA' }));
    for (const method of ['RegisterHost', 'Heartbeat'])
      await assert.rejects(
        call(hostA, method, { name: 'hostB', address: '127.0.0.1:1' }),
        (e: grpc.ServiceError) =>
          e.code === grpc.status.PERMISSION_DENIED &&
          /agent hostA may not speak for host "hostB"/.test(e.details),
      );
  });

  it('a client does not take a server of another role for the coordinator', async () => {
    const server = new grpc.Server();
    server.addService(ternProto().tern.v1.Coordinator.service, {});
    const port = await bindServer(server, '127.0.0.1:0', await testCert({ role: 'agent', name: 'hostB' }));
    try {
      await assert.rejects(
        call(as(await testCert({ role: 'operator', name: 'alice' }), `127.0.0.1:${port}`), 'ListHosts', {}),
        (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE,
      );
    } finally {
      server.forceShutdown();
    }
  });

  it('channels with the same certificate files share one TLS context, rebuilt when the files change', async () => {
    const files = await testCert({ role: 'operator', name: 'carol' });
    await tlsReady(files);
    type Impl = {
      ref(): void;
      unref(): void;
      getLatestSecureContext(): object | null;
      latestIdentityUpdate: { certificate: Buffer; privateKey: Buffer } | null;
    };
    const a = channelCredentials(files, { role: 'coordinator' }) as unknown as Impl;
    const b = channelCredentials(files, { role: 'agent', name: 'hostB' }) as unknown as Impl;
    // As a channel does when it connects: each then hears from the shared file watcher.
    a.ref();
    b.ref();
    try {
      await new Promise((r) => setImmediate(r));
      const first = a.getLatestSecureContext();
      assert.ok(first, 'a context once the files are loaded');
      assert.equal(a.getLatestSecureContext(), first, 'the next connection of the same channel');
      assert.equal(b.getLatestSecureContext(), first, 'a channel to another peer with the same files');
      // A re-issued certificate (other contents): the next connection gets a context with it.
      const other = await testCert({ role: 'operator', name: 'dave' });
      const { readFile } = await import('node:fs/promises');
      a.latestIdentityUpdate = {
        certificate: await readFile(other.cert),
        privateKey: await readFile(other.key),
      };
      const rotated = a.getLatestSecureContext();
      assert.ok(rotated && rotated !== first, 'a new context for new contents');
      assert.equal(a.getLatestSecureContext(), rotated);
    } finally {
      a.unref();
      b.unref();
    }
    // And calls through two clients with the same files both go through.
    await call(as(files), 'ListHosts', {});
    await call(as(files), 'ListHosts', {});
  });
});
