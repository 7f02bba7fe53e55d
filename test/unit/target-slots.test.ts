// The target's slots (agent/handoff/target.ts), without a host: a slot a
// restarted agent took over (readopt.ts) with its tree restored from images
// that ReceiveImages never checked.
import assert from 'node:assert/strict';
import type { ContainerRecord } from '../../agent/containers.js';
import type { HandoffContext } from '../../agent/handoff/context.js';
import type { TargetSlot } from '../../agent/handoff/slot.js';
import { TargetSlots } from '../../agent/handoff/target.js';
import { TernError } from '../../core/errors.js';
import type { EncodeStats } from '../../proto/chunks.js';

const record: ContainerRecord = {
  name: 'web',
  ip: '10.78.0.5/24',
  mac: '02:00:00:00:00:05',
  veth: 'tern0005',
  pid: 4242,
  shimPid: 4241,
  startTime: '1',
  hostname: 'web',
  command: ['/bin/sh'],
  createdMs: 0,
  state: 'restored',
  migrationId: 'mabc123',
};

describe('target slots taken over by a restarted agent', () => {
  /** Slots holding one taken over as readopt.ts does, with `extra`. */
  const adopted = (extra: { uncheckedRestore?: boolean; received?: EncodeStats }) => {
    const t = new TargetSlots({ opts: { host: 'hostB' } } as unknown as HandoffContext);
    t.adopt({
      id: 'mabc123',
      container: record,
      workDir: '/nonexistent',
      imagesDir: '/nonexistent/images',
      restored: record,
      ...extra,
    });
    return t;
  };
  const limits = { maxBytes: 0, stallMs: 1000 };
  const refused = (e: TernError) =>
    e instanceof TernError &&
    e.code === 'FAILED_PRECONDITION' &&
    /the agent on hostB restarted after restoring from images not yet checked against the source's page stream/.test(
      e.message,
    );
  const never = {
    [Symbol.asyncIterator]: () => ({ next: () => new Promise<never>(() => {}) }),
    cancel: () => {},
  };

  it('refuses ReceiveImages, early or not, for a tree restored from unchecked images', async () => {
    const t = adopted({ uncheckedRestore: true });
    await assert.rejects(t.receiveEarly('mabc123', '127.0.0.1:1', limits), refused);
    await assert.rejects(t.receive('mabc123', never, limits), refused);
  });

  it('answers ReceiveImages for a tree restored from images it had checked', async () => {
    const received = { rawBytes: 10, wireBytes: 5, files: 1 };
    const t = adopted({ received });
    assert.deepEqual(await t.receiveEarly('mabc123', '127.0.0.1:1', limits), received);
    assert.deepEqual(await t.receive('mabc123', never, limits), received);
  });
});

describe('target slots answering for a move already settled here', () => {
  // Post-copy: the target restores and resumes its tree on the source's word
  // (watchGone), so the coordinator's RestoreStopped and Resume may come
  // after the slot is gone; they are answered from the outcome records.
  const settled = (outcome?: string, pages?: string) =>
    new TargetSlots({
      opts: { host: 'hostB' },
      outcomes: {
        get: async (id: string) => (id === 'mabc123' ? outcome : undefined),
        pages: async (id: string) => (id === 'mabc123' ? pages : undefined),
      },
      containers: {
        get: (name: string) => {
          if (name !== 'web') throw new Error(`no container ${name}`);
          return { ...record, state: 'running', migrationId: undefined };
        },
      },
    } as unknown as HandoffContext);

  it('answers RestoreStopped and Resume with the container its tree became', async () => {
    const t = settled('resumed web', 'done 4096');
    for (const rec of [await t.restoreStopped('mabc123'), await t.resume('mabc123')]) {
      assert.equal(rec.name, 'web');
      assert.equal(rec.state, 'running');
    }
  });

  it('says the container is lost (DATA_LOSS) when its pages could not arrive', async () => {
    const t = settled(undefined, 'lost the page server died');
    for (const call of [() => t.restoreStopped('mabc123'), () => t.resume('mabc123')])
      await assert.rejects(
        call(),
        (e: TernError) => e.code === 'DATA_LOSS' && /the page server died/.test(e.message),
      );
  });

  it('says a move it never saw was not prepared here', async () => {
    const t = settled();
    await assert.rejects(
      t.restoreStopped('mzzz999'),
      (e: TernError) =>
        e.code === 'NOT_FOUND' && /migration mzzz999 was not prepared on hostB/.test(e.message),
    );
  });
});

describe('a post-copy restore whose page stream breaks', () => {
  // Past the commit point the pages come only through the lazy-pages daemon;
  // once it has ended without them the restore cannot finish (CRIU 4.2 can
  // wait forever in its error path), so it is stopped and the container is
  // lost, at once rather than at the restore's timeout.
  it('stops the restore and reports the container lost as soon as the daemon ends without every page', async () => {
    let fail: (e: Error) => void = () => {};
    const done = new Promise<never>((_, reject) => {
      fail = reject;
    });
    done.catch(() => {});
    let restoreAborted: unknown;
    const lost: string[] = [];
    const ctx = {
      opts: { host: 'hostB', bridge: 'br0' },
      faults: { hit: () => {}, armed: () => false },
      engine: {
        processTree: async () => [],
        restore: (_req: unknown, signal: AbortSignal) =>
          new Promise((_, reject) => {
            signal.addEventListener('abort', () => {
              restoreAborted = signal.reason;
              reject(new TernError('CANCELLED', 'restore cancelled'));
            });
          }),
      },
      outcomes: { recordPages: async (_id: string, what: string) => void lost.push(what) },
      host: { startTime: async () => undefined, kill: () => {}, waitGone: async () => {} },
      containers: {
        dir: (n: string) => `/nonexistent/${n}`,
        rootfs: (n: string) => `/nonexistent/${n}/rootfs`,
        remove: async () => {},
        unreserve: () => {},
        trash: { discard: async () => {} },
      },
      log: { error: () => {}, info: () => {}, warn: () => {} },
    } as unknown as HandoffContext;
    const t = new TargetSlots(ctx);
    const lazy = { start: async () => {}, moved: async () => 0, done, stop: () => {}, pid: 1 };
    t.adopt({
      id: 'mabc123',
      container: record,
      workDir: '/nonexistent',
      imagesDir: '/nonexistent/images',
      received: { rawBytes: 10, wireBytes: 5, files: 1 },
      postcopy: true,
      lazy,
    });
    const restoring = t.restoreStopped('mabc123');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(restoreAborted, undefined, 'the restore was stopped while its pages could still come');
    fail(new TernError('DATA_LOSS', 'page-xfer: Remote side closed connection'));
    await assert.rejects(
      restoring,
      (e: TernError) =>
        e.code === 'DATA_LOSS' &&
        /the page stream ended before the restore did \(page-xfer: Remote side closed connection\)/.test(
          e.message,
        ),
    );
    assert.ok(restoreAborted, 'the restore was not stopped');
    assert.equal(lost.length, 1);
    assert.match(lost[0], /^lost /);
  });
});

describe('a post-copy restore started before the commit point', () => {
  // The restore starts as soon as the images are in, before the coordinator
  // commits. One that has failed by the time ReceiveImages is answered fails
  // that call: the coordinator aborts and the source's tree runs on, so the
  // container is not lost.
  it('fails ReceiveImages when the restore failed already, and records no loss', async () => {
    const lost: string[] = [];
    const ctx = {
      opts: { host: 'hostB' },
      faults: { hit: () => {}, armed: () => false },
      outcomes: { recordPages: async (_id: string, what: string) => void lost.push(what) },
      log: { error: () => {}, info: () => {}, warn: () => {} },
    } as unknown as HandoffContext;
    const t = new TargetSlots(ctx);
    const stats = { rawBytes: 10, wireBytes: 5, files: 1 };
    t.adopt({
      id: 'mabc123',
      container: record,
      workDir: '/nonexistent',
      imagesDir: '/nonexistent/images',
      postcopy: true,
      early: {
        address: '10.77.0.11:7702',
        fetch: { [Symbol.asyncIterator]: () => ({ next: () => new Promise(() => {}) }), cancel: () => {} },
        done: Promise.resolve(stats),
        go: () => {},
      } as unknown as TargetSlot['early'],
      restoreFailed: new TernError('DATA_LOSS', 'the page stream ended before the restore did (refused)'),
    });
    await assert.rejects(
      t.receiveEarly('mabc123', '10.77.0.11:7702', { maxBytes: 0, stallMs: 1000 }),
      (e: TernError) =>
        e.code === 'INTERNAL' &&
        /the restore on hostB failed before the commit point: the page stream ended before the restore did/.test(
          e.message,
        ),
    );
    assert.deepEqual(lost, []);
    assert.deepEqual(t.ids(), ['mabc123'], 'the slot is left for the abort');
  });
});
