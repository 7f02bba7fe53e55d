// tern-relay (kernel/native/tern-relay.c), the real binary, on both ends of
// a connected socket pair: the page stream runs inside mutual TLS (tern's
// frames, or TLS records with a relay that keeps to them), reaches the
// command only from the expected agent with the migration's credential, and
// both ends count the same length; a byte changed on the way, or a stream cut
// short, gives no length. The commands stand in for CRIU (cat).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TernError } from '../../core/errors.js';
import { initCa, issue } from '../../core/pki.js';
import {
  defaultRelayPath,
  PS_FD,
  parseLength,
  REFUSED,
  readLength,
  relayArgs,
  waitsForLazyDaemon,
} from '../../kernel/relay.js';
import { testCert } from '../lib/pki.js';

interface End {
  code: number | null;
  stderr: string;
}

/** Runs the relay on one end of a connection, with fd 3 the network socket. */
function relay(sock: Socket, args: string[], env?: NodeJS.ProcessEnv): Promise<End> {
  const child = spawn(defaultRelayPath(), args, {
    stdio: ['ignore', 'ignore', 'pipe', sock],
    env: { ...process.env, ...env },
  });
  sock.destroy();
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

/**
 * A connected TCP pair on loopback through a relay of bytes in between,
 * which `meddle` may change or cut: it sees each chunk going from the
 * first end to the second with the count of bytes before it, and returns
 * the chunk to pass on, or null to cut the connection there.
 */
async function meddledPair(meddle: (chunk: Buffer, at: number) => Buffer | null): Promise<[Socket, Socket]> {
  const [a, a2] = await pair();
  const [b2, b] = await pair();
  let at = 0;
  a2.on('data', (chunk: Buffer) => {
    const out = meddle(chunk, at);
    at += chunk.length;
    if (out === null) {
      a2.destroy();
      b2.destroy();
    } else b2.write(out);
  });
  b2.on('data', (chunk: Buffer) => a2.write(chunk));
  a2.on('end', () => b2.end());
  b2.on('end', () => a2.end());
  a2.on('error', () => b2.destroy());
  b2.on('error', () => a2.destroy());
  return [a, b];
}

/** A connected TCP pair on loopback. */
async function pair(): Promise<[Socket, Socket]> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = connect({ host: '127.0.0.1', port });
  await new Promise((r) => client.once('connect', r));
  const s = await accepted;
  server.close();
  return [client, s];
}

describe('tern-relay: the page stream inside TLS', function () {
  this.timeout(30_000);
  let dir: string;
  let data: Buffer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tern-relay-'));
    data = randomBytes(3 * 1024 * 1024 + 123);
    await writeFile(join(dir, 'pages'), data);
    await writeFile(join(dir, 'cred'), 'ab'.repeat(32), { mode: 0o600 });
    await writeFile(join(dir, 'other-cred'), 'cd'.repeat(32), { mode: 0o600 });
  });

  after(() => rm(dir, { recursive: true, force: true }));

  /** One stream hostA -> hostB; `as`/`expect` and credentials vary per case. */
  async function stream(o: {
    sender?: string;
    senderExpects?: string;
    receiverExpects?: string;
    senderCred?: string;
    receiverCred?: string;
    senderCerts?: { ca: string; cert: string; key: string };
    senderEnv?: NodeJS.ProcessEnv;
    receiverEnv?: NodeJS.ProcessEnv;
    meddle?: (chunk: Buffer, at: number) => Buffer | null;
  }): Promise<{ tx: End; rx: End; out: string }> {
    const out = join(dir, `out-${randomBytes(4).toString('hex')}`);
    const a = o.senderCerts ?? (await testCert({ role: 'agent', name: o.sender ?? 'hostA' }));
    const b = await testCert({ role: 'agent', name: 'hostB' });
    const [c, s] = o.meddle ? await meddledPair(o.meddle) : await pair();
    const rx = relay(
      s,
      relayArgs(
        'recv',
        `${out}.len`,
        { ...b, peer: o.receiverExpects ?? 'hostA', credentialFile: join(dir, o.receiverCred ?? 'cred') },
        ['sh', '-c', `cat <&${PS_FD} > "$1"`, 'sink', out],
      ),
      o.receiverEnv,
    );
    const tx = relay(
      c,
      relayArgs(
        'send',
        `${out}.sent`,
        { ...a, peer: o.senderExpects ?? 'hostB', credentialFile: join(dir, o.senderCred ?? 'cred') },
        ['sh', '-c', `cat "$1" >&${PS_FD}`, 'source', join(dir, 'pages')],
      ),
      o.senderEnv,
    );
    return { tx: await tx, rx: await rx, out };
  }

  it('carries every byte from the expected agent with the credential; both ends count the same length', async () => {
    const { tx, rx, out } = await stream({});
    assert.equal(tx.code, 0, tx.stderr);
    assert.equal(rx.code, 0, rx.stderr);
    assert.ok((await readFile(out)).equals(data), 'the bytes that arrived differ');
    assert.deepEqual(parseLength(await readFile(`${out}.sent`, 'utf8')), { bytes: data.length });
    assert.deepEqual(parseLength(await readFile(`${out}.len`, 'utf8')), { bytes: data.length });
  });

  for (const [which, env] of [
    ['sender', { senderEnv: { TERN_RELAY_TLS_RECORDS: '1' } }],
    ['receiver', { receiverEnv: { TERN_RELAY_TLS_RECORDS: '1' } }],
  ] as const)
    it(`carries the stream in TLS records when the ${which} keeps to them (an older relay), lengths equal`, async () => {
      const { tx, rx, out } = await stream(env);
      assert.equal(tx.code, 0, tx.stderr);
      assert.equal(rx.code, 0, rx.stderr);
      assert.ok((await readFile(out)).equals(data), 'the bytes that arrived differ');
      assert.deepEqual(parseLength(await readFile(`${out}.len`, 'utf8')), { bytes: data.length });
    });

  // Past the handshake (a few KiB), one byte of the stream is changed on the
  // way: the receiver passes on nothing of that frame and writes no length.
  it('refuses a stream with one byte changed on the way: no length, the frame not passed on', async () => {
    const flipAt = 512 * 1024;
    const { rx, out } = await stream({
      meddle: (chunk, at) => {
        if (at > flipAt || at + chunk.length <= flipAt) return chunk;
        const c = Buffer.from(chunk);
        c[flipAt - at] ^= 0x40;
        return c;
      },
    });
    assert.notEqual(rx.code, 0);
    assert.match(rx.stderr, /a frame of the stream failed authentication/);
    assert.equal(existsSync(`${out}.len`), false, 'a length was written for a changed stream');
    const got = await readFile(out);
    assert.ok(got.length < flipAt, `${got.length} bytes passed on, the changed frame among them`);
    assert.ok(got.equals(data.subarray(0, got.length)), 'what was passed on differs from what was sent');
  });

  it('writes no length for a stream cut short between frames or inside one', async () => {
    const { rx, out } = await stream({ meddle: (chunk, at) => (at > 2 * 1024 * 1024 ? null : chunk) });
    assert.equal(existsSync(`${out}.len`), false, 'a length was written for a stream cut short');
    assert.match(rx.stderr, /ended (inside a frame|without its end frame)/);
  });

  it("refuses a credential that is not the migration's: the command never runs on either end", async () => {
    const { tx, rx, out } = await stream({ senderCred: 'other-cred' });
    assert.equal(rx.code, REFUSED);
    assert.match(rx.stderr, /not this migration's credential/);
    assert.equal(tx.code, REFUSED);
    assert.match(tx.stderr, /the target refused the page stream: not this migration's credential/);
    assert.equal(existsSync(out), false, 'the page server ran');
  });

  it('refuses an agent that is not the migration source, and tells it why', async () => {
    const { tx, rx, out } = await stream({ sender: 'hostC' });
    assert.equal(rx.code, REFUSED);
    assert.match(rx.stderr, /names agent hostC, not agent hostA/);
    assert.equal(tx.code, REFUSED);
    assert.match(tx.stderr, /refused the page stream: .*names agent hostC, not agent hostA/);
    assert.equal(existsSync(out), false);
  });

  it('a sender does not stream to a receiver that is not the migration target', async () => {
    const { tx, rx } = await stream({ senderExpects: 'hostC' });
    assert.equal(tx.code, REFUSED);
    assert.match(tx.stderr, /names agent hostB, not agent hostC/);
    assert.notEqual(rx.code, 0);
  });

  it('refuses a certificate of another CA in the handshake', async () => {
    const foreign = mkdtempSync(join(tmpdir(), 'tern-foreign-'));
    try {
      await initCa(foreign);
      const certs = await issue(foreign, { role: 'agent', name: 'hostA' });
      const { tx, rx, out } = await stream({ senderCerts: certs });
      assert.equal(rx.code, REFUSED);
      assert.match(rx.stderr, /TLS handshake failed/);
      assert.notEqual(tx.code, 0);
      assert.equal(existsSync(out), false);
    } finally {
      await rm(foreign, { recursive: true, force: true });
    }
  });
});

describe("readLength: the relay's length file, waited for", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tern-length-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns the length once tern-relay renames the file into place, as it does', async () => {
    const file = join(dir, 'pages.sent');
    const waiting = readLength(file, 10_000);
    await new Promise((r) => setTimeout(r, 50));
    await writeFile(`${file}.tmp`, '1234\n');
    await rename(`${file}.tmp`, file);
    assert.deepEqual(await waiting, { bytes: 1234 });
  });

  it('returns at once when the file is already there, and refuses an unreadable one', async () => {
    await writeFile(join(dir, 'a'), '77\n');
    assert.deepEqual(await readLength(join(dir, 'a'), 1000), { bytes: 77 });
    await writeFile(join(dir, 'b'), 'seventy\n');
    await assert.rejects(readLength(join(dir, 'b'), 1000), /page stream length unreadable/);
  });

  it('gives up after its deadline when the stream never ended (DATA_LOSS), also without a directory to watch', async () => {
    await assert.rejects(readLength(join(dir, 'never'), 100), (e: TernError) => e.code === 'DATA_LOSS');
    await assert.rejects(
      readLength(join(dir, 'gone', 'never'), 100),
      (e: TernError) => e.code === 'DATA_LOSS',
    );
  });
});

describe('waitsForLazyDaemon: whether a lazy restore may start with its daemon', () => {
  it("says yes for a CRIU that logs waiting for the daemon (tern's patch 0005), no for another or none", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tern-lazywait-'));
    try {
      await writeFile(join(dir, 'patched'), 'ELF...Waiting for the lazy-pages daemon to listen on %s\n...');
      await writeFile(join(dir, 'stock'), 'ELF...connect to %s failed...');
      assert.equal(await waitsForLazyDaemon(join(dir, 'patched')), true);
      assert.equal(await waitsForLazyDaemon(join(dir, 'stock')), false);
      assert.equal(await waitsForLazyDaemon(join(dir, 'missing')), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
