// Pure decisions about containers: names, addresses, veth names. Data in,
// data out; unit-tested with tables in test/unit/policy.test.ts.
import { createHash, randomBytes } from 'node:crypto';
import { invalid } from '../core/errors.js';

/** A locally administered unicast MAC. */
export function randomMac(rand: Buffer = randomBytes(5)): string {
  return ['02', ...[...rand.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/**
 * An outer veth name for a container that is free on this host: "tern" plus
 * 8 hex digits derived from the container name and an attempt counter (Linux
 * allows 15 characters).
 */
export function vethName(container: string, taken: Set<string>): string {
  for (let i = 0; i < 1000; i++) {
    const h = createHash('sha256').update(`${container}#${i}`).digest('hex').slice(0, 8);
    const name = `tern${h}`;
    if (!taken.has(name)) return name;
  }
  throw invalid(`no free veth name for ${container}`);
}
