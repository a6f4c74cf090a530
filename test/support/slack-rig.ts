// The Slack app in-process, wired as src/approvals/setup.ts wires it: the real notifier, update
// feed and interactivity endpoint (mounted on the real review server, on port 0), over a real
// store, deciding through the one review path; the Slack stand-in plays Slack on both sides.
// Requests are held by the real classifier, policy and ApprovalService (approval-harness.ts).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { reviewApproval } from '../../src/approvals/decide.js';
import { ReviewTokens } from '../../src/approvals/links.js';
import { MemoryApprovalStore } from '../../src/approvals/memory-store.js';
import { createUpdateFeed } from '../../src/approvals/notify/index.js';
import { createReviewServer } from '../../src/approvals/review-server.js';
import { createSlackApp, type SlackApp } from '../../src/approvals/slack/setup.js';
import type { ApprovalRecord, ApprovalStore } from '../../src/approvals/types.js';
import type { AuditEvent } from '../../src/audit/events.js';
import { createLogger } from '../../src/audit/logger.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { buildPolicySet } from '../../src/policy/load.js';
import { ApprovalHarness, ROLE, type RawRequest } from './approval-harness.js';
import { SlackStandIn } from './slack-standin.js';

export const BOT_TOKEN = 'xoxb-standin-bot-token-0123456789';
export const SIGNING_SECRET = 'standin-signing-secret-0123456789abcdef';

/** Slack ids: ann and bob review, olga owns the agent, mallory reviews other things, U0NOBODY is nobody. */
export const SLACK = { ann: 'U0ANN0001', bob: 'U0BOB0001', olga: 'U0OLGA001', mallory: 'U0MAL0001', nobody: 'U0NOBODY1' } as const;

export function slackPolicy(quorum = 1, approvalExtra = ''): string {
  return `apiVersion: countersign.dev/v1alpha1
kind: Directory
agents:
  bot: { owners: [olga] }
reviewers:
  olga: { name: Olga Owner, slack: ${SLACK.olga} }
  ann: { name: Ann Analyst, slack: ${SLACK.ann} }
  bob: { name: Bob Builder, slack: ${SLACK.bob} }
  mallory: { name: Mallory, slack: ${SLACK.mallory} }
---
apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: s3-writes
    effect: approve
    agents: ["bot"]
    actions: ["s3:*"]
    resources: ["*"]
    approval: { reviewers: [olga, ann, bob], quorum: ${quorum}, holdTimeout: 1s${approvalExtra} }
    credentials: { roleArn: "${ROLE}" }
`;
}

/** A PUT of `key` into bucket b, with the agent's stated reason. */
export function putObject(key: string, reason?: string): RawRequest {
  const body = 'hello';
  return {
    service: 's3',
    method: 'PUT',
    host: 'b.s3.amazonaws.com',
    target: `/${key.split('/').map(encodeURIComponent).join('/')}`,
    headers: [['x-amz-content-sha256', 'UNSIGNED-PAYLOAD'], ['content-length', String(body.length)], ...(reason === undefined ? [] : [['x-countersign-reason', reason] as [string, string]])],
    body,
  };
}

export interface SlackRig {
  readonly standin: SlackStandIn;
  readonly store: ApprovalStore;
  readonly harness: ApprovalHarness;
  readonly app: SlackApp;
  readonly audit: AuditEvent[];
  /** Emits an audit event as countersign's approval parts do (the feed hears it). */
  emit(event: AuditEvent): void;
  /** countersign's clock (the stand-in signs with it too): Date.now plus what advance() added. */
  now(): number;
  advance(ms: number): void;
  /** Holds the request (pending), posts its Slack message; the record and the message ts. */
  hold(request: RawRequest): Promise<{ record: ApprovalRecord; ts: string }>;
  record(id: string): Promise<ApprovalRecord>;
  close(): Promise<void>;
}

export async function startSlackRig(policyText = slackPolicy(), makeStore: () => ApprovalStore = () => new MemoryApprovalStore()): Promise<SlackRig> {
  const standin = new SlackStandIn(BOT_TOKEN, SIGNING_SECRET);
  await standin.start();
  const store = makeStore();
  const harness = new ApprovalHarness(store, policyText);
  const directory = () => compilePolicySet(buildPolicySet(policyText.split(/^---$/m).map((text, i) => ({ path: `p${i}.yaml`, text })))).directory;
  const reviewers = () => new Map(directory().reviewers.map((r) => [r.id, r] as const));
  const audit: AuditEvent[] = [];
  const logger = createLogger('silent');
  let offset = 0;
  const now = () => Date.now() + offset;
  let reviewBase = '';
  // The feed joins the listeners once it exists (it needs the notifier, which needs decide, which emits).
  const listeners: Array<(event: AuditEvent) => void> = [];
  const emit = (event: AuditEvent): void => {
    audit.push(event);
    for (const listener of listeners) listener(event);
  };
  const app = createSlackApp(
    { botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, channel: 'approvals', apiUrl: standin.apiUrl },
    {
      store,
      reviewers,
      reviewBaseUrl: () => reviewBase,
      logger,
      now,
      decide: (id, reviewer, decision, comment, windowMinutes) =>
        reviewApproval({ store, audit: emit, now }, { id, reviewer, decision, comment, via: 'slack', ...(windowMinutes !== undefined && { windowMinutes }) }),
    },
  );
  const feed = createUpdateFeed({ store, now, notifiers: [app.notifier], onFailure: (approvalId, channel, error) => audit.push({ event: 'approval.notify_failed', approvalId, channel, error: error.message }) });
  store.onDecision((event) => feed.decided(event));
  listeners.push((event) => feed.observe(event));
  const server: Server = createReviewServer({ store, tokens: new ReviewTokens(Buffer.alloc(32, 3)), reviewers, logger, audit: emit, slack: app.handler });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  reviewBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  standin.endpoint = `${reviewBase}/slack/interactivity`;

  const record = async (id: string): Promise<ApprovalRecord> => {
    const found = await store.get(id, now());
    if (found === undefined) throw new Error(`no record ${id}`);
    return found;
  };
  return {
    standin,
    store,
    harness,
    app,
    audit,
    emit,
    now,
    advance: (ms) => {
      offset += ms;
    },
    record,
    async hold(request) {
      const result = await harness.send(request, 20);
      if (result.go || result.approvalId === undefined) throw new Error(`expected a pending approval, got ${JSON.stringify(result)}`);
      const held = await record(result.approvalId);
      const before = standin.messages.size;
      await app.notifier.send({ record: held, links: [], reviewPageBaseUrl: reviewBase });
      emit({ event: 'approval.requested', approvalId: held.id, expiresAt: new Date(held.expiresAt).toISOString() });
      const posted = [...standin.messages.values()][before];
      if (posted === undefined) throw new Error('the app posted no message');
      return { record: held, ts: posted.ts };
    },
    async close() {
      feed.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await standin.stop();
      await store.close();
    },
  };
}
