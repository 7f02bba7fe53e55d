// The cluster's certificate authority and the certificates it issues, made
// with the openssl command (OpenSSL 3, in every Debian install). Every daemon
// and operator proves who it is with one of these: the subject says
// O=tern, OU=<role>, CN=<name>, and that is what the role checks read
// (proto/tls.ts). Keys are EC P-256 and never leave the directory they were
// made in; the directory is 0700 and keys are 0600.
//
// Layout of a PKI directory:
//   ca.crt, ca.key                 the cluster CA (ca.key stays on the machine that issues)
//   <role>/<name>.crt, .key        one per host, coordinator and operator
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chmod, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { invalid, TernError } from './errors.js';
import { validateName } from './names.js';

const run = promisify(execFile);

/** etcd: a member of the coordinators' store (--store etcd); no tern service takes its calls. */
export const ROLES = ['coordinator', 'agent', 'operator', 'etcd'] as const;
export type Role = (typeof ROLES)[number];

/** Where the installed daemons and the CLI look by default. */
export const DEFAULT_PKI_DIR = '/etc/tern/pki';

export interface Identity {
  role: Role;
  name: string;
}

export interface CertFiles {
  ca: string;
  cert: string;
  key: string;
}

/** The files of one identity in a PKI directory. */
export function certFiles(dir: string, id: Identity): CertFiles {
  return {
    ca: join(dir, 'ca.crt'),
    cert: join(dir, id.role, `${id.name}.crt`),
    key: join(dir, id.role, `${id.name}.key`),
  };
}

export function checkRole(role: string): Role {
  if (!(ROLES as readonly string[]).includes(role))
    throw invalid(`unknown role ${JSON.stringify(role)}: use ${ROLES.join(', ')}`);
  return role as Role;
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

async function openssl(args: string[], what: string): Promise<void> {
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new TernError('INTERNAL', `openssl failed ${what}: ${(err.stderr || err.message).trim()}`);
  }
}

/**
 * Makes the CA in dir unless one is there (then it is kept: re-running an
 * install must not invalidate every certificate). Returns whether it made one.
 */
export async function initCa(dir: string, opts: { days?: number; name?: string } = {}): Promise<boolean> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const key = join(dir, 'ca.key');
  const crt = join(dir, 'ca.crt');
  if ((await exists(key)) && (await exists(crt))) return false;
  await openssl(
    ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key],
    'making the CA key',
  );
  await chmod(key, 0o600);
  await openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      key,
      '-sha256',
      '-days',
      String(opts.days ?? 3650),
      '-subj',
      `/O=tern/OU=ca/CN=${opts.name ?? 'tern cluster CA'}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      crt,
    ],
    'making the CA certificate',
  );
  await chmod(crt, 0o644);
  return true;
}

/**
 * Issues (or re-issues, for rotation) the certificate of one identity,
 * signed by the CA in dir. `dns` and `ips` become subjectAltNames besides
 * the name itself. The new files replace the old ones only once both exist.
 */
export async function issue(
  dir: string,
  id: Identity,
  opts: { days?: number; dns?: string[]; ips?: string[] } = {},
): Promise<CertFiles> {
  checkRole(id.role);
  validateName(id.role === 'agent' ? 'host' : id.role, id.name);
  const caKey = join(dir, 'ca.key');
  if (!(await exists(caKey)))
    throw new TernError('FAILED_PRECONDITION', `no CA in ${dir}: run \`tern ca init --dir ${dir}\` first`);
  const files = certFiles(dir, id);
  await mkdir(join(dir, id.role), { recursive: true, mode: 0o700 });
  const tmp = `${files.key}.new`;
  const csr = `${files.key}.csr`;
  const ext = `${files.key}.ext`;
  const san = [
    `DNS:${id.name}`,
    ...(opts.dns ?? []).map((d) => `DNS:${d}`),
    ...(opts.ips ?? []).map((i) => `IP:${i}`),
  ];
  try {
    await openssl(
      ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', tmp],
      'making a key',
    );
    await chmod(tmp, 0o600);
    await openssl(
      ['req', '-new', '-key', tmp, '-subj', `/O=tern/OU=${id.role}/CN=${id.name}`, '-out', csr],
      'making a request',
    );
    await writeFile(
      ext,
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyAgreement',
        'extendedKeyUsage=serverAuth,clientAuth',
        `subjectAltName=${san.join(',')}`,
        '',
      ].join('\n'),
    );
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        join(dir, 'ca.crt'),
        '-CAkey',
        caKey,
        '-CAcreateserial',
        '-sha256',
        '-days',
        String(opts.days ?? 825),
        '-extfile',
        ext,
        '-out',
        `${files.cert}.new`,
      ],
      'signing the certificate',
    );
    // Key first, then certificate: a reader that sees the new certificate finds its key.
    await rename(tmp, files.key);
    await chmod(`${files.cert}.new`, 0o644);
    await rename(`${files.cert}.new`, files.cert);
  } finally {
    await rm(csr, { force: true });
    await rm(ext, { force: true });
    await rm(tmp, { force: true });
    await rm(`${files.cert}.new`, { force: true });
  }
  return files;
}

/** Reads a certificate's subject as an identity, for `tern ca show` and tests. */
export async function readIdentity(certFile: string): Promise<Identity & { notAfter: string }> {
  await access(certFile, constants.R_OK).catch((e: Error) => {
    throw invalid(`cannot read the certificate ${certFile}: ${e.message}`);
  });
  const { stdout } = await run('openssl', [
    'x509',
    '-in',
    certFile,
    '-noout',
    '-subject',
    '-enddate',
    '-nameopt',
    'RFC2253',
  ]);
  const ou = /OU=([^,\n]+)/.exec(stdout)?.[1] ?? '';
  const cn = /CN=([^,\n]+)/.exec(stdout)?.[1] ?? '';
  const notAfter = /notAfter=(.+)/.exec(stdout)?.[1] ?? '';
  return { role: checkRole(ou), name: cn, notAfter };
}
