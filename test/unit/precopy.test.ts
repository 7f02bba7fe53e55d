import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PRECOPY, nextRound } from '../../coordinator/precopy.js';
import { imageChain, PARENT_LINK, roundDirs } from '../../kernel/precopy.js';

const MIB = 1 << 20;

describe('pre-copy: when to stop sending rounds', () => {
  const rules = { maxRounds: 5, smallBytes: 8 * MIB, shrink: 0.8 };

  it('always sends a first round, the whole memory', () => {
    assert.deepEqual(nextRound([], rules), { again: true, why: 'first round: the whole memory' });
  });

  it('goes on while each round sends clearly less than the one before', () => {
    assert.equal(nextRound([1024 * MIB], rules).again, true);
    assert.equal(nextRound([1024 * MIB, 300 * MIB], rules).again, true);
    assert.equal(nextRound([1024 * MIB, 300 * MIB, 100 * MIB], rules).again, true);
  });

  it('stops when a round left little to send', () => {
    const d = nextRound([1024 * MIB, 8 * MIB], rules);
    assert.equal(d.again, false);
    assert.match(d.why, /round 2 sent 8\.0 MiB, at most 8\.0 MiB: little is left/);
    // Even the first round: a container that small needs no second.
    assert.equal(nextRound([2 * MIB], rules).again, false);
  });

  it('stops when the dirty set no longer shrinks (the workload writes as fast as rounds send)', () => {
    const d = nextRound([1024 * MIB, 200 * MIB, 190 * MIB], rules);
    assert.equal(d.again, false);
    assert.match(d.why, /round 3 sent 190\.0 MiB after 200\.0 MiB: the dirty set no longer shrinks/);
    // Growing is no better.
    assert.equal(nextRound([1024 * MIB, 200 * MIB, 400 * MIB], rules).again, false);
  });

  it('stops at the round limit', () => {
    const sent = [1024, 512, 256, 128, 64].map((m) => m * MIB);
    const d = nextRound(sent, rules);
    assert.equal(d.again, false);
    assert.match(d.why, /5 rounds, the limit/);
  });

  it('ends for any workload within the limit', () => {
    for (const shrinkBy of [0.1, 0.5, 0.79, 0.81, 1, 3]) {
      const sent: number[] = [];
      let next = 4096 * MIB;
      while (nextRound(sent, DEFAULT_PRECOPY).again) {
        sent.push(next);
        next = Math.round(next * shrinkBy);
      }
      assert.ok(sent.length >= 1 && sent.length <= DEFAULT_PRECOPY.maxRounds, `${shrinkBy}: ${sent.length}`);
    }
  });
});

describe('pre-copy: the image chain', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tern-chain-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Lays the directories and parent links out as CRIU does given roundDirs' --prev-images-dir. */
  async function layOut(rounds: number, skip?: number): Promise<void> {
    for (let r = 0; r <= rounds; r++) {
      const { dir: d, parent } = roundDirs(r, rounds);
      if (r === skip) continue;
      await mkdir(join(dir, d), { recursive: true });
      if (parent) await symlink(parent, join(dir, d, PARENT_LINK));
    }
  }

  it('links the final images to the last round, and each round to the one before', () => {
    assert.deepEqual(roundDirs(0, 0), { dir: 'images', parent: undefined });
    assert.deepEqual(roundDirs(0, 3), { dir: 'images', parent: '../pre/3' });
    assert.deepEqual(roundDirs(1, 0), { dir: 'pre/1', parent: undefined });
    assert.deepEqual(roundDirs(3, 0), { dir: 'pre/3', parent: '../2' });
  });

  it('follows the chain from the final images back through every round', async () => {
    await layOut(3);
    const chain = await imageChain(join(dir, 'images'), 3);
    assert.deepEqual(chain, [
      join(dir, 'images'),
      join(dir, 'pre', '3'),
      join(dir, 'pre', '2'),
      join(dir, 'pre', '1'),
    ]);
  });

  it('without pre-copy the chain is the images alone', async () => {
    await layOut(0);
    assert.deepEqual(await imageChain(join(dir, 'images'), 0), [join(dir, 'images')]);
  });

  it('refuses a chain with a round missing, naming it', async () => {
    await layOut(3, 2);
    await assert.rejects(imageChain(join(dir, 'images'), 3), /round 2 .*pre\/2\) is missing/);
  });

  it('refuses a chain shorter or longer than the rounds sent', async () => {
    await layOut(2);
    await assert.rejects(imageChain(join(dir, 'images'), 3), /3 rounds sent, but the chain .* holds 2/);
    await assert.rejects(imageChain(join(dir, 'images'), 1), /links to more than 1 rounds/);
  });
});
