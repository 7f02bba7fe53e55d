// A cluster CA for tests, made once per test process in a temporary
// directory (core/pki.ts, the same code as `tern ca`), with certificates
// issued on demand for the identities a test names.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CertFiles, certFiles, type Identity, initCa, issue } from '../../core/pki.js';

let dir: Promise<string> | undefined;
const issued = new Map<string, Promise<CertFiles>>();

/** The test CA's directory (made on first use). */
export function testPkiDir(): Promise<string> {
  dir ??= (async () => {
    const d = mkdtempSync(join(tmpdir(), 'tern-pki-'));
    await initCa(d);
    return d;
  })();
  return dir;
}

/** Certificate files for id, issued by the test CA the first time. */
export async function testCert(id: Identity): Promise<CertFiles> {
  const key = `${id.role}/${id.name}`;
  let f = issued.get(key);
  if (!f) {
    f = testPkiDir().then((d) => issue(d, id));
    issued.set(key, f);
  }
  return f;
}

/** A test CA with the given identities issued; returns its directory (for --pki). */
export async function testPki(ids: Identity[]): Promise<string> {
  for (const id of ids) await testCert(id);
  return testPkiDir();
}

export { certFiles };
