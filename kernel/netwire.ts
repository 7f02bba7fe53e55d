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
${inside(net)}
EOF
trap - EXIT
`;
}

/**
 * The named network namespaces tern makes ahead of restores (`ip netns`),
 * one per migration and target host: `tern-restore-ID@HOST` (agents that
 * share a mount namespace, as the testbed's, share /run/netns).
 */
export const PREWIRED_PREFIX = 'tern-restore-';
const PREWIRED = /^tern-restore-[A-Za-z0-9_-]{1,64}@[a-z0-9][a-z0-9_.-]{0,62}$/i;

/** The namespace made on `host` ahead of the restore of migration `id`. */
export function prewiredName(id: string, host: string): string {
  const name = `${PREWIRED_PREFIX}${id}@${host}`;
  if (!PREWIRED.test(name))
    throw invalid(
      `bad migration id ${JSON.stringify(id)} or host ${JSON.stringify(host)} for a network namespace`,
    );
  return name;
}

/** Whether `name` is one prewiredName gave for `host`. */
export function prewiredFor(name: string, host: string): boolean {
  return PREWIRED.test(name) && name.endsWith(`@${host}`);
}

/**
 * The script that makes, before the freeze, the network namespace a
 * restore will go into (`criu restore --empty-ns net --join-ns net:...`):
 * named `name` (ip netns), wired as wiringScript wires a launch's, except
 * that the outer veth end stays down, so that the container's address is
 * not on the bridge twice while its tree still runs on the source. A
 * failure removes the namespace, and the pair with it. The outer end goes
 * into the netns the script runs in, or into the named one `outer`.
 */
export function prewiringScript(name: string, net: ContainerNet, outer?: string): string {
  if (!PREWIRED.test(name)) throw invalid(`bad network namespace name ${JSON.stringify(name)}`);
  if (outer !== undefined && !IFNAME.test(outer))
    throw invalid(`bad network namespace name ${JSON.stringify(outer)}`);
  wiringScript(net);
  const at = outer ? ` -n '${outer}'` : '';
  return `#!/bin/sh
# tern: a container's network namespace, made before its restore.
set -e
PATH="$PATH:/usr/sbin:/sbin"
ip netns add '${name}'
trap "ip netns del '${name}'" EXIT
ip${at} link add '${net.veth}' type veth peer name eth0 netns '${name}'
ip${at} link set '${net.veth}' master '${net.bridge}'
ip -n '${name}' -batch - <<EOF
${inside(net)}
EOF
trap - EXIT
`;
}

/**
 * The action script of a restore into a prewired namespace: at
 * setup-namespaces, once CRIU is in it and before any socket is restored
 * (where wiringScript makes the pair), the outer end goes up.
 */
export function upScript(veth: string): string {
  if (!IFNAME.test(veth)) throw invalid(`bad interface name ${JSON.stringify(veth)}`);
  return `#!/bin/sh
# tern: brings a prewired container network up during its restore.
[ "$CRTOOLS_SCRIPT_ACTION" = setup-namespaces ] || exit 0
PATH="$PATH:/usr/sbin:/sbin"
exec ip link set '${veth}' up
`;
}

/** Writes upScript into dir, for CRIU's --action-script; returns its path. */
export async function writeUpScript(dir: string, veth: string): Promise<string> {
  const path = join(dir, 'veth-up.sh');
  await writeFile(path, upScript(veth));
  await chmod(path, 0o700);
  return path;
}

/** What `ip -batch` sets inside a container's namespace: lo, eth0's MAC and address. */
function inside(net: ContainerNet): string {
  return [
    'link set lo up',
    `link set eth0 address ${net.mac}`,
    `addr add ${net.ip} dev eth0`,
    'link set eth0 up',
  ].join('\n');
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
