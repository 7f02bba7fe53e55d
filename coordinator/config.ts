// Coordinator options: one type, defaults and validation in one place.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { invalid } from '../core/errors.js';
import { metricsAddress } from '../core/metrics.js';
import { validateName } from '../core/names.js';
import { type CertFiles, certFiles, DEFAULT_PKI_DIR } from '../core/pki.js';
import { DEFAULT_PRECOPY, type PrecopyRules } from './precopy.js';

export interface CoordinatorOptions {
  /** TCP listen address for agents (host:port); empty = no TCP. */
  listen: string;
  /** Address agents use to pull image streams from here; default: listen. */
  advertise: string;
  /** Unix socket for the CLI on this machine. */
  socket: string;
  /** PKI directory (core/pki.ts): ca.crt and coordinator/<name>.crt, .key. */
  pki: string;
  /** The name in this coordinator's certificate. */
  name: string;
  /**
   * Certificate files given one by one (as systemd's LoadCredential hands
   * them over); each overrides its place in the pki directory.
   */
  ca?: string;
  cert?: string;
  key?: string;
  /** Honour fault injection (tests only; core/faults.ts). */
  testFaults: boolean;
  /** Durable records of hosts, placements and migrations. */
  stateDir: string;
  /**
   * sqlite (default): <stateDir>/tern.db; file: one JSON file per record;
   * etcd: records in etcd, where coordinators elect one leader (etcdEndpoints).
   */
  store: 'sqlite' | 'file' | 'etcd';
  /** etcd client URLs, for store etcd; https ones are reached with this coordinator's certificate. */
  etcdEndpoints: string[];
  /** Key prefix in etcd. */
  etcdPrefix: string;
  /** The leader's etcd lease: a dead leader is replaced within about this many seconds. */
  leaseTtlSec: number;
  /** A host that has not heartbeated for this long is down. */
  hostTimeoutMs: number;
  /** Migrations a host takes part in at once; more wait their turn. */
  maxMigrationsPerHost: number;
  /** A target that receives no image data for this long gives up, and the move aborts. */
  stallMs: number;
  /** When pre-copy stops sending rounds (config file only: {"precopy": {"maxRounds": 4, ...}}). */
  precopy: PrecopyRules;
  /** Prometheus metrics over plain HTTP at host:port/metrics ('' = none). */
  metricsListen: string;
  logLevel: string;
}

export const COORDINATOR_DEFAULTS: CoordinatorOptions = {
  listen: '0.0.0.0:7700',
  advertise: '',
  socket: '/run/tern/coordinator.sock',
  pki: DEFAULT_PKI_DIR,
  name: 'coordinator',
  testFaults: false,
  stateDir: '/var/lib/tern/coordinator',
  store: 'sqlite',
  etcdEndpoints: [],
  etcdPrefix: '/tern/',
  leaseTtlSec: 5,
  hostTimeoutMs: 6000,
  maxMigrationsPerHost: 2,
  stallMs: 30_000,
  precopy: DEFAULT_PRECOPY,
  metricsListen: '',
  logLevel: 'info',
};

export function coordinatorOptions(argv: string[]): CoordinatorOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      config: { type: 'string' },
      listen: { type: 'string' },
      advertise: { type: 'string' },
      socket: { type: 'string' },
      pki: { type: 'string' },
      name: { type: 'string' },
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'test-faults': { type: 'boolean' },
      'state-dir': { type: 'string' },
      store: { type: 'string' },
      'etcd-endpoints': { type: 'string' },
      'etcd-prefix': { type: 'string' },
      'lease-ttl': { type: 'string' },
      'host-timeout-ms': { type: 'string' },
      'max-migrations-per-host': { type: 'string' },
      'stall-ms': { type: 'string' },
      'metrics-listen': { type: 'string' },
      'log-level': { type: 'string' },
    },
  });
  let file: Partial<CoordinatorOptions> = {};
  if (values.config) {
    try {
      file = JSON.parse(readFileSync(values.config, 'utf8'));
    } catch (e) {
      throw invalid(`cannot read config ${values.config}: ${(e as Error).message}`);
    }
  }
  const o: CoordinatorOptions = { ...COORDINATOR_DEFAULTS, ...file };
  if (values.listen !== undefined) o.listen = values.listen;
  if (values.advertise !== undefined) o.advertise = values.advertise;
  if (values.socket !== undefined) o.socket = values.socket;
  if (values.pki !== undefined) o.pki = values.pki;
  if (values.name !== undefined) o.name = values.name;
  if (values.ca !== undefined) o.ca = values.ca;
  if (values.cert !== undefined) o.cert = values.cert;
  if (values.key !== undefined) o.key = values.key;
  if (values['test-faults']) o.testFaults = true;
  validateName('coordinator', o.name);
  if (values['state-dir'] !== undefined) o.stateDir = values['state-dir'];
  if (values.store !== undefined) o.store = values.store as CoordinatorOptions['store'];
  if (values['host-timeout-ms'] !== undefined) o.hostTimeoutMs = Number(values['host-timeout-ms']);
  if (values['max-migrations-per-host'] !== undefined)
    o.maxMigrationsPerHost = Number(values['max-migrations-per-host']);
  if (!Number.isInteger(o.maxMigrationsPerHost) || o.maxMigrationsPerHost < 1) {
    throw invalid('coordinator: maxMigrationsPerHost must be a whole number >= 1');
  }
  if (values['stall-ms'] !== undefined) o.stallMs = Number(values['stall-ms']);
  if (!Number.isInteger(o.stallMs) || o.stallMs < 100)
    throw invalid('coordinator: stallMs must be a whole number >= 100');
  if (values['log-level'] !== undefined) o.logLevel = values['log-level'];
  if (values['metrics-listen'] !== undefined) o.metricsListen = values['metrics-listen'];
  if (o.metricsListen) metricsAddress(o.metricsListen);
  if (values['etcd-endpoints'] !== undefined)
    o.etcdEndpoints = values['etcd-endpoints'].split(',').filter((e) => e.trim());
  if (values['etcd-prefix'] !== undefined) o.etcdPrefix = values['etcd-prefix'];
  if (values['lease-ttl'] !== undefined) o.leaseTtlSec = Number(values['lease-ttl']);
  if (o.store !== 'sqlite' && o.store !== 'file' && o.store !== 'etcd')
    throw invalid(`coordinator: store must be sqlite, file or etcd, not ${o.store}`);
  if (o.store === 'etcd') {
    if (!o.etcdEndpoints.length) throw invalid('coordinator: store etcd needs --etcd-endpoints URL[,URL...]');
    for (const e of o.etcdEndpoints)
      if (!/^https?:\/\/[^/\s]+$/.test(e))
        throw invalid(`coordinator: etcd endpoint ${JSON.stringify(e)} is not http(s)://host:port`);
    if (!Number.isInteger(o.leaseTtlSec) || o.leaseTtlSec < 2 || o.leaseTtlSec > 60)
      throw invalid('coordinator: leaseTtlSec must be a whole number of seconds from 2 to 60');
    if (!o.etcdPrefix.startsWith('/')) throw invalid('coordinator: etcdPrefix must start with /');
  }
  if (!o.listen && !o.socket) throw invalid('coordinator: give --listen or --socket');
  o.precopy = { ...DEFAULT_PRECOPY, ...o.precopy };
  const p = o.precopy;
  if (!(Number.isInteger(p.maxRounds) && p.maxRounds >= 1 && p.maxRounds <= 20))
    throw invalid('coordinator: precopy.maxRounds must be a whole number from 1 to 20');
  if (!(p.smallBytes >= 0 && p.shrink > 0 && p.shrink <= 1))
    throw invalid('coordinator: precopy.smallBytes must be >= 0 and precopy.shrink in (0, 1]');
  if (!Number.isFinite(o.hostTimeoutMs) || o.hostTimeoutMs < 500)
    throw invalid('coordinator: hostTimeoutMs must be >= 500');
  return { ...o, advertise: o.advertise || o.listen };
}

/** This coordinator's certificate files. */
export function coordinatorCerts(o: CoordinatorOptions): CertFiles {
  const f = certFiles(o.pki, { role: 'coordinator', name: o.name });
  return { ca: o.ca || f.ca, cert: o.cert || f.cert, key: o.key || f.key };
}
