// What a dump does about connections that are not accepted yet: the gate that
// holds new connections off the container's veths, the script that lifts it,
// and the count of in-flight connections read from /proc/PID/net/tcp{,6}.
import assert from 'node:assert/strict';
import { existsSync, constants as fsc, openSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../kernel/exec.js';
import { decideOrphan, holdScript, sendVerdict } from '../../kernel/hold.js';
import { gateScript, gateTable, inFlightConnections } from '../../kernel/inflight.js';

const HEADER =
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const HEADER6 =
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';

/** One /proc/net/tcp row with state `st` and queues `tx`:`rx` (hex). */
const row = (sl: number, st: string, tx = '00000000', rx = '00000000') =>
  `   ${sl}: 0A4E000A:0050 00000000:0000 ${st} ${tx}:${rx} 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0`;

describe('in-flight connections', () => {
  describe('inFlightConnections', () => {
    it('counts nothing on a quiet server', () => {
      const tcp = [HEADER, row(0, '0A'), row(1, '01', '00000000', '00000010'), row(2, '06'), ''].join('\n');
      assert.deepEqual(inFlightConnections([tcp, HEADER6]), { queued: 0, halfOpen: 0 });
    });

    it('counts the accept queues of listeners (rx_queue) and SYN_RECV rows, over tcp and tcp6', () => {
      const tcp = [HEADER, row(0, '0A', '00000000', '00000003'), row(1, '03'), row(2, '01')].join('\n');
      const tcp6 = [HEADER6, row(0, '0A', '00000000', '0000000A'), row(1, '03'), row(2, '03')].join('\n');
      assert.deepEqual(inFlightConnections([tcp, tcp6]), { queued: 13, halfOpen: 3 });
    });

    it('ignores an established connection with unread data and malformed lines', () => {
      const tcp = [HEADER, row(0, '01', '00000000', '000000FF'), 'garbage', '   7:', ''].join('\n');
      assert.deepEqual(inFlightConnections([tcp, '']), { queued: 0, halfOpen: 0 });
    });
  });

  describe('gateScript', () => {
    it('drops pure SYNs leaving through each veth, replacing an older gate atomically', () => {
      const s = gateScript(['tern0a1b2c3d']);
      const t = gateTable('tern0a1b2c3d');
      assert.equal(t, 'tern_gate_tern0a1b2c3d');
      const lines = s.trim().split('\n');
      assert.equal(lines[0], `add table netdev ${t}`);
      assert.equal(lines[1], `delete table netdev ${t}`);
      assert.match(s, /type filter hook egress device "tern0a1b2c3d" priority -300; policy accept;/);
      assert.match(s, /tcp flags & \(syn \| ack\) == syn drop/);
    });

    it('lifts every gate without failing when one is not there (add, then delete)', () => {
      const s = gateScript(['vetha', 'veth.b'], true);
      assert.equal(
        s,
        [
          'add table netdev tern_gate_vetha',
          'delete table netdev tern_gate_vetha',
          'add table netdev tern_gate_veth_b',
          'delete table netdev tern_gate_veth_b',
          '',
        ].join('\n'),
      );
    });

    it('refuses names that are not interface names', () => {
      for (const bad of ['a"b', 'x; flush ruleset', '', 'a'.repeat(16)]) {
        assert.throws(() => gateScript([bad]), /bad veth name/);
      }
    });
  });

  describe('holdScript', function () {
    this.timeout(20_000);
    let dir = '';

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tern-hold-test-'));
      await mkdir(join(dir, 'bin'));
      // Stands in for nft: records each script it is given.
      await writeFile(join(dir, 'bin', 'nft'), `#!/bin/sh\necho "$*" >> ${dir}/nft.calls\n`);
      await chmod(join(dir, 'bin', 'nft'), 0o755);
      await writeFile(join(dir, 'ungate.nft'), gateScript(['vethx'], true));
      for (const f of ['ready', 'verdict']) await run(['mkfifo', join(dir, f)]);
      await writeFile(join(dir, 'hook.sh'), holdScript(dir, 1));
      await chmod(join(dir, 'hook.sh'), 0o755);
    });

    afterEach(() => rm(dir, { recursive: true, force: true }));

    /**
     * Plays the agent's side of `ready` as kernel/criu.ts does: open for
     * reading and writing before CRIU starts, then read lines from it.
     */
    function agentReady(): { lines: (n: number) => Promise<string[]>; close: () => void } {
      const sock = new Socket({
        fd: openSync(join(dir, 'ready'), fsc.O_RDWR | fsc.O_NONBLOCK),
        readable: true,
        writable: false,
      });
      let text = '';
      sock.on('data', (b: Buffer) => {
        text += b.toString();
      });
      sock.on('error', () => {});
      return {
        lines: async (n) => {
          for (let i = 0; i < 500 && text.split('\n').length <= n; i++)
            await new Promise((r) => setTimeout(r, 10));
          return text.split('\n').slice(0, n);
        },
        close: () => sock.destroy(),
      };
    }

    /** Runs the hook as CRIU does at post-dump; `agent` plays the agent's side. */
    async function hold(agent: 'kill' | 'resume' | undefined): Promise<{ code: number; nft: string }> {
      const env = {
        ...process.env,
        PATH: `${dir}/bin:${process.env.PATH}`,
        CRTOOLS_SCRIPT_ACTION: 'post-dump',
      };
      const ready = agent ? agentReady() : undefined;
      try {
        const hook = run([join(dir, 'hook.sh')], { env, timeoutMs: 10_000 });
        if (ready && agent) {
          assert.deepEqual(await ready.lines(1), ['ready']);
          assert.equal(await sendVerdict(dir, agent, 5000), true);
        }
        const r = await hook;
        return { code: r.code, nft: await readFile(join(dir, 'nft.calls'), 'utf8').catch(() => '') };
      } finally {
        ready?.close();
      }
    }

    it('kill: exits 0 (CRIU kills the tree) and lifts the gate alongside', async () => {
      assert.deepEqual(await hold('kill'), { code: 0, nft: `-f ${dir}/ungate.nft\n` });
    });

    it('any other verdict: lifts the gate, then exits 1 (the tree runs on)', async () => {
      assert.deepEqual(await hold('resume'), { code: 1, nft: `-f ${dir}/ungate.nft\n` });
    });

    it('a restarted agent reaches a hook whose agent died before reading ready', async () => {
      const env = {
        ...process.env,
        PATH: `${dir}/bin:${process.env.PATH}`,
        CRTOOLS_SCRIPT_ACTION: 'post-dump',
      };
      // Nobody reads `ready`, as after its agent died: the hook waits for a verdict.
      const hook = run([join(dir, 'hook.sh')], { env, timeoutMs: 10_000 });
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      assert.equal(await decideOrphan(dir, 'resume', 2000), true);
      const r = await hook;
      assert.equal(r.code, 1, 'the tree must resume');
      assert.ok(Date.now() - t0 < 900, `released after ${Date.now() - t0} ms, not at the hold timeout`);
    });

    it('nobody there (the agent is gone): lifts the gate when the hold times out', async () => {
      assert.deepEqual(await hold(undefined), { code: 1, nft: `-f ${dir}/ungate.nft\n` });
    });

    it('lifts the gate when CRIU unlocks the network (a failed dump: the tree runs on here)', async () => {
      const r = await run([join(dir, 'hook.sh')], {
        env: {
          ...process.env,
          PATH: `${dir}/bin:${process.env.PATH}`,
          CRTOOLS_SCRIPT_ACTION: 'network-unlock',
        },
      });
      assert.equal(r.code, 0);
      assert.equal(await readFile(join(dir, 'nft.calls'), 'utf8'), `-f ${dir}/ungate.nft\n`);
    });

    it('does nothing at other CRIU actions', async () => {
      const r = await run([join(dir, 'hook.sh')], {
        env: {
          ...process.env,
          PATH: `${dir}/bin:${process.env.PATH}`,
          CRTOOLS_SCRIPT_ACTION: 'pre-dump',
        },
      });
      assert.equal(r.code, 0);
      assert.ok(!existsSync(join(dir, 'nft.calls')));
    });

    /** Runs the hook as CRIU does once it has frozen the tree. */
    const networkLock = () =>
      run([join(dir, 'hook.sh')], {
        env: {
          ...process.env,
          PATH: `${dir}/bin:${process.env.PATH}`,
          CRTOOLS_SCRIPT_ACTION: 'network-lock',
        },
        timeoutMs: 10_000,
      });

    it('at network-lock tells the agent the tree is frozen, and lets the dump go on', async () => {
      const ready = agentReady();
      try {
        const r = await networkLock();
        assert.equal(r.code, 0, 'a non-zero status would fail the dump');
        assert.deepEqual(await ready.lines(1), ['frozen']);
        assert.ok(!existsSync(join(dir, 'nft.calls')), 'the gate stays until the hold ends');
      } finally {
        ready.close();
      }
    });

    it('frozen, then ready: the agent reads both lines in order', async () => {
      const ready = agentReady();
      try {
        assert.equal((await networkLock()).code, 0);
        const hook = run([join(dir, 'hook.sh')], {
          env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}`, CRTOOLS_SCRIPT_ACTION: 'post-dump' },
          timeoutMs: 10_000,
        });
        assert.deepEqual(await ready.lines(2), ['frozen', 'ready']);
        assert.equal(await sendVerdict(dir, 'kill', 5000), true);
        assert.equal((await hook).code, 0);
      } finally {
        ready.close();
      }
    });

    it('at network-lock does not hold the dump up when no agent listens', async () => {
      const t0 = Date.now();
      const r = await networkLock();
      assert.equal(r.code, 0);
      assert.ok(Date.now() - t0 < 3000, `the frozen tree waited ${Date.now() - t0} ms for nobody`);
    });
  });
});
