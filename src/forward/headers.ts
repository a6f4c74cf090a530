import type { IncomingHttpHeaders } from 'node:http';

/** RFC 9110 section 7.6.1: connection-specific headers never travel past one hop. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
  // undici sends bodies without waiting for 100 Continue; the client already got ours.
  'expect',
]);

/** Everything that authenticated the agent: none of it may reach AWS. */
const AGENT_AUTH = new Set(['authorization', 'x-amz-security-token', 'x-amz-date']);

function connectionTokens(headers: IncomingHttpHeaders | Record<string, unknown>): Set<string> {
  const value = headers.connection;
  return new Set(typeof value === 'string' ? value.toLowerCase().split(',').map((t) => t.trim()) : []);
}

/**
 * Request headers to forward: the client's, less hop-by-hop headers, the agent's auth
 * artefacts and countersign's own `x-countersign-*` headers. Repeated headers are joined
 * with commas, as SigV4 canonicalisation expects.
 */
export function forwardableRequestHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const tokens = connectionTokens(headers);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || AGENT_AUTH.has(name) || tokens.has(name) || name.startsWith('x-countersign-')) continue;
    out[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return out;
}

/** Response headers to pass back to the agent, less hop-by-hop ones. */
export function forwardableResponseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const tokens = connectionTokens(headers);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || tokens.has(name)) continue;
    out[name] = value;
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
