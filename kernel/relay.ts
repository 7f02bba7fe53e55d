// tern-relay (kernel/native/tern-relay.c) runs a CRIU command whose page
// stream goes through a socket the agent connected, inside mutual TLS with
// the migration's credential, and counts that stream. These helpers build
// its command line and read the length it leaves.
import { spawn } from 'node:child_process';
import { type FSWatcher, watch } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TernError } from '../core/errors.js';
import { criuHas, WAITS_FOR_LAZY_DAEMON } from './criu-features.js';
import { criuFailure } from './criu-log.js';
import type { LazyPages, PageServerRequest, PageStream, PageStreamTls } from './engine.js';
import { watched } from './exec.js';
import { nativePath } from './shim.js';

export const defaultRelayPath = () => nativePath('tern-relay');

/** The network socket is the child's fd 3; CRIU gets its end of the relay as fd 4. */
export const NET_FD = 3;
export const PS_FD = 4;
/**
 * The page stream's descriptor in a post-copy dump or lazy-pages daemon: it
 * is used only after CRIU has opened its images, so it must sit above the
 * descriptors CRIU hands out meanwhile (a low number would be reused).
 */
export const LAZY_PS_FD = 200;

/** Exit status of tern-relay when the stream was refused (TLS, peer or credential) before the command ran. */
export const REFUSED = 3;

/** argv (without the relay itself) that runs `command` with its page stream relayed. */
export function relayArgs(
  direction: 'send' | 'recv',
  digestFile: string,
  tls: PageStreamTls,
  command: string[],
  localFd = PS_FD,
): string[] {
  return [
    direction,
    String(NET_FD),
    String(localFd),
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

/**
 * Waits for the relay's length file (written when the page stream has ended
 * whole). The source's dump waits on it at post-dump, its tree frozen: woken
 * by inotify when tern-relay renames the file into place, with a slower
 * look now and then in case the watch misses it.
 */
export async function readLength(file: string, timeoutMs: number): Promise<PageStream> {
  const until = Date.now() + timeoutMs;
  let wake: (() => void) | undefined;
  // Set by the watch, so that a rename between a read and the wait is not missed.
  let pinged = false;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), (_event, name) => {
      if (name !== basename(file)) return;
      pinged = true;
      wake?.();
    });
    watcher.on('error', () => {});
  } catch {
    // No watch (the directory is gone, or no inotify): the timer alone.
  }
  try {
    for (;;) {
      pinged = false;
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text !== undefined) return parseLength(text);
      if (Date.now() > until)
        throw new TernError(
          'DATA_LOSS',
          `the page stream did not end within ${Math.round(timeoutMs / 1000)} s`,
        );
      if (pinged) continue;
      await new Promise<void>((r) => {
        const timer = setTimeout(r, LENGTH_POLL_MS);
        wake = () => {
          clearTimeout(timer);
          r();
        };
      });
      wake = undefined;
    }
  } finally {
    watcher?.close();
  }
}

/** How often readLength looks for the length file besides being woken. */
const LENGTH_POLL_MS = 25;

/**
 * The receiving end of a page stream: tern-relay on the authenticated
 * socket (the caller's copy is closed) running `command`, its stderr kept,
 * and what its exit means: the stream whole (its length), refused by
 * tern-relay, or the CRIU command failing (its log says why).
 */
function receiveThrough(
  relayPath: string,
  req: PageServerRequest,
  /** The CRIU command's name (for its failure), its log, and the relay's length file. */
  files: { what: string; length: string; log: string },
  command: string[],
  opts: { localFd?: number; stdin?: 'pipe' | 'ignore'; env?: NodeJS.ProcessEnv } = {},
) {
  const child = spawn(relayPath, relayArgs('recv', files.length, req.tls, command, opts.localFd), {
    stdio: [opts.stdin ?? 'ignore', 'ignore', 'pipe', req.socket],
    env: opts.env,
  });
  req.socket.destroy();
  const proc = watched(child);
  const verdict = async (code: number | null): Promise<PageStream> => {
    if (code === REFUSED)
      throw new TernError(
        'PERMISSION_DENIED',
        `page stream refused: ${relayComplaint(proc.stderr) ?? 'by tern-relay'}`,
      );
    if (code !== 0) {
      const text = await readFile(files.log, 'utf8').catch(() => '');
      throw new TernError(
        'DATA_LOSS',
        criuFailure(files.what, code, text || relayComplaint(proc.stderr) || proc.stderr),
      );
    }
    return readLength(files.length, 1000);
  };
  return { child, exited: proc.exited, verdict };
}

/** Where a sending relay writes the page bytes it sent so far (in a dump's work directory). */
export const SEND_PROGRESS = 'pages.progress';

/** Page stream bytes the relay counted so far (TERN_RELAY_PROGRESS). */
export async function readProgress(file: string): Promise<number> {
  return Number((await readFile(file, 'utf8').catch(() => '0')).trim()) || 0;
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
  const tag = req.tag ? `-${req.tag}` : '';
  const digest = join(req.workDir, `pages${tag}.received`);
  const log = join(req.workDir, `page-server${tag}.log`);
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
  // Pre-copy: the round before's images become this one's parent, so that
  // CRIU can tell the dumping side which pages are already here.
  if (req.parent) command.push('--prev-images-dir', req.parent);
  const { child, exited, verdict } = receiveThrough(
    relayPath,
    req,
    { what: 'page-server', length: digest, log },
    command,
  );
  const onAbort = () => child.kill('SIGTERM');
  signal?.addEventListener('abort', onAbort, { once: true });
  const code = await exited;
  signal?.removeEventListener('abort', onAbort);
  if (signal?.aborted) throw new TernError('CANCELLED', 'page server stopped');
  return verdict(code);
}

/**
 * The target of a post-copy move: takes the authenticated page stream over
 * at once (tern-relay checks the source agent and the credential), but
 * starts `criu lazy-pages` on it only at start(), once the images it reads
 * are complete. The daemon then serves the restored tree's page faults from
 * the stream and fetches the rest in the background; it exits once every
 * page has arrived, or fails when the stream breaks.
 */
export function runLazyPages(criuPath: string, relayPath: string, req: PageServerRequest): LazyPages {
  const restoreWaits = waitsForLazyDaemon(criuPath);
  const length = join(req.workDir, 'pages.received');
  const progress = join(req.workDir, 'pages.progress');
  const log = join(req.workDir, 'lazy-pages.log');
  const command = [
    criuPath,
    'lazy-pages',
    '--page-server',
    '--ps-socket',
    String(LAZY_PS_FD),
    '-D',
    req.imagesDir,
    '-o',
    log,
    '-v4',
  ];
  const { child, exited, verdict } = receiveThrough(
    relayPath,
    req,
    { what: 'lazy-pages', length, log },
    command,
    {
      localFd: LAZY_PS_FD,
      stdin: 'pipe',
      env: { ...process.env, TERN_RELAY_HOLD: 'stdin', TERN_RELAY_PROGRESS: progress },
    },
  );
  child.stdin?.on('error', () => {});
  let code: number | null | undefined;
  const done = exited.then((c) => {
    code = c;
    return verdict(c);
  });
  done.catch(() => {});
  let started: Promise<void> | undefined;
  const start = async () => {
    child.stdin?.end('go\n');
    // The restore can start with the daemon when it waits for the daemon
    // itself; else only once the daemon listens on its socket in the images directory.
    if (await restoreWaits) return;
    const socket = join(req.imagesDir, 'lazy-pages.socket');
    const until = Date.now() + 10_000;
    while (!(await stat(socket).catch(() => undefined))) {
      if (code !== undefined) await done;
      if (Date.now() > until) throw new TernError('INTERNAL', 'criu lazy-pages did not start within 10 s');
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  return {
    start() {
      started ??= start();
      return started;
    },
    moved: () => readProgress(progress),
    done,
    stop() {
      if (code === undefined) child.kill('SIGTERM');
    },
    pid: child.pid ?? 0,
  };
}

/**
 * Whether the CRIU at criuPath has a lazy restore wait for its lazy-pages
 * daemon to listen, so that both can start at once. A stock CRIU tries once
 * and fails if the daemon is not listening yet: tern then starts the
 * restore only when it is.
 */
export function waitsForLazyDaemon(criuPath: string): Promise<boolean> {
  return criuHas(criuPath, WAITS_FOR_LAZY_DAEMON);
}

/**
 * A post-copy page stream an earlier agent started: its tern-relay (pid,
 * checked to be the one working in workDir) runs on, and so does the
 * lazy-pages daemon under it. When the relay is gone, the stream ended whole
 * if it left its length, else pages are missing.
 */
export function followLazyPages(workDir: string, pid: number): LazyPages {
  const ours = async () =>
    (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes(`${workDir}/`);
  const progress = join(workDir, 'pages.progress');
  const done = (async () => {
    while (await ours()) await new Promise((r) => setTimeout(r, 100));
    return readLength(join(workDir, 'pages.received'), 1000).catch(() => {
      throw new TernError('DATA_LOSS', 'the page stream ended before every page had arrived');
    });
  })();
  done.catch(() => {});
  return {
    async start() {
      throw new TernError('FAILED_PRECONDITION', 'an adopted page stream has started already');
    },
    moved: () => readProgress(progress),
    done,
    stop() {
      void ours().then((yes) => {
        if (yes) process.kill(pid, 'SIGTERM');
      });
    },
    pid,
  };
}
