/**
 * IAM-style globs: `*` matches any run of characters (including none), `?` exactly one, and
 * `${*}`, `${?}`, `${$}` match those characters literally (as IAM policy variables do).
 * A glob compiles to its literal segments between stars, matched left to right with the
 * leftmost occurrence of each segment. That greedy scan is correct for star-separated
 * segments and runs in O(text × longest segment) with no backtracking, so no pattern a
 * policy author writes can stall the request path (no user regular expressions, no ReDoS).
 */

export type Matcher = (text: string) => boolean;

export interface GlobOptions {
  /** IAM compares action names case-insensitively. */
  readonly caseInsensitive?: boolean;
}

/** Stands for `?` (any one character) inside a segment, after escapes are resolved. */
const ANY_CHAR = '\uE000';
const ANY_CHAR_CODE = 0xe000;

/** Splits a pattern at its unescaped `*`, turning unescaped `?` into ANY_CHAR and escapes into literals. */
function segmentsOf(pattern: string): string[] {
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    const escaped = c === '$' && pattern[i + 1] === '{' && pattern[i + 3] === '}' && '*?$'.includes(pattern[i + 2] ?? '') ? pattern[i + 2] : undefined;
    if (escaped !== undefined) {
      current += escaped;
      i += 3;
    } else if (c === '*') {
      segments.push(current);
      current = '';
    } else {
      current += c === '?' ? ANY_CHAR : c;
    }
  }
  segments.push(current);
  return segments;
}

/**
 * The literal runs of a pattern between its wildcards, escapes resolved: the first is the text
 * every match starts with (the rule index files rules by these). A `\uE000` in a pattern matches
 * as a wildcard (it stands for `?` here), so it ends a run too.
 */
export function literalRuns(pattern: string): string[] {
  if (!pattern.includes('$')) return pattern.split(/[*?\uE000]/);
  return segmentsOf(pattern).flatMap((s) => s.split(ANY_CHAR));
}

export function compileGlob(pattern: string, options: GlobOptions = {}): Matcher {
  const fold = options.caseInsensitive === true ? (s: string) => s.toLowerCase() : (s: string) => s;
  const source = fold(pattern);
  if (source === '*') return () => true;
  const segments = segmentsOf(source);
  const exact = segments.length === 1 && !(segments[0] ?? '').includes(ANY_CHAR) ? segments[0] : undefined;
  if (exact !== undefined) return (text) => fold(text) === exact;
  const first = segments[0] ?? '';
  const last = segments[segments.length - 1] ?? '';
  const middle = segments.slice(1, -1).filter((s) => s !== '');
  const anchoredOnly = segments.length === 1;
  const minLength = segments.reduce((n, s) => n + s.length, 0);

  return (input) => {
    const text = fold(input);
    if (anchoredOnly) return text.length === first.length && segmentAt(text, first, 0);
    if (text.length < minLength) return false;
    if (!segmentAt(text, first, 0)) return false;
    const tailStart = text.length - last.length;
    if (!segmentAt(text, last, tailStart)) return false;
    let position = first.length;
    for (const segment of middle) {
      const found = indexOfSegment(text, segment, position, tailStart);
      if (found === -1) return false;
      position = found + segment.length;
    }
    return position <= tailStart;
  };
}

/** Compiles a list of globs into one matcher that accepts any of them. */
export function compileGlobs(patterns: readonly string[], options: GlobOptions = {}): Matcher {
  const matchers = patterns.map((p) => compileGlob(p, options));
  if (matchers.length === 1 && matchers[0] !== undefined) return matchers[0];
  return (text) => matchers.some((m) => m(text));
}

/** Does `segment` (where ANY_CHAR matches any one character) occur in `text` at `at`? */
function segmentAt(text: string, segment: string, at: number): boolean {
  if (at < 0 || at + segment.length > text.length) return false;
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c !== ANY_CHAR_CODE && c !== text.charCodeAt(at + i)) return false;
  }
  return true;
}

/** Leftmost occurrence of `segment` starting at or after `from`, ending by `end`. */
function indexOfSegment(text: string, segment: string, from: number, end: number): number {
  if (!segment.includes(ANY_CHAR)) {
    const found = text.indexOf(segment, from);
    return found !== -1 && found + segment.length <= end ? found : -1;
  }
  for (let at = from; at + segment.length <= end; at++) {
    if (segmentAt(text, segment, at)) return at;
  }
  return -1;
}
