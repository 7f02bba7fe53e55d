// The layering check: imports run one way, core → proto → kernel → agent →
// coordinator → bin → deploy (the testbed driver) → bench and test. A file
// may import from its own layer or a lower one, never from a higher one;
// bench and test share only what lies below them.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Rank of each top-level directory; equal ranks may not import each other unless the same directory. */
const LAYERS: Record<string, number> = {
  core: 0,
  proto: 1,
  kernel: 2,
  agent: 3,
  coordinator: 4,
  bin: 5,
  deploy: 6,
  bench: 7,
  test: 7,
};

interface Violation {
  file: string;
  imports: string;
}

/** Relative import specifiers of one TypeScript source (static, re-exports and dynamic). */
function importsOf(source: string): string[] {
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)'(\.{1,2}\/[^']+)'/g;
  for (let m = re.exec(source); m; m = re.exec(source)) out.push(m[1]);
  return out;
}

/** Upward (or sideways across layers) imports among files given as repo-relative path → source. */
function violations(files: Map<string, string>): Violation[] {
  const bad: Violation[] = [];
  for (const [file, src] of files) {
    const from = file.split('/')[0];
    const rank = LAYERS[from];
    if (rank === undefined) continue;
    for (const spec of importsOf(src)) {
      const target = normalize(join(dirname(file), spec));
      const to = target.split('/')[0];
      const toRank = LAYERS[to];
      if (toRank === undefined) {
        bad.push({ file, imports: target });
        continue;
      }
      if (to !== from && toRank >= rank) bad.push({ file, imports: target });
    }
  }
  return bad;
}

function sources(dir: string, out: Map<string, string>): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'gen' || name === 'results') continue;
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts')) out.set(relative(ROOT, p), readFileSync(p, 'utf8'));
  }
}

describe('layering', () => {
  it('finds an upward import in a made-up tree', () => {
    const tree = new Map([
      ['kernel/a.ts', "import { x } from '../agent/b.js';"],
      ['agent/b.ts', "import { y } from '../kernel/a.js';"],
      ['bench/c.ts', "import { z } from '../test/lib/d.js';"],
      ['coordinator/e.ts', "const m = await import('../bin/f.js');"],
    ]);
    assert.deepEqual(
      violations(tree).map((v) => `${v.file} -> ${v.imports}`),
      ['kernel/a.ts -> agent/b.js', 'bench/c.ts -> test/lib/d.js', 'coordinator/e.ts -> bin/f.js'],
    );
  });

  it('no file in the repository imports from a higher layer', () => {
    const files = new Map<string, string>();
    for (const top of Object.keys(LAYERS)) {
      try {
        sources(join(ROOT, top), files);
      } catch {
        // a layer without TypeScript sources
      }
    }
    assert.ok(files.size > 50, `only ${files.size} sources found under ${ROOT}`);
    assert.deepEqual(violations(files), []);
  });
});
