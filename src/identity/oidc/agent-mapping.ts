import { CountersignError } from '../../errors.js';
import { compileGlob } from '../../policy/glob.js';
import type { WorkloadIdentitySpec } from '../../policy/types.js';
import type { WorkloadClaims } from './verify.js';

/** The Directory entry a verified token matched, and so the agent it is. */
export interface MappedWorkload {
  readonly agent: string;
  readonly identity: WorkloadIdentitySpec;
}

/**
 * First `identities:` entry whose issuer is the token's and whose every claim glob matches a
 * string claim of the token. A claim that is missing or not a string never matches: a pattern
 * must not match by the absence of what it names.
 */
export function agentForClaims(claims: WorkloadClaims, identities: readonly WorkloadIdentitySpec[]): MappedWorkload {
  for (const identity of identities) {
    if (identity.issuer !== claims.issuer) continue;
    const matches = Object.entries(identity.claims).every(([name, pattern]) => {
      const value = claims.claims[name];
      return typeof value === 'string' && compileGlob(pattern)(value);
    });
    if (matches) return { agent: identity.agent, identity };
  }
  throw new CountersignError('WorkloadNotMapped', `No Directory identity maps the workload ${JSON.stringify(claims.subject.slice(0, 200))} of ${claims.issuer} to an agent.`);
}
