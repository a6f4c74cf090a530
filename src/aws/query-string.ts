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

/**
 * Form bodies (query protocol) do encode spaces as `+` (application/x-www-form-urlencoded).
 * A name given twice is refused (AmbiguousRequest): AWS takes one of the values and countersign
 * would decide on the other (`RoleName=public-a&RoleName=admin`). So are two names that differ
 * only in case: whether a service matches parameter names case-insensitively is not documented,
 * and no SDK sends two such names (query-protocol names are the model's, lists are indexed).
 */
export function parseFormBody(body: Buffer): Map<string, string> {
  const params = new Map<string, string>();
  const names: string[] = [];
  for (const [key, value] of new URLSearchParams(body.toString('utf8'))) {
    if (params.has(key)) throw new CountersignError('AmbiguousRequest', `The form body gives ${nameForMessage(key)} more than once; send each parameter once.`);
    params.set(key, value);
    names.push(key);
  }
  const clash = caseClash(names);
  if (clash !== undefined) throw new CountersignError('AmbiguousRequest', `The form body gives ${nameForMessage(clash[0])} and ${nameForMessage(clash[1])}, which may name one parameter; send each parameter once, spelt as the API documents it.`);
  return params;
}

/** Two distinct names that are equal but for case, if any (AWS parameter names are ASCII). */
export function caseClash(names: readonly string[]): readonly [string, string] | undefined {
  // A request has a handful of parameters: compare lengths pairwise and fold only equal ones,
  // rather than build a folded copy of every name (this runs on every query-protocol request).
  if (names.length <= 12) {
    for (let a = 0; a < names.length; a++) {
      const first = names[a] ?? '';
      for (let b = a + 1; b < names.length; b++) {
        const second = names[b] ?? '';
        if (first.length === second.length && first !== second && first.toLowerCase() === second.toLowerCase()) return [first, second];
      }
    }
    return undefined;
  }
  const seen = new Map<string, string>();
  for (const name of names) {
    const folded = name.toLowerCase();
    const other = seen.get(folded);
    if (other !== undefined && other !== name) return [other, name];
    seen.set(folded, name);
  }
  return undefined;
}

/**
 * A parameter or key name as an error message shows it: as it is when it looks like an AWS
 * member name, else quoted with its control characters escaped and cut to 64 characters (the
 * name is the agent's).
 */
export function nameForMessage(name: string): string {
  return /^[A-Za-z0-9._:-]{1,64}$/.test(name) ? name : JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}...` : name);
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
