// A target's slot for one incoming migration: what it holds while the images
// arrive and the tree is restored, what it leaves on disk for a restarted
// agent, and how a stream into it is bounded. Shared by target.ts, which
// drives the slot, and receive.ts, which writes the images into it.
import type { LazyPages, PageStream } from '../../kernel/engine.js';
import type { WarmHold } from '../../kernel/warm.js';
import type { EncodeStats } from '../../proto/chunks.js';
import type { ContainerRecord } from '../containers.js';
import type { ChunkStream } from './context.js';

/** What a target slot leaves on disk once its tree is restored. */
export interface SlotFile {
  id: string;
  container: ContainerRecord;
  received?: EncodeStats;
  restored?: ContainerRecord;
  /** Post-copy, once resumed: the tern-relay carrying the pages that still come. */
  pagesPid?: number;
  /** A post-copy restore: its tree cannot run without the page stream of the agent that wrote this. */
  postcopy?: boolean;
}
export const SLOT_FILE = 'slot.json';

export interface TargetSlot {
  id: string;
  container: ContainerRecord;
  workDir: string;
  imagesDir: string;
  received?: EncodeStats;
  /** While images arrive: stops the stream, and settles when the receiver has stopped writing. */
  receiving?: { stop: () => void; done: Promise<unknown> };
  /** While the tree is restored: stops the restore, and settles when it has. */
  restoring?: { stop: () => void; done: Promise<ContainerRecord> };
  /** Why the restore failed, for the RestoreStopped that comes after it. */
  restoreFailed?: Error;
  restored?: ContainerRecord;
  resumed?: boolean;
  /** Presented to the source's data channel to fetch this migration's images. */
  credential?: string;
  /** The migration's source host: the only agent that may send its pages, and serves its images. */
  sourceHost?: string;
  /** Tasks that were stopped when dumped (by pid inside the container, with their signal): read while restoring. */
  stopped?: Map<number, number | undefined>;
  /** Taken over by a restarted agent, restored from images ReceiveImages never checked: refused. */
  uncheckedRestore?: boolean;
  /** The resume under way or done (TargetService.resume). */
  resuming?: Promise<ContainerRecord>;
  /** The rootfs arrived before the freeze (the pre-copy): the images bring only what changed. */
  rootfsPrecopied?: boolean;
  /**
   * The images fetch, opened before the freeze (connected, TLS done): the
   * source streams the images into it as soon as it holds the tree.
   */
  early?: {
    address: string;
    fetch: ChunkStream;
    /** Settles when the images are written and checked and the rootfs is up to date. */
    done: Promise<EncodeStats>;
    /** ReceiveImages came: from now on a stream that stops moving fails. */
    go: () => void;
  };
  /** The images fetched early are in (not yet checked against what the source announced). */
  imagesIn?: EncodeStats;
  /** An abort is under way: nothing new (restore, daemon) starts in this slot. */
  aborting?: boolean;
  /** A page server receiving this migration's pages while the source dumps. */
  pages?: { result: Promise<PageStream>; stop: () => void };
  /** Pre-copy: the page server of each round (round 1 first), into its own images directory. */
  rounds?: { result: Promise<PageStream>; stop: () => void }[];
  /** Post-copy: pages come after the resume, through CRIU's lazy-pages daemon. */
  postcopy?: boolean;
  /** The source dumps no network namespace of a container that cannot change its own: the restore wires it. */
  emptyNet?: boolean;
  /**
   * The network namespace made for the restore before the freeze (its name
   * and path, HostRuntime.prewire); the name goes once the restore is in it.
   */
  netns?: { name: string; path: string };
  /** The preflight's estimate of the container's memory and rootfs, in bytes. */
  estimate?: number;
  /** Post-copy: the page stream, held from the dump on until the restore starts its daemon. */
  lazy?: LazyPages;
  /**
   * Memory warmed during the preflight (kernel/warm.ts): one hold for the
   * dump's pages, let go when they start to arrive, one for the restored
   * tree, let go when the restore starts.
   */
  warm?: { pages: WarmHold; restore: WarmHold };
}

/** How the receiver bounds a stream. */
export interface ReceiveLimits {
  /** Refuse a stream carrying more raw bytes than this (0: no limit beyond free space). */
  maxBytes: number;
  /** Give up when no chunk arrives for this long. */
  stallMs: number;
  /** The page stream as the source sent it during the dump, if it sent one. */
  pages?: PageStream;
  /** Pre-copy: each round's page stream as the source sent it (round 1 first). */
  rounds?: PageStream[];
}
