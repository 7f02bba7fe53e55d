// The target's memory warm-up: how much it holds, and the helper that holds it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { defaultWarmPath, NO_WARMTH, warmable, warmMemory } from '../../kernel/warm.js';

const GiB = 1 << 30;

describe('memory warm-up', () => {
  it('holds what is asked while the host keeps 10 % or 1 GiB free', () => {
    const mem = { available: 20 * GiB, total: 24 * GiB };
    assert.equal(warmable(2 * GiB, mem), 2 * GiB);
    // 24 GiB total: the headroom is 2.4 GiB, so 3 GiB available leaves 0.6 GiB to warm.
    assert.equal(warmable(2 * GiB, { available: 3 * GiB, total: 24 * GiB }), 3 * GiB - Math.floor(2.4 * GiB));
    // A small host keeps at least 1 GiB.
    assert.equal(warmable(GiB, { available: 1.5 * GiB, total: 4 * GiB }), 0.5 * GiB);
    assert.equal(warmable(GiB, { available: GiB, total: 4 * GiB }), 0);
    // Too little to be worth a process.
    assert.equal(warmable(16 << 20, mem), 0);
  });

  it('tern-warm holds the memory touched until released, then exits', async () => {
    const w = await warmMemory(64 << 20, defaultWarmPath());
    assert.equal(w.bytes, 64 << 20);
    const { heldBytes } = await w.ready;
    assert.equal(heldBytes, 64 << 20);
    const status = await readFile(`/proc/${w.pid}/status`, 'utf8');
    const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]);
    assert.ok(rssKiB >= 64 * 1024, `helper resident ${rssKiB} KiB`);
    await w.release();
    await w.release();
    await assert.rejects(readFile(`/proc/${w.pid}/status`, 'utf8'));
  });

  it('a helper that never starts leaves the move to go on cold', async () => {
    const w = await warmMemory(64 << 20, '/nonexistent/tern-warm');
    assert.deepEqual((await w.ready).heldBytes, 0);
    await w.release();
    assert.equal(NO_WARMTH.bytes, 0);
  });

  it('tern-warm refuses a size it cannot read', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(defaultWarmPath(), ['12x'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /usage: tern-warm BYTES/);
  });
});
