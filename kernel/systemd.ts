// Readiness for systemd (Type=notify units): once a daemon serves, it tells
// systemd so, and `systemctl start` returns only then. Nothing happens
// unless systemd started the daemon with $NOTIFY_SOCKET.
import { spawn } from 'node:child_process';
import { nativePath } from './shim.js';

/** Sends READY=1 for this process (through native/tern-notify); `warn` hears of a failure. */
export function notifyReady(warn: (msg: string) => void, helper = nativePath('tern-notify')): void {
  if (!process.env.NOTIFY_SOCKET) return;
  const child = spawn(helper, [String(process.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
  });
  child.on('error', (e) => warn(`cannot tell systemd the daemon is ready: ${e.message}`));
  child.on('close', (code) => {
    if (code) warn(`cannot tell systemd the daemon is ready: ${err.trim() || `tern-notify exited ${code}`}`);
  });
  child.unref();
}
