// A real coordinator in this process, over TCP with the test CA and on a
// unix socket, with its state in a temporary directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { COORDINATOR_DEFAULTS } from '../../coordinator/config.js';
import { Coordinator } from '../../coordinator/server.js';
import { SqliteStore } from '../../coordinator/sqlite-store.js';
import { FileStore, type Store } from '../../coordinator/store.js';
import { type CoordinatorClient, coordinatorClient, type grpc } from '../../proto/index.js';
import { testCert, testPkiDir } from './pki.js';

export interface TestCoordinator {
  coord: Coordinator;
  /** host:port of its TLS port. */
  address: string;
  socket: string;
  /** Its state directory (inside `root`). */
  dir: string;
  /** A temporary directory holding everything it made. */
  root: string;
  stop(): Promise<void>;
}

/** `before` fills the store before the coordinator starts on it. */
export async function startCoordinator(
  store: 'sqlite' | 'file' = 'sqlite',
  before?: (s: Store) => Promise<void>,
): Promise<TestCoordinator> {
  const root = mkdtempSync(join(tmpdir(), 'tern-coord-'));
  const dir = join(root, 'state');
  const socket = join(root, 'coordinator.sock');
  const pki = await testPkiDir();
  await testCert({ role: 'coordinator', name: 'coordinator' });
  const records: Store =
    store === 'file' ? await new FileStore(dir).init() : new SqliteStore(join(root, 'tern.db'));
  await before?.(records);
  const coord = new Coordinator(
    { ...COORDINATOR_DEFAULTS, listen: '127.0.0.1:0', socket, stateDir: dir, pki, store },
    records,
    pino({ level: 'silent' }),
  );
  await coord.start();
  return {
    coord,
    address: `127.0.0.1:${coord.port}`,
    socket,
    dir,
    root,
    stop: async () => {
      await coord.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

type Call = (req: object, cb: (e: grpc.ServiceError | null, r?: unknown) => void) => void;

/** One unary call by method name, as a promise. */
export function call(c: CoordinatorClient, method: string, req: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const fn = (c as unknown as Record<string, Call>)[method].bind(c);
    fn(req, (e, r) => (e ? reject(e) : resolve(r)));
  });
}

export { coordinatorClient };
