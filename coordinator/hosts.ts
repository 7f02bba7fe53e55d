// The host registry: which agents exist, where they listen, whether they are
// up (heartbeat within the host timeout), and what containers they last
// reported. Clients to agents are made here and only for hosts that are up.

import type { Logger } from 'pino';
import { notFound, TernError } from '../core/errors.js';
import { validateName } from '../core/names.js';
import type { CertFiles } from '../core/pki.js';
import { type AgentClient, agentClient, type Container__Output, grpc } from '../proto/index.js';
import { unary } from '../proto/rpc.js';
import type { HostRecord, Placement, Store } from './store.js';

export interface LiveHost extends HostRecord {
  client?: AgentClient;
  containers: Container__Output[];
  /**
   * Whether the host has reported in since this coordinator started: what
   * the store last knew of a host says nothing about whether it is up now.
   */
  heard?: boolean;
  /** MemAvailable as the agent last reported it (0: not reported). */
  memAvailable?: number;
}

/**
 * A connection to an agent is closed after this long without a call (the
 * next call opens one again). A connection costs the coordinator about
 * 130 KiB (TLS and HTTP/2 state): kept to every agent it ever moved
 * something on, a fleet of a thousand would hold most of its memory in
 * connections it does not use. The steps of a move follow each other at
 * once (a long dump is a call in progress, not idle time), so a move
 * keeps its connections; the next move on that host may need a handshake.
 */
const AGENT_IDLE_MS = 3_000;

export class HostRegistry {
  private readonly hosts = new Map<string, LiveHost>();

  constructor(
    private readonly store: Store,
    private readonly timeoutMs: number,
    private readonly log: Logger,
    /** The coordinator's certificate, presented to agents. */
    private readonly certs: CertFiles,
  ) {}

  /** Hosts as the store last knew them; until one reports in, it holds what was placed there. */
  async load(placed: Placement[]): Promise<void> {
    for (const h of await this.store.hosts()) {
      const containers = placed
        .filter((p) => p.host === h.name)
        .map((p) => ({ name: p.name, host: p.host, ip: p.ip, state: 'unknown' }) as Container__Output);
      this.hosts.set(h.name, { ...h, containers });
    }
  }

  close(): void {
    for (const h of this.hosts.values()) h.client?.close();
  }

  has(name: string): boolean {
    return this.hosts.has(name);
  }

  get(name: string): LiveHost | undefined {
    return this.hosts.get(name);
  }

  all(): LiveHost[] {
    return [...this.hosts.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  isUp(name: string): boolean {
    const h = this.hosts.get(name);
    return !!h?.heard && Date.now() - h.lastSeenMs < this.timeoutMs;
  }

  agent(name: string): AgentClient {
    const h = this.hosts.get(name);
    if (!h) throw notFound(`unknown host ${name}`);
    if (!this.isUp(name)) {
      throw new TernError(
        'UNAVAILABLE',
        h.heard
          ? `host ${name} is down (no heartbeat for ${Math.round((Date.now() - h.lastSeenMs) / 1000)} s)`
          : `host ${name} has not reported in since the coordinator started`,
      );
    }
    h.client ??= agentClient(h.address, this.certs, h.name, {
      interceptors: [this.learnFrom(h.name)],
      'grpc.client_idle_timeout_ms': AGENT_IDLE_MS,
    });
    return h.client;
  }

  /**
   * Reads every answer of host's agent that carries a container record (a
   * dump, a restore, a resume) into what the registry knows of that host,
   * ahead of its next heartbeat: findContainer then asks the host a moved
   * container now runs on without waiting up to a heartbeat interval for it.
   */
  private learnFrom(host: string): grpc.Interceptor {
    return (options, nextCall) =>
      new grpc.InterceptingCall(nextCall(options), {
        start: (metadata, _listener, next) =>
          next(metadata, {
            onReceiveMessage: (message: { container?: Container__Output } | undefined, nextMessage) => {
              const c = message?.container;
              const h = this.hosts.get(host);
              if (h && c?.name && c.host === host)
                h.containers = [...h.containers.filter((k) => k.name !== c.name), c];
              nextMessage(message);
            },
          }),
      });
  }

  /** A (re-)registration: persisted before the host counts as up at its address. */
  async register(h: Omit<LiveHost, 'client'>): Promise<LiveHost> {
    validateName('host', h.name);
    const old = this.hosts.get(h.name);
    // A cordon outlives re-registrations (and coordinator restarts: it is in the store).
    const cordoned = old?.cordoned || undefined;
    await this.store.putHost({
      name: h.name,
      address: h.address,
      dataAddress: h.dataAddress,
      lan: h.lan,
      criuVersion: h.criuVersion,
      kernel: h.kernel,
      lastSeenMs: h.lastSeenMs,
      cordoned,
    });
    if (old?.client && old.address !== h.address) old.client.close();
    const live: LiveHost = {
      ...h,
      cordoned,
      heard: true,
      client: old?.address === h.address ? old.client : undefined,
    };
    this.hosts.set(h.name, live);
    this.log.info({ host: h.name, address: h.address }, 'host registered');
    return live;
  }

  heartbeat(name: string, containers: Container__Output[], memAvailable = 0): LiveHost {
    const h = this.hosts.get(name);
    if (!h) throw new TernError('NOT_FOUND', `host ${name} is not registered`);
    h.lastSeenMs = Date.now();
    h.heard = true;
    h.containers = containers;
    if (memAvailable > 0) h.memAvailable = memAvailable;
    return h;
  }

  /** Cordons or uncordons a host, durably. */
  async setCordon(name: string, cordoned: boolean): Promise<LiveHost> {
    const h = this.hosts.get(name);
    if (!h) throw notFound(`unknown host ${name}`);
    const { client: _c, containers: _k, heard: _h, memAvailable: _m, ...record } = h;
    await this.store.putHost({ ...record, cordoned: cordoned || undefined });
    h.cordoned = cordoned || undefined;
    this.log.info({ host: name, cordoned }, cordoned ? 'host cordoned' : 'host uncordoned');
    return h;
  }

  /** Refuses a host that is cordoned as the place for `what` (a new container, an incoming migration). */
  checkOpen(name: string, what: string): void {
    if (this.hosts.get(name)?.cordoned)
      throw new TernError(
        'FAILED_PRECONDITION',
        `host ${name} is cordoned: it takes no ${what} (tern uncordon ${name} to open it again)`,
      );
  }

  /** Live view of every up host's containers (the last heartbeat's list if a host does not answer). */
  containers(): Promise<Container__Output[]> {
    return this.containersOn([...this.hosts.values()]);
  }

  /** Live view of these hosts' containers, as containers() gives it for all. */
  private async containersOn(hosts: LiveHost[]): Promise<Container__Output[]> {
    const out: Container__Output[] = [];
    await Promise.all(
      hosts.map(async (h) => {
        if (!this.isUp(h.name)) return;
        try {
          const a = this.agent(h.name);
          const r = await unary(a, a.ListContainers, {}, { timeoutMs: 5000, what: h.name });
          h.containers = r.containers;
        } catch {
          // use the last heartbeat's list
        }
        out.push(...h.containers);
      }),
    );
    return out.sort((a, b) => a.name.localeCompare(b.name) || a.host.localeCompare(b.host));
  }

  /**
   * The running container of that name as its host last reported it, when
   * that report can stand in for asking the host now: exactly one host that
   * is up (so its report is younger than the host timeout) says it runs
   * there, and no other host names it. Otherwise undefined: ask with
   * findContainer. After a move the old host stops naming the container
   * when it commits, and the new host names it from the answer to its
   * restore on (learnFrom), so a heartbeat that left the old host before
   * the move counts two hosts and is not believed. A report that is stale
   * all the same (the container exited since) costs nothing: a
   * migration's preflight asks the source about the container before
   * anything freezes, and refuses then.
   */
  reported(name: string): Container__Output | undefined {
    let found: Container__Output | undefined;
    for (const h of this.hosts.values()) {
      const c = h.containers.find((k) => k.name === name);
      if (!c) continue;
      if (found || c.state !== 'running' || c.host !== h.name || !this.isUp(h.name)) return undefined;
      found = c;
    }
    return found;
  }

  /** The live container of that name; with `orExited`, an exited one when none is live. */
  async findContainer(name: string, orExited = false): Promise<Container__Output> {
    validateName('container', name);
    // Asking every host costs a round trip to each, for every move: on a
    // fleet of a thousand hosts most of what StartMigration does. The hosts
    // that last reported the container are asked first; all of them only if
    // none of those has it live now (it was started or moved since, or is
    // wanted exited).
    const likely = [...this.hosts.values()].filter((h) => h.containers.some((c) => c.name === name));
    if (likely.length > 0) {
      const live = (await this.containersOn(likely)).filter((c) => c.name === name && c.state !== 'exited');
      if (live.length > 0) return live[0];
    }
    const all = (await this.containers()).filter((c) => c.name === name);
    let matches = all.filter((c) => c.state !== 'exited');
    if (matches.length === 0 && orExited) matches = all;
    if (matches.length === 0) {
      const down = [...this.hosts.values()].filter(
        (h) => !this.isUp(h.name) && h.containers.some((c) => c.name === name),
      );
      if (down.length > 0)
        throw new TernError('UNAVAILABLE', `container ${name} is on ${down[0].name}, which is down`);
      throw notFound(`no container named ${name}`);
    }
    return matches[0];
  }
}
