import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { PolicyStatus } from '../policy/store.js';

export interface AdminDeps {
  readonly policyStatus: () => PolicyStatus;
  readonly caLoaded: () => boolean;
  /** Present when Redis is configured: resolves when it answers, rejects with why not. */
  readonly redisPing?: () => Promise<void>;
  /** Prometheus registry served at /metrics. */
  readonly metrics?: Registry;
}

/**
 * The operators' listener, apart from the agents' proxy port: `/healthz` (the process is
 * alive) and `/readyz` (policies and CA loaded, with detail). A rejected policy reload does
 * not make countersign unready: the last good set is in force, and the detail says why the
 * new files were refused.
 */
export function createAdminServer(deps: AdminDeps): Server {
  return createServer((req, res) => {
    const send = (status: number, body: object) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
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
      void readiness(deps).then(({ ready, checks }) => send(ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks }));
      return;
    }
    return send(404, { error: 'not found; try /healthz or /readyz' });
  });
}

async function readiness(deps: AdminDeps): Promise<{ ready: boolean; checks: Record<string, object> }> {
  const ca = deps.caLoaded();
  const checks: Record<string, object> = { policies: { ok: true, ...deps.policyStatus() }, ca: { ok: ca } };
  let redisOk = true;
  if (deps.redisPing !== undefined) {
    try {
      await deps.redisPing();
      checks.redis = { ok: true };
    } catch (error) {
      redisOk = false;
      checks.redis = { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
  }
  return { ready: ca && redisOk, checks };
}
