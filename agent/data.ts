// The data channel: image streams go from the source agent to the target
// agent directly, over one TCP connection per fetch, never through the
// coordinator. The target opens the connection and presents the migration's
// credential (given to both agents by the coordinator); the source serves
// that migration's images only while it holds the frozen tree, and only to
// a fetcher with that credential. Frames are those of proto/frames.ts; the
// target checks every chunk with the same strict receiver as on any path.
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { errorMessage, TernError } from '../core/errors.js';
import {
  chunkFrame,
  errorFrame,
  helloLine,
  MAX_HELLO,
  PAGES_OK,
  parseHello,
  readFrames,
} from '../proto/frames.js';
import type { ImageChunk, ImageChunk__Output } from '../proto/index.js';

/** How long a fetcher has to send its opening line. */
const HELLO_MS = 5000;
/**
 * Connections served at once. A move uses one or two; more means a flood,
 * which must not exhaust the agent's file descriptors or memory.
 */
export const MAX_CONNECTIONS = 64;

/** Serves `images` (a held dump's) or `rootfs` (the pre-copy) of a migration to a fetcher with its credential. */
export type ImageSource = (
  migration: string,
  credential: string,
  want: 'images' | 'rootfs',
) => AsyncGenerator<ImageChunk>;

/**
 * Takes over a page stream for a migration this host receives, if the
 * credential is that migration's: answers PAGES_OK on the socket and hands
 * it to a page server. Throws (and leaves the socket alone) otherwise.
 */
export type PageSink = (migration: string, credential: string, sock: Socket) => Promise<void>;

/** Reads the opening line (up to MAX_HELLO bytes) from a fresh connection. */
function readHello(sock: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const timer = setTimeout(
      () => done(new TernError('DEADLINE_EXCEEDED', 'data channel: no opening line')),
      HELLO_MS,
    );
    const done = (err?: Error, line?: string, rest?: Buffer) => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('error', onEnd);
      sock.off('end', onEnd);
      sock.pause();
      if (rest && rest.length > 0) sock.unshift(rest);
      if (err) reject(err);
      else resolve(line as string);
    };
    const onData = (b: Buffer) => {
      got = Buffer.concat([got, b]);
      const nl = got.indexOf(10);
      if (nl >= 0) return done(undefined, got.subarray(0, nl).toString('latin1'), got.subarray(nl + 1));
      if (got.length > MAX_HELLO)
        done(new TernError('INVALID_ARGUMENT', 'data channel: opening line too long'));
    };
    const onEnd = () => done(new TernError('DATA_LOSS', 'data channel: closed before its opening line'));
    sock.on('data', onData);
    sock.once('error', onEnd);
    sock.once('end', onEnd);
  });
}

/** Settles when the socket can take more, or has closed. */
function drained(sock: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      sock.off('drain', done);
      sock.off('close', done);
      resolve();
    };
    sock.on('drain', done);
    sock.on('close', done);
  });
}

/** Writes chunks as frames with back-pressure: waits for 'drain' when the socket's buffer is full. */
async function serve(sock: Socket, chunks: AsyncIterable<ImageChunk>): Promise<void> {
  for await (const c of chunks) {
    if (sock.destroyed) throw new TernError('CANCELLED', 'data channel: fetcher went away');
    const [head, body] = chunkFrame(c);
    sock.cork();
    sock.write(head);
    const ok = sock.write(body);
    sock.uncork();
    if (!ok) await drained(sock);
  }
  await new Promise<void>((r) => sock.end(r));
}

export class DataServer {
  private server?: Server;
  private readonly open = new Set<Socket>();
  port = 0;

  constructor(
    private readonly images: ImageSource,
    private readonly pages: PageSink,
    private readonly log: Logger,
  ) {}

  async start(host: string, port: number): Promise<number> {
    this.server = createServer((sock) => void this.accept(sock));
    this.server.listen(port, host);
    await once(this.server, 'listening');
    const a = this.server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
    return this.port;
  }

  private async accept(sock: Socket): Promise<void> {
    const refuse = this.open.size >= MAX_CONNECTIONS;
    this.open.add(sock);
    sock.on('close', () => this.open.delete(sock));
    sock.on('error', () => {});
    if (refuse) {
      this.log.warn({ peer: sock.remoteAddress }, 'data channel: too many connections; refused');
      sock.end(
        errorFrame('RESOURCE_EXHAUSTED', `data channel: more than ${MAX_CONNECTIONS} connections at once`),
      );
      // A peer that never closes its end does not keep this one.
      setTimeout(() => sock.destroy(), 2000).unref();
      return;
    }
    sock.setKeepAlive(true, 5000);
    // Many small frames end a stream: without this, Nagle and delayed ACKs hold the last ones back ~40 ms.
    sock.setNoDelay(true);
    let migration = '?';
    try {
      const hello = parseHello(await readHello(sock));
      migration = hello.migration;
      if (hello.want === 'pages') {
        await this.pages(hello.migration, hello.credential, sock);
        this.log.info({ migration, peer: sock.remoteAddress }, 'page stream handed to the page server');
        return;
      }
      const t0 = Date.now();
      await serve(sock, this.images(hello.migration, hello.credential, hello.want));
      this.log.info(
        { migration, ms: Date.now() - t0, bytes: sock.bytesWritten },
        'images served on the data channel',
      );
    } catch (e) {
      const code = e instanceof TernError ? e.code : 'INTERNAL';
      this.log.warn(
        { migration, peer: sock.remoteAddress, err: errorMessage(e) },
        'data channel fetch refused or failed',
      );
      if (!sock.destroyed) sock.end(errorFrame(code, errorMessage(e)));
    }
  }

  async stop(): Promise<void> {
    for (const s of this.open) s.destroy();
    if (this.server) await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

/** host:port → [host, port], refusing anything else; port 0 (pick one) only for a listen address. */
export function splitAddress(address: string, listen = false): [string, number] {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < (listen ? 0 : 1) || port > 65535)
    throw new TernError('INVALID_ARGUMENT', `invalid data channel address ${JSON.stringify(address)}`);
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), port];
}

/**
 * Opens a page stream to a target agent for a migration: connects, presents
 * the credential and waits for the target's page server to accept. The
 * socket is then ready to hand to the dump (nothing else may read from it).
 */
export async function openPageChannel(
  address: string,
  migration: string,
  credential: string,
): Promise<Socket> {
  const [host, port] = splitAddress(address);
  const sock = connect({ host, port });
  sock.setKeepAlive(true, 5000);
  // Many small frames end a stream: without this, Nagle and delayed ACKs hold the last ones back ~40 ms.
  sock.setNoDelay(true);
  sock.on('error', () => {});
  try {
    sock.write(helloLine(migration, credential, 'pages'));
    const answer = await readAnswer(sock);
    if (answer.toString('latin1') === PAGES_OK) return sock;
    // Anything else is an error frame: it says why the target refused.
    const rest = (async function* () {
      yield answer;
      for await (const b of sock) yield b as Buffer;
    })();
    for await (const _ of readFrames(rest));
    throw new TernError('DATA_LOSS', `page stream to ${address}: the target closed it without an answer`);
  } catch (e) {
    sock.destroy();
    throw e instanceof TernError
      ? e
      : new TernError('UNAVAILABLE', `page stream to ${address}: ${errorMessage(e)}`);
  }
}

/** Reads the first bytes of the target's answer (as long as PAGES_OK), leaving the rest in the socket. */
function readAnswer(sock: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const timer = setTimeout(
      () => finish(new TernError('DEADLINE_EXCEEDED', 'page stream: no answer from the target')),
      HELLO_MS,
    );
    const finish = (err?: Error) => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onErr);
      sock.pause();
      if (err) return reject(err);
      if (got.length > PAGES_OK.length) sock.unshift(got.subarray(PAGES_OK.length));
      resolve(got.subarray(0, PAGES_OK.length));
    };
    const onData = (b: Buffer) => {
      got = Buffer.concat([got, b]);
      if (got.length >= PAGES_OK.length) finish();
    };
    const onEnd = () =>
      finish(
        got.length > 0
          ? undefined
          : new TernError('DATA_LOSS', 'page stream: the target closed it unanswered'),
      );
    const onErr = (e: Error) => finish(new TernError('UNAVAILABLE', `page stream: ${e.message}`));
    sock.on('data', onData);
    sock.once('end', onEnd);
    sock.once('error', onErr);
  });
}

/** Fetches a migration's images from a source agent's data channel, as a stream of checked-later chunks. */
export function fetchImages(
  address: string,
  migration: string,
  credential: string,
  want: 'images' | 'rootfs' = 'images',
): AsyncIterable<ImageChunk__Output> & { cancel(): void } {
  const [host, port] = splitAddress(address);
  const sock = connect({ host, port });
  // Errors reach the reader through the iterator; one before it reads must not go unhandled.
  sock.on('error', () => {});
  sock.setKeepAlive(true, 5000);
  // Many small frames end a stream: without this, Nagle and delayed ACKs hold the last ones back ~40 ms.
  sock.setNoDelay(true);
  sock.write(helloLine(migration, credential, want));
  return {
    [Symbol.asyncIterator]: () => readFrames(sock)[Symbol.asyncIterator](),
    cancel: () => sock.destroy(),
  };
}
