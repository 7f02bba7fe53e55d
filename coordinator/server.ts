// The coordinator daemon: the API users and agents call. It keeps the host
// registry (hosts.ts), container placements (reconcile.ts), addresses
// (addresses.ts) and migrations, which the runner drives (migration.ts,
// steps.ts), and relays image streams (relay.ts).
import { chmod, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { invalid, notFound, precondition, TernError } from '../core/errors.js';
import { FAULTS_WARNING, Faults } from '../core/faults.js';
import { privateDir } from '../core/files.js';
import { serveMetrics } from '../core/metrics.js';
import { validateName } from '../core/names.js';
import { notifyReady } from '../kernel/systemd.js';
import type { StartMigrationRequest__Output } from '../proto/gen/tern/v1/StartMigrationRequest.js';
import { Health } from '../proto/health.js';
import {
  type AgentClient,
  bindServer,
  type Container__Output,
  type CoordinatorHandlers,
  type EvacuateEvent,
  type grpc,
  newServer,
  ternProto,
  tlsReady,
} from '../proto/index.js';
import { COORDINATOR_POLICY } from '../proto/roles.js';
import { handleUnary, toServiceError, unary } from '../proto/rpc.js';
import { callerOf, describe } from '../proto/tls.js';
import { AddressBook, type AddressUser } from './addresses.js';
import { type CoordinatorOptions, coordinatorCerts } from './config.js';
import { dryRun } from './dryrun.js';
import { evacuate, whenEnded } from './evacuate.js';
import { HostRegistry } from './hosts.js';
import { CoordinatorMetrics } from './metrics.js';
import { type Fleet, MigrationRunner } from './migration.js';
import { chooseMode, estimateStopAndCopy } from './modes.js';
import { MODES, type Mode, TERMINAL } from './phases.js';
import type { PrecopyRules } from './precopy.js';
import { Reconciler } from './reconcile.js';
import { relayImages } from './relay.js';
import { faultyStore, type MigrationRecord, type Placement, type Store } from './store.js';
import { WebView } from './web.js';
import { migrationToWire } from './wire.js';

export { migrationToWire } from './wire.js';

/** How long recovery waits for both agents of an interrupted migration to report in. */
const RECOVERY_WAIT_MS = 60_000;

/** Ended migrations kept in memory besides those under way (`tern migrations` lists these). */
export const KEEP_ENDED = 1000;

export class Coordinator implements Fleet {
  private readonly store: Store;
  private readonly hosts: HostRegistry;
  /**
   * Every migration under way, and the last KEEP_ENDED that ended, oldest
   * first; the store has the rest (GetMigration finds them there).
   */
  private readonly migrations = new Map<string, MigrationRecord>();
  /** Migrations not yet seen ended: what activeMigration looks through. */
  private readonly open = new Set<MigrationRecord>();
  private readonly placement = new Map<string, Placement>();
  private readonly addresses = new AddressBook();
  /** Image bytes relayed per migration, counted by the relay as they pass. */
  private readonly relayed = new Map<string, number>();
  private readonly reconciler: Reconciler;
  readonly runner: MigrationRunner;
  private readonly servers: grpc.Server[] = [];
  private readonly health = new Health(['tern.v1.Coordinator']);
  readonly metrics: CoordinatorMetrics;
  private readonly web: WebView;
  private metricsServer?: { port: number; close: () => Promise<void> };
  port = 0;

  constructor(
    readonly opts: CoordinatorOptions,
    store: Store,
    private readonly log: Logger,
  ) {
    // Fault point store-<phase>: the store itself refuses to record that phase.
    const faults = new Faults(opts.stateDir, opts.testFaults);
    this.store = faultyStore(store, faults);
    this.hosts = new HostRegistry(this.store, opts.hostTimeoutMs, log, coordinatorCerts(opts));
    this.runner = new MigrationRunner(this.store, this, log, opts.maxMigrationsPerHost, faults);
    this.metrics = new CoordinatorMetrics({
      hosts: () =>
        this.hosts.all().map((h) => ({
          name: h.name,
          up: this.hosts.isUp(h.name),
          containers: h.containers.filter((c) => c.state !== 'exited').length,
        })),
      running: () => [...this.migrations.values()].filter((m) => !TERMINAL.includes(m.phase)),
    });
    this.web = new WebView({
      hosts: () =>
        this.hosts.all().map((h) => ({
          name: h.name,
          up: this.hosts.isUp(h.name),
          cordoned: !!h.cordoned,
          containers: h.containers
            .filter((c) => c.state !== 'exited')
            .map((c) => ({ name: c.name, state: c.state, ip: c.ip })),
        })),
      migrations: () => [...this.migrations.values()],
    });
    this.runner.onTransition = (m) => {
      this.metrics.transition(m);
      this.web.changed();
    };
    this.reconciler = new Reconciler(
      this.store,
      this.hosts,
      this.placement,
      this.migrations,
      (c) => this.activeMigration(c),
      log,
    );
  }

  async start(): Promise<void> {
    if (this.opts.testFaults) this.log.warn(FAULTS_WARNING);
    await privateDir(this.opts.stateDir);
    // Its certificate serves the TLS port and is presented to every agent.
    await tlsReady(coordinatorCerts(this.opts));
    const placed = await this.store.placements();
    for (const p of placed) this.placement.set(p.name, p);
    await this.hosts.load(placed);
    for (const m of await this.store.migrations()) this.track(m);
    const service = ternProto().tern.v1.Coordinator.service;
    const denied = (method: string, who: string) => this.log.warn({ method, caller: who }, 'call refused');
    const observe = (method: string, code: number, secs: number) => this.metrics.call(method, code, secs);
    if (this.opts.listen) {
      const s = newServer(COORDINATOR_POLICY, denied, false, observe);
      s.addService(service, this.handlers());
      this.health.addTo(s);
      this.port = await bindServer(s, this.opts.listen, coordinatorCerts(this.opts));
      this.servers.push(s);
    }
    if (this.opts.socket) {
      await mkdir(dirname(this.opts.socket), { recursive: true });
      await rm(this.opts.socket, { force: true });
      const s = newServer(COORDINATOR_POLICY, denied, true, observe);
      s.addService(service, this.handlers());
      this.health.addTo(s);
      await bindServer(s, `unix://${this.opts.socket}`);
      // Whoever may use this socket may move every container: root only, set here, not left to umask.
      await chmod(this.opts.socket, 0o600);
      this.servers.push(s);
    }
    if (this.opts.metricsListen) {
      this.metricsServer = await serveMetrics(this.opts.metricsListen, this.metrics.registry, this.web.pages);
      this.log.info({ metrics: this.opts.metricsListen, port: this.metricsServer.port }, 'metrics served');
    }
    this.log.info(
      { listen: this.opts.listen, port: this.port, socket: this.opts.socket },
      'coordinator listening',
    );
    this.health.set(true);
    notifyReady((msg) => this.log.warn(msg));
    this.recover();
  }

  /** The port /metrics is served on (0: none). */
  metricsPort(): number {
    return this.metricsServer?.port ?? 0;
  }

  async stop(): Promise<void> {
    this.health.set(false);
    this.web.close();
    await this.metricsServer?.close();
    for (const s of this.servers) await new Promise<void>((r) => s.tryShutdown(() => r()));
    this.hosts.close();
  }

  /**
   * Migrations a coordinator stop interrupted re-enter their step table once
   * both agents have reported in (or the wait is over): each phase's step
   * says whether to finish or to abort.
   */
  private recover(): void {
    for (const m of this.migrations.values()) {
      if (TERMINAL.includes(m.phase)) continue;
      this.log.warn({ migration: m.id, phase: m.phase }, 'recovering an interrupted migration');
      void (async () => {
        const until = Date.now() + RECOVERY_WAIT_MS;
        while (Date.now() < until && !(this.hosts.isUp(m.from) && this.hosts.isUp(m.to)))
          await new Promise((r) => setTimeout(r, 200));
        await this.runner.recover(m);
      })();
    }
  }

  stallMs(): number {
    return this.opts.stallMs;
  }

  /** Why pre-copy cannot run from `from` to `to` (undefined: it can). */
  private async precopyWhyNot(from: string, to: string): Promise<string | undefined> {
    if (!this.dataAddress(from) || !this.dataAddress(to)) return 'an agent has no data channel';
    const why = await Promise.all(
      [from, to].map(async (h) => {
        const a = this.agent(h);
        const c = await unary(a, a.Check, { precopy: true }, { timeoutMs: 60_000, what: h });
        return c.precopy_error ? `${h}: ${c.precopy_error}` : undefined;
      }),
    );
    return why.filter(Boolean).join('; ') || undefined;
  }

  precopyRules(): PrecopyRules {
    return this.opts.precopy;
  }

  dataAddress(host: string): string | undefined {
    return this.hosts.get(host)?.dataAddress;
  }

  takeRelayedBytes(migration: string): number {
    const n = this.relayed.get(migration) ?? 0;
    this.relayed.delete(migration);
    return n;
  }

  isUp(name: string): boolean {
    return this.hosts.isUp(name);
  }

  agent(name: string): AgentClient {
    return this.hosts.agent(name);
  }

  /**
   * The migration under way for a container. Asked for every container of
   * every heartbeat: it looks only at the migrations not yet known to have
   * ended (records change phase in place, so ended ones drop out here).
   */
  private activeMigration(container: string): MigrationRecord | undefined {
    let found: MigrationRecord | undefined;
    for (const m of this.open) {
      if (TERMINAL.includes(m.phase)) this.open.delete(m);
      else if (!found && m.container === container) found = m;
    }
    return found;
  }

  /** The migrations not yet ended, each of its container. */
  private movingContainers(): MigrationRecord[] {
    return [...this.open].filter((m) => !TERMINAL.includes(m.phase));
  }

  /**
   * Records a migration (new, or loaded from the store) here and among the
   * open ones, and lets the oldest ended ones go once more than KEEP_ENDED
   * have ended: a coordinator that runs for years keeps what is under way
   * and recent in memory, not its whole history.
   */
  private track(m: MigrationRecord): void {
    this.migrations.set(m.id, m);
    if (!TERMINAL.includes(m.phase)) this.open.add(m);
    let over = this.migrations.size - this.open.size - KEEP_ENDED;
    for (const [id, old] of this.migrations) {
      if (over <= 0) break;
      if (old === m || !TERMINAL.includes(old.phase)) continue;
      this.migrations.delete(id);
      this.relayed.delete(id);
      over--;
    }
  }

  /** A migration by id: in memory, or (ended long ago) in the store. */
  private async find(id: string): Promise<MigrationRecord> {
    const m = this.migrations.get(id) ?? (await this.store.migration(id));
    if (!m) throw notFound(`no migration ${id}`);
    return m;
  }

  private handlers(): CoordinatorHandlers {
    const log = this.log;
    return {
      RegisterHost: handleUnary(log, async (req, call) => {
        speaksFor(call, req.name);
        if (!req.address) throw invalid('RegisterHost needs an address');
        const h = await this.hosts.register({
          name: req.name,
          address: req.address,
          dataAddress: req.data_address || undefined,
          lan: req.lan,
          criuVersion: req.criu_version,
          kernel: req.kernel,
          lastSeenMs: Date.now(),
          containers: req.containers,
          memAvailable: Number(req.mem_available_bytes) || undefined,
        });
        await this.reconciler.placements(h);
        this.reconciler.migrationsOn(h.name, req.migrations);
        // Agents beat three times per host timeout, so one lost beat does not count a host down.
        return { heartbeat_ms: Math.max(100, Math.floor(this.opts.hostTimeoutMs / 3)) };
      }),
      Heartbeat: handleUnary(log, async (req, call) => {
        speaksFor(call, req.name);
        const h = this.hosts.heartbeat(req.name, req.containers, Number(req.mem_available_bytes));
        await this.reconciler.placements(h);
        this.reconciler.migrationsOn(h.name, req.migrations);
        return {};
      }),
      ListHosts: handleUnary(log, async () => ({
        hosts: this.hosts.all().map((h) => ({
          name: h.name,
          address: h.address,
          data_address: h.dataAddress ?? '',
          up: this.hosts.isUp(h.name),
          last_seen_ms: h.lastSeenMs,
          criu_version: h.criuVersion,
          kernel: h.kernel,
          containers: h.containers.filter((c) => c.state !== 'exited').length,
          lan: h.lan,
          cordoned: !!h.cordoned,
          mem_available_bytes: h.memAvailable ?? 0,
        })),
      })),
      Cordon: handleUnary(log, async (req) => {
        validateName('host', req.host);
        const h = await this.hosts.setCordon(req.host, req.cordoned);
        return { name: h.name, address: h.address, up: this.hosts.isUp(h.name), cordoned: !!h.cordoned };
      }),
      Evacuate: (call) => {
        let cancelled = false;
        call.on('cancelled', () => {
          cancelled = true;
          log.warn({ host: call.request.host }, 'evacuation stopped by its caller: no new moves');
        });
        this.evacuateHost(
          call.request.host,
          (e) => {
            if (!cancelled) call.write(e);
          },
          () => cancelled,
        ).then(
          () => call.end(),
          (e) => call.emit('error', toServiceError(e, log)),
        );
      },
      ListContainers: handleUnary(log, async (req) => ({
        containers: (await this.hosts.containers()).filter((c) => !req.host || c.host === req.host),
      })),
      RunContainer: handleUnary(log, async (req) => {
        if (!req.host) throw invalid('tern run needs --host');
        validateName('container', req.name);
        this.hosts.checkOpen(req.host, 'new containers');
        const agent = this.agent(req.host);
        const live: AddressUser[] = (await this.hosts.containers()).filter((c) => c.state !== 'exited');
        if (live.some((c) => c.name === req.name))
          throw new TernError('ALREADY_EXISTS', `a container named ${req.name} already exists`);
        // A moving container keeps its name and address even where no host
        // lists it (a post-copy move, from the commit until the restore).
        for (const m of this.movingContainers()) {
          if (m.container === req.name)
            throw new TernError(
              'ALREADY_EXISTS',
              `a container named ${req.name} is moving (migration ${m.id})`,
            );
          if (m.ip) live.push({ name: m.container, host: `${m.from} -> ${m.to}`, ip: m.ip });
        }
        const lan = this.hosts.get(req.host)?.lan || '10.78.0.0/24';
        const { ip, release } = this.addresses.take(req.name, req.ip, lan, live);
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
              cap_add: req.cap_add,
              no_seccomp: req.no_seccomp,
              memory_limit: req.memory_limit,
              pids_limit: req.pids_limit,
            },
            { timeoutMs: 120_000, what: req.host },
          );
        } finally {
          release();
        }
      }),
      StopContainer: handleUnary(log, async (req) => {
        // An exited container can be stopped too: that removes its record.
        const c = await this.hosts.findContainer(req.name, true);
        if (this.activeMigration(c.name)) throw precondition(`container ${c.name} is being migrated`);
        const a = this.agent(c.host);
        const r = await unary(a, a.StopContainer, { name: c.name }, { timeoutMs: 60_000, what: c.host });
        if (c.state !== 'exited' || this.placement.get(c.name)?.host === c.host) {
          await this.store.deletePlacement(c.name);
          this.placement.delete(c.name);
        }
        return r;
      }),
      ExecContainer: handleUnary(log, async (req) => {
        const c = await this.hosts.findContainer(req.name);
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
        const { c, mode, reason } = await this.resolveMove(req, true);
        const m = await this.runner.create(c.name, c.host, req.to, mode, reason, c.ip);
        this.track(m);
        void this.runner.run(m, c);
        return migrationToWire(m);
      }),
      DryRun: handleUnary(log, async (req) => {
        const { c, mode, reason } = await this.resolveMove(req);
        const r = await dryRun(
          { from: c.host, to: req.to, mode, container: c },
          this.agent(c.host),
          this.agent(req.to),
        );
        return {
          ok: !r.findings.some((f) => f.severity === 'refuse'),
          findings: r.findings,
          mode,
          mode_reason: reason ?? '',
          memory_bytes: r.memoryBytes,
          rootfs_bytes: r.rootfsBytes,
        };
      }),
      GetMigration: handleUnary(log, async (req) => migrationToWire(await this.find(req.id))),
      CancelMigration: handleUnary(log, async (req) => {
        const m = await this.find(req.id);
        this.runner.cancel(m);
        return migrationToWire(m);
      }),
      ListMigrations: handleUnary(log, async () => ({
        migrations: [...this.migrations.values()]
          .sort((a, b) => a.startedMs - b.startedMs)
          .map(migrationToWire),
      })),
      WatchMigration: async (call) => {
        let m: MigrationRecord;
        try {
          m = await this.find(call.request.id);
        } catch (e) {
          call.emit('error', toServiceError(e));
          return;
        }
        // Until the migration ends: past the commit point a failed step is
        // retried, and watchers see each try's error as it comes.
        const send = (r: MigrationRecord) => {
          call.write(migrationToWire(r));
          if (TERMINAL.includes(r.phase)) {
            stop();
            call.end();
          }
        };
        const stop = this.runner.watch(m.id, send);
        call.on('cancelled', stop);
        send(m);
      },
      PullImages: (call) =>
        relayImages(call, this.migrations, this.hosts, log, (id, n) =>
          this.relayed.set(id, (this.relayed.get(id) ?? 0) + n),
        ),
    };
  }

  /**
   * What StartMigration and DryRun both check first: the hosts and the
   * container exist and are up, the target is open, and the mode (chosen,
   * with --mode auto).
   */
  private async resolveMove(
    req: StartMigrationRequest__Output,
    fromReports = false,
  ): Promise<{ c: Container__Output; mode: Mode; reason?: string }> {
    if (!req.to) throw invalid('migrate needs --to');
    validateName('host', req.to);
    if (req.from) validateName('host', req.from);
    const asked = req.mode || 'stop-and-copy';
    if (asked !== 'auto' && !MODES.includes(asked as Mode))
      throw invalid(`unknown migration mode ${JSON.stringify(req.mode)} (known: ${MODES.join(', ')}, auto)`);
    if (req.max_downtime_ms < 0) throw invalid('--max-downtime must be a number of milliseconds above 0');
    if (req.from && req.from === req.to) throw invalid(`source and target are the same host (${req.to})`);
    if (!this.hosts.has(req.to)) throw notFound(`unknown host ${req.to}`);
    this.hosts.checkOpen(req.to, 'incoming migrations');
    if (req.from && !this.hosts.has(req.from)) throw notFound(`unknown host ${req.from}`);
    this.agent(req.to); // throws if the target is down
    if (req.from) this.agent(req.from);
    // Starting a move takes the heartbeats' word for where the container runs
    // (hosts.reported): asking its host would cost a round trip, and a TLS
    // handshake when nothing went there lately. A dry run asks the host.
    const c =
      (fromReports && this.hosts.reported(req.container)) || (await this.hosts.findContainer(req.container));
    if (req.from && c.host !== req.from)
      throw precondition(`container ${c.name} is on ${c.host}, not on ${req.from}`);
    if (c.host === req.to) throw invalid(`container ${c.name} is already on ${req.to}`);
    if (c.state !== 'running') throw precondition(`container ${c.name} is ${c.state}, not running`);
    const busy = this.activeMigration(c.name);
    if (busy) throw precondition(`container ${c.name} is already being migrated (${busy.id})`);
    if (asked !== 'auto') return { c, mode: asked as Mode };
    const a = this.agent(c.host);
    const est = await unary(a, a.Estimate, { name: c.name }, { timeoutMs: 60_000, what: c.host });
    const memory = Number(est.memory_bytes);
    const stopAndCopy = estimateStopAndCopy(memory, c.host, req.to, [...this.migrations.values()]);
    return {
      c,
      ...chooseMode(
        { maxDowntimeMs: req.max_downtime_ms, allowPostcopy: req.allow_postcopy },
        memory,
        stopAndCopy,
        req.max_downtime_ms && stopAndCopy.ms > req.max_downtime_ms
          ? await this.precopyWhyNot(c.host, req.to)
          : undefined,
      ),
    };
  }

  /** Cordons `host` and moves every container off it (coordinator/evacuate.ts). */
  private async evacuateHost(
    host: string,
    send: (e: Partial<EvacuateEvent>) => void,
    stopped: () => boolean,
  ): Promise<void> {
    validateName('host', host);
    if (!this.hosts.has(host)) throw notFound(`unknown host ${host}`);
    const src = this.agent(host);
    await this.hosts.setCordon(host, true);
    await evacuate(
      {
        containers: async () => {
          const on = (await this.hosts.containers()).filter((c) => c.host === host && c.state === 'running');
          return Promise.all(
            on.map(async (c) => {
              const est = await unary(src, src.Estimate, { name: c.name }, { timeoutMs: 60_000, what: host });
              return { name: c.name, bytes: Number(est.memory_bytes) };
            }),
          );
        },
        candidates: () =>
          this.hosts
            .all()
            .filter((h) => h.name !== host && this.hosts.isUp(h.name) && !h.cordoned)
            .map((h) => ({
              name: h.name,
              memAvailable: h.memAvailable ?? 0,
              containers: h.containers.filter((c) => c.state !== 'exited').length,
            })),
        start: async (container, to) => {
          this.hosts.checkOpen(to, 'incoming migrations');
          const c = await this.hosts.findContainer(container);
          if (c.host !== host) throw precondition(`container ${container} is on ${c.host} now`);
          const busy = this.activeMigration(c.name);
          if (busy) throw precondition(`container ${c.name} is already being migrated (${busy.id})`);
          const m = await this.runner.create(c.name, c.host, to, 'stop-and-copy', `evacuating ${host}`, c.ip);
          this.track(m);
          void this.runner.run(m, c);
          return m;
        },
        ended: async (id) => whenEnded((i, fn) => this.runner.watch(i, fn), await this.find(id)),
        parallel: this.opts.maxMigrationsPerHost,
      },
      send,
      stopped,
    );
  }
}

/** Refuses a registration or heartbeat for a host other than the one the caller's certificate names. */
function speaksFor(call: Parameters<typeof callerOf>[0], host: string): void {
  const c = callerOf(call);
  if (c?.role !== 'agent' || c.name !== host)
    throw new TernError('PERMISSION_DENIED', `${describe(c)} may not speak for host ${JSON.stringify(host)}`);
}
