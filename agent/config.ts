// Agent options: one type, defaults and validation in one place.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { invalid } from '../core/errors.js';
import { metricsAddress } from '../core/metrics.js';
import { validateName } from '../core/names.js';
import { parseCidr } from '../core/net.js';
import { type CertFiles, certFiles, DEFAULT_PKI_DIR } from '../core/pki.js';
import { defaultShimPath } from '../kernel/shim.js';

export interface AgentOptions {
  /** This host's name as users type it (`migrate --to NAME`). */
  host: string;
  /** gRPC listen address, host:port. */
  listen: string;
  /**
   * Where peers fetch image streams from this agent (host:port); default:
   * the listen host on a port the system picks.
   */
  dataListen: string;
  /** Address the coordinator uses to reach this agent; default: listen. */
  advertise: string;
  /** Coordinator address, host:port or unix:///path. */
  coordinator: string;
  /** Bridge that containers' outer veths join. */
  bridge: string;
  /** CIDR of the container LAN the bridge is on. */
  lan: string;
  /** Containers, rootfs copies, images and logs live here. */
  stateDir: string;
  /**
   * A tmpfs where migrations keep their images when they fit (in <fastDir>/<host>);
   * '' keeps them in the state dir.
   */
  fastDir: string;
  /** PKI directory (core/pki.ts): ca.crt and agent/<host>.crt, .key. */
  pki: string;
  /** CRIU 4.2.1 or newer. */
  criu: string;
  /** tern-shim, the containers' reaper. */
  shim: string;
  /** Rootfs copied for containers started without --rootfs. */
  defaultRootfs: string;
  /**
   * `tern run --rootfs DIR` takes DIR only inside one of these (after
   * resolving symlinks): a caller names a directory to copy, not any path
   * of the host.
   */
  rootfsBases: string[];
  /** How long a frozen tree waits for the coordinator's verdict before it resumes here. */
  orphanTimeoutSec: number;
  heartbeatMs: number;
  /** Honour fault injection (tests only; core/faults.ts). */
  testFaults: boolean;
  /** Skip `criu check` at start (tests with an engine double only). */
  skipCriuCheck: boolean;
  /** Prometheus metrics over plain HTTP at host:port/metrics ('' = none). */
  metricsListen: string;
  logLevel: string;
}

export const AGENT_DEFAULTS: Omit<AgentOptions, 'host' | 'listen' | 'coordinator'> & { advertise: string } = {
  advertise: '',
  dataListen: '',
  bridge: 'br0',
  lan: '10.78.0.0/24',
  stateDir: '/var/lib/tern/agent',
  fastDir: '/dev/shm/tern',
  pki: DEFAULT_PKI_DIR,
  criu: '/opt/tern/criu/criu',
  shim: defaultShimPath(),
  defaultRootfs: '/opt/tern/rootfs/busybox',
  rootfsBases: ['/var/lib/tern/rootfs', '/opt/tern/rootfs'],
  orphanTimeoutSec: 300,
  heartbeatMs: 2000,
  skipCriuCheck: false,
  testFaults: false,
  metricsListen: '',
  logLevel: 'info',
};

const FLAGS = {
  config: { type: 'string' },
  host: { type: 'string' },
  listen: { type: 'string' },
  'data-listen': { type: 'string' },
  advertise: { type: 'string' },
  coordinator: { type: 'string' },
  bridge: { type: 'string' },
  lan: { type: 'string' },
  'state-dir': { type: 'string' },
  'fast-dir': { type: 'string' },
  pki: { type: 'string' },
  criu: { type: 'string' },
  shim: { type: 'string' },
  'default-rootfs': { type: 'string' },
  'rootfs-base': { type: 'string', multiple: true },
  'orphan-timeout-sec': { type: 'string' },
  'heartbeat-ms': { type: 'string' },
  'log-level': { type: 'string' },
  'metrics-listen': { type: 'string' },
  'test-faults': { type: 'boolean' },
} as const;

/** Flags override the JSON config file (--config), which overrides defaults. */
export function agentOptions(argv: string[]): AgentOptions {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true });
  let file: Partial<AgentOptions> = {};
  if (values.config) {
    try {
      file = JSON.parse(readFileSync(values.config, 'utf8'));
    } catch (e) {
      throw invalid(`cannot read config ${values.config}: ${(e as Error).message}`);
    }
  }
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const flags: Partial<AgentOptions> = {
    host: values.host,
    listen: values.listen,
    dataListen: values['data-listen'],
    advertise: values.advertise,
    coordinator: values.coordinator,
    bridge: values.bridge,
    lan: values.lan,
    stateDir: values['state-dir'],
    fastDir: values['fast-dir'],
    pki: values.pki,
    criu: values.criu,
    shim: values.shim,
    defaultRootfs: values['default-rootfs'],
    rootfsBases: values['rootfs-base'],
    orphanTimeoutSec: num(values['orphan-timeout-sec']),
    heartbeatMs: num(values['heartbeat-ms']),
    logLevel: values['log-level'],
    metricsListen: values['metrics-listen'],
    testFaults: values['test-faults'] || undefined,
  };
  const merged = { ...AGENT_DEFAULTS, ...file } as AgentOptions;
  for (const [k, v] of Object.entries(flags))
    if (v !== undefined) (merged as unknown as Record<string, unknown>)[k] = v;
  return validateAgentOptions(merged);
}

export function validateAgentOptions(o: AgentOptions): AgentOptions {
  if (!o.host) throw invalid('agent: --host is required');
  validateName('host', o.host);
  if (!o.listen) throw invalid('agent: --listen is required (host:port)');
  if (!o.coordinator) throw invalid('agent: --coordinator is required (host:port, or IP:port,IP:port,...)');
  parseCidr(o.lan);
  if (!Number.isFinite(o.orphanTimeoutSec) || o.orphanTimeoutSec < 1)
    throw invalid('agent: orphanTimeoutSec must be >= 1');
  if (!Number.isFinite(o.heartbeatMs) || o.heartbeatMs < 100)
    throw invalid('agent: heartbeatMs must be >= 100');
  if (o.metricsListen) metricsAddress(o.metricsListen);
  return { ...o, advertise: o.advertise || o.listen };
}

/** This agent's directory on the tmpfs for migrations' images, if it has one. */
export function fastBase(o: AgentOptions): string | undefined {
  return o.fastDir ? join(o.fastDir, o.host) : undefined;
}

/** This agent's certificate files. */
export function agentCerts(o: AgentOptions): CertFiles {
  return certFiles(o.pki, { role: 'agent', name: o.host });
}
