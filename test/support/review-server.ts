// The reviewers' listener as it runs (createReviewServer), on loopback port 0, over a real store
// seeded with approval records: for the review page's HTTP and browser tests.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { ReviewTokens } from '../../src/approvals/links.js';
import { MemoryApprovalStore } from '../../src/approvals/memory-store.js';
import { createReviewServer } from '../../src/approvals/review-server.js';
import type { ApprovalDraft, ApprovalRecord, ApprovalStore } from '../../src/approvals/types.js';
import type { AuditEvent } from '../../src/audit/events.js';
import { createLogger } from '../../src/audit/logger.js';
import type { ReviewerSpec } from '../../src/policy/types.js';
import { draft, MINUTE } from './approval-draft.js';

const SOURCE = { file: 'directory.yaml', line: 1, column: 1 };
export const REVIEWERS: ReadonlyMap<string, ReviewerSpec> = new Map(
  [
    ['ann', 'Ann Lindqvist'],
    ['bob', 'Bob Okafor'],
    ['cat', 'Cat Moreau'],
    ['olga', 'Olga Petrova'],
  ].map(([id = '', displayName = '']) => [id, { id, displayName, groups: [], source: SOURCE }] as const),
);

export interface ReviewSite {
  readonly base: string;
  readonly store: ApprovalStore;
  readonly tokens: ReviewTokens;
  readonly audit: AuditEvent[];
  /** A pending record (one approval from ann, bob or cat decides it unless overridden). */
  open(overrides?: Partial<ApprovalDraft>): Promise<ApprovalRecord>;
  /** The reviewer's own link to the page, as a notification carries it. */
  link(record: ApprovalRecord, reviewer: string): string;
  close(): Promise<void>;
}

/** A draft as an agent's S3 read would make it, with the agent's words and the rule's description. */
export function reviewDraft(overrides: Partial<ApprovalDraft> = {}): ApprovalDraft {
  const base = draft();
  return draft({
    intent: 'read',
    context: {
      ...base.context,
      rules: ['finance-reads'],
      agent: 'report-bot',
      agentReason: 'Exporting the Q3 revenue figures for the board deck',
      agentContext: 'run 7f3c, model claude',
      parametersPreview: JSON.stringify({ Bucket: 'finance-exports', Key: 'q3/revenue.csv' }, null, 2),
      host: 'finance-exports.s3.eu-west-1.amazonaws.com',
      path: '/q3/revenue.csv',
      region: 'eu-west-1',
      resources: ['arn:aws:s3:::finance-exports/q3/revenue.csv'],
    },
    requirements: [{ rule: 'finance-reads', quorum: 1, eligible: ['ann', 'bob', 'cat'], description: 'Finance exports leave the account only with a finance reviewer’s yes. Check the key is the quarter asked for.' }],
    pendingTimeoutMs: 15 * MINUTE,
    maxWindowMs: 60 * MINUTE,
    windowKey: `read:${base.fingerprint}`,
    ...overrides,
  });
}

export async function startReviewSite(): Promise<ReviewSite> {
  const store = new MemoryApprovalStore();
  const tokens = new ReviewTokens(Buffer.alloc(32, 9));
  const audit: AuditEvent[] = [];
  const server: Server = createReviewServer({ store, tokens, reviewers: () => REVIEWERS, logger: createLogger('silent'), audit: (event) => audit.push(event) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    store,
    tokens,
    audit,
    open: async (overrides) => (await store.findOrCreate(reviewDraft(overrides), Date.now())).record,
    link: (record, reviewer) => `${base}/approvals/${record.id}?t=${tokens.linkToken(record.id, reviewer, record.expiresAt)}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    },
  };
}
