// Who can reach an agent on the testbed: not a container's root (no route to
// the hosts' network), and over TLS not a peer agent (agents take calls from
// the coordinator's certificate only) nor a client without a certificate.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  down,
  execIn,
  ownsTestbed,
  ROOT,
  sh,
  tern,
  testbedEnv,
  up,
  waitFor,
} from '../../deploy/testbed/driver.js';
import { requirePrivileges } from '../lib/privileges.js';

const NAME = 'sec-net';

/** Calls hostA's agent (Check) from hostB's network namespace, with the given certificate (or none). */
const CALLER = `
const { agentClient, grpc, ternProto } = await import(process.env.TERN_PROTO);
const { certFiles } = await import(process.env.TERN_PKI_JS);
const addr = process.env.AGENT;
let c;
if (process.env.ROLE === 'none') {
  c = new (ternProto().tern.v1.Agent)(addr, grpc.credentials.createInsecure());
} else {
  c = agentClient(addr, certFiles(process.env.PKI, { role: process.env.ROLE, name: process.env.WHO }), 'hostA');
}
c.Check({}, { deadline: Date.now() + 5000 }, (e) => {
  console.log(e ? grpc.status[e.code] + ' ' + e.details : 'OK');
  process.exit(0);
});
`;

describe('reaching an agent (privileged)', function () {
  this.timeout(120_000);
  let e: Record<string, string> = {};

  before(async function () {
    requirePrivileges(this);
    await up(2);
    e = await testbedEnv();
    const r = await tern('run', '--host', 'hostA', '--name', NAME, '--', '/bin/sleep', '100000');
    assert.equal(r.code, 0, r.stderr);
    await waitFor(
      'the container',
      async () => (await tern('exec', NAME, '--', 'true')).code === 0 || undefined,
    );
  });

  after(async () => {
    if (ownsTestbed()) await tern('stop', NAME).catch(() => {});
    await down().catch(() => {});
  });

  /** The caller's one line: OK, or the status name and details of the refusal. */
  async function callFromHostB(role: string, who: string): Promise<string> {
    const r = await sh(
      ['ip', 'netns', 'exec', 'tern-hostB', process.execPath, '--input-type=module', '-e', CALLER],
      {
        env: {
          TERN_PROTO: join(ROOT, 'dist', 'proto', 'index.js'),
          TERN_PKI_JS: join(ROOT, 'dist', 'core', 'pki.js'),
          AGENT: e.TESTBED_AGENT_hostA,
          PKI: e.TESTBED_PKI,
          ROLE: role,
          WHO: who,
        },
        timeoutMs: 20_000,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  }

  it("a container's root cannot reach its agent's port", async () => {
    const [ip, port] = e.TESTBED_AGENT_hostA.split(':');
    const out = await execIn(NAME, 'sh', '-c', `nc -w 2 ${ip} ${port} </dev/null 2>&1; echo "exit=$?"`);
    assert.match(out, /exit=1/);
    assert.match(out, /Network is unreachable|Connection refused|timed out/);
  });

  for (const [role, who, expect] of [
    ['none', '', /^UNAVAILABLE/],
    ['agent', 'hostB', /^PERMISSION_DENIED Check is not allowed for agent hostB$/],
    ['operator', 'admin', /^PERMISSION_DENIED Check is not allowed for operator admin$/],
  ] as const) {
    const what = role === 'none' ? 'a client without a certificate' : `the ${role} certificate of ${who}`;
    it(`hostA's agent refuses ${what}, from hostB`, async () => {
      assert.match(await callFromHostB(role, who), expect);
    });
  }
});
