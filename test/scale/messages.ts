// What the scale driver (scale.ts) and its agent worker processes
// (sim-agents.ts) tell each other over the IPC channel.
import type { Phase } from '../../coordinator/phases.js';
import type { SimTiming } from './sim-engine.js';

/** One simulated agent: its host name, and the container it starts with. */
export interface AgentSpec {
  host: string;
  container: string;
  ip: string;
}

export type ToWorker =
  | {
      type: 'init';
      coordinator: string;
      pki: string;
      /** This worker's directory: agents' state directories and its log. */
      dir: string;
      timing: SimTiming;
      lan: string;
      heartbeatMs: number;
    }
  | { type: 'start'; agents: AgentSpec[] }
  | { type: 'stop' };

/** A timed call to the coordinator: kind, when it ended, latency (ms), whether it succeeded. */
export type CallRecord = ['register' | 'heartbeat', number, number, boolean];

/** An agent's reply that ends a phase's work: migration id, the phase, when the reply left (ms since the epoch). */
export type ReplyRecord = [string, Phase, number];

export type FromWorker =
  | { type: 'ready' }
  | { type: 'started'; count: number; failed: { host: string; error: string }[] }
  | {
      type: 'samples';
      calls: CallRecord[];
      replies: ReplyRecord[];
      registered: string[];
      /** The worker's largest event-loop delay (ms) in the interval since the last samples, and when. */
      lag: [number, number];
    };

/** Wall-clock time in ms with sub-ms precision, comparable across this machine's processes. */
export const now = () => performance.timeOrigin + performance.now();
