// The container the plain and in-place cases move by hand: the same kind tern
// runs (kernel/shim.ts launch: own pid, mount, net, uts and ipc namespaces,
// pivot_root into a rootfs copy, console at /tern/console.log, one veth on the
// host's br0), but started by the benchmark and unknown to tern, so CRIU can
// move it without touching tern's records.
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CONSOLE } from '../../agent/containers.js';
import { randomMac } from '../../agent/policy.js';
import { CRIU, inHost, sh } from '../../deploy/testbed/driver.js';
import { criuHas, JOINS_EMPTY_NETNS } from '../../kernel/criu-features.js';
import {
  prewiredName,
  prewiringScript,
  wiringCommand,
  writeUpScript,
  writeWiringScript,
} from '../../kernel/netwire.js';
import { alive, startTime, waitGone } from '../../kernel/proc.js';
import { launchContainer, restoreUnderShim } from '../../kernel/shim.js';
import { onCleanup } from '../cleanup.js';
import { FROM, SHIM } from '../config.js';
import { hex, must, timed } from '../util.js';
import { waitReady } from '../workload.js';

/** tern-shim run inside each host's netns, as that host's agent runs it: host -> wrapper script in work. */
export async function shimWrappers(work: string, hosts: string[]): Promise<Record<string, string>> {
  const wrappers: Record<string, string> = {};
  for (const h of hosts) {
    wrappers[h] = join(work, `tern-shim-${h}`);
    await writeFile(wrappers[h], `#!/bin/sh\nexec ip netns exec tern-${h} '${SHIM}' "$@"\n`);
    await chmod(wrappers[h], 0o755);
  }
  return wrappers;
}

/**
 * One container outside tern, launched on hostA. Its address comes from the
 * top of the LAN that the coordinator never hands out (it allocates .10-.200).
 * Everything it makes (trees, shims, veths, its dir) goes on stop or cleanup.
 */
export class PlainContainer {
  /** Host pid of the tree's init and its /proc start time; change with every restore. */
  pid = 0;
  start = '';
  host = FROM;
  veth = '';
  mac = '';
  ip = '';
  private readonly shims: { pid: number; start: string }[] = [];
  private readonly veths: { host: string; name: string }[] = [];
  /** Namespaces prewire made (ip netns names), removed once restored into or at the end. */
  private readonly netns: string[] = [];
  private prewired?: { host: string; name: string; veth: string };
  readonly stop: () => Promise<void>;

  constructor(
    readonly id: string,
    readonly dir: string,
    private readonly shimWrappers: Record<string, string>,
    /** The workload rootfs copied in at launch. */
    private readonly workloadDir: string,
  ) {
    this.stop = onCleanup(`plain container ${id}`, () => this.kill());
  }

  rootfs(host: string): string {
    return join(this.dir, host, 'rootfs');
  }

  private async track(pid: number, shimPid: number): Promise<void> {
    this.pid = pid;
    this.start = (await startTime(pid)) ?? '';
    this.shims.push({ pid: shimPid, start: (await startTime(shimPid)) ?? '' });
  }

  /**
   * The network namespace the next restore on `host` goes into, made before
   * the dump as tern's target makes its own (kernel/netwire.ts): a script
   * with tern's CRIU can do the same, so the baselines do too.
   */
  async prewire(host: string): Promise<void> {
    if (!(await criuHas(CRIU, JOINS_EMPTY_NETNS))) return;
    const veth = this.newVeth(host);
    const name = prewiredName(`bench${hex(4)}`, host);
    this.netns.push(name);
    const net = { veth, bridge: 'br0', mac: this.mac, ip: this.ip };
    await must(sh(['sh', '-c', prewiringScript(name, net, `tern-${host}`)]), 'making the network namespace');
    this.prewired = { host, name, veth };
  }

  private newVeth(host: string): string {
    const name = `bnch${hex(4)}`;
    this.veths.push({ host, name });
    return name;
  }

  async launch(script: string, ip: string): Promise<void> {
    const rootfs = this.rootfs(FROM);
    await mkdir(rootfs, { recursive: true });
    await must(sh(['cp', '-a', `${this.workloadDir}/.`, `${rootfs}/`]), 'copying the rootfs');
    const veth = this.newVeth(FROM);
    const mac = randomMac();
    this.mac = mac;
    this.ip = ip;
    const launched = await launchContainer(
      this.shimWrappers[FROM],
      {
        rootfs,
        hostname: this.id,
        console: CONSOLE,
        env: [],
        command: ['/bin/sh', '-c', script],
        exitFile: join(this.dir, FROM, 'exit'),
      },
      // Wired as tern's agent wires a container (kernel/netwire.ts), in hostA's netns.
      async (pid) => {
        await must(
          inHost(FROM, wiringCommand(pid, { veth, bridge: 'br0', mac, ip })),
          'wiring the container',
        );
      },
    );
    await this.track(launched.pid, launched.shimPid);
    this.veth = veth;
    await waitReady(rootfs, this.id);
  }

  /**
   * criu dump with the flags tern uses (docs/design.md), the network
   * namespace not dumped as tern does for a container without NET_ADMIN
   * (kernel/netwire.ts); the tree is killed once dumped.
   */
  async dump(images: string, logs: string): Promise<number> {
    await mkdir(images, { recursive: true });
    await mkdir(logs, { recursive: true });
    return timed(
      [
        'ip',
        'netns',
        'exec',
        `tern-${this.host}`,
        CRIU,
        'dump',
        '-t',
        String(this.pid),
        '-D',
        images,
        '-o',
        join(logs, `dump-${hex(2)}.log`),
        '--tcp-established',
        '--network-lock',
        'nftables',
        '--empty-ns',
        'net',
      ],
      `criu dump of ${this.id} on ${this.host}`,
    );
  }

  /**
   * criu restore -d under tern-shim (the reaper of the restored tree), running
   * at once; its network namespace wired as tern's target does (kernel/netwire.ts).
   */
  async restore(host: string, images: string, logs: string): Promise<number> {
    await mkdir(logs, { recursive: true });
    const pre = this.prewired?.host === host ? this.prewired : undefined;
    this.prewired = undefined;
    const veth = pre?.veth ?? this.newVeth(host);
    const tag = hex(2);
    const net = pre
      ? ['--join-ns', `net:/run/netns/${pre.name}`, '--action-script', await writeUpScript(logs, veth)]
      : [
          '--action-script',
          await writeWiringScript(logs, { veth, bridge: 'br0', mac: this.mac, ip: this.ip }),
        ];
    const pidfile = join(logs, `restore-${tag}.pid`);
    const rlog = join(logs, `restore-${tag}.log`);
    const t0 = performance.now();
    const r = await restoreUnderShim(
      this.shimWrappers[host],
      [
        CRIU,
        'restore',
        '-D',
        images,
        '-o',
        rlog,
        '--tcp-established',
        '--network-lock',
        'nftables',
        '--root',
        this.rootfs(host),
        '--empty-ns',
        'net',
        ...net,
        '-d',
        '--pidfile',
        pidfile,
      ],
      {
        pidfile,
        log: join(logs, `restore-${tag}.out`),
        exitFile: join(this.dir, host, 'exit'),
        timeoutMs: 300_000,
      },
    );
    const ms = performance.now() - t0;
    if (r.failure) {
      const tail = (await readFile(rlog, 'utf8').catch(() => ''))
        .split('\n')
        .filter((l) => /Error/.test(l) && !/RLIMIT_NOFILE|Address already assigned/.test(l))
        .slice(-3)
        .join(' / ');
      throw new Error(`criu restore of ${this.id} on ${host} failed: ${r.failure}${tail ? `: ${tail}` : ''}`);
    }
    await this.track(r.pid, r.shimPid);
    if (pre) await sh(['ip', 'netns', 'del', pre.name]);
    this.host = host;
    this.veth = veth;
    return ms;
  }

  private async kill(): Promise<void> {
    if (this.pid && (await alive(this.pid)) && (await startTime(this.pid)) === this.start) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      if (!(await waitGone(this.pid, 10_000))) throw new Error(`container init ${this.pid} did not die`);
    }
    // Each shim exits once its init is reaped; one that has not is ours to end.
    for (const s of this.shims) {
      if (!(await waitGone(s.pid, 3000)) && (await startTime(s.pid)) === s.start)
        process.kill(s.pid, 'SIGKILL');
    }
    for (const n of this.netns) await sh(['ip', 'netns', 'del', n]);
    for (const v of this.veths) await inHost(v.host, ['ip', 'link', 'del', v.name]);
    await rm(this.dir, { recursive: true, force: true });
  }
}
