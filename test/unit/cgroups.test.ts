// Container limits as users type them and as peers send them.
import assert from 'node:assert/strict';
import { fromWire, limitsFromWire, toWire } from '../../agent/server.js';
import { checkLimits, hasLimits, parseBytes } from '../../kernel/cgroups.js';

describe('container limits', () => {
  it('reads sizes with k, m, g, t suffixes or plain bytes', () => {
    assert.equal(parseBytes('256m'), 256 * 2 ** 20);
    assert.equal(parseBytes('2G'), 2 * 2 ** 30);
    assert.equal(parseBytes('512KiB'), 512 * 1024);
    assert.equal(parseBytes('4194304'), 4194304);
  });

  it('refuses a size it cannot read, naming it', () => {
    assert.throws(() => parseBytes('lots'), /invalid size "lots"/);
    assert.throws(() => parseBytes('-5m'), /invalid size/);
    assert.throws(() => parseBytes('99999999999t'), /too large/);
  });

  it('refuses limits no container can start under; 0 means none', () => {
    assert.throws(() => checkLimits({ memoryBytes: 1024 }), /below the minimum of 4 MiB/);
    assert.throws(() => checkLimits({ pids: 2 }), /between 4 and 4194304/);
    assert.throws(() => checkLimits({ pids: 1.5 }), /between 4/);
    assert.deepEqual(checkLimits({ memoryBytes: 0, pids: 0 }), {});
    assert.equal(hasLimits(checkLimits({ memoryBytes: 0, pids: 0 })), false);
    assert.deepEqual(checkLimits({ memoryBytes: 2 ** 26, pids: 64 }), { memoryBytes: 2 ** 26, pids: 64 });
  });

  it('travel in the container record a target receives, checked on arrival', () => {
    const wire = toWire('hostA', {
      name: 'c1',
      ip: '10.78.0.10/24',
      mac: '02:00:00:00:00:01',
      veth: 'tv-c1',
      pid: 10,
      shimPid: 9,
      startTime: '1',
      hostname: 'c1',
      command: ['/bin/sh'],
      createdMs: 1,
      state: 'running',
      limits: { memoryBytes: 2 ** 26, pids: 64 },
    });
    assert.deepEqual(fromWire(wire).limits, { memoryBytes: 2 ** 26, pids: 64 });
    assert.equal(fromWire({ ...wire, memory_limit: '0', pids_limit: 0 }).limits, undefined);
    assert.throws(() => fromWire({ ...wire, memory_limit: '100' }), /below the minimum/);
    assert.equal(limitsFromWire(undefined, undefined), undefined);
  });
});
