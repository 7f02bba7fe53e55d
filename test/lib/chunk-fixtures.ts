// Helpers shared by the chunk stream's unit tests.
import assert from 'node:assert/strict';
import { type ErrorCode, TernError } from '../../core/errors.js';
import { type ChunkReceiver, type EncodeStats, encodeFiles, type SourceFile } from '../../proto/chunks.js';
import type { ImageChunk, ImageChunk__Output } from '../../proto/index.js';

/** What a gRPC client would hand the receiver: every field present, longs as strings. */
export function toOutput(c: ImageChunk): ImageChunk__Output {
  return {
    file: c.file ?? '',
    offset: String(c.offset ?? 0),
    raw_length: c.raw_length ?? 0,
    data: c.data === undefined ? Buffer.alloc(0) : Buffer.from(c.data as Buffer),
    compressed: c.compressed ?? false,
    crc32: c.crc32 ?? 0,
    eof: c.eof ?? false,
    size: String(c.size ?? 0),
    sha256: c.sha256 ?? '',
    end: c.end ?? false,
    file_count: c.file_count ?? 0,
    source_gone: c.source_gone ?? false,
  };
}

export async function* fromBuffers(...bufs: Buffer[]): AsyncGenerator<Buffer> {
  for (const b of bufs) yield b;
}

export function source(name: string, data: Buffer, pieces = 3): SourceFile {
  const step = Math.max(1, Math.ceil(data.length / pieces));
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += step) parts.push(data.subarray(i, i + step));
  return { name, data: fromBuffers(...parts) };
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Encodes files (not compressed unless asked) into receiver-ready messages. */
export async function encode(
  files: Record<string, Buffer>,
  opts: { compress?: boolean; chunkSize?: number } = { compress: false, chunkSize: 1024 },
  stats?: EncodeStats,
): Promise<ImageChunk__Output[]> {
  const src = Object.entries(files).map(([name, data]) => source(name, data));
  return (await collect(encodeFiles(src, stats, opts))).map(toOutput);
}

export async function feed(rx: ChunkReceiver, chunks: ImageChunk__Output[]): Promise<void> {
  for (const c of chunks) await rx.accept(c);
}

export async function rejects(p: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TernError, `expected a TernError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

export function compressible(n: number): Buffer {
  const line = Buffer.from('the quick brown fox jumps over the lazy dog 0123456789\n');
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += line.length) line.copy(b, i);
  return b;
}
