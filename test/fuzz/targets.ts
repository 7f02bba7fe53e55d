// Hostile input, generated (fast-check): image chunk streams into the
// receiver, request messages into every coordinator RPC and every agent RPC,
// and opening lines into an agent's data channel. Each target
// counts inputs, crashes (anything but a clear refusal: an exception that is
// not a TernError, a gRPC UNKNOWN status, a daemon that stops answering) and
// escapes (a file written outside the directory it was given). Used by
// test/fuzz/fuzz.test.ts (short) and `npm run fuzz` (long).
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { splitAddress } from '../../agent/data.js';
import { TernError } from '../../core/errors.js';
import { ChunkReceiver } from '../../proto/chunks.js';
import { agentClient, coordinatorClient, grpc, type ImageChunk__Output } from '../../proto/index.js';
import { AGENT_POLICY, COORDINATOR_POLICY } from '../../proto/roles.js';
import { Cluster, HOSTS } from '../inproc/cluster.js';
import { startCoordinator, type TestCoordinator } from '../lib/coordinator.js';
import { certFiles, testCert } from '../lib/pki.js';

export interface Tally {
  inputs: number;
  crashes: string[];
  escapes: string[];
  /** RPC outcomes by gRPC status name ('OK', 'INVALID_ARGUMENT', ...; 'unsent' if the client could not encode it). */
  outcomes: Record<string, number>;
  /** Details of INTERNAL answers, to read. */
  internal: string[];
}

export const newTally = (): Tally => ({ inputs: 0, crashes: [], escapes: [], outcomes: {}, internal: [] });

/** Every path under root, relative to it. */
function walk(root: string, dir = root): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(relative(root, p));
    if (e.isDirectory()) out.push(...walk(root, p));
  }
  return out;
}

const HOSTILE_NAMES = [
  'pages-1.img',
  'core-1.img',
  '../escape.img',
  '../../etc/passwd',
  '/tmp/abs.img',
  '',
  '.',
  '..',
  'a/b.img',
  'x\0y',
  '.hidden',
  'ok.img\n',
  'x'.repeat(300),
];

const bytes = fc.uint8Array({ maxLength: 96 }).map((a) => Buffer.from(a));

/** A chunk that is sometimes consistent (right crc, size, sha) and often not. */
const chunk = fc
  .record({
    file: fc.oneof(fc.constantFrom(...HOSTILE_NAMES), fc.string({ maxLength: 40 })),
    offset: fc.oneof(fc.constant(0), fc.integer({ min: -5, max: 4096 }), fc.constant(2 ** 40)),
    data: bytes,
    rawDelta: fc.oneof(fc.constant(0), fc.integer({ min: -8, max: 1 << 24 })),
    compressed: fc.boolean(),
    goodCrc: fc.boolean(),
    eof: fc.boolean(),
    goodEof: fc.boolean(),
    end: fc.boolean(),
    fileCount: fc.integer({ min: -1, max: 4 }),
  })
  .map((r): ImageChunk__Output => {
    const raw = r.data;
    return {
      file: r.file,
      offset: String(r.offset),
      raw_length: raw.length + r.rawDelta,
      data: raw,
      compressed: r.compressed,
      crc32: r.goodCrc ? crc32(raw) : (crc32(raw) + 1) >>> 0,
      eof: r.eof,
      size: String(r.goodEof ? r.offset + raw.length : r.offset),
      sha256: r.goodEof ? createHash('sha256').update(raw).digest('hex') : 'f'.repeat(64),
      end: r.end,
      file_count: r.fileCount,
      source_gone: false,
    };
  });

/** Feeds generated chunk streams to a receiver; runs `runs` streams. */
export async function fuzzChunkStream(runs: number, tally: Tally, seed?: number): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'tern-fuzz-chunks-'));
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(chunk, { minLength: 1, maxLength: 12 }),
        fc.nat(1 << 16),
        async (stream, max) => {
          tally.inputs++;
          const dir = join(root, 'rx');
          rmSync(dir, { recursive: true, force: true });
          mkdirSync(dir);
          const rx = new ChunkReceiver(dir, max > 0 ? { maxBytes: max } : {});
          for (const c of stream) {
            try {
              await rx.accept(c);
            } catch (e) {
              if (!(e instanceof TernError)) tally.crashes.push(`receiver threw ${(e as Error)?.stack ?? e}`);
              break;
            }
          }
          for (const p of walk(root)) if (p !== 'rx' && !p.startsWith(`rx/`)) tally.escapes.push(p);
          for (const p of walk(dir)) if (p.includes('/')) tally.escapes.push(`rx/${p}`);
          return true;
        },
      ),
      { numRuns: runs, seed },
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const hostileString = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    '',
    '../x',
    '../../etc/passwd',
    'a/b',
    '..',
    'hostA',
    'web',
    '10.78.0.10/24',
    '0.0.0.0/0',
    'x'.repeat(500),
  ),
);
/** Only loopback addresses: a fuzzed registration must not make the coordinator dial anywhere else. */
const loopback = fc.constantFrom('127.0.0.1:1', '127.0.0.1:9', '[::1]:1', '', 'not an address');
const value: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.integer(),
  fc.boolean(),
  fc.array(hostileString, { maxLength: 4 }),
  fc.constant(null),
);
const FIELDS = [
  'credential',
  'source_host',
  'target_host',
  'image_bytes_estimate',
  'max_bytes',
  'stall_ms',
  'pages_bytes',
  'source_cpuinfo_b64',
  'name',
  'host',
  'to',
  'from',
  'id',
  'container',
  'command',
  'ip',
  'rootfs',
  'hostname',
  'env',
  'cap_add',
  'lan',
  'migration_id',
  'mode',
  'timeout_ms',
  'criu_version',
  'kernel',
];
const request = fc
  .record({
    fields: fc.dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 8 }),
    address: loopback,
    data_address: loopback,
    source_data: loopback,
    pages_to: loopback,
    container: fc.record({
      name: hostileString,
      ip: hostileString,
      veth: hostileString,
      rootfs: hostileString,
    }),
    containers: fc.array(
      fc.record({ name: hostileString, state: fc.constantFrom('running', 'exited', 'x'), ip: hostileString }),
      { maxLength: 3 },
    ),
  })
  .map((r) => ({
    ...r.fields,
    address: r.address,
    data_address: r.data_address,
    source_data: r.source_data,
    pages_to: r.pages_to,
    container: r.container,
    containers: r.containers,
  }));

type Unary = (
  req: object,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (e: grpc.ServiceError | null) => void,
) => void;
type Streaming = (
  req: object,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
) => grpc.ClientReadableStream<unknown>;

const STREAMING = ['WatchMigration', 'PullImages', 'ReadImages', 'Evacuate'];

/** tern's own methods of a policy (the health service's, listed by path, are not fuzzed here). */
const ternMethods = (policy: object) => Object.keys(policy).filter((m) => !m.startsWith('/'));

function callOnce(c: grpc.Client, method: string, req: object): Promise<grpc.ServiceError | null> {
  return new Promise((resolve) => {
    const fn = (c as unknown as Record<string, unknown>)[method];
    const deadline = Date.now() + 5000;
    try {
      if (STREAMING.includes(method)) {
        const s = (fn as Streaming).call(c, req, new grpc.Metadata(), { deadline });
        s.on('data', () => {});
        s.on('error', (e: grpc.ServiceError) => resolve(e));
        s.on('end', () => resolve(null));
        return;
      }
      (fn as Unary).call(c, req, new grpc.Metadata(), { deadline }, (e) => resolve(e));
    } catch (e) {
      // The client could not even encode it: it never reached the server.
      resolve({ code: -1, details: String(e) } as unknown as grpc.ServiceError);
    }
  });
}

/** Sends generated requests to every coordinator RPC, as the local user and as an agent. */
export async function fuzzCoordinator(runs: number, tally: Tally, seed?: number): Promise<void> {
  const t: TestCoordinator = await startCoordinator('file');
  const local = coordinatorClient(`unix://${t.socket}`);
  const agent = coordinatorClient(t.address, await testCert({ role: 'agent', name: 'hostA' }));
  const methods = ternMethods(COORDINATOR_POLICY);
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...methods),
        request,
        fc.integer({ min: 0, max: 9 }),
        async (method, req, who) => {
          tally.inputs++;
          // Mostly the role the method is for, sometimes the other one.
          const forAgents = COORDINATOR_POLICY[method].includes('agent');
          const asAgent = forAgents ? who < 9 : who < 1;
          judge(tally, method, req, await callOnce(asAgent ? agent : local, method, req));
          return true;
        },
      ),
      { numRuns: runs, seed },
    );
    // Still answering, and nothing written outside its state directory.
    const alive = await callOnce(local, 'ListHosts', {});
    if (alive) tally.crashes.push(`the coordinator stopped answering: ${alive.details}`);
    for (const p of walk(t.root))
      if (!['state', 'coordinator.sock', 'tern.db'].includes(p.split('/')[0])) tally.escapes.push(p);
  } finally {
    local.close();
    agent.close();
    await t.stop();
  }
}

/**
 * Records one RPC answer: a gRPC UNKNOWN (an unhandled exception in a
 * handler) is a crash. grpc-js reports a request it cannot encode as
 * INTERNAL without sending it: counted 'unsent'.
 */
function judge(tally: Tally, method: string, req: object, e: grpc.ServiceError | null): void {
  const unsent = (e?.code as number) === -1 || /serialization failure/.test(e?.details ?? '');
  const outcome = e ? (unsent ? 'unsent' : grpc.status[e.code]) : 'OK';
  if (e?.code === grpc.status.INTERNAL) tally.internal.push(`${method}: ${e.details}`);
  tally.outcomes[outcome] = (tally.outcomes[outcome] ?? 0) + 1;
  if (e && e.code === grpc.status.UNKNOWN)
    tally.crashes.push(`${method} ${JSON.stringify(req)}: ${e.details}`);
}

/** Bytes a peer might open a data channel connection with. */
const openingLine = fc.oneof(
  fc.constantFrom(
    'TERN-DATA 2 m1 images\n',
    'TERN-DATA 2 m1 pages\n',
    'TERN-DATA 2 ../../etc rootfs\n',
    'TERN-DATA 1 m1 ' + 'ab'.repeat(32) + ' images\n',
    'TERN-DATA 2 m1 images\n' + 'ab'.repeat(32) + '\n',
    '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03',
    '\n',
  ),
  fc.string({ maxLength: 300 }).map((t) => `${t}\n`),
  fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b).toString('latin1')),
);

/** Sends bytes to a data channel; resolves when the agent closes the connection (or after 3 s). */
function poke(address: string, bytes: string): Promise<void> {
  const [host, port] = splitAddress(address);
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve();
    };
    const timer = setTimeout(done, 3000);
    sock.on('error', done);
    sock.on('close', done);
    sock.on('data', () => {});
    sock.on('connect', () => sock.end(Buffer.from(bytes, 'latin1')));
  });
}

/**
 * Sends generated requests to every agent RPC (with the coordinator's
 * certificate, the one caller agents serve, and sometimes another agent's),
 * and generated opening bytes to an agent's data channel. The agents run
 * over the in-process tier's simulated engine and host (test/inproc): what
 * is fuzzed is the agents' own handling of what they are sent.
 */
export async function fuzzAgent(runs: number, tally: Tally, seed?: number): Promise<void> {
  const c = new Cluster();
  await c.start();
  const hosts = (await c.call('ListHosts', {})) as {
    hosts: { name: string; address: string; data_address: string }[];
  };
  const target = hosts.hosts.find((h) => h.name === HOSTS[0]);
  if (!target) throw new Error('fuzz: no agent registered');
  const pki = certFiles(c.pkiDir(), { role: 'coordinator', name: 'coordinator' });
  const asCoordinator = agentClient(target.address, pki, target.name);
  const asAgent = agentClient(target.address, await testCert({ role: 'agent', name: 'hostB' }), target.name);
  const methods = ternMethods(AGENT_POLICY);
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...methods),
        request,
        fc.integer({ min: 0, max: 19 }),
        openingLine,
        async (method, req, who, line) => {
          tally.inputs++;
          if (who === 19) {
            await poke(target.data_address, line);
            tally.outcomes.data = (tally.outcomes.data ?? 0) + 1;
            return true;
          }
          judge(tally, method, req, await callOnce(who === 18 ? asAgent : asCoordinator, method, req));
          return true;
        },
      ),
      { numRuns: runs, seed },
    );
    // Still answering, and nothing written outside the agents' state directories.
    const alive = await callOnce(asCoordinator, 'Check', {});
    if (alive) tally.crashes.push(`agent ${target.name} stopped answering: ${alive.details}`);
    // logs: each daemon's log, which the cluster itself points there.
    const known = new Set(['coordinator', ...HOSTS, 'rootfs', 'logs']);
    for (const p of walk(c.dir)) if (!known.has(p.split('/')[0])) tally.escapes.push(p);
    for (const p of walk(join(c.dir, 'rootfs')))
      if (p.split('/')[0] !== 'tern') tally.escapes.push(`rootfs/${p}`);
  } finally {
    asCoordinator.close();
    asAgent.close();
    await c.stop();
  }
}
