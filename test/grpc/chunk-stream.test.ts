// The image-chunk stream over real gRPC on loopback: an Agent server whose
// only handler is ReadImages, a client feeding a ChunkReceiver.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ErrorCode, TernError } from '../../core/errors.js';
import { ChunkReceiver, type EncodeStats, encodeFiles, type SourceFile } from '../../proto/chunks.js';
import {
  type AgentClient,
  type AgentHandlers,
  agentClient,
  bindServer,
  grpc,
  type ImageChunk,
  SERVER_OPTIONS,
  ternProto,
} from '../../proto/index.js';
import { fromServiceError, toServiceError, writeWithBackpressure } from '../../proto/rpc.js';
import { testCert } from '../lib/pki.js';

const MiB = 1024 * 1024;

/** Source files, written once: name -> size and sha256. */
const FILES: Record<string, Buffer> = {};

function makeFiles(): void {
  const text = Buffer.from(
    '(00.004567) Dumping pages of pid 4242: vma 7f3a00000000-7f3a00400000 anon private\n',
  );
  const compressible = Buffer.alloc(5 * MiB + 123);
  for (let i = 0; i < compressible.length; i += text.length) text.copy(compressible, i);
  FILES['pages-1.img'] = randomBytes(5 * MiB + 7);
  FILES['rootfs.tar'] = compressible;
  FILES['inventory.img'] = randomBytes(300);
  FILES['empty.img'] = Buffer.alloc(0);
}

type Mode = 'ok' | 'corrupt' | 'tamper-crc' | 'cut' | 'fail';

describe('chunk stream over gRPC', function () {
  this.timeout(30_000);

  let dir: string;
  let srcDir: string;
  let server: grpc.Server;
  let client: AgentClient;
  /** What the server's encoder counted, per migration_id. */
  const serverStats = new Map<string, EncodeStats>();
  /** How each server-side handler ended, per migration_id. */
  const serverDone = new Map<string, Promise<string>>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tern-grpc-chunks-'));
    srcDir = join(dir, 'src');
    await mkdir(srcDir);
    makeFiles();
    for (const [name, data] of Object.entries(FILES)) await writeFile(join(srcDir, name), data);

    server = new grpc.Server(SERVER_OPTIONS);
    const handlers: Partial<AgentHandlers> = {
      ReadImages: (call) => {
        const id = call.request.migration_id;
        const mode = id.split(':')[0] as Mode;
        const stats: EncodeStats = { rawBytes: 0, wireBytes: 0, files: 0 };
        serverStats.set(id, stats);
        const sources = (function* (): Generator<SourceFile> {
          for (const name of Object.keys(FILES)) {
            yield { name, data: createReadStream(join(srcDir, name), { highWaterMark: 256 * 1024 }) };
          }
          if (mode === 'fail') yield { name: '../escape', data: (async function* () {})() };
        })();
        serverDone.set(
          id,
          (async () => {
            let sent = 0;
            let tampered = false;
            for await (const chunk of encodeFiles(sources, stats)) {
              if (call.cancelled) return 'cancelled';
              let msg: ImageChunk = chunk;
              if (
                !tampered &&
                chunk.file === 'pages-1.img' &&
                !chunk.eof &&
                Number(chunk.offset) === 2 * MiB
              ) {
                assert.equal(chunk.compressed, false, 'random data should travel raw');
                if (mode === 'corrupt') {
                  const data = Buffer.from(chunk.data as Buffer);
                  data[1000] ^= 0x80;
                  msg = { ...chunk, data };
                  tampered = true;
                } else if (mode === 'tamper-crc') {
                  msg = { ...chunk, crc32: ((chunk.crc32 as number) ^ 1) >>> 0 };
                  tampered = true;
                } else if (mode === 'cut') {
                  break;
                }
              }
              await writeWithBackpressure(call, msg);
              sent++;
            }
            call.end();
            return `ended after ${sent}`;
          })().catch((e) => {
            // emit('error'), not destroy(): grpc-js sends no status for a destroyed server stream.
            if (!call.cancelled) call.emit('error', toServiceError(e));
            return e instanceof TernError ? e.code : String(e);
          }),
        );
      },
    };
    server.addService(ternProto().tern.v1.Agent.service, handlers as AgentHandlers);
    const port = await bindServer(server, '127.0.0.1:0', await testCert({ role: 'agent', name: 'hostA' }));
    client = agentClient(
      `127.0.0.1:${port}`,
      await testCert({ role: 'coordinator', name: 'coordinator' }),
      'hostA',
    );
  });

  after(async () => {
    client?.close();
    if (server) await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  let seq = 0;
  /** Pulls migration `mode` into a fresh directory, as the agent does: cancel and discard on failure. */
  async function pull(mode: Mode, opts: { maxBytes?: number } = {}) {
    const id = `${mode}:${++seq}`;
    const out = join(dir, `out-${seq}`);
    await mkdir(out);
    const rx = new ChunkReceiver(out, opts);
    const stream = client.ReadImages({ migration_id: id });
    try {
      for await (const chunk of stream) await rx.accept(chunk);
      return { id, out, rx, stats: rx.finish() };
    } catch (e) {
      stream.cancel();
      await rx.discard();
      const err = e instanceof TernError ? e : fromServiceError(e, 'image stream');
      Object.assign(err, { out, id });
      throw err;
    }
  }

  async function pullFails(mode: Mode, code: ErrorCode, message: RegExp) {
    let failure: (TernError & { out?: string; id?: string }) | undefined;
    await assert.rejects(pull(mode), (e: unknown) => {
      assert.ok(e instanceof TernError, `expected a TernError, got ${String(e)}`);
      assert.equal(e.code, code, e.message);
      assert.match(e.message, message);
      failure = e;
      return true;
    });
    return failure as TernError & { out: string; id: string };
  }

  it('delivers every file byte-identically, compressing what compresses', async () => {
    const { id, out, rx, stats } = await pull('ok');
    assert.deepEqual((await readdir(out)).sort(), Object.keys(FILES).sort());
    for (const [name, data] of Object.entries(FILES)) {
      const got = await readFile(join(out, name));
      assert.equal(got.length, data.length, name);
      assert.equal(
        createHash('sha256').update(got).digest('hex'),
        createHash('sha256').update(data).digest('hex'),
        name,
      );
    }
    assert.deepEqual(rx.received, Object.keys(FILES));

    const raw = Object.values(FILES).reduce((n, b) => n + b.length, 0);
    assert.equal(stats.rawBytes, raw);
    assert.equal(stats.files, 4);
    assert.ok(stats.wireBytes < stats.rawBytes, `wire ${stats.wireBytes} >= raw ${stats.rawBytes}`);
    // The random half cannot shrink, so the saving comes from rootfs.tar.
    assert.ok(stats.wireBytes < raw - 4 * MiB, `wire ${stats.wireBytes}`);
    assert.ok(stats.wireBytes > FILES['pages-1.img'].length, `wire ${stats.wireBytes}`);
    assert.deepEqual(stats, serverStats.get(id));
    // pages-1.img and rootfs.tar: 6 data chunks + eof each; inventory.img: 1 + eof; empty.img: eof; end.
    assert.equal(await serverDone.get(id), `ended after ${7 + 7 + 2 + 1 + 1}`);
  });

  it('rejects a chunk whose data was corrupted in transit', async () => {
    const e = await pullFails(
      'corrupt',
      'DATA_LOSS',
      /^image file pages-1\.img: crc32 mismatch at offset 2097152$/,
    );
    // pages-1.img comes first: its partial copy is gone and nothing after it was created.
    assert.deepEqual(await readdir(e.out), []);
    // Depending on timing the server saw the cancellation or had already written everything.
    const ended = await serverDone.get(e.id);
    assert.ok(['cancelled', 'CANCELLED', 'ended after 18'].includes(ended as string), ended);
  });

  it('rejects a chunk whose crc32 was tampered with', async () => {
    const e = await pullFails(
      'tamper-crc',
      'DATA_LOSS',
      /^image file pages-1\.img: crc32 mismatch at offset 2097152$/,
    );
    assert.ok(!(await readdir(e.out)).includes('pages-1.img'));
  });

  it('reports a stream that ends without its end marker as cut off', async () => {
    const e = await pullFails(
      'cut',
      'DATA_LOSS',
      /^image stream was cut off in pages-1\.img at 2097152 bytes$/,
    );
    assert.deepEqual(await readdir(e.out), []);
    assert.equal(await serverDone.get(e.id), 'ended after 2');
  });

  it('carries a server-side TernError to the client with its code and message', async () => {
    const e = await pullFails(
      'fail',
      'INVALID_ARGUMENT',
      /^refusing image chunk with unsafe file name "\.\.\/escape"$/,
    );
    assert.equal(await serverDone.get(e.id), 'INVALID_ARGUMENT');
    // Everything before the failure arrived intact, but the stream never finished.
    assert.deepEqual((await readdir(e.out)).sort(), Object.keys(FILES).sort());
  });

  it('stops a stream that exceeds the receiver limit', async () => {
    await assert.rejects(pull('ok', { maxBytes: 3 * MiB }), (e: unknown) => {
      assert.ok(e instanceof TernError);
      assert.equal(e.code, 'RESOURCE_EXHAUSTED');
      assert.equal(e.message, `image set exceeds the ${3 * MiB} bytes allowed`);
      return true;
    });
  });
});
