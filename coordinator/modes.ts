// migrate --mode auto: the safest way to move the memory that meets the
// user's pause budget. Stop-and-copy first (a failure before its commit
// point leaves the container where it was); post-copy only when the user
// allows it, since it makes the container depend on its source until the
// last page has arrived. Pre-copy is not available yet.
import { TernError } from '../core/errors.js';
import type { Mode } from './phases.js';
import type { MigrationRecord } from './store.js';

/** What stop-and-copy costs before any earlier move says otherwise (the test machine's figures). */
export const DEFAULT_FIXED_MS = 300;
export const DEFAULT_MS_PER_MIB = 2;
const MIB = 1024 * 1024;
/** Earlier moves the estimate learns from, newest first. */
const HISTORY = 20;

export interface Estimate {
  ms: number;
  /** Where the figure comes from, for the user. */
  basis: string;
}

/**
 * The pause a stop-and-copy move of `memoryBytes` would cost: a fixed part
 * plus a part per MiB, fitted (least squares) to the earlier stop-and-copy
 * moves that finished, preferring those between the same two hosts.
 */
export function estimateStopAndCopy(
  memoryBytes: number,
  from: string,
  to: string,
  earlier: readonly MigrationRecord[],
): Estimate {
  const done = earlier
    .filter((m) => m.mode === 'stop-and-copy' && m.phase === 'done' && m.downtimeMs && m.memoryBytes)
    .sort((a, b) => b.startedMs - a.startedMs);
  const pair = done.filter((m) => m.from === from && m.to === to);
  const pts = (pair.length >= 2 ? pair : done)
    .slice(0, HISTORY)
    .map((m) => [(m.memoryBytes as number) / MIB, m.downtimeMs as number] as const);
  const mib = memoryBytes / MIB;
  if (pts.length === 0)
    return { ms: DEFAULT_FIXED_MS + DEFAULT_MS_PER_MIB * mib, basis: 'no earlier moves: default figures' };
  const n = pts.length;
  const mx = pts.reduce((s, [x]) => s + x, 0) / n;
  const my = pts.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = pts.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const sxy = pts.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  // One size only (or no slope): the default rate around what was seen.
  const slope = sxx > 0 && sxy > 0 ? sxy / sxx : DEFAULT_MS_PER_MIB;
  const fixed = Math.max(0, my - slope * mx);
  const which = pair.length >= 2 ? `between ${from} and ${to}` : 'between any hosts';
  return { ms: fixed + slope * mib, basis: `fitted to ${n} earlier move${n === 1 ? '' : 's'} ${which}` };
}

export interface AutoRequest {
  /** The pause the user accepts (ms); 0: no budget. */
  maxDowntimeMs: number;
  allowPostcopy: boolean;
}

/** The mode `auto` resolves to, and why; throws FAILED_PRECONDITION when no allowed mode fits. */
/**
 * `precopyWhyNot`: why pre-copy cannot run between the two hosts (undefined:
 * it can). Pre-copy comes before post-copy: it pauses the container less
 * than stop-and-copy and, unlike post-copy, leaves it running on the source
 * if anything fails before the commit point.
 */
export function chooseMode(
  req: AutoRequest,
  memoryBytes: number,
  est: Estimate,
  precopyWhyNot?: string,
): { mode: Mode; reason: string } {
  const mib = (memoryBytes / MIB).toFixed(0);
  const about = `stop-and-copy of ${mib} MiB would pause about ${Math.round(est.ms)} ms (${est.basis})`;
  if (!req.maxDowntimeMs) return { mode: 'stop-and-copy', reason: `no pause budget given; ${about}` };
  if (est.ms <= req.maxDowntimeMs)
    return { mode: 'stop-and-copy', reason: `${about}, within the ${req.maxDowntimeMs} ms budget` };
  if (!precopyWhyNot)
    return {
      mode: 'precopy',
      reason: `${about}, over the ${req.maxDowntimeMs} ms budget; pre-copy sends the memory while the container runs and pauses it only for what changed since`,
    };
  if (req.allowPostcopy)
    return {
      mode: 'postcopy',
      reason: `${about}, over the ${req.maxDowntimeMs} ms budget; pre-copy is not available (${precopyWhyNot}); post-copy allowed`,
    };
  throw new TernError(
    'FAILED_PRECONDITION',
    `${about}, over the ${req.maxDowntimeMs} ms budget, and no safer mode would meet it (pre-copy is not available: ${precopyWhyNot}): allow post-copy with --allow-postcopy, or raise --max-downtime`,
  );
}
