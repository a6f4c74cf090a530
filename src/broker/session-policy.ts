import { literalPolicyResource } from '../aws/arn.js';
import type { Grant } from '../policy/evaluate.js';
import type { CredentialsSpec } from '../policy/types.js';

/**
 * The inline session policy passed to AssumeRole: one statement per decided (action,
 * resource) pair. Pairs are never merged into one statement, because [A1, A2] x [R1, R2]
 * would also grant A1 on R2. Literal `*`, `?`, `$` in resources are escaped so a key that
 * contains them cannot widen the grant; a pattern resource (`key/*` for a KMS alias) keeps its
 * wildcards, which the deciding rule was checked to cover.
 */
export function sessionPolicy(grants: readonly Grant[], conditions?: CredentialsSpec['sessionPolicyConditions']): string {
  const seen = new Set<string>();
  const statements: object[] = [];
  for (const grant of grants) {
    const key = `${grant.action}\n${grant.resource}`;
    if (seen.has(key)) continue;
    seen.add(key);
    // A rule's extra conditions (credentials.sessionPolicyConditions) narrow every statement.
    statements.push({ Effect: 'Allow', Action: grant.action, Resource: grant.pattern === true ? grant.resource : literalPolicyResource(grant.resource), ...(conditions !== undefined && { Condition: conditions }) });
  }
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}
