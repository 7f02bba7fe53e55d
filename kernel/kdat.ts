// CRIU's cache of what the kernel can do. Every `criu` run first probes the
// kernel (netlink, vDSO, CPU features, userfaultfd: 25-50 ms on the test
// machine) unless it finds the result of an earlier run in `criu.kdat`,
// which it keeps only on a tmpfs, so that a reboot into another kernel
// drops it. A restore runs while the container is frozen, so without the
// cache every move's pause pays for the probe (a post-copy move twice: the
// lazy-pages daemon and the restore).
//
// tern builds its CRIU with RUNDIR=CRIU_RUNDIR (deploy/install.sh) instead
// of /run: a directory of tern's own, root's alone. On most hosts /run is a
// tmpfs and nothing more is needed; where it is not, the agent mounts a
// small tmpfs there. Without either, CRIU still works, probing every time.
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { onTmpfs, privateDir } from '../core/files.js';
import { criuHas } from './criu-features.js';
import { run } from './exec.js';

/** Where tern's CRIU keeps `criu.kdat` (its build's RUNDIR). */
export const CRIU_RUNDIR = '/run/tern/criu';

/**
 * Whether the CRIU binary at `criuPath` keeps its cache in `dir` (was built
 * with that RUNDIR): only then is the directory worth preparing.
 */
export function keepsKdatIn(criuPath: string, dir = CRIU_RUNDIR): Promise<boolean> {
  return criuHas(criuPath, `${dir}/criu.kdat`);
}

/** How the cache directory was found or made, or why CRIU cannot keep its cache there. */
export type KdatCache = { ok: true; mounted: boolean } | { ok: false; why: string };

/**
 * Makes `dir` a root-only directory on a tmpfs (mounting one of 1 MiB if
 * needed), and removes a `criu.kdat.tmp` left by a CRIU killed while it
 * saved the cache: CRIU creates that file with O_EXCL and, finding it, never
 * saves again (a CRIU saving at this very moment then fails to rename it,
 * and the next run saves).
 */
export async function prepareKdatCache(dir = CRIU_RUNDIR): Promise<KdatCache> {
  try {
    await privateDir(dir);
    let mounted = false;
    if (!(await onTmpfs(dir))) {
      const r = await run([
        'mount',
        '-t',
        'tmpfs',
        '-o',
        'size=1m,mode=0700,nosuid,nodev,noexec',
        'tern-criu',
        dir,
      ]);
      if (r.code !== 0)
        return { ok: false, why: `cannot mount a tmpfs on ${dir}: ${r.stderr.toString().trim()}` };
      mounted = true;
    }
    await unlink(join(dir, 'criu.kdat.tmp')).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    return { ok: true, mounted };
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  }
}
