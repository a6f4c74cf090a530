// approval.maxWindow (approve for a while) in the policy schema: a duration in whole minutes,
// 1m..24h, absent by default; anything else is refused at load with its line and column.
import { describe, expect, it } from 'vitest';
import { parsePolicyText } from '../../src/policy/load.js';
import type { AwsRuleSpec } from '../../src/policy/types.js';

const rule = (approval: string) => `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: cleanup
    effect: approve
    agents: ["bot"]
    actions: ["dynamodb:DeleteTable"]
    resources: ["*"]
    approval: { reviewers: [ann], ${approval} }
    credentials: { roleArn: "arn:aws:iam::123456789012:role/r" }
`;

function load(approval: string) {
  const { rules, issues } = parsePolicyText(rule(approval), 'p.yaml');
  return { approval: (rules[0] as AwsRuleSpec | undefined)?.approval, issues: issues.map((i) => `${i.line}:${i.column}: ${i.message}`) };
}

describe('approval.maxWindow', () => {
  it('is absent by default: approvals are for the request only', () => {
    const { approval, issues } = load('quorum: 1');
    expect(issues.filter((i) => !i.includes('reviewer'))).toEqual([]);
    expect(approval).not.toHaveProperty('maxWindowSeconds');
  });

  it('takes whole minutes from 1m to 24h', () => {
    expect(load('maxWindow: 30m').approval?.maxWindowSeconds).toBe(1800);
    expect(load('maxWindow: 24h').approval?.maxWindowSeconds).toBe(86_400);
    expect(load('maxWindow: 60').approval?.maxWindowSeconds).toBe(60);
  });

  it('refuses a window under a minute, over a day, or not in whole minutes, naming where', () => {
    for (const bad of ['maxWindow: 30s', 'maxWindow: 25h', 'maxWindow: 90s', 'maxWindow: soon']) {
      const { issues } = load(bad);
      expect(issues.some((i) => /^9:\d+: .*maxWindow/.test(i)), `${bad}: ${issues.join('; ')}`).toBe(true);
    }
  });
});
