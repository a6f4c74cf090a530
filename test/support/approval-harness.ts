// The approval path as the pipeline drives it, without sockets: a raw request (method, host,
// path?query, header lines, body) is classified by the real classifier, decided by a real
// compiled policy, and held by the real ApprovalService over a real store (memory or Redis).
// Reviewers decide through the store, as the review server does.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { ApprovalService } from '../../src/approvals/service.js';
import { MemoryApprovalStore } from '../../src/approvals/memory-store.js';
import { RedisApprovalStore } from '../../src/approvals/redis-store.js';
import { ReviewTokens } from '../../src/approvals/links.js';
import type { ApprovalStore } from '../../src/approvals/types.js';
import { createLogger } from '../../src/audit/logger.js';
import { classify } from '../../src/aws/classify/index.js';
import { parseQuery } from '../../src/aws/query-string.js';
import { CountersignError } from '../../src/errors.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { decide } from '../../src/policy/evaluate.js';
import { buildPolicySet } from '../../src/policy/load.js';

export const ROLE = 'arn:aws:iam::123456789012:role/countersign-target';
export const OTHER_ROLE = 'arn:aws:iam::123456789012:role/other-target';

export interface RawRequest {
  readonly agent?: string;
  readonly service: string;
  readonly region?: string;
  readonly method: string;
  readonly host: string;
  /** Path and query exactly as on the wire. */
  readonly target: string;
  /** Header lines as sent (name, value). */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly body?: string;
}

export type HoldResult = { readonly go: true; readonly approvalId: string } | { readonly go: false; readonly code: string; readonly approvalId: string | undefined; readonly message: string };

/** An approve rule per service family the security tests use, reviewers ann and bob, agents bot and other-bot (owned by olga). */
export function approvalPolicy(role = ROLE): string {
  const rule = (name: string, actions: string[]) => `  - name: ${name}
    effect: approve
    agents: ["bot", "other-bot"]
    actions: ${JSON.stringify(actions)}
    resources: ["*"]
    approval: { reviewers: [ann, bob], holdTimeout: 1s }
    credentials: { roleArn: "${role}" }
`;
  return `apiVersion: countersign.dev/v1alpha1
kind: Directory
agents:
  bot: { owners: [olga] }
  other-bot: { owners: [olga] }
reviewers:
  olga: { name: Olga }
  ann: { name: Ann }
  bob: { name: Bob }
---
apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
${rule('s3', ['s3:*'])}${rule('dynamodb', ['dynamodb:*'])}${rule('iam', ['iam:*'])}${rule('ec2', ['ec2:*'])}`;
}

export class ApprovalHarness {
  private policyText: string;
  readonly service: ApprovalService;

  constructor(readonly store: ApprovalStore, policyText = approvalPolicy()) {
    this.policyText = policyText;
    this.service = new ApprovalService({
      store,
      directory: () => this.policy().directory,
      tokens: new ReviewTokens(Buffer.alloc(32, 7)),
      notifiers: [],
      reviewBaseUrl: () => 'http://127.0.0.1:1',
      maxBufferedBodyBytes: 1 << 20,
      logger: createLogger('silent'),
      audit: () => undefined,
      auditHealthy: () => true,
    });
  }

  /** Swaps the policy, as a reload does. */
  reload(policyText: string): void {
    this.policyText = policyText;
  }

  private policy() {
    return compilePolicySet(buildPolicySet(parseDocuments(this.policyText)));
  }

  /** Classifies, decides and holds one request (held at most `holdMs`). */
  async send(request: RawRequest, holdMs?: number): Promise<HoldResult> {
    const [rawPath = '/', rawQuery = ''] = splitOnce(request.target);
    const lines = request.headers ?? [];
    const headers: Record<string, string> = {};
    for (const [name, value] of lines) {
      const lower = name.toLowerCase();
      headers[lower] = headers[lower] === undefined ? value : `${headers[lower]}, ${value}`;
    }
    const body = request.body === undefined ? undefined : Buffer.from(request.body);
    const agent = request.agent ?? 'bot';
    const region = request.region ?? 'us-east-1';
    const query = parseQuery(rawQuery);
    try {
      const classification = classify({ method: request.method, host: request.host, rawPath, query, headers, body, service: request.service, region });
      const policy = this.policy();
      const decision = decide(policy, { agent, service: classification.service, region, needs: classification.needs, parameters: classification.parameters });
      if (decision.effect !== 'approve') return { go: false, code: `decision:${decision.effect}`, approvalId: undefined, message: decision.reasons.map((r) => r.code).join(',') };
      const abort = new AbortController();
      const timer = holdMs === undefined ? undefined : setTimeout(() => abort.abort(), holdMs);
      try {
        const outcome = await this.service.hold({
          requestId: randomUUID(),
          agent,
          classification,
          decision,
          method: request.method,
          host: request.host,
          rawPath,
          rawQuery,
          headers,
          rawHeaders: lines.flatMap(([n, v]) => [n, v]),
          body,
          stream: Readable.from([]),
          signal: abort.signal,
        });
        return { go: true, approvalId: outcome.approvalId };
      } finally {
        if (timer !== undefined) clearTimeout(timer);
      }
    } catch (error) {
      if (!(error instanceof CountersignError)) throw error;
      return { go: false, code: error.code, approvalId: error.headers['x-countersign-approval-id'] ?? /Approval request ([0-9a-f-]{36})/.exec(error.message)?.[1], message: error.message };
    }
  }

  /** Sends, expects a pending approval, approves it as ann, and returns its id. */
  async approveNew(request: RawRequest): Promise<string> {
    const first = await this.send(request, 50);
    if (first.go || first.code !== 'ApprovalPending' || first.approvalId === undefined) throw new Error(`expected a new pending approval, got ${JSON.stringify(first)}`);
    const review = await this.store.review(first.approvalId, 'ann', 'approve', '', Date.now());
    if (!review.ok) throw new Error(`approval failed: ${review.reason}`);
    return first.approvalId;
  }
}

function splitOnce(target: string): [string, string] {
  const q = target.indexOf('?');
  return q === -1 ? [target, ''] : [target.slice(0, q), target.slice(q + 1)];
}

function parseDocuments(text: string): Array<{ path: string; text: string }> {
  return text.split(/^---$/m).map((part, i) => ({ path: `policy-${i}.yaml`, text: part }));
}

/** The two stores every security test of approvals runs against. */
export function storeFactories(redisUrl: () => string): Array<[string, () => ApprovalStore]> {
  return [
    ['memory', () => new MemoryApprovalStore()],
    ['redis', () => new RedisApprovalStore({ url: redisUrl(), prefix: `security:${randomUUID()}:` })],
  ];
}
