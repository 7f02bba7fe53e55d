// Both halves of the handoff protocol (DESIGN.md) as one agent plays them.
//
// Source: dumpAndHold freezes and dumps the tree, then holds it frozen at
// post-dump; readImages streams the images and the rootfs; commit lets CRIU
// kill the tree and confirms it is gone; abort unfreezes it.
// Target: prepare reserves the name and picks a veth name; receive pulls the
// image stream and verifies every file; restoreStopped restores the tree
// stopped; resume starts it; abort kills the stopped copy and cleans up.
// Every method is idempotent where the coordinator may repeat it.
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { notFound, precondition, TernError } from '../core/errors.js';
import { Faults } from '../core/faults.js';
import { checkMigrationId, validateName } from '../core/names.js';
import type { CheckpointEngine } from '../kernel/engine.js';
import { runOk } from '../kernel/exec.js';
import { alive, resumeTree, startTime, waitGone } from '../kernel/proc.js';
import { ChunkReceiver, type EncodeStats, encodeFiles, type SourceFile } from '../proto/chunks.js';
import type { ImageChunk, ImageChunk__Output } from '../proto/index.js';
import type { AgentOptions } from './config.js';
import type { ContainerRecord, Containers } from './containers.js';

export const ROOTFS_TAR = 'rootfs.tar';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}
function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

interface SourceHold {
  id: string;
  name: string;
  workDir: string;
  imagesDir: string;
  /**
   * Delivers the verdict to the frozen tree and settles with what happened:
   * 'kill' normally ends 'killed', 'resume' ends 'resumed'.
   */
  decide(verdict: 'kill' | 'resume'): Promise<'killed' | 'resumed'>;
  /** Set once the dump has ended (decided, or resumed by the hold timeout). */
  outcome?: 'killed' | 'resumed';
}

/** What a source hold leaves on disk so a restarted agent can still decide it. */
interface HoldFile {
  id: string;
  name: string;
  criuPid: number;
}

/** What a target slot leaves on disk once its tree is restored. */
interface SlotFile {
  id: string;
  container: ContainerRecord;
  received?: EncodeStats;
  restored?: ContainerRecord;
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

interface TargetSlot {
  id: string;
  container: ContainerRecord;
  workDir: string;
  imagesDir: string;
  received?: EncodeStats;
  /** While images arrive: stops the stream, and settles when the receiver has stopped writing. */
  receiving?: { stop: () => void; done: Promise<unknown> };
  restored?: ContainerRecord;
  resumed?: boolean;
}

async function dirSize(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const f of await readdir(dir)) {
    const s = await stat(join(dir, f));
    if (s.isFile()) {
      bytes += s.size;
      files++;
    }
  }
  return { bytes, files };
}

export class Handoff {
  private readonly holds = new Map<string, SourceHold>();
  private readonly slots = new Map<string, TargetSlot>();
  /** Aborted migration ids: a late DumpAndHold or PrepareTarget for one is refused. */
  private readonly aborted = new Set<string>();
  private readonly faults: Faults;

  constructor(
    private readonly opts: AgentOptions,
    private readonly engine: CheckpointEngine,
    private readonly containers: Containers,
    private readonly log: Logger,
  ) {
    this.faults = new Faults(opts.stateDir);
  }

  private workDir(id: string): string {
    return join(this.opts.stateDir, 'migrations', checkMigrationId(id));
  }

  // ------------------------------------------------------------ source half

  async dumpAndHold(id: string, name: string) {
    checkMigrationId(id);
    if (this.aborted.has(id)) throw new TernError('ABORTED', `migration ${id} was aborted`);
    const existing = this.holds.get(id);
    if (existing) throw precondition(`migration ${id} already dumped ${existing.name}`);
    const rec = this.containers.get(name);
    if (rec.migrationId)
      throw precondition(`container ${name} is already being migrated (${rec.migrationId})`);
    if (rec.state !== 'running') throw precondition(`container ${name} is ${rec.state}, not running`);
    const workDir = this.workDir(id);
    const imagesDir = join(workDir, 'images');
    await rm(workDir, { recursive: true, force: true });
    await mkdir(imagesDir, { recursive: true });
    const log = this.log.child({ migration: id, container: name });

    rec.migrationId = id;
    await this.containers.save(rec);
    const hold = deferred();
    let frozen!: (at: number) => void;
    const frozenP = new Promise<number>((r) => {
      frozen = r;
    });
    const started = Date.now();
    const dump = this.engine.dump(
      {
        // The criu-dump fault makes CRIU itself fail: it is given a pid that just exited.
        pid: this.faults.armed('criu-dump') ? await exitedPid() : rec.pid,
        imagesDir,
        workDir,
        externalVeths: [rec.veth],
        tcpEstablished: true,
        holdTimeoutSec: this.opts.orphanTimeoutSec,
      },
      {
        postDump: async ({ frozenAtMs, criuPid }) => {
          const hf: HoldFile = { id, name, criuPid };
          await writeFile(join(workDir, 'hold.json'), JSON.stringify(hf));
          frozen(frozenAtMs);
          return hold.promise;
        },
      },
    );
    const h: SourceHold = {
      id,
      name,
      workDir,
      imagesDir,
      decide: async (verdict) => {
        if (verdict === 'kill') hold.resolve();
        else hold.reject(new TernError('ABORTED', `migration ${id} aborted`));
        const r = await dump.catch(() => undefined);
        return r?.outcome ?? 'resumed';
      },
    };
    this.holds.set(id, h);
    dump.then(
      (r) => {
        h.outcome = r.outcome;
        log.info({ outcome: r.outcome, dumpMs: r.dumpMs }, 'dump finished');
        // Resumed without a verdict: the hold timed out (coordinator lost).
        if (r.outcome === 'resumed') void this.released(h);
      },
      () => {},
    );

    let frozenAtMs: number;
    try {
      frozenAtMs = await Promise.race([frozenP, dump.then(() => 0)]);
      if (!frozenAtMs) throw new TernError('INTERNAL', 'criu dump ended without reaching post-dump');
    } catch (e) {
      this.holds.delete(id);
      rec.migrationId = undefined;
      await this.containers.save(rec);
      await rm(workDir, { recursive: true, force: true });
      log.warn({ err: (e as Error).message }, 'dump failed; container keeps running');
      throw e;
    }
    rec.state = 'frozen';
    await this.containers.save(rec);
    this.faults.hit('after-dump');
    const { bytes, files } = await dirSize(imagesDir);
    const rootfsBytes =
      Number((await runOk(['du', '-sb', this.containers.rootfs(name)])).split('\t')[0]) || 0;
    log.info({ imageBytes: bytes, files, dumpMs: frozenAtMs - started }, 'tree frozen at post-dump');
    return {
      container: rec,
      imageBytes: bytes,
      imageFiles: files,
      rootfsBytes,
      frozenAtMs,
      dumpMs: frozenAtMs - started,
    };
  }

  /** The image files of a held dump, then the rootfs as a tar stream. */
  async *readImages(id: string, stats: EncodeStats): AsyncGenerator<ImageChunk> {
    const held = this.holds.get(checkMigrationId(id));
    if (!held || held.outcome)
      throw precondition(`no frozen dump held for migration ${id} on ${this.opts.host}`);
    const h = held;
    const names = (await readdir(h.imagesDir)).sort();
    const rootfs = this.containers.rootfs(h.name);
    async function* files(): AsyncGenerator<SourceFile> {
      for (const n of names)
        yield { name: n, data: createReadStream(join(h.imagesDir, n), { highWaterMark: 1 << 20 }) };
      const tar = spawn('tar', ['-C', rootfs, '--numeric-owner', '--xattrs', '-cpf', '-', '.'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      tar.stderr.on('data', (b: Buffer) => {
        err += b.toString();
      });
      const exited = new Promise<number | null>((r) => tar.on('close', r));
      async function* tarOut(): AsyncGenerator<Buffer> {
        for await (const b of tar.stdout) yield b as Buffer;
        const code = await exited;
        if (code !== 0) throw new TernError('INTERNAL', `tar of the rootfs failed: ${err.trim()}`);
      }
      yield { name: ROOTFS_TAR, data: tarOut() };
    }
    let n = 0;
    let corrupt = this.faults.armed('corrupt-chunk');
    for await (const chunk of encodeFiles(files(), stats)) {
      // Fault points inside the stream: cut it, or corrupt one chunk's bytes.
      if (n++ === 1) this.faults.hit('transfer');
      const data = chunk.data as Buffer | undefined;
      if (corrupt && data && data.length > 0) {
        corrupt = false;
        const bad = Buffer.from(data);
        bad[bad.length >> 1] ^= 0xff;
        yield { ...chunk, data: bad };
        continue;
      }
      yield chunk;
    }
  }

  /** Commit point on the source: CRIU kills the frozen tree; returns once it is gone. */
  async commit(id: string): Promise<boolean> {
    // A repeated commit after success is answered from the tombstone.
    if ((await this.outcome(checkMigrationId(id))) === 'committed') return true;
    const h = this.holds.get(id);
    if (!h) throw notFound(`no held dump for migration ${id} on ${this.opts.host}`);
    const rec = this.containers.get(h.name);
    this.faults.hit('commit');
    const outcome = await h.decide('kill');
    if (outcome !== 'killed') {
      await this.released(h);
      throw new TernError('ABORTED', `the frozen tree of ${h.name} resumed instead of dying`);
    }
    if (!(await waitGone(rec.pid, 10_000)))
      throw new TernError('INTERNAL', `source tree of ${h.name} is still alive`);
    // The tree is gone: record that first, so a retry is answered "committed"
    // even if cleaning up below fails half way.
    await this.tombstone(id, 'committed');
    this.holds.delete(id);
    try {
      await this.containers.kill(rec);
      await this.containers.remove(h.name);
      await rm(h.workDir, { recursive: true, force: true });
    } catch (e) {
      this.log.warn(
        { migration: id, container: h.name, err: (e as Error).message },
        'committed, but cleaning up the source failed',
      );
    }
    this.log.info({ migration: id, container: h.name }, 'source tree gone (committed)');
    return true;
  }

  /** The tree runs on here after a hold ended without a kill: forget the hold. */
  private async released(h: SourceHold): Promise<void> {
    if (!this.holds.has(h.id)) return;
    this.holds.delete(h.id);
    const rec = this.containers.find(h.name);
    if (rec && rec.migrationId === h.id) {
      rec.state = 'running';
      rec.migrationId = undefined;
      await this.containers.save(rec);
    }
    await rm(h.workDir, { recursive: true, force: true });
  }

  private tombstoneDir(): string {
    return join(this.opts.stateDir, 'outcomes');
  }

  /** Records how a migration ended here, so repeated commands are answered alike. */
  private async tombstone(id: string, outcome: string): Promise<void> {
    await mkdir(this.tombstoneDir(), { recursive: true });
    await writeFile(join(this.tombstoneDir(), id), outcome);
  }

  private async outcome(id: string): Promise<string | undefined> {
    return readFile(join(this.tombstoneDir(), checkMigrationId(id)), 'utf8').catch(() => undefined);
  }

  /**
   * After an agent restart: re-adopt holds whose CRIU still waits for a
   * verdict, and slots whose restored tree still exists; remove the rest
   * (stale image directories, stray stopped copies). Containers left marked
   * frozen by a hold that is gone run again.
   */
  async load(): Promise<void> {
    const base = join(this.opts.stateDir, 'migrations');
    await mkdir(base, { recursive: true });
    for (const id of await readdir(base)) {
      const workDir = join(base, id);
      const hold = await readJson<HoldFile>(join(workDir, 'hold.json'));
      const slot = await readJson<SlotFile>(join(workDir, 'slot.json'));
      if (hold && (await alive(hold.criuPid))) {
        const h: SourceHold = {
          id,
          name: hold.name,
          workDir,
          imagesDir: join(workDir, 'images'),
          decide: async (verdict) => {
            await this.engine.decideOrphanHold(workDir, verdict);
            await waitGone(hold.criuPid, 60_000);
            const rec = this.containers.find(hold.name);
            return rec && (await alive(rec.pid)) ? 'resumed' : 'killed';
          },
        };
        this.holds.set(id, h);
        this.log.warn(
          { migration: id, container: hold.name },
          're-adopted a frozen tree held by an earlier agent',
        );
        continue;
      }
      if (
        slot?.restored &&
        (await alive(slot.restored.pid)) &&
        slot.restored.startTime === (await startTime(slot.restored.pid))
      ) {
        this.slots.set(id, {
          id,
          container: slot.container,
          workDir,
          imagesDir: join(workDir, 'images'),
          received: slot.received,
          restored: slot.restored,
        });
        this.containers.reserve(slot.container.name, slot.container.ip, true);
        this.log.warn(
          { migration: id, container: slot.container.name },
          're-adopted a restored (stopped) tree',
        );
        continue;
      }
      if (slot) await this.containers.remove(slot.container.name).catch(() => {});
      this.log.warn({ migration: id }, 'removing a stale migration directory');
      await rm(workDir, { recursive: true, force: true });
    }
    for (const rec of await this.containers.list()) {
      if (rec.migrationId && !this.holds.has(rec.migrationId) && !this.slots.has(rec.migrationId)) {
        rec.migrationId = undefined;
        if (rec.state === 'frozen' || rec.state === 'restored')
          rec.state = (await alive(rec.pid)) ? 'running' : 'exited';
        await this.containers.save(rec);
      }
    }
  }

  /** Migration ids this agent is part of right now (reported on registration). */
  active(): string[] {
    return [...new Set([...this.holds.keys(), ...this.slots.keys()])];
  }

  // ------------------------------------------------------------ target half

  async prepareTarget(
    id: string,
    c: ContainerRecord,
    estimate: number,
    sourceCpuinfo?: Buffer,
  ): Promise<string> {
    checkMigrationId(id);
    if (this.aborted.has(id)) throw new TernError('ABORTED', `migration ${id} was aborted`);
    const known = this.slots.get(id);
    if (known) return known.container.veth;
    validateName('container', c.name);
    this.faults.hit('prepare');
    if (sourceCpuinfo && sourceCpuinfo.length > 0) {
      const cpu = await this.engine.cpuinfoCompatible(this.opts.stateDir, sourceCpuinfo);
      if (!cpu.ok)
        throw precondition(`CPU of the source is not compatible with ${this.opts.host}: ${cpu.detail}`);
    }
    this.containers.reserve(c.name, c.ip);
    try {
      const free = await freeBytes(this.opts.stateDir);
      if (estimate > 0 && free < estimate * 1.1) {
        throw new TernError(
          'RESOURCE_EXHAUSTED',
          `not enough space on ${this.opts.host}: ${free} bytes free in ${this.opts.stateDir}, need about ${estimate}`,
        );
      }
      const workDir = this.workDir(id);
      await rm(workDir, { recursive: true, force: true });
      await mkdir(join(workDir, 'images'), { recursive: true });
      const veth = await this.containers.freeVethName(c.name);
      this.slots.set(id, { id, container: { ...c, veth }, workDir, imagesDir: join(workDir, 'images') });
      return veth;
    } catch (e) {
      this.containers.unreserve(c.name);
      throw e;
    }
  }

  private slot(id: string): TargetSlot {
    const s = this.slots.get(checkMigrationId(id));
    if (!s) throw notFound(`migration ${id} was not prepared on ${this.opts.host}`);
    return s;
  }

  /** Writes a pulled chunk stream into the slot, verifies it, unpacks the rootfs. */
  async receive(
    id: string,
    stream: AsyncIterable<ImageChunk__Output> & { cancel(): void },
  ): Promise<EncodeStats> {
    const s = this.slot(id);
    if (s.received) return s.received;
    if (s.receiving) throw precondition(`images of migration ${id} are already being received`);
    const done = this.receiveInto(s, stream);
    s.receiving = { stop: () => stream.cancel(), done: done.catch(() => {}) };
    try {
      s.received = await done;
      return s.received;
    } finally {
      s.receiving = undefined;
    }
  }

  private async receiveInto(s: TargetSlot, stream: AsyncIterable<ImageChunk__Output>): Promise<EncodeStats> {
    await rm(s.imagesDir, { recursive: true, force: true });
    await mkdir(s.imagesDir, { recursive: true });
    const rx = new ChunkReceiver(s.imagesDir);
    try {
      for await (const chunk of stream) await rx.accept(chunk);
      rx.finish();
    } catch (e) {
      await rx.discard();
      throw e;
    }
    if (!rx.received.includes(ROOTFS_TAR)) throw new TernError('DATA_LOSS', 'image stream carried no rootfs');
    const rootfs = this.containers.rootfs(s.container.name);
    await rm(rootfs, { recursive: true, force: true });
    await mkdir(rootfs, { recursive: true });
    const tarFile = join(s.imagesDir, ROOTFS_TAR);
    await runOk(['tar', '-C', rootfs, '--numeric-owner', '--xattrs', '-xpf', tarFile]).catch((e) => {
      throw new TernError('INTERNAL', `unpacking the rootfs failed: ${(e as Error).message}`);
    });
    await rm(tarFile);
    return rx.stats;
  }

  async restoreStopped(id: string): Promise<ContainerRecord> {
    const s = this.slot(id);
    if (s.restored) return s.restored;
    if (!s.received) throw precondition(`images of migration ${id} were not received on ${this.opts.host}`);
    const c = s.container;
    const dir = this.containers.dir(c.name);
    this.faults.hit('restore');
    if (this.faults.armed('criu-restore')) {
      // Makes CRIU itself fail: a file the tree holds open is missing.
      await rm(join(this.containers.rootfs(c.name), 'tern', 'console.log'), { force: true });
    }
    const r = await this.engine.restore({
      imagesDir: s.imagesDir,
      workDir: s.workDir,
      rootfs: this.containers.rootfs(c.name),
      veths: [{ inner: 'eth0', outer: c.veth, bridge: this.opts.bridge }],
      tcpEstablished: true,
      exitFile: join(dir, 'exit'),
    });
    const rec: ContainerRecord = {
      ...c,
      pid: r.pid,
      shimPid: r.shimPid,
      startTime: (await startTime(r.pid)) ?? '',
      state: 'restored',
      migrationId: id,
    };
    await this.containers.save(rec);
    this.containers.unreserve(c.name);
    s.restored = rec;
    const sf: SlotFile = { id, container: s.container, received: s.received, restored: rec };
    await writeFile(join(s.workDir, 'slot.json'), JSON.stringify(sf));
    this.faults.hit('after-restore');
    this.log.info(
      { migration: id, container: c.name, pid: r.pid, restoreMs: r.restoreMs },
      'restored stopped',
    );
    return rec;
  }

  /** After the source confirmed its tree is gone: let the restored tree run. */
  async resume(id: string): Promise<ContainerRecord> {
    const s = this.slots.get(checkMigrationId(id));
    if (!s) {
      const done = await this.outcome(id);
      if (done?.startsWith('resumed ')) return this.containers.get(done.slice(8));
      throw notFound(`migration ${id} has nothing to resume on ${this.opts.host}`);
    }
    const rec = s.restored;
    if (!rec) throw precondition(`migration ${id} has no restored tree on ${this.opts.host}`);
    if (!s.resumed) {
      this.faults.hit('resume');
      // Tasks that were stopped when dumped stay stopped; the rest run again.
      const tree = await this.engine.processTree(s.imagesDir).catch((e: Error) => {
        this.log.warn({ migration: id, err: e.message }, 'cannot read task states; resuming every task');
        return [];
      });
      await resumeTree(rec.pid, new Map(tree.filter((p) => p.stopped).map((p) => [p.pid, p.stopSigno])));
      rec.state = 'running';
      rec.migrationId = undefined;
      await this.containers.save(rec);
      s.resumed = true;
      await this.containers.announce(rec);
      await rm(s.workDir, { recursive: true, force: true });
      this.slots.delete(id);
      await this.tombstone(id, `resumed ${rec.name}`);
      this.log.info({ migration: id, container: rec.name, pid: rec.pid }, 'resumed');
    }
    return rec;
  }

  // ------------------------------------------------------------ either side

  /** Before the commit point only. Idempotent: an unknown id is already aborted. */
  async abort(id: string): Promise<{ resumedSource: boolean; cleanedTarget: boolean }> {
    checkMigrationId(id);
    this.aborted.add(id);
    let resumedSource = false;
    let cleanedTarget = false;
    const h = this.holds.get(id);
    if (h) {
      const outcome = await h.decide('resume');
      if (outcome === 'killed') {
        throw new TernError(
          'FAILED_PRECONDITION',
          `migration ${id} is past its commit point on ${this.opts.host}`,
        );
      }
      await this.released(h);
      resumedSource = true;
      this.log.info({ migration: id, container: h.name }, 'aborted: source tree resumed');
    } else if ((await this.outcome(id)) === 'committed') {
      throw new TernError(
        'FAILED_PRECONDITION',
        `migration ${id} is past its commit point on ${this.opts.host}`,
      );
    }
    const s = this.slots.get(id);
    if (s) {
      if (s.resumed)
        throw new TernError('FAILED_PRECONDITION', `migration ${id} already resumed on ${this.opts.host}`);
      if (s.restored) await this.containers.kill(s.restored);
      if (s.restored || !this.containers.find(s.container.name))
        await this.containers.remove(s.container.name);
      this.containers.unreserve(s.container.name);
      await rm(s.workDir, { recursive: true, force: true });
      this.slots.delete(id);
      cleanedTarget = true;
      this.log.info({ migration: id, container: s.container.name }, 'aborted: target copy removed');
    }
    return { resumedSource, cleanedTarget };
  }
}

async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** The pid of a process that has already exited (for the criu-dump fault). */
async function exitedPid(): Promise<number> {
  const child = spawn('true', [], { stdio: 'ignore' });
  await new Promise((r) => child.on('close', r));
  return child.pid ?? 1;
}
