// npm run compat [-- --ci] [-- --only a,b] [-- --mode postcopy] [-- --out FILE]   (COMPAT_PARALLEL=N, default 2)
//
// Runs the zdtm tests listed in test/compat/tests.txt in place under plain
// CRIU and migrated with tern, prints a table by area and the summary line,
// and writes the results as JSON (test/compat/results/latest.json by default,
// postcopy.json for --mode postcopy: every move a post-copy one).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import PQueue from 'p-queue';
import { down, ROOT, TESTBED_DIR, up } from '../../deploy/testbed/driver.js';
import { report, writeResults } from './report.js';
import { type CompatTest, prepare, readList, runInPlace, runMigrated, type TestResult } from './zdtm.js';

const PARALLEL = Number(process.env.COMPAT_PARALLEL || 2);

async function main() {
  const { values } = parseArgs({
    options: {
      ci: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string' },
      mode: { type: 'string', default: 'stop-and-copy' },
    },
  });
  const mode = values.mode as string;
  if (mode !== 'stop-and-copy' && mode !== 'postcopy')
    throw new Error(`--mode must be stop-and-copy or postcopy, not ${JSON.stringify(mode)}`);
  if (process.getuid?.() !== 0) throw new Error('run as root: the harness drives CRIU and the test hosts');
  let tests: CompatTest[] = await readList();
  if (values.ci) tests = tests.filter((t) => t.ci);
  if (values.only) {
    const want = new Set(values.only.split(','));
    tests = tests.filter((t) => want.has(t.name));
  }
  if (!tests.length) throw new Error('no tests selected');
  const out =
    values.out ??
    join(
      ROOT,
      'test',
      'compat',
      'results',
      values.ci ? 'ci.json' : mode === 'postcopy' ? 'postcopy.json' : 'latest.json',
    );

  const log = (s: string) => process.stderr.write(`compat: ${s}\n`);
  const begun = Date.now();
  const p = await prepare(tests, log);
  const reuse = existsSync(join(TESTBED_DIR, 'testbed.env'));
  if (!reuse) {
    log('bringing up the testbed');
    await up(2);
  }
  let stopping = false;
  const interrupt = () => {
    stopping = true;
    log('interrupted: finishing the current test, then cleaning up');
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  const results: TestResult[] = [];
  const one = async (t: CompatTest) => {
    if (stopping) return;
    // CRIU's own suite leaves these out of its lazy-pages runs: not counted in post-copy either.
    if (mode === 'postcopy' && p.nolazy.has(t.name)) {
      const why = { verdict: 'skipped' as const, error: "CRIU's zdtm marks it nolazy", ms: 0 };
      results.push({ ...t, inPlace: why, migrated: why });
      log(`[${results.length}/${tests.length}] ${t.area}/${t.name}: skipped in post-copy (nolazy)`);
      return;
    }
    const inPlace = await runInPlace(p, t);
    const migrated = await runMigrated(p, t, 'hostA', 'hostB', mode);
    results.push({ ...t, inPlace, migrated });
    log(
      `[${results.length}/${tests.length}] ${t.area}/${t.name}: in-place ${inPlace.verdict}, migrated ${migrated.verdict}`,
    );
  };
  try {
    // Two at a time (each test mostly waits on CRIU and the agents); tests
    // their .desc marks exclusive run afterwards, alone.
    const queue = new PQueue({ concurrency: PARALLEL });
    await queue.addAll(tests.filter((t) => !p.exclusive.has(t.name)).map((t) => () => one(t)));
    for (const t of tests.filter((x) => p.exclusive.has(x.name))) await one(t);
  } finally {
    if (!reuse) await down();
  }
  const order = new Map(tests.map((t, i) => [t.name, i]));
  results.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0));
  console.log(report(results));
  await writeResults(out, results, {
    startedAt: new Date(begun).toISOString(),
    seconds: Math.round((Date.now() - begun) / 1000),
    subset: values.ci ? 'ci' : values.only ? 'only' : 'all',
  });
  log(`results in ${out} (${Math.round((Date.now() - begun) / 1000)} s)`);
}

main().catch((e) => {
  process.stderr.write(`compat: error: ${(e as Error).message}\n`);
  process.exit(1);
});
