/**
 * Host rules match a path as it is on the wire, and countersign forwards it as it is on the wire.
 * That is sound only for a path every server reads one way. Servers resolve dot segments (RFC
 * 3986 §5.2.4), some after decoding `%2e`; some decode `%2f` into a separator, treat `\` as `/`
 * (IIS, many Windows and Java stacks), strip `;` path parameters (Tomcat: `/ok/..;/x` is `/x`),
 * decode twice (`%252e`), merge `//` (nginx), truncate at NUL, or fold Unicode (NFKC turns
 * U+FF0E into `.`). So `/ok/../x` matches `/ok/*` here and is served as `/x` there, and
 * `/%61dmin/x` slips past a deny rule on `/admin/*` on any server that decodes.
 *
 * Refusing beats normalising: a normalised path is still one reading among several, and which one
 * the server makes is unknown here. Forwarding the normalised path instead would change the
 * request (and break servers that keep `%2f` literal); deciding on the normalised path and
 * forwarding the raw one reopens the gap whenever the server normalises differently. Refused, a
 * path has one reading, so what is decided is what is served. The list follows RFC 3986 and
 * Spring Security's StrictHttpFirewall, which refuses the same constructs for the same reason.
 * Ordinary clients do not send them: they remove dot segments before sending and encode with
 * upper-case hex only what must be encoded (RFC 3986 §5.2.4, §2.1, §2.3). APIs that put `%2F`
 * in a path (npm's scoped packages, GitLab's project ids) cannot be given path rules; rules
 * that name no paths leave the path alone (policy/evaluate.ts, decideHostRequest).
 */

/** RFC 3986 `pchar` and `/`, less `;`: `unreserved / pct-encoded / sub-delims / ":" / "@"`. */
const PATH_CHARACTER = /[^A-Za-z0-9\-._~!$&'()*+,=:@/%]/;
const PERCENT_ENCODING = /%(..)/gs;
const UNRESERVED = /[A-Za-z0-9\-._~]/;

function describeCharacter(character: string): string {
  if (character === '\\') return 'a backslash';
  if (character === ';') return 'a ";" (servers such as Tomcat strip path parameters: /ok/..;/x is /x)';
  const code = character.codePointAt(0) ?? 0;
  return `the character U+${code.toString(16).toUpperCase().padStart(4, '0')}, which a path must percent-encode`;
}

/** Why an encoded octet has more than one reading, or undefined when it has one. */
function encodedAmbiguity(hex: string): string | undefined {
  if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return `an invalid percent-encoding "%${hex}"`;
  const octet = Number.parseInt(hex, 16);
  const character = String.fromCharCode(octet);
  if (UNRESERVED.test(character)) return `"%${hex}", an encoded "${character}", which servers read as "${character}" (RFC 3986 §2.3) and rules do not: "%2E%2E" is a dot segment`;
  if (character === '/') return 'an encoded "/" (%2F), which some servers read as a separator';
  if (character === '\\') return 'an encoded "\\" (%5C), which some servers read as a separator';
  if (character === '%') return 'an encoded "%" (%25): a server or proxy that decodes twice reads another path';
  if (character === ';') return 'an encoded ";" (%3B), which some servers read as a path parameter';
  if (octet < 0x20 || octet === 0x7f) return `an encoded control character "%${hex}" (NUL truncates paths in some servers)`;
  if (hex !== hex.toUpperCase()) return `a percent-encoding with lower-case hex "%${hex}" (RFC 3986 §2.1: a rule written in one case would not match the other)`;
  return undefined;
}

/** Why a segment, once decoded, has more than one reading, or undefined when it has one. */
function segmentAmbiguity(segment: string, last: boolean): string | undefined {
  if (segment === '') return last ? undefined : 'an empty segment ("//"), which some servers merge into "/"';
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    return 'a percent-encoding that is not UTF-8 (overlong forms such as %C0%AE read as "." in some servers)';
  }
  const folded = decoded.normalize('NFKC');
  if (folded === '.' || folded === '..') return `a dot segment ("${segment.slice(0, 32)}"), which servers resolve against the segment before it`;
  if (folded.includes('/') || folded.includes('\\')) return `a segment with a character that folds to "/" or "\\" ("${segment.slice(0, 32)}")`;
  return undefined;
}

/**
 * Why a request path may be read more than one way, or undefined when it may not. `rawPath` is
 * the path as on the wire, without the query.
 */
export function pathAmbiguity(rawPath: string): string | undefined {
  if (!rawPath.startsWith('/')) return 'the request target is not an absolute path';
  const bad = PATH_CHARACTER.exec(rawPath);
  if (bad !== null) return describeCharacter(bad[0]);
  for (const match of rawPath.matchAll(PERCENT_ENCODING)) {
    const why = encodedAmbiguity(match[1] ?? '');
    if (why !== undefined) return why;
  }
  if (/%.?$/.test(rawPath)) return 'an invalid percent-encoding at the end of the path';
  const segments = rawPath.split('/').slice(1);
  for (const [i, segment] of segments.entries()) {
    const why = segmentAmbiguity(segment, i === segments.length - 1);
    if (why !== undefined) return why;
  }
  return undefined;
}
