// npm run fuzz: a long fuzzing campaign (FUZZ_RUNS per target, default
// 20,000; FUZZ_SEED to replay one). Prints one summary line and exits 1 on
// any crash or escape.
import { fuzzAgent, fuzzChunkStream, fuzzCoordinator, newTally } from './targets.js';

const runs = Number(process.env.FUZZ_RUNS ?? 20_000);
const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const t = newTally();
const started = Date.now();
await fuzzChunkStream(runs, t, seed);
await fuzzCoordinator(Math.ceil(runs / 4), t, seed);
process.stderr.write(`coordinator RPC outcomes: ${JSON.stringify(t.outcomes)}\n`);
t.outcomes = {};
await fuzzAgent(Math.ceil(runs / 4), t, seed);
process.stderr.write(`agent RPC outcomes: ${JSON.stringify(t.outcomes)}\n`);
for (const i of [...new Set(t.internal)].slice(0, 10)) process.stderr.write(`internal: ${i}\n`);
for (const c of t.crashes.slice(0, 10)) process.stderr.write(`crash: ${c}\n`);
for (const e of t.escapes.slice(0, 10)) process.stderr.write(`escape: ${e}\n`);
process.stdout.write(
  `fuzz: ${t.inputs} inputs, ${t.crashes.length} crashes, ${t.escapes.length} escapes (${Math.round((Date.now() - started) / 1000)} s)\n`,
);
process.exit(t.crashes.length + t.escapes.length > 0 ? 1 : 0);
