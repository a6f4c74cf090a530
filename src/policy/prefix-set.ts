/**
 * Values filed under string keys, found by the keys that are prefixes of a text (the rules whose
 * literal prefix a request's ARN starts with) or that extend a prefix (the rules a resource
 * pattern may overlap). The keys are kept sorted, each with a pointer to its longest proper
 * prefix among the keys, so a lookup is one binary search and a walk up that chain: O(log keys
 * + |text| + answers), whatever the number of keys. Strings compare by UTF-16 code unit, the
 * order `startsWith` agrees with.
 */
export class PrefixSet<T> {
  private readonly keys: string[];
  private readonly values: T[][];
  /** Index of the longest key that is a proper prefix of keys[i], or -1. */
  private readonly parent: Int32Array;

  constructor(entries: ReadonlyMap<string, T[]>) {
    // The default sort compares strings by UTF-16 code unit.
    this.keys = [...entries.keys()].sort();
    this.values = this.keys.map((k) => entries.get(k) ?? []);
    this.parent = new Int32Array(this.keys.length);
    // In sorted order the keys that are prefixes of a key come before it and form a chain.
    const chain: number[] = [];
    this.keys.forEach((key, i) => {
      while (chain.length > 0 && !key.startsWith(this.keys[chain[chain.length - 1] ?? 0] ?? '')) chain.pop();
      this.parent[i] = chain[chain.length - 1] ?? -1;
      chain.push(i);
    });
  }

  get size(): number {
    return this.keys.length;
  }

  /** Pushes the values of every key that is a prefix of `text`. */
  prefixesOf(text: string, out: Array<readonly T[]>): void {
    // The longest key that is a prefix of text is a prefix of the greatest key <= text (keys
    // between a prefix of text and text itself all start with that prefix), and so lies on
    // that key's chain within the part it shares with text.
    let i = this.lastAtMost(text);
    if (i === -1) return;
    const shared = commonPrefixLength(this.keys[i] ?? '', text);
    while (i !== -1 && (this.keys[i] ?? '').length > shared) i = this.parent[i] ?? -1;
    for (; i !== -1; i = this.parent[i] ?? -1) out.push(this.values[i] ?? []);
  }

  /** Pushes the values of every key that starts with `prefix`. */
  extending(prefix: string, out: Array<readonly T[]>): void {
    for (let i = this.lastBelow(prefix) + 1; i < this.keys.length && (this.keys[i] ?? '').startsWith(prefix); i++) out.push(this.values[i] ?? []);
  }

  /** The greatest i with keys[i] <= text, or -1. */
  private lastAtMost(text: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.keys[mid] ?? '') <= text) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** The greatest i with keys[i] < text, or -1. */
  private lastBelow(text: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.keys[mid] ?? '') < text) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }
}

function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** Files `value` under `key`, once per key (a rule may name two patterns with the same literal part). */
export function fileUnder<T>(entries: Map<string, T[]>, key: string, value: T): void {
  const list = entries.get(key);
  if (list === undefined) entries.set(key, [value]);
  else if (list[list.length - 1] !== value) list.push(value);
}
