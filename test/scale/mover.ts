// Keeps a number of migrations in flight, as an operator's tooling would
// through the coordinator's API: StartMigration of a container that is not
// moving, to another host picked at random, then WatchMigration until it
// ends; whenever one ends another starts. Times each StartMigration call and
// notes when each phase arrives on the watch stream.
import type { Phase } from '../../coordinator/phases.js';
import { TERMINAL } from '../../coordinator/phases.js';
import { errorMessage } from '../../core/errors.js';
import type { CoordinatorClient, Migration__Output } from '../../proto/index.js';
import { unary } from '../../proto/rpc.js';
import { now } from './messages.js';
import type { Move, Sample } from './stats.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Mover {
  private target = 0;
  /** Containers with a migration started and not ended. */
  private readonly moving = new Set<string>();
  /** Where each container is (as the last migration that ended left it). */
  private readonly where = new Map<string, string>();
  private readonly hosts: string[] = [];
  readonly moves: Move[] = [];
  readonly starts: Sample[] = [];
  /** Why StartMigration calls failed, with how often. */
  readonly refusals = new Map<string, number>();

  constructor(private readonly client: CoordinatorClient) {}

  /** Hosts that are up, each with the container it started with. */
  add(placed: { host: string; container: string }[]): void {
    for (const p of placed) {
      this.hosts.push(p.host);
      this.where.set(p.container, p.host);
    }
  }

  /** Migrations to keep in flight from now on. */
  keep(n: number): void {
    this.target = n;
    this.fill();
  }

  inFlight(): number {
    return this.moving.size;
  }

  /** Starts no more and waits (up to timeoutMs) for those in flight to end; returns how many did not. */
  async drain(timeoutMs: number): Promise<number> {
    this.target = 0;
    const until = Date.now() + timeoutMs;
    while (this.moving.size > 0 && Date.now() < until) await sleep(100);
    return this.moving.size;
  }

  private fill(): void {
    while (this.moving.size < this.target && this.startOne());
  }

  private pickContainer(): string | undefined {
    const all = [...this.where.keys()];
    for (let i = 0; i < 50 && all.length > 0; i++) {
      const c = all[Math.floor(Math.random() * all.length)];
      if (!this.moving.has(c)) return c;
    }
    return all.find((c) => !this.moving.has(c));
  }

  private startOne(): boolean {
    const container = this.pickContainer();
    if (!container || this.hosts.length < 2) return false;
    const from = this.where.get(container) as string;
    let to = from;
    while (to === from) to = this.hosts[Math.floor(Math.random() * this.hosts.length)];
    this.moving.add(container);
    const t0 = now();
    const c = this.client;
    unary(c, c.StartMigration, { container, to }, { timeoutMs: 30_000, what: 'StartMigration' }).then(
      (m) => {
        const t1 = now();
        this.starts.push({ kind: 'start', at: t1, ms: t1 - t0, ok: true });
        this.watch({ id: m.id, container, from, to, live: {}, before: [] });
      },
      (e) => {
        const t1 = now();
        this.starts.push({ kind: 'start', at: t1, ms: t1 - t0, ok: false });
        const why = errorMessage(e);
        this.refusals.set(why, (this.refusals.get(why) ?? 0) + 1);
        this.moving.delete(container);
        setTimeout(() => this.fill(), 200);
      },
    );
    return true;
  }

  private watch(move: Move): void {
    this.moves.push(move);
    const stream = this.client.WatchMigration({ id: move.id });
    let first = true;
    stream.on('data', (m: Migration__Output) => {
      const t = now();
      const phase = m.phase as Phase;
      // What happened before the watch opened has no arrival time of its own.
      if (first) move.before.push(...m.history.map((h) => h.phase as Phase));
      else if (move.live[phase] === undefined && !move.before.includes(phase)) move.live[phase] = t;
      first = false;
      if (TERMINAL.includes(phase)) this.ended(move, phase, t, m.error);
    });
    stream.on('error', () => {
      if (!move.end) void this.poll(move);
    });
  }

  /** The watch broke before the end: asks until the migration has ended. */
  private async poll(move: Move): Promise<void> {
    const c = this.client;
    while (!move.end) {
      await sleep(500);
      const m = await unary(c, c.GetMigration, { id: move.id }, { timeoutMs: 10_000 }).catch(() => undefined);
      if (m && TERMINAL.includes(m.phase as Phase)) this.ended(move, m.phase as Phase, now(), m.error);
    }
  }

  private ended(move: Move, phase: Phase, t: number, error: string): void {
    if (move.end) return;
    move.end = phase;
    move.endedAt = t;
    if (phase === 'done') this.where.set(move.container, move.to);
    else move.error = error;
    this.moving.delete(move.container);
    this.fill();
  }
}
