// The target's slots (agent/handoff/target.ts), without a host: a slot a
// restarted agent took over (readopt.ts) with its tree restored from images
// that ReceiveImages never checked.
import assert from 'node:assert/strict';
import type { ContainerRecord } from '../../agent/containers.js';
import type { HandoffContext } from '../../agent/handoff/context.js';
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
