import { createServer, type Server } from 'node:http';
import type { PolicyStatus } from '../policy/store.js';

export interface AdminDeps {
  readonly policyStatus: () => PolicyStatus;
  readonly caLoaded: () => boolean;
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
    if (req.url === '/readyz') {
      const policies = deps.policyStatus();
      const ca = deps.caLoaded();
      return send(ca ? 200 : 503, { status: ca ? 'ready' : 'not ready', checks: { policies: { ok: true, ...policies }, ca: { ok: ca } } });
    }
    return send(404, { error: 'not found; try /healthz or /readyz' });
  });
}
