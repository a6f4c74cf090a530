import type { Server } from 'node:http';
import type { AuditLog } from '../audit/audit-log.js';
import type { AuditEvent } from '../audit/events.js';
import type { Logger } from '../audit/logger.js';
import type { ApprovalsConfig } from '../config/config.js';
import type { PolicyStore } from '../policy/store.js';
import { ReviewTokens } from './links.js';
import { MemoryApprovalStore } from './memory-store.js';
import { createNotifiers, createUpdateFeed } from './notify/index.js';
import { RedisApprovalStore } from './redis-store.js';
import { createReviewServer } from './review-server.js';
import { createSlackApp } from './slack/setup.js';
import { ApprovalService } from './service.js';
import type { ApprovalStore } from './types.js';

export interface Approvals {
  readonly store: ApprovalStore;
  readonly service: ApprovalService;
  readonly reviewServer: Server;
  /** Redis configured: readiness depends on reaching it. */
  readonly shared: boolean;
  /** Request records (request.forwarded / failed) for the notifiers' follow-ups: what AWS answered. */
  readonly observe: (event: AuditEvent) => void;
}

/** The approval parts from config: the store (Redis when configured), notifiers, the gate service and the review listener. */
export interface ApprovalsContext {
  readonly serverKey: Buffer;
  readonly policies: PolicyStore;
  readonly maxBufferedBodyBytes: number;
  readonly logger: Logger;
  readonly audit: AuditLog;
  readonly reviewBaseUrl: () => string;
}

export function createApprovals(config: ApprovalsConfig, context: ApprovalsContext): Approvals {
  const { serverKey, policies, maxBufferedBodyBytes, logger, audit, reviewBaseUrl } = context;
  const store: ApprovalStore = config.redis === undefined ? new MemoryApprovalStore() : new RedisApprovalStore({ redis: config.redis, prefix: config.redisPrefix });
  const tokens = ReviewTokens.fromServerKey(serverKey);
  const directory = () => policies.get().directory;
  const reviewers = () => new Map(directory().reviewers.map((r) => [r.id, r] as const));
  const slack = config.slackApp === undefined ? undefined : createSlackApp(config.slackApp, {
    store,
    reviewers,
    reviewBaseUrl,
    logger,
    decide: (id, reviewer, decision, comment, windowMinutes) =>
      service.review({ id, reviewer, decision, comment, via: 'slack', ...(windowMinutes !== undefined && { windowMinutes }) }),
  });
  const notifiers = createNotifiers({
    ...(config.webhookUrl !== undefined && { webhookUrl: config.webhookUrl }),
    ...(config.webhookSecret !== undefined && { webhookSecret: config.webhookSecret }),
    ...(config.slackWebhookUrl !== undefined && { slackWebhookUrl: config.slackWebhookUrl }),
    ...(config.teamsWebhookUrl !== undefined && { teamsWebhookUrl: config.teamsWebhookUrl }),
  });
  if (slack !== undefined) notifiers.push(slack.notifier);
  const feed = createUpdateFeed({ store, notifiers, onFailure: (approvalId, channel, error) => audit.emit({ event: 'approval.notify_failed', approvalId, channel, reason: error.reason, status: error.status, attempts: error.attempts, error: error.message }) });
  store.onDecision((event) => feed.decided(event));
  // Every approval event also feeds the notifiers' follow-ups (message updates, decision cards).
  const emit = (event: AuditEvent) => {
    audit.emit(event);
    feed.observe(event);
  };
  const service = new ApprovalService({ store, directory, tokens, notifiers, reviewBaseUrl, maxBufferedBodyBytes, logger, audit: emit, auditHealthy: () => audit.healthy });
  const reviewServer = createReviewServer({
    store,
    tokens,
    reviewers,
    logger,
    audit: emit,
    ...(config.trustedIdentity !== undefined && { trustedIdentity: config.trustedIdentity }),
    ...(slack !== undefined && { slack: slack.handler }),
  });
  return { store, service, reviewServer, shared: config.redis !== undefined, observe: (event) => feed.observe(event) };
}
