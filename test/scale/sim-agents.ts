// One worker process of the scale run: hosts many simulated agents, each a
// real Agent (agent/server.ts) with its own gRPC port, data channel and
// certificate, speaking mutual TLS to the real coordinator, over the
// simulated engine and host of sim-engine.ts. It times, from the agents'
// side, every RegisterHost and Heartbeat call, and notes when an agent's
// reply ends a phase's work (so that the driver can time the coordinator's
// next phase from it), and sends both to the driver every 250 ms.
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { AGENT_DEFAULTS, validateAgentOptions } from '../../agent/config.js';
import { Agent } from '../../agent/server.js';
import type { Phase } from '../../coordinator/phases.js';
import { errorMessage } from '../../core/errors.js';
import { ternProto } from '../../proto/index.js';
import type { AgentSpec, CallRecord, FromWorker, ReplyRecord, ToWorker } from './messages.js';
import { now } from './messages.js';
import { eachLimited } from './pki.js';
import { makeRootfs, SimRootfsArchive, seedContainer, simAgent, simWorld } from './sim-engine.js';

const calls: CallRecord[] = [];
const replies: ReplyRecord[] = [];
const registered: string[] = [];

const send = (m: FromWorker) => process.send?.(m);

type Callback = (err: unknown, res: unknown) => void;
type UnaryMethod = (
  this: unknown,
  req: { name: string },
  meta: unknown,
  opts: unknown,
  cb: Callback,
) => unknown;

/**
 * Times RegisterHost and Heartbeat on every coordinator client of this
 * process, from the call to its answer, as the agent sees them (agents call
 * them with metadata, options and callback, through proto/rpc.ts unary()).
 */
function timeCoordinatorCalls(): void {
  const proto = ternProto().tern.v1.Coordinator.prototype as unknown as Record<string, UnaryMethod>;
  for (const [method, kind] of [
    ['RegisterHost', 'register'],
    ['Heartbeat', 'heartbeat'],
  ] as const) {
    const orig = proto[method];
    proto[method] = function (req, meta, opts, cb) {
      const t0 = now();
      return orig.call(this, req, meta, opts, (err, res) => {
        const t1 = now();
        calls.push([kind, t1, t1 - t0, !err]);
        if (kind === 'register' && !err) registered.push(req.name);
        cb(err, res);
      });
    };
  }
}

/** The agent call whose reply ends each phase's work in a stop-and-copy move (coordinator/steps.ts). */
const LAST_CALL: [string, Phase][] = [
  ['receiveRootfs', 'preflight'],
  ['dumpAndHold', 'dumping'],
  ['receive', 'transferring'],
  ['restoreStopped', 'restoring'],
  ['commit', 'committing'],
  ['resume', 'committed'],
];

/** Notes when each of those calls returns its answer (the gRPC handler replies at once). */
function noteReplies(agent: Agent): void {
  const h = agent.handoff as unknown as Record<string, (id: string, ...rest: unknown[]) => Promise<unknown>>;
  for (const [method, phase] of LAST_CALL) {
    const orig = h[method].bind(agent.handoff);
    h[method] = async (id, ...rest) => {
      const r = await orig(id, ...rest);
      replies.push([id, phase, now()]);
      return r;
    };
  }
}

let init: Extract<ToWorker, { type: 'init' }> | undefined;
let rootfs: Promise<string> | undefined;
let world: ReturnType<typeof simWorld> | undefined;
let archive: SimRootfsArchive | undefined;
let log: pino.Logger | undefined;
const agents: Agent[] = [];

async function startAgent(a: AgentSpec): Promise<void> {
  const c = init as NonNullable<typeof init>;
  const base = await (rootfs as Promise<string>);
  const opts = validateAgentOptions({
    ...AGENT_DEFAULTS,
    host: a.host,
    listen: '127.0.0.1:0',
    coordinator: c.coordinator,
    stateDir: join(c.dir, a.host),
    fastDir: '',
    pki: c.pki,
    rootfsBases: [base],
    lan: c.lan,
    heartbeatMs: c.heartbeatMs,
    skipCriuCheck: true,
    logLevel: 'warn',
  });
  archive ??= new SimRootfsArchive(base);
  const sim = simAgent(world as NonNullable<typeof world>, a.host, c.timing, archive);
  const agent = new Agent(opts, sim.engine, (log as pino.Logger).child({ host: a.host }), sim.host);
  // The container is there before the agent registers, as on a host whose agent restarts.
  await seedContainer(agent.containers, sim.host, {
    name: a.container,
    ip: a.ip,
    rootfs: base,
    lan: opts.lan,
    bridge: opts.bridge,
  });
  noteReplies(agent);
  await agent.start();
  agents.push(agent);
}

async function startAgents(list: AgentSpec[]): Promise<void> {
  const failed: { host: string; error: string }[] = [];
  await eachLimited(list, 8, async (a) => {
    try {
      await startAgent(a);
    } catch (e) {
      failed.push({ host: a.host, error: errorMessage(e) });
    }
  });
  send({ type: 'started', count: list.length - failed.length, failed });
}

/** How late this process's event loop runs: what every timing taken here may include. */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });

function flush(then?: () => void): void {
  const m: FromWorker = {
    type: 'samples',
    calls: calls.splice(0),
    replies: replies.splice(0),
    registered: registered.splice(0),
    lag: [now(), loopDelay.max / 1e6],
  };
  loopDelay.reset();
  if (then) process.send?.(m, then);
  else send(m);
}

process.on('message', (m: ToWorker) => {
  if (m.type === 'init') {
    init = m;
    world = simWorld(m.timing);
    log = pino({ level: 'warn' }, pino.destination({ dest: join(m.dir, 'agents.log'), mkdir: true }));
    rootfs = makeRootfs(join(m.dir, 'rootfs'));
    timeCoordinatorCalls();
    loopDelay.enable();
    setInterval(() => flush(), 250).unref();
    void rootfs.then(() => send({ type: 'ready' }));
  } else if (m.type === 'start') {
    void startAgents(m.agents);
  } else if (m.type === 'stop') {
    // The driver removes every directory; the agents need no orderly stop.
    flush(() => process.exit(0));
  }
});

// The driver is gone (killed, or it crashed): so is this worker.
process.on('disconnect', () => process.exit(1));
