// migrate --mode auto: the pause a stop-and-copy move would cost, and the mode chosen for a budget.
import assert from 'node:assert/strict';
import {
  chooseMode,
  DEFAULT_FIXED_MS,
  DEFAULT_MS_PER_MIB,
  estimateStopAndCopy,
} from '../../coordinator/modes.js';
import type { MigrationRecord } from '../../coordinator/store.js';

const MIB = 1024 * 1024;

function done(mib: number, downtimeMs: number, from = 'hostA', to = 'hostB', at = 0): MigrationRecord {
  return {
    id: `m${mib}-${at}`,
    container: 'c',
    from,
    to,
    mode: 'stop-and-copy',
    phase: 'done',
    history: [],
    startedMs: at,
    memoryBytes: mib * MIB,
    downtimeMs,
  };
}

describe('migrate --mode auto', () => {
  it('estimates from default figures before any move', () => {
    const e = estimateStopAndCopy(100 * MIB, 'hostA', 'hostB', []);
    assert.equal(e.ms, DEFAULT_FIXED_MS + 100 * DEFAULT_MS_PER_MIB);
    assert.match(e.basis, /no earlier moves/);
  });

  it('fits a fixed part and a part per MiB to earlier moves between the same hosts', () => {
    const earlier = [
      done(64, 428, 'hostA', 'hostB', 1),
      done(1024, 2348, 'hostA', 'hostB', 2),
      done(256, 5000, 'hostC', 'hostD', 3),
    ];
    const e = estimateStopAndCopy(512 * MIB, 'hostA', 'hostB', earlier);
    // 300 ms + 2 ms per MiB through the two hostA -> hostB points.
    assert.ok(Math.abs(e.ms - 1324) < 1, `${e.ms}`);
    assert.match(e.basis, /2 earlier moves between hostA and hostB/);
  });

  it('ignores moves that did not finish or were not stop-and-copy', () => {
    const failed = { ...done(64, 99_999), phase: 'aborted' as const };
    const postcopy = { ...done(64, 1), mode: 'postcopy' as const };
    const e = estimateStopAndCopy(64 * MIB, 'hostA', 'hostB', [failed, postcopy]);
    assert.match(e.basis, /no earlier moves/);
  });

  it('keeps stop-and-copy when its pause fits the budget', () => {
    const c = chooseMode({ maxDowntimeMs: 500, allowPostcopy: true }, 64 * MIB, { ms: 430, basis: 'b' });
    assert.equal(c.mode, 'stop-and-copy');
    assert.match(c.reason, /about 430 ms \(b\), within the 500 ms budget/);
  });

  it('takes pre-copy over the budget where both hosts can track written pages', () => {
    const est = { ms: 2400, basis: 'b' };
    for (const allowPostcopy of [false, true]) {
      const c = chooseMode({ maxDowntimeMs: 500, allowPostcopy }, 1024 * MIB, est, undefined);
      assert.equal(c.mode, 'precopy');
      assert.match(c.reason, /over the 500 ms budget; pre-copy sends the memory while the container runs/);
    }
  });

  it('takes post-copy over the budget only when allowed and pre-copy cannot run, and says why', () => {
    const est = { ms: 2400, basis: 'b' };
    const noSoftDirty = 'hostB: no soft-dirty';
    const c = chooseMode({ maxDowntimeMs: 500, allowPostcopy: true }, 1024 * MIB, est, noSoftDirty);
    assert.equal(c.mode, 'postcopy');
    assert.match(
      c.reason,
      /over the 500 ms budget; pre-copy is not available \(hostB: no soft-dirty\); post-copy allowed/,
    );
    assert.throws(
      () => chooseMode({ maxDowntimeMs: 500, allowPostcopy: false }, 1024 * MIB, est, noSoftDirty),
      /over the 500 ms budget.*pre-copy is not available: hostB: no soft-dirty.*--allow-postcopy/,
    );
  });

  it('without a budget stays with stop-and-copy', () => {
    assert.equal(
      chooseMode({ maxDowntimeMs: 0, allowPostcopy: true }, MIB, { ms: 9e9, basis: 'b' }).mode,
      'stop-and-copy',
    );
  });
});
