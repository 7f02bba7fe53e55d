#!/usr/bin/env node
// tern: everything but `migrate`.
import { parseArgs } from 'node:util';
import { parseBytes } from '../kernel/cgroups.js';
import { checkHealth } from '../proto/health.js';
import { unary } from '../proto/rpc.js';
import { CA_USAGE, caCommand } from './ca.js';
import {
  connect,
  coordinatorAddress,
  fail,
  follow,
  operatorCerts,
  quietOnClosedPipe,
  summary,
  table,
} from './cli.js';
import { evacuateCommand } from './evacuate.js';
import { containerJson, hostJson, jsonLine, migrationJson } from './json.js';

const USAGE = `usage: tern [--coordinator ADDR] COMMAND
  hosts [--json]                          list hosts and whether they are up
  ps [--host H] [--json]                  list containers: name, host, state, address
  run --host H --name N [--ip A/P] [--rootfs DIR] [--hostname X] [--env K=V]... [--cap-add CAP]... [--no-seccomp]
      [--memory SIZE] [--pids N] -- CMD...
                                          containers get Docker's default capabilities less MKNOD,
                                          no_new_privs and a masked /proc; --cap-add grants one more;
                                          --memory (e.g. 256m) and --pids limit the container's own
                                          cgroup, and the limits move with it
  exec <ctr> [--timeout-ms N] -- CMD...   run CMD inside the container; stdout and exit code pass through
  stop <ctr>                              stop and remove a container
  cordon HOST | uncordon HOST             a cordoned host takes no new containers or incoming migrations
  evacuate HOST [--json]                  cordon HOST and move every container off it, to the hosts with the
                                          most free memory; Ctrl-C stops starting new moves
  health [--json]                         the coordinator's gRPC health (exit 0 when SERVING)
  migrations [--json]                     list migrations under way and the last 1000 ended
  migration <id> [--json]                 one migration with its phase timeline (--json: the record as it is now)
  migration cancel <id>                   abort a migration before its commit point
${CA_USAGE}
The coordinator is reached at --coordinator, $TERN_COORDINATOR, or unix:///run/tern/coordinator.sock;
coordinators that take turns on etcd are given as a list, IP:PORT,IP:PORT (the leader answers).
Over TCP, tern presents the operator certificate $TERN_PKI/operator/$TERN_OPERATOR.crt
(defaults: /etc/tern/pki, admin); the local socket needs none.`;

function positiveInt(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw new Error(`${flag} takes a whole number above 0, not ${JSON.stringify(text)}`);
  return Number(text);
}

type Values = Record<string, string | boolean | string[] | undefined>;
/** Parses a subcommand's flags; `client()` connects to --coordinator given before or after the subcommand. */
function args(
  argv: string[],
  options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>,
  coordFlag?: string,
) {
  const dd = argv.indexOf('--');
  const head = dd >= 0 ? argv.slice(0, dd) : argv;
  const rest = dd >= 0 ? argv.slice(dd + 1) : [];
  const parsed = parseArgs({
    args: head,
    options: { coordinator: { type: 'string' }, ...options },
    allowPositionals: true,
  });
  const values = parsed.values as Values;
  const client = () => connect((values.coordinator as string | undefined) ?? coordFlag);
  return { values, positionals: parsed.positionals, rest, client };
}

async function main() {
  const argv = process.argv.slice(2);
  let coordFlag: string | undefined;
  if (argv[0] === '--coordinator') {
    coordFlag = argv[1];
    argv.splice(0, 2);
  }
  const cmd = argv.shift();
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const out = (s: string) => process.stdout.write(s);
  try {
    switch (cmd) {
      case 'ca':
        await caCommand(argv, out);
        return;
      case 'hosts': {
        const a = args(argv, { json: { type: 'boolean' } }, coordFlag);
        const c = a.client();
        const r = await unary(c, c.ListHosts, {}, { timeoutMs: 10_000, what: 'hosts' });
        if (a.values.json) {
          out(jsonLine(r.hosts.map(hostJson)));
          return;
        }
        const rows = [['HOST', 'STATE', 'ADDRESS', 'CRIU', 'CONTAINERS']];
        for (const h of r.hosts)
          rows.push([
            h.name,
            `${h.up ? 'up' : 'down'}${h.cordoned ? ', cordoned' : ''}`,
            h.address,
            h.criu_version,
            String(h.containers),
          ]);
        out(table(rows));
        return;
      }
      case 'ps': {
        const a = args(argv, { host: { type: 'string' }, json: { type: 'boolean' } }, coordFlag);
        const c = a.client();
        const r = await unary(
          c,
          c.ListContainers,
          { host: (a.values.host as string) ?? '' },
          { timeoutMs: 15_000, what: 'ps' },
        );
        if (a.values.json) {
          out(jsonLine(r.containers.map(containerJson)));
          return;
        }
        const rows = [['NAME', 'HOST', 'STATE', 'ADDRESS']];
        for (const k of r.containers) rows.push([k.name, k.host, k.state, k.ip]);
        out(table(rows));
        return;
      }
      case 'run': {
        const a = args(
          argv,
          {
            host: { type: 'string' },
            name: { type: 'string' },
            ip: { type: 'string' },
            rootfs: { type: 'string' },
            hostname: { type: 'string' },
            env: { type: 'string', multiple: true },
            'cap-add': { type: 'string', multiple: true },
            'no-seccomp': { type: 'boolean' },
            memory: { type: 'string' },
            pids: { type: 'string' },
          },
          coordFlag,
        );
        const v = a.values as Record<string, string | string[] | undefined>;
        if (!v.host || !v.name || a.rest.length === 0)
          throw new Error('usage: tern run --host H --name N [--ip A/P] [--rootfs DIR] -- CMD...');
        const c = a.client();
        const k = await unary(
          c,
          c.RunContainer,
          {
            host: v.host as string,
            name: v.name as string,
            command: a.rest,
            ip: (v.ip as string) ?? '',
            rootfs: (v.rootfs as string) ?? '',
            hostname: (v.hostname as string) ?? '',
            env: (v.env as string[]) ?? [],
            cap_add: (v['cap-add'] as string[]) ?? [],
            no_seccomp: a.values['no-seccomp'] === true,
            memory_limit: v.memory ? String(parseBytes(v.memory as string)) : '0',
            pids_limit: v.pids ? positiveInt('--pids', v.pids as string) : 0,
          },
          { timeoutMs: 130_000, what: 'run' },
        );
        out(`${k.name} running on ${k.host} at ${k.ip} (pid ${k.pid})\n`);
        return;
      }
      case 'exec': {
        const a = args(argv, { 'timeout-ms': { type: 'string' } }, coordFlag);
        if (a.positionals.length !== 1 || a.rest.length === 0)
          throw new Error('usage: tern exec <ctr> -- CMD...');
        const c = a.client();
        const timeout = Number(a.values['timeout-ms'] ?? 60_000);
        const r = await unary(
          c,
          c.ExecContainer,
          { name: a.positionals[0], command: a.rest, timeout_ms: timeout },
          { timeoutMs: timeout + 10_000, what: 'exec' },
        );
        process.stdout.write(r.stdout);
        process.stderr.write(r.stderr);
        process.exitCode = r.exit_code;
        c.close();
        return;
      }
      case 'stop': {
        const a = args(argv, {}, coordFlag);
        if (a.positionals.length !== 1) throw new Error('usage: tern stop <ctr>');
        const c = a.client();
        await unary(c, c.StopContainer, { name: a.positionals[0] }, { timeoutMs: 70_000, what: 'stop' });
        out(`${a.positionals[0]} stopped\n`);
        return;
      }
      case 'cordon':
      case 'uncordon': {
        const a = args(argv, {}, coordFlag);
        if (a.positionals.length !== 1) throw new Error(`usage: tern ${cmd} HOST`);
        const c = a.client();
        const h = await unary(
          c,
          c.Cordon,
          { host: a.positionals[0], cordoned: cmd === 'cordon' },
          { timeoutMs: 10_000, what: cmd },
        );
        out(
          h.cordoned
            ? `${h.name} cordoned: no new containers or incoming migrations (tern uncordon ${h.name})\n`
            : `${h.name} open again\n`,
        );
        return;
      }
      case 'evacuate': {
        const a = args(argv, { json: { type: 'boolean' } }, coordFlag);
        if (a.positionals.length !== 1) throw new Error('usage: tern evacuate HOST [--json]');
        await evacuateCommand(a.client(), a.positionals[0], a.values.json === true, out);
        return;
      }
      case 'health': {
        // The coordinator's gRPC health service, as a monitoring probe would ask it.
        const a = args(argv, { json: { type: 'boolean' } }, coordFlag);
        const address = coordinatorAddress((a.values.coordinator as string | undefined) ?? coordFlag);
        const status = await checkHealth(address, operatorCerts(), { role: 'coordinator' });
        if (a.values.json) out(jsonLine({ coordinator: address, status }));
        else out(`coordinator ${address}: ${status}\n`);
        if (status !== 'SERVING') process.exitCode = 1;
        return;
      }
      case 'migrations': {
        const a = args(argv, { json: { type: 'boolean' } }, coordFlag);
        const c = a.client();
        const r = await unary(c, c.ListMigrations, {}, { timeoutMs: 10_000, what: 'migrations' });
        if (a.values.json) {
          out(jsonLine(r.migrations.map(migrationJson)));
          return;
        }
        const rows = [['ID', 'CONTAINER', 'FROM', 'TO', 'PHASE', 'DOWNTIME', 'ERROR']];
        for (const m of r.migrations)
          rows.push([
            m.id,
            m.container,
            m.from,
            m.to,
            m.phase,
            m.phase === 'done' ? `${m.downtime_ms} ms` : '-',
            m.error,
          ]);
        out(table(rows));
        return;
      }
      case 'migration': {
        const a = args(argv, { json: { type: 'boolean' } }, coordFlag);
        if (a.positionals[0] === 'cancel') {
          if (a.positionals.length !== 2) throw new Error('usage: tern migration cancel <id>');
          const c = a.client();
          await unary(c, c.CancelMigration, { id: a.positionals[1] }, { timeoutMs: 10_000, what: 'cancel' });
          const m = await follow(c, a.positionals[1], () => {});
          out(
            `migration ${m.id}: ${m.phase}${m.phase === 'aborted' ? `; ${m.container} keeps running on ${m.from}` : ''}\n`,
          );
          return;
        }
        if (a.positionals.length !== 1)
          throw new Error('usage: tern migration <id> | tern migration cancel <id>');
        const c = a.client();
        if (a.values.json) {
          // The whole record as it is now; a migration still running is not waited for.
          const m = await unary(
            c,
            c.GetMigration,
            { id: a.positionals[0] },
            { timeoutMs: 10_000, what: 'migration' },
          );
          out(jsonLine(migrationJson(m)));
          return;
        }
        const m = await follow(c, a.positionals[0], (l) => out(`${l}\n`));
        out(m.phase === 'done' ? `${summary(m)}\n` : `phase ${m.phase}${m.error ? `: ${m.error}` : ''}\n`);
        return;
      }
      default:
        throw new Error(`unknown command ${cmd}\n${USAGE}`);
    }
  } catch (e) {
    fail('tern', e);
  }
}

quietOnClosedPipe();
void main();
