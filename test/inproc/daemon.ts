// Child-process entry of the in-process tier: runs one real daemon (an agent
// on the simulated engine and host, or a coordinator on SQLite) on
// 127.0.0.1, reaching the simulated world over its IPC channel. The test
// kills it with SIGKILL; an armed `crash` fault point does the same.

import { pino } from 'pino';
import { AGENT_DEFAULTS, type AgentOptions } from '../../agent/config.js';
import { Agent } from '../../agent/server.js';
import { COORDINATOR_DEFAULTS, type CoordinatorOptions } from '../../coordinator/config.js';
import { EtcdStore } from '../../coordinator/etcd-store.js';
import { Coordinator } from '../../coordinator/server.js';
import { SqliteStore } from '../../coordinator/sqlite-store.js';
import type { Store } from '../../coordinator/store.js';
import type { HaOptions } from './cluster.js';
import { SimEngine, SimHost, WorldLink } from './fakes.js';
import type { Port } from './world.js';

export type DaemonSpec = (
  | {
      kind: 'agent';
      opts: Partial<AgentOptions> & Pick<AgentOptions, 'host' | 'coordinator' | 'stateDir'>;
      pageBytes: number;
    }
  | {
      kind: 'coordinator';
      opts: Partial<CoordinatorOptions> & Pick<CoordinatorOptions, 'listen' | 'stateDir'>;
      /** On etcd, taking turns with other coordinators: ready while following, `leading` once it leads. */
      ha?: HaOptions;
    }
) & { logFile?: string };

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.TERN_INPROC_SPEC ?? '') as DaemonSpec;
  const port: Port = {
    on: (_event, listener) => process.on('message', listener as (m: unknown) => void),
    postMessage: (m) => process.send?.(m),
  };
  // Each daemon logs to a file of its own (written at once, so that a SIGKILL
  // loses nothing), printed when a case fails; TERN_INPROC_LOG=LEVEL sends it
  // to stderr instead.
  const log = process.env.TERN_INPROC_LOG
    ? pino({ level: process.env.TERN_INPROC_LOG })
    : spec.logFile
      ? pino({ level: 'info' }, pino.destination({ dest: spec.logFile, sync: true, append: true }))
      : pino({ level: 'silent' });
  if (spec.kind === 'agent') {
    const w = new WorldLink(port, spec.opts.host);
    const opts: AgentOptions = {
      ...AGENT_DEFAULTS,
      listen: '127.0.0.1:0',
      skipCriuCheck: true,
      testFaults: true,
      ...spec.opts,
    };
    const agent = new Agent(
      opts,
      new SimEngine(w, spec.pageBytes),
      log.child({ host: opts.host }),
      new SimHost(w),
    );
    await agent.start();
    process.send?.({ ready: true, port: agent.port });
  } else {
    const opts: CoordinatorOptions = { ...COORDINATOR_DEFAULTS, socket: '', testFaults: true, ...spec.opts };
    const clog = log.child({ daemon: 'coordinator' });
    let store: Store;
    if (spec.ha) {
      const etcd = new EtcdStore({
        endpoints: [spec.ha.etcd],
        prefix: spec.ha.prefix,
        leaseTtlSec: spec.ha.leaseTtlSec,
        identity: opts.listen,
        // As tern-coordinator does: a coordinator that no longer leads stops at once.
        onDeposed: () => process.exit(75),
      });
      store = etcd;
      process.send?.({ ready: true, port: 0 });
      await etcd.lead();
    } else store = new SqliteStore(`${opts.stateDir}/tern.db`);
    const c = new Coordinator(opts, store, clog);
    await c.start();
    process.send?.(spec.ha ? { leading: true, port: c.port } : { ready: true, port: c.port });
  }
}

main().catch((e) => {
  process.send?.({ ready: false, error: (e as Error).message }, () => process.exit(1));
});
