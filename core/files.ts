// A daemon's state directory holds containers' root filesystems (setuid
// files included), memory images and records: no user of the host but root
// may even traverse it.
import { chmod, mkdir } from 'node:fs/promises';

/** Makes dir (and parents) if missing and sets it to 0700, whatever it was. */
export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}
