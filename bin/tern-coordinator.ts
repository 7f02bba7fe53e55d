#!/usr/bin/env node
import { join } from 'node:path';
// tern-coordinator: the API users and tools talk to (see deploy/systemd/).
import { coordinatorOptions } from '../coordinator/config.js';
import { Coordinator } from '../coordinator/server.js';
import { SqliteStore } from '../coordinator/sqlite-store.js';
import { FileStore, type Store } from '../coordinator/store.js';
import { errorMessage } from '../core/errors.js';
import { daemonLogger } from './log.js';

async function main() {
  // Files the daemon makes are its own (containers get 022 back in tern-shim).
  process.umask(0o077);
  const opts = coordinatorOptions(process.argv.slice(2));
  const log = daemonLogger('tern-coordinator', opts.logLevel);
  const store: Store =
    opts.store === 'sqlite'
      ? new SqliteStore(join(opts.stateDir, 'tern.db'))
      : await new FileStore(opts.stateDir).init();
  const coord = new Coordinator(opts, store, log);
  await coord.start();
  const shutdown = async (sig: string) => {
    log.info({ sig }, 'coordinator stopping');
    await coord.stop();
    store.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((e) => {
  process.stderr.write(`tern-coordinator: ${errorMessage(e)}\n`);
  process.exit(1);
});
