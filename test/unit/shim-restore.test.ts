// restoreUnderShim with the real tern-shim driving a stand-in for `criu
// restore` (a shell that leaves processes behind, as criu leaves the restored
// tree): whatever way the restore ends without a confirmed tree, nothing it
// started may keep running. Needs no root: only a child subreaper.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TernError } from '../../core/errors.js';
import { alive, waitGone } from '../../kernel/proc.js';
import { defaultShimPath, isCriuFailure, restoreUnderShim } from '../../kernel/shim.js';

const SHIM = defaultShimPath();

async function waitFile(file: string, timeoutMs = 5_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const v = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (v > 0) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no pid in ${file}`);
}

async function assertGone(pids: number[]): Promise<void> {
  for (const p of pids) assert.ok(await waitGone(p, 2_000), `process ${p} still alive`);
}

const isCode = (code: string, re: RegExp) => (e: unknown) =>
  e instanceof TernError && e.code === code && re.test(e.message);

describe('restoreUnderShim (tern-shim with a stand-in criu)', function () {
  this.timeout(30_000);
  let dir = '';
  const leftovers: number[] = [];

  before(function () {
    if (!existsSync(SHIM)) this.skip();
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tern-shim-test-'));
  });

  afterEach(async () => {
    for (const p of leftovers.splice(0)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  const opts = (extra: Partial<Parameters<typeof restoreUnderShim>[2]> = {}) => ({
    pidfile: join(dir, 'restored.pid'),
    log: join(dir, 'restore.out'),
    timeoutMs: 10_000,
    ...extra,
  });

  it('hands over the restored root once criu exits 0 and the root is the shim child', async () => {
    const r = await restoreUnderShim(
      SHIM,
      ['/bin/sh', '-c', `sleep 300 & echo $! > ${dir}/restored.pid`],
      opts(),
    );
    leftovers.push(r.pid, r.shimPid);
    assert.equal(r.failure, undefined);
    assert.ok(await alive(r.pid));
    const status = await readFile(`/proc/${r.pid}/status`, 'utf8');
    assert.match(status, new RegExp(`^PPid:\\s+${r.shimPid}$`, 'm'));
  });

  it('an abort kills criu and what it started, then rejects with CANCELLED', async () => {
    const ac = new AbortController();
    const p = restoreUnderShim(
      SHIM,
      ['/bin/sh', '-c', `sleep 300 & echo $! > ${dir}/tree.pid; echo $$ > ${dir}/criu.pid; wait`],
      { ...opts(), signal: ac.signal },
    );
    const tree = await waitFile(join(dir, 'tree.pid'));
    const criu = await waitFile(join(dir, 'criu.pid'));
    leftovers.push(tree, criu);
    ac.abort();
    await assert.rejects(p, isCode('CANCELLED', /cancelled/));
    await assertGone([tree, criu]);
  });

  it('an abort before anything started rejects at once', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(
      restoreUnderShim(SHIM, ['/bin/sh', '-c', `touch ${dir}/ran`], { ...opts(), signal: ac.signal }),
      isCode('CANCELLED', /cancelled/),
    );
    assert.ok(!existsSync(join(dir, 'ran')));
  });

  it('a failed criu is reported as such, and what it left behind is killed', async () => {
    const r = await restoreUnderShim(
      SHIM,
      ['/bin/sh', '-c', `sleep 300 & echo $! > ${dir}/tree.pid; exit 3`],
      opts(),
    );
    assert.equal(r.failure, 'criu exited with status 3');
    assert.ok(isCriuFailure(r.failure));
    const tree = await waitFile(join(dir, 'tree.pid'));
    leftovers.push(tree);
    await assertGone([tree]);
  });

  it('a criu that does not finish in time is killed with its tree', async () => {
    const r = await restoreUnderShim(
      SHIM,
      ['/bin/sh', '-c', `sleep 300 & echo $! > ${dir}/tree.pid; echo $$ > ${dir}/criu.pid; wait`],
      opts({ timeoutMs: 500 }),
    );
    assert.equal(r.failure, 'criu restore did not finish within 0.5 s; it and its tree were killed');
    assert.equal(isCriuFailure(r.failure), false);
    const tree = await waitFile(join(dir, 'tree.pid'));
    const criu = await waitFile(join(dir, 'criu.pid'));
    leftovers.push(tree, criu);
    await assertGone([tree, criu]);
  });

  it('a shim that names the root but does not confirm it is killed with the tree', async () => {
    // A shim stuck after naming the restored root.
    const fake = join(dir, 'stuck-shim');
    await writeFile(
      fake,
      `#!/bin/sh\nsleep 300 &\necho $! > ${dir}/tree.pid\necho $$ > ${dir}/shim.pid\necho "pid $!"\nexec sleep 300\n`,
    );
    await chmod(fake, 0o755);
    const r = await restoreUnderShim(fake, ['/bin/true'], opts({ confirmMs: 300 }));
    assert.match(
      r.failure ?? '',
      /^tern-shim did not confirm the restored tree \(root pid \d+\); the tree and the shim were killed$/,
    );
    assert.equal(r.pid, 0);
    const tree = await waitFile(join(dir, 'tree.pid'));
    const shim = await waitFile(join(dir, 'shim.pid'));
    leftovers.push(tree, shim);
    await assertGone([tree, shim]);
  });
});
