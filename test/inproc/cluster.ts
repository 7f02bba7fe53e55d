// A cluster for the test tier without root: one coordinator and two agents,
// each a real daemon in a child process of its own on 127.0.0.1 (mutual TLS
// as always), over one simulated World held here. Daemons can be crashed
// (SIGKILL) and
// restarted on the same state directory, as the privileged fault matrix
// does with real processes.

import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../deploy/testbed/etcd.js';
import { type CoordinatorClient, coordinatorClient, type Migration__Output } from '../../proto/index.js';
import { unary } from '../../proto/rpc.js';
import { certFiles, testPki } from '../lib/pki.js';
import type { DaemonSpec } from './daemon.js';
import { World } from './world.js';

export const HOSTS = ['hostA', 'hostB'] as const;
export const COORDINATORS = ['coordinator', 'coordinator2'] as const;
export type Daemon = (typeof COORDINATORS)[number] | (typeof HOSTS)[number];

/** Coordinators that take over from each other, on an etcd store. */
export interface HaOptions {
  etcd: string;
  prefix: string;
  leaseTtlSec: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Cluster {
  readonly world = new World();
  readonly dir = mkdtempSync(join(tmpdir(), 'tern-inproc-'));
  readonly rootfs = join(this.dir, 'rootfs');
  private readonly daemons = new Map<Daemon, { child: ChildProcess; exited: Promise<void>; dead: boolean }>();
  private coordPort = 0;
  /** Each agent's gRPC port, as its current process reported it. */
  private readonly agentPorts = new Map<Daemon, number>();
  private client?: CoordinatorClient;
  /** Coordinator settings: short timeouts so that failures show within seconds. */
  readonly coordinatorOpts = {
    hostTimeoutMs: 1500,
    stallMs: 3000,
    // The simulated rounds send 1 MiB, then a quarter each time: three rounds.
    precopy: { maxRounds: 5, smallBytes: 64 << 10, shrink: 0.8 },
  };
  readonly orphanTimeoutSec = 20;

  private pki = '';
  /** Coordinator ports, fixed up front when several coordinators take turns. */
  private readonly ports = new Map<Daemon, number>();
  /** The coordinator that last said it leads. */
  leader?: Daemon;
  /** Whether waitFor restarts dead daemons (off to see a follower take over alone). */
  autoRestart = true;

  constructor(readonly ha?: HaOptions) {}

  coordinators(): Daemon[] {
    return this.ha ? [...COORDINATORS] : ['coordinator'];
  }

  private coordinatorList(): string {
    return this.coordinators()
      .map((d) => `127.0.0.1:${this.ports.get(d) ?? this.coordPort}`)
      .join(',');
  }

  async start(): Promise<void> {
    mkdirSync(join(this.rootfs, 'tern'), { recursive: true });
    writeFileSync(join(this.rootfs, 'tern', 'console.log'), '');
    this.pki = await testPki([
      { role: 'coordinator', name: 'coordinator' },
      { role: 'operator', name: 'tester' },
      ...HOSTS.map((h) => ({ role: 'agent' as const, name: h })),
    ]);
    if (this.ha) for (const d of COORDINATORS) this.ports.set(d, await freePort());
    for (const d of [...this.coordinators(), ...HOSTS] as Daemon[]) await this.startDaemon(d);
    this.client = coordinatorClient(
      this.coordinatorList(),
      certFiles(this.pki, { role: 'operator', name: 'tester' }),
    );
    await this.waitUp();
  }

  /**
   * Until the coordinator counts every host up at the address of its
   * current process: an agent restarted a moment ago still counts as up at
   * its old address until it registers again.
   */
  async waitUp(): Promise<void> {
    await this.waitFor('every host up', async () => {
      const r = await this.call<{ hosts: { name: string; address: string; up: boolean }[] }>('ListHosts', {});
      return HOSTS.every((d) =>
        r.hosts.some((h) => h.name === d && h.up && h.address === `127.0.0.1:${this.agentPorts.get(d)}`),
      );
    });
  }

  /** The cluster's CA directory (certificates for every daemon and the operator). */
  pkiDir(): string {
    return this.pki;
  }

  stateDir(d: Daemon): string {
    return join(this.dir, d);
  }

  /** Where a daemon's log goes (kept across its restarts). */
  logFile(d: Daemon): string {
    return join(this.dir, 'logs', `${d}.log`);
  }

  /** The last lines of every daemon's log, for the report of a failed case. */
  logTails(lines = 40): string {
    const out: string[] = [];
    for (const d of this.daemons.keys()) {
      let text = '';
      try {
        text = readFileSync(this.logFile(d), 'utf8');
      } catch {
        continue;
      }
      out.push(`--- ${d} (last ${lines} lines)`, ...text.trimEnd().split('\n').slice(-lines));
    }
    return out.join('\n');
  }

  private spec(d: Daemon): DaemonSpec {
    if ((COORDINATORS as readonly string[]).includes(d))
      return {
        logFile: this.logFile(d),
        kind: 'coordinator',
        ha: this.ha,
        opts: {
          listen: `127.0.0.1:${this.ports.get(d) ?? this.coordPort}`,
          stateDir: this.stateDir(d),
          pki: this.pki,
          ...this.coordinatorOpts,
        },
      };
    return {
      logFile: this.logFile(d),
      kind: 'agent',
      pageBytes: 1 << 20,
      opts: {
        host: d,
        coordinator: this.coordinatorList(),
        stateDir: this.stateDir(d),
        // Images in the state dir, where the leftover checks look.
        fastDir: '',
        pki: this.pki,
        rootfsBases: [this.dir],
        orphanTimeoutSec: this.orphanTimeoutSec,
        heartbeatMs: 200,
      },
    };
  }

  private async startDaemon(d: Daemon): Promise<void> {
    mkdirSync(this.stateDir(d), { recursive: true });
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    const child = fork(fileURLToPath(new URL('./daemon.js', import.meta.url)), [], {
      env: { ...process.env, TERN_INPROC_SPEC: JSON.stringify(this.spec(d)) },
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const entry = {
      child,
      dead: false,
      exited: new Promise<void>((r) => child.once('exit', () => r())),
    };
    void entry.exited.then(() => {
      entry.dead = true;
    });
    this.daemons.set(d, entry);
    child.on('error', (e) => {
      if (process.env.TERN_INPROC_LOG) process.stderr.write(`${d} died: ${e.stack}\n`);
    });
    this.world.serve({
      on: (_event, listener) => child.on('message', listener as (m: unknown) => void),
      postMessage: (m) => {
        if (child.connected) child.send(m as object, () => {});
      },
    });
    child.on('message', (m: { leading?: boolean }) => {
      if (m?.leading) this.leader = d;
    });
    const ready = await new Promise<{ ready: boolean; port?: number; error?: string }>((resolve) => {
      child.on('message', (m: { ready?: boolean }) => {
        if (m && typeof m.ready === 'boolean') resolve(m as { ready: boolean });
      });
      void entry.exited.then(() => resolve({ ready: false, error: 'exited before it was ready' }));
    });
    if (!ready.ready) throw new Error(`${d} did not start: ${ready.error}`);
    if (d === 'coordinator' && !this.ha) this.coordPort = ready.port ?? 0;
    if ((HOSTS as readonly string[]).includes(d)) this.agentPorts.set(d, ready.port ?? 0);
  }

  /** Kills a daemon at once, as SIGKILL would. */
  async crash(d: Daemon): Promise<void> {
    const e = this.daemons.get(d);
    if (e && !e.dead) {
      e.child.kill('SIGKILL');
      await e.exited;
    }
  }

  /**
   * Waits (without restarting anything) until a daemon has died, at a fault
   * point armed for migration `id`: fails at once, with that migration's
   * state, if it ends first.
   */
  async waitDead(d: Daemon, id?: string, timeoutMs = 20_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    let polled = 0;
    while (!this.daemons.get(d)?.dead) {
      const late = Date.now() > until;
      if (id && (late || Date.now() - polled > 250)) {
        polled = Date.now();
        const m = await this.migration(id).catch(() => undefined);
        if (this.daemons.get(d)?.dead) return;
        if (m && (late || m.phase === 'done' || m.phase === 'aborted'))
          throw new Error(
            `${d} did not die${late ? ` within ${timeoutMs} ms` : ''}: migration ${id} is ${m.phase}` +
              `${m.error ? ` (${m.error})` : ''}, history ${m.history.map((h) => `${h.phase}${h.detail ? `: ${h.detail}` : ''}`).join('; ')}`,
          );
      }
      if (late) throw new Error(`${d} did not die within ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  /** Restarts every daemon that is no longer running (crashed by a fault or by the test). */
  async restartDead(): Promise<void> {
    for (const [d, e] of this.daemons) if (e.dead) await this.startDaemon(d);
  }

  /** Arms fault points in a daemon (its <stateDir>/faults); '' disarms. */
  faults(d: Daemon, text: string): void {
    writeFileSync(join(this.stateDir(d), 'faults'), text);
  }

  disarm(): void {
    for (const d of this.daemons.keys()) this.faults(d, '');
  }

  call<T = unknown>(method: string, req: unknown, timeoutMs = 10_000): Promise<T> {
    const c = this.client as CoordinatorClient;
    const fn = (c as unknown as Record<string, unknown>)[method] as Parameters<typeof unary>[1];
    return unary(c, fn, req, { timeoutMs, what: method }) as Promise<T>;
  }

  async waitFor(what: string, ok: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < until) {
      try {
        if (await ok()) return;
      } catch (e) {
        last = e;
      }
      if (this.autoRestart) await this.restartDead();
      await sleep(50);
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
  }

  /** Starts a container on host; returns its host pid and its memory as the world holds it. */
  async run(name: string, host: string): Promise<{ pid: number; memory: string }> {
    const c = await this.call<{ pid: number }>('RunContainer', {
      host,
      name,
      command: ['/bin/init'],
      rootfs: this.rootfs,
    });
    const p = this.world.procs.get(c.pid);
    assert.ok(p, `no simulated process ${c.pid} for ${name}`);
    return { pid: c.pid, memory: p.memory };
  }

  async migrate(name: string, to: string, mode = ''): Promise<string> {
    return (await this.call<Migration__Output>('StartMigration', { container: name, to, mode })).id;
  }

  migration(id: string): Promise<Migration__Output> {
    return this.call<Migration__Output>('GetMigration', { id });
  }

  /** Polls until the migration is in `phase` (restarting crashed daemons meanwhile). */
  async waitPhase(id: string, phases: string[], timeoutMs = 30_000): Promise<Migration__Output> {
    let m: Migration__Output | undefined;
    await this.waitFor(
      `migration ${id} in ${phases.join(' or ')}`,
      async () => {
        m = await this.migration(id);
        return phases.includes(m.phase);
      },
      timeoutMs,
    );
    return m as Migration__Output;
  }

  waitEnd(id: string, timeoutMs = 60_000): Promise<Migration__Output> {
    return this.waitPhase(id, ['done', 'aborted'], timeoutMs);
  }

  /**
   * The exactly-once checks of the fault matrix: the container runs exactly
   * once, where expected, with the memory it had, no tree is left frozen,
   * and no host keeps a migration directory or a second copy.
   */
  async expectOnce(name: string, host: string, memory: string): Promise<void> {
    await this.waitFor(
      `${name} running once on ${host} with nothing left over`,
      async () => {
        const copies = this.world.copies(name);
        if (copies.length !== 1 || copies[0].host !== host || copies[0].state !== 'running') return false;
        if (this.world.pendingHolds() !== 0) return false;
        for (const h of HOSTS) {
          if (readdirSync(join(this.stateDir(h), 'migrations')).length !== 0) return false;
          const dirs = readdirSync(join(this.stateDir(h), 'containers'));
          if (dirs.includes(name) !== (h === host)) return false;
        }
        const r = await this.call<{ containers: { name: string; host: string; state: string }[] }>(
          'ListContainers',
          {},
        );
        const listed = r.containers.filter((c) => c.name === name);
        return listed.length === 1 && listed[0].host === host && listed[0].state === 'running';
      },
      30_000,
    ).catch(async (e) => {
      const copies = this.world.copies(name).map((p) => `${p.host}:${p.pid}:${p.state}`);
      const leftovers = HOSTS.map(
        (h) => `${h}: ${readdirSync(join(this.stateDir(h), 'migrations')).join(',')}`,
      );
      throw new Error(
        `${(e as Error).message}; copies [${copies}], holds ${this.world.pendingHolds()}, ${leftovers}`,
      );
    });
    const [copy] = this.world.copies(name);
    assert.equal(copy.memory, memory, `${name}'s memory changed across the move`);
  }

  async stop(): Promise<void> {
    this.client?.close();
    for (const e of this.daemons.values())
      if (!e.dead) {
        e.child.kill('SIGKILL');
        await e.exited;
      }
    this.world.shutdown();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
