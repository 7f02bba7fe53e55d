// Runs after tsc: builds the native helpers (kernel/native) into dist/native and marks entry points executable.
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
execFileSync('make', ['-s', '-C', join(root, 'kernel', 'native'), `OUT=${join(root, 'dist', 'native')}`], {
  stdio: 'inherit',
});
for (const f of ['tern', 'migrate', 'tern-agent', 'tern-coordinator'])
  chmodSync(join(root, 'dist', 'bin', `${f}.js`), 0o755);
