// The coordinator's read-only web view, served beside /metrics: the hosts
// with their containers, and the running and recent migrations with a
// timeline of their phases, downtime and bytes. The page (web-page.ts)
// keeps itself up to date from /api/events (server-sent events: the whole
// view again whenever a migration changes phase, and every 2 s); /api/fleet
// gives the same view once, as JSON.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Page } from '../core/metrics.js';
import { TERMINAL } from './phases.js';
import type { MigrationRecord } from './store.js';
import { PAGE } from './web-page.js';

export interface WebSource {
  hosts(): {
    name: string;
    up: boolean;
    cordoned: boolean;
    containers: { name: string; state: string; ip: string }[];
  }[];
  migrations(): MigrationRecord[];
}

/** Ended migrations the view keeps, newest first. */
const RECENT = 20;
/** How often the view is sent without a change (hosts come and go with heartbeats). */
const TICK_MS = 2000;

export function fleetView(src: WebSource) {
  const all = src.migrations().sort((a, b) => b.startedMs - a.startedMs);
  const running = all.filter((m) => !TERMINAL.includes(m.phase));
  const recent = all.filter((m) => TERMINAL.includes(m.phase)).slice(0, RECENT);
  return {
    atMs: Date.now(),
    hosts: src.hosts(),
    migrations: [...running, ...recent].map((m) => ({
      id: m.id,
      container: m.container,
      from: m.from,
      to: m.to,
      mode: m.mode,
      phase: m.phase,
      error: m.error,
      startedMs: m.startedMs,
      finishedMs: m.finishedMs,
      downtimeMs: m.downtimeMs,
      memoryBytes: m.memoryBytes,
      pagesBytes:
        (m.pagesBytes ?? 0) + (m.roundBytes ?? []).reduce((x, y) => x + y, 0) + (m.pagesMovedBytes ?? 0),
      imageBytes: m.rawBytes,
      history: m.history.map((h) => ({ phase: h.phase, atMs: h.atMs })),
    })),
  };
}

export class WebView {
  private readonly clients = new Set<ServerResponse>();
  private timer?: NodeJS.Timeout;
  private pending?: NodeJS.Timeout;

  constructor(private readonly src: WebSource) {}

  /** The pages, for serveMetrics. */
  readonly pages: Page = (path: string, req: IncomingMessage, res: ServerResponse) => {
    if (path === '/' || path === '/index.html') {
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(PAGE);
      return true;
    }
    if (path === '/api/fleet') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(fleetView(this.src)));
      return true;
    }
    if (path === '/api/events') {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      this.clients.add(res);
      req.on('close', () => this.clients.delete(res));
      res.write(this.event());
      this.timer ??= setInterval(() => this.broadcast(), TICK_MS);
      return true;
    }
    return false;
  };

  /** Something changed: every open page gets the view again (at most every 50 ms). */
  changed(): void {
    if (this.clients.size === 0 || this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.broadcast();
    }, 50);
  }

  close(): void {
    clearInterval(this.timer);
    clearTimeout(this.pending);
    for (const c of this.clients) c.end();
    this.clients.clear();
  }

  private broadcast(): void {
    if (this.clients.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const event = this.event();
    for (const c of this.clients) c.write(event);
  }

  /** The view as one server-sent event, made once for every page that gets it. */
  private event(): string {
    return `event: fleet\ndata: ${JSON.stringify(fleetView(this.src))}\n\n`;
  }
}
