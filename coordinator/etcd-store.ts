// The coordinator store on etcd, for coordinators that take over from each
// other: several run at once, one leads. Leadership is an etcd key bound to
// the leader's lease; every write the leader makes is a transaction that
// holds only while that key is still the one it created (its create
// revision), so a coordinator that lost its lease, or whose key was
// replaced, cannot write another record even if it has not noticed yet.
// The leader also steps down by itself when its lease has gone unrenewed for
// two thirds of its time to live, before etcd lets anyone else lead.
//
// Keys, under the prefix (default /tern/):
//   leader                 the leader's advertised address, on its lease
//   hosts/<name>           HostRecord as JSON
//   placements/<name>      Placement as JSON
//   migrations/<id>        MigrationRecord as JSON, phase history included
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions, type Lease } from 'etcd3';
import { TernError } from '../core/errors.js';
import { checkMigrationId, validateName } from '../core/names.js';
import type { CertFiles } from '../core/pki.js';
import { type HostRecord, type MigrationRecord, type Placement, persisted, type Store } from './store.js';

export interface EtcdStoreOptions {
  /** etcd client URLs (http:// or https://). */
  endpoints: string[];
  /** Key prefix, so that several tern clusters can share one etcd. */
  prefix: string;
  /** The leader's lease: a dead leader is replaced within about this long. */
  leaseTtlSec: number;
  /** What followers see as the leader: this coordinator's advertised address. */
  identity: string;
  /** Client certificate for https endpoints (the coordinator's own). */
  tls?: CertFiles;
  /** Called once when this coordinator stops leading; it must stop acting at once. */
  onDeposed: (why: string) => void;
  /** Called while following, with the current leader's identity. */
  onFollowing?: (leader: string) => void;
}

/** Time between a follower's checks of the leader key. */
const FOLLOW_POLL_MS = 300;
/** Deadline of each etcd call, so that a cut link shows as an error, not a hang. */
const CALL_TIMEOUT_MS = 2000;

export class EtcdStore implements Store {
  readonly client: Etcd3;
  private lease?: Lease;
  /** The create revision of our leader key: the fence of every write. */
  private fence?: string;
  private deposed = false;
  private lastRenewMs = 0;
  private watchdog?: NodeJS.Timeout;

  constructor(private readonly o: EtcdStoreOptions) {
    if (!o.endpoints.length) throw new TernError('INVALID_ARGUMENT', 'etcd store: no endpoints given');
    if (!o.prefix.endsWith('/')) o.prefix += '/';
    const opts: IOptions = {
      hosts: o.endpoints,
      dialTimeout: CALL_TIMEOUT_MS,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
    };
    if (o.endpoints.some((e) => e.startsWith('https:'))) {
      if (!o.tls)
        throw new TernError('INVALID_ARGUMENT', 'etcd store: https endpoints need certificate files');
      opts.credentials = {
        rootCertificate: readFileSync(o.tls.ca),
        certChain: readFileSync(o.tls.cert),
        privateKey: readFileSync(o.tls.key),
      };
    }
    this.client = new Etcd3(opts);
  }

  private key(sub: string): string {
    return `${this.o.prefix}${sub}`;
  }

  /** Whether this store currently holds the leadership. */
  leading(): boolean {
    return !!this.fence && !this.deposed;
  }

  /**
   * Waits until this coordinator leads. Followers poll the leader key; when
   * it is gone (the leader resigned, or its lease ran out) the first to
   * create it again leads.
   */
  async lead(signal?: AbortSignal): Promise<void> {
    const leaderKey = this.key('leader');
    let lastSeen = '';
    while (!signal?.aborted) {
      if (!this.lease || this.lease.revoked()) this.lease = this.newLease();
      try {
        const leaseId = await this.lease.grant();
        const r = await this.client
          .if(leaderKey, 'Create', '==', 0)
          .then(this.client.put(leaderKey).value(this.o.identity).lease(leaseId))
          .else(this.client.get(leaderKey))
          .commit();
        if (r.succeeded) {
          this.fence = String(r.header.revision);
          this.lastRenewMs = Date.now();
          this.watch();
          return;
        }
        const kv = r.responses[0]?.response_range?.kvs?.[0];
        const leader = kv ? kv.value.toString() : '';
        if (leader && leader !== lastSeen) this.o.onFollowing?.(leader);
        lastSeen = leader;
      } catch (e) {
        // Said once per outage, not at every try.
        const why = `(etcd unreachable: ${(e as Error).message})`;
        if (why !== lastSeen) this.o.onFollowing?.(why);
        lastSeen = why;
      }
      await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
    }
    throw new TernError('CANCELLED', 'stopped before leading');
  }

  /** A lease that renews itself (etcd3 grants it at once); its loss deposes a leader. */
  private newLease(): Lease {
    const lease = this.client.lease(this.o.leaseTtlSec, { autoKeepAlive: true });
    lease.on('keepaliveSucceeded', () => {
      this.lastRenewMs = Date.now();
    });
    lease.on('lost', (e) => this.stepDown(`lease lost: ${e.message}`));
    return lease;
  }

  /**
   * Steps down when the lease has gone unrenewed for 2/3 of its time to
   * live. The client renews every third of it on one stream; when an etcd
   * member dies (its raft leader, say), renewals stall until the others
   * have elected a new one, a second or two, more on a loaded host. So the
   * lease is also renewed every sixth of its time to live by single calls,
   * through whichever member answers: the first renewal after the election
   * then comes sooner, and a dead member costs no leadership. Stepping down
   * stays where it was: the fence is unchanged.
   */
  private watch(): void {
    const ttlMs = this.o.leaseTtlSec * 1000;
    const limit = (ttlMs * 2) / 3;
    let renewing = false;
    this.watchdog = setInterval(
      () => {
        const quiet = Date.now() - this.lastRenewMs;
        if (quiet > limit) {
          this.stepDown(`lease not renewed for ${quiet} ms`);
          return;
        }
        if (renewing || quiet < ttlMs / 6 || !this.lease) return;
        renewing = true;
        // Counted from when it was sent: etcd renewed the lease after that.
        const sent = Date.now();
        this.lease
          .keepaliveOnce()
          .then(
            () => {
              this.lastRenewMs = Math.max(this.lastRenewMs, sent);
            },
            () => {},
          )
          .finally(() => {
            renewing = false;
          });
      },
      Math.min(250, limit / 4),
    );
    this.watchdog.unref();
  }

  private stepDown(why: string): void {
    if (this.deposed || !this.fence) return;
    this.deposed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.o.onDeposed(why);
  }

  /** A write that holds only while we lead. */
  private async fenced(sub: string, value: string | undefined): Promise<void> {
    if (!this.fence || this.deposed)
      throw new TernError('UNAVAILABLE', 'this coordinator does not lead: it records nothing');
    const op =
      value === undefined
        ? this.client.delete().key(this.key(sub))
        : this.client.put(this.key(sub)).value(value);
    let r: Awaited<ReturnType<ReturnType<Etcd3['if']>['commit']>>;
    try {
      r = await this.client.if(this.key('leader'), 'Create', '==', this.fence).then(op).commit();
    } catch (e) {
      throw new TernError('UNAVAILABLE', `etcd: ${(e as Error).message}`);
    }
    if (!r.succeeded) {
      this.stepDown('the leader key is no longer ours');
      throw new TernError('UNAVAILABLE', 'this coordinator no longer leads: the write was refused');
    }
  }

  private async readAll<T>(sub: string): Promise<T[]> {
    const all = await this.client.getAll().prefix(this.key(sub)).strings();
    const out: T[] = [];
    for (const v of Object.values(all)) {
      try {
        out.push(JSON.parse(v) as T);
      } catch {
        // Not a record of ours: skipped, as the file store skips unreadable files.
      }
    }
    return out;
  }

  async putMigration(m: MigrationRecord): Promise<void> {
    checkMigrationId(m.id);
    await this.fenced(`migrations/${m.id}`, JSON.stringify(persisted(m)));
  }

  async migrations(): Promise<MigrationRecord[]> {
    return this.readAll<MigrationRecord>('migrations/');
  }

  async migration(id: string): Promise<MigrationRecord | undefined> {
    checkMigrationId(id);
    const v = await this.client.get(this.key(`migrations/${id}`)).string();
    return v ? (JSON.parse(v) as MigrationRecord) : undefined;
  }

  async putHost(h: HostRecord): Promise<void> {
    validateName('host', h.name);
    await this.fenced(`hosts/${h.name}`, JSON.stringify(h));
  }

  hosts(): Promise<HostRecord[]> {
    return this.readAll<HostRecord>('hosts/');
  }

  async putPlacement(p: Placement): Promise<void> {
    validateName('container', p.name);
    await this.fenced(`placements/${p.name}`, JSON.stringify(p));
  }

  async deletePlacement(name: string): Promise<void> {
    validateName('container', name);
    await this.fenced(`placements/${name}`, undefined);
  }

  placements(): Promise<Placement[]> {
    return this.readAll<Placement>('placements/');
  }

  /** Gives the leadership up (a clean stop): a follower takes over at once. */
  async resign(): Promise<void> {
    if (this.watchdog) clearInterval(this.watchdog);
    const wasLeading = this.leading();
    this.deposed = true;
    if (wasLeading && this.lease) await this.lease.revoke().catch(() => {});
  }

  close(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.lease?.release();
    this.client.close();
  }
}
