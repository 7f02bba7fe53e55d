// Pre-copy: when to stop copying memory while the container runs. Each round
// (`criu pre-dump --track-mem`) sends the pages written since the round
// before; the final dump, with the tree frozen, sends what changed since the
// last round. More rounds shrink that last set until the workload dirties
// memory as fast as rounds can send it. The rule is P.Haul's: stop when
// little is left, when a round no longer shrinks the dirty set, or at a
// round limit.

export interface PrecopyRules {
  /** Never more rounds than this. */
  maxRounds: number;
  /** A round that sent at most this many bytes leaves little for the final dump: stop. */
  smallBytes: number;
  /** A round must send less than this fraction of the round before, or another does not pay. */
  shrink: number;
}

export const DEFAULT_PRECOPY: PrecopyRules = {
  maxRounds: 6,
  smallBytes: 8 << 20,
  shrink: 0.8,
};

/** After the rounds so far (bytes each sent, first first): another, or the final dump, and why. */
export function nextRound(
  sent: readonly number[],
  rules: PrecopyRules = DEFAULT_PRECOPY,
): { again: boolean; why: string } {
  const n = sent.length;
  if (n === 0) return { again: true, why: 'first round: the whole memory' };
  const last = sent[n - 1];
  if (last <= rules.smallBytes)
    return {
      again: false,
      why: `round ${n} sent ${mib(last)}, at most ${mib(rules.smallBytes)}: little is left`,
    };
  if (n >= rules.maxRounds) return { again: false, why: `${n} rounds, the limit` };
  if (n >= 2) {
    const before = sent[n - 2];
    if (last >= before * rules.shrink)
      return {
        again: false,
        why: `round ${n} sent ${mib(last)} after ${mib(before)}: the dirty set no longer shrinks`,
      };
  }
  return { again: true, why: `round ${n} sent ${mib(last)}` };
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}
