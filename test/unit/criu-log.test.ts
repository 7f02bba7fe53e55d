import assert from 'node:assert/strict';
import { criuErrors, criuFailure } from '../../kernel/criu-log.js';

const RLIMIT =
  "(00.000123) Error (criu/util.c:666): rlimit: Can't setup RLIMIT_NOFILE (1048576) for restore: Operation not permitted";
const ADDR = '(00.104560) Error (criu/net.c:3012): RTNETLINK answers: Address already assigned';
const LOOKUP = "(00.004567) Error (criu/files-reg.c:1234): Can't lookup mount=123 for fd=10 path=/dev/null";
const DUMP_FD = '(00.004890) Error (criu/cr-dump.c:1563): Dump files (pid: 4242) failed with -1';
const TASKS = '(00.005001) Error (criu/cr-dump.c:2093): Dumping FAILED.';

/** A CRIU log as it looks on disk: info lines, warnings, noise and errors, some repeated. */
const LOG = [
  '(00.000000) Version: 4.2.1 (gitid 0)',
  '(00.000042) Running on host Linux 6.8.0 x86_64',
  RLIMIT,
  "(00.000210) Warn  (criu/kerndat.c:1234): Can't load /run/criu.kdat",
  '(00.001000) Dumping task (pid: 4242)',
  LOOKUP,
  LOOKUP,
  ADDR,
  DUMP_FD,
  '(00.004900) Unfreezing tasks into 1',
  TASKS,
  '',
].join('\n');

describe('criu-log', () => {
  describe('criuErrors', () => {
    it('keeps Error lines only, without timestamps, noise or repeats', () => {
      assert.deepEqual(criuErrors(LOG), [
        "Error (criu/files-reg.c:1234): Can't lookup mount=123 for fd=10 path=/dev/null",
        'Error (criu/cr-dump.c:1563): Dump files (pid: 4242) failed with -1',
        'Error (criu/cr-dump.c:2093): Dumping FAILED.',
      ]);
    });

    it('drops the harmless RLIMIT_NOFILE and "Address already assigned" lines', () => {
      assert.deepEqual(criuErrors([RLIMIT, ADDR, RLIMIT].join('\n')), []);
      const errs = criuErrors(LOG).join('\n');
      assert.ok(!errs.includes('RLIMIT_NOFILE'));
      assert.ok(!errs.includes('Address already assigned'));
    });

    it('strips a pid prefix after the timestamp', () => {
      assert.deepEqual(
        criuErrors('(00.123456)   4242: Error (criu/pie/restorer.c:1900): Unable to restore'),
        ['Error (criu/pie/restorer.c:1900): Unable to restore'],
      );
    });

    it('treats the same text at different timestamps as one error', () => {
      const line = 'Error (criu/mount.c:100): mnt: Unable to find a mount';
      assert.deepEqual(criuErrors(`(00.1) ${line}\n(00.2) ${line}\n( 1.500000) ${line}`), [line]);
    });

    it('keeps lines with a lowercase "error (" from libraries', () => {
      assert.deepEqual(criuErrors('(00.1) libnl: error (-12) in nl_recv'), ['libnl: error (-12) in nl_recv']);
    });

    it('ignores lines without an error', () => {
      assert.deepEqual(
        criuErrors('(00.1) Warn (criu/x.c:1): careful\n(00.2) Dumping finished successfully'),
        [],
      );
      assert.deepEqual(criuErrors(''), []);
    });

    it('keeps the last N errors', () => {
      const log = Array.from({ length: 8 }, (_, i) => `(00.00${i}) Error (criu/x.c:${i}): fail ${i}`).join(
        '\n',
      );
      assert.deepEqual(
        criuErrors(log),
        [3, 4, 5, 6, 7].map((i) => `Error (criu/x.c:${i}): fail ${i}`),
      );
      assert.deepEqual(criuErrors(log, 2), ['Error (criu/x.c:6): fail 6', 'Error (criu/x.c:7): fail 7']);
      assert.equal(criuErrors(log, 100).length, 8);
    });

    it('handles CRLF line endings', () => {
      assert.deepEqual(criuErrors(`${LOOKUP}\r\n${TASKS}\r\n`), [
        "Error (criu/files-reg.c:1234): Can't lookup mount=123 for fd=10 path=/dev/null",
        'Error (criu/cr-dump.c:2093): Dumping FAILED.',
      ]);
    });
  });

  describe('criuFailure', () => {
    it('names the action, the status and the last three errors', () => {
      assert.equal(
        criuFailure('dump', 1, LOG),
        'criu dump exited with status 1: ' +
          "Error (criu/files-reg.c:1234): Can't lookup mount=123 for fd=10 path=/dev/null | " +
          'Error (criu/cr-dump.c:1563): Dump files (pid: 4242) failed with -1 | ' +
          'Error (criu/cr-dump.c:2093): Dumping FAILED.',
      );
    });

    it('keeps only the last three errors', () => {
      const log = Array.from({ length: 5 }, (_, i) => `(00.1) Error (criu/x.c:${i}): e${i}`).join('\n');
      assert.equal(
        criuFailure('restore', 2, log),
        'criu restore exited with status 2: Error (criu/x.c:2): e2 | Error (criu/x.c:3): e3 | Error (criu/x.c:4): e4',
      );
    });

    it('has no colon tail when the log has no errors', () => {
      assert.equal(
        criuFailure('restore', 1, `${RLIMIT}\n(00.2) Restore finished`),
        'criu restore exited with status 1',
      );
    });

    it('says "was killed" for a null exit code', () => {
      assert.equal(criuFailure('dump', null, ''), 'criu dump was killed');
      assert.equal(
        criuFailure('dump', null, TASKS),
        'criu dump was killed: Error (criu/cr-dump.c:2093): Dumping FAILED.',
      );
    });

    it('reports status 0 as a status, not as killed', () => {
      assert.equal(criuFailure('pre-dump', 0, ''), 'criu pre-dump exited with status 0');
    });
  });
});
