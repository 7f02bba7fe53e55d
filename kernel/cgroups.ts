// Cgroups for containers with limits (`tern run --memory --pids`). Each such
// container gets its own cgroup below a subtree of the agent's own cgroup,
// named after the agent's host (so two agents sharing a cgroup tree keep
// apart): <agent's cgroup>/tern-<host>/<container>. Its memory and pids
// limits are set there, so a container that runs out of memory is killed
// alone, never the agent or its shims.
//
// cgroup v1 (memory and pids hierarchies, as on hybrid hosts) and v2 (the
// unified hierarchy, with memory and pids delegated to the agent's unit:
// Delegate=yes) both work. On v2 the agent's own cgroup may hold no
// processes once its children have controllers, so the agent moves itself
// into <agent's cgroup>/agent first.
//
// A migration carries the limits in the container's record: the target
// creates the cgroup with them before `criu restore`, which then places the
// restored tasks in it (--cgroup-root rewrites the source's path to the
// target's; an existing cgroup keeps the properties tern set).
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TernError } from '../core/errors.js';
import { run } from './exec.js';

export interface Limits {
  /** Memory the container's tasks may use, in bytes. */
  memoryBytes?: number;
  /** Tasks (processes and threads) the container may have at once. */
  pids?: number;
}

/** Where CRIU must put a restored tree: per controller (undefined: every controller, v2). */
export interface CgroupRoot {
  controller?: string;
  /** Path inside the hierarchy, as /proc/PID/cgroup shows it. */
  path: string;
}

/** The host's side of container cgroups, behind HostRuntime (a simulated host fakes it). */
export interface ContainerCgroups {
  /**
   * Prepares this agent's subtree. Returns why limits cannot be set on this
   * host, or undefined when they can; containers without limits run either way.
   */
  init(agent: string): Promise<string | undefined>;
  /** Creates the container's cgroup (again, if left over) with these limits. */
  create(name: string, limits: Limits): Promise<void>;
  /** Moves pid (a container init that has not run yet) into the container's cgroup. */
  enter(name: string, pid: number): Promise<void>;
  /** The limits in force for the container's cgroup, read from the kernel; undefined if it has none. */
  read(name: string): Promise<Limits | undefined>;
  /** The cgroup.procs files of the container's cgroup (what `tern exec` joins). */
  procs(name: string): string[];
  /** Where a restore puts the container's tree. */
  roots(name: string): CgroupRoot[];
  /** Removes the container's cgroup once its tasks are gone (waits up to waitMs for them). */
  remove(name: string, waitMs?: number): Promise<void>;
  /** Names of the container cgroups present in this agent's subtree. */
  list(): Promise<string[]>;
}

/** Limits as users type them: 256m, 1g, 512k or bytes. */
export function parseBytes(text: string): number {
  const m = /^(\d+)([kmgt]?)i?b?$/i.exec(text.trim());
  if (!m)
    throw new TernError(
      'INVALID_ARGUMENT',
      `invalid size ${JSON.stringify(text)}: use e.g. 256m, 2g or bytes`,
    );
  const shift = { '': 0, k: 10, m: 20, g: 30, t: 40 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const n = Number(m[1]) * 2 ** shift;
  if (!Number.isSafeInteger(n)) throw new TernError('INVALID_ARGUMENT', `size ${text} is too large`);
  return n;
}

/** The smallest limits a container can start under (its init, the shim's exec, a shell). */
export const MIN_MEMORY = 4 * 2 ** 20;
export const MIN_PIDS = 4;

/** Checks limits received from a caller or a peer. */
export function checkLimits(l: Limits): Limits {
  const out: Limits = {};
  if (l.memoryBytes !== undefined && l.memoryBytes !== 0) {
    if (!Number.isSafeInteger(l.memoryBytes) || l.memoryBytes < MIN_MEMORY)
      throw new TernError('INVALID_ARGUMENT', `memory limit ${l.memoryBytes} is below the minimum of 4 MiB`);
    out.memoryBytes = l.memoryBytes;
  }
  if (l.pids !== undefined && l.pids !== 0) {
    if (!Number.isSafeInteger(l.pids) || l.pids < MIN_PIDS || l.pids > 4_194_304)
      throw new TernError('INVALID_ARGUMENT', `pids limit ${l.pids} must be between ${MIN_PIDS} and 4194304`);
    out.pids = l.pids;
  }
  return out;
}

export const hasLimits = (l: Limits | undefined): l is Limits =>
  !!l && (l.memoryBytes !== undefined || l.pids !== undefined);

const CONTROLLERS = ['memory', 'pids'] as const;
type Controller = (typeof CONTROLLERS)[number];

interface Hierarchy {
  /** Directory of the agent's subtree on disk. */
  dir: string;
  /** The same, as a path inside the hierarchy (/proc/PID/cgroup). */
  path: string;
}

interface Mount {
  root: string;
  point: string;
  fstype: string;
  options: string[];
}

async function mounts(): Promise<Mount[]> {
  const out: Mount[] = [];
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post) continue;
    const f = pre.split(' ');
    const [fstype, , super_] = post.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    out.push({ root: f[3], point: f[4], fstype, options: (super_ ?? '').split(',') });
  }
  return out;
}

/** /proc/self/cgroup: controller list (empty for v2) -> path. */
async function ownCgroups(): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  for (const line of (await readFile('/proc/self/cgroup', 'utf8')).split('\n')) {
    const i = line.indexOf(':');
    const j = line.indexOf(':', i + 1);
    if (i < 0 || j < 0) continue;
    m.set(line.slice(i + 1, j), line.slice(j + 1));
  }
  return m;
}

function under(mount: Mount, path: string): string | undefined {
  if (mount.root === '/') return join(mount.point, path);
  if (path === mount.root || path.startsWith(`${mount.root}/`))
    return join(mount.point, path.slice(mount.root.length));
  return undefined;
}

/**
 * Mounts the hierarchies the agent is in below dir, when none are mounted
 * where it runs: `ip netns exec` (the testbed) gives the agent a private
 * mount namespace with a fresh /sys and no cgroup file systems. The mounts
 * stay in that namespace.
 */
async function mountOwn(own: Map<string, string>, dir: string): Promise<Mount[]> {
  for (const list of own.keys()) {
    const ctrls = list.split(',');
    if (list !== '' && !CONTROLLERS.some((c) => ctrls.includes(c))) continue;
    const point = join(dir, list === '' ? 'unified' : list);
    await mkdir(point, { recursive: true });
    const r = await run(
      list === ''
        ? ['mount', '-t', 'cgroup2', 'none', point]
        : ['mount', '-t', 'cgroup', '-o', list, 'none', point],
    );
    if (r.code !== 0)
      throw new Error(`cannot mount cgroup ${list || 'v2'} at ${point}: ${r.stderr.toString().trim()}`);
  }
  return mounts();
}

const isMissing = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

/** The real host's cgroups. */
export class LinuxCgroups implements ContainerCgroups {
  private version?: 1 | 2;
  private readonly tree = new Map<Controller, Hierarchy>();
  private unified?: Hierarchy;
  private why?: string = 'cgroups not prepared yet';

  async init(agent: string): Promise<string | undefined> {
    this.why = await this.prepare(`tern-${agent}`).catch(
      (e: Error) => `cannot prepare cgroups: ${e.message}`,
    );
    return this.why;
  }

  private async prepare(sub: string): Promise<string | undefined> {
    const own = await ownCgroups();
    let all = await mounts();
    if (!all.length) all = await mountOwn(own, `/run/tern/cgroup.${sub}`);
    // v1: a hierarchy per controller (hybrid hosts keep memory and pids there).
    const v1 = new Map<Controller, Hierarchy>();
    for (const c of CONTROLLERS) {
      for (const [list, path] of own) {
        if (!list.split(',').includes(c)) continue;
        const mnt = all.find((m) => m.fstype === 'cgroup' && m.options.includes(c));
        const base = mnt && under(mnt, path);
        if (base) v1.set(c, { dir: join(base, sub), path: join(path, sub) });
      }
    }
    if (v1.size === CONTROLLERS.length) {
      for (const [c, h] of v1) {
        await mkdir(h.dir, { recursive: true, mode: 0o755 });
        this.tree.set(c, h);
      }
      this.version = 1;
      return undefined;
    }
    // v2: below the top of the tree, as Docker's cgroupfs driver does. Below
    // the agent's own cgroup, the controllers would have to be enabled in
    // the cgroup systemd starts the agent in again after a restart, which
    // the kernel refuses while that cgroup's children use them.
    const mnt = all.find((m) => m.fstype === 'cgroup2');
    if (!mnt || !own.has(''))
      return 'neither cgroup v1 memory and pids hierarchies nor a cgroup v2 tree is mounted';
    const enabled = (await readFile(join(mnt.point, 'cgroup.subtree_control'), 'utf8')).trim().split(/\s+/);
    const missing = CONTROLLERS.filter((c) => !enabled.includes(c));
    if (missing.length) {
      try {
        await writeFile(join(mnt.point, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
      } catch (e) {
        return `cannot enable the cgroup v2 controllers ${missing.join(', ')} at ${mnt.point}: ${(e as Error).message}`;
      }
    }
    const h = { dir: join(mnt.point, sub), path: join(mnt.root, sub) };
    await mkdir(h.dir, { recursive: true });
    await writeFile(join(h.dir, 'cgroup.subtree_control'), CONTROLLERS.map((c) => `+${c}`).join(' '));
    this.unified = h;
    this.version = 2;
    return undefined;
  }

  private ready(): void {
    if (this.why)
      throw new TernError(
        'FAILED_PRECONDITION',
        `container limits are not available on this host: ${this.why}`,
      );
  }

  private dirs(name: string): string[] {
    if (this.version === 2 && this.unified) return [join(this.unified.dir, name)];
    return [...this.tree.values()].map((h) => join(h.dir, name));
  }

  async create(name: string, limits: Limits): Promise<void> {
    this.ready();
    for (const d of this.dirs(name)) await mkdir(d, { recursive: true });
    const set = (file: string, value: string) =>
      writeFile(file, value).catch((e: Error) => {
        throw new TernError('INTERNAL', `cannot set ${file} to ${value}: ${e.message}`);
      });
    if (this.version === 2 && this.unified) {
      const d = join(this.unified.dir, name);
      await set(join(d, 'memory.max'), limits.memoryBytes ? String(limits.memoryBytes) : 'max');
      await set(join(d, 'pids.max'), limits.pids ? String(limits.pids) : 'max');
      return;
    }
    const mem = join(this.tree.get('memory')?.dir ?? '', name);
    await set(join(mem, 'memory.limit_in_bytes'), limits.memoryBytes ? String(limits.memoryBytes) : '-1');
    const pids = join(this.tree.get('pids')?.dir ?? '', name);
    await set(join(pids, 'pids.max'), limits.pids ? String(limits.pids) : 'max');
  }

  async enter(name: string, pid: number): Promise<void> {
    for (const f of this.procs(name)) await writeFile(f, String(pid));
  }

  procs(name: string): string[] {
    this.ready();
    return this.dirs(name).map((d) => join(d, 'cgroup.procs'));
  }

  async read(name: string): Promise<Limits | undefined> {
    if (this.why) return undefined;
    const num = async (file: string) => {
      const v = (await readFile(file, 'utf8')).trim();
      const n = Number(v);
      return v === 'max' || !Number.isSafeInteger(n) ? undefined : n;
    };
    try {
      if (this.version === 2 && this.unified) {
        const d = join(this.unified.dir, name);
        return { memoryBytes: await num(join(d, 'memory.max')), pids: await num(join(d, 'pids.max')) };
      }
      const mem = await num(join(this.tree.get('memory')?.dir ?? '', name, 'memory.limit_in_bytes'));
      return {
        // v1 says "no limit" with the largest page-aligned value.
        memoryBytes: mem !== undefined && mem < 2 ** 62 ? mem : undefined,
        pids: await num(join(this.tree.get('pids')?.dir ?? '', name, 'pids.max')),
      };
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  roots(name: string): CgroupRoot[] {
    this.ready();
    if (this.version === 2 && this.unified) return [{ path: join(this.unified.path, name) }];
    return [...this.tree].map(([c, h]) => ({ controller: c, path: join(h.path, name) }));
  }

  async remove(name: string, waitMs = 10_000): Promise<void> {
    if (this.why) return;
    const until = Date.now() + waitMs;
    for (const d of this.dirs(name)) {
      for (;;) {
        try {
          await rmdir(d);
          break;
        } catch (e) {
          if (isMissing(e)) break;
          // EBUSY while the tree's last tasks exit.
          if ((e as NodeJS.ErrnoException).code !== 'EBUSY' || Date.now() > until)
            throw new TernError('INTERNAL', `cannot remove cgroup ${d}: ${(e as Error).message}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }
  }

  async list(): Promise<string[]> {
    if (this.why) return [];
    const base = this.version === 2 ? this.unified?.dir : this.tree.get('memory')?.dir;
    if (!base) return [];
    const names = new Set<string>();
    for (const e of await readdir(base, { withFileTypes: true }).catch(() => []))
      if (e.isDirectory()) names.add(e.name);
    if (this.version === 1)
      for (const e of await readdir(this.tree.get('pids')?.dir ?? '', { withFileTypes: true }).catch(
        () => [],
      ))
        if (e.isDirectory()) names.add(e.name);
    return [...names].sort();
  }
}
