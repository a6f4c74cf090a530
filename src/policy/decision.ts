/**
 * Decision definitions: what the evaluator (evaluate.ts) answers and what it is asked, as plain
 * data the audit log, the approval binding and `policy explain` share.
 */
import type { ActionOnResource } from '../aws/classify/index.js';
import type { ApprovalSpec, CredentialsSpec, Effect } from './types.js';

/** Stable reason codes: written to the audit log, shown to the agent and by `policy explain`. */
export type ReasonCode = 'RULE_ALLOWED' | 'RULE_NEEDS_APPROVAL' | 'RULE_DENIED' | 'NO_RULE_MATCHED' | 'ROLES_DIFFER' | 'CALLER_IDENTITY_DEFAULT';

export interface Reason {
  readonly code: ReasonCode;
  readonly action: string;
  readonly resource: string;
  readonly rule?: string;
}

/** One (action, resource) the minted credentials will allow, with the account filled in. */
export interface Grant {
  readonly action: string;
  readonly resource: string;
  /** The resource is a pattern and goes into the session policy as one (its `*`/`?` not escaped). */
  readonly pattern?: true;
}

/** What must be approved before a held request may go, per approve rule that matched. */
export interface ApprovalRequirement {
  readonly rule: string;
  readonly spec: ApprovalSpec;
  /** The rule's description, written for reviewers. */
  readonly description?: string;
}

export interface Decision {
  readonly effect: Effect;
  /** Rules that decided, in order (one per distinct rule). Empty when no rule matched. */
  readonly rules: readonly string[];
  readonly reasons: readonly Reason[];
  readonly grants: readonly Grant[];
  readonly credentials?: CredentialsSpec;
  readonly approvals: readonly ApprovalRequirement[];
}

/** What is known about a request apart from its (action, resource) pairs. */
export interface RequestFacts {
  readonly agent: string;
  readonly service: string;
  readonly region: string;
  readonly needs: readonly ActionOnResource[];
  readonly parameters?: Readonly<Record<string, string>>;
  readonly sourceIp?: string | undefined;
  readonly requestBytes?: number | undefined;
  readonly at?: Date;
}
