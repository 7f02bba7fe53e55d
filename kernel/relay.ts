// tern-relay (kernel/native/tern-relay.c) runs a CRIU command whose page
// stream goes through a socket the agent connected and authenticated, and
// hashes that stream on its way. These helpers build its command line and
// read the digest it leaves.
import { spawn } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TernError } from '../core/errors.js';
import { criuFailure } from './criu-log.js';
import type { PageServerRequest, StreamDigest } from './engine.js';
import { nativePath } from './shim.js';

export const defaultRelayPath = () => nativePath('tern-relay');

/** The network socket is the child's fd 3; CRIU gets its end of the relay as fd 4. */
export const NET_FD = 3;
export const PS_FD = 4;

/** argv (without the relay itself) that runs `command` with its page stream relayed. */
export function relayArgs(direction: 'send' | 'recv', digestFile: string, command: string[]): string[] {
  return [direction, String(NET_FD), String(PS_FD), digestFile, '--', ...command];
}

export function parseDigest(text: string): StreamDigest {
  const m = /^(\d+) ([0-9a-f]{64})\n?$/.exec(text);
  if (!m)
    throw new TernError('DATA_LOSS', `page stream digest unreadable: ${JSON.stringify(text.slice(0, 100))}`);
  return { bytes: Number(m[1]), sha256: m[2] };
}

/** Waits for the relay's digest file (written when the page stream ends). */
export async function readDigest(file: string, timeoutMs: number): Promise<StreamDigest> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined) return parseDigest(text);
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
): Promise<StreamDigest> {
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
  const child = spawn(relayPath, relayArgs('recv', digest, command), {
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
  if (code !== 0) {
    const text = await readFile(log, 'utf8').catch(() => '');
    throw new TernError('DATA_LOSS', criuFailure('page-server', code, text || stderr));
  }
  return readDigest(digest, 1000);
}
