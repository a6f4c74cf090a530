import { compileGlobs, type Matcher } from './glob.js';
import type { AwsRuleSpec, HostRuleSpec, PolicySetSpec } from './types.js';

/** A rule with its globs compiled once, at load time. */
export interface CompiledAwsRule {
  readonly spec: AwsRuleSpec;
  readonly agent: Matcher;
  readonly action: Matcher;
  readonly resource: Matcher;
}

export interface CompiledHostRule {
  readonly spec: HostRuleSpec;
  readonly host: Matcher;
}

export interface CompiledPolicySet {
  readonly awsRules: readonly CompiledAwsRule[];
  readonly hostRules: readonly CompiledHostRule[];
  readonly files: readonly string[];
}

export function compilePolicySet(spec: PolicySetSpec): CompiledPolicySet {
  const awsRules: CompiledAwsRule[] = [];
  const hostRules: CompiledHostRule[] = [];
  for (const rule of spec.rules) {
    if (rule.kind === 'aws') {
      awsRules.push({
        spec: rule,
        agent: compileGlobs(rule.agents),
        // IAM action names are case-insensitive; ARNs are not.
        action: compileGlobs(rule.actions, { caseInsensitive: true }),
        resource: compileGlobs(rule.resources),
      });
    } else {
      hostRules.push({ spec: rule, host: compileGlobs(rule.hosts, { caseInsensitive: true }) });
    }
  }
  return { awsRules, hostRules, files: spec.files };
}
