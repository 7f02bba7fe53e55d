// The post-dump hold: the action script CRIU runs at post-dump, which keeps
// the frozen tree waiting for tern's verdict, and how the verdict reaches it.
import { constants as fsc } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The post-dump action script. At network-lock (CRIU has just frozen the
 * tree and starts to dump it) it writes `frozen` to `ready`: nothing in the
 * tree can change the container's files from then on, so the agent can look
 * at them while CRIU dumps. At post-dump it tells the agent every image is
 * complete by writing `ready`, then blocks reading `verdict`: "kill" exits 0
 * (CRIU kills the tree), anything else, EOF or the hold timeout exits 1 (CRIU
 * unfreezes the tree and it runs on here). On every way out it first lets new
 * connections in again (`ungate.nft`, see gateScript), so the gate is lifted
 * even when the agent that set it is gone; so does CRIU's network-unlock
 * action, which runs whenever a dump fails and the tree runs on here.
 *
 * Both announcements open `ready` for reading and writing, which never
 * blocks on a fifo, and write with the shell's own echo: no process is
 * started for them while the tree is frozen. The agent holds `ready` open
 * from before CRIU starts, so it reads what is written; with no agent the
 * line is lost and the verdict's timeout resumes the tree.
 */
export function holdScript(dir: string, timeoutSec: number): string {
  return `#!/bin/sh
# tern post-dump hold: exit 0 kills the frozen tree, non-zero resumes it.
ungate() { [ -f "${dir}/ungate.nft" ] && PATH="$PATH:/usr/sbin:/sbin" nft -f "${dir}/ungate.nft" >/dev/null 2>&1; }
case "$CRTOOLS_SCRIPT_ACTION" in
post-dump) ;;
network-unlock) ungate; exit 0 ;;
network-lock) echo frozen 1<>"${dir}/ready"; exit 0 ;;
*) exit 0 ;;
esac
echo ready 1<>"${dir}/ready" || { ungate; exit 1; }
v=$(timeout ${timeoutSec} head -n 1 "${dir}/verdict") || { ungate; exit 1; }
# A tree about to be killed: CRIU's network lock keeps its connections out
# until it is gone, so the gate is lifted alongside and the kill waits for nothing.
[ "$v" = "kill" ] && { ungate & exit 0; }
ungate
exit 1
`;
}

/** Delivers the verdict to a script blocked on the verdict fifo. */
export async function sendVerdict(
  hookDir: string,
  verdict: 'kill' | 'resume',
  waitMs = 10_000,
): Promise<boolean> {
  // The script may not have opened the fifo yet; O_NONBLOCK fails with ENXIO
  // until it does, so retry for a while. If it never does, the hold timed out.
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      const fh = await open(join(hookDir, 'verdict'), fsc.O_WRONLY | fsc.O_NONBLOCK);
      await fh.write(`${verdict}\n`);
      await fh.close();
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

/**
 * Delivers the verdict to a hold whose agent is gone. A script of an
 * earlier tern still announcing `ready` to an agent that died before
 * reading it (those blocked opening that fifo) is let through to the
 * verdict first.
 */
export async function decideOrphan(
  hookDir: string,
  verdict: 'kill' | 'resume',
  waitMs?: number,
): Promise<boolean> {
  const ready = await open(join(hookDir, 'ready'), fsc.O_RDONLY | fsc.O_NONBLOCK).catch(() => undefined);
  try {
    return await sendVerdict(hookDir, verdict, waitMs);
  } finally {
    await ready?.close().catch(() => {});
  }
}
