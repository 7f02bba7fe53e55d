// `--json` output: stable field names (README, "JSON output"), numbers as
// numbers, times as milliseconds since the epoch. A field is added, never
// renamed or removed.
import type { DryRunResponse__Output } from '../proto/gen/tern/v1/DryRunResponse.js';
import type {
  Container__Output,
  EvacuateEvent__Output,
  Host__Output,
  Migration__Output,
} from '../proto/index.js';

export function hostJson(h: Host__Output) {
  return {
    name: h.name,
    up: h.up,
    address: h.address,
    criuVersion: h.criu_version,
    kernel: h.kernel,
    containers: h.containers,
    cordoned: h.cordoned,
    memAvailableBytes: Number(h.mem_available_bytes),
    lastSeenMs: Number(h.last_seen_ms),
  };
}

export function containerJson(c: Container__Output) {
  return {
    name: c.name,
    host: c.host,
    state: c.state,
    ip: c.ip,
    mac: c.mac,
    pid: c.pid,
    hostname: c.hostname,
    command: c.command,
    createdMs: Number(c.created_ms),
    memoryLimit: Number(c.memory_limit),
    pidsLimit: c.pids_limit,
  };
}

export function migrationJson(m: Migration__Output) {
  return {
    id: m.id,
    container: m.container,
    from: m.from,
    to: m.to,
    ip: m.ip || undefined,
    mode: m.mode,
    modeReason: m.mode_reason || undefined,
    phase: m.phase,
    error: m.error || undefined,
    startedMs: Number(m.started_ms),
    finishedMs: Number(m.finished_ms) || undefined,
    downtimeMs: m.phase === 'done' || m.phase === 'pulling' ? Number(m.downtime_ms) : undefined,
    dumpMs: Number(m.dump_ms),
    transferMs: Number(m.transfer_ms),
    restoreMs: Number(m.restore_ms),
    memoryBytes: Number(m.memory_bytes),
    rootfsBytes: Number(m.rootfs_bytes),
    imageBytes: Number(m.image_bytes),
    rawBytes: Number(m.raw_bytes),
    wireBytes: Number(m.wire_bytes),
    coordinatorBytes: Number(m.coordinator_bytes),
    precopyRounds: m.precopy_rounds,
    precopyBytes: Number(m.precopy_bytes),
    pagesMovedBytes: Number(m.pages_moved_bytes),
    pagesDoneMs: Number(m.pages_done_ms) || undefined,
    history: m.history.map((h) => ({ phase: h.phase, atMs: Number(h.at_ms), detail: h.detail || undefined })),
  };
}

export function evacuateJson(e: EvacuateEvent__Output) {
  return e.end
    ? { event: 'end', moved: e.moved, left: e.left }
    : {
        event: e.outcome,
        container: e.container,
        to: e.to || undefined,
        migration: e.migration_id || undefined,
        error: e.error || undefined,
        downtimeMs: e.outcome === 'done' ? Number(e.downtime_ms) : undefined,
      };
}

export function dryRunJson(r: DryRunResponse__Output) {
  return {
    ok: r.ok,
    mode: r.mode,
    modeReason: r.mode_reason || undefined,
    memoryBytes: Number(r.memory_bytes),
    rootfsBytes: Number(r.rootfs_bytes),
    findings: r.findings.map((f) => ({
      severity: f.severity,
      host: f.host,
      object: f.object,
      problem: f.problem,
      advice: f.advice,
    })),
  };
}

/** A dry run as text: the verdict, then one line per finding. */
export function dryRunText(container: string, to: string, r: DryRunResponse__Output): string {
  const lines = [
    `dry run: ${container} -> ${to} (${r.mode}${r.mode_reason ? `: ${r.mode_reason}` : ''}): ${
      r.ok ? 'would go ahead' : 'would be refused'
    }`,
    ...r.findings.map(
      (f) => `  ${f.severity.padEnd(6)} ${f.host}: ${f.object}: ${f.problem}; do: ${f.advice}`,
    ),
  ];
  if (r.findings.length === 0) lines.push('  nothing found that would stop it');
  return `${lines.join('\n')}\n`;
}

/** One JSON document (an array or object) on its own line. */
export function jsonLine(v: unknown): string {
  return `${JSON.stringify(v)}\n`;
}
