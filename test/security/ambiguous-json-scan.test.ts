// The JSON scanner in front of JSON.parse (src/aws/json-scan.ts) must read every text JSON.parse
// reads the way JSON.parse reads it: never refuse one it accepts (but for duplicate keys), and
// find a duplicate exactly when JSON.parse would silently drop one. Random texts, seeded.
import { describe, expect, it } from 'vitest';
import { MAX_NESTING, scanJson } from '../../src/aws/json-scan.js';

/** A small deterministic generator (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ATOMS = ['{', '}', '[', ']', ',', ':', '"a"', '"b"', '"\\u0061"', '"\\""', '"\\\\"', '"\\x"', '1', '-0', '01', '1.5e+3', '1.', 'true', 'fals', 'null', ' ', '\n', '"', '\\', '"\u0001"', '-'];

describe('scanJson against JSON.parse', () => {
  it('never refuses a text JSON.parse reads, but for a duplicate key', () => {
    const next = random(11);
    let valid = 0;
    for (let n = 0; n < 100_000; n++) {
      let text = '';
      const length = 1 + Math.floor(next() * 12);
      for (let j = 0; j < length; j++) text += ATOMS[Math.floor(next() * ATOMS.length)] ?? '';
      let parses = true;
      try {
        JSON.parse(text);
      } catch {
        parses = false;
      }
      if (!parses) continue;
      valid++;
      const problem = scanJson(text);
      if (problem !== undefined) expect({ text, problem }).toEqual({ text, problem: expect.objectContaining({ kind: 'duplicate' }) as unknown });
    }
    expect(valid).toBeGreaterThan(1_000);
  });

  it('finds a duplicate key exactly when an object has one, escaped or not, at any depth', () => {
    const next = random(7);
    const wrong: string[] = [];
    for (let n = 0; n < 5_000; n++) {
      let duplicated = false;
      const value = (depth: number): string => {
        const r = next();
        if (depth > 3 || r < 0.3) return String(Math.floor(next() * 10));
        if (r < 0.5) return `[${Array.from({ length: Math.floor(next() * 4) }, () => value(depth + 1)).join(',')}]`;
        const seen = new Set<string>();
        const members: string[] = [];
        // Up to 24 keys: past 16 an object's keys are looked up in a Set.
        for (let i = Math.floor(next() * (depth === 0 ? 24 : 6)); i > 0; i--) {
          const key = `k${Math.floor(next() * 40)}`;
          if (seen.has(key)) duplicated = true;
          seen.add(key);
          // Sometimes spelt with an escape ("\u006b3" is "k3"): a duplicate all the same.
          const written = next() < 0.2 ? `"\\u006b${key.slice(1)}"` : `"${key}"`;
          members.push(`${written} : ${value(depth + 1)}`);
        }
        return `{${members.join(' ,')}}`;
      };
      const text = value(0);
      JSON.parse(text);
      if ((scanJson(text)?.kind === 'duplicate') !== duplicated) wrong.push(text);
    }
    expect(wrong).toEqual([]);
  });

  it('counts nesting inside strings as text, and nothing past the limit', () => {
    expect(scanJson(`["${'['.repeat(1_000)}"]`)).toBeUndefined();
    expect(scanJson(`${'['.repeat(MAX_NESTING)}${']'.repeat(MAX_NESTING)}`)).toBeUndefined();
    expect(scanJson(`${'['.repeat(MAX_NESTING + 1)}${']'.repeat(MAX_NESTING + 1)}`)).toEqual({ kind: 'too-deep', at: MAX_NESTING });
    expect(scanJson('{"a\\"b":1,"a\\"b":2}')).toEqual({ kind: 'duplicate', key: 'a"b', at: 10 });
    expect(scanJson('{"\\\\":1,"\\\\":2}')).toEqual({ kind: 'duplicate', key: '\\', at: 8 });
    expect(scanJson('{"__proto__":1,"__proto__":2}')).toMatchObject({ kind: 'duplicate', key: '__proto__' });
  });
});
