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

describe('systemd units: sandboxing', () => {
  async function exposure(unit: string): Promise<number> {
    const r = await sh([
      'systemd-analyze',
      'security',
      '--offline=yes',
      join(ROOT, 'deploy', 'systemd', unit),
    ]);
    const m = /Overall exposure level for \S+: (\d+\.\d)/.exec(r.stdout + r.stderr);
    assert.ok(m, r.stdout + r.stderr);
    return Number(m[1]);
  }

  it('the coordinator runs as a dynamic user in a sandbox rated OK or better', async function () {
    if (!existsSync('/usr/bin/systemd-analyze')) this.skip();
    // systemd rates 0-2.0 SAFE, 2.1-4.9 OK (src/analyze/analyze-security.c).
    assert.ok((await exposure('tern-coordinator.service')) < 5, 'exposure of tern-coordinator.service');
    const text = await readFile(join(ROOT, 'deploy', 'systemd', 'tern-coordinator.service'), 'utf8');
    assert.match(text, /^DynamicUser=yes$/m);
    assert.match(text, /^CapabilityBoundingSet=$/m);
  });

  it('the agent keeps no capability to load modules, do raw I/O, set the clock or reboot', async () => {
    const text = await readFile(join(ROOT, 'deploy', 'systemd', 'tern-agent.service'), 'utf8');
    const caps = /^CapabilityBoundingSet=((?:.*\\\n)*.*)$/m.exec(text)?.[1] ?? '';
    assert.ok(caps.includes('CAP_SYS_ADMIN'), caps);
    for (const c of ['CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_TIME', 'CAP_SYS_BOOT'])
      assert.ok(!caps.includes(c), `${c} in the agent's bounding set`);
    assert.match(text, /^UMask=0077$/m);
    assert.match(text, /^ProtectKernelModules=yes$/m);
  });
});
