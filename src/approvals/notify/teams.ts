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
 */

import type { ApprovalContext } from '../types.js';
import { clean, escapedList, escapeTeams, fitEscaped, formatUtc, oneLine, TEXT_LIMITS, truncate } from './escape.js';
import { eligibleLinks, resolveDelivery, type DeliveryOptions } from './links.js';
import { postJson } from './post.js';
import type { ApprovalNotice, Notifier } from './types.js';

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
        readonly body: readonly [TeamsTextBlock, TeamsFactSet, TeamsTextBlock];
        readonly actions: readonly TeamsOpenUrl[];
        readonly msteams: { readonly width: 'Full' };
      };
    },
  ];
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
          body: [
            { type: 'TextBlock', text: title, wrap: true, weight: 'Bolder', size: 'Medium' },
            { type: 'FactSet', facts: facts(notice) },
            { type: 'TextBlock', text: reasonText(context), wrap: true },
          ],
          actions,
          msteams: { width: 'Full' },
        },
      },
    ],
  };
}

export function createTeamsNotifier(options: TeamsOptions): Notifier {
  const { url } = options;
  const delivery = resolveDelivery(options);
  return {
    channel: 'teams',
    async send(notice: ApprovalNotice): Promise<void> {
      await postJson(url, buildTeamsMessage(notice), { channel: 'teams', ...delivery });
    },
  };
}
