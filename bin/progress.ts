// migrate on a terminal: while memory pages flow (dumping, a pre-copy round)
// a progress bar shows the bytes sent and the rate (cli-progress); it gives
// way to the phase lines printed as before.
import cliProgress from 'cli-progress';
import type { Migration__Output } from '../proto/index.js';

const MIB = 1024 * 1024;

export class PageProgress {
  private bar?: cliProgress.SingleBar;
  private phase = '';
  private startedMs = 0;

  /** A migration update: start, move or end the bar. */
  update(m: Migration__Output): void {
    const bytes = Number(m.progress_bytes);
    const flowing = (m.phase === 'dumping' || m.phase === 'precopying') && bytes > 0;
    if (!flowing || m.phase !== this.phase) this.stop();
    if (!flowing) return;
    const total = Math.max(Number(m.memory_bytes), bytes);
    if (!this.bar) {
      this.phase = m.phase;
      this.startedMs = Date.now();
      this.bar = new cliProgress.SingleBar(
        {
          format: '           {phase} |{bar}| {moved}/{size} MiB  {rate} MiB/s',
          hideCursor: true,
          clearOnComplete: true,
          barsize: 30,
          stream: process.stdout,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { phase: m.phase, moved: '0.0', size: (total / MIB).toFixed(1), rate: '-' });
    }
    const secs = Math.max(0.001, (Date.now() - this.startedMs) / 1000);
    this.bar.setTotal(total);
    this.bar.update(bytes, {
      phase: m.phase,
      moved: (bytes / MIB).toFixed(1),
      size: (total / MIB).toFixed(1),
      rate: (bytes / MIB / secs).toFixed(0),
    });
  }

  /** Before a line is printed, and at the end: the bar goes (it is cleared from the screen). */
  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
    this.phase = '';
  }
}
