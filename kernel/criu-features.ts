// What tern's CRIU can do beyond a stock 4.2.1, found by the messages its
// patches (deploy/criu-patches/) log: an agent may run with another CRIU (a
// distribution's, a patch that no longer applied), and then keeps to what
// any CRIU does.
import { readFile } from 'node:fs/promises';

/** The lazy restore waits for its lazy-pages daemon to listen (patch 0005). */
export const WAITS_FOR_LAZY_DAEMON = 'Waiting for the lazy-pages daemon to listen';
/** `--empty-ns net` with `--join-ns net:PATH` restores into that namespace (patch 0007). */
export const JOINS_EMPTY_NETNS = '(--empty-ns net, --join-ns)';

const answers = new Map<string, Promise<boolean>>();

/**
 * Whether the CRIU binary at criuPath carries `text` (a missing one does
 * not). Each question is answered once per path, and the binary (some 6 MiB)
 * is not kept.
 */
export function criuHas(criuPath: string, text: string): Promise<boolean> {
  const key = `${criuPath}\0${text}`;
  let answer = answers.get(key);
  if (!answer) {
    answer = readFile(criuPath).then(
      (bin) => bin.includes(text),
      () => false,
    );
    answers.set(key, answer);
  }
  return answer;
}
