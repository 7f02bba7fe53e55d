// The compatibility harness's own logic: the test list, zdtm verdicts, error
// lines and the summary.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarize, summaryLine } from '../compat/report.js';
import { firstError, passed, readList, type TestResult } from '../compat/zdtm.js';

const result = (name: string, inPlace: 'pass' | 'fail', migrated: 'pass' | 'fail'): TestResult => ({
  area: 'files',
  name,
  ci: false,
  inPlace: { verdict: inPlace, ms: 1 },
  migrated: { verdict: migrated, ms: 1 },
});

describe('compat harness', () => {
  it('reads areas, names and the ci mark, skipping comments and blank lines', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tern-compat-'));
    try {
      const f = join(dir, 'list.txt');
      await writeFile(f, '# comment\n\nfiles  pipe00 ci\nsockets socket-tcp   # trailing\n');
      assert.deepEqual(await readList(f), [
        { area: 'files', name: 'pipe00', ci: true },
        { area: 'sockets', name: 'socket-tcp', ci: false },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps a list of at least 150 tests covering every area', async () => {
    const list = await readList();
    assert.ok(list.length >= 150, `${list.length} tests`);
    const areas = new Set(list.map((t) => t.area));
    for (const a of [
      'process-tree',
      'memory',
      'files',
      'signals',
      'ipc',
      'sockets',
      'terminals',
      'namespaces',
    ]) {
      assert.ok(areas.has(a), `no ${a} tests`);
    }
    assert.equal(new Set(list.map((t) => t.name)).size, list.length, 'a test is listed twice');
  });

  it('judges a zdtm outfile by PASS on its last line, as zdtm.py does', () => {
    assert.equal(passed('12:00:00.000: 3: PASS\n'), true);
    assert.equal(passed('12:00:00.000: 3: FAIL: pipe00.c:80: data differs\n'), false);
    assert.equal(passed('12:00:00.000: 3: PASS\n12:00:01.000: 3: FAIL: later\n'), false);
    assert.equal(passed(undefined), false);
    assert.equal(passed(''), false);
  });

  it('picks the first real error line, skipping CRIU noise about RLIMIT_NOFILE', () => {
    const log = [
      "(00.001) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted",
      '(00.002) dumping task 7',
      '(00.003) Error (criu/file-lock.c:110): Some file locks are hold by dumping tasks!',
    ].join('\n');
    assert.equal(firstError(log), 'Error (criu/file-lock.c:110): Some file locks are hold by dumping tasks!');
    assert.equal(firstError('12:00: 3: FAIL: x.c:1: bad\n'), '12:00: 3: FAIL: x.c:1: bad');
    assert.equal(firstError('all good\n'), undefined);
  });

  it('counts a parity gap only where in place passed and migrated did not', () => {
    const s = summarize([
      result('a', 'pass', 'pass'),
      result('b', 'pass', 'fail'),
      result('c', 'fail', 'fail'),
      result('d', 'fail', 'pass'),
    ]);
    assert.deepEqual(s, { total: 4, migratedPassed: 2, inPlacePassed: 2, gaps: ['b'] });
    assert.equal(summaryLine(s), 'compat: migrated 2/4 passed, in-place 2/4 passed, parity gaps: b');
    assert.match(summaryLine(summarize([result('a', 'pass', 'pass')])), /parity gaps: none$/);
  });
});
