// What both halves of the handoff share: the daemon's options, the engine,
// the host, the container records, outcome records and fault points.
import { timingSafeEqual } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Faults } from '../../core/faults.js';
import type { CheckpointEngine } from '../../kernel/engine.js';
import type { HostRuntime } from '../../kernel/host.js';
import type { ImageChunk__Output } from '../../proto/index.js';
import type { AgentOptions } from '../config.js';
import type { Containers } from '../containers.js';
import type { Outcomes } from './outcomes.js';
import type { WorkDirs } from './workdirs.js';

export interface HandoffContext {
  opts: AgentOptions;
  engine: CheckpointEngine;
  host: HostRuntime;
  containers: Containers;
  outcomes: Outcomes;
  faults: Faults;
  log: Logger;
  /** Where each migration's directory is (workdirs.ts). */
  work: WorkDirs;
}

/** Chunks arriving from a peer, and a way to stop them. */
export type ChunkStream = AsyncIterable<ImageChunk__Output> & { cancel(): void };

/** The rootfs travels as this file at the end of the image stream. */
export const ROOTFS_TAR = 'rootfs.tar';

/** Small files are read in one synchronous call; large ones stream in 1 MiB pieces. */
export async function* fileData(path: string): AsyncGenerator<Buffer> {
  if (statSync(path).size <= 1 << 20) {
    yield readFileSync(path);
    return;
  }
  yield* createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
}

/** Whether a presented credential is the expected one (in constant time). */
export function sameCredential(expected: string | undefined, presented: string): boolean {
  const want = Buffer.from(expected ?? '', 'hex');
  const got = Buffer.from(presented, 'hex');
  return want.length > 0 && want.length === got.length && timingSafeEqual(want, got);
}

/** Writes a migration's credential into a private file in its directory, for tern-relay; returns the path. */
export async function credentialFile(workDir: string, credential: string): Promise<string> {
  const file = join(workDir, 'credential');
  await writeFile(file, credential, { mode: 0o600 });
  return file;
}
