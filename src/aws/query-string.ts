import { CountersignError } from '../errors.js';

export type QueryParams = Record<string, string | string[]>;

/**
 * Decodes a raw query string (`a=1&b&a=2`) without normalising it: repeated keys become arrays,
 * a key without `=` has the empty value, and `+` stays a plus (SigV4 canonical queries treat it
 * as a literal character, not a space).
 */
export function parseQuery(raw: string): QueryParams {
  const params: QueryParams = Object.create(null) as QueryParams;
  if (raw === '') return params;
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1));
    const existing = params[key];
    if (existing === undefined) params[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else params[key] = [existing, value];
  }
  return params;
}

/** Form bodies (query protocol) do encode spaces as `+` (application/x-www-form-urlencoded). */
export function parseFormBody(body: Buffer): Map<string, string> {
  const params = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(body.toString('utf8'))) {
    if (!params.has(key)) params.set(key, value);
  }
  return params;
}

/** The raw query less the named parameters, the others exactly as they were on the wire. */
export function withoutParams(raw: string, names: readonly string[]): string {
  const drop = new Set(names);
  return raw
    .split('&')
    .filter((pair) => pair !== '' && !drop.has(decode(pair.slice(0, pair.includes('=') ? pair.indexOf('=') : pair.length))))
    .join('&');
}

export function firstValue(params: QueryParams, key: string): string | undefined {
  const value = params[key];
  return Array.isArray(value) ? value[0] : value;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new CountersignError('MalformedAuthorization', 'The query string has an invalid percent-encoding.');
  }
}
