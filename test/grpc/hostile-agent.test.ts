// An agent is input too: what it reports reaches the coordinator's records
// only once checked. With the file store, a container name is a file name.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CoordinatorClient, grpc } from '../../proto/index.js';
import { call, coordinatorClient, startCoordinator, type TestCoordinator } from '../lib/coordinator.js';
import { testCert } from '../lib/pki.js';

describe('a hostile agent (coordinator, file store)', function () {
  this.timeout(30_000);
  let t: TestCoordinator;
  let agent: CoordinatorClient;

  before(async () => {
    t = await startCoordinator('file');
    agent = coordinatorClient(t.address, await testCert({ role: 'agent', name: 'hostA' }));
  });

  after(async () => {
    agent?.close();
    await t?.stop();
  });

  for (const name of ['../../evil', '../placements/x', 'a/b', '.hidden/..', '']) {
    it(`refuses a container named ${JSON.stringify(name)} and writes nothing outside its state`, async () => {
      const before = readdirSync(dirname(t.dir)).sort();
      await assert.rejects(
        call(agent, 'RegisterHost', {
          name: 'hostA',
          address: '127.0.0.1:1',
          lan: '10.78.0.0/24',
          containers: [{ name, state: 'running', ip: '10.78.0.10/24' }],
        }),
        (e: grpc.ServiceError) => e.code === 3 && /container name/.test(e.details),
      );
      assert.deepEqual(readdirSync(dirname(t.dir)).sort(), before);
      const placements = readdirSync(`${t.dir}/placements`, { withFileTypes: true }).map((d) => d.name);
      assert.ok(!placements.some((p) => p.includes('evil') || p.includes('..')), placements.join(', '));
    });
  }
});
