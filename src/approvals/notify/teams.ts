/**
 * Microsoft Teams, through a Workflows "post to a channel when a webhook request is received"
 * URL (Office 365 connectors are retired). Posts an Adaptive Card: a title, a FactSet of the
 * request, the agent's stated reason, and one Action.OpenUrl per eligible reviewer ("Review as
 * <name>") that opens that reviewer's review page. No approve/deny actions: deciding is a POST
 * on the page.
 *
 * TextBlock text and FactSet values are markdown, so agent-controlled text goes through
 * `clean`, a length cap and `escapeTeams`: `[x](http://evil)` renders literally and `<at>`
 * tags mention nobody. Action titles and fact titles are plain text and ours.
 *
 * Teams shows a limited number of card actions at once (six on most clients, the rest behind
 * an overflow menu); the card keeps to Teams' 28 KB payload limit by capping actions and lists.
 *
 * Reviewers whose Directory entry has a Teams identity (`teams:`, an Entra object id or UPN)
 * are mentioned (`<at>` plus an msteams mention entity). When a request announced here is
 * decided, a follow-up card says so: a Workflows webhook can post but not edit or receive, so
 * approving from the card itself (Action.Execute) would need a bot (docs/approvals.md).
 */

import type { ApprovalContext, ApprovalRecord } from '../types.js';
import { clean, escapedList, escapeTeams, fitEscaped, formatUtc, oneLine, TEXT_LIMITS, truncate } from './escape.js';
import { eligibleLinks, resolveDelivery, type DeliveryOptions } from './links.js';
import { postJson } from './post.js';
import type { ApprovalNotice, NoticeUpdate, Notifier } from './types.js';

export const TEAMS_LIMITS = {
  /** Escaped characters in one fact value. */
  factValue: 1000,
  /** Escaped characters of the reason block. */
  reasonText: 1500,
  actions: 40,
  actionTitle: 80,
} as const;

export interface TeamsFact {
  readonly title: string;
  readonly value: string;
}

export interface TeamsTextBlock {
  readonly type: 'TextBlock';
  readonly text: string;
  readonly wrap: true;
  readonly weight?: 'Bolder';
  readonly size?: 'Medium';
}

export interface TeamsFactSet {
  readonly type: 'FactSet';
  readonly facts: readonly TeamsFact[];
}

export interface TeamsOpenUrl {
  readonly type: 'Action.OpenUrl';
  readonly title: string;
  readonly url: string;
}

export interface TeamsMessage {
  readonly type: 'message';
  readonly attachments: readonly [
    {
      readonly contentType: 'application/vnd.microsoft.card.adaptive';
      readonly contentUrl: null;
      readonly content: {
        readonly $schema: 'http://adaptivecards.io/schemas/adaptive-card.json';
        readonly type: 'AdaptiveCard';
        readonly version: '1.4';
        readonly body: readonly (TeamsTextBlock | TeamsFactSet)[];
        readonly actions: readonly TeamsOpenUrl[];
        readonly msteams: { readonly width: 'Full'; readonly entities?: readonly TeamsMention[] };
      };
    },
  ];
}

/** A mention: `text` must appear verbatim in a TextBlock; `id` is the Directory's `teams:` (Entra object id or UPN). */
export interface TeamsMention {
  readonly type: 'mention';
  readonly text: string;
  readonly mentioned: { readonly id: string; readonly name: string };
}

export interface TeamsOptions extends DeliveryOptions {
  /** The Workflows webhook URL (a secret: it embeds a signature). */
  readonly url: string;
}

const listFact = (singular: string, plural: string, items: readonly string[]): TeamsFact => ({
  title: items.length === 1 ? singular : plural,
  value: escapedList(items, escapeTeams, { maxEscaped: TEAMS_LIMITS.factValue }),
});

const valueFact = (title: string, value: string): TeamsFact => ({
  title,
  value: fitEscaped(oneLine(value), TEXT_LIMITS.item, TEAMS_LIMITS.factValue, escapeTeams),
});

function facts(notice: ApprovalNotice): TeamsFact[] {
  const { record } = notice;
  const { context } = record;
  const list: TeamsFact[] = [
    valueFact('Agent', context.agent),
    listFact('Owner', 'Owners', context.owners),
    listFact('Action', 'Actions', context.actions),
    listFact('Resource', 'Resources', context.resources),
    valueFact('Region', context.region.length === 0 ? '(global)' : context.region),
    listFact('Rule', 'Rules', context.rules),
  ];
  if (context.agentContext !== undefined && oneLine(context.agentContext).length > 0) {
    list.push({ title: 'Agent context', value: fitEscaped(oneLine(context.agentContext), TEXT_LIMITS.context, TEAMS_LIMITS.factValue, escapeTeams) });
  }
  list.push(valueFact('Expires', formatUtc(record.expiresAt)), valueFact('Request', record.id));
  return list;
}

function reasonText(context: ApprovalContext): string {
  const head = '**Reason given by the agent** (unverified): ';
  if (context.agentReason === undefined || oneLine(context.agentReason).length === 0) return `${head}_none given._`;
  return head + fitEscaped(clean(context.agentReason).trim(), TEXT_LIMITS.reason, TEAMS_LIMITS.reasonText, escapeTeams);
}

/**
 * `<at>Name</at>` for each eligible reviewer the Directory gives a Teams identity (`teams:`),
 * the rest by name. The name inside the tag comes from the Directory, stripped of markup so it
 * matches the entity's text exactly and can open nothing; agent text never gets here.
 */
function reviewersBlock(notice: ApprovalNotice): { block?: TeamsTextBlock; entities: TeamsMention[] } {
  const reviewers = eligibleLinks(notice).map((link) => link.reviewer);
  const entities: TeamsMention[] = [];
  const names = reviewers.slice(0, TEAMS_LIMITS.actions).map((reviewer) => {
    const name = truncate(oneLine(reviewer.displayName).replace(/[\\*_[\]()<>`~&{}#|]/g, ''), 64) || reviewer.id;
    if (reviewer.teamsUserId === undefined) return fitEscaped(name, 64, 200, escapeTeams);
    const text = `<at>${name}</at>`;
    entities.push({ type: 'mention', text, mentioned: { id: reviewer.teamsUserId, name } });
    return text;
  });
  // Without any Teams identity the card stays as it was: the names are on the buttons already.
  if (entities.length === 0) return { entities };
  return { block: { type: 'TextBlock', text: `**Reviewers:** ${names.join(', ')}`, wrap: true }, entities };
}

function card(body: readonly (TeamsTextBlock | TeamsFactSet)[], actions: readonly TeamsOpenUrl[], entities: readonly TeamsMention[]): TeamsMessage {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body,
          actions,
          msteams: entities.length === 0 ? { width: 'Full' } : { width: 'Full', entities },
        },
      },
    ],
  };
}

export function buildTeamsMessage(notice: ApprovalNotice): TeamsMessage {
  const { context } = notice.record;
  const title = fitEscaped(oneLine(`Approval needed: ${context.operation} by ${context.agent}`), 150, 300, escapeTeams);
  const prefix = 'Review as ';
  const actions = eligibleLinks(notice)
    .slice(0, TEAMS_LIMITS.actions)
    .map(
      (link): TeamsOpenUrl => ({
        type: 'Action.OpenUrl',
        title: prefix + truncate(oneLine(link.reviewer.displayName), TEAMS_LIMITS.actionTitle - prefix.length),
        url: link.url,
      }),
    );
  const reviewers = reviewersBlock(notice);
  const body: (TeamsTextBlock | TeamsFactSet)[] = [
    { type: 'TextBlock', text: title, wrap: true, weight: 'Bolder', size: 'Medium' },
    { type: 'FactSet', facts: facts(notice) },
    { type: 'TextBlock', text: reasonText(context), wrap: true },
  ];
  if (reviewers.block !== undefined) body.push(reviewers.block);
  return card(body, actions, reviewers.entities);
}

const OUTCOME_TITLE = { approved: 'Approved', denied: 'Denied', expired: 'Expired', consumed: 'Approved', pending: 'Pending' } as const;

/**
 * The follow-up card when a request announced here is decided: the outcome, who reviewed and
 * what they said (escaped: a comment is free text), and when. A Workflows webhook cannot edit
 * the first card, so this is a second one.
 */
export function buildTeamsOutcome(record: ApprovalRecord, names: ReadonlyMap<string, string>, pageUrl: string): TeamsMessage {
  const { context } = record;
  const title = fitEscaped(oneLine(`${OUTCOME_TITLE[record.status]}: ${context.operation} by ${context.agent}`), 150, 300, escapeTeams);
  const reviews = record.reviews.slice(0, 10).map((review) => {
    const who = names.get(review.reviewer) ?? review.reviewer;
    const comment = oneLine(review.comment).length === 0 ? '' : `: ${oneLine(review.comment)}`;
    return `${who} ${review.decision === 'approve' ? 'approved' : 'denied'} at ${formatUtc(review.at)}${comment}`;
  });
  const list: TeamsFact[] = [
    valueFact('Request', record.id),
    valueFact('Resources', context.resources.join(', ')),
    { title: 'Reviews', value: reviews.length === 0 ? 'none' : escapedList(reviews, escapeTeams, { maxEscaped: TEAMS_LIMITS.factValue, maxItem: 400 }) },
    valueFact(record.status === 'expired' ? 'Expired' : 'Decided', formatUtc(record.decidedAt ?? record.expiresAt)),
  ];
  const outcome =
    record.status === 'denied'
      ? 'The agent was refused; nothing went to AWS.'
      : record.status === 'expired'
        ? 'Nobody decided in time; the agent must ask again.'
        : 'The held request goes on to AWS with credentials for exactly this.';
  return card(
    [
      { type: 'TextBlock', text: title, wrap: true, weight: 'Bolder', size: 'Medium' },
      { type: 'FactSet', facts: list },
      { type: 'TextBlock', text: outcome, wrap: true },
    ],
    [{ type: 'Action.OpenUrl', title: 'Details', url: pageUrl }],
    [],
  );
}

export function createTeamsNotifier(options: TeamsOptions): Notifier {
  const { url } = options;
  const delivery = resolveDelivery(options);
  // Requests announced from this replica, with their reviewers' names and page: one follow-up each.
  const announced = new Map<string, { names: Map<string, string>; pageUrl: string; keepUntil: number }>();
  return {
    channel: 'teams',
    async send(notice: ApprovalNotice): Promise<void> {
      const now = Date.now();
      for (const [id, entry] of announced) if (entry.keepUntil < now) announced.delete(id);
      await postJson(url, buildTeamsMessage(notice), { channel: 'teams', ...delivery });
      announced.set(notice.record.id, {
        names: new Map(notice.links.map((link) => [link.reviewer.id, oneLine(link.reviewer.displayName)] as const)),
        pageUrl: `${notice.reviewPageBaseUrl.replace(/\/$/, '')}/approvals/${notice.record.id}`,
        keepUntil: notice.record.expiresAt + 24 * 60 * 60 * 1000,
      });
    },
    async update(update: NoticeUpdate): Promise<void> {
      if (update.kind !== 'decided' || update.record.status === 'pending') return;
      const entry = announced.get(update.record.id);
      if (entry === undefined) return;
      announced.delete(update.record.id);
      await postJson(url, buildTeamsOutcome(update.record, entry.names, entry.pageUrl), { channel: 'teams', ...delivery });
    },
  };
}
