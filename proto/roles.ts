// Who may call what (proto/tls.ts enforces it before any handler runs).
// Agents take every call from the coordinator only; peers reach each other
// on the data channel with a migration's credential, never here. The
// coordinator takes registrations, heartbeats and the image relay from
// agents (the handler also checks that an agent speaks for its own host),
// and user operations from operators' certificates or its local socket.
import { healthPolicy } from './health.js';
import type { Policy } from './tls.js';

const COORDINATOR_ONLY = ['coordinator'] as const;

export const AGENT_POLICY: Policy = {
  ...Object.fromEntries(
    [
      'Check',
      'ListContainers',
      'RunContainer',
      'StopContainer',
      'Exec',
      'Estimate',
      'Inspect',
      'CheckTarget',
      'PrepareSource',
      'ReceiveRootfs',
      'DumpAndHold',
      'PreDump',
      'DumpProgress',
      'ReadImages',
      'PrepareTarget',
      'ReceiveImages',
      'RestoreStopped',
      'Resume',
      'Commit',
      'PagesStatus',
      'Abort',
    ].map((m) => [m, COORDINATOR_ONLY]),
  ),
  // Health: the coordinator, and a probe with an operator certificate.
  ...healthPolicy(['coordinator', 'operator']),
};

const AGENTS = ['agent'] as const;
const USERS = ['operator', 'local'] as const;

export const COORDINATOR_POLICY: Policy = {
  RegisterHost: AGENTS,
  Heartbeat: AGENTS,
  PullImages: AGENTS,
  ListHosts: USERS,
  ListContainers: USERS,
  RunContainer: USERS,
  StopContainer: USERS,
  ExecContainer: USERS,
  StartMigration: USERS,
  WatchMigration: USERS,
  GetMigration: USERS,
  CancelMigration: USERS,
  ListMigrations: USERS,
  Cordon: USERS,
  Evacuate: USERS,
  DryRun: USERS,
  ...healthPolicy([...USERS, ...AGENTS]),
};
