// Process-tree helpers over /proc. Plain synchronous reads: a /proc file is
// made by the kernel as it is read and never waits on a disk, while a round
// trip through libuv's thread pool per read costs more than the read (a
// resume or commit in the frozen window makes tens of them on a busy host).
import { readdirSync, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';

/** A /proc file's text; '' if it cannot be read (the process is gone). */
function readProc(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** True while pid exists and is not a zombie. */
export async function alive(pid: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const stat = readProc(`/proc/${pid}/stat`);
  if (!stat) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** Start time of pid in clock ticks since boot: with the pid, identifies a process. */
export async function startTime(pid: number): Promise<string | undefined> {
  const stat = readProc(`/proc/${pid}/stat`);
  return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] : undefined;
}

/** pid and every descendant (all threads' children), root first. */
export async function processTree(root: number): Promise<number[]> {
  const seen: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    if (seen.includes(pid)) continue;
    seen.push(pid);
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      const kids = readProc(`/proc/${pid}/task/${tid}/children`);
      for (const k of kids.split(' ')) if (k.trim()) queue.push(Number(k));
    }
  }
  return seen;
}

/** The pid a process has in its innermost pid namespace (NSpid's last field). */
export async function innerPid(pid: number): Promise<number | undefined> {
  const status = readProc(`/proc/${pid}/status`);
  const m = /^NSpid:\s+(.*)$/m.exec(status);
  const last = m?.[1].trim().split(/\s+/).pop();
  return last ? Number(last) : undefined;
}

/**
 * Lets a tree restored stopped run again: SIGCONT to every process except
 * those whose pid inside the container is a key of `keepStopped` (they were
 * stopped when dumped, and stay so). A restore leaves every task stopped by
 * SIGSTOP; one that a different signal had stopped (SIGTSTP, SIGTTIN, SIGTTOU)
 * is continued and stopped again by that signal, so its parent and /proc see
 * what they saw before. Returns how many were continued.
 */
export async function resumeTree(
  root: number,
  keepStopped: ReadonlyMap<number, number | undefined>,
): Promise<number> {
  let n = 0;
  for (const pid of await processTree(root)) {
    const inner = keepStopped.size ? await innerPid(pid) : undefined;
    try {
      if (inner !== undefined && keepStopped.has(inner)) {
        const signo = keepStopped.get(inner);
        if (signo && signo !== osConstants.signals.SIGSTOP) {
          process.kill(pid, 'SIGCONT');
          process.kill(pid, signo);
        }
        continue;
      }
      process.kill(pid, 'SIGCONT');
      n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

/** SIGSTOP to every process of the tree rooted at root (a process gone meanwhile is skipped). */
export async function stopTree(root: number): Promise<void> {
  for (const pid of await processTree(root)) {
    try {
      process.kill(pid, 'SIGSTOP');
    } catch {
      // gone meanwhile
    }
  }
}

/** Waits until pid is gone (or a zombie) or the timeout passes; returns whether it is gone. */
export async function waitGone(
  pid: number,
  timeoutMs: number,
  gone = async (p: number) => !(await alive(p)),
) {
  const until = Date.now() + timeoutMs;
  // Every millisecond at first (a commit waits on this while the target's copy waits to run), then every 5.
  for (let i = 0; Date.now() < until; i++) {
    if (await gone(pid)) return true;
    await new Promise((r) => setTimeout(r, i < 200 ? 1 : 5));
  }
  return gone(pid);
}

/** PF_EXITING in /proc/PID/stat's flags: the process has begun to exit and never runs again. */
const PF_EXITING = 0x4;

/**
 * True once pid is gone, a zombie, or exiting. A pid namespace's init that
 * was killed stays in its exit until every task of the namespace is reaped,
 * which a tracer (CRIU serving a post-copy dump's pages) can hold off.
 */
export async function exiting(pid: number): Promise<boolean> {
  const stat = readProc(`/proc/${pid}/stat`);
  if (!stat) return true;
  const [state, , , , , , flags] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return state === 'Z' || state === 'X' || (Number(flags) & PF_EXITING) !== 0;
}
