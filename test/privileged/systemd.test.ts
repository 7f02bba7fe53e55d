// The systemd units shipped for real hosts pass `systemd-analyze verify`
// against the installed entry points (make install links them).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, sh } from '../../deploy/testbed/driver.js';

describe('systemd units', () => {
  for (const unit of ['tern-agent.service', 'tern-coordinator.service']) {
    it(`${unit} passes systemd-analyze verify`, async function () {
      const bin = `/usr/local/bin/${unit.replace('.service', '')}`;
      if (!existsSync('/usr/bin/systemd-analyze') || !existsSync(bin)) this.skip();
      const path = join(ROOT, 'deploy', 'systemd', unit);
      const r = await sh(['systemd-analyze', 'verify', '--man=no', path]);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, new RegExp(unit), r.stderr);
      const text = await readFile(path, 'utf8');
      assert.match(text, /After=network-online\.target/);
      assert.match(text, /Restart=on-failure/);
      assert.match(text, /--config \/etc\/tern\//);
    });
  }
});
