// One end of tern's data channel, for the benchmark's channel probes, run in
// a testbed host's network namespace. Both ends are tern's own code, with
// every check they make in a move.
//   serve ADDR FILE / fetch ADDR DIR: the image stream (DataServer and
//     fetchImages in agent/data.ts, encodeFiles and ChunkReceiver in
//     proto/chunks.ts): what carries the images other than memory pages.
//   sink ADDR DIR / send ADDR FILE: the bulk path that memory pages take in
//     a move: the page stream opened with the migration's credential
//     (openPageChannel), carried and hashed on both sides by tern-relay; the
//     sink stores it where CRIU's page server would.
// fetch and send print bytes and milliseconds as JSON.
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { DataServer, fetchImages, openPageChannel, splitAddress } from '../agent/data.js';
import { TernError } from '../core/errors.js';
import { defaultRelayPath, PS_FD, readDigest, relayArgs } from '../kernel/relay.js';
import { ChunkReceiver, encodeFiles } from '../proto/chunks.js';
import { PAGES_OK } from '../proto/frames.js';

const MIGRATION = 'bench-channel';
const CREDENTIAL = 'b7'.repeat(32);

async function refusePages(): Promise<void> {
  throw new TernError('PERMISSION_DENIED', 'this probe serves images only');
}

async function main(): Promise<void> {
  const [mode, address, path] = process.argv.slice(2);
  if (mode === 'serve') {
    const server = new DataServer(
      async function* (id, credential, want) {
        if (id !== MIGRATION || credential !== CREDENTIAL || want !== 'images')
          throw new TernError('PERMISSION_DENIED', 'wrong credential');
        yield* encodeFiles([
          { name: 'pages-1.img', data: createReadStream(path, { highWaterMark: 1 << 20 }) },
        ]);
      },
      refusePages,
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
    for await (const c of fetchImages(address, MIGRATION, CREDENTIAL)) await rx.accept(c);
    rx.finish();
    process.stdout.write(`${JSON.stringify({ bytes: rx.stats.rawBytes, ms: performance.now() - t0 })}\n`);
    return;
  }
  if (mode === 'sink') {
    const server = new DataServer(
      () => {
        throw new TernError('PERMISSION_DENIED', 'this probe takes pages only');
      },
      async (id, credential, sock) => {
        if (id !== MIGRATION || credential !== CREDENTIAL)
          throw new TernError('PERMISSION_DENIED', 'wrong credential');
        await new Promise<void>((resolve) => sock.write(PAGES_OK, () => resolve()));
        const out = join(path, 'pages.img');
        const relay = spawn(
          defaultRelayPath(),
          relayArgs('recv', join(path, 'digest'), ['sh', '-c', `cat <&${PS_FD} > "$1"`, 'sink', out]),
          { stdio: ['ignore', 'inherit', 'inherit', sock] },
        );
        sock.destroy();
        relay.on('close', (code) => {
          void server.stop();
          process.exitCode = code ?? 1;
        });
      },
      pino({ level: 'silent' }),
    );
    const [host, port] = splitAddress(address);
    await server.start(host, port);
    process.stdout.write('listening\n');
    return;
  }
  if (mode === 'send') {
    const t0 = performance.now();
    const sock = await openPageChannel(address, MIGRATION, CREDENTIAL);
    const digestFile = `${path}.digest`;
    const relay = spawn(
      defaultRelayPath(),
      relayArgs('send', digestFile, ['sh', '-c', `cat "$1" >&${PS_FD}`, 'send', path]),
      { stdio: ['ignore', 'inherit', 'inherit', sock] },
    );
    sock.destroy();
    const code = await new Promise<number | null>((r) => relay.on('close', r));
    if (code !== 0) throw new Error(`tern-relay exited with ${code}`);
    const ms = performance.now() - t0;
    const d = await readDigest(digestFile, 1000);
    process.stdout.write(`${JSON.stringify({ bytes: d.bytes, ms })}\n`);
    return;
  }
  throw new Error('usage: channel-peer serve ADDR FILE | fetch ADDR DIR | sink ADDR DIR | send ADDR FILE');
}

main().catch((e) => {
  process.stderr.write(`channel-peer: ${(e as Error).message}\n`);
  process.exit(1);
});
