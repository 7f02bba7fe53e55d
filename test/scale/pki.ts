// Certificates for the scale run: a cluster CA, the coordinator's and an
// operator's certificate as `tern ca` issues them (core/pki.ts), and one
// certificate per simulated agent. Issuing an agent the usual way takes three
// openssl runs (a key, a request, the signature); a thousand of them take
// long enough to dominate the run, so the simulated agents share one key and
// each gets its certificate from a single `openssl req -x509` signed by the
// CA: subject O=tern, OU=agent, CN=<host>, the same extensions as core/pki.ts
// gives, which is all the coordinator and the other agents check.
import { execFile } from 'node:child_process';
import { link, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { certFiles, initCa, issue } from '../../core/pki.js';

const run = promisify(execFile);

const EXTENSIONS = `[req]
distinguished_name = dn
x509_extensions = ext
prompt = no
[dn]
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyAgreement
extendedKeyUsage = serverAuth,clientAuth
`;

/** Runs fn over items, `width` at a time. */
export async function eachLimited<T>(items: T[], width: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(lanes);
}

/** Makes the CA in dir with the coordinator, `operator` and every agent issued; returns dir. */
export async function scalePki(dir: string, operator: string, agents: string[]): Promise<string> {
  await initCa(dir, { days: 2 });
  await issue(dir, { role: 'coordinator', name: 'coordinator' }, { days: 2 });
  await issue(dir, { role: 'operator', name: operator }, { days: 2 });
  const agentDir = join(dir, 'agent');
  await mkdir(agentDir, { recursive: true, mode: 0o700 });
  const sharedKey = join(dir, 'shared-agent.key');
  await run('openssl', [
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    sharedKey,
  ]);
  const config = join(dir, 'agent.cnf');
  await writeFile(config, EXTENSIONS);
  await eachLimited(agents, 4, async (name) => {
    const f = certFiles(dir, { role: 'agent', name });
    await link(sharedKey, f.key);
    await run('openssl', [
      'req',
      '-new',
      '-x509',
      '-config',
      config,
      '-key',
      sharedKey,
      '-subj',
      `/O=tern/OU=agent/CN=${name}`,
      '-addext',
      `subjectAltName=DNS:${name}`,
      '-CA',
      join(dir, 'ca.crt'),
      '-CAkey',
      join(dir, 'ca.key'),
      '-days',
      '2',
      '-out',
      f.cert,
    ]);
  });
  return dir;
}
