// tern-relay (kernel/native/tern-relay.c) runs a CRIU command whose page
// stream goes through a socket the agent connected, inside mutual TLS with
// the migration's credential, and counts that stream. These helpers build
// its command line and read the length it leaves.
import { spawn } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TernError } from '../core/errors.js';
import { criuFailure } from './criu-log.js';
import type { PageServerRequest, PageStream, PageStreamTls } from './engine.js';
import { nativePath } from './shim.js';

export const defaultRelayPath = () => nativePath('tern-relay');

/** The network socket is the child's fd 3; CRIU gets its end of the relay as fd 4. */
export const NET_FD = 3;
export const PS_FD = 4;

/** Exit status of tern-relay when the stream was refused (TLS, peer or credential) before the command ran. */
export const REFUSED = 3;

/** argv (without the relay itself) that runs `command` with its page stream relayed. */
export function relayArgs(
  direction: 'send' | 'recv',
  digestFile: string,
  tls: PageStreamTls,
  command: string[],
): string[] {
  return [
    direction,
    String(NET_FD),
    String(PS_FD),
    digestFile,
    tls.ca,
    tls.cert,
    tls.key,
    tls.peer,
    tls.credentialFile,
    '--',
    ...command,
  ];
}

/** The relay's own complaint (its last `tern-relay:` line), if it wrote one. */
export function relayComplaint(stderr: string): string | undefined {
  const lines = stderr.split('\n').filter((l) => l.startsWith('tern-relay: '));
  return lines.length ? lines[lines.length - 1].slice('tern-relay: '.length) : undefined;
}

export function parseLength(text: string): PageStream {
  const m = /^(\d+)\n?$/.exec(text);
  if (!m)
    throw new TernError('DATA_LOSS', `page stream length unreadable: ${JSON.stringify(text.slice(0, 100))}`);
  return { bytes: Number(m[1]) };
}

/** Waits for the relay's length file (written when the page stream has ended whole). */
export async function readLength(file: string, timeoutMs: number): Promise<PageStream> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined) return parseLength(text);
    if (Date.now() > until)
      throw new TernError(
        'DATA_LOSS',
        `the page stream did not end within ${Math.round(timeoutMs / 1000)} s`,
      );
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Runs `criu page-server` on an authenticated socket, through tern-relay:
 * serves one dump's pages into req.imagesDir and resolves with the digest of
 * the page stream it received.
 */
export async function runPageServer(
  criuPath: string,
  relayPath: string,
  req: PageServerRequest,
  signal?: AbortSignal,
): Promise<PageStream> {
  const digest = join(req.workDir, 'pages.received');
  const log = join(req.workDir, 'page-server.log');
  await mkdir(req.imagesDir, { recursive: true });
  const command = [
    criuPath,
    'page-server',
    '-D',
    req.imagesDir,
    '-o',
    log,
    '-v4',
    '--ps-socket',
    String(PS_FD),
  ];
  const child = spawn(relayPath, relayArgs('recv', digest, req.tls, command), {
    stdio: ['ignore', 'ignore', 'pipe', req.socket],
  });
  req.socket.destroy();
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const onAbort = () => child.kill('SIGTERM');
  signal?.addEventListener('abort', onAbort, { once: true });
  const code = await new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(-1));
    child.on('close', (c) => resolve(c));
  });
  signal?.removeEventListener('abort', onAbort);
  if (signal?.aborted) throw new TernError('CANCELLED', 'page server stopped');
  if (code === REFUSED)
    throw new TernError(
      'PERMISSION_DENIED',
      `page stream refused: ${relayComplaint(stderr) ?? 'by tern-relay'}`,
    );
  if (code !== 0) {
    const text = await readFile(log, 'utf8').catch(() => '');
    throw new TernError('DATA_LOSS', criuFailure('page-server', code, text || stderr));
  }
  return readLength(digest, 1000);
}
