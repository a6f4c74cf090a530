import type { ResourceRef } from '../../aws/arn.js';

/** Everything a rule can be matched on, for one (action, resource) pair of a request. */
export interface PairFacts {
  readonly agent: string;
  readonly agentGroups: ReadonlySet<string>;
  readonly service: string;
  readonly region: string;
  readonly action: string;
  /** The resource with its account filled in for the rule being tested. */
  readonly resource: string;
  /** The resource is a pattern (`instance/*`): rules are tested for covering or overlapping it, not matching it. */
  readonly resourceIsPattern: boolean;
  /** The account the call runs in (from the resource ARN, else the rule's role). */
  readonly account: string;
  readonly parameters: Readonly<Record<string, string>>;
  readonly sourceIp: string | undefined;
  /** Body size from Content-Length; undefined when the body is streamed without one. */
  readonly requestBytes: number | undefined;
  readonly at: Date;
}

/** Stable codes for why a rule did not match; `policy explain` prints them. */
export type MismatchCode =
  | 'AGENT_MISMATCH'
  | 'SERVICE_MISMATCH'
  | 'ACTION_MISMATCH'
  | 'REGION_MISMATCH'
  | 'ACCOUNT_MISMATCH'
  | 'RESOURCE_MISMATCH'
  | 'OUTSIDE_TIME_WINDOW'
  | 'INSIDE_EXCLUDED_TIME'
  | 'SOURCE_IP_MISMATCH'
  | 'PARAMETER_MISMATCH'
  | 'REQUEST_TOO_LARGE';

/** One compiled criterion of a rule. Each lives in a file of its own under criteria/. */
export interface Criterion {
  readonly code: MismatchCode;
  matches(facts: PairFacts): boolean;
}

export type { ResourceRef };
