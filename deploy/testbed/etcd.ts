// A single etcd member on 127.0.0.1, for tests and the scale run without a
// testbed: Debian's etcd (make install), its own data directory and free
// ports, stopped by pid.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD = process.env.TERN_ETCD || '/usr/bin/etcd';

/** Why etcd tests cannot run here (undefined: they can). */
export function etcdMissing(): string | undefined {
  return existsSync(ETCD) ? undefined : `no etcd at ${ETCD} (make install installs Debian's etcd-server)`;
}

/** A started member for a suite, or the suite skipped with the reason when there is no etcd. */
export async function etcdForSuite(ctx: { skip(): void }): Promise<EtcdMember> {
  const why = etcdMissing();
  if (why) {
    console.log(`      skipped: ${why}`);
    ctx.skip();
  }
  return new EtcdMember().start();
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export class EtcdMember {
  private child?: ChildProcess;
  private readonly dir = mkdtempSync(join(tmpdir(), 'tern-etcd-'));
  url = '';

  async start(): Promise<this> {
    const [client, peer] = [await freePort(), await freePort()];
    this.url = `http://127.0.0.1:${client}`;
    const child = spawn(
      ETCD,
      [
        '--name',
        'm0',
        '--data-dir',
        join(this.dir, 'data'),
        '--listen-client-urls',
        this.url,
        '--advertise-client-urls',
        this.url,
        '--listen-peer-urls',
        `http://127.0.0.1:${peer}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${peer}`,
        '--initial-cluster',
        `m0=http://127.0.0.1:${peer}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child = child;
    let log = '';
    child.stderr?.on('data', (b: Buffer) => {
      log = (log + b.toString()).slice(-4000);
    });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`etcd exited ${child.exitCode}: ${log}`);
      const ok = await fetch(`${this.url}/health`)
        .then((r) => r.json() as Promise<{ health?: string }>)
        .then((j) => j.health === 'true')
        .catch(() => false);
      if (ok) return this;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd did not become healthy within 15 s: ${log}`);
  }

  /** Freezes the member (SIGSTOP): calls to it hang, as over a cut link. */
  pause(): void {
    if (this.child?.pid) process.kill(this.child.pid, 'SIGSTOP');
  }

  resume(): void {
    if (this.child?.pid) process.kill(this.child.pid, 'SIGCONT');
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (c?.pid && c.exitCode === null) {
      const gone = new Promise((r) => c.once('exit', r));
      process.kill(c.pid, 'SIGCONT');
      process.kill(c.pid, 'SIGKILL');
      await gone;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
