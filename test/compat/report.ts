// The compatibility harness's summary: pass counts per area, parity gaps
// between in place and migrated, the table README shows, and the JSON record.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RunResult, TestResult } from './zdtm.js';

export interface Summary {
  total: number;
  migratedPassed: number;
  inPlacePassed: number;
  /** Tests that pass in place but not migrated. */
  gaps: string[];
}

/** Counts tests that can run here; not-built and skipped ones are listed, not counted. */
export function summarize(all: TestResult[]): Summary {
  const results = all.filter((r) => r.inPlace.verdict !== 'not-built' && r.inPlace.verdict !== 'skipped');
  return {
    total: results.length,
    migratedPassed: results.filter((r) => r.migrated.verdict === 'pass').length,
    inPlacePassed: results.filter((r) => r.inPlace.verdict === 'pass').length,
    gaps: results
      .filter((r) => r.inPlace.verdict === 'pass' && r.migrated.verdict !== 'pass')
      .map((r) => r.name),
  };
}

export function summaryLine(s: Summary): string {
  return (
    `compat: migrated ${s.migratedPassed}/${s.total} passed, in-place ${s.inPlacePassed}/${s.total} passed, ` +
    `parity gaps: ${s.gaps.length ? s.gaps.join(', ') : 'none'}`
  );
}

/** One row per area, then every test that did not pass somewhere. */
export function report(results: TestResult[]): string {
  const areas = [...new Set(results.map((r) => r.area))];
  const rows = [['area', 'tests', 'in-place', 'migrated', 'gaps']];
  for (const a of areas) {
    const rs = results.filter((r) => r.area === a);
    const s = summarize(rs);
    rows.push([a, String(s.total), String(s.inPlacePassed), String(s.migratedPassed), String(s.gaps.length)]);
  }
  const all = summarize(results);
  rows.push([
    'all',
    String(all.total),
    String(all.inPlacePassed),
    String(all.migratedPassed),
    String(all.gaps.length),
  ]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '),
  );
  const bad = results.filter((r) => r.inPlace.verdict !== 'pass' || r.migrated.verdict !== 'pass');
  if (bad.length) {
    lines.push('', 'not passing:');
    for (const r of bad) {
      const say = (w: RunResult) => (w.verdict === 'pass' ? 'pass' : `${w.verdict}: ${w.error ?? ''}`);
      lines.push(
        `  ${r.area}/${r.name}`,
        `    in-place  ${say(r.inPlace)}`,
        `    migrated  ${say(r.migrated)}`,
      );
    }
  }
  lines.push('', summaryLine(all));
  return lines.join('\n');
}

export async function writeResults(file: string, results: TestResult[], extra: Record<string, unknown>) {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(
    file,
    `${JSON.stringify({ ...extra, summary: summarize(results), line: summaryLine(summarize(results)), results }, null, 2)}\n`,
  );
}
