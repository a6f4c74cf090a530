/**
 * One linear pass over a JSON text before JSON.parse sees it, for what JSON.parse hides: a key
 * given twice in one object (JSON.parse keeps the last, other readers the first or refuse; RFC
 * 8259 section 4 leaves it to the implementation), compared after unescaping ("T\u0061bleName"
 * is "TableName"), and nesting deeper than any AWS request goes, refused before anything
 * recursive (JSON.stringify, the walkers) runs on it, and before JSON.parse spends time and
 * memory on millions of brackets (it is iterative in V8, but 20 MiB of `[` costs it over a second).
 */

/**
 * Containers (objects and arrays) a body may open one inside another. DynamoDB allows 32 levels
 * of attribute nesting (DynamoDB Developer Guide, "Service, account, and table quotas": "Nested attribute depth"), each level
 * two JSON levels (`{"M":{...}}`, `{"L":[...]}`), inside at most a handful of request levels
 * (TransactItems[].Put.Item): about 72. No other AWS input shape comes near; 128 leaves margin.
 * XML bodies take the same limit (src/aws/routes/iam-actions.ts, parseXml).
 */
export const MAX_NESTING = 128;

export type JsonProblem =
  | { readonly kind: 'duplicate'; readonly key: string; readonly at: number }
  | { readonly kind: 'too-deep'; readonly at: number }
  | { readonly kind: 'malformed'; readonly at: number };

// Character codes.
const QUOTE = 34;
const COMMA = 44;
const COLON = 58;
const OPEN_OBJECT = 123;
const CLOSE_OBJECT = 125;
const OPEN_ARRAY = 91;
const CLOSE_ARRAY = 93;

// What comes next.
const VALUE = 0;
const KEY = 1;
const AFTER_VALUE = 2;

/** An open array in `open`; an open object is the index in `keys` where its keys start. */
const ARRAY = -1;

/** Past this many keys an object's keys are looked up in a Set, not compared one by one. */
const LINEAR_KEYS = 16;

/**
 * The structure of `text` as JSON: the first key given twice in one object, nesting past
 * `maxNesting`, or a structural error (a missing colon, comma or bracket); undefined when none.
 * The grammar inside strings, numbers and literals is left to JSON.parse, which runs after and
 * stops at the first error: up to that point this pass reads the text exactly as JSON.parse does,
 * so no container JSON.parse opens escapes the count. `at` is the UTF-16 index of the offending
 * character.
 */
export function scanJson(text: string, maxNesting: number = MAX_NESTING): JsonProblem | undefined {
  const length = text.length;
  const open: number[] = [];
  // The keys of every open object, innermost last: keys[0 .. keyCount). A counter, not
  // `keys.length = n` (a slow path in V8), closes an object's keys.
  const keys: string[] = [];
  let keyCount = 0;
  // Per open object (by nesting level - 1), its keys as a Set once it has many.
  let sets: Array<Set<string> | undefined> | undefined;
  const strings: StringCursor = { backslash: -1, escaped: false };
  let state = VALUE;
  let i = 0;
  for (;;) {
    let c = text.charCodeAt(i);
    while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++i);
    if (state === VALUE) {
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        if (open.length >= maxNesting) return { kind: 'too-deep', at: i };
        open.push(c === OPEN_ARRAY ? ARRAY : keyCount);
        if (sets !== undefined) sets[open.length - 1] = undefined;
        state = c === OPEN_ARRAY ? VALUE : KEY;
        // An empty container closes at once.
        let d = text.charCodeAt(++i);
        while (d === 32 || d === 10 || d === 13 || d === 9) d = text.charCodeAt(++i);
        if (d === (c === OPEN_ARRAY ? CLOSE_ARRAY : CLOSE_OBJECT)) {
          open.pop();
          i++;
          state = AFTER_VALUE;
        }
        continue;
      }
      if (c === QUOTE) {
        const end = stringEnd(text, i + 1, strings);
        if (end < 0) return { kind: 'malformed', at: i };
        i = end + 1;
      } else if (c === 45 || (c >= 48 && c <= 57) || c === 116 || c === 102 || c === 110) {
        // A number or literal: up to the next structural character; JSON.parse checks its spelling.
        do c = text.charCodeAt(++i);
        while (c === c && !isDelimiter(c));
      } else return { kind: 'malformed', at: i };
      state = AFTER_VALUE;
      continue;
    }
    if (state === KEY) {
      if (c !== QUOTE) return { kind: 'malformed', at: i };
      const end = stringEnd(text, i + 1, strings);
      if (end < 0) return { kind: 'malformed', at: i };
      const key = strings.escaped ? unescaped(text.slice(i, end + 1)) : text.slice(i + 1, end);
      if (key === undefined) return { kind: 'malformed', at: i };
      const level = open.length - 1;
      const start = open[level] ?? 0;
      let set = sets?.[level];
      if (set === undefined && keyCount - start >= LINEAR_KEYS) {
        set = new Set(keys.slice(start, keyCount));
        sets ??= [];
        sets[level] = set;
      }
      if (set !== undefined) {
        if (set.has(key)) return { kind: 'duplicate', key, at: i };
        set.add(key);
      } else {
        for (let k = start; k < keyCount; k++) if (keys[k] === key) return { kind: 'duplicate', key, at: i };
        keys[keyCount++] = key;
      }
      i = end + 1;
      c = text.charCodeAt(i);
      while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++i);
      if (c !== COLON) return { kind: 'malformed', at: i };
      i++;
      state = VALUE;
      continue;
    }
    // AFTER_VALUE
    if (open.length === 0) return i === length ? undefined : { kind: 'malformed', at: i };
    const top = open[open.length - 1] ?? ARRAY;
    if (c === COMMA) {
      i++;
      state = top === ARRAY ? VALUE : KEY;
    } else if (c === (top === ARRAY ? CLOSE_ARRAY : CLOSE_OBJECT)) {
      open.pop();
      if (top !== ARRAY) keyCount = top;
      i++;
    } else return { kind: 'malformed', at: i };
  }
}

/** Whitespace and the characters that end a number or literal. */
function isDelimiter(c: number): boolean {
  return c === COMMA || c === CLOSE_ARRAY || c === CLOSE_OBJECT || c === 32 || c === 10 || c === 13 || c === 9 || c === QUOTE || c === COLON || c === OPEN_ARRAY || c === OPEN_OBJECT;
}

/** Where the next backslash is (found once per stretch, so the scan stays linear), and whether the last string had one. */
interface StringCursor {
  backslash: number;
  escaped: boolean;
}

/**
 * The index of the quote closing a string whose text starts at `from`, or -1 when none does.
 * Quotes are found with indexOf (strings are most of a body); a backslash before the quote
 * escapes the character after it. Sets `cursor.escaped`.
 */
function stringEnd(text: string, from: number, cursor: StringCursor): number {
  cursor.escaped = false;
  let at = from;
  for (;;) {
    const quote = text.indexOf('"', at);
    if (quote < 0) return -1;
    if (cursor.backslash !== Infinity && cursor.backslash < at) {
      const next = text.indexOf('\\', at);
      cursor.backslash = next < 0 ? Infinity : next;
    }
    if (cursor.backslash > quote) return quote;
    cursor.escaped = true;
    at = cursor.backslash + 2;
  }
}

/** A key's value, unescaped exactly as JSON.parse does; undefined when the escapes are invalid. */
function unescaped(quoted: string): string | undefined {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return undefined;
  }
}
