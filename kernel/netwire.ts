// A container's network namespace, made by tern rather than restored by CRIU.
//
// What tern puts in a container's netns is fixed: a veth pair whose outer
// end is on the host's bridge and whose inner end is eth0 with the
// container's MAC and address, and lo up (wiringScript, at every launch). A container
// without CAP_NET_ADMIN cannot change any of it (addresses, routes, rules,
// iptables and nftables, net sysctls all need that capability in the
// netns), nor make a second netns without CAP_SYS_ADMIN. For such a
// container CRIU need not dump the namespace's properties, nor restore them:
// `--empty-ns net` skips both (the `ip ... save` and `iptables-save` runs of
// the dump, their `restore` twins on the target, 20-30 ms of the frozen
// window here), and the restore's `setup-namespaces` action, which CRIU runs
// once the namespaces exist and before any socket is restored, wires the new
// netns as a launch does. CRIU still dumps and restores the sockets and the
// conntrack table, and puts its network lock back itself.
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkCaps } from '../core/caps.js';
import { invalid } from '../core/errors.js';
import type { ContainerNet } from './host.js';
import { IFNAME } from './inflight.js';

/** Capabilities that let a container change its network namespace or make another. */
const NET_CHANGING_CAPS = ['NET_ADMIN', 'SYS_ADMIN'];

/** Whether a container with these added capabilities can change its netns (then CRIU dumps it whole). */
export function changesItsNetwork(capAdd: readonly string[] | undefined): boolean {
  return checkCaps(capAdd ?? []).some((c) => NET_CHANGING_CAPS.includes(c));
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const CIDR = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

/**
 * The script that wires a container's network namespace, at its launch
 * (wiringCommand) and as the action script of `criu restore --empty-ns
 * net`: at setup-namespaces it creates the veth pair with eth0 in the netns of
 * CRTOOLS_INIT_PID, puts the outer end on the bridge, and inside sets lo up
 * and eth0's MAC and address. Every other action passes. A failure fails the
 * launch or the restore, and deletes the pair if it made it.
 */
export function wiringScript(net: ContainerNet): string {
  if (!IFNAME.test(net.veth) || !IFNAME.test(net.bridge))
    throw invalid(`bad interface name ${JSON.stringify(net.veth)} or bridge ${JSON.stringify(net.bridge)}`);
  if (!MAC.test(net.mac)) throw invalid(`bad MAC address ${JSON.stringify(net.mac)}`);
  if (!CIDR.test(net.ip)) throw invalid(`bad address ${JSON.stringify(net.ip)} (a.b.c.d/prefix)`);
  return `#!/bin/sh
# tern: wires a container's network namespace (its launch, or a restore without it).
[ "$CRTOOLS_SCRIPT_ACTION" = setup-namespaces ] || exit 0
set -e
PATH="$PATH:/usr/sbin:/sbin"
ip link add '${net.veth}' type veth peer name eth0 netns "$CRTOOLS_INIT_PID"
# The pair made here goes again if a later step fails.
trap "ip link del '${net.veth}'" EXIT
ip link set '${net.veth}' master '${net.bridge}' up
nsenter -t "$CRTOOLS_INIT_PID" -n ip -batch - <<EOF
link set lo up
link set eth0 address ${net.mac}
addr add ${net.ip} dev eth0
link set eth0 up
EOF
trap - EXIT
`;
}

/**
 * The command that wires the netns of `pid` now (a launch): the wiring
 * script, given what CRIU gives it at a restore.
 */
export function wiringCommand(pid: number, net: ContainerNet): string[] {
  return [
    'env',
    'CRTOOLS_SCRIPT_ACTION=setup-namespaces',
    `CRTOOLS_INIT_PID=${pid}`,
    'sh',
    '-c',
    wiringScript(net),
  ];
}

/** Writes the wiring script into dir, for CRIU's --action-script; returns its path. */
export async function writeWiringScript(dir: string, net: ContainerNet): Promise<string> {
  const path = join(dir, 'wire-net.sh');
  await writeFile(path, wiringScript(net));
  await chmod(path, 0o700);
  return path;
}
