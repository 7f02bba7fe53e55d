// CheckpointEngine over the `criu` command line. CRIU's RPC needs
// SOCK_SEQPACKET, which Node cannot open, so tern drives the CLI the way
// LXC/Incus do: an action script for the post-dump hold, a log file per run.

import { spawn } from 'node:child_process';
import { constants as fsc, openSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { release } from 'node:os';
import { dirname, join } from 'node:path';
import { TernError } from '../core/errors.js';
import { criuHas, JOINS_EMPTY_NETNS } from './criu-features.js';
import { criuFailure } from './criu-log.js';
import type {
  CheckpointEngine,
  DumpHooks,
  DumpRequest,
  DumpResult,
  EngineInfo,
  ImageProcess,
  LazyPages,
  PageServerRequest,
  PageStream,
  PageStreamTls,
  PreDumpRequest,
  PreDumpResult,
  RestoreRequest,
  RestoreResult,
} from './engine.js';
import { run, type Watched, watched } from './exec.js';
import { decideOrphan, holdScript, sendVerdict } from './hold.js';
import { loadImageTypes, readImage } from './images.js';
import { drainInFlight, gate, gateScript, IFNAME, ungate } from './inflight.js';
import { CRIU_RUNDIR, keepsKdatIn, prepareKdatCache } from './kdat.js';
import { writeUpScript, writeWiringScript } from './netwire.js';
import {
  defaultRelayPath,
  followLazyPages,
  LAZY_PS_FD,
  PS_FD,
  REFUSED,
  readLength,
  readProgress,
  relayArgs,
  relayComplaint,
  runLazyPages,
  runPageServer,
  SEND_PROGRESS,
} from './relay.js';
import { isCriuFailure, restoreUnderShim } from './shim.js';

/** CRIU's arguments for `action` on the tree rooted at pid: its images directory and debug log. */
function treeArgs(action: string, pid: number, imagesDir: string, log: string): string[] {
  return [action, '-t', String(pid), '-D', imagesDir, '-o', log, '-v4'];
}

/** CoreEntry.tc.task_state of a task that was stopped when dumped (criu/include/pid.h). */
const TASK_STOPPED = 3;

export const CRIU_MIN_VERSION = '4.2.1';
const INSTALL_HINT = 'run `make install` (deploy/install.sh) to build CRIU 4.2.1 or newer';

export interface CriuOptions {
  criuPath: string;
  /** Directory with CRIU's images/*.proto; default: <criu dir>/images. */
  protoDir?: string;
  shimPath: string;
  /** tern-relay, which carries and hashes page streams (default: beside tern-shim in dist/native). */
  relayPath?: string;
  /** nftables works with tern's CRIU build; iptables needs the legacy tools. */
  networkLock?: 'nftables' | 'iptables' | 'skip';
  /**
   * How long a dump waits, with new connections held off, for the container
   * to accept the connections already waiting in its listeners' queues
   * (default 1000 ms). Whatever is still waiting then is left behind.
   */
  inFlightDrainMs?: number;
  /** Where this CRIU build keeps criu.kdat (its RUNDIR; default CRIU_RUNDIR, see kdat.ts). */
  kdatDir?: string;
  /** Told about changes the engine makes to the host (a raised limit). */
  onNotice?: (message: string) => void;
}

/** Compares dotted versions numerically: -1, 0, 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export class CriuEngine implements CheckpointEngine {
  private readonly protoDir: string;
  constructor(private readonly opts: CriuOptions) {
    this.protoDir = opts.protoDir ?? join(dirname(opts.criuPath), 'images');
  }

  async check(): Promise<EngineInfo> {
    const kernel = release();
    const v = await run([this.opts.criuPath, '--version']).catch(() => undefined);
    if (v?.code !== 0) {
      return {
        ok: false,
        version: '',
        kernel,
        error: `criu not found at ${this.opts.criuPath}: ${INSTALL_HINT}`,
      };
    }
    const version = /Version:\s*(\S+)/.exec(v.stdout.toString())?.[1] ?? '';
    if (compareVersions(version, CRIU_MIN_VERSION) < 0) {
      return {
        ok: false,
        version,
        kernel,
        error: `criu ${version} is too old (need ${CRIU_MIN_VERSION}+): ${INSTALL_HINT}`,
      };
    }
    // Before the first run of this agent's CRIU, so that `criu check` saves the cache.
    const kdatDir = this.opts.kdatDir ?? CRIU_RUNDIR;
    const cache = (await keepsKdatIn(this.opts.criuPath, kdatDir))
      ? await prepareKdatCache(kdatDir)
      : { ok: false as const, why: `${this.opts.criuPath} was not built to keep it in ${kdatDir}` };
    if (!cache.ok)
      this.opts.onNotice?.(
        `CRIU cannot keep its kernel-feature cache (${cache.why}): every dump and restore probes the kernel again, 25-50 ms more per move`,
      );
    else if (cache.mounted)
      this.opts.onNotice?.(
        `mounted a tmpfs on ${kdatDir} for CRIU's kernel-feature cache (it is not on a tmpfs here)`,
      );
    const c = await run([this.opts.criuPath, 'check'], { timeoutMs: 60_000 });
    if (c.code !== 0) {
      const why = (c.stderr.toString() + c.stdout.toString())
        .split('\n')
        .filter((l) => l.trim() && !/RLIMIT_NOFILE/.test(l))
        .slice(-2)
        .join(' / ');
      return { ok: false, version, kernel, error: `criu check failed: ${why}; ${INSTALL_HINT}` };
    }
    try {
      await stat(join(this.protoDir, 'pstree.proto'));
      // Parsed now, so reading task states at resume adds no parsing to downtime.
      await loadImageTypes(this.protoDir);
    } catch (e) {
      return {
        ok: false,
        version,
        kernel,
        error: `CRIU image definitions missing or unreadable in ${this.protoDir} (${(e as Error).message}): ${INSTALL_HINT}`,
      };
    }
    return { ok: true, version, kernel };
  }

  /**
   * Options every dump and restore takes: the network lock, and file locks
   * (flock, POSIX and OFD locks a container holds move with it).
   */
  private lockArgs(): string[] {
    return ['--network-lock', this.opts.networkLock ?? 'nftables', '--file-locks'];
  }

  /**
   * Dumps the tree and holds it frozen at post-dump (see DumpHooks).
   *
   * Connections that are not yet accepted cannot move: CRIU dumps a listening
   * socket but not the connections waiting in its accept queue (it refuses the
   * whole dump over them unless --skip-in-flight, which leaves them behind),
   * and half-open ones are no socket it dumps at all. Their clients would be
   * reset, or wait for an answer that never comes, once the container runs
   * elsewhere. So before CRIU freezes the tree, new connections are held off
   * at the container's veths (clients retry their SYN after a second, exactly
   * as when the frozen tree's network lock drops it) and the container gets up
   * to `inFlightDrainMs` to accept what is already waiting. A listener nobody
   * accepts on cannot block the move: what is still waiting then is left
   * behind (--skip-in-flight).
   */
  async dump(req: DumpRequest, hooks: DumpHooks, signal?: AbortSignal): Promise<DumpResult> {
    if (signal?.aborted) throw new TernError('CANCELLED', 'dump cancelled before criu dump started');
    await mkdir(req.imagesDir, { recursive: true });
    const hookDir = join(req.workDir, 'hold');
    await rm(hookDir, { recursive: true, force: true });
    await mkdir(hookDir, { recursive: true });
    for (const f of ['ready', 'verdict']) {
      const r = await run(['mkfifo', '-m', '0600', join(hookDir, f)]);
      if (r.code !== 0) throw new TernError('INTERNAL', `mkfifo failed: ${r.stderr.toString().trim()}`);
    }
    const script = join(hookDir, 'hook.sh');
    await writeFile(script, holdScript(hookDir, req.holdTimeoutSec));
    await chmod(script, 0o700);

    const gated = await gate(req.externalVeths, hookDir);
    try {
      await drainInFlight(req.pid, this.opts.inFlightDrainMs ?? 1000, signal);
      if (signal?.aborted) throw new TernError('CANCELLED', 'dump cancelled before criu dump started');
      return await this.dumpHeld(req, hooks, script, hookDir, signal);
    } finally {
      // The hold script lifted the gate already when the hold ended; this is
      // the safety net, and the caller does not wait for it.
      if (gated) void ungate(hookDir);
    }
  }

  private async dumpHeld(
    req: DumpRequest,
    hooks: DumpHooks,
    script: string,
    hookDir: string,
    signal?: AbortSignal,
  ): Promise<DumpResult> {
    // Open the read end without blocking so the script's write never waits on
    // us, and for writing too: the fifo then never reads as ended when the
    // script's first writer (`frozen`) closes, and its second (`ready`) still
    // finds us. The socket owns the fd from here on and closes it on destroy().
    const ready = new Socket({
      fd: openSync(join(hookDir, 'ready'), fsc.O_RDWR | fsc.O_NONBLOCK),
      readable: true,
      writable: false,
    });
    const log = join(req.workDir, 'dump.log');
    const argv = [
      ...treeArgs('dump', req.pid, req.imagesDir, log),
      '--action-script',
      script,
      ...this.lockArgs(),
      // A file the tree holds open but whose name was removed, while other
      // names still link it, is linked back under a temporary name, which
      // travels with the rootfs; restore removes it again.
      '--link-remap',
      // Connections still waiting to be accepted after the drain (see dump)
      // are left behind instead of failing the whole dump.
      '--skip-in-flight',
    ];
    if (req.tcpEstablished) argv.push('--tcp-established');
    // A namespace tern alone configures is not dumped (netwire.ts): its veth neither.
    if (req.emptyNet) argv.push('--empty-ns', 'net');
    else for (const v of req.externalVeths) argv.push('--external', `veth[${v}]`);
    // Pre-copy: only what changed since the last round, linked to its images.
    if (req.parent) argv.push('--track-mem', '--prev-images-dir', req.parent);

    const started = Date.now();
    let frozenAtMs = 0;
    let verdict: 'kill' | 'resume' | undefined;
    // With a page channel, CRIU sends the pages to the peer's page server as
    // it dumps them, through tern-relay, which hashes them on the way. CRIU
    // waits for the page server's "all received" before post-dump, so the
    // pages are all on the peer when the hold begins.
    const sentDigest = join(req.workDir, 'pages.sent');
    // Post-copy: the pages stay in the dump's memory and go over the same
    // stream after the verdict, as the target's lazy-pages daemon asks.
    const pageArgs = req.lazy
      ? ['--lazy-pages', '--ps-socket', String(LAZY_PS_FD)]
      : ['--page-server', '--ps-socket', String(PS_FD)];
    if (req.lazy && !req.pages)
      throw new TernError('INVALID_ARGUMENT', 'a post-copy dump needs a page stream');
    const proc = req.pages
      ? this.sendPagesThrough(
          req.pages,
          req.workDir,
          sentDigest,
          [this.opts.criuPath, ...argv, ...pageArgs],
          req.lazy ? LAZY_PS_FD : PS_FD,
        )
      : watched(spawn(this.opts.criuPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] }));
    const { child, exited } = proc;
    // Cancelling before the tree is frozen stops CRIU, which unfreezes the tree.
    const onAbort = () => {
      if (!frozenAtMs) child.kill('SIGTERM');
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    // The hold script writes `frozen` at network-lock, then `ready` at post-dump.
    const gotReady = new Promise<void>((resolve) => {
      let text = '';
      ready.on('data', (b: Buffer) => {
        text += b.toString();
        for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
          const line = text.slice(0, nl);
          text = text.slice(nl + 1);
          if (line === 'frozen') hooks.frozen?.();
          else resolve();
        }
      });
      ready.on('error', () => {});
    });

    const hookDone = gotReady.then(async () => {
      frozenAtMs = Date.now();
      try {
        // Post-copy pages flow only after the verdict: no length yet.
        const pages = req.pages && !req.lazy ? await readLength(sentDigest, 10_000) : undefined;
        await (hooks.postDump?.({ imagesDir: req.imagesDir, frozenAtMs, criuPid: child.pid ?? 0, pages }) ??
          Promise.resolve());
        verdict = 'kill';
      } catch {
        verdict = 'resume';
      }
      const delivered = await sendVerdict(hookDir, verdict);
      hooks.verdictSent?.(verdict, delivered);
    });

    const code = await Promise.race([exited, hookDone.then(() => exited)]);
    signal?.removeEventListener('abort', onAbort);
    ready.destroy();

    if (!frozenAtMs) {
      // The target refused the page stream: CRIU never started.
      if (req.pages && code === REFUSED)
        throw new TernError(
          'PERMISSION_DENIED',
          `page stream to the target refused: ${relayComplaint(proc.stderr) ?? 'by tern-relay'}`,
        );
      // CRIU failed (or was stopped) before the tree was frozen and dumped.
      const text = await readFile(log, 'utf8').catch(() => proc.stderr);
      throw new TernError(signal?.aborted ? 'CANCELLED' : 'INTERNAL', criuFailure('dump', code, text));
    }
    const dumpMs = frozenAtMs - started;
    if (verdict === 'kill') {
      if (code !== 0) {
        const text = await readFile(log, 'utf8').catch(() => proc.stderr);
        throw new TernError('INTERNAL', `after the post-dump hold, ${criuFailure('dump', code, text)}`);
      }
      return { outcome: 'killed', dumpMs, frozenAtMs };
    }
    // The hook declined: CRIU exits non-zero by design and resumes the tree.
    return { outcome: 'resumed', dumpMs, frozenAtMs };
  }

  private relayPath(): string {
    return this.opts.relayPath ?? defaultRelayPath();
  }

  /**
   * Runs `command` (a CRIU dump or pre-dump) behind tern-relay, which takes
   * the page stream's socket over (ours is closed here), speaks its TLS,
   * writes its length to `digest` at the end and what it has sent so far to
   * the work directory's SEND_PROGRESS file.
   */
  private sendPagesThrough(
    pages: { socket: Socket; tls: PageStreamTls },
    workDir: string,
    digest: string,
    command: string[],
    fd = PS_FD,
  ): Watched {
    const child = spawn(this.relayPath(), relayArgs('send', digest, pages.tls, command, fd), {
      stdio: ['ignore', 'ignore', 'pipe', pages.socket],
      env: { ...process.env, TERN_RELAY_PROGRESS: join(workDir, SEND_PROGRESS) },
    });
    // The child has its own copy of the socket now; ours must not read from it.
    pages.socket.destroy();
    return watched(child);
  }

  /** `criu check --feature NAME`: undefined when present, else CRIU's last line about it. */
  private async missingFeature(name: string): Promise<string | undefined> {
    const c = await run([this.opts.criuPath, 'check', '--feature', name], { timeoutMs: 60_000 });
    if (c.code === 0) return undefined;
    return `criu check --feature ${name}: ${(c.stderr.toString() + c.stdout.toString()).trim().split('\n').pop() ?? ''}`;
  }

  servePages(req: PageServerRequest, signal?: AbortSignal): Promise<PageStream> {
    return runPageServer(this.opts.criuPath, this.relayPath(), req, signal);
  }

  lazyPages(req: PageServerRequest): LazyPages {
    return runLazyPages(this.opts.criuPath, this.relayPath(), req);
  }

  adoptLazyPages(workDir: string, pid: number): LazyPages {
    return followLazyPages(workDir, pid);
  }

  private uffd?: Promise<string | undefined>;

  /**
   * Post-copy needs userfaultfd (CRIU's uffd-noncoop feature) and, for a
   * process without CAP_SYS_RESOURCE, a pipe size limit of at least 4 MiB:
   * CRIU's lazy page transfer grows its pipes to that size and, when it
   * cannot, fails later splicing into a pipe it never made (on the source,
   * once the tree already runs on the target: the container is lost). Such
   * a host gets the limit raised (fs.pipe-max-size) with a log line. The
   * limit is read again at every move, not once: an operator or a sysctl
   * reload may lower it while the agent runs.
   */
  async postcopyReady(): Promise<string | undefined> {
    this.uffd ??= this.missingFeature('uffd-noncoop');
    const p = this.uffd;
    const missing = await p;
    if (missing) {
      // A kernel feature does not come back within a boot, but a failed probe may: ask again next time.
      if (this.uffd === p) this.uffd = undefined;
      return `this kernel lacks what CRIU's lazy pages need (${missing})`;
    }
    return raisePipeLimit(this.opts.onNotice);
  }

  private precopy?: Promise<string | undefined>;

  precopyReady(): Promise<string | undefined> {
    this.precopy ??= this.missingFeature('mem_dirty_track').then((missing) =>
      missing
        ? `this kernel cannot track which pages a process writes (${missing}; soft-dirty bits need CONFIG_MEM_SOFT_DIRTY)`
        : undefined,
    );
    return this.precopy;
  }

  /**
   * One pre-copy round: `criu pre-dump --track-mem` freezes the tree only to
   * collect the pages written since the round before (all of them the first
   * time), lets it run on, and sends them to the target's page server over
   * the authenticated page stream, as a dump does.
   */
  async preDump(req: PreDumpRequest, signal?: AbortSignal): Promise<PreDumpResult> {
    if (signal?.aborted) throw new TernError('CANCELLED', 'pre-dump cancelled before it started');
    await mkdir(req.imagesDir, { recursive: true });
    const log = join(req.imagesDir, 'pre-dump.log');
    const sent = join(req.imagesDir, 'pages.sent');
    const argv = [
      this.opts.criuPath,
      ...treeArgs('pre-dump', req.pid, req.imagesDir, log),
      '--track-mem',
      ...(req.parent ? ['--prev-images-dir', req.parent] : []),
      '--page-server',
      '--ps-socket',
      String(PS_FD),
    ];
    const started = Date.now();
    const proc = this.sendPagesThrough(req.pages, req.workDir, sent, argv);
    const { child, exited } = proc;
    const onAbort = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    const code = await exited;
    signal?.removeEventListener('abort', onAbort);
    if (signal?.aborted) throw new TernError('CANCELLED', 'pre-dump cancelled');
    if (code === REFUSED)
      throw new TernError(
        'PERMISSION_DENIED',
        `page stream to the target refused: ${relayComplaint(proc.stderr) ?? 'by tern-relay'}`,
      );
    if (code !== 0) {
      const text = await readFile(log, 'utf8').catch(() => proc.stderr);
      throw new TernError('INTERNAL', criuFailure('pre-dump', code, text));
    }
    const { bytes } = await readLength(sent, 10_000);
    const [stats] = await readImage(this.protoDir, req.imagesDir, 'stats').catch(() => []);
    const frozenUs = Number((stats?.dump as { frozen_time?: number } | undefined)?.frozen_time ?? 0);
    return { pagesBytes: bytes, ms: Date.now() - started, frozenMs: Math.round(frozenUs / 1000) };
  }

  sentPages(workDir: string): Promise<number> {
    return readProgress(join(workDir, SEND_PROGRESS));
  }

  decideOrphanHold(workDir: string, verdict: 'kill' | 'resume', waitMs?: number): Promise<boolean> {
    return decideOrphan(join(workDir, 'hold'), verdict, waitMs);
  }

  async liftGates(veths: string[]): Promise<void> {
    // A gate a dump on this host once left on a veth of the same name (see
    // gateScript; nftables attaches it to a new device of that name) would
    // hold off the restored tree's new connections.
    const names = veths.filter((v) => IFNAME.test(v));
    if (names.length)
      await run(['nft', '-f', '-'], { input: gateScript(names, true), timeoutMs: 10_000 }).catch(
        () => undefined,
      );
  }

  /**
   * Aborting `signal` while CRIU restores kills `criu restore` and every task
   * it created (the restored pid namespace dies with its init, its net
   * namespace and veth with it) and rejects with CANCELLED.
   */
  async restore(req: RestoreRequest, signal?: AbortSignal): Promise<RestoreResult> {
    if (signal?.aborted) throw new TernError('CANCELLED', 'restore cancelled before criu restore started');
    await mkdir(req.workDir, { recursive: true });
    const pidfile = join(req.workDir, `restore-${Date.now()}.pid`);
    const log = join(req.workDir, 'restore.log');
    await rm(log, { force: true });
    const argv = [
      this.opts.criuPath,
      'restore',
      '-D',
      req.imagesDir,
      '-o',
      log,
      '-v4',
      '--root',
      req.rootfs,
      '-d',
      '-s',
      '--pidfile',
      pidfile,
      ...this.lockArgs(),
    ];
    if (req.tcpEstablished) argv.push('--tcp-established');
    if (req.lazy) argv.push('--lazy-pages');
    if (req.wire && req.netns)
      argv.push(
        '--empty-ns',
        'net',
        '--join-ns',
        `net:${req.netns}`,
        '--action-script',
        await writeUpScript(req.workDir, req.wire.veth),
      );
    else if (req.wire)
      argv.push('--empty-ns', 'net', '--action-script', await writeWiringScript(req.workDir, req.wire));
    else for (const v of req.veths) argv.push('--external', `veth[${v.inner}]:${v.outer}@${v.bridge}`);
    // The source's cgroup paths become this host's; CRIU finds the cgroup
    // made with the limits and only moves the tasks in ("soft" mode).
    for (const r of req.cgroupRoots ?? [])
      argv.push('--cgroup-root', r.controller ? `${r.controller}:${r.path}` : r.path);
    const started = Date.now();
    const r = await restoreUnderShim(this.opts.shimPath, argv, {
      pidfile,
      log: join(req.workDir, 'restore.out'),
      exitFile: req.exitFile,
      timeoutMs: 300_000,
      signal,
    });
    if (r.failure) {
      if (!isCriuFailure(r.failure)) throw new TernError('INTERNAL', `restore failed: ${r.failure}`);
      const text = await readFile(log, 'utf8').catch(() => '');
      const m = /status (\d+)/.exec(r.failure);
      throw new TernError('INTERNAL', criuFailure('restore', m ? Number(m[1]) : null, text || r.failure));
    }
    return { pid: r.pid, shimPid: r.shimPid, restoreMs: Date.now() - started };
  }

  joinsNetns(): Promise<boolean> {
    return criuHas(this.opts.criuPath, JOINS_EMPTY_NETNS);
  }

  async processTree(imagesDir: string): Promise<ImageProcess[]> {
    const entries = await readImage(this.protoDir, imagesDir, 'pstree');
    const out: ImageProcess[] = [];
    for (const e of entries) {
      const pid = Number(e.pid);
      const [core] = await readImage(this.protoDir, imagesDir, 'core', pid);
      const tc = core?.tc as { task_state?: number; stop_signo?: number } | undefined;
      out.push({
        pid,
        ppid: Number(e.ppid),
        pgid: Number(e.pgid),
        sid: Number(e.sid),
        threads: (e.threads as number[]).map(Number),
        stopped: tc?.task_state === TASK_STOPPED,
        stopSigno: tc?.task_state === TASK_STOPPED ? tc.stop_signo || undefined : undefined,
      });
    }
    return out;
  }

  async cpuinfo(workDir: string): Promise<Buffer> {
    // A directory of its own: two probes at once must not remove each other's files.
    await mkdir(workDir, { recursive: true });
    const dir = await mkdtemp(join(workDir, 'cpuinfo-'));
    try {
      const r = await run([this.opts.criuPath, 'cpuinfo', 'dump', '-D', dir, '-o', join(dir, 'log')]);
      if (r.code !== 0) throw new TernError('INTERNAL', 'criu cpuinfo dump failed');
      return await readFile(join(dir, 'cpuinfo.img'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Checks another host's CPU description against this host (criu cpuinfo check). */
  async cpuinfoCompatible(workDir: string, other: Buffer): Promise<{ ok: boolean; detail: string }> {
    // A directory of its own: a check that named it after the pid and the
    // millisecond shared it with one made at the same time (CheckTarget and
    // PrepareTarget), whose clean-up then removed this one's image and log.
    await mkdir(workDir, { recursive: true });
    const dir = await mkdtemp(join(workDir, 'cpucheck-'));
    try {
      await writeFile(join(dir, 'cpuinfo.img'), other);
      const log = join(dir, 'log');
      const r = await run([this.opts.criuPath, 'cpuinfo', 'check', '-D', dir, '-o', log]);
      const text = await readFile(log, 'utf8').catch(() => '');
      return {
        ok: r.code === 0,
        detail: r.code === 0 ? 'compatible' : criuFailure('cpuinfo check', r.code, text),
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** What CRIU's lazy page transfer grows its pipes to (criu/page-pipe.c). */
const LAZY_PIPE_BYTES = 4 << 20;
const PIPE_MAX = '/proc/sys/fs/pipe-max-size';

let sysResource: Promise<boolean> | undefined;

/** CAP_SYS_RESOURCE lets a process grow a pipe past fs.pipe-max-size (read once: it does not change). */
function hasSysResource(): Promise<boolean> {
  sysResource ??= readFile('/proc/self/status', 'utf8').then((status) => {
    const eff = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1] ?? '0'}`);
    return ((eff >> 24n) & 1n) === 1n;
  });
  return sysResource;
}

/** Raises fs.pipe-max-size to what lazy pages need, where that is needed; returns why it cannot. */
async function raisePipeLimit(notice?: (message: string) => void): Promise<string | undefined> {
  if (await hasSysResource()) return undefined;
  const now = Number((await readFile(PIPE_MAX, 'utf8').catch(() => '0')).trim());
  if (now >= LAZY_PIPE_BYTES) return undefined;
  try {
    await writeFile(PIPE_MAX, String(LAZY_PIPE_BYTES));
  } catch (e) {
    return `post-copy needs ${PIPE_MAX} >= ${LAZY_PIPE_BYTES} (it is ${now}, and this agent lacks CAP_SYS_RESOURCE) and it could not be raised: ${(e as Error).message}`;
  }
  notice?.(
    `raised ${PIPE_MAX} from ${now} to ${LAZY_PIPE_BYTES}: CRIU's lazy page transfer needs pipes of that size and this agent lacks CAP_SYS_RESOURCE`,
  );
  return undefined;
}
