// What of a running container CRIU would refuse to dump, or leave behind,
// found from /proc without freezing anything (migrate --dry-run, and every
// migration's preflight): files the container's processes hold open on
// mounts outside the container, and processes that run in its pid namespace
// but outside its process tree.
import { readdir, readFile, readlink } from 'node:fs/promises';
import { innerPid, processTree } from './proc.js';

export interface Finding {
  /** refuse: CRIU would refuse the dump; warn: the move goes ahead, with this left behind. */
  severity: 'refuse' | 'warn';
  object: string;
  problem: string;
  advice: string;
}

/** Mount ids a process sees (the first field of each mountinfo line). */
export function mountIds(mountinfo: string): Set<number> {
  const ids = new Set<number>();
  for (const line of mountinfo.split('\n')) {
    const id = Number(line.split(' ')[0]);
    if (line && Number.isInteger(id)) ids.add(id);
  }
  return ids;
}

/** The mount of an open file, from /proc/PID/fdinfo/FD. */
export function fdMount(fdinfo: string): number | undefined {
  const m = /^mnt_id:\s+(\d+)$/m.exec(fdinfo);
  return m ? Number(m[1]) : undefined;
}

/**
 * Descriptors that are no file of a mount the container sees, and that CRIU
 * dumps by their own kind: sockets, pipes, anonymous inodes (eventfd, epoll,
 * io_uring, pidfd ...), namespaces, memfd files (on the kernel's internal
 * shmem mount).
 */
const NOT_A_FILE = /^(socket|pipe|anon_inode|net|mnt|pid|user|uts|ipc|cgroup|time):|^\/memfd:/;

/** Whether CRIU dumps the descriptor by its own kind rather than as a file of a mount. */
export function notAFile(link: string): boolean {
  return NOT_A_FILE.test(link);
}

async function comm(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?')).trim();
}

/** The findings for the container whose init is `root` (host pid). */
export async function findLeaks(root: number): Promise<Finding[]> {
  const out: Finding[] = [];
  const tree = await processTree(root);
  // The mounts of every mount namespace of the tree (a process may unshare
  // one inside the container, and keep files of the one it left): CRIU dumps
  // them all, and refuses a file on a mount none of them has.
  const mounts = new Set<number>();
  const seenNs = new Set<string>();
  for (const pid of tree) {
    const ns = await readlink(`/proc/${pid}/ns/mnt`).catch(() => `pid ${pid}`);
    if (seenNs.has(ns)) continue;
    seenNs.add(ns);
    for (const id of mountIds(await readFile(`/proc/${pid}/mountinfo`, 'utf8').catch(() => '')))
      mounts.add(id);
  }
  for (const pid of tree) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      if (!link || notAFile(link)) continue;
      const mnt = fdMount(await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => ''));
      // 0: a kernel-internal file (shared anonymous memory): CRIU dumps it by its kind.
      if (mnt === undefined || mnt === 0 || mounts.has(mnt)) continue;
      out.push({
        severity: 'refuse',
        object: `pid ${(await innerPid(pid)) ?? '?'} (${await comm(pid)}) fd ${fd}: ${link}`,
        problem: `a file on a mount outside the container (mount ${mnt}): CRIU refuses to dump it`,
        advice: 'close it, or open it from inside the container, before moving',
      });
    }
  }
  // Processes in the container's pid namespace that its init is no ancestor of.
  const ns = await readlink(`/proc/${root}/ns/pid`).catch(() => '');
  const inTree = new Set(tree);
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d) || inTree.has(Number(d))) continue;
    const pid = Number(d);
    if (!ns || (await readlink(`/proc/${pid}/ns/pid`).catch(() => '')) !== ns) continue;
    out.push({
      severity: 'warn',
      object: `pid ${(await innerPid(pid)) ?? '?'} (${await comm(pid)})`,
      problem:
        "runs in the container's pid namespace but not under its init (tern exec): it does not move, and ends when the container leaves",
      advice: 'let it finish before moving',
    });
  }
  return out;
}
