// The generated gRPC types in proto/gen must match proto/tern.proto: this
// regenerates them with the package.json "gen" command into a temporary
// directory and compares file by file. Fix a failure with `npm run gen`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT } from '../../deploy/testbed/driver.js';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

describe('generated proto types', () => {
  it('are in sync with proto/tern.proto', function () {
    this.timeout(60_000);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const out = mkdtempSync(join(tmpdir(), 'tern-gen-'));
    try {
      const args = (pkg.scripts.gen as string)
        .split(' ')
        .slice(1)
        .map((a) => (a === 'proto/gen' ? out : a));
      execFileSync(join(ROOT, 'node_modules', '.bin', 'proto-loader-gen-types'), args, {
        cwd: ROOT,
        stdio: 'pipe',
      });
      const fresh = files(out)
        .map((f) => relative(out, f))
        .sort();
      const committed = files(join(ROOT, 'proto', 'gen'))
        .map((f) => relative(join(ROOT, 'proto', 'gen'), f))
        .filter((f) => f !== 'package.json')
        .sort();
      assert.deepEqual(committed, fresh, 'proto/gen has missing or extra files: run npm run gen');
      for (const f of fresh) {
        assert.equal(
          readFileSync(join(ROOT, 'proto', 'gen', f), 'utf8'),
          readFileSync(join(out, f), 'utf8'),
          `proto/gen/${f} is stale: run npm run gen`,
        );
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
