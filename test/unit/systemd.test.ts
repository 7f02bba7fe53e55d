import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notifyReady } from '../../kernel/systemd.js';

describe('readiness for systemd (tern-notify)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tern-notify-'));
  });
  afterEach(async () => {
    delete process.env.NOTIFY_SOCKET;
    await rm(dir, { recursive: true, force: true });
  });

  it('sends READY=1 with the daemon’s pid on $NOTIFY_SOCKET', async () => {
    const sock = join(dir, 'notify');
    // systemd's end: a datagram socket that prints the first message it gets.
    const listener = spawn(
      'python3',
      [
        '-c',
        'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\ns.settimeout(10)\nsys.stdout.write(s.recv(256).decode())',
        sock,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let got = '';
    listener.stdout.on('data', (b: Buffer) => {
      got += b.toString();
    });
    const ended = new Promise((r) => listener.on('close', r));
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    process.env.NOTIFY_SOCKET = sock;
    const warnings: string[] = [];
    notifyReady((m) => warnings.push(m));
    await ended;
    assert.equal(got, `READY=1\nMAINPID=${process.pid}\n`);
    assert.deepEqual(warnings, []);
  });

  it('does nothing without $NOTIFY_SOCKET (not started by systemd)', () => {
    delete process.env.NOTIFY_SOCKET;
    const warnings: string[] = [];
    notifyReady((m) => warnings.push(m), '/nonexistent/tern-notify');
    assert.deepEqual(warnings, []);
  });
});
