import { literalRuns } from './glob.js';
import { fileUnder, PrefixSet } from './prefix-set.js';

/** The fields an ARN has before its resource part: `arn:partition:service:region:account:`. */
const HEADER_COLONS = 5;

/** What the resource index reads of a rule. */
export interface ResourceRule {
  readonly spec: { readonly resources: readonly string[] };
}

/** Where an ARN's resource part starts (after `arn:partition:service:region:account:`), or -1 when `text` stops before it. */
function resourcePartAt(text: string): number {
  let at = -1;
  for (let n = 0; n < HEADER_COLONS; n++) {
    at = text.indexOf(':', at + 1);
    if (at === -1) return -1;
  }
  return at + 1;
}

/** `:` and `/`, where the fields and paths of an ARN start. */
const isSeparator = (code: number) => code === 0x3a || code === 0x2f;

/**
 * The keys a resource pattern is filed under. `prefix` is its literal text before the first
 * wildcard: every ARN it matches starts with it, and so does every pattern it covers. When that
 * prefix holds nothing of the resource part (`arn:aws:dynamodb:*:*:table/orders`, or an S3
 * guardrail on every bucket's `private/` folder), it says little beyond the service, so the
 * pattern is filed instead by the literal text after a `:` or `/` of a later literal run
 * (`table/orders`, `private/`): every ARN it matches holds that text right after one of its
 * separators, wherever the wildcards before it end.
 */
export function resourceKeys(pattern: string): { readonly prefix: string; readonly afterSeparator?: string } {
  const runs = literalRuns(pattern);
  const prefix = runs[0] ?? '';
  const resourcePart = resourcePartAt(prefix);
  if (resourcePart !== -1 && resourcePart < prefix.length) return { prefix };
  let afterSeparator = '';
  for (let i = 1; i < runs.length; i++) {
    const run = runs[i] ?? '';
    const separator = run.search(/[:/]/);
    if (separator !== -1 && run.length - separator - 1 > afterSeparator.length) afterSeparator = run.slice(separator + 1);
  }
  return afterSeparator === '' ? { prefix } : { prefix, afterSeparator };
}

/**
 * Rules by their resource patterns. `matching` finds every rule with a pattern that may match an
 * ARN, or cover a resource pattern (an allow rule's literal parts must meet literal parts of the
 * pattern it covers, so the same keys apply); `overlapping` every rule with a pattern that may
 * share an ARN with a resource pattern (a deny rule on `key/abc` overlaps a request for `key/*`,
 * though `key/abc` is no prefix of it). Both answer supersets; the rules' own criteria decide.
 */
export class ResourceIndex<R extends ResourceRule> {
  private readonly anchored: PrefixSet<R>;
  private readonly afterSeparator: PrefixSet<R>;
  private byPrefix: PrefixSet<R> | undefined;

  constructor(private readonly rules: readonly R[]) {
    const anchored = new Map<string, R[]>();
    const afterSeparator = new Map<string, R[]>();
    for (const rule of rules) {
      for (const pattern of rule.spec.resources) {
        const keys = resourceKeys(pattern);
        if (keys.afterSeparator === undefined) fileUnder(anchored, keys.prefix, rule);
        else fileUnder(afterSeparator, keys.afterSeparator, rule);
      }
    }
    this.anchored = new PrefixSet(anchored);
    this.afterSeparator = new PrefixSet(afterSeparator);
  }

  /** Pushes the rules that may match the ARN (or cover the resource pattern) `text`. */
  matching(text: string, out: Array<readonly R[]>): void {
    this.anchored.prefixesOf(text, out);
    if (this.afterSeparator.size === 0) return;
    for (let i = 0; i < text.length; i++) if (isSeparator(text.charCodeAt(i))) this.afterSeparator.prefixesOf(text.slice(i + 1), out);
  }

  /**
   * Pushes the rules that may overlap the resource pattern `text`: a string both match starts
   * with the pattern's literal part and with the rule's prefix, so one of those is a prefix of
   * the other.
   */
  overlapping(text: string, out: Array<readonly R[]>): void {
    const wildcard = text.search(/[*?]/);
    const head = wildcard === -1 ? text : text.slice(0, wildcard);
    this.byPrefix ??= this.everyRuleByPrefix();
    this.byPrefix.prefixesOf(head, out);
    this.byPrefix.extending(head, out);
  }

  private everyRuleByPrefix(): PrefixSet<R> {
    const entries = new Map<string, R[]>();
    for (const rule of this.rules) for (const pattern of rule.spec.resources) fileUnder(entries, resourceKeys(pattern).prefix, rule);
    return new PrefixSet(entries);
  }
}
