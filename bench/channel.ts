// The data channel probe: MiB/s of a large image moved hostA -> hostB through
// tern's own channel code (bench/channel-peer.ts), beside the raw TCP probe.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, sh } from '../deploy/testbed/driver.js';
import { background } from './cleanup.js';
import { FROM, TO } from './config.js';
import { freePort, MIB, must, waitListening } from './util.js';

const PEER = join(ROOT, 'dist', 'bench', 'channel-peer.js');

/** Writes `mib` MiB of random bytes (lz4 cannot shrink them: the channel moves every byte). */
export async function channelImage(file: string, mib: number): Promise<void> {
  const fh = await open(file, 'w');
  try {
    for (let i = 0; i < mib; i += 8) await fh.write(randomBytes(Math.min(8, mib - i) * MIB));
  } finally {
    await fh.close();
  }
}

/** MiB/s of one image fetch hostA -> hostB on the data channel (fetcher times its whole fetch). */
export async function channelNode(
  fromAddress: string,
  image: string,
  work: string,
  mib: number,
): Promise<number> {
  const port = freePort();
  const address = `${fromAddress}:${port}`;
  const server = background(
    ['ip', 'netns', 'exec', `tern-${FROM}`, process.execPath, PEER, 'serve', address, image],
    'channel server',
  );
  const into = join(work, `channel-${port}`);
  try {
    await waitListening(FROM, port);
    await mkdir(into, { recursive: true });
    const out = await must(
      sh(['ip', 'netns', 'exec', `tern-${TO}`, process.execPath, PEER, 'fetch', address, into]),
      'channel fetch',
    );
    const { bytes, ms } = JSON.parse(out) as { bytes: number; ms: number };
    if (bytes !== mib * MIB) throw new Error(`channel fetch got ${bytes} bytes, not ${mib * MIB}`);
    return bytes / MIB / (ms / 1000);
  } finally {
    await server.stop();
    await rm(into, { recursive: true, force: true });
  }
}
