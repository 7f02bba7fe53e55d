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

/**
 * MiB/s of one large image moved hostA -> hostB through tern's channel code:
 * `bulk` is the path memory pages take (the page stream through tern-relay,
 * hashed on both sides), `images` the chunk stream of the other images.
 * The target writes into a directory under `dir` (the bench gives it a
 * tmpfs, where an agent keeps a move's images).
 */
export async function channelNode(
  kind: 'bulk' | 'images',
  addresses: { from: string; to: string },
  image: string,
  dir: string,
  mib: number,
): Promise<number> {
  const port = freePort();
  const into = join(dir, `channel-${port}`);
  await mkdir(into, { recursive: true });
  // The image stream is served by the source and fetched by the target; the
  // page stream is opened by the source towards the target.
  const [listenHost, address] =
    kind === 'images' ? [FROM, `${addresses.from}:${port}`] : [TO, `${addresses.to}:${port}`];
  const server = background(
    kind === 'images'
      ? ['ip', 'netns', 'exec', `tern-${FROM}`, process.execPath, PEER, 'serve', address, image, FROM, TO]
      : ['ip', 'netns', 'exec', `tern-${TO}`, process.execPath, PEER, 'sink', address, into, TO, FROM],
    `${kind} channel server`,
  );
  try {
    await waitListening(listenHost, port);
    const out = await must(
      sh(
        kind === 'images'
          ? ['ip', 'netns', 'exec', `tern-${TO}`, process.execPath, PEER, 'fetch', address, into, TO, FROM]
          : ['ip', 'netns', 'exec', `tern-${FROM}`, process.execPath, PEER, 'send', address, image, FROM, TO],
      ),
      `${kind} channel`,
    );
    const { bytes, ms } = JSON.parse(out) as { bytes: number; ms: number };
    if (bytes !== mib * MIB) throw new Error(`${kind} channel moved ${bytes} bytes, not ${mib * MIB}`);
    return bytes / MIB / (ms / 1000);
  } finally {
    await server.stop();
    await rm(into, { recursive: true, force: true });
  }
}
