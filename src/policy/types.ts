/**
 * Policy definitions: plain data that can be validated, diffed and serialised. The compiled,
 * matchable form lives in compile.ts; nothing here touches the request path.
 */

export const POLICY_API_VERSION = 'countersign.dev/v1alpha1';
/** Document kinds a policy file may hold. */
export const POLICY_KIND = 'Policy';
export const DIRECTORY_KIND = 'Directory';
export const POLICY_TEST_KIND = 'PolicyTest';

/** Deny beats approve beats allow. */
export type Effect = 'allow' | 'deny' | 'approve';

/** Where something was written, for error messages, `explain` and audit records. */
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
  /** IAM condition block added to every statement of the session policy. */
  readonly sessionPolicyConditions?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
  /** STS session tags (CloudTrail shows them; role trust policies may require them). */
  readonly sessionTags?: Readonly<Record<string, string>>;
}

/** Who may approve a request a rule holds, and for how long it waits (issue: approvals). */
export interface ApprovalSpec {
  /** Reviewer ids, each eligible to approve. */
  readonly reviewers: readonly string[];
  /** Reviewer groups whose members are eligible. */
  readonly groups: readonly string[];
  /** Distinct reviewers who must approve; one deny denies. */
  readonly quorum: number;
  readonly pendingTimeoutSeconds: number;
  readonly holdTimeoutSeconds: number;
  /** How many requests one approval may serve. */
  readonly maxUses: number;
  /** The longest a reviewer may approve the same binding for (approve for a while); absent: never. */
  readonly maxWindowSeconds?: number;
}

/** A time window in a named IANA time zone: days of the week and an hour range. */
export interface TimeWindowSpec {
  readonly zone: string;
  /** 0 = Sunday .. 6 = Saturday. */
  readonly days: readonly number[];
  /** Minutes after midnight, start inclusive, end exclusive; end may be 1440. */
  readonly fromMinute: number;
  readonly toMinute: number;
}

export interface ConditionsSpec {
  /** The request must fall inside one of these windows. */
  readonly during?: readonly TimeWindowSpec[];
  /** The request must fall outside every one of these windows. */
  readonly outside?: readonly TimeWindowSpec[];
  /** The agent's source address must be in one of these CIDRs. */
  readonly sourceIps?: readonly string[];
  /** Each named request parameter must be present and match one of its globs. */
  readonly parameters?: Readonly<Record<string, readonly string[]>>;
  /** The request body (Content-Length) must be at most this many bytes. */
  readonly maxRequestBytes?: number;
}

/** A rule about AWS API calls made by agents. */
export interface AwsRuleSpec {
  readonly kind: 'aws';
  readonly name: string;
  readonly description?: string;
  readonly effect: Effect;
  /** Agent names, globs, or `group:NAME`. */
  readonly agents: readonly string[];
  readonly services?: readonly string[];
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  readonly regions?: readonly string[];
  readonly accounts?: readonly string[];
  readonly conditions?: ConditionsSpec;
  readonly credentials?: CredentialsSpec;
  readonly approval?: ApprovalSpec;
  readonly source: SourceLocation;
}

/** A rule about hosts that are not AWS: CONNECT tunnels, and plain-HTTP requests by method and path. */
export interface HostRuleSpec {
  readonly kind: 'host';
  readonly name: string;
  readonly description?: string;
  readonly effect: 'allow' | 'deny';
  readonly hosts: readonly string[];
  readonly ports: readonly number[];
  /** With methods or paths, countersign intercepts the host's TLS and decides per request. */
  readonly methods?: readonly string[];
  readonly paths?: readonly string[];
  readonly source: SourceLocation;
}

export type RuleSpec = AwsRuleSpec | HostRuleSpec;

/** An agent countersign knows more about than its name: who owns it, which groups it is in. */
export interface AgentSpec {
  readonly name: string;
  readonly owners: readonly string[];
  readonly groups: readonly string[];
  readonly source: SourceLocation;
}

/** A person who may review held requests, and how to reach them. */
export interface ReviewerSpec {
  readonly id: string;
  readonly displayName: string;
  readonly groups: readonly string[];
  readonly email?: string;
  readonly slackUserId?: string;
  readonly teamsUserId?: string;
  readonly source: SourceLocation;
}

export interface GroupSpec {
  readonly name: string;
  readonly description?: string;
  readonly source: SourceLocation;
}

/** A workload identity that is an agent: a token from `issuer` whose claims match every glob (first match wins). */
export interface WorkloadIdentitySpec {
  readonly issuer: string;
  readonly claims: Readonly<Record<string, string>>;
  readonly agent: string;
  readonly source: SourceLocation;
}

export interface DirectorySpec {
  readonly agents: readonly AgentSpec[];
  readonly reviewers: readonly ReviewerSpec[];
  readonly groups: readonly GroupSpec[];
  /** Which workload tokens are which agent (`identities:`), in declaration order. */
  readonly identities?: readonly WorkloadIdentitySpec[];
}

export interface PolicySetSpec {
  readonly rules: readonly RuleSpec[];
  readonly directory: DirectorySpec;
  readonly files: readonly string[];
  /** SHA-256 over the files' names and contents, for audit records and `/readyz`. */
  readonly hash: string;
}
