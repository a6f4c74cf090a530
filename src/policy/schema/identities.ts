import { isMap, isScalar, isSeq, type YAMLMap } from 'yaml';
import type { SourceLocation, WorkloadIdentitySpec } from '../types.js';
import { describe, type Checker } from './checker.js';

export const IDENTITY_KEYS = ['issuer', 'claims', 'agent'];
const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$/;
/** Top-level claim names (RFC 7519 section 4): letters, digits and the punctuation issuers use. */
const CLAIM_NAME = /^[A-Za-z0-9_.:/-]{1,64}$/;

/**
 * A Directory's `identities:` list: which workload tokens are which agent. Each entry names the
 * issuer exactly (a subject means nothing without its issuer: two issuers may both say
 * `sub: deploy`), claims as globs that must all match, and the agent. First match wins.
 */
export function validateIdentities(check: Checker, doc: YAMLMap, into: WorkloadIdentitySpec[]): void {
  const section = doc.get('identities', true);
  if (section === undefined) return;
  if (!isSeq(section)) {
    check.fail(section, `found ${describe(section)} for identities, expected a list of {issuer, claims, agent}`);
    return;
  }
  for (const [i, node] of section.items.entries()) {
    const what = `identities[${i}]`;
    const entry = check.map(node, what, IDENTITY_KEYS);
    if (entry === undefined) continue;
    const issuer = check.required(entry, 'issuer', what, check.string(entry, 'issuer', what, /^https?:\/\/\S+$/, 'the issuer URL, exactly as the token\'s iss'));
    const agent = check.required(entry, 'agent', what, check.string(entry, 'agent', what, AGENT_NAME, 'an agent name'));
    const claims = check.required(entry, 'claims', what, claimPatterns(check, entry.get('claims', true), what));
    if (issuer === undefined || agent === undefined || claims === undefined) continue;
    into.push({ issuer, claims, agent, source: check.where(node as YAMLMap) });
  }
}

function claimPatterns(check: Checker, node: unknown, what: string): Readonly<Record<string, string>> | undefined {
  if (node === undefined) return undefined;
  if (!isMap(node) || node.items.length === 0) return check.fail(node, `found ${describe(node)} for ${what}.claims, expected a mapping of claim name to pattern, e.g. sub: "system:serviceaccount:agents:report-bot"`);
  const claims: Record<string, string> = {};
  for (const pair of node.items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!CLAIM_NAME.test(name)) return check.fail(pair.key, `found "${name}" as a claim name in ${what}.claims, expected a top-level claim such as sub, repository or namespace`);
    const value = pair.value;
    if (!isScalar(value) || typeof value.value !== 'string' || value.value === '') return check.fail(value, `found ${describe(value)} for ${what}.claims.${name}, expected a non-empty string pattern`);
    // A lone "*" would make the entry match any subject of the issuer: say so rather than accept it silently.
    if (name === 'sub' && value.value.replace(/\*/g, '') === '') return check.fail(value, `found "${value.value}" for ${what}.claims.sub, expected a pattern that names something (every subject of the issuer would be this agent)`);
    claims[name] = value.value;
  }
  return claims;
}

/** Every identity must map to an agent the Directory declares (its owners and groups then apply). */
export function checkIdentities(identities: readonly WorkloadIdentitySpec[], agents: ReadonlySet<string>): Array<SourceLocation & { message: string }> {
  const declared = [...agents].sort().join(', ') || 'none';
  return identities
    .filter((identity) => !agents.has(identity.agent))
    .map((identity) => ({ ...identity.source, message: `found unknown agent "${identity.agent}" in identities, expected an agent declared in a Directory's agents (declared: ${declared})` }));
}
