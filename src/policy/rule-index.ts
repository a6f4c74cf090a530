import type { CompiledAwsRule } from './compile.js';

/** IAM has about 18,000 actions; every one of them fits, so the cache never thrashes. */
const MAX_CACHED_ACTIONS = 20_000;

/**
 * Finds the rules whose action patterns match an action without scanning the whole set:
 * rules are indexed by exact action name, by service prefix when only the action name has
 * wildcards (`s3:Get*`), and kept in a global list when the service part has wildcards
 * (`*:List*`). The candidates for an action are the merge of the three, in policy order,
 * filtered by the rules' action globs, and cached per action (agents ask for a few hundred
 * distinct actions, so the cache holds them all and a decision tests only rules that match
 * the action).
 */
export class RuleIndex {
  private readonly exact = new Map<string, CompiledAwsRule[]>();
  private readonly byService = new Map<string, CompiledAwsRule[]>();
  private readonly global: CompiledAwsRule[] = [];
  private readonly cache = new Map<string, readonly CompiledAwsRule[]>();

  constructor(rules: readonly CompiledAwsRule[]) {
    for (const rule of rules) {
      const buckets = new Set<CompiledAwsRule[]>();
      for (const pattern of rule.spec.actions) buckets.add(this.bucketFor(pattern.toLowerCase()));
      for (const bucket of buckets) bucket.push(rule);
    }
  }

  /** Rules whose action patterns may match `action`, in policy order. */
  candidates(action: string): readonly CompiledAwsRule[] {
    const key = action.toLowerCase();
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const service = key.slice(0, key.indexOf(':'));
    const merged = mergeInOrder([this.exact.get(key) ?? [], this.byService.get(service) ?? [], this.global]).filter((rule) => rule.matchesAction(action));
    if (this.cache.size >= MAX_CACHED_ACTIONS) this.cache.delete(this.cache.keys().next().value ?? '');
    this.cache.set(key, merged);
    return merged;
  }

  private bucketFor(pattern: string): CompiledAwsRule[] {
    const colon = pattern.indexOf(':');
    const service = colon === -1 ? pattern : pattern.slice(0, colon);
    if (colon === -1 || /[*?]/.test(service)) return this.global;
    const target = /[*?]/.test(pattern) ? this.byService : this.exact;
    const key = /[*?]/.test(pattern) ? service : pattern;
    let bucket = target.get(key);
    if (bucket === undefined) {
      bucket = [];
      target.set(key, bucket);
    }
    return bucket;
  }
}

function mergeInOrder(lists: ReadonlyArray<readonly CompiledAwsRule[]>): CompiledAwsRule[] {
  const seen = new Set<CompiledAwsRule>();
  const merged: CompiledAwsRule[] = [];
  for (const list of lists) {
    for (const rule of list) {
      if (seen.has(rule)) continue;
      seen.add(rule);
      merged.push(rule);
    }
  }
  return merged.sort((a, b) => a.order - b.order);
}
