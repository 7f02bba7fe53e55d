// A busy server moves: busybox httpd in a container on hostA, a client
// container on hostB fetching a page in 8 loops back to back (100-300 requests
// a second), and the server moved hostA -> hostB -> hostA ... while the client
// keeps asking. Every migrate call must succeed and every request must be
// answered.
//
// What "answered" means here: each request is one busybox wget, never retried
// by the loop. A request that meets a move is held up, not failed: tern holds
// new connections off while it dumps and first lets the server accept every
// connection already made, so none is left behind in an accept queue (CRIU
// cannot carry those: a client whose request was already acknowledged there
// would wait for an answer that never comes, and one that sends again is
// reset). A client whose SYN is dropped meanwhile (by that hold or by the
// frozen tree's network lock) retransmits it, as TCP does, 1 s, 3 s, 7 s ...
// later, and reaches the server wherever it then runs. Requests slowed that
// way are counted and printed apart; each has 30 s (busybox timeout) before it
// counts as failed.
//
// A second case shows the limit: a listener that never accepts. The dump waits
// a moment, then leaves the waiting connection behind so the move still
// succeeds; that connection's client is reset when it next sends.
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BASE_ROOTFS,
  buildStatic,
  down,
  execIn,
  migrate,
  ownsTestbed,
  ROOT,
  record,
  tern,
  up,
  waitFor,
} from '../../deploy/testbed/driver.js';
import { inFlightConnections } from '../../kernel/inflight.js';
import { requirePrivileges } from '../lib/privileges.js';

const SERVER = 'web';
const CLIENT = 'webclient';
const PAGE = 'tern-http-ok';
const MOVES = 6;
/**
 * Request loops the client runs at once, and each one's pause between
 * requests: enough load that most dumps would find a connection waiting in
 * httpd's accept queue if it were not drained first.
 */
const LOOPS = 8;
const PAUSE_US = 0;

/**
 * LOOPS loops of one wget each, never retried. One request per line of
 * /tmp/requests.K.log: "K seq epoch t0 t1 ok" or "K seq epoch t0 t1 fail rc=N
 * msg", t0/t1 from /proc/uptime (the client never moves, so its clock is steady).
 */
function clientScript(ip: string): string {
  return `
loop() {
  k=$1; n=0
  while [ ! -e /tmp/stop ]; do
    n=$((n+1))
    read t0 _ < /proc/uptime
    timeout 30 wget -q -O /tmp/body.$k "http://${ip}/" 2>/tmp/err.$k; rc=$?
    read t1 _ < /proc/uptime
    if [ $rc = 0 ] && grep -qx ${PAGE} /tmp/body.$k; then r=ok; else r="fail rc=$rc $(head -c 200 /tmp/err.$k | tr '\n' ' ')"; fi
    rm -f /tmp/body.$k
    echo "$k $n $(date +%s) $t0 $t1 $r" >> /tmp/requests.$k.log
    usleep ${PAUSE_US}
  done
}
for k in $(seq 1 ${LOOPS}); do loop $k & done
wait
touch /tmp/done
exec sleep 100000
`;
}

interface Request {
  loop: number;
  seq: number;
  seconds: number;
  ok: boolean;
  line: string;
}

async function requests(): Promise<Request[]> {
  const r = await tern('exec', CLIENT, '--', 'sh', '-c', 'cat /tmp/requests.*.log');
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((line) => {
      const f = line.split(' ');
      return {
        loop: Number(f[0]),
        seq: Number(f[1]),
        seconds: Number(f[4]) - Number(f[3]),
        ok: f[5] === 'ok',
        line,
      };
    });
}

async function okCount(): Promise<number> {
  const r = await tern('exec', CLIENT, '--', 'sh', '-c', 'cat /tmp/requests.*.log | grep -c " ok$"');
  return Number(r.stdout.trim()) || 0;
}

async function assertRunsOn(name: string, host: string): Promise<void> {
  const ps = await tern('ps');
  assert.match(ps.stdout, new RegExp(`^${name}\\s+${host}\\s+running\\s`, 'm'), ps.stdout);
}

describe('a busy HTTP server moves back and forth (privileged)', function () {
  this.timeout(900_000);
  const made: string[] = [];
  let rootfs: string | undefined;

  before(async function () {
    requirePrivileges(this);
    await up(2);
  });

  after(async () => {
    if (ownsTestbed()) for (const n of made) await tern('stop', n).catch(() => {});
    await down().catch(() => {});
    if (rootfs) await rm(rootfs, { recursive: true, force: true });
  });

  it(`answers every request of a steady client across ${MOVES} moves`, async () => {
    let r = await tern(
      'run',
      '--host',
      'hostA',
      '--name',
      SERVER,
      '--',
      '/bin/sh',
      '-c',
      `mkdir -p /www && echo ${PAGE} > /www/index.html && exec httpd -f -p 80 -h /www`,
    );
    made.push(SERVER);
    assert.equal(r.code, 0, r.stderr);
    const ip = (await record('hostA', SERVER))?.ip.split('/')[0] ?? '';
    assert.ok(ip, 'server has no address');

    r = await tern('run', '--host', 'hostB', '--name', CLIENT, '--', '/bin/sh', '-c', clientScript(ip));
    made.push(CLIENT);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(
      'the client to get 20 answers',
      async () => ((await okCount()) >= 20 ? true : undefined),
      60_000,
    );

    const hosts = ['hostA', 'hostB'];
    const moves: string[] = [];
    for (let i = 0; i < MOVES; i++) {
      const from = hosts[i % 2];
      const to = hosts[(i + 1) % 2];
      const m = await migrate('--from', from, '--to', to, SERVER);
      assert.equal(m.code, 0, `move ${i + 1} ${from} -> ${to} failed:\n${m.stdout}\n${m.stderr}`);
      moves.push(/downtime \d+ ms/.exec(m.stdout)?.[0] ?? '?');
      await assertRunsOn(SERVER, to);
      // The server answers from its new host before it moves again.
      const base = await okCount();
      await waitFor(
        `10 more answers after move ${i + 1}`,
        async () => ((await okCount()) >= base + 10 ? true : undefined),
        60_000,
      );
    }

    await execIn(CLIENT, 'touch', '/tmp/stop');
    await waitFor(
      'the client loop to end',
      async () => (await tern('exec', CLIENT, '--', 'test', '-e', '/tmp/done')).code === 0 || undefined,
      60_000,
    );
    const all = await requests();
    const failed = all.filter((q) => !q.ok);
    const slow = all.filter((q) => q.ok && q.seconds >= 1);
    const longest = Math.max(0, ...slow.map((q) => q.seconds));
    console.log(
      `      ${all.length} requests, ${failed.length} failed, ${slow.length} held up >= 1 s by a move ` +
        `(longest ${longest.toFixed(2)} s); ${moves.join(', ')}`,
    );
    assert.equal(failed.length, 0, `requests failed:\n${failed.map((q) => q.line).join('\n')}`);
    assert.ok(all.length >= 20 + MOVES * 10, `only ${all.length} requests`);
    // No request went unlogged: each loop's sequence numbers run 1..N.
    for (let k = 1; k <= LOOPS; k++) {
      const seqs = all.filter((q) => q.loop === k).map((q) => q.seq);
      assert.ok(seqs.length > 0, `loop ${k} logged nothing`);
      assert.deepEqual(
        seqs,
        seqs.map((_, i) => i + 1),
      );
    }
  });

  it('moves a listener that never accepts; the connection left in its queue is reset', async () => {
    rootfs = await mkdtemp(join(tmpdir(), 'tern-rootfs-'));
    await cp(BASE_ROOTFS, rootfs, { recursive: true, verbatimSymlinks: true });
    await buildStatic(join(ROOT, 'test/fixtures/pending.c'), join(rootfs, 'bin', 'pending'));
    let r = await tern(
      'run',
      '--host',
      'hostA',
      '--name',
      'deaf',
      '--rootfs',
      rootfs,
      '--',
      '/bin/pending',
      'listen',
      '81',
      '/tmp/ready',
    );
    made.push('deaf');
    assert.equal(r.code, 0, r.stderr);
    await waitFor(
      'the listener',
      async () => (await tern('exec', 'deaf', '--', 'cat', '/tmp/ready')).code === 0 || undefined,
    );
    const ip = (await record('hostA', 'deaf'))?.ip.split('/')[0] ?? '';

    // Connects now; sends a line and waits for an answer once /tmp/go exists.
    r = await tern(
      'run',
      '--host',
      'hostB',
      '--name',
      'waiter',
      '--rootfs',
      rootfs,
      '--',
      '/bin/sh',
      '-c',
      `/bin/pending client ${ip} 81 /tmp/go /tmp/result; exec sleep 100000`,
    );
    made.push('waiter');
    assert.equal(r.code, 0, r.stderr);
    const result = async () => (await tern('exec', 'waiter', '--', 'cat', '/tmp/result')).stdout.trim();
    await waitFor('the client to connect', async () => ((await result()) === 'connected' ? true : undefined));
    const queued = await waitFor('the connection to wait in the accept queue', async () => {
      const n = inFlightConnections([await execIn('deaf', 'cat', '/proc/net/tcp')]).queued;
      return n >= 1 ? n : undefined;
    });
    assert.equal(queued, 1);

    const m = await migrate('--from', 'hostA', '--to', 'hostB', 'deaf');
    assert.equal(m.code, 0, `move failed:\n${m.stdout}\n${m.stderr}`);
    await assertRunsOn('deaf', 'hostB');
    // The listener moved without the connection that was waiting in it...
    assert.equal(inFlightConnections([await execIn('deaf', 'cat', '/proc/net/tcp')]).queued, 0);
    // ...so the restored listener answers that connection's next segment with a reset.
    await execIn('waiter', 'touch', '/tmp/go');
    const end = await waitFor('the client to finish', async () => {
      const v = await result();
      return v !== 'connected' ? v : undefined;
    });
    assert.equal(end, 'reset');
  });
});
