// A coordinator on etcd that follows serves no gRPC: agents and the CLI find
// the leader by trying each address, so a follower's port must stay closed.
// With --metrics-listen it serves /metrics meanwhile, so that monitoring sees
// it up, following, and whom (or that etcd is out of reach); once it leads,
// the coordinator's own metrics take the address over.
import { Gauge } from 'prom-client';
import { daemonRegistry, serveMetrics } from '../core/metrics.js';
import { leaderGauge } from './metrics.js';

export class FollowerMetrics {
  readonly registry = daemonRegistry('coordinator');
  private readonly following: Gauge<'leader'>;

  constructor() {
    leaderGauge(this.registry, false);
    this.following = new Gauge({
      name: 'tern_coordinator_following',
      help: 'Whom this coordinator follows: the leader it last saw, or why it sees none (etcd unreachable)',
      labelNames: ['leader'],
      registers: [this.registry],
    });
  }

  /** What EtcdStore's onFollowing reports: the leader's identity, or why there is none. */
  follow(leader: string): void {
    this.following.reset();
    this.following.set({ leader }, 1);
  }
}

/**
 * Waits to lead (`lead`, EtcdStore.lead), serving `metrics` at `listen` (if
 * given) meanwhile; stops serving them before it resolves, so that the
 * leading coordinator can bind the same address.
 */
export async function leadServingMetrics(
  lead: () => Promise<void>,
  listen: string | undefined,
  metrics: FollowerMetrics,
): Promise<void> {
  if (!listen) return lead();
  const served = await serveMetrics(listen, metrics.registry);
  try {
    await lead();
  } finally {
    await served.close();
  }
}
