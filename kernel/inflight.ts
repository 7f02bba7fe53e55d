// Connections a dump cannot carry, and how tern keeps a move from meeting
// them. CRIU dumps a listening socket but not the connections waiting in its
// accept queue (it refuses the whole dump over them unless --skip-in-flight,
// which leaves them behind), and half-open ones are no socket it dumps at
// all. So before CRIU freezes the tree, new connections are held off at the
// container's veths (a gate: clients retry their SYN, as when the frozen
// tree's network lock drops it) and the container gets a moment to accept
// what is already waiting.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TernError } from '../core/errors.js';
import { run } from './exec.js';

/** Interface names that are safe to put in an nft script. */
export const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** The nftables table that holds new connections off the container behind `veth`. */
export function gateTable(veth: string): string {
  return `tern_gate_${veth.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/**
 * An nft script that drops every TCP SYN (no ACK) the host sends into the
 * container through its veths: new connections to the container are held off
 * (their clients retry the SYN, as they do when the frozen tree's network lock
 * drops it), while packets of established connections, and the SYN-ACKs of
 * connections the container opens, pass. Applying it replaces an older gate of
 * the same veth; `lift` gives the script that removes it and succeeds whether
 * or not it is there.
 */
export function gateScript(veths: string[], lift = false): string {
  const out: string[] = [];
  for (const v of veths) {
    if (!IFNAME.test(v)) throw new TernError('INVALID_ARGUMENT', `bad veth name ${JSON.stringify(v)}`);
    const t = gateTable(v);
    out.push(`add table netdev ${t}`, `delete table netdev ${t}`);
    if (lift) continue;
    out.push(
      `table netdev ${t} {`,
      '  chain syn {',
      `    type filter hook egress device "${v}" priority -300; policy accept;`,
      '    tcp flags & (syn | ack) == syn drop',
      '  }',
      '}',
    );
  }
  return `${out.join('\n')}\n`;
}

/** Connections of a network namespace that a dump cannot carry. */
export interface InFlight {
  /** Handshake complete, not yet accept()ed: waiting in listeners' accept queues. */
  queued: number;
  /** SYN received, SYN-ACK sent, the client's ACK not yet in (SYN_RECV). */
  halfOpen: number;
}

const TCP_SYN_RECV = 0x03;
const TCP_LISTEN = 0x0a;

/**
 * Counts in-flight connections in the text of /proc/PID/net/tcp and tcp6.
 * For a listening socket the rx_queue column is the length of its accept
 * queue; half-open connections are listed with state SYN_RECV.
 */
export function inFlightConnections(tables: string[]): InFlight {
  const r: InFlight = { queued: 0, halfOpen: 0 };
  for (const text of tables) {
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (!/^\d+:$/.test(f[0] ?? '') || f.length < 5) continue;
      const st = Number.parseInt(f[3], 16);
      if (st === TCP_SYN_RECV) r.halfOpen++;
      else if (st === TCP_LISTEN) r.queued += Number.parseInt(f[4].split(':')[1] ?? '0', 16) || 0;
    }
  }
  return r;
}

/**
 * Holds new connections off the container's veths (gateScript). Returns
 * whether the gate is up; without nft the dump goes on without it.
 */
export async function gate(names: string[], hookDir: string): Promise<boolean> {
  const veths = names.filter((v) => IFNAME.test(v));
  if (veths.length === 0) return false;
  // Written first: the hold script lifts the gate with it, whatever happens here.
  await writeFile(join(hookDir, 'ungate.nft'), gateScript(veths, true));
  const r = await run(['nft', '-f', '-'], { input: gateScript(veths), timeoutMs: 10_000 }).catch(
    () => undefined,
  );
  return r?.code === 0;
}

export async function ungate(hookDir: string): Promise<void> {
  await run(['nft', '-f', join(hookDir, 'ungate.nft')], { timeoutMs: 10_000 }).catch(() => undefined);
}

/**
 * Waits until no connection to the tree's network namespace is half-open
 * or waiting to be accepted, up to drainMs. Returns what is left.
 */
export async function drainInFlight(pid: number, drainMs: number, signal?: AbortSignal): Promise<InFlight> {
  const until = Date.now() + drainMs;
  for (;;) {
    const tables = await Promise.all(
      ['tcp', 'tcp6'].map((t) => readFile(`/proc/${pid}/net/${t}`, 'utf8').catch(() => '')),
    );
    const left = inFlightConnections(tables);
    if ((left.queued === 0 && left.halfOpen === 0) || Date.now() >= until || signal?.aborted) return left;
    await new Promise((r) => setTimeout(r, 5));
  }
}
