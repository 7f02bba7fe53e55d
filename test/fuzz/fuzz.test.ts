// A short fuzzing run in every `make test`; `npm run fuzz` runs a long one.
import assert from 'node:assert/strict';
import { fuzzAgent, fuzzChunkStream, fuzzCoordinator, newTally } from './targets.js';

describe('hostile input (fuzzing)', function () {
  this.timeout(300_000);

  it('the image chunk receiver refuses 1,500 generated streams cleanly and writes only in its directory', async () => {
    const t = newTally();
    await fuzzChunkStream(1500, t);
    assert.equal(t.inputs, 1500);
    assert.deepEqual(t.crashes, []);
    assert.deepEqual(t.escapes, []);
  });

  it('the coordinator answers 800 generated requests to its RPCs with clear errors and keeps serving', async () => {
    const t = newTally();
    await fuzzCoordinator(800, t);
    assert.equal(t.inputs, 800);
    // Most inputs reached the server and were judged there.
    assert.ok((t.outcomes.unsent ?? 0) < 200, JSON.stringify(t.outcomes));
    assert.deepEqual(t.crashes, []);
    assert.deepEqual(t.escapes, []);
  });

  it('an agent answers 600 generated requests to its RPCs and data channel with clear errors and keeps serving', async () => {
    const t = newTally();
    await fuzzAgent(600, t);
    assert.equal(t.inputs, 600);
    assert.ok((t.outcomes.unsent ?? 0) < 150, JSON.stringify(t.outcomes));
    assert.ok((t.outcomes.data ?? 0) > 0, 'no input reached the data channel');
    assert.deepEqual(t.crashes, []);
    assert.deepEqual(t.escapes, []);
  });
});
