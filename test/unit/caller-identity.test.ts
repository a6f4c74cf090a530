// sts:GetCallerIdentity that no rule decides (src/policy/caller-identity.ts): allowed under the one
// role the agent's rules name, with a session policy of that action alone; never on a guess.
import { describe, expect, it } from 'vitest';
import { ANY_RESOURCE } from '../../src/aws/arn.js';
import { sessionPolicy } from '../../src/broker/session-policy.js';
import { CALLER_IDENTITY_RULE } from '../../src/policy/caller-identity.js';
import { compilePolicySet, type CompiledPolicySet } from '../../src/policy/compile.js';
import { decide, type Decision } from '../../src/policy/evaluate.js';
import { explain, formatExplanation } from '../../src/policy/explain.js';
import { buildPolicySet } from '../../src/policy/load.js';

const READ = 'arn:aws:iam::111111111111:role/read';
const WRITE = 'arn:aws:iam::111111111111:role/write';

function policy(rules: string, directory = ''): CompiledPolicySet {
  const text = `${directory === '' ? '' : `apiVersion: countersign.dev/v1alpha1\nkind: Directory\n${directory}---\n`}apiVersion: countersign.dev/v1alpha1\nkind: Policy\nrules:\n${rules}`;
  return compilePolicySet(buildPolicySet([{ path: 'test.yaml', text }]));
}

function rule(name: string, effect: string, agents: string[], actions: string[], role?: string, extra = ''): string {
  return `  - name: ${name}\n    effect: ${effect}\n    agents: ${JSON.stringify(agents)}\n    actions: ${JSON.stringify(actions)}\n    resources: ["*"]\n${role === undefined ? '' : `    credentials: { roleArn: "${role}"${extra} }\n`}${effect === 'approve' ? '    approval: { reviewers: [ann] }\n' : ''}`;
}

function whoami(set: CompiledPolicySet, agent: string, action = 'sts:GetCallerIdentity'): Decision {
  return decide(set, { agent, service: 'sts', region: 'us-east-1', needs: [{ action, resource: ANY_RESOURCE }] });
}

describe('sts:GetCallerIdentity by default', () => {
  it('is allowed under the one role the agent\'s rules name, granting that action alone', () => {
    const set = policy(rule('reads', 'allow', ['bot'], ['s3:GetObject'], READ, ', sessionDuration: 30m, sessionTags: { team: data }, sessionPolicyConditions: { IpAddress: { "aws:SourceIp": "10.0.0.0/8" } }'));
    const decision = whoami(set, 'bot');
    expect(decision).toEqual({
      effect: 'allow',
      rules: [CALLER_IDENTITY_RULE],
      reasons: [{ code: 'CALLER_IDENTITY_DEFAULT', action: 'sts:GetCallerIdentity', resource: '*', rule: CALLER_IDENTITY_RULE }],
      grants: [{ action: 'sts:GetCallerIdentity', resource: '*' }],
      credentials: { roleArn: READ, sessionDurationSeconds: 1800, sessionTags: { team: 'data' } },
      approvals: [],
    });
    expect(JSON.parse(sessionPolicy(decision.grants))).toEqual({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' }] });
  });

  it('counts approve rules and rules naming the agent by glob or group; several rules of one role are one role', () => {
    const set = policy(
      rule('held', 'approve', ['group:bots'], ['s3:DeleteObject'], READ) + rule('glob', 'allow', ['b*'], ['s3:GetObject'], READ) + rule('other-agent', 'allow', ['someone-else'], ['s3:*'], WRITE),
      'agents:\n  bot: { groups: [bots] }\nreviewers:\n  ann: {}\ngroups:\n  bots: {}\n',
    );
    expect(whoami(set, 'bot')).toMatchObject({ effect: 'allow', credentials: { roleArn: READ } });
  });

  it('is refused, as no rule matched, when the agent\'s rules name several roles (which one is for a rule to say) or none', () => {
    const set = policy(rule('reads', 'allow', ['bot'], ['s3:GetObject'], READ) + rule('writes', 'allow', ['bot'], ['s3:PutObject'], WRITE) + rule('tunnel-ish', 'deny', ['lonely'], ['s3:*']));
    for (const agent of ['bot', 'lonely', 'stranger']) {
      expect(whoami(set, agent)).toEqual({ effect: 'deny', rules: [], reasons: [{ code: 'NO_RULE_MATCHED', action: 'sts:GetCallerIdentity', resource: '*' }], grants: [], approvals: [] });
    }
  });

  it('never overrides a rule that matches it: a deny stays a deny, an explicit allow keeps its own role', () => {
    const set = policy(rule('reads', 'allow', ['*'], ['s3:GetObject'], READ) + rule('quarantine', 'deny', ['suspect'], ['*']) + rule('whoami', 'allow', ['pinned'], ['sts:GetCallerIdentity'], WRITE));
    expect(whoami(set, 'suspect')).toMatchObject({ effect: 'deny', rules: ['quarantine'], reasons: [{ code: 'RULE_DENIED' }] });
    expect(whoami(set, 'pinned')).toMatchObject({ effect: 'allow', rules: ['whoami'], credentials: { roleArn: WRITE } });
  });

  it('applies to sts:GetCallerIdentity alone: another STS action, or it with another pair, is decided by the rules', () => {
    const set = policy(rule('reads', 'allow', ['bot'], ['s3:GetObject'], READ));
    expect(whoami(set, 'bot', 'sts:GetSessionToken').effect).toBe('deny');
    expect(whoami(set, 'bot', 'STS:getcalleridentity').effect).toBe('allow'); // IAM action names are case-insensitive
    const both = decide(set, { agent: 'bot', service: 'sts', region: 'us-east-1', needs: [{ action: 'sts:GetCallerIdentity', resource: ANY_RESOURCE }, { action: 'sts:AssumeRole', resource: ANY_RESOURCE }] });
    expect(both.effect).toBe('deny');
  });

  it('policy explain shows the built-in decision', () => {
    const set = policy(rule('reads', 'allow', ['bot'], ['s3:GetObject'], READ));
    const lines = formatExplanation(explain(set, { agent: 'bot', service: 'sts', region: 'us-east-1', needs: [{ action: 'sts:GetCallerIdentity', resource: ANY_RESOURCE }] }));
    expect(lines).toContain(`decision: allow by "${CALLER_IDENTITY_RULE}"`);
    expect(lines).toContain(`  CALLER_IDENTITY_DEFAULT sts:GetCallerIdentity on * (rule "${CALLER_IDENTITY_RULE}")`);
  });
});
