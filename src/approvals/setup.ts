import type { Server } from 'node:http';
import type { AuditLog } from '../audit/audit-log.js';
import type { AuditEvent } from '../audit/events.js';
import type { Logger } from '../audit/logger.js';
import type { ApprovalsConfig } from '../config/config.js';
import type { PolicyStore } from '../policy/store.js';
import { ReviewTokens } from './links.js';
import { MemoryApprovalStore } from './memory-store.js';
import { createNotifiers } from './notify/index.js';
import { RedisApprovalStore } from './redis-store.js';
import { createReviewServer } from './review-server.js';
import { ApprovalService } from './service.js';
import type { ApprovalStore } from './types.js';

export interface Approvals {
  readonly store: ApprovalStore;
  readonly service: ApprovalService;
  readonly reviewServer: Server;
  /** Redis configured: readiness depends on reaching it. */
  readonly shared: boolean;
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
  const emit = (event: AuditEvent) => audit.emit(event);
  const store: ApprovalStore = config.redis === undefined ? new MemoryApprovalStore() : new RedisApprovalStore({ redis: config.redis, prefix: config.redisPrefix });
  const tokens = ReviewTokens.fromServerKey(serverKey);
  const directory = () => policies.get().directory;
  const notifiers = createNotifiers({
    ...(config.webhookUrl !== undefined && { webhookUrl: config.webhookUrl }),
    ...(config.webhookSecret !== undefined && { webhookSecret: config.webhookSecret }),
    ...(config.slackWebhookUrl !== undefined && { slackWebhookUrl: config.slackWebhookUrl }),
    ...(config.teamsWebhookUrl !== undefined && { teamsWebhookUrl: config.teamsWebhookUrl }),
  });
  const service = new ApprovalService({ store, directory, tokens, notifiers, reviewBaseUrl, maxBufferedBodyBytes, logger, audit: emit, auditHealthy: () => audit.healthy });
  const reviewServer = createReviewServer({
    store,
    tokens,
    reviewers: () => new Map(directory().reviewers.map((r) => [r.id, r] as const)),
    logger,
    audit: emit,
    ...(config.trustedIdentity !== undefined && { trustedIdentity: config.trustedIdentity }),
  });
  return { store, service, reviewServer, shared: config.redis !== undefined };
}
