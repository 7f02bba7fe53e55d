#!/usr/bin/env node
// migrate --from hostA --to hostB <ctr>
import { parseArgs } from 'node:util';
import { errorMessage } from '../core/errors.js';
import type { Migration__Output } from '../proto/index.js';
import { unary } from '../proto/rpc.js';
import { connect, fail, follow, quietOnClosedPipe, summary } from './cli.js';
import { dryRunJson, dryRunText, jsonLine, migrationJson } from './json.js';
import { PageProgress } from './progress.js';

const USAGE = `usage: migrate [--from HOST] --to HOST [--mode stop-and-copy|precopy|postcopy|auto]
               [--max-downtime MS [--allow-postcopy]] [--dry-run] [--json] [--coordinator ADDR] CONTAINER

  --mode stop-and-copy  (default) every memory page moves while the container is frozen:
                        the pause grows with its memory, and until the commit point any
                        failure leaves it running on the source.
  --mode precopy        rounds of memory go to the target while the container runs (each
                        round what was written since the one before, until little is left
                        or the rounds stop shrinking); then stop-and-copy moves only what
                        changed since the last. As safe as stop-and-copy. Needs the kernel's
                        soft-dirty page tracking on both hosts (criu check --feature
                        mem_dirty_track); where it is missing the move is refused, saying so.
  --mode postcopy       the container is frozen only while everything but its memory moves;
                        it runs on the target at once and its pages follow, on demand and
                        in the background. The risk: from the resume until the last page
                        has arrived (phase "pulling") the container depends on the source
                        host. If the source's page server, the source host or the path
                        between them dies then, the container cannot go on: tern kills the
                        target's copy and reports the migration failed, the container lost.
  --mode auto           (the default with --max-downtime) the safest mode whose pause fits
                        the budget: stop-and-copy if its estimated pause (from the memory
                        size and earlier moves) is within --max-downtime MS; else pre-copy
                        where both hosts support it; else post-copy, but only with
                        --allow-postcopy; else the move is refused. The chosen mode and why
                        are printed first.
  --dry-run             freeze nothing: check everything that can be known before (both agents,
                        CRIU and kernel versions, CPU, space, the name and address free on the
                        target, files and processes of the container CRIU would refuse or leave
                        behind) and print each finding with what to do. Exit 0 when the move
                        would go ahead, 3 when it would be refused. Real moves check the same first.
  --json                one JSON object per line instead of text: {"event":"started",...},
                        {"event":"phase",...} for each phase entered, {"event":"retry",...}
                        past the commit point, and {"event":"end",...} with the whole
                        migration record (README: JSON output).`;

async function main() {
  let values: {
    from?: string;
    to?: string;
    mode?: string;
    'max-downtime'?: string;
    'allow-postcopy'?: boolean;
    json?: boolean;
    'dry-run'?: boolean;
    coordinator?: string;
    help?: boolean;
  };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        mode: { type: 'string' },
        'max-downtime': { type: 'string' },
        'allow-postcopy': { type: 'boolean' },
        json: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        coordinator: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    }));
  } catch (e) {
    return fail('migrate', `${(e as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (positionals.length !== 1 || !values.to) return fail('migrate', USAGE);
  // --json: one JSON object per line: the migration as started, each phase
  // entered (and each retry past the commit point), then the final record.
  const json = values.json === true;
  const say = (line: string, obj: object) => process.stdout.write(json ? jsonLine(obj) : `${line}\n`);
  const failWith = (e: unknown): never => {
    if (json) process.stdout.write(jsonLine({ event: 'error', error: errorMessage(e) }));
    return fail('migrate', e);
  };
  const budget = values['max-downtime'];
  if (budget !== undefined && !/^[1-9]\d*$/.test(budget))
    return fail(
      'migrate',
      `--max-downtime takes milliseconds, a whole number above 0, not ${JSON.stringify(budget)}`,
    );
  const mode = values.mode ?? (budget !== undefined ? 'auto' : '');
  if (mode !== 'auto' && (budget !== undefined || values['allow-postcopy']))
    return fail('migrate', '--max-downtime and --allow-postcopy go with --mode auto');
  const client = connect(values.coordinator);
  const request = {
    container: positionals[0],
    from: values.from ?? '',
    to: values.to,
    mode,
    max_downtime_ms: Number(budget ?? 0),
    allow_postcopy: values['allow-postcopy'] === true,
  };
  if (values['dry-run']) {
    const r = await unary(client, client.DryRun, request, { timeoutMs: 120_000, what: 'dry run' }).catch(
      failWith,
    );
    client.close();
    process.stdout.write(json ? jsonLine(dryRunJson(r)) : dryRunText(positionals[0], values.to, r));
    // 3: the move would be refused (exit 1 stays for a dry run that could not run).
    if (!r.ok) process.exitCode = 3;
    return;
  }
  let m: Migration__Output;
  try {
    m = await unary(client, client.StartMigration, request, { timeoutMs: 60_000, what: 'migrate' });
  } catch (e) {
    return failWith(e);
  }
  say(`migration ${m.id}: ${m.container} ${m.from} -> ${m.to}`, {
    event: 'started',
    migration: m.id,
    container: m.container,
    from: m.from,
    to: m.to,
    mode: m.mode,
    modeReason: m.mode_reason || undefined,
  });
  // Ctrl-C asks the coordinator to abort; it refuses after the commit point,
  // and either way we follow the migration to its end.
  const id = m.id;
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    say('cancelling (Ctrl-C again to stop watching)', { event: 'cancelling', migration: id });
    unary(client, client.CancelMigration, { id }, { timeoutMs: 10_000, what: 'cancel' }).catch((e) =>
      say(`cannot cancel: ${(e as Error).message}`, {
        event: 'cancel-refused',
        migration: id,
        error: (e as Error).message,
      }),
    );
  });
  // On a terminal, a progress bar while memory pages flow; else one line per phase.
  const bar = !json && process.stdout.isTTY ? new PageProgress() : undefined;
  const end = await follow(
    client,
    m.id,
    (line, e) => {
      bar?.stop();
      say(line, e);
    },
    undefined,
    bar ? (u) => bar.update(u) : undefined,
  ).catch(failWith);
  bar?.stop();
  client.close();
  if (json) process.stdout.write(jsonLine({ event: 'end', ...migrationJson(end) }));
  if (end.phase === 'done') {
    if (!json) process.stdout.write(`${summary(end)}\n`);
    return;
  }
  const where =
    end.phase === 'aborted'
      ? `; ${end.container} keeps running on ${end.from}`
      : end.phase === 'failed'
        ? ''
        : ` (phase ${end.phase})`;
  fail('migrate', `${end.error || 'migration did not complete'}${where}`);
}

quietOnClosedPipe();
void main();
