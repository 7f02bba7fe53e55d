// The agent refuses to start without a usable CRIU and says what to run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../deploy/testbed/driver.js';

function startAgent(criu: string, stateDir: string) {
  return spawnSync(
    'node',
    [
      join(ROOT, 'dist/bin/tern-agent.js'),
      '--host',
      'unit',
      '--listen',
      '127.0.0.1:0',
      '--coordinator',
      '127.0.0.1:1',
      '--state-dir',
      stateDir,
      '--fast-dir',
      '',
      '--criu',
      criu,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
}

describe('tern-agent start-up checks', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tern-agent-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses to start when criu is missing, saying to run make install', () => {
    const r = startAgent(join(dir, 'no-criu'), dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /criu not found at .*no-criu.*make install/);
  });

  it('refuses a criu that is too old', () => {
    const fake = join(dir, 'criu');
    writeFileSync(fake, '#!/bin/sh\necho "Version: 3.17"\n');
    chmodSync(fake, 0o755);
    const r = startAgent(fake, dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /criu 3\.17 is too old \(need 4\.2\.1\+\).*make install/);
  });

  it('refuses a criu whose check fails, quoting it', () => {
    const fake = join(dir, 'criu');
    writeFileSync(
      fake,
      '#!/bin/sh\n[ "$1" = --version ] && { echo "Version: 4.2.1"; exit 0; }\necho "Error (criu/cr-check.c:1): vdso: bad layout" >&2; exit 1\n',
    );
    chmodSync(fake, 0o755);
    const r = startAgent(fake, dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /criu check failed: .*vdso: bad layout.*make install/);
  });

  it('refuses a missing --host with a clear message', () => {
    const r = spawnSync('node', [join(ROOT, 'dist/bin/tern-agent.js'), '--listen', '127.0.0.1:0'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--host is required/);
  });
});
