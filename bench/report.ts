// The benchmark's results: per-run figures gathered into one column per case,
// each cell `median [min–max]`, ratios taken per run (tern and plain measured
// back to back), printed as a table and written as JSON (BENCH_OUT).
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { CRIU, sh } from '../deploy/testbed/driver.js';
import type { InPlaceRun } from './cases/inplace.js';
import type { PlainRun } from './cases/plain.js';
import type { TernRun } from './cases/tern.js';
import { FROM, OUT, RUNS, RUNS_LARGE, SIZES, TCP_MIB, TO, VARIANTS, WARMUP } from './config.js';
import { log, MIB } from './util.js';

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: (number | undefined)[]): Spread | undefined {
  const v = values
    .filter((x): x is number => typeof x === 'number' && Number.isFinite(x))
    .sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}

export function cell(s: Spread | undefined, digits: number): string {
  if (!s) return '-';
  const f = (x: number) => x.toFixed(digits);
  return s.n === 1 ? f(s.median) : `${f(s.median)} [${f(s.min)}–${f(s.max)}]`;
}

export interface CaseRun {
  tern: TernRun;
  /** The baselines; a post-copy case has none (the stop-and-copy case of its size has them). */
  plain?: PlainRun;
  inPlace?: InPlaceRun;
}

export interface CaseResult {
  mib: number;
  kind: string;
  /** How tern moved the memory in this case. */
  mode: TernRun['mode'];
  runs: CaseRun[];
  failures: string[];
}

const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? a / b : undefined);

/** Rows of the table: label, digits, value of one run. */
function rows(tcp: number | undefined): [string, number, (r: CaseRun) => number | undefined][] {
  return [
    ['tern downtime, heartbeat (ms)', 0, (r) => r.tern.downtimeMs],
    ['tern downtime, coordinator (ms)', 0, (r) => r.tern.coordinatorDowntimeMs],
    ['tern total migration (s)', 2, (r) => r.tern.totalMs / 1000],
    ['  preflight (ms)', 0, (r) => r.tern.phases.preflight],
    ['  dumping (ms)', 0, (r) => r.tern.phases.dumping],
    ['  transferring (ms)', 0, (r) => r.tern.phases.transferring],
    ['  restoring (ms)', 0, (r) => r.tern.phases.restoring],
    ['  commit + resume (ms)', 0, (r) => (r.tern.phases.committing ?? 0) + (r.tern.phases.committed ?? 0)],
    ['post-copy: last page after the resume (ms)', 0, (r) => r.tern.pagesDoneMs],
    ['tern image (MiB)', 1, (r) => r.tern.imageBytes / MIB],
    ['tern wire (MiB)', 1, (r) => r.tern.wireBytes / MIB],
    ['peak RSS coordinator (MiB)', 0, (r) => r.tern.peakRssMiB.coordinator],
    [`peak RSS agent ${FROM} (MiB)`, 0, (r) => r.tern.peakRssMiB[FROM]],
    [`peak RSS agent ${TO} (MiB)`, 0, (r) => r.tern.peakRssMiB[TO]],
    ['plain downtime, heartbeat (ms)', 0, (r) => r.plain?.downtimeMs],
    ['plain pipeline, dump->running (ms)', 0, (r) => r.plain?.pipelineMs],
    ['  criu dump (ms)', 0, (r) => r.plain?.dumpMs],
    ['  tar|lz4 -> TCP -> untar (ms)', 0, (r) => r.plain?.copyMs],
    ['  criu restore (ms)', 0, (r) => r.plain?.restoreMs],
    ['in place dump + restore (ms)', 0, (r) => r.inPlace?.totalMs],
    ['  criu dump (ms)', 0, (r) => r.inPlace?.dumpMs],
    ['  criu restore (ms)', 0, (r) => r.inPlace?.restoreMs],
    ['RATIO tern / plain downtime', 2, (r) => ratio(r.tern.downtimeMs, r.plain?.downtimeMs)],
    ['RATIO tern / in-place dump+restore', 2, (r) => ratio(r.tern.downtimeMs, r.inPlace?.totalMs)],
    ['bytes through the coordinator', 0, (r) => r.tern.coordinatorBytes],
    ['chunk stream (MiB/s raw)', 0, (r) => r.tern.chunkMiBps],
    ['RATIO chunk stream / raw TCP', 2, (r) => ratio(r.tern.chunkMiBps, tcp)],
  ];
}

function table(cases: CaseResult[], tcp: number | undefined): string {
  const header = [
    '',
    ...cases.map(
      (c) => `${c.mib} MiB ${c.kind}${c.mode === 'postcopy' ? ' postcopy' : ''}, ${c.runs.length} runs`,
    ),
  ];
  const body = rows(tcp).map(([label, digits, f]) => [
    label,
    ...cases.map((c) => cell(spread(c.runs.map(f)), digits)),
  ]);
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '))
    .join('\n');
}

function summarize(c: CaseResult, tcp: number | undefined) {
  const out: Record<string, Spread | undefined> = {};
  for (const [label, , f] of rows(tcp)) out[label.trim()] = spread(c.runs.map(f));
  return out;
}

/** Everything one benchmark run found. */
export interface Results {
  /** Wall-clock start, ms. */
  began: number;
  seconds: number;
  /** The testbed was up before the run (someone else's) and was used as it was. */
  shared: boolean;
  /** MiB/s of each raw TCP probe. */
  tcpRuns: number[];
  /** MiB/s of each bulk channel probe: the path memory pages take (page stream through tern-relay). */
  channelRuns: number[];
  /** MiB/s of each image channel probe: the chunk stream that carries the other images. */
  imageChannelRuns: number[];
  /** Records tern still lists for this run's containers. */
  leftovers: string[];
  cases: CaseResult[];
}

export const failedRuns = (cases: CaseResult[]) => cases.reduce((n, c) => n + c.failures.length, 0);

/** The table and the lines below it, on stdout. */
export function printReport(r: Results): void {
  const tcpS = spread(r.tcpRuns);
  process.stdout.write(
    `\ntern benchmark: ${FROM} -> ${TO}, ${RUNS} run(s) per case (${RUNS_LARGE} from 1 GiB), median [min–max]; ` +
      'ratios are per run (tern and plain measured back to back)\n\n',
  );
  process.stdout.write(`${table(r.cases, tcpS?.median)}\n\n`);
  process.stdout.write(
    `raw TCP ${FROM} -> ${TO} over the underlay (one node-to-node stream of ${TCP_MIB} MiB): ${cell(tcpS, 0)} MiB/s\n`,
  );
  const ratio = (s: Spread | undefined) => (s && tcpS ? (s.median / tcpS.median).toFixed(2) : '-');
  const chS = spread(r.channelRuns);
  const imS = spread(r.imageChannelRuns);
  process.stdout.write(
    `tern data channel ${FROM} -> ${TO}, the same size of random image: bulk (memory pages: page stream in AES-GCM frames keyed from mutual TLS, tern-relay on both sides) ${cell(chS, 0)} MiB/s = ${ratio(chS)} x raw TCP; ` +
      `images (chunk stream, crc32 + SHA-256, written) ${cell(imS, 0)} MiB/s = ${ratio(imS)} x raw TCP\n`,
  );
  for (const l of r.leftovers) process.stdout.write(`leftover in tern: ${l}\n`);
  const failed = failedRuns(r.cases);
  if (failed > 0)
    process.stdout.write(`${failed} run(s) failed and are left out (see bench: lines above and the JSON)\n`);
  process.stdout.write(`wall time ${r.seconds.toFixed(0)} s\n`);
}

/** Every run's figures, the summaries and the machine, as JSON in OUT. */
export async function writeResults(r: Results): Promise<void> {
  const tcpS = spread(r.tcpRuns);
  const criuVersion = (await sh([CRIU, '--version'])).stdout.match(/Version:\s*(\S+)/)?.[1] ?? '';
  await mkdir(dirname(OUT), { recursive: true });
  await writeFile(
    OUT,
    `${JSON.stringify(
      {
        startedAt: new Date(r.began).toISOString(),
        seconds: Math.round(r.seconds),
        machine: {
          cpus: cpus().length,
          memMiB: Math.round(totalmem() / MIB),
          kernel: release(),
          criu: criuVersion,
          node: process.version,
          sharedTestbed: r.shared,
        },
        config: {
          runs: RUNS,
          runsLarge: RUNS_LARGE,
          sizesMiB: SIZES,
          variants: VARIANTS,
          tcpMiB: TCP_MIB,
          warmup: WARMUP,
        },
        rawTcpMiBps: { ...tcpS, runs: r.tcpRuns },
        dataChannelMiBps: { ...spread(r.channelRuns), runs: r.channelRuns },
        imageChannelMiBps: { ...spread(r.imageChannelRuns), runs: r.imageChannelRuns },
        leftovers: r.leftovers,
        cases: r.cases.map((c) => ({ ...c, summary: summarize(c, tcpS?.median) })),
      },
      null,
      2,
    )}\n`,
  );
  log(`results in ${OUT}`);
}
