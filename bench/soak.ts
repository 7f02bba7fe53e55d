// npm run soak: 20 small containers move back and forth between hostA and
// hostB, 10 times each, several migrations at once, on the local testbed.
// Afterwards every container must run exactly once with its heartbeat still
// advancing, and no host may hold leftovers. Prints the fault-matrix summary
// line and the p50/p99 downtime the coordinator measured.
import PQueue from 'p-queue';
import { connect, follow } from '../bin/cli.js';
import {
  alive,
  down,
  heartbeat,
  migrationDirs,
  ownsTestbed,
  record,
  runWorkload,
  tern,
  up,
  workloadRootfs,
} from '../deploy/testbed/driver.js';
import { unary } from '../proto/rpc.js';
import { workloadScript } from './workload.js';

const CONTAINERS = Number(process.env.SOAK_CONTAINERS ?? 20);
const ROUNDS = Number(process.env.SOAK_ROUNDS ?? 10);
const PARALLEL = Number(process.env.SOAK_PARALLEL ?? 4);
const HOSTS = ['hostA', 'hostB'];

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  await up(2);
  const rootfs = await workloadRootfs();
  const names = Array.from({ length: CONTAINERS }, (_, i) => `soak${String(i).padStart(2, '0')}`);
  const client = connect();
  const downtimes: number[] = [];
  let failed = 0;
  const t0 = Date.now();
  try {
    for (const [i, n] of names.entries()) {
      await runWorkload(HOSTS[i % 2], n, rootfs.dir, workloadScript(8, 'half', 1), '/tmp/hb');
    }
    const before = new Map<string, number>();
    for (const n of names) before.set(n, (await heartbeat(n)) || 0);

    const queue = new PQueue({ concurrency: PARALLEL });
    for (const [i, n] of names.entries()) {
      void queue.add(async () => {
        for (let round = 0; round < ROUNDS; round++) {
          const to = HOSTS[(i + round + 1) % 2];
          try {
            const m = await unary(
              client,
              client.StartMigration,
              { container: n, from: '', to },
              { timeoutMs: 60_000, what: 'migrate' },
            );
            const end = await follow(client, m.id, () => {});
            if (end.phase === 'done') downtimes.push(Number(end.downtime_ms));
            else {
              failed++;
              process.stderr.write(`soak: ${n} round ${round}: ${end.phase}: ${end.error}\n`);
            }
          } catch (e) {
            failed++;
            process.stderr.write(`soak: ${n} round ${round}: ${(e as Error).message}\n`);
          }
        }
      });
    }
    await queue.onIdle();

    let lost = 0;
    let duplicated = 0;
    let leftovers = 0;
    for (const n of names) {
      const copies: string[] = [];
      for (const h of HOSTS) {
        const r = await record(h, n);
        if (r && (await alive(r.pid))) copies.push(h);
      }
      if (copies.length === 0) lost++;
      if (copies.length > 1) duplicated++;
      if (copies.length === 1) {
        const hb = (await heartbeat(n)) || 0;
        if (hb <= (before.get(n) ?? 0)) {
          process.stderr.write(`soak: ${n}: heartbeat did not advance\n`);
          lost++;
        }
      }
    }
    for (const h of HOSTS) {
      leftovers += (await migrationDirs(h)).length;
    }
    const total = CONTAINERS * ROUNDS;
    const sorted = [...downtimes].sort((a, b) => a - b);
    process.stdout.write(
      `soak: ${total} migrations of ${CONTAINERS} containers (${PARALLEL} at once) in ${((Date.now() - t0) / 1000).toFixed(0)} s, ${downtimes.length} done, ${failed} failed\n`,
    );
    process.stdout.write(
      `faults: 0 injected, 0 recovered, ${lost} lost, ${duplicated} duplicated, ${leftovers} leftovers\n`,
    );
    process.stdout.write(
      `downtime: p50 ${pct(sorted, 50)} ms, p99 ${pct(sorted, 99)} ms, max ${sorted.at(-1)} ms\n`,
    );
    process.exitCode = failed + lost + duplicated + leftovers === 0 ? 0 : 1;
  } finally {
    client.close();
    if (ownsTestbed()) for (const n of names) await tern('stop', n).catch(() => {});
    await down();
    await rootfs.cleanup();
  }
}

main().catch((e) => {
  process.stderr.write(`soak: error: ${(e as Error).message}\n`);
  process.exit(1);
});
