// The engine and host that daemons in the in-process tier run on: real
// files in real state directories, simulated processes, freezes, dumps and
// links, kept by the World in the test process (world.ts) and reached over an
// IPC channel. A dump writes real image files (an inventory and pages that
// carry the container's simulated memory), so the image stream, its
// checksums and the receiver's checks all run for real. A page stream carries
// the credential exchange tern-relay makes, in plaintext: TLS on it is
// tern-relay's and tested with the real engine.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { TernError } from '../../core/errors.js';
import type { CgroupRoot, ContainerCgroups, Limits } from '../../kernel/cgroups.js';
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
} from '../../kernel/engine.js';
import type { ContainerLaunch, ContainerNet, ExecResult, HostRuntime } from '../../kernel/host.js';
import type { Finding } from '../../kernel/leaks.js';
import { PARENT_LINK } from '../../kernel/precopy.js';
import { type RootfsArchive, TarArchive } from '../../kernel/rootfs-archive.js';
import { NO_WARMTH, type WarmHold } from '../../kernel/warm.js';
import type { Port, Reply, Request } from './world.js';

/** Calls into the World; every call names the host it is made from. */
export class WorldLink {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly port: Port,
    readonly host: string,
  ) {
    port.on('message', (r: Reply) => {
      const p = this.pending.get(r?.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.error) p.reject(new TernError('INTERNAL', r.error.message));
      else p.resolve(r.result);
    });
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.port.postMessage({ id, method, args } satisfies Request);
    });
  }
}

interface Inventory {
  identity: string;
  pagesSha256: string;
}

/** The first line from a socket (the rest stays in it). */
function firstLine(sock: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (b: Buffer) => {
      got = Buffer.concat([got, b]);
      const nl = got.indexOf(10);
      if (nl < 0) return;
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.pause();
      if (nl + 1 < got.length) sock.unshift(got.subarray(nl + 1));
      resolve(got.subarray(0, nl).toString());
    };
    const onEnd = () => reject(new TernError('DATA_LOSS', 'page stream closed before its first line'));
    sock.on('data', onData);
    sock.once('end', onEnd);
    sock.once('close', onEnd);
    sock.resume();
  });
}

/** As CRIU's page transfer does: the pages go to the peer once it took the credential. */
async function sendPages(out: { socket: Socket; tls: PageStreamTls }, pages: Buffer): Promise<PageStream> {
  const sock = out.socket;
  sock.write(`${(await readFile(out.tls.credentialFile, 'utf8')).trim()}\n`);
  const answer = await firstLine(sock);
  if (answer !== 'OK')
    throw new TernError('PERMISSION_DENIED', `the target refused the page stream: ${answer}`);
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.end(pages, () => resolve());
  });
  return { bytes: pages.length };
}

export class SimEngine implements CheckpointEngine {
  constructor(
    private readonly w: WorldLink,
    private readonly pageBytes: number,
  ) {}

  async check(): Promise<EngineInfo> {
    return { ok: true, version: '4.2.1-sim', kernel: 'sim' };
  }

  async dump(req: DumpRequest, hooks: DumpHooks, signal?: AbortSignal): Promise<DumpResult> {
    const t0 = Date.now();
    const { criuPid, identity, memory } = await this.w.call<{
      criuPid: number;
      identity: string;
      memory: string;
    }>('dumpBegin', this.w.host, req.pid, req.workDir, req.holdTimeoutSec);
    const ended = this.w.call<'killed' | 'resumed'>('holdWait', criuPid);
    try {
      if (signal?.aborted) throw signal.reason;
      // The pages carry the memory token first, then filler that does not compress.
      const pages = Buffer.concat([Buffer.from(`${memory}\n`), randomBytes(this.pageBytes)]);
      const pagesSha256 = createHash('sha256').update(pages).digest('hex');
      let sent: PageStream | undefined;
      if (req.pages) {
        sent = await sendPages(req.pages, pages);
      } else {
        await writeFile(join(req.imagesDir, 'pages-1.img'), pages);
      }
      const inv: Inventory = { identity, pagesSha256 };
      await writeFile(join(req.imagesDir, 'inventory.img'), JSON.stringify(inv));
      const frozenAtMs = Date.now();
      await hooks.postDump?.({ imagesDir: req.imagesDir, frozenAtMs, criuPid, pages: sent });
      hooks.verdictSent?.('kill', await this.w.call<boolean>('holdDecide', criuPid, 'kill'));
      return { outcome: await ended, dumpMs: frozenAtMs - t0, frozenAtMs };
    } catch {
      const delivered = await this.w.call<boolean>('holdDecide', criuPid, 'resume');
      hooks.verdictSent?.('resume', delivered);
      return { outcome: await ended, dumpMs: Date.now() - t0, frozenAtMs: 0 };
    }
  }

  lazyPages(): LazyPages {
    throw new TernError('FAILED_PRECONDITION', 'post-copy is not simulated');
  }

  adoptLazyPages(): LazyPages {
    throw new TernError('FAILED_PRECONDITION', 'post-copy is not simulated');
  }

  async postcopyReady(): Promise<string> {
    return 'post-copy is not simulated';
  }

  async precopyReady(): Promise<undefined> {
    return undefined;
  }

  async sentPages(): Promise<number> {
    return 0;
  }

  /** Rounds run so far, by tree: each sends a quarter of what the one before did, as a settling workload would. */
  private readonly rounds = new Map<number, number>();

  async preDump(req: PreDumpRequest): Promise<PreDumpResult> {
    const t0 = Date.now();
    const n = this.rounds.get(req.pid) ?? 0;
    this.rounds.set(req.pid, n + 1);
    const sent = await sendPages(req.pages, randomBytes(Math.max(4096, this.pageBytes >> (2 * n))));
    return { pagesBytes: sent.bytes, ms: Date.now() - t0, frozenMs: 1 };
  }

  async servePages(req: PageServerRequest, signal?: AbortSignal): Promise<PageStream> {
    const parts: Buffer[] = [];
    const onAbort = () => req.socket.destroy();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const want = (await readFile(req.tls.credentialFile, 'utf8')).trim();
      if ((await firstLine(req.socket)) !== want) {
        req.socket.end("ERR not this migration's credential\n");
        throw new TernError('PERMISSION_DENIED', "page stream refused: not this migration's credential");
      }
      req.socket.write('OK\n');
      for await (const b of req.socket) {
        parts.push(b as Buffer);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (signal?.aborted) throw new TernError('CANCELLED', 'page server stopped');
    const pages = Buffer.concat(parts);
    await mkdir(req.imagesDir, { recursive: true });
    // As CRIU does with --prev-images-dir: the link to the round before.
    if (req.parent) await symlink(req.parent, join(req.imagesDir, PARENT_LINK));
    await writeFile(join(req.imagesDir, 'pages-1.img'), pages);
    return { bytes: pages.length };
  }

  decideOrphanHold(workDir: string, verdict: 'kill' | 'resume'): Promise<boolean> {
    return this.w.call('decideOrphanHold', workDir, verdict);
  }

  async liftGates(): Promise<void> {}

  async restore(req: RestoreRequest, signal?: AbortSignal): Promise<RestoreResult> {
    const t0 = Date.now();
    const inv = JSON.parse(await readFile(join(req.imagesDir, 'inventory.img'), 'utf8')) as Inventory;
    const pages = await readFile(join(req.imagesDir, 'pages-1.img'));
    if (createHash('sha256').update(pages).digest('hex') !== inv.pagesSha256)
      throw new TernError('INTERNAL', 'criu restore exited with status 1: pages image corrupt');
    // What the criu-restore fault removes: a file the tree holds open.
    await readFile(join(req.rootfs, 'tern', 'console.log')).catch(() => {
      throw new TernError('INTERNAL', "criu restore exited with status 1: Can't open file tern/console.log");
    });
    const memory = pages.subarray(0, pages.indexOf(10)).toString();
    const { pid } = await this.w.call<{ pid: number }>('restore', this.w.host, inv.identity, memory);
    if (signal?.aborted) {
      await this.w.call('kill', pid);
      throw new TernError('CANCELLED', 'restore cancelled');
    }
    return { pid, shimPid: pid, restoreMs: Date.now() - t0 };
  }

  async processTree(): Promise<ImageProcess[]> {
    return [];
  }

  async cpuinfo(): Promise<Buffer> {
    return Buffer.from('sim-cpu');
  }

  async cpuinfoCompatible(): Promise<{ ok: boolean; detail: string }> {
    return { ok: await this.w.call<boolean>('cpuinfoCompatible'), detail: '' };
  }
}

/** Container cgroups kept in memory: their limits, per name. */
export class SimCgroups implements ContainerCgroups {
  readonly groups = new Map<string, Limits>();
  async init(): Promise<undefined> {
    return undefined;
  }
  async create(name: string, limits: Limits): Promise<void> {
    this.groups.set(name, { ...limits });
  }
  async enter(name: string): Promise<void> {
    if (!this.groups.has(name)) throw new TernError('INTERNAL', `no cgroup ${name}`);
  }
  async read(name: string): Promise<Limits | undefined> {
    return this.groups.get(name);
  }
  procs(name: string): string[] {
    return [`/sim/${name}/cgroup.procs`];
  }
  roots(name: string): CgroupRoot[] {
    return [{ path: `/sim/${name}` }];
  }
  async remove(name: string): Promise<void> {
    this.groups.delete(name);
  }
  async list(): Promise<string[]> {
    return [...this.groups.keys()];
  }
}

export class SimHost implements HostRuntime {
  readonly cgroups = new SimCgroups();
  /** Rootfs directories are real here: tar and find, as on a real host. */
  readonly rootfs: RootfsArchive = new TarArchive();
  constructor(private readonly w: WorldLink) {}

  launch(spec: ContainerLaunch, net: ContainerNet): Promise<{ pid: number; shimPid: number }> {
    return this.w.call('launch', this.w.host, spec.hostname, net.veth);
  }

  unwire(veth: string): Promise<void> {
    return this.w.call('unwire', this.w.host, veth);
  }

  async linkNames(): Promise<Set<string>> {
    return new Set(await this.w.call<string[]>('linkNames', this.w.host));
  }

  async announce(): Promise<void> {}

  async exec(pid: number): Promise<ExecResult> {
    const r = await this.w.call<{ code: number; stdout: string }>('exec', pid);
    return { code: r.code, stdout: Buffer.from(r.stdout), stderr: Buffer.alloc(0) };
  }

  alive(pid: number): Promise<boolean> {
    return this.w.call('alive', pid);
  }

  startTime(pid: number): Promise<string | undefined> {
    return this.w.call('startTime', pid);
  }

  async waitGone(pid: number, timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (await this.alive(pid)) {
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }

  waitExiting(pid: number, timeoutMs: number): Promise<boolean> {
    return this.waitGone(pid, timeoutMs);
  }

  kill(pid: number): void {
    void this.w.call('kill', pid);
  }

  stopTree(root: number): Promise<void> {
    return this.w.call('stopTree', root);
  }

  resumeTree(root: number): Promise<void> {
    return this.w.call('resumeTree', root);
  }

  async treeMemory(): Promise<number> {
    return 64 << 20;
  }

  async leaks(): Promise<Finding[]> {
    return [];
  }

  async diskUsage(): Promise<number> {
    return 1 << 20;
  }

  exitedPid(): Promise<number> {
    return this.w.call('exitedPid', this.w.host);
  }

  async warmMemory(): Promise<WarmHold> {
    return NO_WARMTH;
  }

  /** A simulated host of 64 GiB with 48 GiB available, whatever this machine has. */
  async memory(): Promise<{ available: number; total: number }> {
    return { available: 48 * 2 ** 30, total: 64 * 2 ** 30 };
  }
}
