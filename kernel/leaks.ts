// What of a running container CRIU would refuse to dump, or leave behind,
// found from /proc without freezing anything (migrate --dry-run, and every
// migration's preflight): files the container's processes hold open on
// mounts outside the container, and processes that run in its pid namespace
// but outside its process tree.
import { readdir, readFile, readlink } from 'node:fs/promises';
import { run } from './exec.js';
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

/** "pid N (comm)" with the pid inside the container, read once per process. */
function describer(): (pid: number) => Promise<string> {
  const seen = new Map<number, Promise<string>>();
  return (pid) => {
    let d = seen.get(pid);
    if (!d) {
      d = (async () => `pid ${(await innerPid(pid)) ?? '?'} (${await comm(pid)})`)();
      seen.set(pid, d);
    }
    return d;
  };
}

/**
 * Unix sockets and their peers (inode -> peer inode, 0: none) from
 * `ss -xanH`: "u_str ESTAB 0 0 * 1074 * 1073".
 */
export function unixPeers(ss: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of ss.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !f[0].startsWith('u_')) continue;
    const ino = Number(f[5]);
    const peer = Number(f[7]);
    if (Number.isInteger(ino)) out.set(ino, Number.isInteger(peer) ? peer : 0);
  }
  return out;
}

/** Namespaces whose sharing with a process outside the container a dry run reports. */
const SHARED_NS = ['net', 'mnt', 'ipc', 'uts'] as const;

/** The findings for the container whose init is `root` (host pid). */
export async function findLeaks(root: number): Promise<Finding[]> {
  const out: Finding[] = [];
  const tree = await processTree(root);
  const who = describer();
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
  // Sockets the tree holds: inode -> where (pid inside, command, fd).
  const sockets = new Map<number, string>();
  for (const pid of tree) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const sock = /^socket:\[(\d+)\]$/.exec(link);
      if (sock) sockets.set(Number(sock[1]), `${await who(pid)} fd ${fd}`);
      if (!link || notAFile(link)) continue;
      const mnt = fdMount(await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => ''));
      // 0: a kernel-internal file (shared anonymous memory): CRIU dumps it by its kind.
      if (mnt === undefined || mnt === 0 || mounts.has(mnt)) continue;
      out.push({
        severity: 'refuse',
        object: `${await who(pid)} fd ${fd}: ${link}`,
        problem: `a file on a mount outside the container (mount ${mnt}): CRIU refuses to dump it`,
        advice: 'close it, or open it from inside the container, before moving',
      });
    }
  }
  // Unix sockets connected to a peer the tree does not hold (a process of
  // the host, or outside the tree): CRIU refuses such external sockets.
  if (sockets.size > 0) {
    // A socket lives in the namespace it was made in: the container's, or
    // (handed in) this host's.
    const peers = new Map<number, number>();
    for (const argv of [
      ['nsenter', '-t', String(root), '-n', 'ss', '-xanH'],
      ['ss', '-xanH'],
    ]) {
      const r = await run(argv, { timeoutMs: 10_000 }).catch(() => undefined);
      if (r?.code === 0) for (const [k, v] of unixPeers(r.stdout.toString())) peers.set(k, v);
    }
    for (const [ino, where] of sockets) {
      const peer = peers.get(ino);
      if (!peer || sockets.has(peer)) continue;
      out.push({
        severity: 'refuse',
        object: `${where}: unix socket ${ino}`,
        problem: `connected to a peer outside the container (socket ${peer}): CRIU refuses external unix sockets`,
        advice: 'close that connection before moving',
      });
    }
  }
  // Processes in the container's pid namespace that its init is no ancestor of.
  const ns = await readlink(`/proc/${root}/ns/pid`).catch(() => '');
  const mine = new Map<string, string>();
  for (const k of SHARED_NS) mine.set(k, await readlink(`/proc/${root}/ns/${k}`).catch(() => ''));
  const inTree = new Set(tree);
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d) || inTree.has(Number(d))) continue;
    const pid = Number(d);
    if (ns && (await readlink(`/proc/${pid}/ns/pid`).catch(() => '')) === ns) {
      out.push({
        severity: 'warn',
        object: await who(pid),
        problem:
          "runs in the container's pid namespace but not under its init (tern exec): it does not move, and ends when the container leaves",
        advice: 'let it finish before moving',
      });
      continue;
    }
    // A host process inside one of the container's other namespaces keeps it
    // alive here after the move (the network one with the container's address).
    const shared: string[] = [];
    for (const k of SHARED_NS) {
      const n = mine.get(k);
      if (n && (await readlink(`/proc/${pid}/ns/${k}`).catch(() => '')) === n) shared.push(k);
    }
    if (shared.length > 0)
      out.push({
        severity: 'warn',
        object: `host pid ${pid} (${await comm(pid)})`,
        problem: `shares the container's ${shared.join(', ')} namespace${shared.length > 1 ? 's' : ''}: it keeps ${shared.length > 1 ? 'them' : 'it'} alive on this host after the move${shared.includes('net') ? ', with the container’s address' : ''}`,
        advice: 'end it before moving',
      });
  }

  return out;
}
