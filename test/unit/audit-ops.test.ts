import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AUDIT_EVENTS } from '../../src/audit/events.js';
import { Metrics } from '../../src/audit/metrics.js';
import { roleSessionName, sessionTags } from '../../src/broker/minter.js';
import { sessionPolicy } from '../../src/broker/session-policy.js';

describe('CloudTrail correlation', () => {
  it('names the STS session after the agent and the request that minted it', () => {
    expect(roleSessionName('report-bot', '0b7e2a4c-1d2e-4f5a-8b9c-0d1e2f3a4b5c')).toBe('cs.report-bot.0b7e2a4c-1d2e-4f5a-8b9c-0d1e2f3a4b5c');
    const long = roleSessionName('a'.repeat(48), '0b7e2a4c-1d2e-4f5a-8b9c-0d1e2f3a4b5c');
    expect(long.length).toBeLessThanOrEqual(64);
    expect(long).toMatch(/^[\w+=,.@-]{2,64}$/);
  });

  it('tags the session with agent, request, approval and approvers (values made STS-safe)', () => {
    const tags = sessionTags({ roleArn: 'r', sessionPolicy: '{}', durationSeconds: 900, agent: 'bot', requestId: 'req-1', approvalId: 'ap-1', approvers: ['ann', 'bob'], tags: { team: 'data, eu' } });
    expect(tags).toEqual([
      { Key: 'team', Value: 'data_ eu' },
      { Key: 'countersign:agent', Value: 'bot' },
      { Key: 'countersign:request', Value: 'req-1' },
      { Key: 'countersign:approval', Value: 'ap-1' },
      { Key: 'countersign:approvers', Value: 'ann+bob' },
    ]);
  });

  it('puts a rule’s extra conditions on every statement of the session policy', () => {
    const policy = JSON.parse(sessionPolicy([{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' }], { Bool: { 'aws:SecureTransport': 'true' } })) as { Statement: unknown[] };
    expect(policy.Statement).toEqual([{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/k', Condition: { Bool: { 'aws:SecureTransport': 'true' } } }]);
  });
});

describe('documentation stays in step', () => {
  it('docs/audit.md describes every audit event', () => {
    const doc = readFileSync(new URL('../../docs/audit.md', import.meta.url), 'utf8');
    for (const name of Object.keys(AUDIT_EVENTS)) expect(doc, name).toContain(`| \`${name}\` |`);
  });

  it('the Grafana dashboard only queries metrics countersign serves', async () => {
    const dashboard = readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8');
    const metrics = new Metrics({ heldRequests: () => 0, auditQueueDepth: () => 0, auditHealthy: () => true, auditDropped: () => 0, leafCache: () => ({ size: 0, hits: 0, misses: 0 }) });
    metrics.observeRequest({ event: 'request.forwarded', requestId: 'r', mode: 'intercept', method: 'GET', host: 'h', remoteAddress: '', service: 's3', decision: 'allow', upstreamStatus: 200, credentialsCached: false, durationsMs: { upstream: 1, sts: 1, approval: 1 } });
    const served = await metrics.registry.metrics();
    const used = new Set([...dashboard.matchAll(/countersign_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) expect(served, name).toContain(name);
  });
});
