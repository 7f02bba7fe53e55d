import assert from 'node:assert/strict';
import { abortable, canTransition, type Mode, NEXT, type Phase, TERMINAL } from '../../coordinator/phases.js';
import { stepsFor } from '../../coordinator/steps.js';

const ALL: Phase[] = [
  'preflight',
  'precopying',
  'dumping',
  'transferring',
  'restoring',
  'committing',
  'committed',
  'pulling',
  'done',
  'failed',
  'aborting',
  'aborted',
];
/** Phases before the commit point, in order. */
const PRE_COMMIT: Phase[] = ['preflight', 'dumping', 'transferring', 'restoring'];
// precopying (between preflight and dumping, pre-copy only) is checked on its own in canTransition.

describe('phases', () => {
  describe('the transition table', () => {
    it('lists every phase exactly once', () => {
      assert.deepEqual(Object.keys(NEXT).sort(), [...ALL].sort());
    });

    it('only names known phases as targets, without duplicates', () => {
      for (const p of ALL) {
        for (const q of NEXT[p]) assert.ok(ALL.includes(q), `${p} -> ${q}`);
        assert.equal(new Set(NEXT[p]).size, NEXT[p].length, p);
      }
    });

    it('has no self loops', () => {
      for (const p of ALL) assert.ok(!NEXT[p].includes(p), p);
    });

    it('terminal phases are done, aborted and failed, with no edge out', () => {
      assert.deepEqual([...TERMINAL].sort(), ['aborted', 'done', 'failed']);
      for (const p of TERMINAL) assert.deepEqual(NEXT[p], [], p);
    });

    it('the happy path goes forward one step at a time', () => {
      const path: Phase[] = [...PRE_COMMIT, 'committing', 'committed', 'done'];
      for (let i = 0; i + 1 < path.length; i++) {
        assert.ok(canTransition(path[i], path[i + 1]), `${path[i]} -> ${path[i + 1]}`);
      }
    });

    it('committing and committed never lead back to aborting or an earlier phase', () => {
      const backwards: Phase[] = [...PRE_COMMIT, 'aborting', 'aborted'];
      for (const p of ['committing', 'committed'] as const) {
        for (const q of backwards) assert.equal(canTransition(p, q), false, `${p} -> ${q}`);
      }
      assert.deepEqual(NEXT.committing, ['committed']);
      assert.deepEqual(NEXT.committed, ['done', 'pulling', 'failed']);
    });

    it('post-copy: pulling ends done or failed, never back before the commit point', () => {
      assert.deepEqual(NEXT.pulling, ['done', 'failed']);
      for (const q of [...PRE_COMMIT, 'aborting', 'aborted', 'committing'] as Phase[])
        assert.equal(canTransition('pulling', q), false, `pulling -> ${q}`);
      assert.equal(abortable('pulling'), false);
    });

    it('every pre-commit phase can go to aborting', () => {
      for (const p of PRE_COMMIT) assert.ok(canTransition(p, 'aborting'), p);
    });

    it('aborting only leads to aborted', () => {
      assert.deepEqual(NEXT.aborting, ['aborted']);
    });

    it('no pre-commit phase skips ahead (post-copy commits right after the transfer; pre-copy may run before the dump)', () => {
      for (const [i, p] of PRE_COMMIT.entries()) {
        const allowed = new Set<Phase>([PRE_COMMIT[i + 1] ?? 'committing', 'aborting']);
        if (p === 'transferring') allowed.add('committing');
        if (p === 'preflight') allowed.add('precopying');
        for (const q of ALL) assert.equal(canTransition(p, q), allowed.has(q), `${p} -> ${q}`);
      }
    });

    it('done and aborted are reachable from preflight; aborted only via aborting', () => {
      const reach = (from: Phase) => {
        const seen = new Set<Phase>([from]);
        const todo = [from];
        while (todo.length > 0) {
          for (const q of NEXT[todo.pop() as Phase]) {
            if (!seen.has(q)) {
              seen.add(q);
              todo.push(q);
            }
          }
        }
        return seen;
      };
      assert.deepEqual([...reach('preflight')].sort(), [...ALL].sort());
      for (const p of ALL) if (p !== 'aborting') assert.ok(!NEXT[p].includes('aborted'), p);
    });
  });

  describe('canTransition', () => {
    const table: [Phase, Phase, boolean][] = [
      ['preflight', 'dumping', true],
      ['preflight', 'precopying', true],
      ['precopying', 'dumping', true],
      ['precopying', 'aborting', true],
      ['precopying', 'transferring', false],
      ['preflight', 'transferring', false],
      ['dumping', 'transferring', true],
      ['transferring', 'restoring', true],
      ['restoring', 'committing', true],
      ['restoring', 'done', false],
      ['committing', 'committed', true],
      ['committing', 'done', false],
      ['committed', 'done', true],
      ['committed', 'pulling', true],
      ['pulling', 'done', true],
      ['pulling', 'failed', true],
      ['pulling', 'aborting', false],
      ['failed', 'preflight', false],
      ['committing', 'aborting', false],
      ['aborting', 'aborted', true],
      ['aborting', 'preflight', false],
      ['aborted', 'preflight', false],
      ['done', 'preflight', false],
      ['dumping', 'preflight', false],
    ];
    for (const [from, to, ok] of table) {
      it(`${from} -> ${to}: ${ok}`, () => assert.equal(canTransition(from, to), ok));
    }
  });

  describe('abortable', () => {
    const table: Record<Phase, boolean> = {
      preflight: true,
      precopying: true,
      dumping: true,
      transferring: true,
      restoring: true,
      committing: false,
      committed: false,
      pulling: false,
      done: false,
      failed: false,
      aborting: false,
      aborted: false,
    };
    for (const p of ALL) {
      it(`${p}: ${table[p]}`, () => assert.equal(abortable(p), table[p]));
    }
  });

  for (const mode of ['stop-and-copy', 'precopy', 'postcopy'] as const)
    describe(`step table (${mode}): what a restarted coordinator does`, () => {
      const steps = stepsFor(mode);
      const table: Record<Phase, 'retry' | 'abort'> = {
        preflight: 'abort',
        precopying: 'abort',
        dumping: 'abort',
        transferring: 'abort',
        restoring: 'abort',
        committing: 'retry',
        committed: 'retry',
        pulling: 'retry',
        done: 'retry',
        failed: 'retry',
        aborting: 'retry',
        aborted: 'retry',
      };
      for (const p of ALL) {
        it(`${p}: ${table[p]}`, () => assert.equal(steps[p].onRestart, table[p]));
      }

      it('aborts exactly the phases before the commit point, and runs every other again', () => {
        for (const p of ALL) assert.equal(steps[p].onRestart === 'abort', abortable(p), p);
      });
    });

  describe('modes', () => {
    it('refuses an unknown mode', () => {
      assert.throws(() => stepsFor('teleport' as Mode), /unknown migration mode "teleport"/);
    });
  });
});
