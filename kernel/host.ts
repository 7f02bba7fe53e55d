// The host a container runs on, behind one narrow interface: its processes
// (launch, liveness, signals), its network links and commands run inside a
// container. kernel/linux-host.ts drives the real host (tern-shim, /proc,
// iproute2, nsenter); the in-process test tier puts a simulated host behind
// the same interface, so that agents run unchanged without root.
import type { ContainerCgroups } from './cgroups.js';
import type { Finding } from './leaks.js';
import type { RootfsArchive } from './rootfs-archive.js';
import type { WarmHold } from './warm.js';

export interface ContainerLaunch {
  /** The tern-shim binary that becomes the container init's parent and reaper. */
  shim: string;
  rootfs: string;
  hostname: string;
  /** Path inside the rootfs that receives the container's stdout and stderr. */
  console: string;
  env: string[];
  /** Capabilities beyond the default set (core/caps.ts names). */
  capAdd?: string[];
  /** Without tern's seccomp filter. */
  noSeccomp?: boolean;
  command: string[];
  /** Written by the shim with the tree's exit status. */
  exitFile: string;
  /** The container's cgroup (created with its limits) that the init enters before it runs. */
  cgroup?: string;
}

export interface ContainerNet {
  /** Outer end of the veth pair, on this host's bridge. */
  veth: string;
  bridge: string;
  mac: string;
  /** a.b.c.d/prefix, given to the inner end (eth0). */
  ip: string;
}

export interface ExecConfinement {
  /** The tern-shim binary that enters the container. */
  shim: string;
  /** The container's capabilities beyond the default set. */
  capAdd: string[];
  /** The container runs without tern's seccomp filter. */
  noSeccomp: boolean;
  /** cgroup.procs files of the container's cgroup, joined first (its limits count the command). */
  cgroups?: string[];
}

export interface ExecResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

export interface HostRuntime {
  /** Cgroups for containers with memory and pids limits. */
  readonly cgroups: ContainerCgroups;
  /** Packs, compares and unpacks rootfs directories (a container's rootfs on the move). */
  readonly rootfs: RootfsArchive;
  /**
   * Starts a container's first process in new namespaces and wires its
   * network before the process runs. Throws, leaving nothing behind, if
   * either fails.
   */
  launch(spec: ContainerLaunch, net: ContainerNet): Promise<{ pid: number; shimPid: number }>;
  /** Removes an outer veth end if it is still there (it usually dies with the netns). */
  unwire(veth: string): Promise<void>;
  /**
   * Makes the named network namespace `name` for a restore, wired with its
   * outer veth end down (netwire.ts prewiringScript); returns its path. A
   * host without it restores into a namespace CRIU makes.
   */
  prewire?(name: string, net: ContainerNet): Promise<string>;
  /**
   * Removes the name of a namespace prewire made: the namespace goes with
   * it, and its veth pair, unless a restored tree is in it. Idempotent.
   */
  unprewire?(name: string): Promise<void>;
  /** The names of the namespaces prewire made that are still there. */
  prewired?(): Promise<string[]>;
  /** Interface names present on this host. */
  linkNames(): Promise<Set<string>>;
  /** Tells the LAN that the container's address now lives here (gratuitous ARP). */
  announce(pid: number, ip: string): Promise<void>;
  /**
   * Runs a command inside the container whose init is pid, confined as the
   * container is (tern-shim exec: same capabilities, no_new_privs).
   */
  exec(pid: number, command: string[], timeoutMs: number, confine: ExecConfinement): Promise<ExecResult>;
  /** True while pid exists and is not a zombie. */
  alive(pid: number): Promise<boolean>;
  /** Identifies a process together with its pid (guards against pid reuse). */
  startTime(pid: number): Promise<string | undefined>;
  /** Waits until pid is gone; returns whether it is. */
  waitGone(pid: number, timeoutMs: number): Promise<boolean>;
  /** Waits until pid is gone or has begun to exit (it never runs again); returns whether it has. */
  waitExiting(pid: number, timeoutMs: number): Promise<boolean>;
  /** SIGKILL, ignoring a process that is already gone. */
  kill(pid: number): void;
  /**
   * SIGSTOP to every process of the tree rooted at pid. A tree that CRIU
   * holds frozen stays as it is, and stops (runs none of its code) the moment
   * CRIU lets it go; nothing of it is written meanwhile, unlike a kill,
   * whose exiting threads write their memory (see SourceHolds.commit).
   */
  stopTree(root: number): Promise<void>;
  /**
   * Lets a tree restored stopped run again, except the tasks (by pid inside
   * the container) that were stopped when dumped: they stay stopped by the
   * signal that stopped them.
   */
  resumeTree(root: number, keepStopped: ReadonlyMap<number, number | undefined>): Promise<void>;
  /** Resident memory of pid and all its descendants, in bytes. */
  treeMemory(pid: number): Promise<number>;
  /** The host's memory: MemAvailable and MemTotal, in bytes. */
  memory(): Promise<{ available: number; total: number }>;
  /** Bytes allocated under dir (a rootfs), as du counts them (holes of sparse files excluded). */
  diskUsage(dir: string): Promise<number>;
  /** What of the tree rooted at pid CRIU would refuse to dump, or leave behind (kernel/leaks.ts). */
  leaks(pid: number): Promise<Finding[]>;
  /** A pid that existed a moment ago and is gone now (to make a dump fail on purpose). */
  exitedPid(): Promise<number>;
  /**
   * Holds up to `bytes` of memory touched until released, so that a move
   * allocates memory that is still backed (kernel/warm.ts says why).
   */
  warmMemory(bytes: number): Promise<WarmHold>;
}
