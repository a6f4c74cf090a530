/**
 * Relations between two IAM-style globs, for resources a request names only as a pattern
 * (RunInstances' `instance/*`, a KMS alias as `key/*`, a secret as `name-??????`):
 *  - `globCovers(rule, request)`: every string the request pattern matches, the rule matches too
 *    (an allow rule must cover all it grants, or the session policy would grant more than it said);
 *  - `globsOverlap(rule, request)`: some string matches both (a deny rule applies as soon as the
 *    grant could reach what it denies).
 * Both are dynamic programmes over positions in the two patterns: O(|rule| × |request|), no
 * backtracking. Rule patterns may escape literals as IAM does (`${*}`, `${?}`, `${$}`); request
 * patterns are ARNs whose `*` and `?` are wildcards.
 */

type Token = { readonly kind: 'star' } | { readonly kind: 'one' } | { readonly kind: 'char'; readonly char: string };

const STAR: Token = { kind: 'star' };
const ONE: Token = { kind: 'one' };

function tokens(pattern: string, escapes: boolean): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    const escaped = escapes && c === '$' && pattern[i + 1] === '{' && pattern[i + 3] === '}' && '*?$'.includes(pattern[i + 2] ?? '') ? pattern[i + 2] : undefined;
    if (escaped !== undefined) {
      out.push({ kind: 'char', char: escaped });
      i += 3;
    } else out.push(c === '*' ? STAR : c === '?' ? ONE : { kind: 'char', char: c });
  }
  return out;
}

/** L(request) ⊆ L(rule): the rule's `*` takes any run of request tokens, its `?` one non-star token, a literal the same literal. */
export function globCovers(rule: string, request: string): boolean {
  const p = tokens(rule, true);
  const s = tokens(request, false);
  // reach[j]: the first i rule tokens can consume the first j request tokens.
  let reach = new Array<boolean>(s.length + 1).fill(false);
  reach[0] = true;
  for (const token of p) {
    const next = new Array<boolean>(s.length + 1).fill(false);
    for (let j = 0; j <= s.length; j++) {
      if (token.kind === 'star') next[j] = reach[j] === true || (j > 0 && next[j - 1] === true);
      else if (j > 0 && reach[j - 1] === true) {
        const t = s[j - 1] as Token;
        next[j] = token.kind === 'one' ? t.kind !== 'star' : t.kind === 'char' && t.char === token.char;
      }
    }
    reach = next;
  }
  return reach[s.length] === true;
}

/** L(rule) ∩ L(request) ≠ ∅. */
export function globsOverlap(rule: string, request: string): boolean {
  const p = tokens(rule, true);
  const s = tokens(request, false);
  const width = s.length + 1;
  const seen = new Uint8Array((p.length + 1) * width);
  const stack: Array<[number, number]> = [[0, 0]];
  while (stack.length > 0) {
    const [i, j] = stack.pop() as [number, number];
    const at = i * width + j;
    if (seen[at] === 1) continue;
    seen[at] = 1;
    if (i === p.length && j === s.length) return true;
    const a = p[i];
    const b = s[j];
    // A star may match nothing: move past it.
    if (a?.kind === 'star') stack.push([i + 1, j]);
    if (b?.kind === 'star') stack.push([i, j + 1]);
    // Both consume one common character (a star stays where it is).
    if (a !== undefined && b !== undefined && (a.kind !== 'char' || b.kind !== 'char' || a.char === b.char)) {
      stack.push([a.kind === 'star' ? i : i + 1, b.kind === 'star' ? j : j + 1]);
    }
  }
  return false;
}
