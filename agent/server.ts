// The agent daemon: gRPC service, registration and heartbeats.

import { statfs } from 'node:fs/promises';
import type { Logger } from 'pino';
import { checkCaps } from '../core/caps.js';
import { TernError } from '../core/errors.js';
import { FAULTS_WARNING } from '../core/faults.js';
import { privateDir } from '../core/files.js';
import { serveMetrics } from '../core/metrics.js';
import { TERN_VERSION } from '../core/version.js';
import { checkLimits, hasLimits, type Limits } from '../kernel/cgroups.js';
import type { CheckpointEngine, EngineInfo } from '../kernel/engine.js';
import type { HostRuntime } from '../kernel/host.js';
import { LinuxHost } from '../kernel/linux-host.js';
import { notifyReady } from '../kernel/systemd.js';
import type { FetchWant } from '../proto/frames.js';
import { Health } from '../proto/health.js';
import {
  type AgentHandlers,
  bindServer,
  type Container,
  type CoordinatorClient,
  coordinatorClient,
  grpc,
  newServer,
  ternProto,
  tlsReady,
} from '../proto/index.js';
import { AGENT_POLICY } from '../proto/roles.js';
import { fromServiceError, handleUnary, toServiceError, unary, writeWithBackpressure } from '../proto/rpc.js';
import { type AgentOptions, agentCerts } from './config.js';
import { type ContainerRecord, Containers } from './containers.js';
import { DataServer, type Fetch, fetchImages, splitAddress } from './data.js';
import { Handoff } from './handoff/index.js';
import { AgentMetrics } from './metrics.js';

export function toWire(host: string, r: ContainerRecord): Container {
  return {
    name: r.name,
    host,
    state: r.state,
    ip: r.ip,
    mac: r.mac,
    pid: r.pid,
    veth: r.veth,
    hostname: r.hostname,
    command: r.command,
    created_ms: r.createdMs,
    cap_add: r.capAdd ?? [],
    no_seccomp: r.noSeccomp ?? false,
    memory_limit: String(r.limits?.memoryBytes ?? 0),
    pids_limit: r.limits?.pids ?? 0,
  };
}

/** Limits as the wire carries them (0: none). */
export function limitsFromWire(
  memory: { toString(): string } | undefined,
  pids: number | undefined,
): Limits | undefined {
  const l = checkLimits({ memoryBytes: Number(String(memory ?? 0)), pids: pids ?? 0 });
  return hasLimits(l) ? l : undefined;
}

export function fromWire(c: Container): ContainerRecord {
  return {
    name: c.name ?? '',
    ip: c.ip ?? '',
    mac: c.mac ?? '',
    veth: c.veth ?? '',
    pid: c.pid ?? 0,
    shimPid: 0,
    startTime: '',
    hostname: c.hostname ?? '',
    command: c.command ?? [],
    createdMs: Number(c.created_ms ?? 0),
    state: 'running',
    capAdd: checkCaps(c.cap_add ?? []),
    noSeccomp: c.no_seccomp || undefined,
    limits: limitsFromWire(c.memory_limit, c.pids_limit),
  };
}

/** A migration's credential as the coordinator makes it: 32 random bytes in hex. */
function checkCredential(c: string): string | undefined {
  if (!c) return undefined;
  if (!/^[0-9a-f]{64}$/.test(c)) throw new TernError('INVALID_ARGUMENT', 'malformed migration credential');
  return c;
}

/** How long a receiver waits for the next chunk before it gives up, unless the coordinator says. */
const DEFAULT_STALL_MS = 30_000;

export class Agent {
  readonly containers: Containers;
  readonly handoff: Handoff;
  private server?: grpc.Server;
  private coord?: CoordinatorClient;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** How often to heartbeat: the agent's own setting until the coordinator says otherwise. */
  private heartbeatMs: number;
  private registered = false;
  private info?: Promise<EngineInfo>;
  private readonly data: DataServer;
  private cpu?: Promise<Buffer>;
  private readonly health = new Health(['tern.v1.Agent']);
  readonly metrics: AgentMetrics;
  private metricsServer?: { port: number; close: () => Promise<void> };
  port = 0;

  constructor(
    readonly opts: AgentOptions,
    readonly engine: CheckpointEngine,
    readonly log: Logger,
    readonly host: HostRuntime = new LinuxHost(),
  ) {
    this.heartbeatMs = opts.heartbeatMs;
    this.containers = new Containers(opts, host, log);
    this.handoff = new Handoff(opts, engine, host, this.containers, log);
    this.metrics = new AgentMetrics(opts.host, () => this.containers.list());
    this.data = new DataServer(
      (id, credential, want, peer) =>
        want === 'rootfs'
          ? this.handoff.fetchRootfs(id, credential, peer, { rawBytes: 0, wireBytes: 0, files: 0 })
          : this.handoff.fetchImages(
              id,
              credential,
              peer,
              { rawBytes: 0, wireBytes: 0, files: 0 },
              want === 'images-held',
            ),
      (id, sock, round) => this.handoff.acceptPages(id, sock, round),
      agentCerts(opts),
      log,
    );
  }

  /** A fetch from the source's data channel, with the credential and source host given at PrepareTarget. */
  private fetchFromSource(id: string, address: string, want: FetchWant): Fetch {
    const peer = this.handoff.peerFor(id);
    if (!peer)
      throw new TernError(
        'FAILED_PRECONDITION',
        `migration ${id} has no credential and source host on ${this.opts.host}`,
      );
    return fetchImages(address, id, peer.credential, { certs: agentCerts(this.opts), host: peer.host }, want);
  }

  /**
   * CRIU's verdict and this host's CPU description, each probed once: neither
   * changes while the agent runs, and probing costs `criu check` and
   * `criu cpuinfo dump` (hundreds of ms) that a preflight should not pay.
   */
  private engineInfo(): Promise<EngineInfo> {
    this.info ??= this.engine.check();
    return this.info;
  }

  private async cpuinfo(): Promise<Buffer> {
    if (!(await this.engineInfo()).ok) return Buffer.alloc(0);
    this.cpu ??= this.engine.cpuinfo(this.opts.stateDir).catch(() => Buffer.alloc(0));
    return this.cpu;
  }

  async start(): Promise<void> {
    if (!this.opts.skipCriuCheck) {
      const info = await this.engineInfo();
      if (!info.ok) throw new TernError('FAILED_PRECONDITION', info.error ?? 'criu is not usable');
      this.log.info({ criu: info.version, kernel: info.kernel }, 'criu ok');
    }
    if (this.opts.testFaults) this.log.warn(FAULTS_WARNING);
    await privateDir(this.opts.stateDir);
    const noLimits = await this.host.cgroups.init(this.opts.host);
    if (noLimits)
      this.log.warn({ reason: noLimits }, 'containers cannot get memory or pids limits on this host');
    await this.containers.load();
    await this.handoff.load();
    this.server = newServer(
      AGENT_POLICY,
      (method, who) => this.log.warn({ method, caller: who }, 'call refused: not the coordinator'),
      false,
      (method, code, secs) => this.metrics.call(method, code, secs),
    );
    this.server.addService(ternProto().tern.v1.Agent.service, this.handlers());
    this.health.addTo(this.server);
    this.port = await bindServer(this.server, this.opts.listen, agentCerts(this.opts));
    this.log.info({ listen: this.opts.listen, port: this.port }, 'agent listening');
    const [dataHost, dataPort] = this.opts.dataListen
      ? splitAddress(this.opts.dataListen, true)
      : [splitAddress(this.opts.listen, true)[0], 0];
    await this.data.start(dataHost, dataPort);
    this.log.info({ data: this.dataAddress() }, 'data channel listening');
    if (this.opts.metricsListen) {
      this.metricsServer = await serveMetrics(this.opts.metricsListen, this.metrics.registry);
      this.log.info({ metrics: this.opts.metricsListen, port: this.metricsServer.port }, 'metrics served');
    }
    await tlsReady(agentCerts(this.opts));
    this.coord = coordinatorClient(this.opts.coordinator, agentCerts(this.opts));
    this.health.set(true);
    notifyReady((msg) => this.log.warn(msg));
    this.beat();
  }

  private advertise(): string {
    const a = this.opts.advertise || this.opts.listen;
    return a.endsWith(':0') ? a.replace(/:0$/, `:${this.port}`) : a;
  }

  /** Where peers reach the data channel: the advertised host, the data port. */
  private dataAddress(): string {
    return `${splitAddress(this.advertise())[0]}:${this.data.port}`;
  }

  /** Registers, then heartbeats; re-registers whenever the coordinator forgot us. */
  private beat(): void {
    const tick = async () => {
      const coord = this.coord as CoordinatorClient;
      try {
        const containers = (await this.containers.list()).map((r) => toWire(this.opts.host, r));
        // Free memory, for the coordinator's choice of targets (tern evacuate).
        const mem = (await this.host.memory().catch(() => ({ available: 0 }))).available;
        if (!this.registered) {
          const info = await this.engineInfo();
          const r = await unary(
            coord,
            coord.RegisterHost,
            {
              name: this.opts.host,
              address: this.advertise(),
              data_address: this.dataAddress(),
              criu_version: info.version,
              kernel: info.kernel,
              containers,
              lan: this.opts.lan,
              bridge: this.opts.bridge,
              migrations: this.handoff.active(),
              mem_available_bytes: mem,
            },
            { timeoutMs: 5000, what: 'register' },
          );
          // The coordinator says how often it needs to hear from us to count us up.
          if (r.heartbeat_ms > 0) this.heartbeatMs = Math.min(this.opts.heartbeatMs, r.heartbeat_ms);
          this.registered = true;
          this.log.info({ coordinator: this.opts.coordinator }, 'registered with the coordinator');
        } else {
          await unary(
            coord,
            coord.Heartbeat,
            { name: this.opts.host, containers, migrations: this.handoff.active(), mem_available_bytes: mem },
            { timeoutMs: 5000, what: 'heartbeat' },
          );
        }
      } catch (e) {
        if (this.registered) this.log.warn({ err: (e as Error).message }, 'lost the coordinator');
        this.registered = false;
      }
    };
    const loop = async () => {
      await tick();
      // stop() may have run while the tick was under way: do not re-arm.
      if (!this.stopped) this.timer = setTimeout(loop, this.heartbeatMs);
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.health.set(false);
    await this.metricsServer?.close();
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.coord?.close();
    await this.data.stop();
    await new Promise<void>((r) => (this.server ? this.server.tryShutdown(() => r()) : r()));
  }

  private handlers(): AgentHandlers {
    const log = this.log;
    const host = this.opts.host;
    return {
      Check: handleUnary(log, async (req) => {
        const info = await this.engineInfo();
        const postcopy = req.postcopy && info.ok ? await this.engine.postcopyReady() : undefined;
        const precopy = req.precopy && info.ok ? await this.engine.precopyReady() : undefined;
        const cpu = await this.cpuinfo();
        const fs = await statfs(this.opts.stateDir);
        return {
          host,
          criu_version: info.version,
          kernel: info.kernel,
          criu_ok: info.ok,
          criu_error: info.error ?? '',
          free_bytes: fs.bavail * fs.bsize,
          bridge: this.opts.bridge,
          cpuinfo_b64: cpu.toString('base64'),
          postcopy_error: postcopy ?? '',
          precopy_error: precopy ?? '',
          tern_version: TERN_VERSION,
          wires_netns: true,
        };
      }),
      ListContainers: handleUnary(log, async () => ({
        containers: (await this.containers.list()).map((r) => toWire(host, r)),
      })),
      RunContainer: handleUnary(log, async (req) => {
        const rec = await this.containers.run({
          name: req.name,
          command: req.command,
          ip: req.ip,
          rootfs: req.rootfs,
          hostname: req.hostname,
          env: req.env,
          capAdd: req.cap_add,
          noSeccomp: req.no_seccomp,
          limits: limitsFromWire(req.memory_limit, req.pids_limit),
        });
        return toWire(host, rec);
      }),
      StopContainer: handleUnary(log, async (req) => {
        await this.containers.stop(req.name);
        return { stopped: true };
      }),
      Exec: handleUnary(log, async (req) => {
        const r = await this.containers.exec(req.name, req.command, req.timeout_ms);
        return { exit_code: r.code, stdout: r.stdout, stderr: r.stderr };
      }),
      Estimate: handleUnary(log, async (req) => {
        const rec = this.containers.get(req.name);
        if (rec.state !== 'running')
          throw new TernError('FAILED_PRECONDITION', `container ${rec.name} is ${rec.state}, not running`);
        const [memory, rootfs] = await Promise.all([
          this.host.treeMemory(rec.pid),
          this.host.diskUsage(this.containers.rootfs(rec.name)),
        ]);
        return { memory_bytes: memory, rootfs_bytes: rootfs };
      }),
      Inspect: handleUnary(log, async (req) => {
        const rec = this.containers.get(req.name);
        if (rec.state !== 'running')
          throw new TernError('FAILED_PRECONDITION', `container ${rec.name} is ${rec.state}, not running`);
        return { findings: (await this.host.leaks(rec.pid)).map((f) => ({ ...f, host })) };
      }),
      CheckTarget: handleUnary(log, async (req) => {
        const c = req.container;
        if (!c) throw new TernError('INVALID_ARGUMENT', 'CheckTarget needs the container');
        const cpu = req.source_cpuinfo_b64 ? Buffer.from(req.source_cpuinfo_b64, 'base64') : undefined;
        const found = await this.handoff.checkTarget(fromWire(c), Number(req.image_bytes_estimate), cpu);
        return { findings: found.map((f) => ({ ...f, host })) };
      }),
      PrepareSource: handleUnary(log, async (req) => {
        const credential = checkCredential(req.credential);
        if (!credential)
          throw new TernError('INVALID_ARGUMENT', 'PrepareSource needs the migration credential');
        if (!req.target_host) throw new TernError('INVALID_ARGUMENT', 'PrepareSource needs the target host');
        await this.handoff.prepareSource(req.migration_id, req.name, credential, req.target_host);
        return {};
      }),
      ReceiveRootfs: handleUnary(log, async (req) => {
        if (!req.source_data)
          throw new TernError('INVALID_ARGUMENT', 'ReceiveRootfs needs the source data channel');
        const stream = this.fetchFromSource(req.migration_id, req.source_data, 'rootfs');
        try {
          const limits = {
            maxBytes: Number(req.max_bytes),
            stallMs: req.stall_ms > 0 ? req.stall_ms : DEFAULT_STALL_MS,
          };
          const stats = await this.handoff.receiveRootfs(req.migration_id, stream, limits);
          // The images fetch opens now, while the container still runs, and
          // is read from then on: at the freeze the source streams at once,
          // with the connection and its TLS handshake already made, and the
          // images are in before the coordinator asks for them.
          // Held: the source also says on it when its tree is gone, and
          // the target's copy runs then (TargetService.watchGone).
          const early = this.fetchFromSource(req.migration_id, req.source_data, 'images-held');
          if (this.handoff.openEarly(req.migration_id, req.source_data, early, limits)) early.start();
          else early.cancel();
          return { raw_bytes: stats.rawBytes, wire_bytes: stats.wireBytes, files: stats.files };
        } finally {
          stream.cancel();
        }
      }),
      DumpAndHold: handleUnary(log, async (req, call) => {
        // A coordinator that gives up on the call (cancel, deadline) stops a
        // dump that has not frozen the tree yet (the in-flight drain).
        const ctl = new AbortController();
        call.on('cancelled', () =>
          ctl.abort(new TernError('CANCELLED', 'dump cancelled by the coordinator')),
        );
        const credential = checkCredential(req.credential);
        const r = await this.handoff.dumpAndHold(
          req.migration_id,
          req.name,
          credential,
          ctl.signal,
          req.pages_to || undefined,
          req.target_host || undefined,
          req.postcopy,
          req.precopy_rounds,
          req.empty_net,
        );
        return {
          container: toWire(host, r.container),
          image_bytes: r.imageBytes,
          image_files: r.imageFiles,
          frozen_at_ms: r.frozenAtMs,
          dump_ms: r.dumpMs,
          hold_until_ms: r.frozenAtMs + this.opts.orphanTimeoutSec * 1000,
          pages_bytes: r.pages?.bytes ?? 0,
        };
      }),
      PreDump: handleUnary(log, async (req, call) => {
        const ctl = new AbortController();
        call.on('cancelled', () =>
          ctl.abort(new TernError('CANCELLED', 'pre-copy round cancelled by the coordinator')),
        );
        const credential = checkCredential(req.credential);
        if (!credential || !req.pages_to || !req.target_host)
          throw new TernError(
            'INVALID_ARGUMENT',
            'a pre-copy round needs the credential, the target host and its data channel',
          );
        const r = await this.handoff.preDump(
          req.migration_id,
          req.name,
          req.round,
          { credential, pagesTo: req.pages_to, targetHost: req.target_host },
          ctl.signal,
        );
        return { pages_bytes: r.pagesBytes, ms: r.ms, frozen_ms: r.frozenMs };
      }),
      DumpProgress: handleUnary(log, async (req) => ({
        pages_bytes: await this.handoff.sentPages(req.migration_id),
      })),
      ReadImages: (call) => {
        const stats = { rawBytes: 0, wireBytes: 0, files: 0 };
        (async () => {
          for await (const chunk of this.handoff.readImages(call.request.migration_id, stats)) {
            if (call.cancelled) return;
            await writeWithBackpressure(call, chunk);
          }
          call.end();
        })().catch((e) => {
          // grpc-js sends a status for 'error', never for destroy().
          if (!call.cancelled) call.emit('error', toServiceError(e, log));
        });
      },
      PrepareTarget: handleUnary(log, async (req) => {
        const c = req.container;
        if (!c) throw new TernError('INVALID_ARGUMENT', 'PrepareTarget needs the container');
        const cpu = req.source_cpuinfo_b64 ? Buffer.from(req.source_cpuinfo_b64, 'base64') : undefined;
        const veth = await this.handoff.prepareTarget(
          req.migration_id,
          fromWire(c),
          Number(req.image_bytes_estimate),
          cpu,
          checkCredential(req.credential),
          req.source_host || undefined,
          req.postcopy,
          req.empty_net,
        );
        return { veth };
      }),
      ReceiveImages: handleUnary(log, async (req) => {
        const limits = {
          maxBytes: Number(req.max_bytes),
          stallMs: req.stall_ms > 0 ? req.stall_ms : DEFAULT_STALL_MS,
          pages: Number(req.pages_bytes) > 0 ? { bytes: Number(req.pages_bytes) } : undefined,
          rounds: req.round_bytes.map((b) => ({ bytes: Number(b) })),
        };
        if (req.source_data) {
          // Directly from the source agent, with the credential given at
          // PrepareTarget: usually on the fetch opened at the pre-copy.
          const early = await this.handoff.receiveEarly(req.migration_id, req.source_data, limits);
          if (early) return { raw_bytes: early.rawBytes, wire_bytes: early.wireBytes, files: early.files };
          const stream = this.fetchFromSource(req.migration_id, req.source_data, 'images');
          try {
            const stats = await this.handoff.receive(req.migration_id, stream, limits);
            return { raw_bytes: stats.rawBytes, wire_bytes: stats.wireBytes, files: stats.files };
          } finally {
            stream.cancel();
          }
        }
        // Only ever the coordinator this agent is configured with.
        const coord = this.coord as CoordinatorClient;
        // waitForReady: a coordinator that just restarted may not be connected
        // yet; the receiver's stall deadline bounds the wait.
        const stream = coord.PullImages(
          { migration_id: req.migration_id },
          new grpc.Metadata({ waitForReady: true }),
        );
        // grpc-js ends a failed stream before it emits the error, so the
        // receiver may have stopped reading when the error comes (it then
        // reports the missing end marker): the error must not take the agent down.
        stream.on('error', () => {});
        try {
          const stats = await this.handoff.receive(req.migration_id, stream, limits);
          return { raw_bytes: stats.rawBytes, wire_bytes: stats.wireBytes, files: stats.files };
        } catch (e) {
          stream.cancel();
          throw (e as { code?: unknown }).code !== undefined && !(e instanceof TernError)
            ? fromServiceError(e, 'image stream')
            : e;
        }
      }),
      RestoreStopped: handleUnary(log, async (req, call) => {
        // A coordinator that gives up on the call (cancel, deadline) stops the restore.
        const ctl = new AbortController();
        call.on('cancelled', () =>
          ctl.abort(new TernError('CANCELLED', 'restore cancelled by the coordinator')),
        );
        const t0 = Date.now();
        const rec = await this.handoff.restoreStopped(req.migration_id, ctl.signal);
        return { container: toWire(host, rec), restore_ms: Date.now() - t0 };
      }),
      Resume: handleUnary(log, async (req) => ({
        container: toWire(host, await this.handoff.resume(req.migration_id)),
      })),
      Commit: handleUnary(log, async (req) => ({ source_gone: await this.handoff.commit(req.migration_id) })),
      PagesStatus: handleUnary(log, async (req) => {
        const r = await this.handoff.pagesStatus(req.migration_id, req.wait_ms);
        return { done: r.done, moved_bytes: r.moved, lost: !!r.lost, error: r.lost ?? '' };
      }),
      Abort: handleUnary(log, async (req) => {
        const r = await this.handoff.abort(req.migration_id);
        return { resumed_source: r.resumedSource, cleaned_target: r.cleanedTarget };
      }),
    };
  }
}
