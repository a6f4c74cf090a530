import type { IncomingHttpHeaders } from 'node:http';

/** RFC 9110 section 7.6.1: connection-specific headers never travel past one hop. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
  // undici sends bodies without waiting for 100 Continue; the client already got ours.
  'expect',
]);

/**
 * Headers some servers and frameworks read as "use this method instead" (or this URL). AWS
 * ignores them, but whatever sits between it and countersign, or a host a rule lets through,
 * may not: countersign decides on the method and path it sees, so a request carrying one is
 * refused rather than forwarded with two meanings.
 */
const METHOD_OVERRIDES = ['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-method', 'x-original-url', 'x-rewrite-url'];

/** The first method- or URL-override header the request carries, if any. */
export function methodOverrideHeader(headers: IncomingHttpHeaders): string | undefined {
  return METHOD_OVERRIDES.find((name) => headers[name] !== undefined);
}

/** Everything that authenticated the agent: none of it may reach AWS. */
const AGENT_AUTH = new Set(['authorization', 'x-amz-security-token', 'x-amz-date']);

/** The header names a Connection header lists (RFC 9110 section 7.6.1), lower-cased. */
function connectionTokens(value: unknown): Set<string> | undefined {
  return typeof value === 'string' ? new Set(value.toLowerCase().split(',').map((t) => t.trim())) : undefined;
}

/**
 * Request headers to forward and sign: the client's, less hop-by-hop headers, the agent's auth
 * artefacts, countersign's own `x-countersign-*` headers and Content-Length, which is signed as
 * the upstream client will write it for the body that goes (upstream.ts, sentContentLength),
 * not as the agent sent it: undici writes none for a bodiless DELETE that came with
 * `Content-Length: 0`. Repeated headers are joined with commas, as SigV4 canonicalisation expects.
 */
export function forwardableRequestHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  return filteredRequestHeaders(headers, (name) => AGENT_AUTH.has(name) || name === 'content-length' || name.startsWith('x-countersign-'));
}

/**
 * Request headers for a non-AWS host a rule lets through: everything the client sent except
 * hop-by-hop headers and countersign's own. Its Authorization is the client's business there.
 */
export function passThroughRequestHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  return filteredRequestHeaders(headers, (name) => name.startsWith('x-countersign-'));
}

function filteredRequestHeaders(headers: IncomingHttpHeaders, drop: (name: string) => boolean): Record<string, string> {
  const tokens = connectionTokens(headers.connection);
  const out: Record<string, string> = {};
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || tokens?.has(name) === true || drop(name)) continue;
    out[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return out;
}

/**
 * Response headers to pass back to the client, less hop-by-hop ones, from headers as undici
 * reads them off the wire (names and values alternating, as bytes), returned in the flat form
 * `res.writeHead` takes, with
 * `x-countersign-request-id` (countersign's own, replacing any the upstream sent) at the end.
 * Names are lower-cased; repeated headers stay repeated, in their order.
 */
export function forwardableResponseHead(raw: readonly Buffer[], requestId: string): string[] {
  const out: string[] = [];
  let tokens: Set<string> | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as Buffer).toString('latin1').toLowerCase();
    const value = (raw[i + 1] as Buffer).toString('latin1');
    if (name === 'connection') {
      // Usually just `keep-alive`, a hop-by-hop header already, which needs no second pass.
      for (const token of value.toLowerCase().split(',')) {
        const named = token.trim();
        if (!HOP_BY_HOP.has(named)) (tokens ??= new Set()).add(named);
      }
      continue;
    }
    if (HOP_BY_HOP.has(name) || name === 'x-countersign-request-id') continue;
    out.push(name, value);
  }
  const kept = tokens === undefined ? out : withoutNames(out, tokens);
  kept.push('x-countersign-request-id', requestId);
  return kept;
}

/** A flat header list less the names in `names` (a Connection header may follow what it names). */
function withoutNames(flat: readonly string[], names: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i] as string;
    if (!names.has(name)) out.push(name, flat[i + 1] as string);
  }
  return out;
}

/** The values of the headers the agent signed, as SigV4 saw them; undefined names a missing one. */
export function signedHeaderValues(headers: IncomingHttpHeaders, names: readonly string[]): { values: Record<string, string>; missing?: string } {
  const values: Record<string, string> = {};
  for (const name of names) {
    const value = headers[name];
    if (value === undefined) return { values, missing: name };
    values[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return { values };
}
