// Fault injection for tests (in the spirit of CRIU_FAULT), live only in a
// daemon started with --test-faults. Such a process reads its
// faults from $TERN_FAULTS and from the file <stateDir>/faults (re-read at
// every fault point, so a test can arm a running daemon). Each entry is
// `point=action`, separated by commas or newlines; action is `fail` (the
// step throws), `crash` (the process kills itself with SIGKILL) or
// `delay:MS` (the step stalls the daemon for MS milliseconds, as a slow disk
// or a loaded host would, so a test can act while it is in that step).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TernError } from './errors.js';

export type FaultAction = 'fail' | 'crash' | `delay:${number}`;

export function parseFaults(text: string): Map<string, FaultAction> {
  const out = new Map<string, FaultAction>();
  for (const part of text.split(/[,\n]/)) {
    const [point, action] = part.trim().split('=');
    if (!point) continue;
    if (action !== 'fail' && action !== 'crash' && !/^delay:\d{1,6}$/.test(action ?? '')) continue;
    out.set(point.trim(), action as FaultAction);
  }
  return out;
}

export class Faults {
  /**
   * Nothing is ever armed unless `enabled`: production daemons enable fault
   * injection only when started with --test-faults, and say so in their log.
   */
  constructor(
    private readonly stateDir?: string,
    readonly enabled = false,
  ) {}

  private current(): Map<string, FaultAction> {
    if (!this.enabled) return new Map();
    let text = process.env.TERN_FAULTS ?? '';
    if (this.stateDir) {
      try {
        text += `\n${readFileSync(join(this.stateDir, 'faults'), 'utf8')}`;
      } catch {
        // no fault file: nothing armed
      }
    }
    return parseFaults(text);
  }

  /**
   * Whether anything is armed at `point`, for points whose effect is their
   * own (corrupt-chunk, criu-dump, criu-restore): arm them with any action,
   * e.g. `corrupt-chunk=fail`.
   */
  armed(point: string): boolean {
    return this.current().has(point);
  }

  /** Call at a step boundary named `point`; acts if a fault is armed there. */
  hit(point: string): void {
    const action = this.current().get(point);
    if (!action) return;
    if (action.startsWith('delay:')) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(action.slice(6)));
      return;
    }
    if (action === 'crash') process.kill(process.pid, 'SIGKILL');
    throw new TernError('INTERNAL', `injected fault at ${point}`);
  }
}

/** What a daemon started with --test-faults logs first. */
export const FAULTS_WARNING =
  'FAULT INJECTION ENABLED (--test-faults): this daemon fails on purpose when told to; never run it so in production';
