import { accountOf } from '../aws/arn.js';
import { agentCriterion, globCriterion, resourceCriterion } from './criteria/patterns.js';
import { parametersCriterion } from './criteria/parameters.js';
import { requestSizeCriterion } from './criteria/request-size.js';
import { sourceIpCriterion } from './criteria/source-ip.js';
import { duringCriterion, outsideCriterion } from './criteria/time-window.js';
import type { Criterion } from './criteria/types.js';
import { compileGlobs, type Matcher } from './glob.js';
import { RuleIndex } from './rule-index.js';
import type { AwsRuleSpec, DirectorySpec, HostRuleSpec, PolicySetSpec } from './types.js';

/** A rule with its criteria compiled once, at load time, cheapest first. */
export interface CompiledAwsRule {
  readonly spec: AwsRuleSpec;
  /** Position in the policy set; candidates are evaluated in this order. */
  readonly order: number;
  /** The account of the rule's role: resources named without an account live there. */
  readonly roleAccount: string | undefined;
  readonly criteria: readonly Criterion[];
  /** The action criterion alone, for the rule index. */
  readonly matchesAction: Matcher;
}

export interface CompiledHostRule {
  readonly spec: HostRuleSpec;
  readonly host: Matcher;
  /** Undefined when the rule does not look inside requests (a plain tunnel rule). */
  readonly request?: (method: string, path: string) => boolean;
}

export interface CompiledPolicySet {
  readonly awsRules: readonly CompiledAwsRule[];
  readonly hostRules: readonly CompiledHostRule[];
  readonly index: RuleIndex<CompiledAwsRule>;
  readonly directory: DirectorySpec;
  /** Declared groups of each declared agent. */
  readonly agentGroups: ReadonlyMap<string, ReadonlySet<string>>;
  readonly files: readonly string[];
  readonly hash: string;
}

function compileAwsRule(spec: AwsRuleSpec, order: number): CompiledAwsRule {
  const criteria: Criterion[] = [agentCriterion(spec.agents)];
  if (spec.services !== undefined) criteria.push(globCriterion('SERVICE_MISMATCH', spec.services, (f) => f.service));
  // IAM action names are case-insensitive; ARNs are not.
  criteria.push(globCriterion('ACTION_MISMATCH', spec.actions, (f) => f.action, true));
  if (spec.regions !== undefined) criteria.push(globCriterion('REGION_MISMATCH', spec.regions, (f) => f.region));
  if (spec.accounts !== undefined) criteria.push(globCriterion('ACCOUNT_MISMATCH', spec.accounts, (f) => f.account));
  criteria.push(resourceCriterion(spec.resources, spec.effect));
  const conditions = spec.conditions;
  if (conditions?.sourceIps !== undefined) criteria.push(sourceIpCriterion(conditions.sourceIps));
  if (conditions?.maxRequestBytes !== undefined) criteria.push(requestSizeCriterion(conditions.maxRequestBytes));
  if (conditions?.parameters !== undefined) criteria.push(parametersCriterion(conditions.parameters));
  if (conditions?.during !== undefined) criteria.push(duringCriterion(conditions.during));
  if (conditions?.outside !== undefined) criteria.push(outsideCriterion(conditions.outside));
  const matchesAction = compileGlobs(spec.actions, { caseInsensitive: true });
  return { spec, order, roleAccount: accountOf(spec.credentials?.roleArn ?? ''), criteria, matchesAction };
}

function compileHostRule(spec: HostRuleSpec): CompiledHostRule {
  const host = compileGlobs(spec.hosts, { caseInsensitive: true });
  if (spec.methods === undefined && spec.paths === undefined) return { spec, host };
  const methods = spec.methods === undefined ? undefined : new Set(spec.methods);
  const path = spec.paths === undefined ? undefined : compileGlobs(spec.paths);
  return { spec, host, request: (method, rawPath) => (methods === undefined || methods.has(method)) && (path === undefined || path(rawPath)) };
}

export function compilePolicySet(spec: PolicySetSpec): CompiledPolicySet {
  const awsRules: CompiledAwsRule[] = [];
  const hostRules: CompiledHostRule[] = [];
  for (const rule of spec.rules) {
    if (rule.kind === 'aws') awsRules.push(compileAwsRule(rule, awsRules.length));
    else hostRules.push(compileHostRule(rule));
  }
  const agentGroups = new Map(spec.directory.agents.map((a) => [a.name, new Set(a.groups)] as const));
  return { awsRules, hostRules, index: new RuleIndex(awsRules), directory: spec.directory, agentGroups, files: spec.files, hash: spec.hash };
}
