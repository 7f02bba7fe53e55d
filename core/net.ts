// IPv4 addresses of the container LAN: parsing, validation, allocation.
// Data in, data out; unit-tested with tables in test/unit/policy.test.ts.
import { invalid } from './errors.js';

export interface Cidr {
  base: number;
  prefix: number;
}

export function parseIp(ip: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) throw invalid(`invalid IPv4 address ${JSON.stringify(ip)}`);
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) throw invalid(`invalid IPv4 address ${JSON.stringify(ip)}`);
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr(cidr: string): Cidr {
  const [ip, p] = cidr.split('/');
  const prefix = Number(p);
  if (p === undefined || !Number.isInteger(prefix) || prefix < 8 || prefix > 30) {
    throw invalid(`invalid network ${JSON.stringify(cidr)}: expected a.b.c.d/prefix with prefix 8-30`);
  }
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (parseIp(ip) & mask) >>> 0, prefix };
}

export function inCidr(ip: number, net: Cidr): boolean {
  const mask = (0xffffffff << (32 - net.prefix)) >>> 0;
  return (ip & mask) >>> 0 === net.base;
}

/**
 * Checks a container address "a.b.c.d/p" against the LAN: inside it, not its
 * network or broadcast address, same prefix. Returns the normalized form.
 */
export function validateAddress(addr: string, lan: string): string {
  const net = parseCidr(lan);
  const [ip, p] = addr.split('/');
  const prefix = p === undefined ? net.prefix : Number(p);
  if (prefix !== net.prefix)
    throw invalid(`address ${addr} must use the LAN's prefix /${net.prefix} (${lan})`);
  const n = parseIp(ip);
  if (!inCidr(n, net)) throw invalid(`address ${ip} is outside the container LAN ${lan}`);
  const host = n - net.base;
  const size = 2 ** (32 - net.prefix);
  if (host === 0 || host === size - 1)
    throw invalid(`address ${ip} is the network or broadcast address of ${lan}`);
  return `${formatIp(n)}/${prefix}`;
}

/**
 * The first free container address of the LAN, from host number 10 up to
 * 200 (the top of a /24 is left to the hosts' own bridges).
 */
export function pickFreeAddress(lan: string, used: Iterable<string>): string {
  const net = parseCidr(lan);
  const taken = new Set<number>();
  for (const u of used) {
    if (u) taken.add(parseIp(u.split('/')[0]));
  }
  const size = 2 ** (32 - net.prefix);
  const last = Math.min(200, size - 2);
  for (let h = 10; h <= last; h++) {
    const ip = net.base + h;
    if (!taken.has(ip)) return `${formatIp(ip)}/${net.prefix}`;
  }
  throw invalid(`no free address left in ${lan}`);
}
