// /readyz means "this replica can serve traffic" (src/edge/readiness.ts): unready only without a
// policy set, without a CA, or while shutting down; a shared dependency that fails is degraded:
// 200, named in the body, in the metric, and logged once per change.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/audit/logger.js';
import { Metrics } from '../../src/audit/metrics.js';
import { createAdminServer, type AdminDeps } from '../../src/edge/admin-server.js';

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

const POLICIES = { hash: 'abc', files: 1, rules: 2, loadedAt: '2026-01-01T00:00:00.000Z' };

async function admin(deps: Partial<AdminDeps>) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) });
  const metrics = new Metrics({ heldRequests: () => 0, auditQueueDepth: () => 0, auditHealthy: () => true, auditDropped: () => 0, leafCache: () => ({ size: 0, hits: 0, misses: 0 }) });
  const server = createAdminServer({
    policyStatus: () => POLICIES,
    caLoaded: () => true,
    metrics: metrics.registry,
    onDependency: (name, ok) => metrics.dependency(name, ok),
    onReady: (ok) => metrics.ready(ok),
    logger: createLogger('info', sink),
    watchMs: 0,
    ...deps,
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    lines,
    readyz: async () => {
      const res = await fetch(`${base}/readyz`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    metric: async (name: string) => new RegExp(`^${name} (\\d)$`, 'm').exec(await (await fetch(`${base}/metrics`)).text())?.[1],
  };
}

describe('/readyz', () => {
  it('Redis down is degraded, not unready: 200, named in the body and the metric, one log line down and one up', async () => {
    let redisUp = false;
    const a = await admin({ redisPing: () => (redisUp ? Promise.resolve() : Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'))) });
    for (let i = 0; i < 3; i += 1) {
      const { status, body } = await a.readyz();
      expect(status).toBe(200);
      expect(body).toMatchObject({ status: 'degraded', unready: [], degraded: ['redis'], checks: { redis: { ok: false, error: 'connect ECONNREFUSED 127.0.0.1:6379' }, policies: { ok: true, hash: 'abc' } } });
    }
    expect(await a.metric('countersign_dependency_healthy\\{dependency="redis"\\}')).toBe('0');
    expect(await a.metric('countersign_ready')).toBe('1');
    expect(a.lines.filter((l) => l.event === 'dependency.degraded')).toEqual([expect.objectContaining({ dependency: 'redis', error: 'connect ECONNREFUSED 127.0.0.1:6379' })]);
    redisUp = true;
    expect((await a.readyz()).body).toMatchObject({ status: 'ready', degraded: [] });
    await a.readyz();
    expect(a.lines.filter((l) => l.event === 'dependency.recovered')).toHaveLength(1);
    expect(await a.metric('countersign_dependency_healthy\\{dependency="redis"\\}')).toBe('1');
  });

  it('the audit sink and the AWS identity failing are degraded too', async () => {
    const a = await admin({ audit: () => ({ ok: false, sink: 'redis', queued: 12 }), awsIdentity: () => ({ ok: false, status: 'no_credentials', error: 'countersign has no AWS credentials of its own' }) });
    const { status, body } = await a.readyz();
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'degraded', degraded: ['audit', 'awsIdentity'], checks: { awsIdentity: { status: 'no_credentials' } } });
  });

  it('is unready (503) while shutting down, without a CA, or without a policy set, and says which', async () => {
    let closing = false;
    const a = await admin({ shuttingDown: () => closing });
    expect((await a.readyz()).status).toBe(200);
    closing = true;
    const draining = await a.readyz();
    expect(draining.status).toBe(503);
    expect(draining.body).toMatchObject({ status: 'not ready', unready: ['shutdown'] });
    expect(await a.metric('countersign_ready')).toBe('0');
    expect(a.lines.filter((l) => l.event === 'readiness.unready')).toHaveLength(1);
    const b = await admin({ caLoaded: () => false, policyStatus: () => undefined });
    const broken = await b.readyz();
    expect(broken.status).toBe(503);
    expect(broken.body).toMatchObject({ status: 'not ready', unready: ['policies', 'ca'] });
  });
});
