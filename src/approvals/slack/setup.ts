/**
 * Slack app mode from its settings: the Web API client, the notifier that posts and updates
 * the message, and the interactivity handler mounted on the review listener.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../audit/logger.js';
import type { SlackAppConfig } from '../../config/config.js';
import type { ReviewerSpec } from '../../policy/types.js';
import type { ApprovalStore } from '../types.js';
import { SlackApi } from './api.js';
import { createSlackInteractivity, type Decide } from './interactivity.js';
import { createSlackAppNotifier, type SlackAppNotifier } from './notifier.js';

export interface SlackAppDeps {
  readonly store: ApprovalStore;
  readonly reviewers: () => ReadonlyMap<string, ReviewerSpec>;
  readonly reviewBaseUrl: () => string;
  readonly decide: Decide;
  readonly logger: Logger;
  /** Tests move the clock; default Date.now. */
  readonly now?: () => number;
}

export interface SlackApp {
  readonly notifier: SlackAppNotifier;
  readonly handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

export function createSlackApp(config: SlackAppConfig, deps: SlackAppDeps): SlackApp {
  const api = new SlackApi({ token: config.botToken, ...(config.apiUrl !== undefined && { baseUrl: config.apiUrl }) });
  const clock = deps.now === undefined ? {} : { now: deps.now };
  const notifier = createSlackAppNotifier({ api, channel: config.channel, reviewers: deps.reviewers, reviewBaseUrl: deps.reviewBaseUrl, ...clock });
  const handler = createSlackInteractivity({ signingSecret: config.signingSecret, api, notifier, store: deps.store, reviewers: deps.reviewers, decide: deps.decide, logger: deps.logger, ...clock });
  return { notifier, handler };
}
