import { isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml';
import type { SourceLocation } from '../types.js';

/** One problem in a policy file, with where it is. */
export interface Issue extends SourceLocation {
  readonly message: string;
}

/** A name a document refers to (a group, a reviewer) that must be declared somewhere in the set. */
export interface Reference {
  readonly kind: 'group' | 'reviewer';
  readonly name: string;
  readonly at: SourceLocation;
}

export type At = (offset: number) => SourceLocation;

/**
 * Checks YAML syntax-tree nodes against the schema and records issues with line and column.
 * Every accessor returns undefined (and records why) when the value is wrong.
 */
export class Checker {
  readonly references: Reference[] = [];

  constructor(
    private readonly at: At,
    private readonly issues: Issue[],
  ) {}

  get issueCount(): number {
    return this.issues.length;
  }

  where(node: Node | Pair | null | undefined): SourceLocation {
    const range = node && 'range' in node ? node.range : node && 'key' in node && isScalar(node.key) ? node.key.range : undefined;
    return this.at(range?.[0] ?? 0);
  }

  fail(node: unknown, message: string): undefined {
    this.issues.push({ ...this.where(node as Node), message });
    return undefined;
  }

  refer(kind: Reference['kind'], name: string, node: unknown): void {
    this.references.push({ kind, name, at: this.where(node as Node) });
  }

  /** A mapping whose keys are all in `keys` (unknown keys are errors: a typo must not widen a rule). */
  map(node: unknown, what: string, keys: readonly string[]): YAMLMap | undefined {
    if (!isMap(node)) return this.fail(node, `found ${describe(node)}, expected ${what} (a mapping)`);
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined || !keys.includes(key)) {
        this.fail(pair.key, `found unknown key "${key ?? '?'}" in ${what}, expected one of: ${keys.join(', ')}`);
      }
    }
    return node;
  }

  string(map: YAMLMap, key: string, what: string, pattern?: RegExp, expected?: string): string | undefined {
    const node = map.get(key, true);
    if (node === undefined) return undefined;
    if (!isScalar(node) || typeof node.value !== 'string' || node.value === '') {
      return this.fail(node, `found ${describe(node)} for ${what}.${key}, expected a non-empty string`);
    }
    if (pattern !== undefined && !pattern.test(node.value)) {
      return this.fail(node, `found "${node.value}" for ${what}.${key}, expected ${expected ?? pattern.source}`);
    }
    return node.value;
  }

  integer(map: YAMLMap, key: string, what: string, min: number, max: number): number | undefined {
    const node = map.get(key, true);
    if (node === undefined) return undefined;
    if (!isScalar(node) || !Number.isInteger(node.value) || (node.value as number) < min || (node.value as number) > max) {
      return this.fail(node, `found ${describe(node)} for ${what}.${key}, expected a whole number from ${min} to ${max}`);
    }
    return node.value as number;
  }

  /** A duration as seconds: a whole number, or "90s", "15m", "2h". */
  duration(map: YAMLMap, key: string, what: string, minSeconds: number, maxSeconds: number): number | undefined {
    const node = map.get(key, true);
    if (node === undefined) return undefined;
    const value = isScalar(node) ? node.value : undefined;
    let seconds: number | undefined;
    if (typeof value === 'number' && Number.isInteger(value)) seconds = value;
    const match = typeof value === 'string' ? /^(\d+)(s|m|h)$/.exec(value) : null;
    if (match) seconds = Number(match[1]) * (match[2] === 'h' ? 3600 : match[2] === 'm' ? 60 : 1);
    if (seconds === undefined || seconds < minSeconds || seconds > maxSeconds) {
      return this.fail(node, `found ${describe(node)} for ${what}.${key}, expected a duration from ${minSeconds}s to ${maxSeconds}s (like "90s", "15m", "2h")`);
    }
    return seconds;
  }

  required<T>(map: YAMLMap, key: string, what: string, value: T | undefined): T | undefined {
    if (value === undefined && !map.has(key)) this.fail(map, `${what} has no "${key}", expected one`);
    return value;
  }

  list<T>(map: YAMLMap, key: string, what: string, item: (node: Node) => T | undefined): T[] | undefined {
    const node = map.get(key, true);
    if (node === undefined) return undefined;
    if (!isSeq(node) || node.items.length === 0) return this.fail(node, `found ${describe(node)} for ${what}.${key}, expected a non-empty list`);
    const values: T[] = [];
    for (const element of node.items) {
      const value = item(element as Node);
      if (value !== undefined) values.push(value);
    }
    return values.length === node.items.length ? values : undefined;
  }

  stringItem(what: string, pattern: RegExp, expected: string) {
    return (node: Node): string | undefined => {
      if (!isScalar(node) || typeof node.value !== 'string' || !pattern.test(node.value)) {
        return this.fail(node, `found ${describe(node)} in ${what}, expected ${expected}`);
      }
      return node.value;
    };
  }
}

export function describe(node: unknown): string {
  if (node === undefined || node === null) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return typeof node.value === 'string' ? `"${node.value.slice(0, 80)}"` : `${typeof node.value} ${String(node.value)}`;
  return 'an unexpected value';
}
