/**
 * What the Slack app posts and keeps up to date: the request (the same summary as the webhook
 * message), the eligible reviewers mentioned by their Slack ids from the Directory, quorum
 * progress, every review, the outcome and what AWS answered, and, while pending, Approve and
 * Deny buttons. Also the Deny modal, the thread replies and the ephemeral refusals.
 *
 * Agent-controlled text (reason, context, resource names) and reviewer comments go through
 * `clean`, a cap and `escapeSlack`, as in the webhook message: `<!channel>`, `<@U…>` and
 * `<http://evil|click>` arrive inert. The only mentions are the ones built here from
 * Directory ids, which the Directory schema holds to `[UW][A-Z0-9]+`.
 */

import type { ReviewerSpec } from '../../policy/types.js';
import { clean, escapeSlack, fitEscaped, formatUtc, oneLine, TEXT_LIMITS, truncate } from '../notify/escape.js';
import { mrkdwn, plain, reasonText, SLACK_LIMITS, summaryFields, type SlackBlock, type SlackButton } from '../notify/slack.js';
import type { UpstreamAnswer } from '../notify/types.js';
import type { ApprovalRecord, Review } from '../types.js';

export const APPROVE_ACTION = 'countersign_approve';
export const APPROVE_WINDOW_ACTION = 'countersign_approve_window';
export const DENY_ACTION = 'countersign_deny';
export const DENY_CALLBACK = 'countersign_deny';
/** The link button to the review page: Slack reports its clicks too; they decide nothing. */
export const DETAILS_ACTION = 'countersign_details';
export const REASON_BLOCK = 'reason';
export const REASON_INPUT = 'reason';
/** Reviews listed in the message; the thread has them all. */
const REVIEWS_SHOWN = 10;
const COMMENT_SHOWN = 300;

export interface MessageState {
  readonly record: ApprovalRecord;
  readonly reviewers: ReadonlyMap<string, ReviewerSpec>;
  /** The review page, without a link token: anyone may look, deciding needs one's own link. */
  readonly pageUrl: string;
  readonly aws?: UpstreamAnswer;
}

const STATUS_TITLE: Record<ApprovalRecord['status'], string> = {
  pending: 'Approval needed',
  approved: 'Approved',
  consumed: 'Approved and used',
  denied: 'Denied',
  expired: 'Expired',
};

/** Slack's date token: each reader's own time zone, UTC where Slack cannot. */
export const slackDate = (ms: number): string => `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${formatUtc(ms)}>`;

/** A reviewer as Slack shows them: a mention when the Directory has their Slack id, else the name. */
export function reviewerLabel(id: string, reviewers: ReadonlyMap<string, ReviewerSpec>): string {
  const spec = reviewers.get(id);
  const name = escapeSlack(truncate(oneLine(spec?.displayName ?? id), TEXT_LIMITS.item));
  return spec?.slackUserId === undefined ? name : `<@${spec.slackUserId}>`;
}

const nameOf = (id: string, reviewers: ReadonlyMap<string, ReviewerSpec>): string => escapeSlack(truncate(oneLine(reviewers.get(id)?.displayName ?? id), TEXT_LIMITS.item));

function quorumText(record: ApprovalRecord, reviewers: ReadonlyMap<string, ReviewerSpec>): string {
  const approvedBy = new Set(record.reviews.filter((r) => r.decision === 'approve').map((r) => r.reviewer));
  const lines = record.requirements.map((requirement) => {
    const have = requirement.eligible.filter((id) => approvedBy.has(id)).length;
    const rule = escapeSlack(truncate(oneLine(requirement.rule), TEXT_LIMITS.item));
    const who = requirement.eligible.slice(0, 20).map((id) => reviewerLabel(id, reviewers)).join(', ');
    const more = requirement.eligible.length > 20 ? ` and ${requirement.eligible.length - 20} more` : '';
    return `*${rule}*: ${Math.min(have, requirement.quorum)} of ${requirement.quorum} approval(s) from ${who}${more}`;
  });
  return truncate(`*Reviewers*\n${lines.join('\n')}`, SLACK_LIMITS.sectionText);
}

export function reviewLine(review: Review, reviewers: ReadonlyMap<string, ReviewerSpec>): string {
  const verb = review.decision === 'approve' ? ':white_check_mark: approved' : ':no_entry: denied';
  const comment = oneLine(review.comment).length === 0 ? '' : `: ${fitEscaped(oneLine(review.comment), COMMENT_SHOWN, COMMENT_SHOWN * 5, escapeSlack)}`;
  return `*${nameOf(review.reviewer, reviewers)}* ${verb} ${slackDate(review.at)}${comment}`;
}

function reviewsText(record: ApprovalRecord, reviewers: ReadonlyMap<string, ReviewerSpec>): string {
  const shown = record.reviews.slice(0, REVIEWS_SHOWN).map((r) => reviewLine(r, reviewers));
  const more = record.reviews.length > REVIEWS_SHOWN ? `\n… and ${record.reviews.length - REVIEWS_SHOWN} more in the thread` : '';
  return truncate(`*Reviews*\n${shown.join('\n')}${more}`, SLACK_LIMITS.sectionText);
}

function outcomeText(state: MessageState): string | undefined {
  const { record, aws } = state;
  const decided = record.decidedAt === undefined ? '' : ` ${slackDate(record.decidedAt)}`;
  switch (record.status) {
    case 'pending':
      return undefined;
    case 'denied':
      return `*Denied*${decided}: the agent was refused and nothing went to AWS.`;
    case 'expired':
      return `*Expired*${decided}: nobody decided in time (or the approval ran out); the agent must ask again.`;
    case 'approved':
    case 'consumed': {
      const head = `*Approved*${decided}.`;
      if (aws === undefined) return `${head} The held request goes on to AWS.`;
      if (aws.status !== undefined) return `${head} AWS answered *HTTP ${aws.status}* ${slackDate(aws.at)}.`;
      const code = escapeSlack(truncate(oneLine(aws.errorCode ?? 'unknown error'), TEXT_LIMITS.item));
      return `${head} The request did not reach AWS: ${code} ${slackDate(aws.at)}.`;
    }
  }
}

/**
 * Approve for a while, where the rules allow it (approval.maxWindow): the same agent, action,
 * resource and parameters for up to that long, never broader. Offered as the longest window
 * and, when shorter ones fit, 15 minutes and 1 hour.
 */
function windowButtons(record: ApprovalRecord): SlackButton[] {
  if (record.maxWindowMs === undefined) return [];
  const most = Math.floor(record.maxWindowMs / 60_000);
  if (most < 1) return [];
  const choices = [...new Set([15, 60].filter((m) => m < most).concat(most))];
  return choices.map((minutes) => ({ type: 'button', text: plain(`Approve for ${minutes < 60 || minutes % 60 !== 0 ? `${minutes} min` : `${minutes / 60} h`}`), action_id: `${APPROVE_WINDOW_ACTION}_${minutes}`, value: `${record.id}|${minutes}` }));
}

export function buildAppMessage(state: MessageState): { text: string; blocks: SlackBlock[] } {
  const { record, reviewers } = state;
  const { context } = record;
  const title = truncate(oneLine(`${STATUS_TITLE[record.status]}: ${context.operation} by ${context.agent}`), SLACK_LIMITS.headerText);
  const blocks: SlackBlock[] = [
    { type: 'header', text: plain(title) },
    { type: 'section', fields: summaryFields(record) },
    { type: 'section', text: mrkdwn(reasonText(context)) },
    { type: 'section', text: mrkdwn(quorumText(record, reviewers)) },
  ];
  if (record.reviews.length > 0) blocks.push({ type: 'section', text: mrkdwn(reviewsText(record, reviewers)) });
  const outcome = outcomeText(state);
  if (outcome !== undefined) blocks.push({ type: 'section', text: mrkdwn(outcome) });
  const buttons: SlackButton[] = [];
  if (record.status === 'pending') {
    buttons.push(
      { type: 'button', text: plain('Approve once'), action_id: APPROVE_ACTION, value: record.id, style: 'primary' },
      ...windowButtons(record),
      { type: 'button', text: plain('Deny'), action_id: DENY_ACTION, value: record.id, style: 'danger' },
    );
  }
  buttons.push({ type: 'button', text: plain('Details'), action_id: DETAILS_ACTION, url: state.pageUrl });
  blocks.push({ type: 'actions', elements: buttons });
  blocks.push({ type: 'context', elements: [mrkdwn(`Request \`${escapeSlack(truncate(oneLine(record.id), TEXT_LIMITS.item))}\``)] });
  const text = fitEscaped(oneLine(`${STATUS_TITLE[record.status]}: ${context.operation} by ${context.agent} (request ${record.id})`), SLACK_LIMITS.fallbackText, SLACK_LIMITS.fallbackText, escapeSlack);
  return { text, blocks };
}

/** The thread reply for one review. */
export function threadText(review: Review, record: ApprovalRecord, reviewers: ReadonlyMap<string, ReviewerSpec>): string {
  const status = record.status === 'pending' ? '' : ` The request is now ${record.status}.`;
  return `${reviewLine(review, reviewers)}${status}`;
}

export interface ModalMetadata {
  readonly approvalId: string;
  readonly channel: string;
  readonly ts: string;
}

/** The Deny modal: what is being denied (inert), and a required reason. */
export function buildDenyModal(record: ApprovalRecord, metadata: ModalMetadata): Record<string, unknown> {
  const { context } = record;
  const what = fitEscaped(oneLine(`${context.operation} by ${context.agent}`), 200, 1000, escapeSlack);
  const resources = fitEscaped(oneLine(context.resources.join(', ')), 500, 1500, escapeSlack);
  const reason = context.agentReason === undefined ? '_none given_' : fitEscaped(clean(context.agentReason).trim(), TEXT_LIMITS.reason, 1500, escapeSlack);
  const blocks: unknown[] = [
    { type: 'section', text: mrkdwn(`Deny *${what}* on ${resources}?`) },
    { type: 'context', elements: [mrkdwn(`Reason given by the agent (unverified): ${reason}`)] },
    {
      type: 'input',
      block_id: REASON_BLOCK,
      label: plain('Why deny? (the agent is told)'),
      element: { type: 'plain_text_input', action_id: REASON_INPUT, multiline: true, max_length: 1000 },
    },
  ];
  return {
    type: 'modal',
    callback_id: DENY_CALLBACK,
    private_metadata: JSON.stringify({ a: metadata.approvalId, c: metadata.channel, t: metadata.ts }),
    title: plain('Deny request'),
    submit: plain('Deny'),
    close: plain('Cancel'),
    blocks,
  };
}

/** The modal's private_metadata back, or undefined when it is not ours. */
export function parseModalMetadata(text: unknown): ModalMetadata | undefined {
  if (typeof text !== 'string' || text.length > 3000) return undefined;
  try {
    const parsed = JSON.parse(text) as { a?: unknown; c?: unknown; t?: unknown };
    if (typeof parsed.a !== 'string' || typeof parsed.c !== 'string' || typeof parsed.t !== 'string') return undefined;
    return { approvalId: parsed.a, channel: parsed.c, ts: parsed.t };
  } catch {
    return undefined;
  }
}
