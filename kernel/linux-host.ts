// The real host: tern-shim launches containers, /proc answers for processes,
// iproute2 and nsenter wire and enter network namespaces.
import { spawn } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LinuxCgroups } from './cgroups.js';
import { run, runError, runOk } from './exec.js';
import type { ContainerLaunch, ContainerNet, ExecConfinement, ExecResult, HostRuntime } from './host.js';
import { type Finding, findLeaks } from './leaks.js';
import { PREWIRED_PREFIX, prewiringScript, wiringCommand } from './netwire.js';
import { alive, exiting, processTree, resumeTree, startTime, stopTree, waitGone } from './proc.js';
import { TarArchive } from './rootfs-archive.js';
import { launchContainer } from './shim.js';
import { memoryInfo, type WarmHold, warmMemory } from './warm.js';

const NSENTER = '/usr/bin/nsenter';
/** Where `ip netns` keeps named network namespaces. */
const NETNS_DIR = '/run/netns';

export class LinuxHost implements HostRuntime {
  readonly cgroups = new LinuxCgroups();
  readonly rootfs = new TarArchive();

  async launch(spec: ContainerLaunch, net: ContainerNet): Promise<{ pid: number; shimPid: number }> {
    return launchContainer(spec.shim, spec, async (pid) => {
      if (spec.cgroup) await this.cgroups.enter(spec.cgroup, pid);
      await this.wire(pid, net);
    });
  }

  /**
   * Creates the veth pair: outer end on the bridge, inner end eth0 in the
   * container, as a restore that does not get the netns from CRIU does (netwire.ts).
   */
  private async wire(pid: number, net: ContainerNet): Promise<void> {
    await runOk(wiringCommand(pid, net));
  }

  async unwire(veth: string): Promise<void> {
    await run(['ip', 'link', 'del', veth]);
  }

  async prewire(name: string, net: ContainerNet): Promise<string> {
    await runOk(['sh', '-c', prewiringScript(name, net)]);
    return join(NETNS_DIR, name);
  }

  async unprewire(name: string): Promise<void> {
    // Most calls find none: no process is spawned for them.
    if (await stat(join(NETNS_DIR, name)).catch(() => undefined)) await run(['ip', 'netns', 'del', name]);
  }

  async prewired(): Promise<string[]> {
    const names = await readdir(NETNS_DIR).catch(() => [] as string[]);
    return names.filter((n) => n.startsWith(PREWIRED_PREFIX));
  }

  async linkNames(): Promise<Set<string>> {
    const out = await runOk(['ip', '-o', 'link', 'show']);
    const names = new Set<string>();
    for (const line of out.split('\n')) {
      const m = /^\d+:\s+([^:@\s]+)/.exec(line);
      if (m) names.add(m[1]);
    }
    return names;
  }

  async announce(pid: number, ip: string): Promise<void> {
    const argv = ['/bin/busybox', 'arping', '-U', '-c', '1', '-w', '1', '-I', 'eth0', ip.split('/')[0]];
    const r = await run([NSENTER, '-t', String(pid), '-n', ...argv], { timeoutMs: 3000 });
    if (r.code !== 0) throw new Error(`gratuitous ARP failed: ${r.stderr.toString().trim()}`);
  }

  async exec(
    pid: number,
    command: string[],
    timeoutMs: number,
    confine: ExecConfinement,
  ): Promise<ExecResult> {
    const caps = confine.capAdd.flatMap((c) => ['--cap-add', c]);
    if (confine.noSeccomp) caps.push('--no-seccomp', '1');
    for (const f of confine.cgroups ?? []) caps.push('--cgroup', f);
    return run([confine.shim, 'exec', '--pid', String(pid), ...caps, '--', ...command], {
      env: { PATH: '/bin:/sbin:/usr/bin:/usr/sbin', HOME: '/root', TERM: 'dumb' },
      timeoutMs: timeoutMs || 60_000,
      maxOutput: 4 * 1024 * 1024,
    });
  }

  alive(pid: number): Promise<boolean> {
    return alive(pid);
  }

  startTime(pid: number): Promise<string | undefined> {
    return startTime(pid);
  }

  waitGone(pid: number, timeoutMs: number): Promise<boolean> {
    return waitGone(pid, timeoutMs);
  }

  waitExiting(pid: number, timeoutMs: number): Promise<boolean> {
    return waitGone(pid, timeoutMs, exiting);
  }

  kill(pid: number): void {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  stopTree(root: number): Promise<void> {
    return stopTree(root);
  }

  async resumeTree(root: number, keepStopped: ReadonlyMap<number, number | undefined>): Promise<void> {
    await resumeTree(root, keepStopped);
  }

  async treeMemory(pid: number): Promise<number> {
    let kib = 0;
    for (const p of await processTree(pid)) {
      const status = await readFile(`/proc/${p}/status`, 'utf8').catch(() => '');
      kib += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    }
    return kib * 1024;
  }

  leaks(pid: number): Promise<Finding[]> {
    return findLeaks(pid);
  }

  async diskUsage(dir: string): Promise<number> {
    // Allocated bytes, not apparent size: a sparse file moves as sparse (tar --sparse).
    // The container runs while this walks its rootfs: a file it deletes meanwhile makes du
    // exit 1 with the total still printed. That is an estimate, not an error.
    const argv = ['du', '-s', '--block-size=1', dir];
    const r = await run(argv);
    const total = /^(\d+)\t/.exec(r.stdout.toString());
    const vanished = r.stderr
      .toString()
      .split('\n')
      .every((l) => l === '' || l.endsWith('No such file or directory'));
    if (total && (r.code === 0 || (r.code === 1 && vanished))) return Number(total[1]);
    throw runError(argv, r);
  }

  async exitedPid(): Promise<number> {
    const child = spawn('true', [], { stdio: 'ignore' });
    await new Promise((r) => child.on('close', r));
    return child.pid ?? 1;
  }

  warmMemory(bytes: number): Promise<WarmHold> {
    return warmMemory(bytes);
  }

  memory(): Promise<{ available: number; total: number }> {
    return memoryInfo();
  }
}
