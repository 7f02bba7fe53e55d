// The data channel's wire format: the same ImageChunk messages the gRPC
// stream carries, framed over one TCP connection between two agents, inside
// mutual TLS.
//
// The connecting side opens with one plaintext line naming the migration and
// what it wants; the other side answers `TLS` (or an error frame saying why
// not) and both then speak TLS with their agents' certificates, each
// checking that the other is the agent of the migration's peer host. The
// connecting side's first line inside TLS is the migration's credential.
// Image streams then come as frames
//   [type u8][length u32 BE][payload]
// type 1 carries one ImageChunk (protobuf), type 2 an error as JSON
// {code, message} that ends the stream. Every chunk is then checked by the
// same strict receiver as on the gRPC path (chunks.ts). A page stream is
// answered `OK` (or `ERR <why>`) inside TLS and then carries CRIU's page
// server protocol; tern-relay (kernel/native) speaks its TLS.
import protobuf from 'protobufjs';
import { type ErrorCode, TernError } from '../core/errors.js';
import { checkMigrationId } from '../core/names.js';
import { MAX_CHUNK } from './chunks.js';
import { type ImageChunk, type ImageChunk__Output, PROTO_PATH } from './index.js';

const CHUNK = 1;
const ERROR = 2;
const HEADER = 5;
/** A chunk frame carries at most a chunk's data plus its fields. */
const MAX_FRAME = MAX_CHUNK + 64 * 1024;
/**
 * The opening line: `TERN-DATA 2 <migration> <want>`: `images` fetches a
 * held dump's images from a source; `images-held` too, and the stream then
 * stays open after its end until the source's tree is gone, which one more
 * message says (`source_gone`), or the move aborts; `rootfs` fetches the
 * rootfs of a container about to move (the pre-copy); `pages` opens a page
 * stream to a target's page server.
 */
const HELLO = /^TERN-DATA 2 ([A-Za-z0-9_-]{1,64}) (images-held|images|rootfs|pages(?: ([1-9][0-9]?))?)$/;
export type Want = 'images' | 'images-held' | 'pages' | 'rootfs';
/** What a target fetches from a source (the rest is a page stream, which a source opens). */
export type FetchWant = Exclude<Want, 'pages'>;
/** The answer to an opening line the server takes: TLS follows. */
export const GO_TLS = 'TLS\n';
const MAX_HELLO = 256;
const CREDENTIAL = /^[0-9a-f]{64}$/;

let chunkType: protobuf.Type | undefined;
function type(): protobuf.Type {
  // keepCase: field names as in tern.proto, as the gRPC loader gives them.
  chunkType ??= new protobuf.Root().loadSync(PROTO_PATH, { keepCase: true }).lookupType('tern.v1.ImageChunk');
  return chunkType;
}

/** `round`: a pre-copy round's page stream (pages only). */
export function helloLine(migration: string, want: Want = 'images', round?: number): string {
  const r = round && want === 'pages' ? ` ${round}` : '';
  return `TERN-DATA 2 ${checkMigrationId(migration)} ${want}${r}\n`;
}

/** Parses the opening line a peer sent; throws INVALID_ARGUMENT naming what is wrong. */
export function parseHello(line: string): { migration: string; want: Want; round?: number } {
  const m = HELLO.exec(line);
  if (!m)
    throw new TernError(
      'INVALID_ARGUMENT',
      `data channel: malformed opening line ${JSON.stringify(line.slice(0, 80))}`,
    );
  if (m[3]) return { migration: m[1], want: 'pages', round: Number(m[3]) };
  return { migration: m[1], want: m[2] as Want };
}

/** The first line inside TLS: the migration's credential. */
export function credentialLine(credential: string): string {
  return `${parseCredential(credential)}\n`;
}

export function parseCredential(line: string): string {
  if (!CREDENTIAL.test(line))
    throw new TernError('INVALID_ARGUMENT', 'data channel: malformed credential line');
  return line;
}

function header(kind: number, length: number): Buffer {
  const h = Buffer.allocUnsafe(HEADER);
  h.writeUInt8(kind, 0);
  h.writeUInt32BE(length, 1);
  return h;
}

/** One chunk as the two buffers to write (header, body): no copy of the data. */
export function chunkFrame(c: ImageChunk): [Buffer, Buffer] {
  const body = Buffer.from(type().encode(type().fromObject(c)).finish());
  return [header(CHUNK, body.length), body];
}

export function errorFrame(code: ErrorCode, message: string): Buffer {
  const body = Buffer.from(JSON.stringify({ code, message }));
  return Buffer.concat([header(ERROR, body.length), body]);
}

/**
 * Reads chunk frames from a byte stream. An error frame becomes a TernError
 * with the sender's code; a stream that ends inside a frame, or a frame
 * larger than any chunk, is refused.
 */
export async function* readFrames(input: AsyncIterable<Buffer>): AsyncGenerator<ImageChunk__Output> {
  // Pieces not yet consumed, and their total length: a frame is joined once,
  // when all of it has arrived, not re-copied with every piece.
  let pieces: Buffer[] = [];
  let have = 0;
  const take = (n: number): Buffer => {
    const all = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, have);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    pieces = rest.length > 0 ? [rest] : [];
    have = rest.length;
    return out;
  };
  let need = HEADER;
  let kind = 0;
  let inFrame = false;
  for await (const piece of input) {
    pieces.push(piece);
    have += piece.length;
    while (have >= need) {
      if (!inFrame) {
        const h = take(HEADER);
        kind = h.readUInt8(0);
        const len = h.readUInt32BE(1);
        if (len > MAX_FRAME)
          throw new TernError('DATA_LOSS', `data channel: frame of ${len} bytes exceeds ${MAX_FRAME}`);
        need = len;
        inFrame = true;
        continue;
      }
      const body = take(need);
      inFrame = false;
      need = HEADER;
      if (kind === ERROR) {
        let e: { code?: ErrorCode; message?: string } = {};
        try {
          e = JSON.parse(body.toString('utf8'));
        } catch {
          // a malformed error frame is still an error
        }
        throw new TernError(e.code ?? 'INTERNAL', `source: ${e.message ?? 'data channel error'}`);
      }
      if (kind !== CHUNK) throw new TernError('DATA_LOSS', `data channel: unknown frame type ${kind}`);
      yield type().toObject(type().decode(body), { longs: String, defaults: true }) as ImageChunk__Output;
    }
  }
  if (have > 0 || inFrame) throw new TernError('DATA_LOSS', 'data channel: stream ended inside a frame');
}

export { MAX_HELLO };
