// The coordinator daemon: host registry, container API, migrations, and the
// relay that carries image chunks from the source agent to the target agent.
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { invalid, notFound, precondition, TernError } from '../core/errors.js';
import { validateName } from '../core/names.js';
import { pickFreeAddress, validateAddress } from '../core/net.js';
import {
  type AgentClient,
  agentClient,
  bindServer,
  type Container__Output,
  type CoordinatorHandlers,
  grpc,
  type Migration,
  SERVER_OPTIONS,
  ternProto,
} from '../proto/index.js';
import { handleUnary, toServiceError, unary, writeWithBackpressure } from '../proto/rpc.js';
import type { CoordinatorOptions } from './config.js';
import { type Fleet, MigrationRunner } from './migration.js';
import { TERMINAL } from './phases.js';
import type { HostRecord, MigrationRecord, Placement, Store } from './store.js';

interface LiveHost extends HostRecord {
  client?: AgentClient;
  containers: Container__Output[];
}

export function migrationToWire(m: MigrationRecord): Migration {
  return {
    id: m.id,
    container: m.container,
    from: m.from,
    to: m.to,
    phase: m.phase,
    error: m.error ?? '',
    history: m.history.map((h) => ({ phase: h.phase, at_ms: h.atMs, detail: h.detail ?? '' })),
    started_ms: m.startedMs,
    finished_ms: m.finishedMs ?? 0,
    downtime_ms: m.downtimeMs ?? 0,
    raw_bytes: m.rawBytes ?? 0,
    wire_bytes: m.wireBytes ?? 0,
    dump_ms: m.dumpMs ?? 0,
    transfer_ms: m.transferMs ?? 0,
    restore_ms: m.restoreMs ?? 0,
  };
}

export class Coordinator implements Fleet {
  private readonly hosts = new Map<string, LiveHost>();
  private readonly migrations = new Map<string, MigrationRecord>();
  private readonly placement = new Map<string, Placement>();
  private readonly reconciling = new Set<string>();
  /** Address → container, while a RunContainer that was given it is under way. */
  private readonly startingAt = new Map<string, string>();
  readonly runner: MigrationRunner;
  private readonly servers: grpc.Server[] = [];
  port = 0;

  constructor(
    readonly opts: CoordinatorOptions,
    private readonly store: Store,
    private readonly log: Logger,
  ) {
    this.runner = new MigrationRunner(store, this, log, opts.maxMigrationsPerHost, opts.stateDir);
  }

  async start(): Promise<void> {
    const placed = await this.store.placements();
    for (const p of placed) this.placement.set(p.name, p);
    for (const h of await this.store.hosts()) {
      // Until a host reports in, what it holds is what the store last knew.
      const containers = placed
        .filter((p) => p.host === h.name)
        .map((p) => ({ name: p.name, host: p.host, ip: p.ip, state: 'unknown' }) as Container__Output);
      this.hosts.set(h.name, { ...h, containers });
    }
    for (const m of await this.store.migrations()) this.migrations.set(m.id, m);
    const service = ternProto().tern.v1.Coordinator.service;
    if (this.opts.listen) {
      const s = new grpc.Server(SERVER_OPTIONS);
      s.addService(service, this.handlers());
      this.port = await bindServer(s, this.opts.listen);
      this.servers.push(s);
    }
    if (this.opts.socket) {
      await mkdir(dirname(this.opts.socket), { recursive: true });
      await rm(this.opts.socket, { force: true });
      const s = new grpc.Server(SERVER_OPTIONS);
      s.addService(service, this.handlers());
      await bindServer(s, `unix://${this.opts.socket}`);
      this.servers.push(s);
    }
    this.log.info(
      { listen: this.opts.listen, port: this.port, socket: this.opts.socket },
      'coordinator listening',
    );
    await this.recover();
  }

  async stop(): Promise<void> {
    for (const s of this.servers) await new Promise<void>((r) => s.tryShutdown(() => r()));
    for (const h of this.hosts.values()) h.client?.close();
  }

  /** Migrations interrupted by a coordinator stop: finish a commit, abort the rest. */
  private async recover(): Promise<void> {
    for (const m of this.migrations.values()) {
      if (TERMINAL.includes(m.phase)) continue;
      const log = this.log.child({ migration: m.id });
      log.warn({ phase: m.phase }, 'recovering an interrupted migration');
      void (async () => {
        // Wait for the agents to re-register before acting.
        const until = Date.now() + 60_000;
        while (Date.now() < until && !(this.isUp(m.from) && this.isUp(m.to)))
          await new Promise((r) => setTimeout(r, 500));
        if (m.phase === 'committing' || m.phase === 'committed') {
          await this.runner.completeCommit(m, log);
        } else {
          m.error = m.error ?? 'interrupted by a coordinator restart';
          await this.runner
            .abort(m, log)
            .catch((e) => log.error({ err: (e as Error).message }, 'recovery failed'));
        }
      })();
    }
  }

  coordinatorAddress(): string {
    const a = this.opts.advertise || this.opts.listen;
    return a.endsWith(':0') ? a.replace(/:0$/, `:${this.port}`) : a;
  }

  isUp(name: string): boolean {
    const h = this.hosts.get(name);
    return !!h && Date.now() - h.lastSeenMs < this.opts.hostTimeoutMs;
  }

  agent(name: string): AgentClient {
    const h = this.hosts.get(name);
    if (!h) throw notFound(`unknown host ${name}`);
    if (!this.isUp(name)) {
      throw new TernError(
        'UNAVAILABLE',
        `host ${name} is down (no heartbeat for ${Math.round((Date.now() - h.lastSeenMs) / 1000)} s)`,
      );
    }
    if (!h.client) h.client = agentClient(h.address);
    return h.client;
  }

  /** Live view of every up host's containers. */
  private async allContainers(): Promise<Container__Output[]> {
    const out: Container__Output[] = [];
    await Promise.all(
      [...this.hosts.values()].map(async (h) => {
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

  /** The live container of that name; with `orExited`, an exited one when none is live. */
  private async findContainer(name: string, orExited = false): Promise<Container__Output> {
    validateName('container', name);
    const all = (await this.allContainers()).filter((c) => c.name === name);
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

  /**
   * An agent holds a part of a migration that has ended (or that this
   * coordinator never knew): tell it to abort, which unfreezes a held tree,
   * removes a stray stopped copy and stale images. Never for a migration
   * that is still running or past its commit point.
   */
  private reconcileMigrations(host: string, ids: string[]): void {
    for (const id of ids) {
      const m = this.migrations.get(id);
      if (m && m.phase !== 'aborted') continue;
      if (this.reconciling.has(`${host}/${id}`)) continue;
      this.reconciling.add(`${host}/${id}`);
      this.log.warn({ host, migration: id }, 'agent holds a part of an ended migration: aborting it there');
      const a = this.agent(host);
      unary(a, a.Abort, { migration_id: id }, { timeoutMs: 120_000, what: host })
        .catch((e) =>
          this.log.error({ host, migration: id, err: (e as Error).message }, 'reconcile abort failed'),
        )
        .finally(() => this.reconciling.delete(`${host}/${id}`));
    }
  }

  /** Records where running containers are, as their agents report them. */
  private async reconcile(h: LiveHost): Promise<void> {
    for (const c of h.containers) {
      if (c.state !== 'running' || this.activeMigration(c.name)) continue;
      const known = this.placement.get(c.name);
      if (known?.host === h.name && known.ip === c.ip) continue;
      const p = { name: c.name, host: h.name, ip: c.ip, updatedMs: Date.now() };
      this.placement.set(c.name, p);
      await this.store.putPlacement(p);
    }
  }

  private activeMigration(container: string): MigrationRecord | undefined {
    return [...this.migrations.values()].find(
      (m) => m.container === container && !TERMINAL.includes(m.phase),
    );
  }

  private handlers(): CoordinatorHandlers {
    const log = this.log;
    return {
      RegisterHost: handleUnary(log, async (req) => {
        validateName('host', req.name);
        if (!req.address) throw invalid('RegisterHost needs an address');
        const old = this.hosts.get(req.name);
        if (old?.client && old.address !== req.address) old.client.close();
        const h: LiveHost = {
          name: req.name,
          address: req.address,
          lan: req.lan,
          criuVersion: req.criu_version,
          kernel: req.kernel,
          lastSeenMs: Date.now(),
          containers: req.containers,
          client: old?.address === req.address ? old.client : undefined,
        };
        this.hosts.set(req.name, h);
        await this.reconcile(h);
        this.reconcileMigrations(h.name, req.migrations);
        await this.store.putHost({
          name: h.name,
          address: h.address,
          lan: h.lan,
          criuVersion: h.criuVersion,
          kernel: h.kernel,
          lastSeenMs: h.lastSeenMs,
        });
        log.info({ host: h.name, address: h.address }, 'host registered');
        return { heartbeat_ms: 2000 };
      }),
      Heartbeat: handleUnary(log, async (req) => {
        const h = this.hosts.get(req.name);
        if (!h) throw new TernError('NOT_FOUND', `host ${req.name} is not registered`);
        h.lastSeenMs = Date.now();
        h.containers = req.containers;
        await this.reconcile(h);
        this.reconcileMigrations(h.name, req.migrations);
        return {};
      }),
      ListHosts: handleUnary(log, async () => ({
        hosts: [...this.hosts.values()]
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((h) => ({
            name: h.name,
            address: h.address,
            up: this.isUp(h.name),
            last_seen_ms: h.lastSeenMs,
            criu_version: h.criuVersion,
            kernel: h.kernel,
            containers: h.containers.filter((c) => c.state !== 'exited').length,
            lan: h.lan,
          })),
      })),
      ListContainers: handleUnary(log, async (req) => ({
        containers: (await this.allContainers()).filter((c) => !req.host || c.host === req.host),
      })),
      RunContainer: handleUnary(log, async (req) => {
        if (!req.host) throw invalid('tern run needs --host');
        validateName('container', req.name);
        const agent = this.agent(req.host);
        const all = await this.allContainers();
        if (all.some((c) => c.name === req.name && c.state !== 'exited')) {
          throw new TernError('ALREADY_EXISTS', `a container named ${req.name} already exists`);
        }
        const lan = this.hosts.get(req.host)?.lan || '10.78.0.0/24';
        const used = [...all.filter((c) => c.state !== 'exited').map((c) => c.ip), ...this.startingAt.keys()];
        let ip = req.ip;
        if (ip) {
          ip = validateAddress(ip, lan);
          const addr = ip.split('/')[0];
          const starting = this.startingAt.get(addr);
          if (starting)
            throw new TernError('ALREADY_EXISTS', `address ${addr} is being given to container ${starting}`);
          const user = all.find((c) => c.state !== 'exited' && c.ip.split('/')[0] === addr);
          if (user)
            throw new TernError(
              'ALREADY_EXISTS',
              `address ${addr} is used by container ${user.name} on ${user.host}`,
            );
        } else {
          ip = pickFreeAddress(lan, used);
        }
        // Until the agent has the container, no other run may pick its address.
        const addr = ip.split('/')[0];
        this.startingAt.set(addr, req.name);
        try {
          return await unary(
            agent,
            agent.RunContainer,
            {
              name: req.name,
              command: req.command,
              ip,
              rootfs: req.rootfs,
              hostname: req.hostname,
              env: req.env,
            },
            { timeoutMs: 120_000, what: req.host },
          );
        } finally {
          this.startingAt.delete(addr);
        }
      }),
      StopContainer: handleUnary(log, async (req) => {
        // An exited container can be stopped too: that removes its record.
        const c = await this.findContainer(req.name, true);
        if (this.activeMigration(c.name)) throw precondition(`container ${c.name} is being migrated`);
        const a = this.agent(c.host);
        const r = await unary(a, a.StopContainer, { name: c.name }, { timeoutMs: 60_000, what: c.host });
        if (c.state !== 'exited' || this.placement.get(c.name)?.host === c.host) {
          this.placement.delete(c.name);
          await this.store.deletePlacement(c.name);
        }
        return r;
      }),
      ExecContainer: handleUnary(log, async (req) => {
        const c = await this.findContainer(req.name);
        const a = this.agent(c.host);
        const timeout = req.timeout_ms || 60_000;
        return unary(
          a,
          a.Exec,
          { name: c.name, command: req.command, timeout_ms: timeout },
          { timeoutMs: timeout + 5000, what: c.host },
        );
      }),
      StartMigration: handleUnary(log, async (req) => {
        if (!req.to) throw invalid('migrate needs --to');
        validateName('host', req.to);
        if (req.from) validateName('host', req.from);
        if (req.from && req.from === req.to) throw invalid(`source and target are the same host (${req.to})`);
        if (!this.hosts.has(req.to)) throw notFound(`unknown host ${req.to}`);
        if (req.from && !this.hosts.has(req.from)) throw notFound(`unknown host ${req.from}`);
        this.agent(req.to); // throws if the target is down
        if (req.from) this.agent(req.from);
        const c = await this.findContainer(req.container);
        if (req.from && c.host !== req.from)
          throw precondition(`container ${c.name} is on ${c.host}, not on ${req.from}`);
        if (c.host === req.to) throw invalid(`container ${c.name} is already on ${req.to}`);
        if (c.state !== 'running') throw precondition(`container ${c.name} is ${c.state}, not running`);
        const busy = this.activeMigration(c.name);
        if (busy) throw precondition(`container ${c.name} is already being migrated (${busy.id})`);
        const m = await this.runner.create(c.name, c.host, req.to);
        this.migrations.set(m.id, m);
        void this.runner.run(m, c);
        return migrationToWire(m);
      }),
      GetMigration: handleUnary(log, async (req) => {
        const m = this.migrations.get(req.id);
        if (!m) throw notFound(`no migration ${req.id}`);
        return migrationToWire(m);
      }),
      CancelMigration: handleUnary(log, async (req) => {
        const m = this.migrations.get(req.id);
        if (!m) throw notFound(`no migration ${req.id}`);
        this.runner.cancel(m);
        return migrationToWire(m);
      }),
      ListMigrations: handleUnary(log, async () => ({
        migrations: [...this.migrations.values()]
          .sort((a, b) => a.startedMs - b.startedMs)
          .map(migrationToWire),
      })),
      WatchMigration: (call) => {
        const m = this.migrations.get(call.request.id);
        if (!m) {
          call.emit('error', toServiceError(notFound(`no migration ${call.request.id}`)));
          return;
        }
        const send = (r: MigrationRecord) => {
          call.write(migrationToWire(r));
          if (
            TERMINAL.includes(r.phase) ||
            (r.error && (r.phase === 'committing' || r.phase === 'committed'))
          ) {
            stop();
            call.end();
          }
        };
        const stop = this.runner.watch(m.id, send);
        call.on('cancelled', stop);
        send(m);
      },
      PullImages: (call) => {
        const id = call.request.migration_id;
        const m = this.migrations.get(id);
        (async () => {
          if (!m) throw notFound(`no migration ${id}`);
          if (m.phase !== 'transferring')
            throw precondition(`migration ${id} is ${m.phase}, not transferring`);
          const src = this.agent(m.from);
          const upstream = src.ReadImages({ migration_id: id });
          call.on('cancelled', () => upstream.cancel());
          // for-await pulls one message at a time from the source stream, and
          // waits for the target's window before pulling the next.
          for await (const chunk of upstream) {
            if (call.cancelled) return;
            await writeWithBackpressure(call, chunk);
          }
          call.end();
        })().catch((e) => {
          // grpc-js sends a status for 'error', never for destroy().
          if (!call.cancelled) call.emit('error', toServiceError(e, log));
        });
      },
    };
  }
}
