// The CI subset of the compatibility harness (test/compat/tests.txt, lines
// marked "ci"): each zdtm test must pass in place under plain CRIU and after
// tern migrates its container from hostA to hostB. `npm run compat` runs the
// whole list.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { down, sh, up } from '../../deploy/testbed/driver.js';
import {
  containerName,
  type Prepared,
  prepare,
  readList,
  runInPlace,
  runMigrated,
  WORK_DIR,
} from '../compat/zdtm.js';
import { requirePrivileges } from '../lib/privileges.js';

const CI_TESTS = (await readList()).filter((t) => t.ci);

describe('zdtm compatibility subset (privileged)', function () {
  this.timeout(300_000);
  let p: Prepared | undefined;

  before(async function () {
    requirePrivileges(this);
    p = await prepare(CI_TESTS, () => {});
    await up(2);
  });

  after(async () => {
    await down();
    await rm(join(WORK_DIR, 'in-place'), { recursive: true, force: true });
  });

  it('keeps at least 20 tests in the subset, over at least 8 areas', async () => {
    const all = await readList();
    const ci = all.filter((t) => t.ci);
    assert.ok(ci.length >= 20, `only ${ci.length} ci tests`);
    assert.ok(new Set(ci.map((t) => t.area)).size >= 8);
    assert.ok(all.length >= 150, `only ${all.length} tests in the list`);
  });

  for (const t of CI_TESTS) {
    it(`${t.area}/${t.name} passes in place and migrated`, async () => {
      assert.ok(p);
      const inPlace = await runInPlace(p, t);
      assert.equal(inPlace.verdict, 'pass', `in place: ${inPlace.error}`);
      const migrated = await runMigrated(p, t, 'hostA', 'hostB');
      assert.equal(migrated.verdict, 'pass', `migrated: ${migrated.error}`);
      const left = await sh(['pgrep', '-f', `containers/${containerName(t)}/`]);
      assert.equal(left.stdout.trim(), '', `processes of ${containerName(t)} left behind`);
    });
  }
});
