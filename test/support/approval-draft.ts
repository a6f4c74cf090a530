// An approval draft for the store and gate tests: one S3 read, two of three reviewers.
import { randomUUID } from 'node:crypto';
import type { ApprovalBinding, ApprovalDraft } from '../../src/approvals/types.js';

export const MINUTE = 60_000;

/** A binding for one grant (what a record's reviewers approved). */
export function binding(action = 's3:GetObject', resource = 'arn:aws:s3:::b/k'): ApprovalBinding {
  return { agent: 'bot', service: action.split(':')[0] ?? '', region: 'us-east-1', roleArn: 'arn:aws:iam::123456789012:role/r', account: '123456789012', grants: [{ action, resource }], parametersSha256: '0'.repeat(64) };
}

export function draft(overrides: Partial<ApprovalDraft> = {}): ApprovalDraft {
  return {
    fingerprint: randomUUID(),
    intent: 'change',
    context: {
      binding: binding(),
      agent: 'bot',
      owners: ['olga'],
      service: 's3',
      operation: 'GetObject',
      region: 'us-east-1',
      actions: ['s3:GetObject'],
      resources: ['arn:aws:s3:::b/k'],
      rules: ['r'],
      reasons: ['RULE_NEEDS_APPROVAL'],
      parametersPreview: '{}',
      method: 'GET',
      host: 'b.s3.amazonaws.com',
      path: '/k',
    },
    requirements: [{ rule: 'r', quorum: 2, eligible: ['ann', 'bob', 'cat'] }],
    pendingTimeoutMs: 15 * MINUTE,
    maxUses: 1,
    ...overrides,
  };
}
