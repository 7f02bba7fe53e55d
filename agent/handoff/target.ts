import { mkdir, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { errorMessage, notFound, precondition, TernError } from '../../core/errors.js';
import { checkMigrationId, validateName } from '../../core/names.js';
import { hasLimits } from '../../kernel/cgroups.js';
import type { LazyPages } from '../../kernel/engine.js';
import type { ContainerNet } from '../../kernel/host.js';
import type { Finding } from '../../kernel/leaks.js';
import { changesItsNetwork, prewiredFor, prewiredName } from '../../kernel/netwire.js';
import { imageChain, roundDirs } from '../../kernel/precopy.js';
import { NO_WARMTH } from '../../kernel/warm.js';
import type { EncodeStats } from '../../proto/chunks.js';
import { GO_TLS } from '../../proto/frames.js';
import { agentCerts } from '../config.js';
import type { ContainerRecord } from '../containers.js';
import { type ChunkStream, credentialFile, type HandoffContext } from './context.js';
import { checkPages, writeImages, writeRootfs } from './receive.js';
import { type ReceiveLimits, SLOT_FILE, type SlotFile, type TargetSlot } from './slot.js';
import { freeBytes, SPACE_MARGIN } from './workdirs.js';

/** The preflight waits at most this long for the memory warm-up (the prepare call allows 30 s). */
const WARM_WAIT_MS = 10_000;

/**
 * A slot a restarted agent took over with its tree restored from images that
 * arrived early, before ReceiveImages compared the page stream with what the
 * source announced: the page server that could say so died with the earlier
 * agent, so those images can never be checked, and the move must abort.
 */
function refuseUnchecked(s: TargetSlot, host: string): void {
  if (s.uncheckedRestore)
    throw precondition(
      `migration ${s.id}: the agent on ${host} restarted after restoring from images not yet checked against the source's page stream; the move cannot go on`,
    );
}

/** Marks the slot as receiving while `done` runs, so that an abort can stop the stream and wait for it. */
async function receiving<T>(s: TargetSlot, stream: { cancel(): void }, done: Promise<T>): Promise<T> {
  s.receiving = { stop: () => stream.cancel(), done: done.catch(() => {}) };
  try {
    return await done;
  } finally {
    s.receiving = undefined;
  }
}

/** Post-copy, from the restore until the last page: the page stream of a migration. */
interface Pulling {
  lazy: LazyPages;
  /** Settles once done or lost is known (and recorded). */
  settled: Promise<void>;
  /** Every page arrived: the stream's length. */
  done?: number;
  /** Pages are missing for good: why. */
  lost?: string;
}

function lostError(id: string, why: string): TernError {
  return new TernError(
    'DATA_LOSS',
    `migration ${id}: the container's memory pages cannot arrive any more (${why}); the container is lost`,
  );
}

export class TargetSlots {
  private readonly slots = new Map<string, TargetSlot>();
  private readonly pulling = new Map<string, Pulling>();

  constructor(private readonly ctx: HandoffContext) {}

  ids(): string[] {
    return [...this.slots.keys()];
  }

  /** Takes over a slot whose restored tree outlived an earlier agent (see readopt.ts). */
  adopt(s: TargetSlot): void {
    this.slots.set(s.id, s);
  }

  /** Post-copy: follows the pages of a tree an earlier agent resumed (see readopt.ts). */
  adoptPulling(s: TargetSlot & { restored: ContainerRecord; lazy: LazyPages }): void {
    this.pull({ ...s, resumed: true }, s.restored);
  }

  /**
   * The images fetch from `address`, opened before the freeze, is read at
   * once: the source sends as soon as it holds the frozen tree, and the
   * images are written, checked file by file and the rootfs brought up to
   * date without waiting for the coordinator's ReceiveImages; once the page
   * stream has ended too, the restore starts (a stopped tree, as always
   * before the commit point). receiveEarly() then compares the page streams
   * with what the source announced before ReceiveImages answers.
   */
  openEarly(id: string, address: string, fetch: ChunkStream, rootfsLimits: ReceiveLimits): boolean {
    const s = this.slots.get(id);
    if (!s || s.early || s.received || s.receiving) return false;
    // Before the dump its real size is unknown: the images are bounded by
    // the preflight's estimate of memory and rootfs, on top of what the
    // rootfs pre-copy allowed for the rootfs changes.
    const limits = {
      ...rootfsLimits,
      maxBytes: rootfsLimits.maxBytes > 0 ? rootfsLimits.maxBytes + (s.estimate ?? 0) : 0,
    };
    let go!: () => void;
    const asked = new Promise<void>((resolve) => {
      go = resolve;
    });
    const done = receiving(s, fetch, writeImages(this.ctx, s, fetch, limits, asked));
    s.early = { address, fetch, done, go };
    done.then(
      (stats) => {
        this.imagesIn(s, stats);
        void this.watchGone(s, fetch);
      },
      () => {},
    );
    return true;
  }

  /**
   * On the early fetch (held): after the images, the source says on it when
   * its frozen tree is gone, which it does only once the coordinator has
   * recorded the commit and told it so. That is all the rest waits for, so
   * the target goes on at once, without waiting for the coordinator to hear
   * it, record it and say so: a stop-and-copy tree, restored already, runs;
   * a post-copy move, whose images ReceiveImages has checked, restores its
   * tree and runs it (its pages served from now on). The coordinator's
   * RestoreStopped and Resume then find that done or under way. A stream
   * that ends otherwise (an abort, an older source, the connection lost)
   * changes nothing: the coordinator decides.
   */
  private async watchGone(s: TargetSlot, fetch: ChunkStream): Promise<void> {
    const r = await fetch[Symbol.asyncIterator]()
      .next()
      .catch(() => undefined);
    if (!r || r.done || !r.value.source_gone) return;
    if (this.slots.get(s.id) !== s || s.aborting) return;
    if (s.postcopy ? !s.received : !s.restored) return;
    const { log } = this.ctx;
    log.info(
      { migration: s.id, container: s.container.name },
      s.postcopy ? 'source tree gone: restoring and resuming' : 'source tree gone: resuming',
    );
    try {
      if (s.postcopy) await this.restoreStopped(s.id);
      await this.resume(s.id);
    } catch (e) {
      log.warn(
        { migration: s.id, err: (e as Error).message },
        'going on when the source said its tree is gone failed; the coordinator decides',
      );
    }
  }

  /**
   * The images arrived early: the restore's memory goes back and the restore
   * starts, in stop-and-copy once the page stream has ended. A post-copy
   * restore starts at once too, with its lazy-pages daemon: it goes as far
   * as the first page its tasks need (CRIU's restorer touches a few, e.g.
   * where the kernel writes a thread's rseq area) and waits there until the
   * source serves pages, which it does only once it has let its tree go, past
   * the commit point (after a declined hold, tern's CRIU serves none). So
   * the restore runs while the coordinator commits, not after. Either way the
   * tree stays stopped until the commit, and an abort kills it. Nothing
   * starts for a slot being aborted.
   */
  private imagesIn(s: TargetSlot, stats: EncodeStats): void {
    if (this.slots.get(s.id) !== s || s.aborting) return;
    s.imagesIn = stats;
    void s.warm?.restore.release();
    if (s.postcopy && s.lazy) void this.startRestore(s).catch(() => {});
    else if (!s.postcopy && s.pages)
      void s.pages.result.then(
        () => {
          if (!s.aborting) this.startRestore(s).catch(() => {});
        },
        () => {},
      );
  }

  /**
   * ReceiveImages for images fetched early from `address`: waits for them,
   * then checks the page streams against what the source announced.
   * Undefined when there was no early fetch.
   */
  async receiveEarly(id: string, address: string, limits: ReceiveLimits): Promise<EncodeStats | undefined> {
    const s = this.slot(id);
    if (s.received) return s.received;
    refuseUnchecked(s, this.ctx.opts.host);
    const e = s.early;
    if (!e) return undefined;
    if (e.address !== address)
      throw precondition(
        `migration ${id}: its images come from ${e.address} on ${this.ctx.opts.host}, not ${address}`,
      );
    // Fault point: the target stalls or dies as the images are taken in.
    this.ctx.faults.hit('receive');
    e.go();
    const stats = await e.done;
    if (limits.maxBytes > 0 && stats.rawBytes > limits.maxBytes)
      throw new TernError(
        'RESOURCE_EXHAUSTED',
        `the image stream carried ${stats.rawBytes} bytes, more than the ${limits.maxBytes} announced`,
      );
    await checkPages(s, limits);
    // Post-copy: a restore that already failed (e.g. its page stream ended)
    // fails the move here, before the commit point, with the source's tree
    // still there to resume. One that fails later, past it, loses the container.
    if (s.postcopy && s.restoreFailed)
      throw new TernError(
        'INTERNAL',
        `migration ${id}: the restore on ${this.ctx.opts.host} failed before the commit point: ${s.restoreFailed.message}`,
      );
    s.received = stats;
    // Post-copy: the restore, if the early images did not start it already.
    if (s.postcopy) void this.startRestore(s).catch(() => {});
    return stats;
  }

  /** The credential of a migration this host receives, and the source it comes from. */
  peer(id: string): { credential: string; host: string } | undefined {
    const s = this.slots.get(id);
    return s?.credential && s.sourceHost ? { credential: s.credential, host: s.sourceHost } : undefined;
  }

  /**
   * The source's dump opens a page stream: answer and hand the socket to a
   * page server writing into the slot's images, which takes it only from
   * the source's agent presenting this migration's credential (inside TLS,
   * see tern-relay). One stream per migration; a refused one leaves the
   * place to the next.
   */
  async acceptPages(id: string, sock: Socket, round?: number): Promise<void> {
    const { ctx } = this;
    const s = this.slots.get(id);
    if (!s?.credential || !s.sourceHost)
      throw new TernError('PERMISSION_DENIED', `no migration ${id} on ${ctx.opts.host} takes pages`);
    // The early images fetch waits for the dump like this stream; images that arrived end it.
    if (s.pages || s.lazy || s.received || s.imagesIn || (s.receiving && !s.early))
      throw precondition(`migration ${id} already has its pages on ${ctx.opts.host}`);
    // Pre-copy: round n comes right after round n-1; the final dump's stream after the last.
    s.rounds ??= [];
    const rounds = s.rounds;
    if (round !== undefined) {
      if (s.postcopy) throw precondition(`migration ${id} is a post-copy move: no pre-copy rounds`);
      if (round !== rounds.length + 1)
        throw precondition(`migration ${id}: pre-copy round ${round} after round ${rounds.length}`);
    }
    const tls = {
      ...agentCerts(ctx.opts),
      peer: s.sourceHost,
      credentialFile: await credentialFile(s.workDir, s.credential),
    };
    await new Promise<void>((resolve, reject) => sock.write(GO_TLS, (e) => (e ? reject(e) : resolve())));
    if (s.postcopy) {
      const lazy = ctx.engine.lazyPages({ imagesDir: s.imagesDir, workDir: s.workDir, socket: sock, tls });
      s.lazy = lazy;
      lazy.done.catch((e) => {
        if (e instanceof TernError && e.code === 'PERMISSION_DENIED' && s.lazy === lazy) {
          ctx.log.warn({ migration: id, err: e.message }, 'page stream refused');
          s.lazy = undefined;
        }
      });
      return;
    }
    const ctl = new AbortController();
    // Each round into its own directory, linked to the round before; the
    // final dump's pages into the images, linked to the last round.
    const chain = roundDirs(round ?? 0, rounds.length);
    const result = ctx.engine.servePages(
      {
        imagesDir: join(s.workDir, chain.dir),
        workDir: s.workDir,
        socket: sock,
        tls,
        parent: chain.parent,
        tag: round ? `r${round}` : undefined,
      },
      ctl.signal,
    );
    const mine = { result, stop: () => ctl.abort() };
    if (round) rounds.push(mine);
    else s.pages = mine;
    result.then(
      // Every page is in: the restore's memory is what is allocated next, and
      // letting its warm memory go takes a while (about 70 ms per GiB here).
      () => {
        if (!round) void s.warm?.restore.release();
      },
      (e) => {
        if (e instanceof TernError && e.code === 'PERMISSION_DENIED' && s.pages === mine) {
          ctx.log.warn({ migration: id, err: e.message }, 'page stream refused');
          s.pages = undefined;
        }
      },
    );
    // The pages start to arrive: the memory held for them is theirs now.
    await s.warm?.pages.release();
    // Fault point: the page server dies while the source is still dumping into it.
    if (ctx.faults.armed('kill-page-server')) setTimeout(() => ctl.abort(), 20);
  }

  /**
   * A dry run: whether this host could take container `c` (its CPU against
   * the source's, room for `estimate` bytes, its name and address free
   * here), reserving nothing.
   */
  async check(c: ContainerRecord, estimate: number, sourceCpuinfo?: Buffer): Promise<Finding[]> {
    const { ctx } = this;
    const out: Finding[] = [];
    const refuse = (object: string, problem: string, advice: string) =>
      out.push({ severity: 'refuse', object, problem, advice });
    validateName('container', c.name);
    if (sourceCpuinfo && sourceCpuinfo.length > 0) {
      const cpu = await ctx.engine.cpuinfoCompatible(ctx.opts.stateDir, sourceCpuinfo);
      if (!cpu.ok)
        refuse(
          'CPU',
          `the source's CPU has features this host's lacks: ${cpu.detail}`,
          'move it to a host with the same or a newer CPU',
        );
    }
    const free = await freeBytes(ctx.work.disk);
    if (free < estimate * SPACE_MARGIN)
      refuse(
        ctx.opts.stateDir,
        `${free} bytes free, the move needs about ${Math.ceil(estimate * SPACE_MARGIN)} (memory and rootfs, and a tenth more)`,
        'free space there, or move it to a host with more',
      );
    if (ctx.containers.find(c.name))
      refuse(
        `container ${c.name}`,
        'a container of that name already exists here',
        'stop or rename one of them',
      );
    const ip = c.ip.split('/')[0];
    const clash = (await ctx.containers.list()).find((k) => k.name !== c.name && k.ip.split('/')[0] === ip);
    if (clash)
      refuse(
        `address ${c.ip}`,
        `container ${clash.name} here has the same address`,
        'give one of them another address',
      );
    return out;
  }

  async prepare(
    id: string,
    c: ContainerRecord,
    estimate: number,
    sourceCpuinfo?: Buffer,
    credential?: string,
    sourceHost?: string,
    postcopy = false,
    emptyNet = false,
  ): Promise<string> {
    const { ctx } = this;
    const known = this.slots.get(id);
    if (known) return known.container.veth;
    validateName('container', c.name);
    if (credential && !sourceHost)
      throw new TernError('INVALID_ARGUMENT', `migration ${id}: a direct transfer needs the source host`);
    if (sourceHost) validateName('host', sourceHost);
    if (postcopy && !(credential && sourceHost))
      throw new TernError(
        'INVALID_ARGUMENT',
        `migration ${id}: post-copy needs the source host and the credential`,
      );
    ctx.faults.hit('prepare');
    if (sourceCpuinfo && sourceCpuinfo.length > 0) {
      const cpu = await ctx.engine.cpuinfoCompatible(ctx.opts.stateDir, sourceCpuinfo);
      if (!cpu.ok)
        throw precondition(`CPU of the source is not compatible with ${ctx.opts.host}: ${cpu.detail}`);
    }
    ctx.containers.reserve(c.name, c.ip);
    let netns: TargetSlot['netns'];
    try {
      // Where the images will go (a separate filesystem can be mounted there).
      const free = await freeBytes(ctx.work.disk);
      if (free < estimate * SPACE_MARGIN) {
        throw new TernError(
          'RESOURCE_EXHAUSTED',
          `not enough space on ${ctx.opts.host}: ${free} bytes free in ${ctx.opts.stateDir}, need about ${Math.ceil(estimate * SPACE_MARGIN)}`,
        );
      }
      // The container's limits, in a cgroup made now: a host that cannot
      // give them refuses before the source freezes, and the restore only
      // places the tree in it.
      if (hasLimits(c.limits)) await ctx.host.cgroups.create(c.name, c.limits);
      const workDir = await ctx.work.place(id, estimate);
      await rm(workDir, { recursive: true, force: true });
      await mkdir(join(workDir, 'images'), { recursive: true });
      const veth = await ctx.containers.freeVethName(c.name);
      await ctx.engine.liftGates([veth]);
      netns = await this.prewire(id, { ...c, veth }, emptyNet);
      const slot: TargetSlot = {
        id,
        container: { ...c, veth },
        workDir,
        imagesDir: join(workDir, 'images'),
        credential,
        sourceHost,
        postcopy: postcopy || undefined,
        emptyNet: emptyNet || undefined,
        netns,
        estimate,
      };
      this.slots.set(id, slot);
      // Post-copy allocates the tree's memory after the resume, page by page:
      // there is nothing to warm for the frozen window, and letting warmed
      // memory go would cost time inside it.
      if (!postcopy) await this.warm(slot, estimate);
      return veth;
    } catch (e) {
      ctx.containers.unreserve(c.name);
      if (hasLimits(c.limits)) await ctx.host.cgroups.remove(c.name).catch(() => {});
      if (netns) await ctx.host.unprewire?.(netns.name).catch(() => {});
      throw e;
    }
  }

  /**
   * The network namespace a restore of `c` will go into, made now, before
   * the freeze: creating a veth pair and wiring it inside the restore took
   * 8-70 ms of the pause here (RTNL, iproute2 runs). Only for a container
   * whose namespace the source does not dump (it cannot change it), and
   * only where both this host and its CRIU can; else CRIU makes an empty
   * one and the wiring script fills it, as before.
   */
  private async prewire(
    id: string,
    c: ContainerRecord,
    emptyNet: boolean,
  ): Promise<{ name: string; path: string } | undefined> {
    const { ctx } = this;
    const net = this.wiredNet(c, emptyNet);
    if (!net || !ctx.host.prewire || !(await ctx.engine.joinsNetns?.())) return undefined;
    const name = prewiredName(id, ctx.opts.host);
    // One left by a move of the same id that ended badly goes first.
    await ctx.host.unprewire?.(name);
    return { name, path: await ctx.host.prewire(name, net) };
  }

  /**
   * The network tern wires for a restore of `c` here: only when the source
   * dumped no namespace (`emptyNet`), for a container that cannot change it.
   */
  private wiredNet(c: ContainerRecord, emptyNet: boolean | undefined): ContainerNet | undefined {
    if (!emptyNet || changesItsNetwork(c.capAdd)) return undefined;
    return { veth: c.veth, bridge: this.ctx.opts.bridge, mac: c.mac, ip: c.ip };
  }

  /** Removes the name of the slot's prewired namespace (the namespace too, if no tree is in it). */
  private async unprewire(s: TargetSlot): Promise<void> {
    const n = s.netns;
    if (!n) return;
    s.netns = undefined;
    await this.ctx.host
      .unprewire?.(n.name)
      .catch((e: Error) =>
        this.ctx.log.warn(
          { migration: s.id, netns: n.name, err: e.message },
          'cannot remove a network namespace',
        ),
      );
  }

  /** Removes prewired namespaces no slot of this agent owns (left by an agent that died). */
  async sweepPrewired(): Promise<void> {
    const { ctx } = this;
    const owned = new Set([...this.slots.values()].map((s) => s.netns?.name));
    for (const name of (await ctx.host.prewired?.()) ?? []) {
      if (owned.has(name) || !prewiredFor(name, ctx.opts.host)) continue;
      await ctx.host.unprewire?.(name);
      ctx.log.info({ netns: name }, 'removed a network namespace left from an earlier restore');
    }
  }

  /**
   * Holds, touched, the memory the frozen window will allocate here: the
   * dump's pages, then the restored tree (each about `estimate`). The
   * preflight waits for it, so that the warm-up is over before the freeze.
   */
  private async warm(s: TargetSlot, estimate: number): Promise<void> {
    try {
      const pages = await this.ctx.host.warmMemory(estimate);
      s.warm = { pages, restore: NO_WARMTH };
      s.warm.restore = await this.ctx.host.warmMemory(estimate);
      const both = Promise.all([pages.ready, s.warm.restore.ready]);
      let timer: Parameters<typeof clearTimeout>[0];
      const late = new Promise<undefined>((r) => {
        timer = setTimeout(r, WARM_WAIT_MS);
      });
      const held = await Promise.race([both, late]).finally(() => clearTimeout(timer));
      if (!held) this.ctx.log.info({ migration: s.id }, 'memory still warming; the move goes on meanwhile');
      else if (held[0].heldBytes + held[1].heldBytes > 0)
        this.ctx.log.info(
          {
            migration: s.id,
            bytes: held[0].heldBytes + held[1].heldBytes,
            ms: Math.max(held[0].ms, held[1].ms),
          },
          'memory warmed for the move',
        );
    } catch (e) {
      // Only a matter of speed: the move goes on with cold memory.
      this.ctx.log.warn({ migration: s.id, err: (e as Error).message }, 'cannot warm memory for the move');
    }
  }

  private async coolDown(s: TargetSlot): Promise<void> {
    await Promise.all([s.warm?.pages.release(), s.warm?.restore.release()]);
  }

  private slot(id: string): TargetSlot {
    const s = this.slots.get(checkMigrationId(id));
    if (!s) throw notFound(`migration ${id} was not prepared on ${this.ctx.opts.host}`);
    return s;
  }

  /**
   * Before the freeze: the container's whole rootfs, fetched from the source
   * while the container runs, into the container's directory here.
   */
  async receiveRootfs(id: string, stream: ChunkStream, limits: ReceiveLimits): Promise<EncodeStats> {
    const s = this.slot(id);
    if (s.receiving || s.received) throw precondition(`migration ${id} is already receiving its images`);
    const stats = await receiving(s, stream, writeRootfs(this.ctx, s, stream, limits));
    s.rootfsPrecopied = true;
    return stats;
  }

  /** Writes a pulled chunk stream into the slot, verifies it, unpacks the rootfs. */
  async receive(id: string, stream: ChunkStream, limits: ReceiveLimits): Promise<EncodeStats> {
    const s = this.slot(id);
    if (s.received) return s.received;
    refuseUnchecked(s, this.ctx.opts.host);
    if (s.receiving) throw precondition(`images of migration ${id} are already being received`);
    const { maxBytes } = limits;
    if (maxBytes > 0) {
      const free = await freeBytes(s.workDir);
      if (free < maxBytes * SPACE_MARGIN)
        throw new TernError(
          'RESOURCE_EXHAUSTED',
          `not enough space on ${this.ctx.opts.host} for the images: ${free} bytes free, up to ${maxBytes} announced`,
        );
    }
    await s.warm?.pages.release();
    // Fault point: the target stalls or dies as the images start to arrive.
    this.ctx.faults.hit('receive');
    s.received = await receiving(s, stream, writeImages(this.ctx, s, stream, limits));
    // The restore comes next: its warm memory starts going back now, so that
    // freeing it is over, or nearly, when the restore starts.
    void s.warm?.restore.release();
    // The restore needs nothing more and starts now, while the coordinator
    // records the transfer (stop-and-copy) or commits (post-copy: it waits at
    // its first page for the source, see imagesIn); RestoreStopped waits for
    // this one. A stopped tree is all it makes: an abort kills it, as any restore's.
    void this.startRestore(s).catch(() => {});
    return s.received;
  }

  /**
   * RestoreStopped. A post-copy move asks only past the commit point, and
   * its source's tree is gone by then: a restore that failed, before or
   * now, loses the container (whoever asked hears so, DATA_LOSS).
   */
  async restoreStopped(id: string, signal?: AbortSignal): Promise<ContainerRecord> {
    const s = this.slots.get(checkMigrationId(id));
    // Post-copy: the source's word (watchGone) may have restored and resumed the tree already.
    if (!s) return this.settled(id, 'was not prepared');
    // Fault point: past the commit point, the page stream breaks before the
    // restore has its first pages.
    if (s.postcopy && this.ctx.faults.armed('kill-lazy-pages')) s.lazy?.stop();
    try {
      return await this.startRestore(s, signal);
    } catch (e) {
      const err = e as Error;
      if (!s.postcopy || s.aborting || (e instanceof TernError && e.code === 'CANCELLED')) throw e;
      if (this.slots.get(id) === s) {
        this.slots.delete(id);
        s.lazy?.stop();
        await this.lose(s, s.restored, err.message);
      }
      throw lostError(id, err.message);
    }
  }

  /** The restore of a slot's images, started once; later calls share it (or its result). */
  private startRestore(s: TargetSlot, signal?: AbortSignal): Promise<ContainerRecord> {
    const id = s.id;
    if (s.restored) return Promise.resolve(s.restored);
    if (s.restoring) return s.restoring.done;
    // A restore that failed is not tried again: the migration aborts.
    if (s.restoreFailed) return Promise.reject(s.restoreFailed);
    if (s.aborting)
      return Promise.reject(
        new TernError('ABORTED', `migration ${id} is being aborted on ${this.ctx.opts.host}`),
      );
    if (!s.received && !s.imagesIn)
      return Promise.reject(
        precondition(`images of migration ${id} were not received on ${this.ctx.opts.host}`),
      );
    // An abort stops a restore under way and waits for it, so that nothing
    // it created outlives the slot.
    const ctl = new AbortController();
    const done = this.restoreInto(s, signal ? AbortSignal.any([signal, ctl.signal]) : ctl.signal).catch(
      (e: Error) => {
        s.restoreFailed = e;
        throw e;
      },
    );
    const restoring = {
      stop: () => ctl.abort(new TernError('ABORTED', `migration ${id} aborted during the restore`)),
      done,
    };
    s.restoring = restoring;
    const over = () => {
      if (s.restoring === restoring) s.restoring = undefined;
    };
    done.then(over, over);
    return done;
  }

  private async restoreInto(s: TargetSlot, signal: AbortSignal): Promise<ContainerRecord> {
    const { ctx } = this;
    const id = s.id;
    const c = s.container;
    ctx.faults.hit('restore');
    if (ctx.faults.armed('criu-restore')) {
      // Makes CRIU itself fail: a file the tree holds open is missing.
      await rm(join(ctx.containers.rootfs(c.name), 'tern', 'console.log'), { force: true });
    }
    // Which tasks were stopped when dumped is read from the images while CRIU
    // restores, so that resuming does not wait for it.
    const stopped = this.stoppedTasks(s);
    // The warm memory must be free before the restore allocates: the kernel
    // then hands it the pages just freed, which are still backed. Its release
    // began when the images were in (receive); this waits for the end of it.
    await this.coolDown(s);
    // Pre-copy: every round's pages are read through the images' parent links.
    if (s.rounds?.length) await imageChain(s.imagesDir, s.rounds.length);
    if (s.postcopy) {
      // The daemon that will serve the restored tree's page faults reads the images first.
      if (!s.lazy)
        throw precondition(
          `migration ${id}: no post-copy page stream from ${s.sourceHost} on ${ctx.opts.host}`,
        );
      await s.lazy.start();
    }
    // Post-copy: once the lazy-pages daemon has ended without every page (its
    // stream from the source broke), the restore cannot hand the tree over,
    // and CRIU 4.2 can then wait forever in its own error path (its traced
    // tasks never reaped). The restore is stopped at once: the container is
    // lost either way, and is reported so now rather than at the timeout.
    const pagesGone = new AbortController();
    s.lazy?.done.catch((e: Error) => pagesGone.abort(e));
    const r = await this.restoreWith(s, AbortSignal.any([signal, pagesGone.signal])).catch((e: Error) => {
      if (pagesGone.signal.aborted && !signal.aborted)
        throw new TernError(
          'DATA_LOSS',
          `the page stream ended before the restore did (${errorMessage(pagesGone.signal.reason)}); the restore was stopped`,
        );
      throw e;
    });
    const rec: ContainerRecord = {
      ...c,
      pid: r.pid,
      shimPid: r.shimPid,
      startTime: (await ctx.host.startTime(r.pid)) ?? '',
      state: 'restored',
      migrationId: id,
    };
    await ctx.containers.save(rec);
    ctx.containers.unreserve(c.name);
    s.restored = rec;
    if (s.lazy) this.pull(s, rec);
    s.stopped = await stopped;
    // Only images ReceiveImages has checked count as received for a
    // restarted agent: those of an early restore may still fail the check.
    const sf: SlotFile = {
      id,
      container: s.container,
      received: s.received,
      restored: rec,
      postcopy: s.postcopy || undefined,
    };
    await writeFile(join(s.workDir, SLOT_FILE), JSON.stringify(sf));
    ctx.faults.hit('after-restore');
    ctx.log.info(
      { migration: id, container: c.name, pid: r.pid, restoreMs: r.restoreMs },
      'restored stopped',
    );
    return rec;
  }

  /** CRIU's restore of a slot's images into its container. */
  private restoreWith(s: TargetSlot, signal: AbortSignal) {
    const { ctx } = this;
    const c = s.container;
    const dir = ctx.containers.dir(c.name);
    return ctx.engine.restore(
      {
        imagesDir: s.imagesDir,
        workDir: s.workDir,
        rootfs: ctx.containers.rootfs(c.name),
        veths: [{ inner: 'eth0', outer: c.veth, bridge: ctx.opts.bridge }],
        // The source dumped no network namespace for a container that cannot change its own.
        wire: this.wiredNet(c, s.emptyNet),
        netns: s.netns?.path,
        tcpEstablished: true,
        exitFile: join(dir, 'exit'),
        cgroupRoots: hasLimits(c.limits) ? ctx.host.cgroups.roots(c.name) : undefined,
        lazy: s.postcopy,
      },
      signal,
    );
  }

  private async stoppedTasks(s: TargetSlot): Promise<Map<number, number | undefined>> {
    const tree = await this.ctx.engine.processTree(s.imagesDir).catch((e: Error) => {
      this.ctx.log.warn({ migration: s.id, err: e.message }, 'cannot read task states; resuming every task');
      return [];
    });
    return new Map(tree.filter((p) => p.stopped).map((p) => [p.pid, p.stopSigno]));
  }

  /**
   * A migration whose slot is gone: its tree resumed here (the container's
   * record), or, post-copy, lost (DATA_LOSS); else not found, `why`.
   */
  private async settled(id: string, why: string): Promise<ContainerRecord> {
    const { ctx } = this;
    const pages = await ctx.outcomes.pages(id);
    if (pages?.startsWith('lost ')) throw lostError(id, pages.slice(5));
    const done = await ctx.outcomes.get(id);
    if (done?.startsWith('resumed ')) return ctx.containers.get(done.slice('resumed '.length));
    throw notFound(`migration ${id} ${why} on ${ctx.opts.host}`);
  }

  /** After the source confirmed its tree is gone: let the restored tree run. */
  async resume(id: string): Promise<ContainerRecord> {
    const { ctx } = this;
    const s = this.slots.get(checkMigrationId(id));
    if (!s) return this.settled(id, 'has nothing to resume');
    const rec = s.restored;
    if (!rec) throw precondition(`migration ${id} has no restored tree on ${ctx.opts.host}`);
    // Once at a time: the source's word (watchGone) and the coordinator's Resume may cross.
    // A resume that failed may be asked again.
    s.resuming ??= this.resumeSlot(s, rec).catch((e) => {
      s.resuming = undefined;
      throw e;
    });
    return s.resuming;
  }

  private async resumeSlot(s: TargetSlot, rec: ContainerRecord): Promise<ContainerRecord> {
    const { ctx } = this;
    const id = s.id;
    if (!s.resumed) {
      ctx.faults.hit('resume');
      // Post-copy: a tree whose pages can no longer come must not run (a
      // missing page would read as zeros): the container is lost.
      const broken = s.lazy ? this.pulling.get(id)?.lost : undefined;
      if (broken) {
        this.slots.delete(id);
        await this.lose(s, rec, broken);
        throw lostError(id, broken);
      }
      // Tasks that were stopped when dumped stay stopped; the rest run again.
      await ctx.host.resumeTree(rec.pid, s.stopped ?? (await this.stoppedTasks(s)));
      // The tree holds its namespace: the name made for the restore can go.
      void this.unprewire(s);
      rec.state = 'running';
      rec.migrationId = undefined;
      await ctx.containers.save(rec);
      // The record holds the name from now on; a tree re-adopted by a
      // restarted agent had it reserved, and only restoreInto() let go.
      ctx.containers.unreserve(rec.name);
      s.resumed = true;
      // Recorded before the slot goes, so a repeated Resume is answered even
      // if the agent dies between the two.
      await ctx.outcomes.record(id, `resumed ${rec.name}`);
      // Post-copy: a restarted agent follows the pages that still come.
      if (s.lazy) {
        const sf: SlotFile = { id, container: s.container, restored: rec, pagesPid: s.lazy.pid };
        await writeFile(join(s.workDir, SLOT_FILE), JSON.stringify(sf));
      }
      s.early?.fetch.cancel();
      this.slots.delete(id);
      // The tree runs: announcing its address and clearing the images need not hold the answer up.
      void ctx.containers.announce(rec);
      // Post-copy: the images go once the last page is in (pull() clears them).
      const pulling = this.pulling.get(id);
      if (!s.lazy || pulling?.done !== undefined) {
        this.pulling.delete(id);
        await ctx.containers.trash.discard(s.workDir);
      }
      ctx.log.info({ migration: id, container: rec.name, pid: rec.pid, postcopy: !!s.lazy }, 'resumed');
    }
    return rec;
  }

  /**
   * Post-copy: follows the page stream of a restored tree from the restore
   * on. Once every page is in, the images go and the outcome is recorded.
   * If the stream breaks, the tree is killed (its missing pages would read
   * as zeros): before the resume, an abort or the Resume deals with it;
   * after, the container is lost.
   */
  private pull(s: TargetSlot, rec: ContainerRecord): void {
    const { ctx } = this;
    if (this.pulling.has(s.id)) return;
    const lazy = s.lazy as LazyPages;
    const entry: Pulling = { lazy, settled: Promise.resolve() };
    this.pulling.set(s.id, entry);
    entry.settled = lazy.done.then(
      async (stream) => {
        entry.done = stream.bytes;
        await ctx.outcomes.recordPages(s.id, `done ${stream.bytes}`);
        ctx.log.info(
          { migration: s.id, container: rec.name, bytes: stream.bytes },
          'post-copy: every page arrived',
        );
        if (s.resumed) {
          this.pulling.delete(s.id);
          await ctx.containers.trash.discard(s.workDir);
        }
      },
      async (e: Error) => {
        entry.lost = e.message;
        if ((await ctx.host.startTime(rec.pid)) === rec.startTime) ctx.host.kill(rec.pid);
        // Before the resume an abort may still come and owns the slot; the
        // container counts as lost only once its source is gone too.
        if (!s.resumed && this.slots.get(s.id) === s) return;
        await this.lose(s, rec, e.message);
      },
    );
  }

  /**
   * Post-copy: the tree cannot have its memory (the restore failed, or pages
   * cannot come any more, or a restarted agent cannot follow them). Kills
   * what was restored, records the pages lost and forgets the container
   * here. Past the commit point that is the container lost; before it the
   * move aborts and the source's tree runs on.
   */
  async lose(s: TargetSlot, rec: ContainerRecord | undefined, why: string): Promise<void> {
    const { ctx } = this;
    await ctx.outcomes.recordPages(s.id, `lost ${why}`);
    this.pulling.delete(s.id);
    await this.unprewire(s);
    if (rec) {
      if ((await ctx.host.startTime(rec.pid)) === rec.startTime) ctx.host.kill(rec.pid);
      await ctx.host.waitGone(rec.pid, 10_000);
    }
    await ctx.containers.remove(s.container.name);
    ctx.containers.unreserve(s.container.name);
    await ctx.containers.trash.discard(s.workDir);
    ctx.log.error(
      { migration: s.id, container: s.container.name, err: why },
      'post-copy: the memory cannot arrive, the container is lost',
    );
  }

  /**
   * Post-copy, after the resume: waits up to waitMs for the pages to be
   * all in (or lost), then says how far they are.
   */
  async pagesStatus(id: string, waitMs: number): Promise<{ done: boolean; moved: number; lost?: string }> {
    const p = this.pulling.get(checkMigrationId(id));
    if (p) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        p.settled,
        new Promise((r) => {
          timer = setTimeout(r, Math.min(Math.max(waitMs, 0), 10_000));
        }),
      ]).finally(() => clearTimeout(timer));
      if (p.lost) return { done: false, moved: await p.lazy.moved(), lost: p.lost };
      if (p.done !== undefined) return { done: true, moved: p.done };
      return { done: false, moved: await p.lazy.moved() };
    }
    const o = await this.ctx.outcomes.pages(id);
    if (o?.startsWith('done ')) return { done: true, moved: Number(o.slice(5)) };
    if (o?.startsWith('lost ')) return { done: false, moved: 0, lost: o.slice(5) };
    throw notFound(`migration ${id} has no pages coming to ${this.ctx.opts.host}`);
  }

  /** Before the commit point: removes the stopped copy and the images. False if there was no slot. */
  async abort(id: string): Promise<boolean> {
    const { ctx } = this;
    const s = this.slots.get(id);
    if (!s) return false;
    if (s.resumed) throw precondition(`migration ${id} already resumed on ${ctx.opts.host}`);
    // From here on nothing new starts in this slot (an early receive that
    // ends now starts no restore).
    s.aborting = true;
    s.early?.fetch.cancel();
    s.receiving?.stop();
    await s.receiving?.done;
    s.restoring?.stop();
    await s.restoring?.done.catch(() => {});
    s.pages?.stop();
    await s.pages?.result.catch(() => {});
    for (const r of s.rounds ?? []) {
      r.stop();
      await r.result.catch(() => {});
    }
    s.lazy?.stop();
    await s.lazy?.done.catch(() => {});
    this.pulling.delete(id);
    await this.coolDown(s);
    if (s.restored) await ctx.containers.kill(s.restored);
    await this.unprewire(s);
    if (s.restored || !ctx.containers.find(s.container.name)) await ctx.containers.remove(s.container.name);
    ctx.containers.unreserve(s.container.name);
    await rm(s.workDir, { recursive: true, force: true });
    this.slots.delete(id);
    ctx.log.info({ migration: id, container: s.container.name }, 'aborted: target copy removed');
    return true;
  }
}
