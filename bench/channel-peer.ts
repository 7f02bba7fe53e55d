// One end of tern's data channel, for the benchmark's channel probes, run in
// a testbed host's network namespace. Both ends are tern's own code, with
// every check they make in a move, and the testbed's agent certificates
// ($TERN_TESTBED_DIR/pki; SELF is this end's host, PEER the other's).
//   serve ADDR FILE / fetch ADDR DIR: the image stream (DataServer and
//     fetchImages in agent/data.ts, encodeFiles and ChunkReceiver in
//     proto/chunks.ts): what carries the images other than memory pages.
//   sink ADDR DIR / send ADDR FILE: the bulk path that memory pages take in
//     a move: the page stream (openPageChannel), carried inside TLS with the
//     migration's credential and hashed on both sides by tern-relay; the
//     sink stores it where CRIU's page server would.
// fetch and send print bytes and milliseconds as JSON.
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { DataServer, fetchImages, openPageChannel, splitAddress } from '../agent/data.js';
import { TernError } from '../core/errors.js';
import { certFiles } from '../core/pki.js';
import { TESTBED_DIR } from '../deploy/testbed/driver.js';
import { defaultRelayPath, PS_FD, readLength, relayArgs } from '../kernel/relay.js';
import { ChunkReceiver, encodeFiles } from '../proto/chunks.js';
import { GO_TLS } from '../proto/frames.js';

const MIGRATION = 'bench-channel';
const CREDENTIAL = 'b7'.repeat(32);

async function refusePages(): Promise<void> {
  throw new TernError('PERMISSION_DENIED', 'this probe serves images only');
}

async function main(): Promise<void> {
  const [mode, address, path, self, peer] = process.argv.slice(2);
  if (!self || !peer) throw new Error('channel-peer: SELF and PEER host names are required');
  const certs = certFiles(join(TESTBED_DIR, 'pki'), { role: 'agent', name: self });
  const credentialFile = join(path, '..', `credential-${process.pid}`);
  await writeFile(credentialFile, CREDENTIAL, { mode: 0o600 });
  const tls = { ...certs, peer, credentialFile };
  if (mode === 'serve') {
    const server = new DataServer(
      async function* (id, credential, want, from) {
        if (id !== MIGRATION || credential !== CREDENTIAL || want !== 'images' || from !== peer)
          throw new TernError('PERMISSION_DENIED', 'wrong credential');
        yield* encodeFiles([
          { name: 'pages-1.img', data: createReadStream(path, { highWaterMark: 1 << 20 }) },
        ]);
      },
      refusePages,
      certs,
      pino({ level: 'silent' }),
    );
    const [host, port] = splitAddress(address);
    await server.start(host, port);
    process.stdout.write('listening\n');
    return;
  }
  if (mode === 'fetch') {
    const t0 = performance.now();
    const rx = new ChunkReceiver(path);
    for await (const c of fetchImages(address, MIGRATION, CREDENTIAL, { certs, host: peer }))
      await rx.accept(c);
    rx.finish();
    process.stdout.write(`${JSON.stringify({ bytes: rx.stats.rawBytes, ms: performance.now() - t0 })}\n`);
    return;
  }
  if (mode === 'sink') {
    const server = new DataServer(
      () => {
        throw new TernError('PERMISSION_DENIED', 'this probe takes pages only');
      },
      async (id, sock) => {
        if (id !== MIGRATION) throw new TernError('PERMISSION_DENIED', 'not this probe');
        await new Promise<void>((resolve) => sock.write(GO_TLS, () => resolve()));
        const out = join(path, 'pages.img');
        const relay = spawn(
          defaultRelayPath(),
          relayArgs('recv', join(path, 'digest'), tls, ['sh', '-c', `cat <&${PS_FD} > "$1"`, 'sink', out]),
          { stdio: ['ignore', 'inherit', 'inherit', sock] },
        );
        sock.destroy();
        relay.on('close', (code) => {
          void server.stop();
          process.exitCode = code ?? 1;
        });
      },
      certs,
      pino({ level: 'silent' }),
    );
    const [host, port] = splitAddress(address);
    await server.start(host, port);
    process.stdout.write('listening\n');
    return;
  }
  if (mode === 'send') {
    const t0 = performance.now();
    const sock = await openPageChannel(address, MIGRATION);
    const digestFile = `${path}.digest`;
    const relay = spawn(
      defaultRelayPath(),
      relayArgs('send', digestFile, tls, ['sh', '-c', `cat "$1" >&${PS_FD}`, 'send', path]),
      { stdio: ['ignore', 'inherit', 'inherit', sock] },
    );
    sock.destroy();
    const code = await new Promise<number | null>((r) => relay.on('close', r));
    if (code !== 0) throw new Error(`tern-relay exited with ${code}`);
    const ms = performance.now() - t0;
    const d = await readLength(digestFile, 1000);
    process.stdout.write(`${JSON.stringify({ bytes: d.bytes, ms })}\n`);
    return;
  }
  throw new Error(
    'usage: channel-peer serve ADDR FILE | fetch ADDR DIR | sink ADDR DIR | send ADDR FILE, then SELF PEER',
  );
}

main().catch((e) => {
  process.stderr.write(`channel-peer: ${(e as Error).message}\n`);
  process.exit(1);
});
