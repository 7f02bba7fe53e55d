// The in-process tier: a real coordinator and two real agents, each in its
// own child process on 127.0.0.1, over a simulated engine and host
// (world.ts). No root, no CRIU: seconds, not minutes. Each case drives a
// migration into a phase and then cancels it, makes the store refuse a
// record, or kills a daemon there; afterwards the exactly-once checks of the
// privileged fault matrix must hold: the container runs exactly once, where
// the protocol says, with its memory intact, and nothing is left over.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fetchImages, splitAddress } from '../../agent/data.js';
import type { TernError } from '../../core/errors.js';
import { readFrames } from '../../proto/frames.js';
import { testCert } from '../lib/pki.js';
import { Cluster, type Daemon } from './cluster.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('in-process: coordinator and agents over a simulated host', function () {
  this.timeout(90_000);
  let c: Cluster;
  let n = 0;
  /** A fresh container on hostA for each case. */
  const fresh = async () => {
    await c.waitUp();
    const name = `c${++n}`;
    const { memory } = await c.run(name, 'hostA');
    return { name, memory };
  };

  before(async () => {
    c = new Cluster();
    await c.start();
  });
  after(async () => c?.stop());
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`${c.logTails()}\n`);
    c.disarm();
    c.world.delays = { cpuinfoMs: 0, dumpMs: 0, restoreMs: 0 };
    await c.restartDead();
  });

  it('moves a container: done, running once on the target with its memory', async () => {
    const { name, memory } = await fresh();
    const m = await c.waitEnd(await c.migrate(name, 'hostB'));
    assert.equal(m.phase, 'done', m.error);
    assert.equal(m.mode, 'stop-and-copy');
    assert.deepEqual(
      m.history.map((h) => h.phase),
      ['preflight', 'dumping', 'transferring', 'restoring', 'committing', 'committed', 'done'],
    );
    // Memory went to the target's page server while the dump ran; the data
    // channel carried only the other images and the rootfs.
    assert.match(
      m.history.find((h) => h.phase === 'transferring')?.detail ?? '',
      /\d+ bytes of pages sent to hostB during the dump/,
    );
    assert.ok(Number(m.raw_bytes) < 1 << 20, `raw bytes ${m.raw_bytes}`);
    // The images went from agent to agent: the coordinator counted none.
    assert.equal(Number(m.coordinator_bytes), 0);
    assert.match(
      m.history.find((h) => h.phase === 'restoring')?.detail ?? '',
      /direct from 127\.0\.0\.1:\d+/,
    );
    await c.expectOnce(name, 'hostB', memory);
  });

  it("the target's copy runs once the source says its tree is gone, before the coordinator records the commit", async () => {
    const { name, memory } = await fresh();
    // The coordinator stalls after the source's Commit answer, before it
    // records `committed` (and so before it asks the target to resume).
    c.faults('coordinator', 'before-committed=delay:800');
    const m = await c.waitEnd(await c.migrate(name, 'hostB'));
    assert.equal(m.phase, 'done', m.error);
    const said = readFileSync(c.logFile('hostB'), 'utf8')
      .split('\n')
      .filter((l) => l.includes(m.id) && l.includes('source tree gone: resuming'))
      .at(-1);
    assert.ok(said, "the target did not resume on the source's word");
    // pino's time: epoch milliseconds here.
    const resumedAt = Number(JSON.parse(said).time);
    const committedAt = Number(m.history.find((h) => h.phase === 'committed')?.at_ms);
    const committingAt = Number(m.history.find((h) => h.phase === 'committing')?.at_ms);
    assert.ok(
      committingAt <= resumedAt && resumedAt < committedAt,
      `resumed at ${resumedAt}, committing recorded at ${committingAt}, committed at ${committedAt}`,
    );
    await c.expectOnce(name, 'hostB', memory);
  });

  it('pre-copy: rounds of memory while the container runs, until little is left, then the final dump', async () => {
    const { name, memory } = await fresh();
    const m = await c.waitEnd(await c.migrate(name, 'hostB', 'precopy'));
    assert.equal(m.phase, 'done', m.error);
    assert.equal(m.mode, 'precopy');
    assert.deepEqual(
      m.history.map((h) => h.phase),
      ['preflight', 'precopying', 'dumping', 'transferring', 'restoring', 'committing', 'committed', 'done'],
    );
    // Each round sent what was written since the one before (a quarter, in
    // the simulation); the third was small enough to stop.
    assert.equal(m.precopy_rounds, 3);
    assert.equal(Number(m.precopy_bytes), (1 << 20) + (1 << 18) + (1 << 16));
    assert.match(
      m.history.find((h) => h.phase === 'dumping')?.detail ?? '',
      /^3 pre-copy rounds, 1376256 bytes of pages sent while the container ran \(1048576, 262144, 65536\); stopped: round 3 sent 0\.1 MiB, at most 0\.1 MiB: little is left$/,
    );
    await c.expectOnce(name, 'hostB', memory);
  });

  it('pre-copy: a cancel between rounds leaves the container running on the source, nothing left on either host', async () => {
    const { name, memory } = await fresh();
    c.faults('hostA', 'pre-dump=delay:1500');
    const id = await c.migrate(name, 'hostB', 'precopy');
    await c.waitPhase(id, ['precopying']);
    await c.call('CancelMigration', { id });
    const m = await c.waitEnd(id);
    assert.equal(m.phase, 'aborted', m.error);
    assert.match(m.error, /cancelled by the user/);
    // Running once on the source with its memory; no migration directory on either host.
    await c.expectOnce(name, 'hostA', memory);
  });

  it('pre-copies the rootfs; changes made after the pre-copy arrive, deleted files go', async () => {
    const { name, memory } = await fresh();
    const src = join(c.stateDir('hostA'), 'containers', name, 'rootfs');
    await writeFile(join(src, 'old.txt'), 'before the move');
    await writeFile(join(src, 'doomed.txt'), 'to be deleted');
    c.world.delays.dumpMs = 1500;
    const id = await c.migrate(name, 'hostB');
    await c.waitPhase(id, ['dumping']);
    // After the pre-copy, before the freeze: the container writes, rewrites and deletes.
    await writeFile(join(src, 'new.txt'), 'written just before the freeze');
    await writeFile(join(src, 'old.txt'), 'rewritten');
    await rm(join(src, 'doomed.txt'));
    const m = await c.waitEnd(id);
    assert.equal(m.phase, 'done', m.error);
    assert.match(m.history.find((h) => h.phase === 'dumping')?.detail ?? '', /rootfs pre-copied \(\d+ bytes/);
    const dst = join(c.stateDir('hostB'), 'containers', name, 'rootfs');
    assert.equal(await readFile(join(dst, 'new.txt'), 'utf8'), 'written just before the freeze');
    assert.equal(await readFile(join(dst, 'old.txt'), 'utf8'), 'rewritten');
    assert.equal(existsSync(join(dst, 'doomed.txt')), false);
    assert.ok(existsSync(join(dst, 'tern', 'console.log')));
    // The freeze carried the changes only, not the whole rootfs again.
    assert.ok(Number(m.raw_bytes) < 64 * 1024, `raw bytes ${m.raw_bytes}`);
    await c.expectOnce(name, 'hostB', memory);
  });

  describe("the source's data channel", () => {
    const hostA = async () => {
      const r = await c.call<{ hosts: { name: string; data_address: string }[] }>('ListHosts', {});
      return r.hosts.find((h) => h.name === 'hostA')?.data_address ?? '';
    };
    const drain = async (s: AsyncIterable<unknown>) => {
      for await (const _ of s);
    };

    /** A fetch presenting `as`'s agent certificate, expecting hostA's. */
    const fetchAs = async (as: string, id: string, credential: string) =>
      fetchImages(await hostA(), id, credential, {
        certs: await testCert({ role: 'agent', name: as }),
        host: 'hostA',
      });

    it("refuses a credential that is not the migration's, even from the target; the move goes on", async () => {
      const { name, memory } = await fresh();
      c.world.delays.restoreMs = 1500;
      const id = await c.migrate(name, 'hostB');
      await c.waitPhase(id, ['restoring']);
      const forged = await fetchAs('hostB', id, randomBytes(32).toString('hex'));
      await assert.rejects(
        drain(forged),
        (e: TernError) => e.code === 'PERMISSION_DENIED' && /for hostB with that credential/.test(e.message),
      );
      const m = await c.waitEnd(id);
      assert.equal(m.phase, 'done', m.error);
      await c.expectOnce(name, 'hostB', memory);
    });

    it("refuses an agent that is not the migration's target", async () => {
      const { name, memory } = await fresh();
      c.world.delays.restoreMs = 1500;
      const id = await c.migrate(name, 'hostB');
      await c.waitPhase(id, ['restoring']);
      const other = await fetchAs('hostC', id, randomBytes(32).toString('hex'));
      await assert.rejects(
        drain(other),
        (e: TernError) => e.code === 'PERMISSION_DENIED' && /for hostC/.test(e.message),
      );
      assert.equal((await c.waitEnd(id)).phase, 'done');
      await c.expectOnce(name, 'hostB', memory);
    });

    it("refuses a certificate that is not an agent's", async () => {
      const op = fetchImages(await hostA(), 'm1', randomBytes(32).toString('hex'), {
        certs: await testCert({ role: 'operator', name: 'tester' }),
        host: 'hostA',
      });
      await assert.rejects(
        drain(op),
        (e: TernError) => e.code === 'PERMISSION_DENIED' && /is not an agent/.test(e.message),
      );
    });

    it('is refused by a fetcher that expected another host', async () => {
      const wrong = fetchImages(await hostA(), 'm1', randomBytes(32).toString('hex'), {
        certs: await testCert({ role: 'agent', name: 'hostB' }),
        host: 'hostC',
      });
      await assert.rejects(drain(wrong), /presented agent hostA, not agent hostC/);
    });

    it('serves nothing for a migration that has ended, whatever the credential', async () => {
      const { name } = await fresh();
      const id = await c.migrate(name, 'hostB');
      assert.equal((await c.waitEnd(id)).phase, 'done');
      const stale = await fetchAs('hostB', id, randomBytes(32).toString('hex'));
      await assert.rejects(drain(stale), (e: TernError) => e.code === 'PERMISSION_DENIED');
    });

    it('refuses a malformed opening line, in plaintext before any TLS', async () => {
      const [host, port] = splitAddress(await hostA());
      const sock = connect({ host, port });
      sock.write(`TERN-DATA 1 m1 ${'ab'.repeat(32)} images\n`);
      await assert.rejects(
        drain(readFrames(sock)),
        (e: TernError) => e.code === 'INVALID_ARGUMENT' && /malformed opening line/.test(e.message),
      );
      sock.destroy();
    });
  });

  describe('cancel in every phase', () => {
    // Each phase is made slow enough to be caught in: by the simulated engine
    // (preflight, dumping, restoring) or by a delay fault in an agent.
    const slow: Record<string, () => void> = {
      preflight: () => (c.world.delays.cpuinfoMs = 1500),
      dumping: () => (c.world.delays.dumpMs = 1500),
      transferring: () => c.faults('hostB', 'receive=delay:1500'),
      restoring: () => (c.world.delays.restoreMs = 1500),
      committing: () => c.faults('hostA', 'commit=delay:1500'),
      committed: () => c.faults('hostB', 'resume=delay:1500'),
    };
    for (const phase of Object.keys(slow)) {
      const before = ['preflight', 'dumping', 'transferring', 'restoring'].includes(phase);
      it(`${phase}: ${before ? 'aborts, the container runs on the source' : 'is refused, the move finishes'}`, async () => {
        const { name, memory } = await fresh();
        slow[phase]();
        const id = await c.migrate(name, 'hostB');
        await c.waitPhase(id, [phase]);
        const cancel = c.call('CancelMigration', { id });
        if (before) await cancel;
        else await assert.rejects(cancel, /past its commit point/);
        const m = await c.waitEnd(id);
        assert.equal(m.phase, before ? 'aborted' : 'done', m.error);
        if (before) assert.match(m.error, /cancelled by the user/);
        await c.expectOnce(name, before ? 'hostA' : 'hostB', memory);
      });
    }
  });

  describe('the store refuses to record a phase', () => {
    // Up to the commit record a refused write leaves the migration abortable,
    // and it aborts; past it the runner tries again until the store accepts.
    for (const phase of ['dumping', 'transferring', 'restoring', 'committing']) {
      it(`store-${phase}: aborted, the container runs on the source`, async () => {
        const { name, memory } = await fresh();
        c.faults('coordinator', `store-${phase}=fail`);
        const m = await c.waitEnd(await c.migrate(name, 'hostB'));
        assert.equal(m.phase, 'aborted');
        assert.match(m.error, new RegExp(`injected fault at store-${phase}`));
        assert.ok(
          !m.history.some((h) => h.phase === phase),
          `${phase} was recorded although the store refused it`,
        );
        await c.expectOnce(name, 'hostA', memory);
      });
    }
    for (const phase of ['committed', 'done']) {
      it(`store-${phase}: retried until the store takes it, done on the target`, async () => {
        const { name, memory } = await fresh();
        c.faults('coordinator', `store-${phase}=fail`);
        const id = await c.migrate(name, 'hostB');
        await c.waitPhase(id, [phase === 'committed' ? 'committing' : 'committed']);
        await sleep(1200);
        assert.notEqual((await c.migration(id)).phase, phase);
        c.faults('coordinator', '');
        const m = await c.waitEnd(id);
        assert.equal(m.phase, 'done', m.error);
        await c.expectOnce(name, 'hostB', memory);
      });
    }
    for (const phase of ['aborting', 'aborted']) {
      it(`store-${phase} after a failed restore: the source runs again, the abort is recorded once the store takes it`, async () => {
        const { name, memory } = await fresh();
        c.faults('hostB', 'restore=fail');
        c.faults('coordinator', `store-${phase}=fail`);
        const id = await c.migrate(name, 'hostB');
        await sleep(2500);
        // The store still refuses, but the container must not wait for it.
        if (phase === 'aborting') await c.expectOnce(name, 'hostA', memory);
        c.faults('coordinator', '');
        const m = await c.waitEnd(id);
        assert.equal(m.phase, 'aborted');
        await c.expectOnce(name, 'hostA', memory);
      });
    }
  });

  it('a target restarted with the tree restored resumes it, and the name is free again once the container stops', async () => {
    const { name, memory } = await fresh();
    // The target dies at Resume; its successor re-adopts the restored tree
    // (reserving its name) and resumes it when the coordinator asks again.
    c.faults('hostB', 'resume=crash');
    const id = await c.migrate(name, 'hostB');
    await c.waitDead('hostB', id);
    c.faults('hostB', '');
    await c.restartDead();
    const m = await c.waitEnd(id);
    assert.equal(m.phase, 'done', m.error);
    await c.expectOnce(name, 'hostB', memory);
    // Stopped and started again under the same name, on the host that re-adopted it.
    await c.call('StopContainer', { name });
    await c.waitFor(`${name} gone`, async () => c.world.copies(name).every((p) => p.state !== 'running'));
    await c.run(name, 'hostB');
  });

  describe('a daemon dies in every phase and restarts', () => {
    // 'either': where the protocol allows both ends, each exactly once. A
    // target that dies right after its early restore aborts the move when
    // the coordinator asks for the images after its restart (they were never
    // checked), or when the call in flight breaks; if it died only after
    // ReceiveImages answered, the restarted agent takes its restored tree
    // over and the move completes.
    const cases: { daemon: Daemon; point: string; expect: 'hostA' | 'hostB' | 'either' }[] = [
      { daemon: 'coordinator', point: 'after-dumping', expect: 'hostA' },
      { daemon: 'coordinator', point: 'after-transferring', expect: 'hostA' },
      { daemon: 'coordinator', point: 'after-restoring', expect: 'hostA' },
      { daemon: 'coordinator', point: 'before-committing', expect: 'hostA' },
      { daemon: 'coordinator', point: 'after-committing', expect: 'hostB' },
      { daemon: 'coordinator', point: 'after-committed', expect: 'hostB' },
      { daemon: 'coordinator', point: 'after-aborting', expect: 'hostA' },
      { daemon: 'hostB', point: 'prepare', expect: 'hostA' },
      { daemon: 'hostA', point: 'after-dump', expect: 'hostA' },
      { daemon: 'hostA', point: 'transfer', expect: 'hostA' },
      { daemon: 'hostB', point: 'restore', expect: 'hostA' },
      { daemon: 'hostB', point: 'after-restore', expect: 'either' },
      { daemon: 'hostA', point: 'commit', expect: 'hostB' },
      { daemon: 'hostB', point: 'resume', expect: 'hostB' },
    ];
    for (const k of cases) {
      it(`${k.daemon} at ${k.point}: ends on ${k.expect}`, async () => {
        const { name, memory } = await fresh();
        // after-aborting needs a migration that aborts: the target refuses the restore.
        if (k.point === 'after-aborting') c.faults('hostB', 'restore=fail');
        c.faults(k.daemon, `${k.point}=crash`);
        const id = await c.migrate(name, 'hostB');
        // The daemon dies at the point; disarm so that its successor runs normally.
        await c.waitDead(k.daemon, id);
        c.faults(k.daemon, '');
        await c.restartDead();
        const m = await c.waitEnd(id);
        const where = k.expect === 'either' ? (m.phase === 'done' ? 'hostB' : 'hostA') : k.expect;
        assert.equal(m.phase, where === 'hostA' ? 'aborted' : 'done', m.error);
        await c.expectOnce(name, where, memory);
      });
    }
  });
});
