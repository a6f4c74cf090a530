import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { Readiness, type ReadinessDeps } from './readiness.js';

export interface AdminDeps extends ReadinessDeps {
  /** Prometheus registry served at /metrics. */
  readonly metrics?: Registry;
  /** The admin API (admin-api.ts): answers, and returns true, for the paths it serves (/v1/...). */
  readonly adminApi?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** How often dependencies are probed between /readyz calls, so a change is logged and counted even unprobed (default 15 s; 0: never). */
  readonly watchMs?: number;
}

/**
 * The operators' listener, apart from the agents' proxy port: `/healthz` (the process is
 * alive) and `/readyz` (can serve traffic; what is degraded; readiness.ts says exactly what
 * makes a replica unready). A rejected policy reload does not make countersign unready: the
 * last good set is in force, and the detail says why the new files were refused.
 */
export function createAdminServer(deps: AdminDeps): Server {
  const readiness = new Readiness(deps);
  const server = createServer((req, res) => {
    const send = (status: number, body: object) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    if (deps.adminApi?.(req, res) === true) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { error: 'use GET' });
    if (req.url === '/healthz') return send(200, { status: 'ok' });
    if (req.url === '/metrics' && deps.metrics !== undefined) {
      const registry = deps.metrics;
      void registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
      });
      return;
    }
    if (req.url === '/readyz') {
      void readiness.report().then(({ ready, status, unready, degraded, checks }) => send(ready ? 200 : 503, { status, unready, degraded, checks }));
      return;
    }
    return send(404, { error: 'not found; try /healthz or /readyz' });
  });
  const watchMs = deps.watchMs ?? 15_000;
  if (watchMs > 0) {
    const timer = setInterval(() => void readiness.report(), watchMs);
    timer.unref();
    server.once('close', () => clearInterval(timer));
  }
  return server;
}
