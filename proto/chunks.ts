// The image-chunk stream: how a set of files becomes a sequence of
// ImageChunk messages and back. Both ends are strict: a receiver accepts a
// chunk only if its file name is a plain name, its offset continues the file
// exactly, its crc32 matches, and a file is complete only when its size and
// sha256 match the sender's. Nothing is trusted before those checks pass.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, constants as fsc, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import lz4 from 'lz4';
import { TernError } from '../core/errors.js';
import type { ImageChunk, ImageChunk__Output } from './index.js';

export const CHUNK_SIZE = 1024 * 1024;
/** The largest chunk a receiver accepts (senders may pick any size up to this). */
export const MAX_CHUNK = 8 * 1024 * 1024;

/** A file name we accept from the wire: one path component, no tricks. */
export function checkChunkName(name: string): string {
  if (
    !name ||
    name.length > 255 ||
    name === '.' ||
    name === '..' ||
    name.includes('/') ||
    name.includes('\\') ||
    name.includes('\0') ||
    name.startsWith('.')
  ) {
    throw new TernError(
      'INVALID_ARGUMENT',
      `refusing image chunk with unsafe file name ${JSON.stringify(name)}`,
    );
  }
  return name;
}

export interface SourceFile {
  name: string;
  /** Raw bytes of the file, in order. */
  data: AsyncIterable<Buffer>;
}

/** Splits an async byte stream into pieces of exactly `size` bytes (the last may be shorter). */
export async function* rechunk(input: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let have = 0;
  for await (const buf of input) {
    let b = buf;
    while (b.length > 0) {
      const take = Math.min(size - have, b.length);
      parts.push(b.subarray(0, take));
      have += take;
      b = b.subarray(take);
      if (have === size) {
        yield parts.length === 1 ? parts[0] : Buffer.concat(parts, have);
        parts = [];
        have = 0;
      }
    }
  }
  if (have > 0) yield Buffer.concat(parts, have);
}

export function compressBlock(raw: Buffer): { data: Buffer; compressed: boolean } {
  const out = Buffer.allocUnsafe(lz4.encodeBound(raw.length));
  const n = lz4.encodeBlock(raw, out);
  // encodeBlock returns 0 for incompressible input; send such chunks raw.
  if (n > 0 && n < raw.length) return { data: out.subarray(0, n), compressed: true };
  return { data: raw, compressed: false };
}

export function decompressBlock(data: Buffer, rawLength: number): Buffer {
  const out = Buffer.allocUnsafe(rawLength);
  const n = lz4.decodeBlock(data, out);
  if (n !== rawLength) {
    throw new TernError('DATA_LOSS', `lz4 block did not decode to ${rawLength} bytes (got ${n})`);
  }
  return out;
}

/** A compressed chunk must be at most this fraction of the raw one for compression to go on. */
const PAYS = 0.9;
/** Chunks sent raw after one that did not pay, before lz4 is tried again. */
const PROBE_EVERY = 8;

export interface EncodeStats {
  rawBytes: number;
  wireBytes: number;
  files: number;
}

/** Turns files into chunk messages; counts raw and on-the-wire bytes in `stats`. */
export async function* encodeFiles(
  files: AsyncIterable<SourceFile> | Iterable<SourceFile>,
  stats: EncodeStats = { rawBytes: 0, wireBytes: 0, files: 0 },
  opts: { compress?: boolean; chunkSize?: number } = {},
): AsyncGenerator<ImageChunk> {
  const compress = opts.compress ?? true;
  for await (const f of files) {
    checkChunkName(f.name);
    const hash = createHash('sha256');
    let offset = 0;
    // Compression only where it pays: after a chunk that lz4 could not shrink
    // by a tenth, the next ones of the file go raw, with a new try every
    // PROBE_EVERY chunks in case the content changes (memory is often half
    // random, half zeroes).
    let skip = 0;
    for await (const raw of rechunk(f.data, opts.chunkSize ?? CHUNK_SIZE)) {
      hash.update(raw);
      let packed: { data: Buffer; compressed: boolean } = { data: raw, compressed: false };
      if (compress && skip === 0) {
        packed = compressBlock(raw);
        if (!packed.compressed || packed.data.length > raw.length * PAYS) skip = PROBE_EVERY;
      } else if (skip > 0) skip--;
      stats.rawBytes += raw.length;
      stats.wireBytes += packed.data.length;
      yield {
        file: f.name,
        offset,
        raw_length: raw.length,
        data: packed.data,
        compressed: packed.compressed,
        crc32: crc32(raw),
      };
      offset += raw.length;
    }
    stats.files++;
    yield { file: f.name, offset, eof: true, size: offset, sha256: hash.digest('hex') };
  }
  yield { end: true, file_count: stats.files };
}

interface OpenFile {
  name: string;
  fd: number;
  next: number;
  hash: Hash;
}

/**
 * Files one image stream may carry: CRIU writes a few per process, so this
 * is a tree of tens of thousands of processes; a stream of more is an attack.
 */
export const MAX_FILES = 100_000;

/**
 * Writes a chunk stream into `dir`. Files are created exclusively: a stream
 * that names a file twice, or one that already exists, is refused.
 */
export class ChunkReceiver {
  readonly stats: EncodeStats = { rawBytes: 0, wireBytes: 0, files: 0 };
  readonly received: string[] = [];
  private readonly names = new Set<string>();
  private current: OpenFile | undefined;
  private ended = false;

  constructor(
    private readonly dir: string,
    private readonly limits: { maxBytes?: number; maxFiles?: number } = {},
  ) {}

  async accept(chunk: ImageChunk__Output): Promise<void> {
    if (this.ended) throw new TernError('INVALID_ARGUMENT', 'image chunk after the end of the stream');
    // Only after the end of a held stream, which its reader takes apart (pump).
    if (chunk.source_gone) throw new TernError('INVALID_ARGUMENT', 'source_gone inside an image stream');
    if (chunk.end) {
      if (this.current) {
        throw new TernError('DATA_LOSS', `image stream ended in the middle of ${this.current.name}`);
      }
      if (chunk.file_count !== this.stats.files) {
        throw new TernError(
          'DATA_LOSS',
          `image stream announced ${chunk.file_count} files but carried ${this.stats.files}`,
        );
      }
      this.ended = true;
      return;
    }
    const name = checkChunkName(chunk.file);
    const offset = Number(chunk.offset);
    let cur = this.current;
    if (!cur || cur.name !== name) {
      if (cur)
        throw new TernError('DATA_LOSS', `image file ${cur.name} was not finished before ${name} began`);
      if (offset !== 0)
        throw new TernError('DATA_LOSS', `image file ${name} starts at offset ${offset}, not 0`);
      if (this.names.has(name)) throw new TernError('INVALID_ARGUMENT', `image file ${name} sent twice`);
      const maxFiles = this.limits.maxFiles ?? MAX_FILES;
      if (this.names.size >= maxFiles)
        throw new TernError('RESOURCE_EXHAUSTED', `image set exceeds the ${maxFiles} files allowed`);
      this.names.add(name);
      // Plain synchronous calls: a write lands in the page cache in
      // microseconds, while a round trip through the thread pool per call
      // costs more than that for the many small images a dump has.
      let fd: number;
      try {
        fd = openSync(join(this.dir, name), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        throw new TernError(
          err.code === 'EEXIST' ? 'ALREADY_EXISTS' : 'INTERNAL',
          `cannot create image file ${name}: ${err.message}`,
        );
      }
      cur = { name, fd, next: 0, hash: createHash('sha256') };
      this.current = cur;
    }
    if (offset !== cur.next) {
      throw new TernError('DATA_LOSS', `image file ${name}: chunk at offset ${offset}, expected ${cur.next}`);
    }
    if (chunk.eof) {
      const size = Number(chunk.size);
      const digest = cur.hash.digest('hex');
      closeSync(cur.fd);
      let bad: string | undefined;
      if (size !== cur.next) bad = `image file ${name}: sender says ${size} bytes, received ${cur.next}`;
      else if (digest !== chunk.sha256) bad = `image file ${name}: sha256 mismatch (corrupted in transit)`;
      if (bad) {
        // Leave nothing unverified behind.
        try {
          unlinkSync(join(this.dir, name));
        } catch {
          // already gone
        }
        this.current = undefined;
        throw new TernError('DATA_LOSS', bad);
      }
      this.current = undefined;
      this.received.push(name);
      this.stats.files++;
      return;
    }
    const rawLength = chunk.raw_length;
    if (!Number.isInteger(rawLength) || rawLength < 0 || rawLength > MAX_CHUNK) {
      throw new TernError('DATA_LOSS', `image file ${name}: chunk length ${rawLength} out of range`);
    }
    if (this.limits.maxBytes !== undefined && this.stats.rawBytes + rawLength > this.limits.maxBytes) {
      throw new TernError(
        'RESOURCE_EXHAUSTED',
        `image set exceeds the ${this.limits.maxBytes} bytes allowed`,
      );
    }
    const raw = chunk.compressed ? decompressBlock(chunk.data, chunk.raw_length) : chunk.data;
    if (raw.length !== chunk.raw_length) {
      throw new TernError(
        'DATA_LOSS',
        `image file ${name}: chunk carries ${raw.length} bytes, header says ${chunk.raw_length}`,
      );
    }
    if (crc32(raw) !== chunk.crc32) {
      throw new TernError('DATA_LOSS', `image file ${name}: crc32 mismatch at offset ${offset}`);
    }
    try {
      writeAll(cur.fd, raw, offset);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new TernError(
        err.code === 'ENOSPC' ? 'RESOURCE_EXHAUSTED' : 'INTERNAL',
        err.code === 'ENOSPC'
          ? `no space left for image file ${name} in ${this.dir}`
          : `writing ${name}: ${err.message}`,
      );
    }
    cur.hash.update(raw);
    cur.next += raw.length;
    this.stats.rawBytes += raw.length;
    this.stats.wireBytes += chunk.data.length;
  }

  /** Throws unless the stream ended properly. */
  finish(): EncodeStats {
    if (!this.ended) {
      throw new TernError(
        'DATA_LOSS',
        this.current
          ? `image stream was cut off in ${this.current.name} at ${this.current.next} bytes`
          : 'image stream was cut off before its end marker',
      );
    }
    return this.stats;
  }

  /** Closes and removes a partly written file after a failure. */
  async discard(): Promise<void> {
    const cur = this.current;
    this.current = undefined;
    if (cur) {
      try {
        closeSync(cur.fd);
        unlinkSync(join(this.dir, cur.name));
      } catch {
        // already closed or gone
      }
    }
  }
}

function writeAll(fd: number, buf: Buffer, position: number): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, position + off);
}
