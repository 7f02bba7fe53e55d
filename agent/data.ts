// The data channel: image streams go from the source agent to the target
// agent directly, over one TCP connection per stream, never through the
// coordinator, inside mutual TLS with the agents' certificates
// (proto/frames.ts has the wire format). Each side accepts only the agent of
// the migration's peer host, and the connecting side presents the
// migration's credential (given to both agents by the coordinator) inside
// TLS. The source serves that migration's images only while it holds the
// frozen tree; the target takes a page stream only for a migration it
// prepared. The target checks every chunk with the same strict receiver as
// on any path.
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { TLSSocket, connect as tlsConnect } from 'node:tls';
import type { Logger } from 'pino';
import { errorMessage, TernError } from '../core/errors.js';
import type { CertFiles } from '../core/pki.js';
import {
  chunkFrame,
  credentialLine,
  errorFrame,
  type FetchWant,
  GO_TLS,
  helloLine,
  MAX_HELLO,
  parseCredential,
  parseHello,
  readFrames,
  type Want,
} from '../proto/frames.js';
import type { ImageChunk, ImageChunk__Output } from '../proto/index.js';
import { checkPeer, identityOf, secureContextOf } from '../proto/tls.js';

/** How long a peer has to send its opening line, and to finish the TLS handshake. */
const HELLO_MS = 5000;
/**
 * Connections served at once. A move uses one or two; more means a flood,
 * which must not exhaust the agent's file descriptors or memory.
 */
export const MAX_CONNECTIONS = 64;

/**
 * Serves `images` (a held dump's; `images-held`: and then says when the
 * source's tree is gone) or `rootfs` (the pre-copy) of a migration to `peer`
 * (the agent that fetches, as its certificate names it) if it is the
 * migration's target and presents its credential.
 */
export type ImageSource = (
  migration: string,
  credential: string,
  want: FetchWant,
  peer: string,
) => AsyncGenerator<ImageChunk>;

/**
 * Takes over a page stream for a migration this host receives: answers
 * GO_TLS on the socket and hands it to a page server, which speaks the TLS
 * and checks the peer and the credential. Throws (and leaves the socket
 * alone) if no such migration waits for pages here.
 */
export type PageSink = (migration: string, sock: Socket, round?: number) => Promise<void>;

/** Reads one line (up to MAX_HELLO bytes) from a connection, leaving the rest in it. */
function readLine(sock: Socket, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const timer = setTimeout(
      () => done(new TernError('DEADLINE_EXCEEDED', `data channel: no ${what}`)),
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
      if (got.length > MAX_HELLO) done(new TernError('INVALID_ARGUMENT', `data channel: ${what} too long`));
    };
    const onEnd = () => done(new TernError('DATA_LOSS', `data channel: closed before its ${what}`));
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

/** Frames gathered into one write (one TLS record batch) before they go out. */
const BATCH_BYTES = 256 * 1024;

/**
 * Writes chunks as frames with back-pressure: waits for 'drain' when the
 * socket's buffer is full. Frames go out in batches: the many small ones of
 * a dump's images (two per file) would each cost a TLS record, a write and a
 * turn of both event loops. A batch goes when it is large, or as soon as the
 * next chunk is not ready at once (its file is still being read or packed).
 */
async function serve(sock: Socket, chunks: AsyncIterable<ImageChunk>): Promise<void> {
  let batch: Buffer[] = [];
  let size = 0;
  const flush = async () => {
    if (size === 0) return;
    const ok = sock.write(batch.length === 1 ? batch[0] : Buffer.concat(batch, size));
    batch = [];
    size = 0;
    if (!ok) await drained(sock);
  };
  const it = chunks[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      const next = it.next();
      let r = await Promise.race([next, new Promise<undefined>((ok) => setImmediate(() => ok(undefined)))]);
      if (!r) {
        await flush();
        r = await next;
      }
      if (r.done) break;
      if (sock.destroyed) throw new TernError('CANCELLED', 'data channel: fetcher went away');
      for (const b of chunkFrame(r.value)) {
        batch.push(b);
        size += b.length;
      }
      if (size >= BATCH_BYTES) await flush();
    }
    done = true;
  } finally {
    // As a for-await loop would: a source left early gets to clean up.
    if (!done) await it.return?.(undefined);
  }
  await flush();
  await new Promise<void>((r) => sock.end(r));
}

/** Resolves once a TLS socket has finished its handshake; refuses after HELLO_MS or on a TLS error. */
function secured(t: TLSSocket, event: 'secure' | 'secureConnect'): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      t.destroy();
      reject(new TernError('DEADLINE_EXCEEDED', `data channel: no TLS handshake within ${HELLO_MS} ms`));
    }, HELLO_MS);
    t.once(event, () => {
      clearTimeout(timer);
      resolve();
    });
    t.once('error', (e) => {
      clearTimeout(timer);
      reject(new TernError('PERMISSION_DENIED', `data channel: TLS handshake failed: ${e.message}`));
    });
  });
}

export class DataServer {
  private server?: Server;
  private readonly open = new Set<Socket>();
  port = 0;

  constructor(
    private readonly images: ImageSource,
    private readonly pages: PageSink,
    private readonly certs: CertFiles,
    private readonly log: Logger,
  ) {}

  async start(host: string, port: number): Promise<number> {
    // The files must be there before anyone connects: refused here, not per connection.
    secureContextOf(this.certs);
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
    // Errors go in plaintext until TLS is up, then inside it.
    let out: Socket = sock;
    try {
      const hello = parseHello(await readLine(sock, 'opening line'));
      migration = hello.migration;
      if (hello.want === 'pages') {
        await this.pages(hello.migration, sock, hello.round);
        this.log.info({ migration, peer: sock.remoteAddress }, 'page stream handed to the page server');
        return;
      }
      sock.write(GO_TLS);
      const t = new TLSSocket(sock, {
        isServer: true,
        secureContext: secureContextOf(this.certs),
        requestCert: true,
        rejectUnauthorized: true,
      });
      t.on('error', () => {});
      out = t;
      await secured(t, 'secure');
      const peer = identityOf(t.getPeerCertificate());
      if (peer?.role !== 'agent')
        throw new TernError(
          'PERMISSION_DENIED',
          `data channel: ${peer ? `${peer.role} ${peer.name}` : 'a peer without a tern identity'} is not an agent`,
        );
      const credential = parseCredential(await readLine(t, 'credential'));
      const t0 = Date.now();
      await serve(t, this.images(hello.migration, credential, hello.want, peer.name));
      this.log.info(
        { migration, peer: peer.name, ms: Date.now() - t0, bytes: sock.bytesWritten },
        'images served on the data channel',
      );
    } catch (e) {
      const code = e instanceof TernError ? e.code : 'INTERNAL';
      this.log.warn(
        { migration, peer: sock.remoteAddress, err: errorMessage(e) },
        'data channel fetch refused or failed',
      );
      if (!out.destroyed) out.end(errorFrame(code, errorMessage(e)));
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

/** The agent at the other end of a stream: who it must be, and our own certificate. */
export interface PeerTls {
  certs: CertFiles;
  /** The peer's host name, as its agent certificate names it. */
  host: string;
}

/**
 * Connects to a peer's data channel and sends the opening line; resolves
 * with the plaintext socket once the peer answers that TLS follows. An error
 * frame instead says why the peer refused.
 */
async function dial(address: string, migration: string, want: Want, round?: number): Promise<Socket> {
  const [host, port] = splitAddress(address);
  const sock = connect({ host, port });
  sock.setKeepAlive(true, 5000);
  // Many small frames end a stream: without this, Nagle and delayed ACKs hold the last ones back ~40 ms.
  sock.setNoDelay(true);
  sock.on('error', () => {});
  try {
    sock.write(helloLine(migration, want, round));
    const answer = await readAnswer(sock);
    if (answer.toString('latin1') === GO_TLS) return sock;
    // Anything else is an error frame: it says why the peer refused.
    const rest = (async function* () {
      yield answer;
      for await (const b of sock) yield b as Buffer;
    })();
    for await (const _ of readFrames(rest));
    throw new TernError('DATA_LOSS', `data channel ${address}: the peer closed it without an answer`);
  } catch (e) {
    sock.destroy();
    throw e instanceof TernError
      ? e
      : new TernError('UNAVAILABLE', `data channel ${address}: ${errorMessage(e)}`);
  }
}

/**
 * Opens a page stream to a target agent for a migration: connects and
 * waits for the target's page server to take it. The plaintext socket is
 * then ready to hand to the dump's tern-relay, which speaks the TLS and
 * presents the credential (nothing else may read from it).
 */
export function openPageChannel(address: string, migration: string, round?: number): Promise<Socket> {
  return dial(address, migration, 'pages', round);
}

/** Reads the first bytes of the peer's answer (as long as GO_TLS), leaving the rest in the socket. */
function readAnswer(sock: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const timer = setTimeout(
      () => finish(new TernError('DEADLINE_EXCEEDED', 'data channel: no answer from the peer')),
      HELLO_MS,
    );
    const finish = (err?: Error) => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onErr);
      sock.pause();
      if (err) return reject(err);
      if (got.length > GO_TLS.length) sock.unshift(got.subarray(GO_TLS.length));
      resolve(got.subarray(0, GO_TLS.length));
    };
    const onData = (b: Buffer) => {
      got = Buffer.concat([got, b]);
      if (got.length >= GO_TLS.length) finish();
    };
    const onEnd = () =>
      finish(
        got.length > 0
          ? undefined
          : new TernError('DATA_LOSS', 'data channel: the peer closed it unanswered'),
      );
    const onErr = (e: Error) => finish(new TernError('UNAVAILABLE', `data channel: ${e.message}`));
    sock.on('data', onData);
    sock.once('end', onEnd);
    sock.once('error', onErr);
  });
}

/** A stream of chunks from a peer's data channel. */
export interface Fetch extends AsyncIterable<ImageChunk__Output> {
  /** Connects (TLS, credential) now, before anything reads: the peer may start sending at once. */
  start(): void;
  cancel(): void;
}

/**
 * Fetches a migration's images (or the rootfs pre-copy) from the source
 * agent's data channel, inside TLS with the source's agent certificate, as
 * a stream of checked-later chunks. It connects when first read, or at
 * start(). `images-held` asks the source to keep the stream open after the
 * images until its tree is gone (ImageChunk.source_gone); a source that
 * does not know it (an older agent) is asked for plain `images` instead.
 */
export function fetchImages(
  address: string,
  migration: string,
  credential: string,
  peer: PeerTls,
  want: FetchWant = 'images',
): Fetch {
  let plain: Socket | undefined;
  let secure: TLSSocket | undefined;
  let cancelled = false;
  let opened: Promise<TLSSocket> | undefined;
  const open = () => {
    opened ??= (async () => {
      plain = await dial(address, migration, want).catch((e) => {
        if (want === 'images-held' && e instanceof TernError && e.code === 'INVALID_ARGUMENT')
          return dial(address, migration, 'images');
        throw e;
      });
      if (cancelled) plain.destroy();
      const t = tlsConnect({
        socket: plain,
        secureContext: secureContextOf(peer.certs),
        servername: peer.host,
        checkServerIdentity: (_name, cert) =>
          checkPeer(cert, { role: 'agent', name: peer.host }, `${address}`),
      });
      secure = t;
      t.on('error', () => {});
      await secured(t, 'secureConnect');
      t.write(credentialLine(credential));
      return t;
    })();
    return opened;
  };
  async function* frames(): AsyncGenerator<ImageChunk__Output> {
    yield* readFrames(await open());
  }
  let it: AsyncGenerator<ImageChunk__Output> | undefined;
  return {
    [Symbol.asyncIterator]: () => {
      it ??= frames();
      return it;
    },
    start: () => {
      // A failure shows to whoever reads the stream.
      open().catch(() => {});
    },
    cancel: () => {
      cancelled = true;
      secure?.destroy();
      plain?.destroy();
    },
  };
}
