// Capability names a caller may grant with tern run --cap-add.
import assert from 'node:assert/strict';
import { CAPABILITIES, checkCaps } from '../../core/caps.js';

describe('checkCaps', () => {
  it('takes names with or without CAP_, in any case, once each', () => {
    assert.deepEqual(checkCaps(['sys_ptrace', 'CAP_NET_ADMIN', 'SYS_PTRACE']), ['SYS_PTRACE', 'NET_ADMIN']);
  });

  it('refuses a name it does not know, naming it', () => {
    assert.throws(() => checkCaps(['SYS_EVERYTHING']), /unknown capability "SYS_EVERYTHING"/);
    assert.throws(() => checkCaps(['../x']), /unknown capability/);
  });

  it('knows the capabilities tern-shim knows', async () => {
    const { readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { ROOT } = await import('../../deploy/testbed/driver.js');
    const c = await readFile(join(ROOT, 'kernel', 'native', 'shim-confine.c'), 'utf8');
    const inShim = [...c.matchAll(/\{ "([A-Z_]+)", CAP_/g)].map((m) => m[1]);
    assert.deepEqual([...inShim].sort(), [...CAPABILITIES].sort());
  });
});
