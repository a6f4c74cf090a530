/**
 * Slack incoming webhook, Block Kit. Posts a summary of the held request with one link button
 * per eligible reviewer ("Review as <name>"), which opens that reviewer's review page; deciding
 * happens on the page (a POST), so the message has no approve/deny buttons. The Slack app mode
 * (src/approvals/slack/) reuses these blocks and adds verified Approve and Deny buttons.
 *
 * Agent-controlled text goes through `clean`, a length cap and `escapeSlack`, so mention and
 * link syntax arrives inert. Slack's limits (header 150, field 2000 and section 3000
 * characters, 25 elements per actions block, 10 fields per section) are kept here: Slack
 * rejects the whole message otherwise.
 *
 * Note the links: every member of the channel sees every reviewer's button. The review page
 * must not treat the link token alone as proof of who is reviewing unless the channel holds
 * only reviewers.
 */

import type { ApprovalContext, ApprovalRecord } from '../types.js';
import { clean, ELLIPSIS, escapedList, escapeSlack, fitEscaped, formatUtc, oneLine, TEXT_LIMITS, truncate } from './escape.js';
import { eligibleLinks, resolveDelivery, type DeliveryOptions } from './links.js';
import { postJson } from './post.js';
import type { ApprovalNotice, Notifier } from './types.js';

export const SLACK_LIMITS = {
  headerText: 150,
  fieldText: 2000,
  sectionText: 3000,
  contextText: 3000,
  buttonText: 75,
  actionsPerBlock: 25,
  /** Buttons in all (four actions blocks); Slack allows 50 blocks a message. */
  buttons: 100,
  fallbackText: 3000,
} as const;

export interface SlackText {
  readonly type: 'plain_text' | 'mrkdwn';
  readonly text: string;
  readonly emoji?: boolean;
}

/** A link button (`url`), or in app mode an interactive one (`value`, sent back on a click). */
export interface SlackButton {
  readonly type: 'button';
  readonly text: SlackText;
  readonly action_id: string;
  readonly url?: string;
  readonly value?: string;
  readonly style?: 'primary' | 'danger';
}

export type SlackBlock =
  | { readonly type: 'header'; readonly text: SlackText }
  | { readonly type: 'section'; readonly fields: readonly SlackText[] }
  | { readonly type: 'section'; readonly text: SlackText }
  | { readonly type: 'context'; readonly elements: readonly SlackText[] }
  | { readonly type: 'actions'; readonly elements: readonly SlackButton[] };

export interface SlackMessage {
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
}

export interface SlackOptions extends DeliveryOptions {
  /** The incoming webhook URL (a secret: it embeds the token). */
  readonly url: string;
}

export const plain = (text: string): SlackText => ({ type: 'plain_text', text, emoji: false });
export const mrkdwn = (text: string): SlackText => ({ type: 'mrkdwn', text });

/** `*Label*\n<escaped list>`, within the field limit. */
export function listField(singular: string, plural: string, items: readonly string[]): SlackText {
  const label = `*${items.length === 1 ? singular : plural}*\n`;
  return mrkdwn(label + escapedList(items, escapeSlack, { maxEscaped: SLACK_LIMITS.fieldText - label.length }));
}

export function valueField(label: string, value: string): SlackText {
  const head = `*${label}*\n`;
  return mrkdwn(head + fitEscaped(oneLine(value), TEXT_LIMITS.item, SLACK_LIMITS.fieldText - head.length, escapeSlack));
}

/** Slack shows the expiry in each reader's own time zone, UTC where it cannot. */
export function expiresField(expiresAt: number): SlackText {
  return mrkdwn(`*Expires*\n<!date^${Math.floor(expiresAt / 1000)}^{date_short_pretty} {time}|${formatUtc(expiresAt)}>`);
}

const quote = (escaped: string): string =>
  escaped
    .split('\n')
    .map((line) => `>${line}`)
    .join('\n');

export function reasonText(context: ApprovalContext): string {
  const head = '*Reason given by the agent* (unverified)\n';
  const contextLine =
    context.agentContext === undefined || context.agentContext.length === 0
      ? ''
      : `\n*Agent context:* ${escapeSlack(truncate(oneLine(context.agentContext), TEXT_LIMITS.context))}`;
  if (context.agentReason === undefined || oneLine(context.agentReason).length === 0) {
    return `${head}_The agent gave no reason._${contextLine}`;
  }
  const budget = SLACK_LIMITS.sectionText - head.length - contextLine.length;
  const reason = fitEscaped(clean(context.agentReason).trim(), TEXT_LIMITS.reason, budget, (text) => quote(escapeSlack(text)));
  return head + reason + contextLine;
}

/** The held request at a glance: agent, owners, actions, resources, region, rules, expiry. */
export function summaryFields(record: ApprovalRecord): SlackText[] {
  const { context } = record;
  return [
    valueField('Agent', context.agent),
    listField('Owner', 'Owners', context.owners),
    listField('Action', 'Actions', context.actions),
    listField('Resource', 'Resources', context.resources),
    valueField('Region', context.region.length === 0 ? '(global)' : context.region),
    listField('Rule', 'Rules', context.rules),
    expiresField(record.expiresAt),
  ];
}

export function buildSlackMessage(notice: ApprovalNotice): SlackMessage {
  const { record } = notice;
  const { context } = record;
  const title = truncate(oneLine(`Approval needed: ${context.operation} by ${context.agent}`), SLACK_LIMITS.headerText);
  const links = eligibleLinks(notice);
  const shown = links.slice(0, SLACK_LIMITS.buttons);

  const blocks: SlackBlock[] = [
    { type: 'header', text: plain(title) },
    { type: 'section', fields: summaryFields(record) },
    { type: 'section', text: mrkdwn(reasonText(context)) },
    { type: 'context', elements: [mrkdwn(`Request \`${fitEscaped(oneLine(record.id), TEXT_LIMITS.item, 500, escapeSlack)}\``)] },
  ];

  const prefix = 'Review as ';
  const buttons = shown.map(
    (link, index): SlackButton => ({
      type: 'button',
      text: plain(prefix + truncate(oneLine(link.reviewer.displayName), SLACK_LIMITS.buttonText - prefix.length)),
      url: link.url,
      action_id: `review-${index}`,
    }),
  );
  for (let start = 0; start < buttons.length; start += SLACK_LIMITS.actionsPerBlock) {
    blocks.push({ type: 'actions', elements: buttons.slice(start, start + SLACK_LIMITS.actionsPerBlock) });
  }
  if (links.length === 0) {
    blocks.push({ type: 'context', elements: [mrkdwn('No eligible reviewer has a review link.')] });
  } else if (links.length > shown.length) {
    const more = links.length - shown.length;
    blocks.push({ type: 'context', elements: [mrkdwn(`${ELLIPSIS} and ${more} more eligible reviewers, not shown here.`)] });
  }

  const fallback = fitEscaped(
    oneLine(`Approval needed: ${context.operation} by ${context.agent} (request ${record.id})`),
    SLACK_LIMITS.fallbackText,
    SLACK_LIMITS.fallbackText,
    escapeSlack,
  );
  return { text: fallback, blocks };
}

export function createSlackNotifier(options: SlackOptions): Notifier {
  const { url } = options;
  const delivery = resolveDelivery(options);
  return {
    channel: 'slack',
    async send(notice: ApprovalNotice): Promise<void> {
      await postJson(url, buildSlackMessage(notice), { channel: 'slack', ...delivery });
    },
  };
}
