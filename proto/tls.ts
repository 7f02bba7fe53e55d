// Who is calling. Every TCP port tern serves speaks mutual TLS with
// certificates of the cluster CA (core/pki.ts); the subject's OU is the
// caller's role and its CN its name. A server checks the role on every call
// before the handler runs (authorize); a client checks that the server it
// reached is the role and name it meant to reach, not just any certificate
// of the CA (checkPeer). The coordinator's unix socket is the one plaintext
// port: it is local, and its mode and group say who may use it.
//
// Certificate files are watched: a rotated certificate is used for new
// connections within REFRESH_MS, without restarting anything.
import { constants, readFileSync, statSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { createSecureContext, type PeerCertificate, type SecureContext, TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { invalid } from '../core/errors.js';
import { type CertFiles, type Identity, ROLES, type Role } from '../core/pki.js';

const REFRESH_MS = Number(process.env.TERN_CERT_REFRESH_MS) || 10_000;

/** The identity in a certificate of the cluster CA, or undefined if it names none. */
export function identityOf(cert: PeerCertificate | undefined): Identity | undefined {
  const subject = cert?.subject as Record<string, string | string[]> | undefined;
  if (!subject) return undefined;
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? undefined : v);
  const role = one(subject.OU);
  const name = one(subject.CN);
  if (one(subject.O) !== 'tern' || !role || !name || !(ROLES as readonly string[]).includes(role))
    return undefined;
  return { role: role as Role, name };
}

/** A caller: a certificate's identity, or the local unix socket. */
export type Caller = Identity | { role: 'local'; name: string };

/**
 * Who made this call: the identity in its client certificate; on a server
 * bound only to the local unix socket (`local`), a caller without one is
 * the local user. Undefined otherwise (never served).
 */
export function callerOf(
  call: { getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null },
  local = false,
): Caller | undefined {
  const sock = tlsSocketOf(call);
  const id = sock ? connectionIdentity(sock) : identityOf(call.getAuthContext()?.sslPeerCertificate);
  if (id) return id;
  return local ? { role: 'local', name: 'unix socket' } : undefined;
}

/**
 * The identity in each TLS connection's client certificate. grpc-js builds
 * the peer certificate object (every field, fingerprints and all) on every
 * call that asks for its auth context, and every call to a tern server asks
 * once or twice: about 8 % of a busy coordinator's CPU. A connection's
 * certificate cannot change while it lasts (TLS 1.3, no renegotiation), so
 * it is read once per connection; the entry goes with the socket.
 */
const identities = new WeakMap<TLSSocket, Identity | undefined>();

function connectionIdentity(sock: TLSSocket): Identity | undefined {
  // As grpc-js: a connection whose certificate did not verify has no identity.
  if (!sock.authorized) return undefined;
  if (!identities.has(sock)) identities.set(sock, identityOf(sock.getPeerCertificate()));
  return identities.get(sock);
}

/**
 * The TLS socket a grpc-js server call came in on, found through the
 * call objects grpc-js wraps around it (an interceptor's call, a handler's
 * call); undefined where it is not found (another grpc-js, the local unix
 * socket), and callerOf then asks the call's auth context as grpc-js offers it.
 */
function tlsSocketOf(call: unknown): TLSSocket | undefined {
  let c = call as
    | { stream?: { session?: { socket?: unknown } }; nextCall?: unknown; call?: unknown }
    | undefined;
  for (let depth = 0; c && depth < 8; depth++) {
    const sock = c.stream?.session?.socket;
    if (sock instanceof TLSSocket) return sock;
    if (sock) return undefined;
    c = (c.nextCall ?? c.call) as typeof c;
  }
  return undefined;
}

export function describe(c: Caller | undefined): string {
  if (!c) return 'a caller without a tern certificate';
  return c.role === 'local' ? 'the local socket' : `${c.role} ${c.name}`;
}

/** Which callers may call each method: roles, and 'local' for the unix socket. */
export type Policy = Record<string, readonly (Role | 'local')[]>;

/**
 * A server interceptor that refuses a call before its handler runs unless
 * the caller's role is in the method's entry (tern's methods by name,
 * others by full path). A method missing from the policy is refused to
 * everyone.
 */
export function authorize(
  policy: Policy,
  onDenied?: (method: string, who: string) => void,
  local = false,
): grpc.ServerInterceptor {
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (md, mdNext) => {
            const name = method.path.split('/').pop() ?? method.path;
            const caller = callerOf(call, local);
            // Methods of other services (gRPC health) are listed by full path.
            const allowed =
              policy[method.path] ?? (method.path.startsWith('/tern.') ? policy[name] : undefined) ?? [];
            if (caller && allowed.includes(caller.role)) {
              mdNext(md);
              return;
            }
            const who = describe(caller);
            onDenied?.(name, who);
            call.sendStatus({
              code: caller ? grpc.status.PERMISSION_DENIED : grpc.status.UNAUTHENTICATED,
              details: caller
                ? `${name} is not allowed for ${who}`
                : `${name} needs a client certificate of the tern cluster CA`,
              metadata: new grpc.Metadata(),
            });
          },
        });
      },
    });
}

const providers = new Map<string, grpc.experimental.FileWatcherCertificateProvider>();

/**
 * One file watcher per set of files, shared by every server and client of
 * this process (it watches while any of them listens).
 */
function provider(files: CertFiles): grpc.experimental.FileWatcherCertificateProvider {
  const key = `${files.ca}\0${files.cert}\0${files.key}`;
  let p = providers.get(key);
  if (!p) {
    p = new grpc.experimental.FileWatcherCertificateProvider({
      caCertificateFile: files.ca,
      certificateFile: files.cert,
      privateKeyFile: files.key,
      refreshIntervalMs: REFRESH_MS,
    });
    providers.set(key, p);
  }
  return p;
}

/** Settles once the provider has delivered a CA and an identity; then stops listening. */
function loadedOnce(p: grpc.experimental.FileWatcherCertificateProvider): {
  done: Promise<void>;
  cancel(): void;
} {
  let ca = false;
  let id = false;
  let settle!: () => void;
  const done = new Promise<void>((r) => {
    settle = r;
  });
  const cancel = () => {
    p.removeCaCertificateListener(onCa);
    p.removeIdentityCertificateListener(onId);
  };
  const check = () => {
    if (!ca || !id) return;
    cancel();
    settle();
  };
  const onCa = (u: unknown) => {
    ca ||= !!u;
    check();
  };
  const onId = (u: unknown) => {
    id ||= !!u;
    check();
  };
  p.addCaCertificateListener(onCa);
  p.addIdentityCertificateListener(onId);
  return { done, cancel };
}

/**
 * Resolves once files' certificates are loaded, so that the first
 * connection of a server or client already has them (a TLS connection
 * before that would be dropped). Refuses, naming the file, when one cannot
 * be read.
 */
export async function tlsReady(files: CertFiles, timeoutMs = 10_000): Promise<void> {
  for (const [what, file] of [
    ['CA certificate', files.ca],
    ['certificate', files.cert],
    ['key', files.key],
  ] as const) {
    await access(file, constants.R_OK).catch((e: Error) => {
      throw invalid(`cannot read the ${what} ${file} (${e.message}); make it with \`tern ca\``);
    });
  }
  const load = loadedOnce(provider(files));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      load.cancel();
      reject(
        invalid(`certificate files ${files.cert} and ${files.key} did not load; are they a valid pair?`),
      );
    }, timeoutMs);
  });
  try {
    await Promise.race([load.done, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Server credentials that require a client certificate of the CA. */
export function serverCredentials(files: CertFiles): grpc.ServerCredentials {
  const p = provider(files);
  return grpc.experimental.createCertificateProviderServerCredentials(p, p, true);
}

/** Who a peer must be: a role, and a name if given. */
export interface Expect {
  role: Role;
  name?: string;
}

/** Undefined if cert names the identity `expect` asks for; else the error that says whom it names. */
export function checkPeer(
  cert: PeerCertificate | undefined,
  expect: Expect,
  what = 'the server',
): Error | undefined {
  const id = identityOf(cert);
  if (!id || id.role !== expect.role || (expect.name !== undefined && id.name !== expect.name))
    return new Error(
      `${what} presented ${id ? `${id.role} ${id.name}` : 'no tern identity'}, not ${expect.role}${expect.name ? ` ${expect.name}` : ''}`,
    );
  return undefined;
}

/**
 * Client credentials presenting files' certificate, and accepting only a
 * server whose certificate names `expect` (its role, and its name if given).
 */
export function channelCredentials(files: CertFiles, expect: Expect): grpc.ChannelCredentials {
  const p = provider(files);
  const creds = grpc.experimental.createCertificateProviderChannelCredentials(p, p, {
    checkServerIdentity: (_host, cert) => checkPeer(cert, expect),
  });
  shareContexts(creds, files);
  return creds;
}

/** What a provider last delivered, as grpc-js keeps it on its credentials. */
interface ProviderCredentials {
  latestCaUpdate?: { caCertificate: Buffer } | null;
  latestIdentityUpdate?: { certificate: Buffer; privateKey: Buffer } | null;
  getLatestSecureContext?: () => SecureContext | null;
}

const sharedContexts = new Map<string, { ca: Buffer; cert: Buffer; key: Buffer; ctx: SecureContext }>();

/**
 * grpc-js builds a new TLS context (parsing the CA, certificate and key)
 * for every connection a channel makes: on a coordinator that reaches
 * hundreds of agents, or a process of many agents, that is about 0.8 ms of
 * CPU and 50 KiB of memory per connection. Every channel with the same
 * files shares one context instead, rebuilt only when the files' contents
 * change (a rotated certificate still serves the next connection). With a
 * grpc-js that keeps its credentials otherwise, nothing changes.
 */
function shareContexts(creds: grpc.ChannelCredentials, files: CertFiles): void {
  const impl = creds as unknown as ProviderCredentials;
  const build = impl.getLatestSecureContext;
  if (typeof build !== 'function') return;
  const key = `${files.ca}\0${files.cert}\0${files.key}`;
  impl.getLatestSecureContext = () => {
    const ca = impl.latestCaUpdate?.caCertificate;
    const id = impl.latestIdentityUpdate;
    if (!ca || !id) return build.call(impl);
    const known = sharedContexts.get(key);
    if (known?.ca.equals(ca) && known.cert.equals(id.certificate) && known.key.equals(id.privateKey))
      return known.ctx;
    const ctx = build.call(impl);
    if (ctx) sharedContexts.set(key, { ca, cert: id.certificate, key: id.privateKey, ctx });
    return ctx;
  };
}

const contexts = new Map<string, { stamp: string; ctx: SecureContext }>();

/**
 * A TLS context (TLS 1.3 only) with files' CA and identity, for connections
 * outside gRPC (the agents' data channel). Rebuilt when a file changes, so a
 * rotated certificate serves the next connection.
 */
export function secureContextOf(files: CertFiles): SecureContext {
  const key = `${files.ca}\0${files.cert}\0${files.key}`;
  const stamp = [files.ca, files.cert, files.key]
    .map((f) => {
      const s = statSync(f);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    })
    .join('|');
  const known = contexts.get(key);
  if (known?.stamp === stamp) return known.ctx;
  const ctx = createSecureContext({
    ca: readFileSync(files.ca),
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
    minVersion: 'TLSv1.3',
  });
  contexts.set(key, { stamp, ctx });
  return ctx;
}

/** Refuses a TCP address without TLS files: there is no plaintext TCP. */
export function requireTls(files: CertFiles | undefined, address: string): CertFiles {
  if (!files)
    throw invalid(
      `${address} is a TCP address: tern speaks only mutual TLS there; give the certificate files (--pki)`,
    );
  return files;
}
