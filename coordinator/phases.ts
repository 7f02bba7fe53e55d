// A migration is an explicit state machine. Each phase states what is true
// while a migration is in it; transition() refuses any edge not in NEXT.
// After COMMITTING there is no edge back: the source tree is being (or has
// been) killed, so the only way out is forward to a running target. What the
// coordinator does in each phase is the step table of the migration's mode
// (steps.ts); see docs/design.md for the protocol.

/**
 * How memory moves. A mode is a step table over these phases. stop-and-copy:
 * every page moves while the tree is frozen. postcopy: the tree is frozen
 * only for everything but its memory; pages follow after it runs on the
 * target, which depends on the source until the last one is in. precopy:
 * rounds of memory go while the tree runs (precopying), then stop-and-copy
 * moves only what changed since the last round.
 */
export type Mode = 'stop-and-copy' | 'precopy' | 'postcopy';
export const MODES: readonly Mode[] = ['stop-and-copy', 'precopy', 'postcopy'];

export type Phase =
  /** Nothing frozen. Checking hosts, engine, CPU, space, names. */
  | 'preflight'
  /**
   * Pre-copy: the tree runs on the source; rounds of its memory go to the
   * target (each round what was written since the one before).
   */
  | 'precopying'
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
  /**
   * Post-copy: the target tree runs, its memory pages still arrive from the
   * source, which it depends on until the last one is in. (Post-copy goes
   * transferring -> committing -> committed -> pulling: the restore needs
   * pages, which the source serves only past the commit point.)
   */
  | 'pulling'
  /** Target tree runs: the container lives on the target only. */
  | 'done'
  /**
   * Post-copy, past the commit point: pages could not arrive any more (the
   * source's page server or the path to it died). The target's copy was
   * killed: the container is lost.
   */
  | 'failed'
  /** Undoing: target copy being removed, source tree being unfrozen. */
  | 'aborting'
  /** The container runs on the source as before; the target holds nothing. */
  | 'aborted';

export const NEXT: Record<Phase, readonly Phase[]> = {
  preflight: ['dumping', 'precopying', 'aborting'],
  precopying: ['dumping', 'aborting'],
  dumping: ['transferring', 'aborting'],
  // Post-copy commits before the restore: restoring needs pages the source
  // serves only once it has let its tree go.
  transferring: ['restoring', 'committing', 'aborting'],
  restoring: ['committing', 'aborting'],
  committing: ['committed'],
  committed: ['done', 'pulling', 'failed'],
  pulling: ['done', 'failed'],
  done: [],
  failed: [],
  aborting: ['aborted'],
  aborted: [],
};

export const TERMINAL: readonly Phase[] = ['done', 'aborted', 'failed'];

export function canTransition(from: Phase, to: Phase): boolean {
  return NEXT[from].includes(to);
}

/** Whether a migration in this phase may still be undone (before the commit point). */
export function abortable(p: Phase): boolean {
  return NEXT[p].includes('aborting');
}
