// Privileged suites run only as root with CRIU and the shim built; elsewhere
// they report "skipped" rather than passing silently.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CRIU, ROOT } from '../../deploy/testbed/driver.js';

/** Skips the suite unless we are root with CRIU installed. */
export function requirePrivileges(ctx: Mocha.Context): void {
  if (
    process.getuid?.() !== 0 ||
    !existsSync(CRIU) ||
    !existsSync(join(ROOT, 'dist', 'native', 'tern-shim'))
  ) {
    ctx.skip();
  }
}
