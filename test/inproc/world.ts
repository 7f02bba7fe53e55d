// The simulated machine behind the in-process tier: processes (container
// inits, dumping "CRIU" processes), frozen holds and network links of every
// simulated host. It lives in the test process; the daemons run in
// child processes and reach it over their IPC channel (fakes.ts), so a
// daemon killed mid-step leaves the world as a crashed daemon leaves a
// real host: containers, frozen trees and waiting dumps go on.
import { randomBytes } from 'node:crypto';

/** A message channel to one daemon process (its IPC channel). */
export interface Port {
  on(event: 'message', listener: (m: never) => void): unknown;
  postMessage(m: unknown): void;
}

export interface SimProcess {
  pid: number;
  host: string;
  /** Which container this is, across moves: the same on every copy. */
  identity: string;
  /** Stands in for the container's memory: a restored copy carries what the dump saw. */
  memory: string;
  state: 'running' | 'frozen' | 'stopped' | 'dead';
  startTime: string;
  kind: 'container' | 'criu';
}

interface Hold {
  criuPid: number;
  containerPid: number;
  workDir: string;
  outcome?: 'killed' | 'resumed';
  waiters: ((o: 'killed' | 'resumed') => void)[];
  timer?: NodeJS.Timeout;
}

/** Slow steps, to give a test time to act while a migration is in a phase. */
export interface Delays {
  /** CPU compatibility check on the target (preflight). */
  cpuinfoMs: number;
  /** From dump start to post-dump (dumping). */
  dumpMs: number;
  /** Restore on the target (restoring). */
  restoreMs: number;
}

export type Request = { id: number; method: string; args: unknown[] };
export type Reply = { id: number; result?: unknown; error?: { message: string; code?: string } };

export class World {
  readonly procs = new Map<number, SimProcess>();
  private readonly holds = new Map<number, Hold>();
  private readonly links = new Map<string, Set<string>>();
  private nextPid = 1000;
  delays: Delays = { cpuinfoMs: 0, dumpMs: 0, restoreMs: 0 };
  /** Bytes of simulated memory pages a dump writes. */
  pageBytes = 1 << 20;

  /** Serves one daemon's requests on port; each request names its host. */
  serve(port: Port): void {
    port.on('message', (req: Request) => {
      if (typeof req?.method !== 'string') return; // a daemon's own message (ready)
      const fn = (this as unknown as Record<string, (...a: unknown[]) => unknown>)[req.method];
      Promise.resolve()
        .then(() => {
          if (typeof fn !== 'function' || req.method === 'serve')
            throw new Error(`no world method ${req.method}`);
          return fn.apply(this, req.args);
        })
        .then(
          (result) => port.postMessage({ id: req.id, result } satisfies Reply),
          (e: Error & { code?: string }) =>
            port.postMessage({ id: req.id, error: { message: e.message, code: e.code } } satisfies Reply),
        );
    });
  }

  private spawn(host: string, p: Omit<SimProcess, 'pid' | 'host' | 'startTime'>): SimProcess {
    const proc: SimProcess = { ...p, pid: this.nextPid++, host, startTime: randomBytes(4).toString('hex') };
    this.procs.set(proc.pid, proc);
    return proc;
  }

  private live(pid: number): SimProcess | undefined {
    const p = this.procs.get(pid);
    return p && p.state !== 'dead' ? p : undefined;
  }

  // ------------------------------------------------------------ host

  launch(host: string, identity: string, veth: string): { pid: number; shimPid: number } {
    const p = this.spawn(host, {
      identity,
      memory: randomBytes(8).toString('hex'),
      state: 'running',
      kind: 'container',
    });
    this.linksOf(host).add(veth);
    return { pid: p.pid, shimPid: p.pid };
  }

  private linksOf(host: string): Set<string> {
    let s = this.links.get(host);
    if (!s) {
      s = new Set(['lo', 'br0', 'eth0']);
      this.links.set(host, s);
    }
    return s;
  }

  linkNames(host: string): string[] {
    return [...this.linksOf(host)];
  }

  unwire(host: string, veth: string): void {
    this.linksOf(host).delete(veth);
  }

  alive(pid: number): boolean {
    return !!this.live(pid);
  }

  startTime(pid: number): string | undefined {
    return this.live(pid)?.startTime;
  }

  kill(pid: number): void {
    const p = this.live(pid);
    if (p) p.state = 'dead';
  }

  stopTree(pid: number): void {
    const p = this.live(pid);
    if (p && p.state !== 'frozen') p.state = 'stopped';
  }

  resumeTree(pid: number): void {
    const p = this.live(pid);
    if (p && p.state === 'stopped') p.state = 'running';
  }

  exec(pid: number): { code: number; stdout: string } {
    const p = this.live(pid);
    if (p?.state !== 'running') return { code: 1, stdout: '' };
    return { code: 0, stdout: p.memory };
  }

  exitedPid(host: string): number {
    const p = this.spawn(host, { identity: 'exited', memory: '', state: 'dead', kind: 'criu' });
    return p.pid;
  }

  // ------------------------------------------------------------ engine

  /** A dump starts: the tree freezes and a CRIU process holds it until a verdict or the timeout. */
  async dumpBegin(host: string, pid: number, workDir: string, holdTimeoutSec: number) {
    const p = this.live(pid);
    if (!p || p.host !== host || p.kind !== 'container')
      throw new Error(`criu dump exited with status 1: Can't freeze ${pid}: no such process`);
    if (p.state !== 'running') throw new Error(`criu dump exited with status 1: ${pid} is ${p.state}`);
    await new Promise((r) => setTimeout(r, this.delays.dumpMs));
    if (!this.live(pid)) throw new Error(`criu dump exited with status 1: ${pid} died`);
    p.state = 'frozen';
    const criu = this.spawn(host, { identity: `criu-${pid}`, memory: '', state: 'running', kind: 'criu' });
    const hold: Hold = { criuPid: criu.pid, containerPid: pid, workDir, waiters: [] };
    hold.timer = setTimeout(() => this.decide(hold, 'resume'), holdTimeoutSec * 1000);
    this.holds.set(criu.pid, hold);
    return { criuPid: criu.pid, identity: p.identity, memory: p.memory };
  }

  private decide(h: Hold, verdict: 'kill' | 'resume'): void {
    if (h.outcome) return;
    clearTimeout(h.timer);
    const p = this.procs.get(h.containerPid);
    if (verdict === 'kill') {
      if (p) p.state = 'dead';
      h.outcome = 'killed';
    } else {
      if (p && p.state === 'frozen') p.state = 'running';
      h.outcome = 'resumed';
    }
    this.kill(h.criuPid);
    for (const w of h.waiters.splice(0)) w(h.outcome);
  }

  /** Whether the verdict reached a hold still waiting for one. */
  holdDecide(criuPid: number, verdict: 'kill' | 'resume'): boolean {
    const h = this.holds.get(criuPid);
    if (!h || h.outcome) return false;
    this.decide(h, verdict);
    return true;
  }

  /** Settles when the hold ends, with what happened to the tree. */
  holdWait(criuPid: number): Promise<'killed' | 'resumed'> {
    const h = this.holds.get(criuPid);
    if (!h) throw new Error(`no hold ${criuPid}`);
    if (h.outcome) return Promise.resolve(h.outcome);
    return new Promise((r) => h.waiters.push(r));
  }

  decideOrphanHold(workDir: string, verdict: 'kill' | 'resume'): boolean {
    const h = [...this.holds.values()].find((x) => x.workDir === workDir && !x.outcome);
    if (!h) return false;
    this.decide(h, verdict);
    return true;
  }

  async restore(host: string, identity: string, memory: string): Promise<{ pid: number }> {
    await new Promise((r) => setTimeout(r, this.delays.restoreMs));
    const p = this.spawn(host, { identity, memory, state: 'stopped', kind: 'container' });
    return { pid: p.pid };
  }

  async cpuinfoCompatible(): Promise<boolean> {
    await new Promise((r) => setTimeout(r, this.delays.cpuinfoMs));
    return true;
  }

  // ------------------------------------------------------------ checks

  /** Live copies of a container (any state but dead). */
  copies(identity: string): SimProcess[] {
    return [...this.procs.values()].filter((p) => p.identity === identity && p.state !== 'dead');
  }

  /** CRIU processes still holding a tree. */
  pendingHolds(): number {
    return [...this.holds.values()].filter((h) => !h.outcome).length;
  }

  /** Ends every hold (the test is over): no timers left behind. */
  shutdown(): void {
    for (const h of this.holds.values()) clearTimeout(h.timer);
  }
}
