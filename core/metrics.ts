// Prometheus metrics over HTTP: each daemon keeps a registry of its own and,
// when given an address (--metrics-listen), serves it at /metrics (text
// exposition format, plain HTTP: bind it to an address only the monitoring
// system reaches). A daemon may serve more read-only pages there (the
// coordinator's web view); other paths answer 404.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { TernError } from './errors.js';

/** A registry with the process's own metrics (CPU, memory, event loop lag), named tern_<daemon>_process_*. */
export function daemonRegistry(
  daemon: 'coordinator' | 'agent',
  labels: Record<string, string> = {},
): Registry {
  const r = new Registry();
  r.setDefaultLabels(labels);
  collectDefaultMetrics({ register: r, prefix: `tern_${daemon}_` });
  return r;
}

/** "host:port" (port 0: any free one) for a metrics listener. */
export function metricsAddress(listen: string): [string, number] {
  const i = listen.lastIndexOf(':');
  const port = Number(listen.slice(i + 1));
  if (i <= 0 || !/^\d+$/.test(listen.slice(i + 1)) || port > 65535)
    throw new TernError(
      'INVALID_ARGUMENT',
      `invalid metrics address ${JSON.stringify(listen)}: want host:port`,
    );
  return [listen.slice(0, i).replace(/^\[|\]$/g, ''), port];
}

/** Serves `registry` at http://listen/metrics; resolves with the port once listening. */
/** Serves a GET of one path; answers true if it did. */
export type Page = (path: string, req: IncomingMessage, res: ServerResponse) => boolean;

export async function serveMetrics(
  listen: string,
  registry: Registry,
  pages?: Page,
): Promise<{ port: number; close: () => Promise<void> }> {
  const [host, port] = metricsAddress(listen);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path !== '/metrics' && pages?.(path, req, res)) return;
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: tern serves /metrics here\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) =>
      reject(new TernError('FAILED_PRECONDITION', `cannot serve metrics on ${listen}: ${e.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        // Live event streams (the web view) would hold close() up.
        server.closeAllConnections();
      }),
  };
}
