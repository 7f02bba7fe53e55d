// The checkpoint/restart engine behind one narrow interface. Today CRIU
// (kernel/criu.ts) implements it; nothing outside kernel/ knows CRIU's flags,
// logs or image format.
import type { Socket } from 'node:net';
import type { CertFiles } from '../core/pki.js';
import type { CgroupRoot } from './cgroups.js';
import type { ContainerNet } from './host.js';

export interface EngineInfo {
  ok: boolean;
  version: string;
  /** Why the engine cannot be used, with what to run to fix it. */
  error?: string;
  kernel: string;
}

/**
 * What one side saw of a page stream: its length. Both sides must agree.
 * The stream runs inside TLS 1.3: the receiver checks every record's
 * authentication tag (AES-GCM) before its bytes go on, and a stream cut
 * short ends without TLS's closing alert, so equal lengths mean the same
 * bytes, whole.
 */
export interface PageStream {
  bytes: number;
}

export interface DumpRequest {
  /** Host pid of the root of the tree (the container's init). */
  pid: number;
  /** Empty directory that receives the image files. */
  imagesDir: string;
  /** Directory for logs, the hook script and its fifos (not sent anywhere). */
  workDir: string;
  /** Outer (host-side) names of the container's veths. */
  externalVeths: string[];
  /** Keep established TCP connections (repaired on restore). */
  tcpEstablished: boolean;
  /**
   * The container cannot change its network namespace (netwire.ts): CRIU
   * dumps none of its properties (--empty-ns net), and the restore wires it
   * as a launch does (RestoreRequest.wire).
   */
  emptyNet?: boolean;
  /**
   * How long the frozen tree waits at post-dump for a verdict before the hook
   * gives up and the tree resumes here (the agent or coordinator is gone).
   */
  holdTimeoutSec: number;
  /**
   * Memory pages go to the peer's page server over this socket while the
   * dump runs, instead of into imagesDir, inside TLS: the engine takes the
   * connected socket over (the caller must not use it), checks the peer and
   * presents the credential before the dump starts.
   */
  pages?: { socket: Socket; tls: PageStreamTls };
  /**
   * Post-copy (needs `pages`): memory pages stay out of the images. After
   * the 'kill' verdict the engine serves them over the page stream, as the
   * target asks for them and in the background, and the dump ends once the
   * target has them all. The frozen tree is not needed for that: the pages
   * are held by the dump itself, so the caller may kill the tree at once.
   */
  lazy?: boolean;
  /**
   * Pre-copy: the last round's images, as CRIU's --prev-images-dir takes it
   * (relative to imagesDir). The dump sends only the pages written since
   * that round (memory change tracking) and links its images to it.
   */
  parent?: string;
}

/** Pre-copy: one round of memory, sent while the tree runs (see kernel/precopy.ts). */
export interface PreDumpRequest {
  pid: number;
  /** The round's own image directory (made if missing). */
  imagesDir: string;
  workDir: string;
  /** The round before, relative to imagesDir (none for the first round). */
  parent?: string;
  /** The page stream to the target, as for DumpRequest.pages. */
  pages: { socket: Socket; tls: PageStreamTls };
}

export interface PreDumpResult {
  /** The round's page stream as sent. */
  pagesBytes: number;
  ms: number;
  /** How long the tree was frozen while CRIU collected the dirty pages (from CRIU's stats). */
  frozenMs: number;
}

/**
 * How a page stream is secured: TLS with this agent's certificate files,
 * accepting only the agent of host `peer`, and the migration's credential
 * (presented by the sender, checked by the receiver).
 */
export interface PageStreamTls extends CertFiles {
  peer: string;
  /** A private file holding the migration's credential. */
  credentialFile: string;
}

export interface DumpHooks {
  /**
   * CRIU has frozen the tree and begins to dump it: nothing in the tree runs
   * until the verdict, so its files stay as they are (except what CRIU itself
   * links back, see --link-remap). Called at most once; may not come at all.
   */
  frozen?(): void;
  /**
   * Runs once the tree is frozen and every image file is complete. While it
   * runs, the tree stays frozen and intact. Resolving kills the frozen tree
   * (the container lives on wherever the images are restored); rejecting
   * unfreezes it, and the container keeps running here as if nothing happened.
   */
  postDump?(info: {
    imagesDir: string;
    frozenAtMs: number;
    criuPid: number;
    pages?: PageStream;
  }): Promise<void>;
  /**
   * The verdict reached the hold (delivered false: nothing was waiting for
   * it any more, the hold had given up and the tree runs on here).
   */
  verdictSent?(verdict: 'kill' | 'resume', delivered: boolean): void;
}

export interface DumpResult {
  /** killed: postDump resolved and CRIU killed the tree. resumed: the tree runs on. */
  outcome: 'killed' | 'resumed';
  /** From CRIU start to post-dump (tree frozen, images written). */
  dumpMs: number;
  frozenAtMs: number;
}

export interface RestoreRequest {
  imagesDir: string;
  workDir: string;
  /** Directory that becomes the restored tree's root. */
  rootfs: string;
  /** Inner veth name -> outer name and bridge to attach it to on this host. */
  veths: { inner: string; outer: string; bridge: string }[];
  /**
   * Images dumped with `emptyNet`: CRIU makes an empty network namespace
   * (--empty-ns net) and this wiring goes into it (netwire.ts) in place of
   * `veths`, before any socket is restored.
   */
  wire?: ContainerNet;
  /**
   * With `wire`: a namespace made and wired before the freeze
   * (HostRuntime.prewire), which the restore goes into instead of an empty
   * one; the wiring then only sets the outer veth end up. Only where
   * `joinsNetns` says this CRIU can.
   */
  netns?: string;
  tcpEstablished: boolean;
  /** Written by the reaper shim with the tree's exit status. */
  exitFile?: string;
  /** The container's cgroup on this host (made beforehand, with its limits), in place of the source's. */
  cgroupRoots?: CgroupRoot[];
  /** Post-copy: memory comes from the lazy-pages daemon (lazyPages, started first). */
  lazy?: boolean;
}

export interface RestoreResult {
  /** Host pid of the restored root; the whole tree is stopped. */
  pid: number;
  /** Pid of the shim that reaps the restored root. */
  shimPid: number;
  restoreMs: number;
}

export interface ImageProcess {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  threads: number[];
  /** Stopped (SIGSTOP, SIGTSTP...) when dumped: it must stay stopped once restored. */
  stopped: boolean;
  /** The signal that stopped it, when stopped. */
  stopSigno?: number;
}

export interface PageServerRequest {
  /** Receives the pages (pagemap and pages images). */
  imagesDir: string;
  workDir: string;
  /** Connected to the dumping peer, before TLS; the engine takes it over. */
  socket: Socket;
  tls: PageStreamTls;
  /** Pre-copy: the round before's images, relative to imagesDir (CRIU's --prev-images-dir). */
  parent?: string;
  /** Names this stream's log and length files in workDir when several share it (pre-copy rounds). */
  tag?: string;
}

/** The target's side of a post-copy page stream (CRIU's lazy-pages daemon behind tern-relay). */
export interface LazyPages {
  /**
   * Starts the daemon once the images are complete (it reads them) and
   * resolves when a lazy restore can start: at once if the restore waits
   * for the daemon to listen (tern's CRIU), else once it listens. Calling
   * it again returns the same promise.
   */
  start(): Promise<void>;
  /** Bytes of the page stream that arrived so far. */
  moved(): Promise<number>;
  /**
   * Settles when the daemon has exited: with the stream (every page
   * arrived, whole), or rejected: pages are missing and a restored tree
   * cannot go on.
   */
  done: Promise<PageStream>;
  /** Ends the daemon (and so the stream). */
  stop(): void;
  /** The process that carries the stream (tern-relay), to follow it after an agent restart. */
  pid: number;
}

export interface CheckpointEngine {
  check(): Promise<EngineInfo>;
  dump(req: DumpRequest, hooks: DumpHooks, signal?: AbortSignal): Promise<DumpResult>;
  /**
   * Decides a hold left by a dump this process no longer drives (the agent
   * restarted): 'kill' lets CRIU kill the frozen tree, 'resume' unfreezes it.
   * Returns false if nothing was waiting for a verdict.
   */
  decideOrphanHold(workDir: string, verdict: 'kill' | 'resume', waitMs?: number): Promise<boolean>;
  /**
   * Serves one dump's pages into imagesDir; resolves once the dump has sent
   * them all, with what arrived (to compare with what the peer sent).
   */
  servePages(req: PageServerRequest, signal?: AbortSignal): Promise<PageStream>;
  /**
   * Takes a post-copy page stream over (the socket is authenticated as for
   * servePages) and holds it until start(): the daemon that serves a lazy
   * restore's page faults from it needs the images first.
   */
  lazyPages(req: PageServerRequest): LazyPages;
  /**
   * Follows a post-copy page stream that an earlier agent started (its
   * tern-relay, pid, working in workDir): done settles when it ends.
   */
  adoptLazyPages(workDir: string, pid: number): LazyPages;
  /**
   * Whether post-copy can run on this host: undefined if it can, else why
   * not. May raise the host's pipe size limit, which CRIU's lazy page
   * transfer needs, and says so in its log.
   */
  postcopyReady(): Promise<string | undefined>;
  /**
   * Whether pre-copy can run on this host: undefined if it can, else why not
   * (CRIU's memory change tracking needs the kernel's soft-dirty bits).
   */
  precopyReady(): Promise<string | undefined>;
  /** Pre-copy: one round of the tree's memory, sent while it runs on. */
  preDump(req: PreDumpRequest, signal?: AbortSignal): Promise<PreDumpResult>;
  /** Bytes the page stream of the dump or round running in workDir has sent so far. */
  sentPages(workDir: string): Promise<number>;
  /**
   * Removes what a dump on this host may have left behind on these host-side
   * veth names (the gate that holds new connections off, which would attach
   * itself to a new device of the same name). Called before a restore that
   * will create them, outside the frozen window; never fails.
   */
  liftGates(veths: string[]): Promise<void>;
  /** Restores detached and stopped: tasks exist, none runs until resumed. */
  restore(req: RestoreRequest, signal?: AbortSignal): Promise<RestoreResult>;
  /** Whether a restore can go into a namespace made beforehand (RestoreRequest.netns). */
  joinsNetns?(): Promise<boolean>;
  /** The process tree recorded in an image set (pids as seen inside). */
  processTree(imagesDir: string): Promise<ImageProcess[]>;
  /** This host's CPU description, to compare with another host's. */
  cpuinfo(workDir: string): Promise<Buffer>;
  /** Whether a tree dumped on the host that produced `other` can run here. */
  cpuinfoCompatible(workDir: string, other: Buffer): Promise<{ ok: boolean; detail: string }>;
}
