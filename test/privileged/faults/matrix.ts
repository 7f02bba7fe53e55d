/** leader: with coordinators on etcd, whichever coordinator leads when the case starts. */
export type Role = 'source' | 'target' | 'coordinator' | 'leader';
export type Where = 'source' | 'target';
/** Where the container must run afterwards; 'lost': nowhere, the migration failed and says so (post-copy only). */
export type Expect = Where | 'lost';

export interface Case {
  /** fault point (as armed in a faults file) or external action */
  point: string;
  kind:
    | 'fail'
    | 'crash'
    | 'corrupt'
    | 'kill'
    | 'sigkill'
    | 'link-down'
    | 'disk-full'
    | 'kill-pages'
    | 'etcd-kill'
    | 'quorum';
  role: Role;
  /** Where the container must run afterwards. */
  expect: Expect;
  /** The migration's mode (default stop-and-copy). */
  mode?: 'postcopy';
  fast?: boolean;
  /** A second fault armed together with the first, e.g. one that makes the migration abort. */
  with?: { point: string; action: 'fail' | 'crash'; role: Role };
  /**
   * A store fault the runner keeps retrying (past the commit point, or while
   * recording an abort): the fault stays armed until the store has refused
   * this many writes, then it is disarmed so the next try succeeds.
   */
  refusals?: number;
  /**
   * link-down: how long the link stays down, against the receiver's stall
   * deadline; 'lease': past the leader's etcd lease, well under the stall deadline.
   */
  cut?: 'short' | 'long' | 'lease';
  /** etcd-kill, quorum: how many etcd members die. */
  members?: number;
  /** quorum: the members die before `migrate` runs, which must refuse to start. */
  beforeStart?: boolean;
  /** MiB the workload holds (default WORKLOAD_MIB); more makes the transfer last longer. */
  memMiB?: number;
  /** The migration must have ended within this many ms of its start (a failure reported late is a failure). */
  withinMs?: number;
}

/** A cut well under the stall deadline: the stream picks up again and the move finishes. */
export const SHORT_CUT_MS = 2000;
/** How far past the stall deadline a long cut lasts. */
export const LONG_CUT_EXTRA_MS = 10_000;
/** After a long cut the source's tree runs again within stall + cut + this. */
export const RESUME_SLACK_MS = 60_000;
/**
 * The link-down cases move 1 GiB of incompressible memory: about 7 s of
 * transferring on the testbed, so a cut started once the phase is seen lands
 * inside the transfer with seconds to spare. The other cases that strike
 * while pages stream use it too.
 */
export const LINK_MIB = 1024;
/**
 * Post-copy cases that strike while pages still flow after the resume move
 * 2 GiB: about 3 s of pulling on the testbed.
 */
export const PULL_MIB = 2048;

export const MATRIX: Case[] = [
  { point: 'prepare', kind: 'fail', role: 'target', expect: 'source' },
  { point: 'prepare', kind: 'crash', role: 'target', expect: 'source' },
  { point: 'after-dump', kind: 'fail', role: 'source', expect: 'source' },
  { point: 'after-dump', kind: 'crash', role: 'source', expect: 'source' },
  { point: 'transfer', kind: 'fail', role: 'source', expect: 'source' },
  { point: 'transfer', kind: 'crash', role: 'source', expect: 'source', fast: true },
  { point: 'corrupt-chunk', kind: 'corrupt', role: 'source', expect: 'source', fast: true },
  // The target's page server dies while the source's dump sends it pages.
  { point: 'kill-page-server', kind: 'kill', role: 'target', expect: 'source' },
  { point: 'restore', kind: 'fail', role: 'target', expect: 'source' },
  { point: 'restore', kind: 'crash', role: 'target', expect: 'source' },
  { point: 'criu-restore', kind: 'fail', role: 'target', expect: 'source' },
  { point: 'criu-dump', kind: 'fail', role: 'source', expect: 'source' },
  { point: 'after-restore', kind: 'fail', role: 'target', expect: 'source' },
  { point: 'after-restore', kind: 'crash', role: 'target', expect: 'source' },
  { point: 'state-dir', kind: 'disk-full', role: 'target', expect: 'source' },
  { point: 'before-committing', kind: 'fail', role: 'coordinator', expect: 'source' },
  { point: 'before-committing', kind: 'crash', role: 'coordinator', expect: 'source' },
  { point: 'after-committing', kind: 'fail', role: 'coordinator', expect: 'target' },
  { point: 'after-committing', kind: 'crash', role: 'coordinator', expect: 'target', fast: true },
  { point: 'commit', kind: 'fail', role: 'source', expect: 'target', fast: true },
  { point: 'commit', kind: 'crash', role: 'source', expect: 'target' },
  { point: 'before-committed', kind: 'crash', role: 'coordinator', expect: 'target' },
  { point: 'after-committed', kind: 'crash', role: 'coordinator', expect: 'target' },
  { point: 'resume', kind: 'fail', role: 'target', expect: 'target' },
  { point: 'resume', kind: 'crash', role: 'target', expect: 'target', fast: true },
  // While the dump streams memory pages to the target's page server: 1 GiB,
  // so that the dump lasts a few seconds and the kill, sent once the harness
  // sees the dumping phase, lands in it (with the default size the whole
  // move can pass its commit point first).
  { point: 'mid-stream', kind: 'sigkill', role: 'source', expect: 'source', memMiB: LINK_MIB },
  { point: 'mid-stream', kind: 'sigkill', role: 'target', expect: 'source', memMiB: LINK_MIB },
  { point: 'mid-stream', kind: 'sigkill', role: 'coordinator', expect: 'source', memMiB: LINK_MIB },
  // The store itself refuses to record a phase. Up to and including
  // committing the refused record leaves the migration abortable: it aborts
  // and the container runs on the source. A refused committed or done is
  // retried past the commit point until the store takes it.
  { point: 'store-dumping', kind: 'fail', role: 'coordinator', expect: 'source' },
  { point: 'store-transferring', kind: 'fail', role: 'coordinator', expect: 'source' },
  { point: 'store-restoring', kind: 'fail', role: 'coordinator', expect: 'source' },
  // The exactly-once hole that persist-then-act closes: the source must not
  // be told to kill before committing is durable.
  { point: 'store-committing', kind: 'fail', role: 'coordinator', expect: 'source', fast: true },
  { point: 'store-committed', kind: 'fail', role: 'coordinator', expect: 'target', refusals: 2 },
  { point: 'store-done', kind: 'fail', role: 'coordinator', expect: 'target', refusals: 2 },
  // Recording the abort itself is refused: the agents are told to abort
  // anyway (after the third refusal), so the container does not stay frozen.
  {
    point: 'store-aborting',
    kind: 'fail',
    role: 'coordinator',
    expect: 'source',
    refusals: 3,
    with: { point: 'restore', action: 'fail', role: 'target' },
    fast: true,
  },
  {
    point: 'store-aborted',
    kind: 'fail',
    role: 'coordinator',
    expect: 'source',
    refusals: 2,
    with: { point: 'restore', action: 'fail', role: 'target' },
  },
  // The source's underlay link cut in the middle of the transfer. A cut well
  // under the receiver's stall deadline only pauses the stream: the move
  // finishes. A cut past it ends the stream (the stall deadline, or the
  // channel's keepalive if that gives up first): the move aborts, and the
  // source's tree runs again once the source is reachable (the coordinator
  // tells it to abort when its heartbeats come back).
  {
    point: 'mid-stream',
    kind: 'link-down',
    role: 'source',
    expect: 'target',
    cut: 'short',
    memMiB: LINK_MIB,
  },
  {
    point: 'mid-stream',
    kind: 'link-down',
    role: 'source',
    expect: 'source',
    cut: 'long',
    memMiB: LINK_MIB,
  },
  // Post-copy. Before the resume a failure still leaves the container running
  // on the source. After it the target depends on the source until the last
  // page: its agent restarted or the path cut for a moment, the pages keep
  // coming and the move finishes; the source's page server killed, the pages
  // can never arrive, and the migration must end failed with the container
  // lost, said so, and nothing left behind anywhere.
  { point: 'receive', kind: 'fail', role: 'target', expect: 'source', mode: 'postcopy' },
  // The target's restore has started (it waits for its first pages) when the
  // coordinator fails to record the commit: the move aborts, the half-done
  // restore is killed, and the source's tree runs on without serving a page.
  { point: 'before-committing', kind: 'fail', role: 'coordinator', expect: 'source', mode: 'postcopy' },
  { point: 'pulling', kind: 'sigkill', role: 'target', expect: 'target', mode: 'postcopy', memMiB: PULL_MIB },
  {
    point: 'pulling',
    kind: 'link-down',
    role: 'source',
    expect: 'target',
    cut: 'short',
    mode: 'postcopy',
    memMiB: PULL_MIB,
  },
  {
    point: 'pulling',
    kind: 'kill-pages',
    role: 'source',
    expect: 'lost',
    mode: 'postcopy',
    memMiB: PULL_MIB,
  },
  // The page stream ends past the commit point while the target's CRIU
  // restores (its lazy-pages daemon killed when the restore is asked for,
  // the restore waiting for its first pages): CRIU cannot finish that
  // restore and may wait forever; the restore is stopped and the loss
  // reported at once.
  {
    point: 'kill-lazy-pages',
    kind: 'kill',
    role: 'target',
    expect: 'lost',
    mode: 'postcopy',
    withinMs: 60_000,
  },
];

/**
 * Coordinators on etcd (testbed up --ha): the leader dies or is cut off at
 * each step, etcd loses a member or its quorum. Before the commit point the
 * container runs on the source, after it on the target; the coordinator
 * that ends the migration is whichever leads by then.
 */
export const HA_MATRIX: Case[] = [
  { point: 'after-dumping', kind: 'crash', role: 'leader', expect: 'source' },
  { point: 'after-transferring', kind: 'crash', role: 'leader', expect: 'source', fast: true },
  { point: 'before-committing', kind: 'crash', role: 'leader', expect: 'source' },
  { point: 'after-committing', kind: 'crash', role: 'leader', expect: 'target' },
  { point: 'after-committed', kind: 'crash', role: 'leader', expect: 'target' },
  { point: 'mid-stream', kind: 'sigkill', role: 'leader', expect: 'source', memMiB: LINK_MIB },
  // The leader cut off from etcd and the agents until its lease runs out: it stops, the other leads.
  {
    point: 'mid-stream',
    kind: 'link-down',
    role: 'leader',
    expect: 'source',
    cut: 'lease',
    memMiB: LINK_MIB,
  },
  // One member of three dies: etcd keeps its quorum, the move goes on.
  { point: 'mid-stream', kind: 'etcd-kill', role: 'leader', expect: 'target', members: 1, memMiB: LINK_MIB },
  // Two of three die while the move runs: no one can lead or record; once they are back the move aborts.
  { point: 'mid-stream', kind: 'quorum', role: 'leader', expect: 'source', members: 2, memMiB: LINK_MIB },
  // Two of three are dead when `migrate` runs: it is refused and nothing starts.
  { point: 'before-start', kind: 'quorum', role: 'leader', expect: 'source', members: 2, beforeStart: true },
];

/** A cut of the leader's link past its etcd lease (5 s on the testbed): it must stop leading. */
export const LEASE_CUT_MS = 12_000;

/** How long etcd stays without its quorum in the quorum cases. */
export const QUORUM_OUTAGE_MS = 8000;

export const FULL = process.env.TERN_FAULT_MATRIX === 'full';
export const NAME = 'faulty';
export const HOSTS = ['hostA', 'hostB'];
export const WORKLOAD_MIB = 192;
