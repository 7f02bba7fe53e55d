// How a container's rootfs is packed, compared and unpacked on the move
// (agent/handoff/rootfs.ts says when each happens). Before the freeze the whole rootfs goes
// to the target as a tar (the pre-copy) while the container still runs; a
// marker file taken just before it says when. While the tree is frozen only
// what changed since goes: every path whose mtime or ctime is newer than the
// marker (ctime cannot be set back from inside a container, so a file
// written and then given an old mtime still counts), as a tar of just those
// paths. Deletions show the same way: removing, adding or renaming an entry
// changes its directory's mtime, so for every changed directory the source
// also sends the names it holds now, and the target removes whatever else it
// has there. That is exact whatever happened while the pre-copy ran; a
// directory that did not change lost no entries. A container that changed
// nothing sends nothing for its rootfs while frozen.
import { spawn } from 'node:child_process';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { TernError } from '../core/errors.js';
import { runOk } from './exec.js';

/** What the handoff does to rootfs directories; tar and find on a real host (TarArchive). */
export interface RootfsArchive {
  /** The rootfs (or only the listed paths) as a tar stream; `live`: the container runs meanwhile. */
  pack(rootfs: string, paths?: string[], live?: boolean): AsyncGenerator<Buffer>;
  /** The paths changed since the marker file was made, and which of them are directories. */
  changes(rootfs: string, marker: string): Promise<{ changed: string[]; dirs: string[] }>;
  /** What each of these directories holds now, in the form a DeltaUnpacker reads (dirListing). */
  listing(rootfs: string, dirs: string[]): Promise<Buffer>;
  /** Unpacks a full rootfs tar into an empty directory. */
  unpack(rootfs: string, tarFile: string): Promise<void>;
  /**
   * What brings a pre-copied rootfs up to date, made ready ahead: started
   * before the freeze, it waits for the delta, so that none of its set-up
   * falls in the frozen window.
   */
  startDelta(rootfs: string): DeltaUnpacker;
}

/** A delta unpacker waiting for its delta (RootfsArchive.startDelta). */
export interface DeltaUnpacker {
  /**
   * Once: unpacks the changed paths over the rootfs (when any changed),
   * then, in every directory that changed, removes what the source's
   * listing of it does not have. The unpacker is spent afterwards.
   */
  apply(deltaTar?: string, dirsFile?: string): Promise<void>;
  /** Lets go of what it holds unless apply() has finished: no-op after. */
  cancel(): void;
}

/** RootfsArchive with GNU tar and find. */
export class TarArchive implements RootfsArchive {
  readonly pack = tarStream;
  readonly changes = scanChanges;
  readonly listing = dirListing;
  readonly unpack = unpackRootfs;
  readonly startDelta = startDelta;
}

const TAR_FLAGS = ['--numeric-owner', '--xattrs', '--sparse'];

/**
 * A tar of the rootfs (or of the listed paths only) as a stream; throws at
 * the end if tar failed. `live`: the container runs while tar reads (the
 * pre-copy), so a file that changes or goes meanwhile is no failure (tar
 * exits 1): the changes made after the marker follow in the delta.
 */
async function* tarStream(rootfs: string, paths?: string[], live = false): AsyncGenerator<Buffer> {
  const argv = ['-C', rootfs, ...TAR_FLAGS, '-cpf', '-'];
  if (live) argv.push('--warning=no-file-changed', '--warning=no-file-removed', '--ignore-failed-read');
  if (paths) argv.push('--no-recursion', '--null', '-T', '-');
  else argv.push('.');
  const tar = spawn('tar', argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  tar.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  tar.stdin.on('error', () => {});
  tar.stdin.end(paths ? paths.map((p) => `${p}\0`).join('') : '');
  const exited = new Promise<number | null>((r) => tar.on('close', r));
  try {
    for await (const b of tar.stdout) yield b as Buffer;
    const code = await exited;
    if (code !== 0 && !(live && code === 1))
      throw new TernError('INTERNAL', `tar of the rootfs failed: ${err.trim()}`);
  } finally {
    if (tar.exitCode === null) tar.kill('SIGKILL');
  }
}

/**
 * The paths under rootfs (relative, "./...") whose mtime or ctime is newer
 * than the marker's, and which of them (the root included) are directories.
 */
async function scanChanges(rootfs: string, marker: string): Promise<{ changed: string[]; dirs: string[] }> {
  const argv = ['find', '.', '(', '-newer', marker, '-o', '-cnewer', marker, ')', '-printf', '%y%p\\0'];
  const out = await runOk(argv, { cwd: rootfs, maxOutput: 1 << 30 });
  const changed: string[] = [];
  const dirs: string[] = [];
  for (const e of out.split('\0')) {
    if (!e) continue;
    const p = e.slice(1);
    if (e[0] === 'd') dirs.push(p);
    if (p !== '.') changed.push(p);
  }
  return { changed, dirs };
}

/**
 * The listing of each changed directory: its path, then each name it holds,
 * every field NUL-terminated, a directory ended by an empty field.
 */
async function dirListing(rootfs: string, dirs: string[]): Promise<Buffer> {
  const parts: string[] = [];
  for (const d of dirs) {
    const names = await readdir(join(rootfs, d)).catch(() => undefined);
    if (!names) continue; // gone since the scan: its parent's listing says so
    parts.push(`${d}\0`, ...names.map((n) => `${n}\0`), '\0');
  }
  return Buffer.from(parts.join(''));
}

/** Parses dirListing's format. */
function parseListing(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const fields = text.split('\0');
  let i = 0;
  while (i < fields.length && fields[i] !== '') {
    const dir = fields[i++];
    const names = new Set<string>();
    while (i < fields.length && fields[i] !== '') names.add(fields[i++]);
    i++;
    out.set(dir, names);
  }
  return out;
}

/** Unpacks a full rootfs tar into an empty rootfs directory. */
async function unpackRootfs(rootfs: string, tarFile: string): Promise<void> {
  await runOk(['tar', '-C', rootfs, ...TAR_FLAGS, '-xpf', tarFile]).catch((e) => {
    throw new TernError('INTERNAL', `unpacking the rootfs failed: ${(e as Error).message}`);
  });
}

const DELTA_FLAGS = [...TAR_FLAGS, '--overwrite', '-xpf'];

/** A delta up to this size is read in one go. */
const SMALL_DELTA = 8 << 20;

/**
 * The delta unpacker: its tar already running, reading the delta from its
 * stdin (a fork of the agent costs milliseconds on a loaded host, and the
 * target applies the delta while the source is frozen). Without a delta the
 * waiting tar is ended unused.
 */
function startDelta(rootfs: string): DeltaUnpacker {
  const tar = spawn('tar', ['-C', rootfs, ...DELTA_FLAGS, '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  tar.stderr.on('data', (b: Buffer) => {
    if (err.length < 4096) err += b.toString();
  });
  tar.stdin.on('error', () => {});
  const exited = new Promise<number | null>((resolve) => {
    tar.on('close', resolve);
    tar.on('error', (e) => {
      err ||= e.message;
      resolve(null);
    });
  });
  let applied = false;
  const cancel = () => {
    if (!applied && tar.exitCode === null && tar.signalCode === null) tar.kill('SIGKILL');
  };
  return {
    cancel,
    async apply(deltaTar, dirsFile) {
      if (deltaTar) {
        // A small delta in one synchronous read: through a read stream it
        // queues in the thread pool behind whatever else the agent does.
        if (statSync(deltaTar).size <= SMALL_DELTA) tar.stdin.end(readFileSync(deltaTar));
        else await pipeline(createReadStream(deltaTar), tar.stdin).catch(() => {});
        const code = await exited;
        if (code !== 0)
          throw new TernError(
            'INTERNAL',
            `applying the rootfs changes failed: ${err.trim() || `tar ended with ${code ?? tar.signalCode}`}`,
          );
      } else cancel();
      applied = true;
      await removeUnlisted(rootfs, dirsFile);
    },
  };
}

/** In every directory the listing names, removes what it does not list. */
async function removeUnlisted(rootfs: string, dirsFile?: string): Promise<void> {
  if (!dirsFile) return;
  for (const [dir, keep] of parseListing(await readFile(dirsFile, 'utf8'))) {
    // Only plain relative paths inside the rootfs.
    if (!(dir === '.' || dir.startsWith('./')) || dir.split('/').includes('..')) continue;
    const here = await readdir(join(rootfs, dir)).catch(() => [] as string[]);
    for (const name of here) {
      if (keep.has(name) || name.includes('/')) continue;
      await rm(join(rootfs, dir, name), { recursive: true, force: true });
    }
  }
}
