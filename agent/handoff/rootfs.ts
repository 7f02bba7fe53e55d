// The container's rootfs on the move: the names its parts travel under, and
// the marker that says when the pre-copy began. What is packed and how is
// kernel/rootfs-archive.ts (the host's RootfsArchive).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** For each changed directory: its path, then the names it holds now; see kernel/rootfs-archive.ts. */
export const ROOTFS_DIRS = 'rootfs.dirs';
export const ROOTFS_DELTA = 'rootfs-delta.tar';
/** Taken in the source's migration directory when the pre-copy starts. */
export const MARKER = 'rootfs.marker';

export async function takeMarker(workDir: string): Promise<string> {
  const m = join(workDir, MARKER);
  await writeFile(m, '');
  return m;
}
