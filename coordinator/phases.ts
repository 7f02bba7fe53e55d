// A migration is an explicit state machine. Each phase states what is true
// while a migration is in it; transition() refuses any edge not in NEXT.
// After COMMITTING there is no edge back: the source tree is being (or has
// been) killed, so the only way out is forward to a running target. What the
// coordinator does in each phase is the step table of the migration's mode
// (steps.ts); see docs/design.md for the protocol.

/** How memory moves. A mode is a step table over these phases. */
export type Mode = 'stop-and-copy';
export const MODES: readonly Mode[] = ['stop-and-copy'];

export type Phase =
  /** Nothing frozen. Checking hosts, engine, CPU, space, names. */
  | 'preflight'
  /** Source is freezing and dumping; the tree exists there, frozen or running. */
  | 'dumping'
  /** Source tree frozen and held at post-dump; images complete on the source. */
  | 'transferring'
  /** Target holds a verified image set and rootfs; source still frozen. */
  | 'restoring'
  /** Durable decision to commit: target holds a stopped tree; source is told to kill. */
  | 'committing'
  /** Source confirmed its tree is gone; target tree exists, stopped. */
  | 'committed'
  /** Target tree runs: the container lives on the target only. */
  | 'done'
  /** Undoing: target copy being removed, source tree being unfrozen. */
  | 'aborting'
  /** The container runs on the source as before; the target holds nothing. */
  | 'aborted';

export const NEXT: Record<Phase, readonly Phase[]> = {
  preflight: ['dumping', 'aborting'],
  dumping: ['transferring', 'aborting'],
  transferring: ['restoring', 'aborting'],
  restoring: ['committing', 'aborting'],
  committing: ['committed'],
  committed: ['done'],
  done: [],
  aborting: ['aborted'],
  aborted: [],
};

export const TERMINAL: readonly Phase[] = ['done', 'aborted'];

export function canTransition(from: Phase, to: Phase): boolean {
  return NEXT[from].includes(to);
}

/** Whether a migration in this phase may still be undone (before the commit point). */
export function abortable(p: Phase): boolean {
  return NEXT[p].includes('aborting');
}
