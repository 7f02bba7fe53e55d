// The engine and host behind the scale run's simulated agents: the in-process
// tier's SimEngine and SimHost (test/inproc/fakes.ts) over a World
// (test/inproc/world.ts) held in the same process as the agents, called
// directly instead of over an IPC channel. A dump is a timed no-op
// (World.delays.dumpMs) that sends real page bytes to the target's page
// server and writes a real inventory; a restore is a timed no-op
// (delays.restoreMs) that checks the pages' checksum. The rootfs moves as
// real tar bytes without a tar or find process per move (SimRootfsArchive).
// Everything else an agent does in a move (the data channel inside TLS,
// the images, container records, outcome records) runs as in production. Containers are said to hold SimTiming.memoryBytes of memory
// (what a move reports and plans room for); a sample of it, pageBytes of
// real bytes, crosses the page stream.
import { randomBytes } from 'node:crypto';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONSOLE, type Containers } from '../../agent/containers.js';
import { randomMac } from '../../agent/policy.js';
import { TernError } from '../../core/errors.js';
import { validateAddress } from '../../core/net.js';
import type { HostRuntime } from '../../kernel/host.js';
import { type DeltaUnpacker, type RootfsArchive, TarArchive } from '../../kernel/rootfs-archive.js';
import { SimEngine, SimHost, WorldLink } from '../../test/inproc/fakes.js';
import { World } from '../../test/inproc/world.js';

/** A WorldLink whose calls run on a World in this process. */
export class LocalLink extends WorldLink {
  constructor(
    private readonly world: World,
    host: string,
  ) {
    super({ on: () => undefined, postMessage: () => undefined }, host);
  }

  override call<T>(method: string, ...args: unknown[]): Promise<T> {
    const fn = (this.world as unknown as Record<string, (...a: unknown[]) => unknown>)[method];
    if (typeof fn !== 'function' || method === 'serve')
      return Promise.reject(new TernError('INTERNAL', `no world method ${method}`));
    // As over the IPC channel: a failure comes back as a TernError with the world's message.
    return Promise.resolve()
      .then(() => fn.apply(this.world, args) as T)
      .catch((e: Error) => {
        throw new TernError('INTERNAL', e.message);
      });
  }
}

export interface SimTiming {
  /** How long a dump runs before the tree is frozen and held. */
  dumpMs: number;
  /** How long a restore runs. */
  restoreMs: number;
  /** Bytes of memory pages each dump sends to the target (real bytes, a sample of the memory). */
  pageBytes: number;
  /** The memory a container is said to have (what the source measures before a move). */
  memoryBytes: number;
}

/**
 * The simulated containers' rootfs on the move. Every container of a worker
 * starts from the same rootfs and never writes to it, so its tar is made
 * once (by tar) and every pre-copy sends those bytes through the data
 * channel, hashed and checked as any; the target then gets a copy of that
 * rootfs (what unpacking the tar gives), and no path changed after the
 * pre-copy's marker. A thousand agents in a few processes would otherwise
 * spawn three processes per move, each fork as slow as the process is
 * large: load that real agents, each on a host of its own, do not share.
 */
export class SimRootfsArchive implements RootfsArchive {
  private readonly real = new TarArchive();
  private tar?: Promise<Buffer>;

  constructor(private readonly base: string) {}

  async *pack(rootfs: string, paths?: string[], live = false): AsyncGenerator<Buffer> {
    if (paths) {
      yield* this.real.pack(rootfs, paths, live);
      return;
    }
    this.tar ??= (async () => {
      const parts: Buffer[] = [];
      for await (const b of this.real.pack(this.base)) parts.push(b);
      return Buffer.concat(parts);
    })();
    yield await this.tar;
  }

  async changes(): Promise<{ changed: string[]; dirs: string[] }> {
    return { changed: [], dirs: [] };
  }

  listing(rootfs: string, dirs: string[]): Promise<Buffer> {
    return this.real.listing(rootfs, dirs);
  }

  async unpack(rootfs: string): Promise<void> {
    await cp(this.base, rootfs, { recursive: true });
  }

  /** No tar waits unless there is something to apply (never, as the simulated containers write nothing). */
  startDelta(rootfs: string): DeltaUnpacker {
    return {
      apply: async (deltaTar, dirsFile) => {
        if (deltaTar || dirsFile) await this.real.startDelta(rootfs).apply(deltaTar, dirsFile);
      },
      cancel: () => {},
    };
  }
}

/** SimHost, with containers of the memory size the run simulates, and their rootfs moved by SimRootfsArchive. */
class ScaleHost extends SimHost {
  override readonly rootfs: RootfsArchive;

  constructor(
    link: WorldLink,
    private readonly memoryBytes: number,
    rootfs: RootfsArchive,
  ) {
    super(link);
    this.rootfs = rootfs;
  }

  override async treeMemory(): Promise<number> {
    return this.memoryBytes;
  }
}

/** The simulated machine of every agent in this process. */
export function simWorld(t: SimTiming): World {
  const w = new World();
  w.delays = { cpuinfoMs: 0, dumpMs: t.dumpMs, restoreMs: t.restoreMs };
  return w;
}

/** The engine and host of one simulated agent. */
export function simAgent(
  world: World,
  host: string,
  t: SimTiming,
  rootfs: RootfsArchive,
): { engine: SimEngine; host: SimHost } {
  const link = new LocalLink(world, host);
  return { engine: new SimEngine(link, t.pageBytes), host: new ScaleHost(link, t.memoryBytes, rootfs) };
}

/**
 * Puts a running container on an agent before it starts, as Containers.run
 * does but without its `cp -a` (a thousand process spawns in the agents'
 * few processes, each as slow as the process is large): the rootfs is
 * copied in this process.
 */
export async function seedContainer(
  containers: Containers,
  host: HostRuntime,
  c: { name: string; ip: string; rootfs: string; lan: string; bridge: string },
): Promise<void> {
  const dir = containers.dir(c.name);
  await cp(c.rootfs, containers.rootfs(c.name), { recursive: true });
  const veth = await containers.freeVethName(c.name);
  const ip = validateAddress(c.ip, c.lan);
  const mac = randomMac();
  const command = ['/bin/app'];
  const { pid, shimPid } = await host.launch(
    {
      shim: '',
      rootfs: containers.rootfs(c.name),
      hostname: c.name,
      console: CONSOLE,
      env: [],
      command,
      exitFile: join(dir, 'exit'),
    },
    { veth, bridge: c.bridge, mac, ip },
  );
  const startTime = (await host.startTime(pid)) ?? '';
  await containers.save({
    ...{ name: c.name, ip, mac, veth, pid, shimPid, startTime, hostname: c.name, command },
    createdMs: Date.now(),
    state: 'running',
  });
}

/**
 * The root filesystem every simulated container starts from: the console
 * file a restore needs, a program and its configuration (about 600 KiB in
 * all). It travels as tar in every move's rootfs pre-copy. Few files: each
 * costs the simulated agents, which share a few processes, file system
 * calls per move that real agents make each on a host of its own, and
 * that the coordinator never sees.
 */
export async function makeRootfs(dir: string): Promise<string> {
  await mkdir(join(dir, 'tern'), { recursive: true });
  await mkdir(join(dir, 'bin'), { recursive: true });
  await mkdir(join(dir, 'etc'), { recursive: true });
  await writeFile(join(dir, 'tern', 'console.log'), '');
  await writeFile(join(dir, 'bin', 'app'), randomBytes(512 << 10));
  await writeFile(join(dir, 'etc', 'app.conf'), randomBytes(64 << 10));
  return dir;
}
