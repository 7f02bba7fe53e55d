// What tern's CRIU can do beyond a stock 4.2.1, found by the messages its
// patches (deploy/criu-patches/) log: an agent may run with another CRIU (a
// distribution's, a patch that no longer applied), and then keeps to what
// any CRIU does.
import { readFile } from 'node:fs/promises';

/** The lazy restore waits for its lazy-pages daemon to listen (patch 0005). */
export const WAITS_FOR_LAZY_DAEMON = 'Waiting for the lazy-pages daemon to listen';
/** `--empty-ns net` with `--join-ns net:PATH` restores into that namespace (patch 0007). */
export const JOINS_EMPTY_NETNS = '(--empty-ns net, --join-ns)';

const binaries = new Map<string, Promise<Buffer | undefined>>();

/** Whether the CRIU binary at criuPath carries `text` (read once per path; a missing one does not). */
export async function criuHas(criuPath: string, text: string): Promise<boolean> {
  let bin = binaries.get(criuPath);
  if (!bin) {
    bin = readFile(criuPath).catch(() => undefined);
    binaries.set(criuPath, bin);
  }
  return (await bin)?.includes(text) ?? false;
}
