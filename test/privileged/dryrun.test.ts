// migrate --dry-run on the testbed: a container holding a file from outside
// its mounts (passed in over a unix socket, as a leak CRIU refuses) is
// refused, naming the process, the descriptor and the file, while it keeps
// running untouched; a real move is refused for the same reason before
// anything freezes; a clean container would go ahead.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  background,
  down,
  heartbeat,
  hostDir,
  migrate,
  ownsTestbed,
  record,
  runWorkload,
  sh,
  TESTBED_DIR,
  tern,
  up,
  waitFor,
  workloadRootfs,
} from '../../deploy/testbed/driver.js';
import { requirePrivileges } from '../lib/privileges.js';
import { migrationsOf } from './datapath/helpers.js';

const LEAKY = 'dr-leak';
const SOCKY = 'dr-sock';
const CLEAN = 'dr-clean';
const SECRET = join(TESTBED_DIR, 'dryrun-host-file');

/** Passes an open descriptor of `file` (a host file) to the holdfd workload listening on `socket`. */
const SEND_FD = `
import socket, sys
f = open(sys.argv[2], 'rb')
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
socket.send_fds(s, [b'x'], [f.fileno()])
`;

/** Hands one end of a socket pair to the holdfd workload on \`socket\` and keeps the other end open. */
const SEND_PEER = `
import socket, sys, time
a, b = socket.socketpair()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
socket.send_fds(s, [b'x'], [a.fileno()])
print('sent', flush=True)
time.sleep(120)
`;

describe('migrate --dry-run (privileged)', function () {
  this.timeout(300_000);
  let cleanupRootfs: (() => Promise<void>) | undefined;
  let peer: { stop: () => void } | undefined;

  before(async function () {
    requirePrivileges(this);
    await up(2);
    const r = await workloadRootfs();
    cleanupRootfs = r.cleanup;
    await writeFile(SECRET, 'a host file no container should hold\n');
    await runWorkload(
      'hostA',
      LEAKY,
      r.dir,
      '/bin/workload holdfd /tmp/fd.sock & /bin/workload heartbeat /tmp/hb & echo up > /tmp/ready; wait',
      '/tmp/ready',
    );
    const sock = join(hostDir('hostA'), 'containers', LEAKY, 'rootfs', 'tmp', 'fd.sock');
    await waitFor('the holdfd socket', async () => (await sh(['test', '-S', sock])).code === 0 || undefined);
    const sent = await sh(['python3', '-c', SEND_FD, sock, SECRET]);
    assert.equal(sent.code, 0, sent.stderr);
    await waitFor('the descriptor to be held', async () => {
      const r = await sh([
        'cat',
        join(hostDir('hostA'), 'containers', LEAKY, 'rootfs', 'tmp', 'fd.sock.held'),
      ]);
      return r.code === 0 || undefined;
    });
    await runWorkload(
      'hostA',
      CLEAN,
      r.dir,
      '/bin/workload heartbeat /tmp/hb & echo up > /tmp/ready; wait',
      '/tmp/ready',
    );
    // A unix socket whose peer a process of the host holds (made in hostA's namespace, where its agent runs).
    await runWorkload(
      'hostA',
      SOCKY,
      r.dir,
      '/bin/workload holdfd /tmp/fd.sock & echo up > /tmp/ready; wait',
      '/tmp/ready',
    );
    const ssock = join(hostDir('hostA'), 'containers', SOCKY, 'rootfs', 'tmp', 'fd.sock');
    await waitFor(
      'the second holdfd socket',
      async () => (await sh(['test', '-S', ssock])).code === 0 || undefined,
    );
    peer = background('hostA', ['python3', '-c', SEND_PEER, ssock]);
    await waitFor(
      'the socket to be held',
      async () => (await sh(['cat', `${ssock}.held`])).code === 0 || undefined,
    );
  });

  after(async () => {
    peer?.stop();
    if (ownsTestbed()) for (const n of [LEAKY, SOCKY, CLEAN]) await tern('stop', n).catch(() => {});
    await down().catch(() => {});
    await cleanupRootfs?.();
    await rm(SECRET, { force: true });
  });

  it('refuses a container holding a file from outside its mounts, naming it, and leaves it running', async () => {
    const before = await heartbeat(LEAKY);
    const r = await migrate('--to', 'hostB', '--dry-run', LEAKY);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /^dry run: dr-leak -> hostB \(stop-and-copy\): would be refused$/m);
    assert.match(
      r.stdout,
      new RegExp(
        `refuse hostA: pid \\d+ \\(workload\\) fd \\d+: ${SECRET}: a file on a mount outside the container \\(mount \\d+\\): CRIU refuses to dump it; do: close it`,
      ),
    );
    // Nothing was frozen or started: it runs on, where it was, and no migration was recorded.
    assert.equal((await record('hostA', LEAKY))?.state, 'running');
    assert.equal(await record('hostB', LEAKY), undefined);
    assert.deepEqual(await migrationsOf(LEAKY), []);
    await waitFor('the heartbeat', async () => ((await heartbeat(LEAKY)) > before ? true : undefined));

    const j = await migrate('--to', 'hostB', '--dry-run', '--json', LEAKY);
    assert.equal(j.code, 3);
    const parsed = JSON.parse(j.stdout) as {
      ok: boolean;
      findings: { severity: string; host: string; object: string }[];
    };
    assert.equal(parsed.ok, false);
    assert.ok(
      parsed.findings.some((f) => f.severity === 'refuse' && f.host === 'hostA' && f.object.includes(SECRET)),
    );
  });

  it('refuses a container holding a unix socket whose peer is outside it, naming the socket', async () => {
    const r = await migrate('--to', 'hostB', '--dry-run', SOCKY);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /refuse hostA: pid \d+ \(workload\) fd \d+: unix socket \d+: connected to a peer outside the container \(socket \d+\): CRIU refuses external unix sockets; do: close that connection/,
    );
    assert.equal((await record('hostA', SOCKY))?.state, 'running');
  });

  it('a real move is refused for the same reason before anything freezes', async () => {
    const r = await migrate('--to', 'hostB', LEAKY);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /a file on a mount outside the container .*keeps running on hostA/);
    const [m] = (await migrationsOf(LEAKY)).slice(-1);
    assert.deepEqual(
      m.history.map((h) => h.phase),
      ['preflight', 'aborting', 'aborted'],
    );
    assert.equal((await record('hostA', LEAKY))?.state, 'running');
  });

  it('a clean container would go ahead (exit 0), and the finding list says so', async () => {
    const r = await migrate('--to', 'hostB', '--dry-run', CLEAN);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^dry run: dr-clean -> hostB \(stop-and-copy\): would go ahead$/m);
    assert.equal((await record('hostA', CLEAN))?.state, 'running');
  });

  it('says why it cannot even check a move to the host the container is on (exit 1)', async () => {
    const r = await migrate('--to', 'hostA', '--dry-run', CLEAN);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already on hostA/);
  });
});
