import { hasBody } from '../../http/body.js';
import { CountersignError } from '../../errors.js';
import type { Protocol } from '../protocol.js';
import { caseClash, nameForMessage } from '../query-string.js';
import { formBodyOf, iamNeeds, readsBody, requestMembers, type RequestParts } from '../routes/iam-actions.js';
import { findService, matchQueryOperation, matchRestOperation, matchTargetOperation, type ModelProtocol, type RouteOperation, type RouteService } from '../routes/table.js';
import { ACCESS_POINT_BUCKET, accessPointOf, throughAccessPoint } from './access-point.js';
import { parametersOf } from './parameters.js';
import type { Classification, ClassifyHead, ClassificationPlan } from './types.js';

/**
 * Every AWS service, from the generated route table (src/aws/routes, docs/classification.md):
 * the credential scope's signing name and the request's shape pick the service model, the
 * protocol the request speaks picks the matcher, and the operation's IAM entries are filled in
 * from the request. Anything the table cannot place is refused, never guessed.
 *
 * Classification runs in two steps because the body is read only when it must be: the head
 * says which protocol and (for REST) which operation, and so whether the body is needed; the
 * body then completes JSON and query requests, whose operation and members live in it.
 */

function unclassified(why: string): CountersignError {
  return new CountersignError('UnclassifiedRequest', `Request not classified: ${why}.`);
}

/** How the SDK of a protocol expects its errors shaped. */
const ERROR_SHAPE: Readonly<Record<ModelProtocol, Protocol>> = { json: 'json', 'rest-json': 'json', 'rest-xml': 'rest-xml', query: 'query', ec2: 'query' };

/** The protocol a request speaks, from its head: JSON has a target, query a form or Action; the rest is REST. */
function wireProtocol(head: ClassifyHead): 'json' | 'query' | 'rest' {
  if (head.headers['x-amz-target'] !== undefined) return 'json';
  const contentType = head.headers['content-type'];
  if (typeof contentType === 'string' && contentType.toLowerCase().startsWith('application/x-www-form-urlencoded') && head.method === 'POST') return 'query';
  if (head.query.Action !== undefined) return 'query';
  return 'rest';
}

function ambiguous(message: string): CountersignError {
  return new CountersignError('AmbiguousRequest', message);
}

const NO_FORM: ReadonlyMap<string, string> = new Map();

/**
 * Query protocol: every parameter once, in one place. The form body refuses its own repeats
 * (parseFormBody); here the URL's, and any name in both the URL and the body. countersign reads
 * the body's value (formParameters) and forwards the whole URL, so `RoleName=public-a` in the
 * body with `?RoleName=admin` is decided on public-a, and a service that prefers the URL acts on
 * admin. Identical values are refused too: identical as countersign decodes them is not identical
 * as AWS may (a URL's `+` stays a plus in SigV4's reading, a form's is a space), and no SDK puts
 * a parameter in both places. Names that differ only in case count as one (see parseFormBody).
 */
function refuseAmbiguousQuery(query: ClassifyHead['query'], form: ReadonlyMap<string, string>): void {
  let names = 0;
  for (const name in query) {
    names++;
    const value = query[name];
    if (Array.isArray(value)) throw ambiguous(`The URL gives ${nameForMessage(name)} more than once; send each parameter once.`);
    const inForm = form.get(name);
    if (inForm !== undefined) {
      throw ambiguous(
        inForm === value
          ? `${nameForMessage(name)} is given in both the URL and the body; send each parameter once, in the body.`
          : `${nameForMessage(name)} differs between the URL and the body; send each parameter once, in the body.`,
      );
    }
  }
  if (names === 0) return;
  const clash = caseClash(form.size === 0 ? Object.keys(query) : [...Object.keys(query), ...form.keys()]);
  if (clash !== undefined) throw ambiguous(`${nameForMessage(clash[0])} and ${nameForMessage(clash[1])} may name one parameter; send each parameter once, in the body, spelt as the API documents it.`);
}

function single(value: string | readonly string[] | undefined, name: string): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  if (value.length > 1) throw unclassified(`${name} is given more than once`);
  return value[0];
}

/**
 * Smithy RPC v2 CBOR (POST /service/<Service>/operation/<Operation>, a CBOR body, header
 * smithy-protocol: rpc-v2-cbor; botocore lists it first for CloudWatch and others): countersign
 * does not read CBOR, so it cannot say what such a request asks. Refused by name before anything
 * else reads it (any smithy-protocol header: no protocol countersign reads sends one); the
 * service's JSON or query form is classified.
 */
function rpcV2Protocol(head: ClassifyHead): string | undefined {
  const protocol = head.headers['smithy-protocol'];
  if (protocol !== undefined) return (Array.isArray(protocol) ? protocol.join(', ') : String(protocol)).slice(0, 32);
  const contentType = head.headers['content-type'];
  if (typeof contentType === 'string' && contentType.toLowerCase().startsWith('application/cbor') && /^\/service\/[^/]+\/operation\/[^/]+$/.test(head.rawPath)) return 'rpc-v2-cbor';
  return undefined;
}

export function planRouted(head: ClassifyHead): ClassificationPlan {
  const rpcV2 = rpcV2Protocol(head);
  if (rpcV2 !== undefined) {
    throw unclassified(`the request speaks Smithy RPC v2 (${nameForMessage(rpcV2)}, a CBOR body), which countersign does not read; send the service's JSON or query request`);
  }
  const wire = wireProtocol(head);
  if (wire === 'json') return jsonPlan(head);
  if (wire === 'query') return queryPlan(head);
  return restPlan(head);
}

function jsonPlan(head: ClassifyHead): ClassificationPlan {
  // SQS and CloudWatch take JSON and query alike: a request dressed as both (a target with a form
  // body, or an Action in the URL) would be decided as JSON and might be read as query.
  const contentType = head.headers['content-type'];
  if ((typeof contentType === 'string' && contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) || head.query.Action !== undefined) {
    throw ambiguous('The request carries X-Amz-Target (JSON protocol) and a form body or an Action in the URL (query protocol); send one protocol\'s request, as an SDK does.');
  }
  const target = single(head.headers['x-amz-target'], 'X-Amz-Target') ?? '';
  const dot = target.lastIndexOf('.');
  const service = findService(head.service, { host: head.host, targetPrefix: dot === -1 ? target : target.slice(0, dot) });
  if (service === undefined) throw unclassified(`no ${head.service} API answers X-Amz-Target "${target.slice(0, 96)}"`);
  const operation = matchTargetOperation(service, target);
  if (operation === undefined) throw unclassified(`${service.id} has no operation "${target.slice(dot + 1, dot + 97)}"`);
  return { protocol: 'json', buffersBody: true, classify: (body) => complete(head, service, operation, { protocol: 'json', body }) };
}

function queryPlan(head: ClassifyHead): ClassificationPlan {
  // Action and Version may be in the form body: the service and operation are known only with it.
  return {
    protocol: 'query',
    buffersBody: true,
    classify(body) {
      const form = body === undefined ? NO_FORM : formBodyOf(body);
      refuseAmbiguousQuery(head.query, form);
      const action = form.get('Action') ?? single(head.query.Action, 'Action');
      if (action === undefined || action === '') throw unclassified('the query request has no Action');
      const version = form.get('Version') ?? single(head.query.Version, 'Version');
      const service = findService(head.service, { host: head.host, path: head.rawPath, action, ...(version !== undefined && { version }) });
      if (service === undefined) throw unclassified(`no ${head.service} API has the action "${action.slice(0, 96)}"${version === undefined ? '' : ` in version ${version.slice(0, 32)}`}`);
      const operation = matchQueryOperation(service, action, version);
      if (operation === undefined) throw unclassified(`${service.id} has no action "${action.slice(0, 96)}"`);
      return complete(head, service, operation, { protocol: service.protocol === 'ec2' ? 'ec2' : 'query', body });
    },
  };
}

function restPlan(head: ClassifyHead): ClassificationPlan {
  const accessPoint = head.service === 's3' ? accessPointOf(head.host) : undefined;
  // An access point host names no bucket: match with a placeholder bucket in the path, rename its ARNs after.
  const path = accessPoint === undefined ? head.rawPath : `/${ACCESS_POINT_BUCKET}${head.rawPath === '/' ? '' : head.rawPath}`;
  const host = accessPoint === undefined ? head.host : undefined;
  const service = findService(head.service, host === undefined ? { path } : { path, host });
  if (service === undefined || !service.protocol.startsWith('rest-')) throw unclassified(`no ${head.service} REST API serves ${head.method} ${head.rawPath.slice(0, 96)}`);
  const match = matchRestOperation(service, head.method, path, head.query, head.headers, host === undefined ? {} : { host });
  if (match === undefined) throw unclassified(`no ${service.id} operation matches ${head.method} ${head.rawPath.slice(0, 96)}`);
  if (match.unknownQuery.length > 0) {
    // A parameter the model does not define may select another operation (S3 adds sub-resources).
    throw unclassified(`query parameter "${(match.unknownQuery[0] ?? '').slice(0, 64)}" is not defined for ${service.id}:${match.operation.name}`);
  }
  const repeated = repeatedScalarQuery(match.operation, head.query);
  if (repeated !== undefined) {
    throw ambiguous(`The URL gives ${nameForMessage(repeated)} more than once and ${service.id}:${match.operation.name} does not take it as a list; send it once.`);
  }
  // Without x-amz-content-sha256 the signature covers the body's hash, so it must be read to verify.
  const buffersBody = readsBody(match.operation) || (head.headers['x-amz-content-sha256'] === undefined && hasBody(head.headers));
  const protocol = service.protocol;
  return {
    protocol: ERROR_SHAPE[protocol],
    buffersBody,
    classify(body) {
      const classification = complete(head, service, match.operation, { protocol, body, labels: match.labels });
      if (accessPoint === undefined) return classification;
      return { ...classification, needs: throughAccessPoint(classification.needs, accessPoint), parameters: { ...classification.parameters, Bucket: accessPoint.arn } };
    },
  };
}

/**
 * REST: a query parameter given twice that the operation does not take as a list. countersign
 * would decide on both values (two ARNs, a condition on either, "a,b" for a rule) and the
 * service acts on one of them. The route table lists the model's list-typed query members
 * (UntagResource's tagKeys) and those an IAM entry reads as one (`Names[]` at
 * `querystring:names`); any other repeat is refused.
 */
function repeatedScalarQuery(operation: RouteOperation, query: ClassifyHead['query']): string | undefined {
  for (const name in query) {
    if (Array.isArray(query[name]) && !listQueryMembers(operation).has(name)) return name;
  }
  return undefined;
}

const listQuery = new WeakMap<RouteOperation, ReadonlySet<string>>();

/** The query parameters the table reads as lists for an operation, worked out on first need. */
function listQueryMembers(operation: RouteOperation): ReadonlySet<string> {
  let lists = listQuery.get(operation);
  if (lists === undefined) {
    lists = new Set([...operation.listQueryMembers, ...Object.entries(operation.members).flatMap(([path, location]) => (path.endsWith('[]') && location.startsWith('querystring:') ? [location.slice('querystring:'.length)] : []))]);
    listQuery.set(operation, lists);
  }
  return lists;
}

function complete(
  head: ClassifyHead,
  service: RouteService,
  operation: RouteOperation,
  request: { protocol: ModelProtocol; body: Buffer | undefined; labels?: Readonly<Record<string, string>> },
): Classification {
  if (operation.unsigned) throw unclassified(`${service.id}:${operation.name} is an unsigned operation; call AWS directly`);
  // Spreads go last: a literal that starts with one is several times slower to build on node 20.
  const parts: RequestParts = {
    query: head.query,
    headers: head.headers,
    body: request.body,
    protocol: request.protocol,
    host: head.host,
    path: head.rawPath,
    ...(request.labels !== undefined && { labels: request.labels }),
  };
  const result = iamNeeds(service, operation, requestMembers(operation, parts), { region: head.region });
  if (!result.ok) throw unclassified(result.reason);
  return {
    service: head.service,
    endpointPrefix: service.endpointPrefix,
    region: head.region,
    operation: operation.name,
    protocol: ERROR_SHAPE[request.protocol],
    needs: result.needs.map((need) => (need.wildcard ? { action: need.action, resource: need.resource, wildcard: true } : { action: need.action, resource: need.resource })),
    parameters: parametersOf(operation, parts),
  };
}
