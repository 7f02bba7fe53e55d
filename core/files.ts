// A daemon's state directory holds containers' root filesystems (setuid
// files included), memory images and records: no user of the host but root
// may even traverse it.
import { chmod, mkdir, statfs } from 'node:fs/promises';

/** statfs(2) f_type of a tmpfs (linux/magic.h). */
export const TMPFS_MAGIC = 0x01021994;

/** Whether `path` lives on a tmpfs (memory-backed). */
export async function onTmpfs(path: string): Promise<boolean> {
  return (await statfs(path)).type === TMPFS_MAGIC;
}

/** Makes dir (and parents) if missing and sets it to 0700, whatever it was. */
export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}
