#!/usr/bin/env node
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
// tern-coordinator: the API users and tools talk to (see deploy/systemd/).
import { coordinatorCerts, coordinatorOptions } from '../coordinator/config.js';
import { EtcdStore } from '../coordinator/etcd-store.js';
import { FollowerMetrics, leadServingMetrics } from '../coordinator/follower.js';
import { Coordinator } from '../coordinator/server.js';
import { SqliteStore } from '../coordinator/sqlite-store.js';
import { FileStore, type Store } from '../coordinator/store.js';
import { errorMessage } from '../core/errors.js';
import { notifyReady } from '../kernel/systemd.js';
import { daemonLogger } from './log.js';

/** Exit status of a coordinator that lost the leadership (EX_TEMPFAIL: systemd starts it again, as a follower). */
const EXIT_DEPOSED = 75;

/**
 * The JavaScript heap grows by a quarter at a time instead of V8's own factor
 * (up to several times over): a coordinator of 1,000 agents with 50 moves in
 * flight peaked at 298 MiB resident instead of 380, for 4 % more of a core
 * (`npm run scale`). No hard limit: it still grows as far as it needs. V8
 * reads the factor at every major collection, so setting it here, before the
 * heap has grown, takes effect.
 */
const HEAP_GROWING_PERCENT = 25;

async function main() {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  // Files the daemon makes are its own (containers get 022 back in tern-shim).
  process.umask(0o077);
  const opts = coordinatorOptions(process.argv.slice(2));
  const log = daemonLogger('tern-coordinator', opts.logLevel);
  let etcd: EtcdStore | undefined;
  let store: Store;
  if (opts.store === 'etcd') {
    const follower = new FollowerMetrics();
    const elected = new EtcdStore({
      endpoints: opts.etcdEndpoints,
      prefix: opts.etcdPrefix,
      leaseTtlSec: opts.leaseTtlSec,
      identity: opts.advertise || opts.socket,
      tls: coordinatorCerts(opts),
      // Whatever it was doing, a coordinator that no longer leads stops now:
      // the new leader recovers every migration from the records.
      onDeposed: (why) => {
        log.error({ why }, 'no longer the leader: stopping');
        process.exit(EXIT_DEPOSED);
      },
      onFollowing: (leader) => {
        log.info({ leader }, 'following the leader');
        follower.follow(leader);
      },
    });
    etcd = elected;
    store = elected;
    log.info({ endpoints: opts.etcdEndpoints, advertise: opts.advertise }, 'campaigning for leadership');
    // A follower is up as far as systemd is concerned: it waits to lead.
    notifyReady((msg) => log.warn(msg));
    await leadServingMetrics(() => elected.lead(), opts.metricsListen, follower);
    log.info({ advertise: opts.advertise }, 'leading');
  } else {
    store =
      opts.store === 'sqlite'
        ? new SqliteStore(join(opts.stateDir, 'tern.db'))
        : await new FileStore(opts.stateDir).init();
  }
  const coord = new Coordinator(opts, store, log);
  await coord.start();
  const shutdown = async (sig: string) => {
    log.info({ sig }, 'coordinator stopping');
    await coord.stop();
    // A clean stop hands the leadership over at once instead of after the lease.
    await etcd?.resign();
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
