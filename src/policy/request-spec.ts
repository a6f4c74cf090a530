import { CountersignError } from '../errors.js';
import { ANY_RESOURCE, type ResourceRef } from '../aws/arn.js';
import { classify, type Classification } from '../aws/classify/index.js';
import { routeTable } from '../aws/routes/table.js';
import { parseQuery } from '../aws/query-string.js';
import type { RequestFacts } from './evaluate.js';

/**
 * A request written by a person, for `policy test` and `policy explain`. It goes through the
 * same classifiers as live traffic, so a test exercises what the proxy would really decide:
 *  - `request: "GET s3://bucket/key?versionId=1"`: an S3 call by method and URL;
 *  - `call: "dynamodb:GetItem"` (or `iam:AttachRolePolicy`) with `parameters`: a JSON or
 *    query API call with those parameters;
 *  - `action` and `resource`: the pair itself, when no classifier is wanted.
 */
export interface RequestSpec {
  readonly agent: string;
  readonly request?: string;
  readonly call?: string;
  readonly parameters?: Readonly<Record<string, unknown>>;
  readonly action?: string;
  readonly resource?: string;
  readonly region?: string;
  readonly sourceIp?: string;
  readonly at?: Date;
  readonly requestBytes?: number;
}

export function describeRequest(spec: RequestSpec): RequestFacts {
  const region = spec.region ?? 'us-east-1';
  const classification = classifyWritten(spec, region);
  return {
    agent: spec.agent,
    service: classification.service,
    region,
    needs: classification.needs,
    parameters: classification.parameters,
    ...(spec.sourceIp !== undefined && { sourceIp: spec.sourceIp }),
    ...(spec.at !== undefined && { at: spec.at }),
    ...(spec.requestBytes !== undefined && { requestBytes: spec.requestBytes }),
  };
}

function classifyWritten(spec: RequestSpec, region: string): Classification {
  if (spec.request !== undefined) return classifyS3Line(spec.request, region, spec.parameters);
  if (spec.call !== undefined) return classifyCall(spec.call, spec.parameters ?? {}, region);
  if (spec.action !== undefined) {
    const resource: ResourceRef = spec.resource === undefined || spec.resource === '*' ? ANY_RESOURCE : { arn: spec.resource, needsAccount: false };
    const parameters = Object.fromEntries(Object.entries(spec.parameters ?? {}).map(([k, v]) => [k, String(v)]));
    const service = spec.action.split(':')[0] ?? '';
    return { service, endpointPrefix: service, region, operation: spec.action, protocol: 'query', needs: [{ action: spec.action, resource }], parameters };
  }
  throw new CountersignError('UnclassifiedRequest', 'A written request needs `request`, `call` or `action`.');
}

/** `METHOD s3://bucket/key?query`, with optional headers in `parameters.headers`. */
function classifyS3Line(line: string, region: string, extra: RequestSpec['parameters']): Classification {
  const match = /^(GET|HEAD|PUT|POST|DELETE) s3:\/\/([^/?]*)(\/[^?]*)?(?:\?(.*))?$/.exec(line.trim());
  if (!match) throw new CountersignError('UnclassifiedRequest', `"${line}" is not of the form "METHOD s3://bucket/key".`);
  const [, method = 'GET', bucket = '', key = '', query = ''] = match;
  const rawPath = `/${bucket}${key.split('/').map((segment) => encodeURIComponent(segment)).join('/')}`;
  const headers = (extra?.headers ?? {}) as Record<string, string>;
  return classify({
    method,
    host: `s3.${region}.amazonaws.com`,
    rawPath,
    query: parseQuery(query),
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
    body: undefined,
    service: 's3',
    region,
  });
}

/** `service:Operation` with parameters, serialised the way that service's protocol carries them. */
function classifyCall(call: string, parameters: Readonly<Record<string, unknown>>, region: string): Classification {
  const [service = '', operation = ''] = call.split(':');
  const model = (routeTable().bySigningName.get(service) ?? []).find((s) => s.operations.has(operation) && !s.protocol.startsWith('rest-'));
  const host = `${model?.endpointPrefix ?? service}.${region}.amazonaws.com`;
  if (model?.targetPrefix !== undefined && model.protocols.includes('json')) {
    const headers = { 'x-amz-target': `${model.targetPrefix}.${operation}`, 'content-type': `application/x-amz-json-${model.jsonVersion ?? '1.0'}` };
    return classify({ method: 'POST', host, rawPath: '/', query: {}, headers, body: Buffer.from(JSON.stringify(parameters)), service, region });
  }
  if (model !== undefined) {
    const form = new URLSearchParams({ Action: operation, Version: model.apiVersion });
    for (const [key, value] of Object.entries(parameters)) form.set(key, typeof value === 'string' ? value : JSON.stringify(value));
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    return classify({ method: 'POST', host, rawPath: '/', query: {}, headers, body: Buffer.from(form.toString()), service, region });
  }
  throw new CountersignError('UnclassifiedRequest', `"${call}" is not a JSON or query API operation; write S3 requests as "METHOD s3://bucket/key", others as action and resource.`);
}
