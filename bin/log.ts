// Structured JSON logs on stdout (the journal under systemd, a file in the testbed).
import { pino } from 'pino';

export function daemonLogger(name: string, level = 'info') {
  return pino({ name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}
