// migrate --dry-run: everything about a move that can be known without
// freezing anything, as findings that name the object and what to do. The
// same checks run first in every real migration's preflight.

import type { Finding__Output } from '../proto/gen/tern/v1/Finding.js';
import type { AgentClient, Container__Output } from '../proto/index.js';
import { unary } from '../proto/rpc.js';
import type { Mode } from './phases.js';

export type Finding = Pick<Finding__Output, 'severity' | 'host' | 'object' | 'problem' | 'advice'>;

export interface DryRun {
  findings: Finding[];
  memoryBytes: number;
  rootfsBytes: number;
}

const T = 60_000;

export async function dryRun(
  move: { from: string; to: string; mode: Mode; container: Container__Output },
  src: AgentClient,
  dst: AgentClient,
): Promise<DryRun> {
  const { from, to, mode, container } = move;
  const postcopy = mode === 'postcopy';
  const precopy = mode === 'precopy';
  const name = container.name;
  const [sc, dc, est, inspect] = await Promise.all([
    unary(src, src.Check, { postcopy, precopy }, { timeoutMs: T, what: from }),
    unary(dst, dst.Check, { postcopy, precopy }, { timeoutMs: T, what: to }),
    unary(src, src.Estimate, { name }, { timeoutMs: T, what: from }),
    unary(src, src.Inspect, { name }, { timeoutMs: T, what: from }),
  ]);
  const findings: Finding[] = [];
  const add = (severity: 'refuse' | 'warn', host: string, object: string, problem: string, advice: string) =>
    findings.push({ severity, host, object, problem, advice });
  for (const [host, c] of [
    [from, sc],
    [to, dc],
  ] as const) {
    if (!c.criu_ok)
      add('refuse', host, 'CRIU', c.criu_error, 'run make install on that host (CRIU 4.2.1 or newer)');
    if (c.postcopy_error)
      add('refuse', host, 'post-copy', c.postcopy_error, 'move it by stop-and-copy instead');
    if (c.precopy_error) add('refuse', host, 'pre-copy', c.precopy_error, 'move it by stop-and-copy instead');
  }
  if (sc.criu_ok && dc.criu_ok && sc.criu_version !== dc.criu_version)
    add(
      'warn',
      to,
      'CRIU',
      `CRIU ${sc.criu_version} on ${from}, ${dc.criu_version} on ${to}: the target restores images of another version`,
      'keep the hosts on one CRIU version',
    );
  if (sc.tern_version !== dc.tern_version)
    add(
      'warn',
      to,
      'tern',
      `tern ${sc.tern_version || 'older than 0.1'} on ${from}, ${dc.tern_version || 'older than 0.1'} on ${to}`,
      'upgrade the agents together; the data path between them changes between versions',
    );
  if (sc.kernel !== dc.kernel)
    add(
      'warn',
      to,
      'kernel',
      `kernel ${sc.kernel} on ${from}, ${dc.kernel} on ${to}: a feature the container uses may be missing there`,
      'prefer hosts on one kernel',
    );
  findings.push(...inspect.findings);
  const memoryBytes = Number(est.memory_bytes);
  const rootfsBytes = Number(est.rootfs_bytes);
  const target = await unary(
    dst,
    dst.CheckTarget,
    {
      container,
      image_bytes_estimate: memoryBytes + rootfsBytes,
      source_cpuinfo_b64: sc.cpuinfo_b64,
      source_host: from,
    },
    { timeoutMs: T, what: to },
  );
  findings.push(...target.findings);
  return { findings, memoryBytes, rootfsBytes };
}

/** One line per finding, for an error message or the CLI. */
export function describeFinding(f: Finding): string {
  return `${f.host}: ${f.object}: ${f.problem} (${f.advice})`;
}
