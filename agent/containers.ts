// The agent's container runtime: start containers in their own namespaces
// under a tern-shim, wire their veth to the host bridge, list, exec, stop,
// and keep a record of each in <stateDir>/containers/<name>/container.json
// so a restarted agent adopts what is running.

import { mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { checkCaps } from '../core/caps.js';
import { invalid, notFound, precondition, TernError } from '../core/errors.js';
import { validateName } from '../core/names.js';
import { validateAddress } from '../core/net.js';
import { checkLimits, hasLimits, type Limits } from '../kernel/cgroups.js';
import { runOk } from '../kernel/exec.js';
import type { HostRuntime } from '../kernel/host.js';
import { type AgentOptions, fastBase } from './config.js';
import { randomMac, vethName } from './policy.js';
import { Trash } from './trash.js';

export type ContainerState = 'running' | 'frozen' | 'restored' | 'exited';

export interface ContainerRecord {
  name: string;
  ip: string;
  mac: string;
  /** Outer veth on this host's bridge. */
  veth: string;
  pid: number;
  shimPid: number;
  /** /proc start time of pid: guards against a recycled pid. */
  startTime: string;
  hostname: string;
  command: string[];
  createdMs: number;
  state: ContainerState;
  /** Capabilities beyond the default set (kernel/native/shim-confine.c). */
  capAdd?: string[];
  /** Runs without tern's seccomp filter. */
  noSeccomp?: boolean;
  /** Memory and pids limits, set on the container's own cgroup (kernel/cgroups.ts). */
  limits?: Limits;
  /** Set while a migration holds or restores this container. */
  migrationId?: string;
}

export const CONSOLE = '/tern/console.log';

export interface RunSpec {
  name: string;
  command: string[];
  ip: string;
  rootfs?: string;
  hostname?: string;
  env?: string[];
  capAdd?: string[];
  noSeccomp?: boolean;
  limits?: Limits;
}

export class Containers {
  private readonly records = new Map<string, ContainerRecord>();
  /** Names being created or received: reserved so two requests cannot race. */
  private readonly reserved = new Set<string>();
  /**
   * Per name, the last queued write or removal of its record. A container's
   * record is written and removed strictly in the order asked, so a write
   * under way cannot bring back a record removed after it.
   */
  private readonly queued = new Map<string, Promise<void>>();

  constructor(
    private readonly opts: AgentOptions,
    private readonly host: HostRuntime,
    private readonly log: Logger,
    readonly trash: Trash = new Trash(
      opts.stateDir,
      log,
      [fastBase(opts)].filter((d): d is string => !!d),
    ),
  ) {}

  dir(name: string): string {
    return join(this.opts.stateDir, 'containers', validateName('container', name));
  }
  rootfs(name: string): string {
    return join(this.dir(name), 'rootfs');
  }

  /** Loads records from disk; containers whose init is gone are marked exited. */
  async load(): Promise<void> {
    await this.trash.purge();
    const base = join(this.opts.stateDir, 'containers');
    await mkdir(base, { recursive: true });
    for (const name of await readdir(base)) {
      try {
        const rec = JSON.parse(await readFile(join(base, name, 'container.json'), 'utf8')) as ContainerRecord;
        this.records.set(rec.name, rec);
      } catch {
        // Left by a start or an incoming migration that never finished (the
        // agent died meanwhile): nothing refers to it.
        this.log.warn({ name }, 'removing a container directory without a record');
        await rm(join(base, name), { recursive: true, force: true });
      }
    }
    await this.refresh();
    // Cgroups of containers this agent no longer knows: removed if empty
    // (a cgroup with tasks in it cannot be removed, and is left alone).
    for (const name of await this.host.cgroups.list()) {
      if (this.records.has(name)) continue;
      await this.host.cgroups.remove(name, 0).catch((e: Error) => {
        this.log.warn({ cgroup: name, err: e.message }, 'cannot remove the cgroup of an unknown container');
      });
    }
  }

  private async refresh(): Promise<void> {
    for (const rec of [...this.records.values()]) {
      if (rec.state === 'exited') continue;
      const ok = (await this.host.alive(rec.pid)) && (await this.host.startTime(rec.pid)) === rec.startTime;
      if (ok) continue;
      // The tree may be dead because its record is being removed (the source
      // of a committed migration): only a record still current becomes exited.
      await this.serialized(rec.name, async () => {
        if (this.records.get(rec.name) !== rec || rec.state === 'exited') return;
        rec.state = 'exited';
        await this.write(rec);
      });
    }
  }

  private serialized(name: string, fn: () => Promise<void>): Promise<void> {
    const done = (this.queued.get(name) ?? Promise.resolve()).then(fn);
    const tail = done.catch(() => {});
    this.queued.set(name, tail);
    void tail.then(() => {
      if (this.queued.get(name) === tail) this.queued.delete(name);
    });
    return done;
  }

  async save(rec: ContainerRecord): Promise<void> {
    await this.serialized(rec.name, () => this.write(rec));
  }

  private async write(rec: ContainerRecord): Promise<void> {
    const dir = this.dir(rec.name);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, 'container.json.tmp');
    await writeFile(tmp, `${JSON.stringify(rec, null, 2)}\n`);
    await rename(tmp, join(dir, 'container.json'));
    this.records.set(rec.name, rec);
  }

  async list(): Promise<ContainerRecord[]> {
    await this.refresh();
    return [...this.records.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): ContainerRecord {
    const rec = this.records.get(validateName('container', name));
    if (!rec) throw notFound(`no container named ${name} on ${this.opts.host}`);
    return rec;
  }

  find(name: string): ContainerRecord | undefined {
    return this.records.get(name);
  }

  has(name: string): boolean {
    return this.records.has(name) || this.reserved.has(name);
  }

  /** Reserves a name (and address) for a container about to arrive or start. */
  reserve(name: string, ip: string, readopt = false): void {
    validateName('container', name);
    if (readopt) {
      this.reserved.add(name);
      return;
    }
    if (this.has(name))
      throw new TernError('ALREADY_EXISTS', `container ${name} already exists on ${this.opts.host}`);
    const addr = ip.split('/')[0];
    for (const r of this.records.values()) {
      if (r.state !== 'exited' && r.ip.split('/')[0] === addr) {
        throw new TernError(
          'ALREADY_EXISTS',
          `address ${addr} is used by container ${r.name} on ${this.opts.host}`,
        );
      }
    }
    this.reserved.add(name);
  }

  unreserve(name: string): void {
    this.reserved.delete(name);
  }

  async freeVethName(name: string): Promise<string> {
    const taken = await this.host.linkNames();
    for (const r of this.records.values()) taken.add(r.veth);
    return vethName(name, taken);
  }

  async run(spec: RunSpec): Promise<ContainerRecord> {
    const name = validateName('container', spec.name);
    if (!spec.command.length) throw invalid('no command given for the container');
    const ip = validateAddress(spec.ip, this.opts.lan);
    const capAdd = checkCaps(spec.capAdd ?? []);
    const limits = checkLimits(spec.limits ?? {});
    const src = spec.rootfs ? await this.allowedRootfs(spec.rootfs) : this.opts.defaultRootfs;
    const st = await stat(src).catch(() => undefined);
    if (!st?.isDirectory()) throw invalid(`rootfs ${src} is not a directory on ${this.opts.host}`);
    this.reserve(name, ip);
    const dir = this.dir(name);
    const rootfs = this.rootfs(name);
    try {
      await rm(dir, { recursive: true, force: true });
      await mkdir(rootfs, { recursive: true });
      await runOk(['cp', '-a', `${src}/.`, `${rootfs}/`]);
      if (hasLimits(limits)) await this.host.cgroups.create(name, limits);
      const veth = await this.freeVethName(name);
      const mac = randomMac();
      const hostname = spec.hostname || name;
      const launched = await this.host.launch(
        {
          shim: this.opts.shim,
          rootfs,
          hostname,
          console: CONSOLE,
          env: spec.env ?? [],
          capAdd,
          noSeccomp: spec.noSeccomp,
          command: spec.command,
          exitFile: join(dir, 'exit'),
          cgroup: hasLimits(limits) ? name : undefined,
        },
        { veth, bridge: this.opts.bridge, mac, ip },
      );
      const rec: ContainerRecord = {
        name,
        ip,
        mac,
        veth,
        pid: launched.pid,
        shimPid: launched.shimPid,
        startTime: (await this.host.startTime(launched.pid)) ?? '',
        hostname,
        command: spec.command,
        createdMs: Date.now(),
        state: 'running',
        capAdd,
        noSeccomp: spec.noSeccomp || undefined,
        limits: hasLimits(limits) ? limits : undefined,
      };
      await this.save(rec);
      this.log.info({ container: name, pid: rec.pid, ip, veth }, 'container started');
      return rec;
    } catch (e) {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      await this.host.cgroups.remove(name).catch(() => {});
      throw e;
    } finally {
      this.unreserve(name);
    }
  }

  /**
   * The real path of a rootfs a caller named, if it lies inside one of the
   * allowed base directories (symlinks resolved first, so none leads out).
   */
  private async allowedRootfs(dir: string): Promise<string> {
    if (!dir.startsWith('/')) throw invalid(`rootfs ${JSON.stringify(dir)} must be an absolute path`);
    const real = await realpath(dir).catch(() => {
      throw invalid(`rootfs ${dir} does not exist on ${this.opts.host}`);
    });
    for (const base of this.opts.rootfsBases) {
      const b = await realpath(base).catch(() => undefined);
      if (b && (real === b || real.startsWith(b.endsWith('/') ? b : `${b}/`)) && real !== '/') return real;
    }
    throw new TernError(
      'PERMISSION_DENIED',
      `rootfs ${dir} is outside the directories this agent copies root filesystems from (${this.opts.rootfsBases.join(', ')}; agent option --rootfs-base)`,
    );
  }

  /** Announces the container's address from inside its netns (gratuitous ARP). */
  async announce(rec: ContainerRecord): Promise<void> {
    await this.host.announce(rec.pid, rec.ip).catch((e: Error) => {
      this.log.warn({ container: rec.name, err: e.message }, 'gratuitous ARP failed');
    });
  }

  async exec(name: string, command: string[], timeoutMs: number) {
    const rec = this.get(name);
    if (rec.state !== 'running') throw precondition(`container ${name} is ${rec.state}, not running`);
    if (!command.length) throw invalid('no command given');
    return this.host.exec(rec.pid, command, timeoutMs || 60_000, {
      shim: this.opts.shim,
      capAdd: rec.capAdd ?? [],
      noSeccomp: rec.noSeccomp ?? false,
      cgroups: hasLimits(rec.limits) ? this.host.cgroups.procs(name) : undefined,
    });
  }

  /** Kills the container's tree (its pid namespace dies with its init) and forgets it. */
  async stop(name: string): Promise<void> {
    const rec = this.get(name);
    if (rec.migrationId) throw precondition(`container ${name} is being migrated (${rec.migrationId})`);
    await this.kill(rec);
    await this.remove(name);
    this.log.info({ container: name }, 'container stopped and removed');
  }

  async kill(rec: ContainerRecord): Promise<void> {
    if ((await this.host.alive(rec.pid)) && (await this.host.startTime(rec.pid)) === rec.startTime) {
      this.host.kill(rec.pid);
      if (!(await this.host.waitGone(rec.pid, 10_000))) {
        throw new TernError('INTERNAL', `container ${rec.name} (pid ${rec.pid}) did not die`);
      }
    }
    // The veth pair goes with the netns; make sure no outer end is left.
    await this.host.unwire(rec.veth);
  }

  /**
   * Forgets a container and takes its directory away at once (deleted in the
   * background), and its cgroup once the last of its tasks has exited (unless
   * keepCgroup: the caller removes it once its tree is gone).
   */
  async remove(name: string, opts: { keepCgroup?: boolean } = {}): Promise<void> {
    const dir = this.dir(name);
    await this.serialized(name, async () => {
      this.records.delete(name);
      await this.trash.discard(dir);
    });
    if (opts.keepCgroup) return;
    void this.host.cgroups.remove(name).catch((e: Error) => {
      this.log.warn({ container: name, err: e.message }, 'cannot remove the container cgroup');
    });
  }
}
