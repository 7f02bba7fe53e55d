// tern evacuate HOST: the coordinator cordons HOST and moves its containers
// off; this prints each move as it starts and ends, and a summary. Ctrl-C
// ends the call: the coordinator starts no new moves, the ones under way
// finish (or abort) by themselves, and this follows them to their end.
import type { CoordinatorClient, EvacuateEvent__Output } from '../proto/index.js';
import { unary } from '../proto/rpc.js';
import { follow } from './cli.js';
import { evacuateJson, jsonLine } from './json.js';

export async function evacuateCommand(
  c: CoordinatorClient,
  host: string,
  json: boolean,
  out: (s: string) => void,
): Promise<void> {
  const call = c.Evacuate({ host });
  const running = new Set<string>();
  let stopping = false;
  let end: EvacuateEvent__Output | undefined;
  process.on('SIGINT', () => {
    if (stopping) process.exit(130);
    stopping = true;
    if (!json)
      out(`stopping: no new moves; ${running.size} under way go on (Ctrl-C again to stop watching)\n`);
    call.cancel();
  });
  const say = (e: EvacuateEvent__Output) => {
    if (json) return out(jsonLine(evacuateJson(e)));
    if (e.end) return;
    const what =
      e.outcome === 'started'
        ? `moving to ${e.to} (migration ${e.migration_id})`
        : e.outcome === 'done'
          ? `moved to ${e.to}, downtime ${e.downtime_ms} ms`
          : e.outcome === 'skipped'
            ? `stays on ${host}: ${e.error}`
            : `stays on ${host}: migration ${e.migration_id} ${e.outcome}: ${e.error}`;
    out(`${e.container}: ${what}\n`);
  };
  try {
    for await (const e of call as AsyncIterable<EvacuateEvent__Output>) {
      if (e.outcome === 'started') running.add(e.migration_id);
      else if (e.migration_id) running.delete(e.migration_id);
      if (e.end) end = e;
      say(e);
    }
  } catch (e) {
    if (!stopping) throw e;
  }
  let moved = end?.moved ?? 0;
  let left = end?.left ?? 0;
  if (stopping) {
    // The moves under way when the call ended go on: follow them to their end.
    for (const id of running) {
      const m = await follow(c, id, () => {});
      if (m.phase === 'done') moved++;
      say({
        container: m.container,
        to: m.to,
        migration_id: m.id,
        outcome: m.phase,
        error: m.error,
        downtime_ms: m.downtime_ms,
      } as EvacuateEvent__Output);
    }
    // What did not move: the running containers still on the host.
    const still = await unary(c, c.ListContainers, { host }, { timeoutMs: 15_000, what: 'ps' });
    left = still.containers.filter((k) => k.state === 'running').length;
  }
  if (json) {
    if (stopping) out(jsonLine({ event: 'end', moved, left, stopped: true }));
  } else
    out(
      `evacuate ${host}: ${moved} moved, ${left} left on ${host}${stopping ? ' (stopped early)' : ''}; ${host} stays cordoned\n`,
    );
  if (left > 0) process.exitCode = 1;
}
