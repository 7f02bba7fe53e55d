// The container's rootfs on the move. Before the freeze the whole rootfs goes
// to the target as a tar (the pre-copy) while the container still runs; a
// marker file taken just before it says when. While the tree is frozen only
// what changed since goes: every path whose mtime or ctime is newer than the
// marker (ctime cannot be set back from inside a container, so a file
// written and then given an old mtime still counts), as a tar of just those
// paths, and the list of paths the pre-copy had that are gone now, so the
// target removes what the container deleted. A container that changed
// nothing sends nothing for its rootfs while frozen.
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TernError } from '../../core/errors.js';
import { run, runOk } from '../../kernel/exec.js';

/** Paths the pre-copy carried that no longer exist, NUL-terminated. */
export const ROOTFS_GONE = 'rootfs.gone';
export const ROOTFS_DELTA = 'rootfs-delta.tar';
/** Taken in the source's migration directory when the pre-copy starts. */
export const MARKER = 'rootfs.marker';

const TAR_FLAGS = ['--numeric-owner', '--xattrs', '--sparse'];

/** A tar of the rootfs (or of the listed paths only) as a stream; throws at the end if tar failed. */
export async function* tarStream(rootfs: string, paths?: string[]): AsyncGenerator<Buffer> {
  const argv = ['-C', rootfs, ...TAR_FLAGS, '-cpf', '-'];
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
    if (code !== 0) throw new TernError('INTERNAL', `tar of the rootfs failed: ${err.trim()}`);
  } finally {
    if (tar.exitCode === null) tar.kill('SIGKILL');
  }
}

/** Every path under rootfs (relative, "./..."). */
export async function listPaths(rootfs: string): Promise<string[]> {
  const out = await runOk(['find', '.', '-print0'], { cwd: rootfs, maxOutput: 1 << 30 });
  return out.split('\0').filter(Boolean);
}

/** Every path under rootfs (relative, "./..."), and those changed since the marker's time. */
export async function scanChanges(
  rootfs: string,
  marker: string,
): Promise<{ changed: string[]; all: string[] }> {
  const out = await runOk(
    [
      'find',
      '.',
      '(',
      '-newer',
      marker,
      '-o',
      '-cnewer',
      marker,
      ')',
      '-printf',
      'C%p\\0',
      '-o',
      '-printf',
      'U%p\\0',
    ],
    { cwd: rootfs, maxOutput: 1 << 30 },
  );
  const changed: string[] = [];
  const all: string[] = [];
  for (const e of out.split('\0')) {
    if (!e) continue;
    const p = e.slice(1);
    all.push(p);
    if (e[0] === 'C' && p !== '.') changed.push(p);
  }
  return { changed, all };
}

/** Unpacks a full rootfs tar into an empty rootfs directory. */
export async function unpackRootfs(rootfs: string, tarFile: string): Promise<void> {
  await runOk(['tar', '-C', rootfs, ...TAR_FLAGS, '-xpf', tarFile]).catch((e) => {
    throw new TernError('INTERNAL', `unpacking the rootfs failed: ${(e as Error).message}`);
  });
}

/**
 * Brings a pre-copied rootfs up to date: unpacks the changed paths over it
 * (when any changed), then removes the paths the source no longer has.
 */
export async function applyDelta(rootfs: string, deltaTar?: string, goneFile?: string): Promise<void> {
  if (deltaTar) {
    const r = await run(['tar', '-C', rootfs, ...TAR_FLAGS, '--overwrite', '-xpf', deltaTar]);
    if (r.code !== 0)
      throw new TernError('INTERNAL', `applying the rootfs changes failed: ${r.stderr.toString().trim()}`);
  }
  if (!goneFile) return;
  const gone = (await readFile(goneFile, 'utf8')).split('\0').filter(Boolean);
  // Deepest first, and only plain relative paths inside the rootfs.
  for (const p of gone.sort((x, y) => y.length - x.length)) {
    if (!p.startsWith('./') || p.split('/').includes('..')) continue;
    await rm(join(rootfs, p), { recursive: true, force: true });
  }
}

/** The list file's content: every path, NUL-terminated. */
export function listFile(paths: string[]): Buffer {
  return Buffer.from(paths.map((p) => `${p}\0`).join(''));
}

export async function takeMarker(workDir: string): Promise<string> {
  const m = join(workDir, MARKER);
  await writeFile(m, '');
  return m;
}
