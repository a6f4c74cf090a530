// The Directory's identities: (workload token → agent) as the loader validates it, policy check
// reports it, and the credential endpoint applies it (first match, issuer-scoped, globs).
import { describe, expect, it } from 'vitest';
import { agentForClaims } from '../../src/identity/oidc/agent-mapping.js';
import { checkPolicySet } from '../../src/policy/check.js';
import { buildPolicySet, PolicyLoadError } from '../../src/policy/load.js';

const K8S = 'https://kubernetes.default.svc.cluster.local';
const GITHUB = 'https://token.actions.githubusercontent.com';

function directory(identities: string): string {
  return `apiVersion: countersign.dev/v1alpha1
kind: Directory
agents:
  report-bot: { owners: [alice] }
  ci-deployer: { owners: [bob], groups: [deployers] }
reviewers:
  alice: { name: Alice }
  bob: { name: Bob }
groups:
  deployers:
identities:
${identities}`;
}

function issuesOf(text: string): string[] {
  try {
    buildPolicySet([{ path: 'directory.yaml', text }]);
    return [];
  } catch (error) {
    if (error instanceof PolicyLoadError) return error.issues.map((i) => `${i.line}: ${i.message}`);
    throw error;
  }
}

const claims = (issuer: string, subject: string, extra: Record<string, unknown> = {}) => ({ issuer, subject, expiresAt: 0, claims: { iss: issuer, sub: subject, ...extra } });

describe('Directory identities', () => {
  const set = buildPolicySet([
    {
      path: 'directory.yaml',
      text: directory(`  - issuer: ${K8S}
    claims: { sub: "system:serviceaccount:agents:report-bot" }
    agent: report-bot
  - issuer: ${GITHUB}
    claims: { repository: "acme/deploy", ref: "refs/heads/main" }
    agent: ci-deployer
  - issuer: ${K8S}
    claims: { sub: "system:serviceaccount:ci:*" }
    agent: ci-deployer
  - issuer: ${K8S}
    claims: { sub: "system:serviceaccount:ci:*" }
    agent: report-bot
`),
    },
  ]);
  const identities = set.directory.identities ?? [];

  it('loads in order with their source lines', () => {
    expect(identities.map((i) => [i.agent, i.source.line])).toEqual([['report-bot', 12], ['ci-deployer', 15], ['ci-deployer', 18], ['report-bot', 21]]);
  });

  it('maps by exact issuer and every claim glob; the first match wins', () => {
    expect(agentForClaims(claims(K8S, 'system:serviceaccount:agents:report-bot'), identities).agent).toBe('report-bot');
    expect(agentForClaims(claims(K8S, 'system:serviceaccount:ci:builder'), identities).agent).toBe('ci-deployer');
    expect(agentForClaims(claims(GITHUB, 'repo:acme/deploy:ref:refs/heads/main', { repository: 'acme/deploy', ref: 'refs/heads/main' }), identities).agent).toBe('ci-deployer');
  });

  it('refuses a workload no entry maps: another issuer, a claim that differs, a claim that is missing or not a string', () => {
    for (const c of [
      claims(GITHUB, 'system:serviceaccount:agents:report-bot'),
      claims(GITHUB, 'repo:acme/deploy:ref:refs/heads/dev', { repository: 'acme/deploy', ref: 'refs/heads/dev' }),
      claims(GITHUB, 'repo:acme/deploy', { repository: 'acme/deploy' }),
      claims(GITHUB, 'repo:acme/deploy', { repository: 'acme/deploy', ref: ['refs/heads/main'] }),
      claims(`${K8S}/`, 'system:serviceaccount:agents:report-bot'),
    ]) {
      expect(() => agentForClaims(c, identities)).toThrow(expect.objectContaining({ code: 'WorkloadNotMapped' }));
    }
  });

  it('policy check warns about an identity an earlier one always wins over', async () => {
    const warnings = (await checkPolicySet(set)).filter((w) => w.code === 'SHADOWED_IDENTITY');
    expect(warnings.map((w) => [w.line, w.message])).toEqual([[21, 'the identity for agent "report-bot" never applies: the one for "ci-deployer" at line 18 matches every token it does, and the first match wins']]);
  });

  it('refuses an identity of an undeclared agent, with its line', () => {
    expect(issuesOf(directory(`  - issuer: ${K8S}\n    claims: { sub: "x" }\n    agent: ghost\n`))).toEqual([expect.stringMatching(/^12: found unknown agent "ghost" in identities, expected an agent declared/)]);
  });

  it('refuses entries without an issuer, without claims, with unknown keys, or matching every subject', () => {
    expect(issuesOf(directory(`  - claims: { sub: "x" }\n    agent: report-bot\n`))).toEqual([expect.stringContaining('has no "issuer"')]);
    expect(issuesOf(directory(`  - issuer: ${K8S}\n    agent: report-bot\n`))).toEqual([expect.stringContaining('has no "claims"')]);
    expect(issuesOf(directory(`  - issuer: ${K8S}\n    claims: { sub: "x" }\n    agent: report-bot\n    subject: y\n`))).toEqual([expect.stringContaining('unknown key "subject"')]);
    expect(issuesOf(directory(`  - issuer: ${K8S}\n    claims: { sub: "**" }\n    agent: report-bot\n`))).toEqual([expect.stringContaining('every subject of the issuer')]);
    expect(issuesOf(directory(`  - issuer: ${K8S}\n    claims: { sub: 3 }\n    agent: report-bot\n`))).toEqual([expect.stringContaining('expected a non-empty string pattern')]);
  });
});
