// The raw TCP probe: throughput of one node-to-node TCP stream hostA -> hostB
// over the underlay, the yardstick for tern's chunk stream.
import { sh } from '../deploy/testbed/driver.js';
import { background } from './cleanup.js';
import { FROM, TO } from './config.js';
import { freePort, MIB, must, waitListening } from './util.js';

/** Counts one connection's bytes from the first to the end and prints them with the time as JSON. */
const RECEIVER = `
const s = require('net').createServer((c) => {
  let n = 0, t0 = 0;
  c.on('data', (b) => { if (!t0) t0 = performance.now(); n += b.length; });
  c.on('end', () => { console.log(JSON.stringify({ bytes: n, ms: performance.now() - t0 })); s.close(); });
});
s.listen(Number(process.env.BENCH_PORT), process.env.BENCH_ADDR);`;

/** Writes BENCH_MIB MiB to the receiver as fast as it takes them. */
const SENDER = `
const c = require('net').connect(Number(process.env.BENCH_PORT), process.env.BENCH_ADDR, async () => {
  const buf = Buffer.alloc(1 << 20, 0x5a);
  for (let i = 0; i < Number(process.env.BENCH_MIB); i++)
    if (!c.write(buf)) await new Promise((r) => c.once('drain', r));
  c.end();
});`;

/** MiB/s of one node TCP stream hostA -> hostB (receiver times first byte to end). */
export async function tcpNode(toAddress: string, mib: number): Promise<number> {
  const port = freePort();
  const env = { BENCH_PORT: String(port), BENCH_ADDR: toAddress, BENCH_MIB: String(mib) };
  const rx = background(
    ['ip', 'netns', 'exec', `tern-${TO}`, process.execPath, '-e', RECEIVER],
    'tcp receiver',
    env,
  );
  try {
    await waitListening(TO, port);
    await must(
      sh(['ip', 'netns', 'exec', `tern-${FROM}`, process.execPath, '-e', SENDER], { env }),
      'tcp sender',
    );
    const r = await rx.done;
    const { bytes, ms } = JSON.parse(r.stdout) as { bytes: number; ms: number };
    if (bytes !== mib * MIB) throw new Error(`tcp receiver got ${bytes} bytes, not ${mib * MIB}`);
    return bytes / MIB / (ms / 1000);
  } finally {
    await rx.stop();
  }
}
