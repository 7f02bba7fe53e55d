// Coordinator records as the wire messages users and tools see.
import type { Migration } from '../proto/index.js';
import type { MigrationRecord } from './store.js';

export function migrationToWire(m: MigrationRecord): Migration {
  return {
    id: m.id,
    container: m.container,
    from: m.from,
    to: m.to,
    mode: m.mode,
    phase: m.phase,
    error: m.error ?? '',
    history: m.history.map((h) => ({ phase: h.phase, at_ms: h.atMs, detail: h.detail ?? '' })),
    started_ms: m.startedMs,
    finished_ms: m.finishedMs ?? 0,
    downtime_ms: m.downtimeMs ?? 0,
    raw_bytes: m.rawBytes ?? 0,
    wire_bytes: m.wireBytes ?? 0,
    dump_ms: m.dumpMs ?? 0,
    transfer_ms: m.transferMs ?? 0,
    restore_ms: m.restoreMs ?? 0,
    memory_bytes: m.memoryBytes ?? 0,
    rootfs_bytes: m.rootfsBytes ?? 0,
    image_bytes: m.imageBytes ?? 0,
    coordinator_bytes: m.coordinatorBytes ?? 0,
    pages_moved_bytes: m.pagesMovedBytes ?? 0,
    pages_total_bytes: m.mode === 'postcopy' ? (m.memoryBytes ?? 0) : 0,
    pages_done_ms: m.pagesDoneMs ?? 0,
    mode_reason: m.modeReason ?? '',
    progress_bytes: m.phase === 'dumping' || m.phase === 'precopying' ? (m.progressBytes ?? 0) : 0,
    precopy_rounds: m.roundBytes?.length ?? 0,
    precopy_bytes: (m.roundBytes ?? []).reduce((a, b) => a + b, 0),
    ip: m.ip ?? '',
  };
}
