// Hostile input, generated (fast-check): image chunk streams into the
// receiver, and request messages into every coordinator RPC. Each target
// counts inputs, crashes (anything but a clear refusal: an exception that is
// not a TernError, a gRPC UNKNOWN status, a daemon that stops answering) and
// escapes (a file written outside the directory it was given). Used by
// test/fuzz/fuzz.test.ts (short) and `npm run fuzz` (long).
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { TernError } from '../../core/errors.js';
import { ChunkReceiver } from '../../proto/chunks.js';
import {
  type CoordinatorClient,
  coordinatorClient,
  grpc,
  type ImageChunk__Output,
} from '../../proto/index.js';
import { COORDINATOR_POLICY } from '../../proto/roles.js';
import { startCoordinator, type TestCoordinator } from '../lib/coordinator.js';
import { testCert } from '../lib/pki.js';

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
    containers: fc.array(
      fc.record({ name: hostileString, state: fc.constantFrom('running', 'exited', 'x'), ip: hostileString }),
      { maxLength: 3 },
    ),
  })
  .map((r) => ({ ...r.fields, address: r.address, data_address: r.data_address, containers: r.containers }));

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

function callOnce(c: CoordinatorClient, method: string, req: object): Promise<grpc.ServiceError | null> {
  return new Promise((resolve) => {
    const fn = (c as unknown as Record<string, unknown>)[method];
    const deadline = Date.now() + 5000;
    try {
      if (method === 'WatchMigration' || method === 'PullImages') {
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
  const methods = Object.keys(COORDINATOR_POLICY);
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
          const e = await callOnce(asAgent ? agent : local, method, req);
          // grpc-js reports a request it cannot encode as INTERNAL, without sending it.
          const unsent = (e?.code as number) === -1 || /serialization failure/.test(e?.details ?? '');
          const outcome = e ? (unsent ? 'unsent' : grpc.status[e.code]) : 'OK';
          if (e?.code === grpc.status.INTERNAL) tally.internal.push(`${method}: ${e.details}`);
          tally.outcomes[outcome] = (tally.outcomes[outcome] ?? 0) + 1;
          if (e && e.code === grpc.status.UNKNOWN)
            tally.crashes.push(`${method} ${JSON.stringify(req)}: ${e.details}`);
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
