// The agent's Prometheus metrics (served at --metrics-listen): its containers
// and the calls it answered (a migration's steps are calls: DumpAndHold,
// PreDump, ReceiveImages, RestoreStopped, Commit, Resume, Abort).
import { Gauge, Histogram, type Registry } from 'prom-client';
import { daemonRegistry } from '../core/metrics.js';

export class AgentMetrics {
  readonly registry: Registry;
  private readonly calls: Histogram<'method' | 'code'>;

  constructor(host: string, containers: () => Promise<{ state: string }[]>) {
    const r = daemonRegistry('agent', { host });
    this.registry = r;
    this.calls = new Histogram({
      name: 'tern_agent_calls_seconds',
      help: 'gRPC calls the agent answered, by method and status code',
      labelNames: ['method', 'code'],
      buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30, 120],
      registers: [r],
    });
    new Gauge({
      name: 'tern_agent_containers',
      help: 'Containers on this host, by state',
      labelNames: ['state'],
      registers: [r],
      async collect() {
        this.reset();
        for (const c of await containers()) this.inc({ state: c.state });
      },
    });
  }

  call(method: string, code: number, seconds: number): void {
    this.calls.observe({ method, code: String(code) }, seconds);
  }
}
