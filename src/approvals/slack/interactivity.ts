/**
 * The Slack app's interactivity endpoint (POST /slack/interactivity on the review listener).
 * Slack sends `application/x-www-form-urlencoded` with one field, `payload`, holding JSON:
 * `block_actions` when a button is clicked, `view_submission` when the Deny modal is sent.
 *
 * Order matters: the raw body is read (bounded) and its v0 signature checked before anything
 * is parsed; then the clicking Slack user is mapped to a reviewer through the Directory's
 * `slack:` ids. A Slack user who is no reviewer, who owns the agent, who already reviewed, or
 * who clicks on a request already decided or expired gets an ephemeral message saying why, and
 * nothing is decided. Approve decides at once; Deny opens a modal for the reason (a trigger id
 * lives 3 seconds, so views.open comes before any further work) and the submission decides.
 * Decisions go through the same review path as the page and the API (one review per reviewer,
 * quorum, no self-approval), so the same audit record and the same message updates follow.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../audit/logger.js';
import { CountersignError, isCountersignError } from '../../errors.js';
import { readBody } from '../../http/body.js';
import type { ReviewerSpec } from '../../policy/types.js';
import type { ApprovalStore, ReviewOutcome } from '../types.js';
import type { SlackApi } from './api.js';
import { APPROVE_ACTION, APPROVE_WINDOW_ACTION, buildDenyModal, DENY_ACTION, DENY_CALLBACK, DETAILS_ACTION, parseModalMetadata, REASON_BLOCK, REASON_INPUT } from './message.js';
import type { SlackAppNotifier } from './notifier.js';
import { SLACK_SIGNATURE_HEADER, SLACK_TIMESTAMP_HEADER, verifySlackSignature } from './signature.js';

export const SLACK_INTERACTIVITY_PATH = '/slack/interactivity';
/** Slack's payloads echo the message clicked on; ours stay far below this. */
export const SLACK_BODY_LIMIT = 128 * 1024;

/** The one review path (service.review): `windowMinutes` approves for a while, absent once. */
export type Decide = (id: string, reviewer: string, decision: 'approve' | 'deny', comment: string, windowMinutes?: number) => Promise<ReviewOutcome>;

export interface SlackInteractivityDeps {
  readonly signingSecret: string;
  readonly api: SlackApi;
  readonly notifier: SlackAppNotifier;
  readonly store: ApprovalStore;
  readonly reviewers: () => ReadonlyMap<string, ReviewerSpec>;
  readonly decide: Decide;
  readonly logger: Logger;
  readonly now?: () => number;
}

type Refusal = Exclude<ReviewOutcome, { ok: true }>['reason'] | 'not_linked';

/** What the ephemeral message says; plain words, nothing agent-controlled. */
export const SLACK_REFUSALS: Record<Refusal, string> = {
  not_linked: 'Your Slack account is not linked to a countersign reviewer (the Directory has no reviewer with your Slack id), so nothing was decided.',
  not_found: 'countersign has no such approval request (it may have been removed); nothing was decided.',
  not_pending: 'This request was already decided; your click changed nothing.',
  expired: 'This request expired before it was decided; your click changed nothing. The agent must ask again.',
  not_eligible: 'You are not one of the reviewers this request needs, so nothing was decided.',
  owner: 'You own this agent, so you may not review its requests; nothing was decided.',
  already_reviewed: 'You have already reviewed this request; each reviewer counts once.',
  window_not_allowed: 'This request can only be approved once: its rule sets no approval.maxWindow; nothing was decided.',
  window_too_long: "That window is longer than the rule's approval.maxWindow allows; nothing was decided.",
};

export const DIALOG_FAILED = 'The Deny dialog could not be opened (Slack gives 3 seconds to open it); nothing was decided. Click Deny again.';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SLACK_ID = /^[A-Z0-9]{2,32}$/;
const TS = /^\d{1,12}\.\d{1,9}$/;

interface Payload {
  readonly type?: unknown;
  readonly user?: { readonly id?: unknown };
  readonly trigger_id?: unknown;
  readonly channel?: { readonly id?: unknown };
  readonly container?: { readonly channel_id?: unknown; readonly message_ts?: unknown };
  readonly message?: { readonly ts?: unknown };
  readonly actions?: readonly { readonly action_id?: unknown; readonly value?: unknown }[];
  readonly view?: { readonly callback_id?: unknown; readonly private_metadata?: unknown; readonly state?: { readonly values?: Record<string, Record<string, { readonly value?: unknown }>> } };
}

export function createSlackInteractivity(deps: SlackInteractivityDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const now = deps.now ?? Date.now;

  const reviewerOf = (slackUser: string): string | undefined => {
    for (const reviewer of deps.reviewers().values()) if (reviewer.slackUserId === slackUser) return reviewer.id;
    return undefined;
  };

  const ephemeral = (channel: string, user: string, reason: Refusal): void => {
    deps.logger.info({ event: 'slack.refused', reason }, 'slack click refused');
    void deps.notifier.ephemeral(channel, user, SLACK_REFUSALS[reason]).catch((error: unknown) => {
      deps.logger.warn({ event: 'slack.ephemeral_failed', error: error instanceof Error ? error.message : 'error' }, 'slack ephemeral message failed');
    });
  };

  async function blockAction(payload: Payload, user: string): Promise<void> {
    const action = payload.actions?.length === 1 ? payload.actions[0] : undefined;
    // Slack reports clicks on link buttons too; opening the page is all that button does.
    if (action?.action_id === DETAILS_ACTION) return;
    const channel = str(payload.container?.channel_id) ?? str(payload.channel?.id);
    const ts = str(payload.container?.message_ts) ?? str(payload.message?.ts);
    // An "approve for N minutes" button's value is `<id>|<minutes>`; the store holds N to maxWindow.
    const [id, minutesText] = (str(action?.value) ?? '').split('|');
    const actionId = str(action?.action_id) ?? '';
    const windowMinutes = actionId.startsWith(`${APPROVE_WINDOW_ACTION}_`) && minutesText !== undefined && /^\d{1,5}$/.test(minutesText) ? Number(minutesText) : undefined;
    const kind = actionId === APPROVE_ACTION || windowMinutes !== undefined ? 'approve' : actionId === DENY_ACTION ? 'deny' : undefined;
    if (kind === undefined || id === undefined || !UUID.test(id) || channel === undefined || !SLACK_ID.test(channel) || ts === undefined || !TS.test(ts)) {
      throw new CountersignError('SlackPayloadInvalid', 'The block_actions payload is not a click on a countersign Approve or Deny button.');
    }
    const reviewer = reviewerOf(user);
    if (reviewer === undefined) return ephemeral(channel, user, 'not_linked');
    deps.notifier.remember(id, channel, ts);
    if (kind === 'approve') {
      const outcome = await deps.decide(id, reviewer, 'approve', '', windowMinutes);
      if (!outcome.ok) ephemeral(channel, user, outcome.reason);
      return;
    }
    // Deny: refuse at once what the submission would refuse (one store read), else open the modal.
    const record = await deps.store.get(id, now());
    const refusal: Refusal | undefined =
      record === undefined ? 'not_found'
      : record.status === 'expired' ? 'expired'
      : record.status !== 'pending' ? 'not_pending'
      : record.context.owners.includes(reviewer) ? 'owner'
      : !record.requirements.some((r) => r.eligible.includes(reviewer)) ? 'not_eligible'
      : record.reviews.some((r) => r.reviewer === reviewer) ? 'already_reviewed'
      : undefined;
    if (refusal !== undefined || record === undefined) return ephemeral(channel, user, refusal ?? 'not_found');
    const trigger = str(payload.trigger_id);
    if (trigger === undefined) throw new CountersignError('SlackPayloadInvalid', 'The Deny click carries no trigger_id to open the reason dialog with.');
    try {
      await deps.api.call('views.open', { trigger_id: trigger, view: buildDenyModal(record, { approvalId: id, channel, ts }) }, false);
    } catch (error) {
      // Most often the trigger id's 3 seconds ran out; nothing was decided, the click can be repeated.
      deps.logger.warn({ event: 'slack.dialog_failed', error: error instanceof Error ? error.message : 'error' }, 'slack deny dialog did not open');
      void deps.notifier.ephemeral(channel, user, DIALOG_FAILED).catch(() => undefined);
    }
  }

  /** The Deny modal sent: decide, or show why not in the modal (response_action: errors). */
  async function viewSubmission(payload: Payload, user: string): Promise<unknown> {
    const view = payload.view;
    const metadata = parseModalMetadata(view?.private_metadata);
    if (view?.callback_id !== DENY_CALLBACK || metadata === undefined || !UUID.test(metadata.approvalId) || !SLACK_ID.test(metadata.channel) || !TS.test(metadata.ts)) {
      throw new CountersignError('SlackPayloadInvalid', 'The view_submission payload is not countersign\'s Deny dialog.');
    }
    const reason = view.state?.values?.[REASON_BLOCK]?.[REASON_INPUT]?.value;
    if (typeof reason !== 'string' || reason.trim() === '') return { response_action: 'errors', errors: { [REASON_BLOCK]: 'Say why you deny: the agent is told.' } };
    const reviewer = reviewerOf(user);
    if (reviewer === undefined) return { response_action: 'errors', errors: { [REASON_BLOCK]: SLACK_REFUSALS.not_linked } };
    deps.notifier.remember(metadata.approvalId, metadata.channel, metadata.ts);
    const outcome = await deps.decide(metadata.approvalId, reviewer, 'deny', reason.slice(0, 1000));
    if (!outcome.ok) {
      deps.logger.info({ event: 'slack.refused', reason: outcome.reason }, 'slack deny refused');
      return { response_action: 'errors', errors: { [REASON_BLOCK]: SLACK_REFUSALS[outcome.reason] } };
    }
    return undefined;
  }

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      if (req.method !== 'POST') return send(res, 405, { error: 'POST only' });
      const raw = await readBody(req, SLACK_BODY_LIMIT);
      const header = (name: string): string | undefined => {
        const value = req.headers[name];
        return typeof value === 'string' ? value : undefined;
      };
      const check = verifySlackSignature(deps.signingSecret, header(SLACK_TIMESTAMP_HEADER), header(SLACK_SIGNATURE_HEADER), raw, now());
      if (!check.ok) {
        deps.logger.warn({ event: 'slack.unverified', reason: check.reason, remoteAddress: req.socket.remoteAddress }, 'unverified request on the Slack endpoint');
        throw new CountersignError('SlackRequestUnverified', check.reason === 'stale' ? 'The request timestamp is more than 5 minutes from countersign\'s clock (a replay, or a clock off).' : 'The request does not carry a valid Slack signature.');
      }
      const payload = parsePayload(raw);
      const user = str(payload.user?.id);
      if (user === undefined || !SLACK_ID.test(user)) throw new CountersignError('SlackPayloadInvalid', 'The payload names no Slack user.');
      if (payload.type === 'block_actions') {
        await blockAction(payload, user);
        return send(res, 200, undefined);
      }
      if (payload.type === 'view_submission') return send(res, 200, await viewSubmission(payload, user));
      throw new CountersignError('SlackPayloadInvalid', 'Only block_actions and view_submission payloads are handled.');
    } catch (error) {
      if (!isCountersignError(error)) throw error;
      return send(res, error.entry.status, { error: error.clientMessage, code: error.code });
    }
  };
}

/** Exactly one `payload` field holding a JSON object. */
function parsePayload(raw: Buffer): Payload {
  const form = new URLSearchParams(raw.toString('utf8'));
  const values = form.getAll('payload');
  if (values.length !== 1 || [...form.keys()].length !== 1) throw new CountersignError('SlackPayloadInvalid', 'The body must be one form field, payload.');
  try {
    const parsed: unknown = JSON.parse(values[0] ?? '');
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed;
  } catch {
    throw new CountersignError('SlackPayloadInvalid', 'The payload field is not a JSON object.');
  }
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 200 ? value : undefined;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
