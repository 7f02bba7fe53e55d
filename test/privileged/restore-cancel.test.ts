// Cancelling a restore with real CRIU, on this machine only (no testbed): a
// container with 256 MiB of memory is dumped in place, then restored, and the
// restore is aborted while CRIU is creating the tree. The engine must reject
// with CANCELLED and leave nothing behind: no criu, no restored task, no shim.
// The same images then restore fine.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TernError } from '../../core/errors.js';
import { CRIU, waitFor, workloadRootfs } from '../../deploy/testbed/driver.js';
import { CriuEngine } from '../../kernel/criu.js';
import { alive, waitGone } from '../../kernel/proc.js';
import { defaultShimPath, launchContainer } from '../../kernel/shim.js';
import { requirePrivileges } from '../lib/privileges.js';

/** Live processes whose command line mentions one of `markers`. */
async function processesWith(markers: string[]): Promise<number[]> {
  const out: number[] = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    const cmd = await readFile(`/proc/${d}/cmdline`, 'utf8').catch(() => '');
    if (markers.some((m) => cmd.includes(m)) && (await alive(Number(d)))) out.push(Number(d));
  }
  return out;
}

/** Whether pid lives in a pid namespace below ours (a task of a restored tree). */
async function inChildPidns(pid: number): Promise<boolean> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return (/^NSpid:\s+(.*)$/m.exec(status)?.[1].trim().split(/\s+/).length ?? 0) > 1;
}

describe('cancelling a restore (privileged)', function () {
  this.timeout(300_000);
  let rootfs: Awaited<ReturnType<typeof workloadRootfs>> | undefined;
  let work = '';
  /** The work dir (in criu's and the shim's command lines) and the memhog's file. */
  let markers: string[] = [];
  const started: number[] = [];

  before(function () {
    requirePrivileges(this);
  });

  after(async () => {
    const left = markers.length ? await processesWith(markers) : [];
    for (const p of [...started, ...left]) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rootfs?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('kills criu restore and the tree it was making, rejects with CANCELLED; the images restore afterwards', async () => {
    rootfs = await workloadRootfs();
    work = await mkdtemp(join(tmpdir(), 'tern-restore-cancel-'));
    const shim = defaultShimPath();
    const memFile = `/tmp/mem-${work.split('-').pop()}`;
    markers = [work, memFile];
    const launched = await launchContainer(
      shim,
      {
        rootfs: rootfs.dir,
        hostname: 'cancel',
        console: '/tmp/console.log',
        env: [],
        command: [
          '/bin/sh',
          '-c',
          `/bin/workload memhog 256 7 random ${memFile} & /bin/workload heartbeat /tmp/hb & wait`,
        ],
      },
      async (pid) => {
        execFileSync('nsenter', ['-t', String(pid), '-n', 'ip', 'link', 'set', 'lo', 'up']);
      },
    );
    started.push(launched.pid, launched.shimPid);
    await waitFor(
      'the memhog',
      async () => existsSync(join(rootfs?.dir ?? '', memFile)) || undefined,
      60_000,
    );

    const engine = new CriuEngine({ criuPath: CRIU, shimPath: shim });
    const imagesDir = join(work, 'images');
    const d = await engine.dump(
      {
        pid: launched.pid,
        imagesDir,
        workDir: join(work, 'dump'),
        externalVeths: [],
        tcpEstablished: false,
        holdTimeoutSec: 60,
      },
      { postDump: async () => {} },
    );
    assert.equal(d.outcome, 'killed');
    assert.ok(await waitGone(launched.pid, 5_000), 'dumped tree still alive');

    // Abort once CRIU has created the tree's first task in its new pid namespace.
    const req = {
      imagesDir,
      workDir: join(work, 'restore1'),
      rootfs: rootfs.dir,
      veths: [],
      tcpEstablished: false,
    };
    const ac = new AbortController();
    const restoring = engine.restore(req, ac.signal);
    let seen: number[] = [];
    try {
      seen = await waitFor(
        'criu restore to create the tree',
        async () => {
          const ps = await processesWith(markers);
          for (const p of ps) if (await inChildPidns(p)) return ps;
          return undefined;
        },
        60_000,
      );
    } finally {
      ac.abort();
    }
    await assert.rejects(restoring, (e) => e instanceof TernError && e.code === 'CANCELLED');
    assert.ok(seen.length >= 3, `expected criu, the shim and a restored task, saw ${seen.join(' ')}`);
    for (const p of seen)
      assert.ok(await waitGone(p, 5_000), `process ${p} of the aborted restore still alive`);
    assert.deepEqual(await processesWith(markers), [], 'processes of the aborted restore left');

    // Nothing the aborted restore made stands in the way of the next one.
    const r = await engine.restore({ ...req, workDir: join(work, 'restore2') });
    started.push(r.pid, r.shimPid);
    const cmd = await readFile(`/proc/${r.pid}/cmdline`, 'utf8');
    assert.match(cmd, /^\/bin\/sh/);
  });
});
