/**
 * Policy definitions: plain data that can be validated, diffed and serialised. The compiled,
 * matchable form lives in compile.ts; nothing here touches the request path.
 */

export const POLICY_API_VERSION = 'countersign.dev/v1alpha1';
export const POLICY_KIND = 'Policy';

export type Effect = 'allow' | 'deny';

/** Where a rule was written, for error messages, `explain` and audit records. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export interface CredentialsSpec {
  /** The role countersign assumes to run an allowed call. */
  readonly roleArn: string;
  /** STS session duration in seconds (900..43200). */
  readonly sessionDurationSeconds: number;
}

/** A rule about AWS API calls made by agents. */
export interface AwsRuleSpec {
  readonly kind: 'aws';
  readonly name: string;
  readonly description?: string;
  readonly effect: Effect;
  readonly agents: readonly string[];
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  readonly credentials?: CredentialsSpec;
  readonly source: SourceLocation;
}

/** A rule about CONNECT tunnels to hosts that are not AWS (decided before any agent is known). */
export interface HostRuleSpec {
  readonly kind: 'host';
  readonly name: string;
  readonly description?: string;
  readonly effect: Effect;
  readonly hosts: readonly string[];
  readonly ports: readonly number[];
  readonly source: SourceLocation;
}

export type RuleSpec = AwsRuleSpec | HostRuleSpec;

export interface PolicySetSpec {
  readonly rules: readonly RuleSpec[];
  readonly files: readonly string[];
}
