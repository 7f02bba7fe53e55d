// One end of tern's data channel, for the benchmark's channel probe: run in a
// testbed host's network namespace, it serves a file as a migration's image
// stream (`serve ADDR FILE`), or fetches that stream into a directory and
// prints bytes and milliseconds as JSON (`fetch ADDR DIR`). Both ends are
// tern's own code: DataServer and fetchImages (agent/data.ts), encodeFiles
// and ChunkReceiver (proto/chunks.ts), with every check they make in a move.
import { createReadStream } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { DataServer, fetchImages, splitAddress } from '../agent/data.js';
import { TernError } from '../core/errors.js';
import { ChunkReceiver, encodeFiles } from '../proto/chunks.js';

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
  throw new Error('usage: channel-peer serve ADDR FILE | fetch ADDR DIR');
}

main().catch((e) => {
  process.stderr.write(`channel-peer: ${(e as Error).message}\n`);
  process.exit(1);
});
