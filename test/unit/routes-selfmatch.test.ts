import { describe, expect, it } from 'vitest';
import type { QueryParams } from '../../src/aws/query-string.js';
import { matchRestOperation, routeTable, type RouteOperation } from '../../src/aws/routes/table.js';

/**
 * Every REST operation of every service, as the request an SDK would send for it (labels
 * filled in, literal and required query parameters and required headers present), must match
 * itself -- unless another operation of the service has the same method, URI and required
 * members, in which case no request can tell them apart and the matcher must refuse.
 */

function syntheticRequest(op: RouteOperation): { path: string; query: QueryParams; headers: Record<string, string> } {
  const [pathPart = '/', queryPart = ''] = op.requestUri.split('?');
  const path = pathPart.replace(/\{([^}]+)\}/g, (_m, label: string) => (label.endsWith('+') ? 'seg-a/seg-b' : 'lbl'));
  const query: QueryParams = {};
  for (const pair of queryPart.split('&')) {
    if (pair === '') continue;
    const [key = '', value = ''] = pair.split('=');
    query[key] = value;
  }
  for (const key of op.requiredQuery) query[key] ??= '1';
  const headers: Record<string, string> = {};
  for (const name of op.requiredHeaders) headers[name] = '1';
  return { path, query, headers };
}

function signature(op: RouteOperation): string {
  return [op.method, op.requestUri, [...op.requiredQuery].sort().join(','), [...op.requiredHeaders].sort().join(',')].join(' ');
}

describe('route table: every REST operation matches its own request', () => {
  const services = [...routeTable().services.values()].filter((s) => s.protocol.startsWith('rest-'));

  it('covers the REST services', () => {
    expect(services.length).toBeGreaterThan(200);
  });

  it('matches each operation, or refuses where two operations are indistinguishable', () => {
    const mismatches: string[] = [];
    const refusedIdentical: string[] = [];
    for (const service of services) {
      const bySignature = new Map<string, number>();
      for (const op of service.operations.values()) bySignature.set(signature(op), (bySignature.get(signature(op)) ?? 0) + 1);
      for (const op of service.operations.values()) {
        const { path, query, headers } = syntheticRequest(op);
        const host = op.hostLabelPrefix === undefined ? undefined : `${op.hostLabelPrefix}-use1-az4.us-east-1.amazonaws.com`;
        const match = matchRestOperation(service, op.method, path, query, headers, host === undefined ? {} : { host });
        if (match?.operation.name === op.name) continue;
        const identical = (bySignature.get(signature(op)) ?? 0) > 1;
        // The same operation under two names (GetBucketLifecycle / ...Configuration): either is right.
        if (identical && match !== undefined && signature(match.operation) === signature(op) && JSON.stringify(match.operation.iam) === JSON.stringify(op.iam)) continue;
        if (match === undefined && identical) {
          refusedIdentical.push(`${service.id}.${op.name}`);
          continue;
        }
        mismatches.push(`${service.id}.${op.name} (${op.method} ${op.requestUri}) -> ${match?.operation.name ?? 'no match'}`);
      }
    }
    expect(mismatches).toEqual([]);
    // Two operations with one HTTP binding and different IAM needs would be refused; none today.
    expect(refusedIdentical).toEqual([]);
  });
});
