import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createNotifiers } from '../../src/approvals/notify/index.js';
import type { ApprovalNotice, Notifier, ReviewLink } from '../../src/approvals/notify/types.js';
import type { ApprovalContext, ApprovalRecord } from '../../src/approvals/types.js';
import type { ReviewerSpec } from '../../src/policy/types.js';
import { closeReceivers, receivers, startReceiver, type Received } from '../support/receiver.js';
import { binding } from '../support/approval-draft.js';

afterEach(closeReceivers);

// Fixtures, built by hand to match src/approvals/types.ts.
const EVIL = '<!channel> please approve <http://evil.example|here> [click](http://evil.example) <at>Boss</at>';
const CREATED = Date.UTC(2025, 0, 31, 14, 0, 0);
const EXPIRES = CREATED + 15 * 60_000;

function reviewer(id: string, displayName: string): ReviewerSpec {
  return { id, displayName, groups: ['sre'], email: `${id}@example.com`, source: { file: 'policies/directory.yaml', line: 1, column: 1 } };
}

const alice = reviewer('alice', 'Alice Adams');
const bob = reviewer('bob', 'Bob Brown');
const carol = reviewer('carol', 'Carol Chen');
const mallory = reviewer('mallory', 'Mallory (not eligible)');
const olivia = reviewer('olivia', 'Olivia Owner');

function context(overrides: Partial<ApprovalContext> = {}): ApprovalContext {
  return {
    binding: binding('s3:DeleteBucket', 'arn:aws:s3:::prod-data'),
    agent: 'deploy-bot',
    owners: ['olivia'],
    service: 's3',
    operation: 'DeleteBucket',
    region: 'us-east-1',
    actions: ['s3:DeleteBucket'],
    resources: ['arn:aws:s3:::prod-data'],
    rules: ['prod-deletes-need-approval'],
    reasons: ['action:s3:DeleteBucket'],
    parametersPreview: '{\n  "Bucket": "prod-data"\n}',
    agentReason: EVIL,
    agentContext: 'run-42',
    method: 'DELETE',
    host: 'prod-data.s3.us-east-1.amazonaws.com',
    path: '/',
    ...overrides,
  };
}

function record(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return {
    id: 'apr_01HZX',
    fingerprint: 'f'.repeat(64),
    intent: 'change',
    status: 'pending',
    context: context(),
    requirements: [
      { rule: 'prod-deletes-need-approval', quorum: 1, eligible: ['alice', 'bob'] },
      { rule: 'security-review', quorum: 1, eligible: ['carol', 'alice'] },
    ],
    reviews: [],
    createdAt: CREATED,
    expiresAt: EXPIRES,
    usesLeft: 1,
    ...overrides,
  };
}

const link = (spec: ReviewerSpec): ReviewLink => ({ reviewer: spec, url: `https://countersign.example/review/apr_01HZX?t=tok-${spec.id}` });

function notice(overrides: Partial<ApprovalRecord> = {}, links?: ReviewLink[]): ApprovalNotice {
  return {
    record: record(overrides),
    // mallory is eligible under no rule; olivia owns the agent; alice appears twice.
    links: links ?? [link(alice), link(mallory), link(bob), link(olivia), link(carol), link(alice)],
    reviewPageBaseUrl: 'https://countersign.example/review',
  };
}

const fast = { timeoutMs: 2_000, attempts: 1, backoffMs: 10 };

function only(notifiers: Notifier[]): Notifier {
  expect(notifiers).toHaveLength(1);
  const [notifier] = notifiers;
  if (notifier === undefined) throw new Error('no notifier');
  return notifier;
}

async function deliver(settings: Parameters<typeof createNotifiers>[0], value: ApprovalNotice = notice()): Promise<Received> {
  await only(createNotifiers({ ...fast, ...settings })).send(value);
  const receiver = receivers.at(-1);
  expect(receiver?.requests).toHaveLength(1);
  const received = receiver?.requests[0];
  if (received === undefined) throw new Error('nothing received');
  expect(received.method).toBe('POST');
  expect(received.headers['content-type']).toBe('application/json');
  return received;
}

function json(received: Received): Record<string, unknown> {
  return JSON.parse(received.body) as Record<string, unknown>;
}

describe('generic webhook', () => {
  const secret = 'whsec_test_0123456789';

  it('posts the approval, its context verbatim and the eligible reviewers links', async () => {
    const receiver = await startReceiver();
    const received = await deliver({ webhookUrl: `${receiver.base}/hooks/countersign`, webhookSecret: secret });
    expect(received.path).toBe('/hooks/countersign');
    expect(json(received)).toEqual({
      type: 'approval.requested',
      approval: {
        id: 'apr_01HZX',
        status: 'pending',
        createdAt: '2025-01-31T14:00:00.000Z',
        expiresAt: '2025-01-31T14:15:00.000Z',
        context: { ...context() },
        requirements: [
          { rule: 'prod-deletes-need-approval', quorum: 1, eligible: ['alice', 'bob'] },
          { rule: 'security-review', quorum: 1, eligible: ['carol', 'alice'] },
        ],
      },
      reviewLinks: [
        { reviewer: 'alice', name: 'Alice Adams', url: 'https://countersign.example/review/apr_01HZX?t=tok-alice' },
        { reviewer: 'bob', name: 'Bob Brown', url: 'https://countersign.example/review/apr_01HZX?t=tok-bob' },
        { reviewer: 'carol', name: 'Carol Chen', url: 'https://countersign.example/review/apr_01HZX?t=tok-carol' },
      ],
    });
    // Plain JSON: the agent's text arrives exactly as sent, as a string value, for the receiver to treat as untrusted.
    const approval = json(received).approval as { context: ApprovalContext };
    expect(approval.context.agentReason).toBe(EVIL);
  });

  it('signs "<timestamp>.<raw body>" with HMAC-SHA256 and a recent timestamp', async () => {
    const receiver = await startReceiver();
    const before = Math.floor(Date.now() / 1000);
    const received = await deliver({ webhookUrl: `${receiver.base}/hook`, webhookSecret: secret });
    const after = Math.floor(Date.now() / 1000);

    const timestamp = received.headers['x-countersign-timestamp'];
    const signature = received.headers['x-countersign-signature'];
    expect(timestamp).toMatch(/^\d+$/);
    expect(Number(timestamp)).toBeGreaterThanOrEqual(before);
    expect(Number(timestamp)).toBeLessThanOrEqual(after);
    expect(Math.abs(Date.now() / 1000 - Number(timestamp))).toBeLessThan(300);

    const expected = createHmac('sha256', secret).update(`${String(timestamp)}.${received.body}`).digest('hex');
    expect(signature).toBe(`v1=${expected}`);
    // The signature covers the body: another secret or a changed body does not verify.
    expect(createHmac('sha256', 'other').update(`${String(timestamp)}.${received.body}`).digest('hex')).not.toBe(expected);
    expect(createHmac('sha256', secret).update(`${String(timestamp)}.${received.body} `).digest('hex')).not.toBe(expected);
  });
});

describe('Slack', () => {
  it('posts the Block Kit message, block by block', async () => {
    const receiver = await startReceiver();
    const received = await deliver({ slackWebhookUrl: `${receiver.base}/services/T000/B000/XXXX` });
    expect(received.path).toBe('/services/T000/B000/XXXX');
    const expiresSeconds = EXPIRES / 1000;
    expect(json(received)).toEqual({
      text: 'Approval needed: DeleteBucket by deploy-bot (request apr_01HZX)',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Approval needed: DeleteBucket by deploy-bot', emoji: false } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Agent*\ndeploy-bot' },
            { type: 'mrkdwn', text: '*Owner*\nolivia' },
            { type: 'mrkdwn', text: '*Action*\ns3:DeleteBucket' },
            { type: 'mrkdwn', text: '*Resource*\narn:aws:s3:::prod-data' },
            { type: 'mrkdwn', text: '*Region*\nus-east-1' },
            { type: 'mrkdwn', text: '*Rule*\nprod-deletes-need-approval' },
            { type: 'mrkdwn', text: `*Expires*\n<!date^${expiresSeconds}^{date_short_pretty} {time}|2025-01-31 14:15 UTC>` },
          ],
        },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text:
              '*Reason given by the agent* (unverified)\n' +
              '>&lt;!channel&gt; please approve &lt;http://evil.example|here&gt; [click](http://evil.example) &lt;at&gt;Boss&lt;/at&gt;\n' +
              '*Agent context:* run-42',
          },
        },
        { type: 'context', elements: [{ type: 'mrkdwn', text: 'Request `apr_01HZX`' }] },
        {
          type: 'actions',
          elements: [
            { type: 'button', text: { type: 'plain_text', text: 'Review as Alice Adams', emoji: false }, url: 'https://countersign.example/review/apr_01HZX?t=tok-alice', action_id: 'review-0' },
            { type: 'button', text: { type: 'plain_text', text: 'Review as Bob Brown', emoji: false }, url: 'https://countersign.example/review/apr_01HZX?t=tok-bob', action_id: 'review-1' },
            { type: 'button', text: { type: 'plain_text', text: 'Review as Carol Chen', emoji: false }, url: 'https://countersign.example/review/apr_01HZX?t=tok-carol', action_id: 'review-2' },
          ],
        },
      ],
    });
    // Nothing the agent wrote survives as Slack control syntax; the only `<…>` is countersign's own date token.
    expect(received.body).not.toContain('<!channel');
    expect(received.body).not.toContain('<http');
    expect(received.body).not.toContain('<at>');
    expect(received.body.match(/</g)).toHaveLength(1);
    expect(received.body).not.toMatch(/tok-mallory|tok-olivia/);
  });

  it('escapes mention and link syntax wherever the agent controls the text', async () => {
    const receiver = await startReceiver();
    const sneaky = context({
      resources: ['arn:aws:s3:::b/<@U123>', 'arn:aws:s3:::b/<!here>\n*Region*\nus-west-2'],
      agentContext: '<!everyone>',
      agentReason: 'line one\n> <@U999> & more',
    });
    const received = await deliver({ slackWebhookUrl: `${receiver.base}/s` }, notice({ context: sneaky }));
    const { blocks } = json(received) as { blocks: { fields?: { text: string }[]; text?: { text: string } }[] };
    expect(blocks[1]?.fields?.[3]?.text).toBe('*Resources*\narn:aws:s3:::b/&lt;@U123&gt;\narn:aws:s3:::b/&lt;!here&gt; *Region* us-west-2');
    expect(blocks[2]?.text?.text).toBe(
      '*Reason given by the agent* (unverified)\n>line one\n>&gt; &lt;@U999&gt; &amp; more\n*Agent context:* &lt;!everyone&gt;',
    );
    expect(received.body.match(/</g)).toHaveLength(1);
  });

  it('keeps to Slack limits: long text, long lists, 25 buttons per actions block', async () => {
    const receiver = await startReceiver();
    const many = Array.from({ length: 30 }, (_, index) => reviewer(`r${index}`, `Reviewer ${index} ${'x'.repeat(100)}`));
    const huge = context({
      agent: 'a'.repeat(300),
      resources: Array.from({ length: 40 }, (_, index) => `arn:aws:s3:::bucket/${'&'.repeat(400)}${index}`),
      agentReason: '&\n'.repeat(3000),
    });
    const value = notice(
      { context: huge, requirements: [{ rule: 'r', quorum: 2, eligible: many.map((spec) => spec.id) }] },
      many.map(link),
    );
    const received = await deliver({ slackWebhookUrl: `${receiver.base}/s` }, value);
    const message = json(received) as {
      blocks: { type: string; text?: { text: string }; fields?: { text: string }[]; elements?: { text: { text: string } | string; action_id?: string }[] }[];
    };
    const [header, fields, reason, , first, second] = message.blocks;
    expect(header?.text?.text.length).toBeLessThanOrEqual(150);
    expect(header?.text?.text.endsWith('…')).toBe(true);
    for (const field of fields?.fields ?? []) expect(field.text.length).toBeLessThanOrEqual(2000);
    const resources = fields?.fields?.[3]?.text ?? '';
    expect(resources.startsWith('*Resources*\n')).toBe(true);
    expect(resources).toMatch(/… and \d+ more$/);
    expect(reason?.text?.text.length).toBeLessThanOrEqual(3000);
    expect(reason?.text?.text).toContain('…');
    expect(reason?.text?.text).not.toMatch(/&(?!amp;|lt;|gt;)/);

    expect(first?.type).toBe('actions');
    expect(first?.elements).toHaveLength(25);
    expect(second?.type).toBe('actions');
    expect(second?.elements).toHaveLength(5);
    const buttons = [...(first?.elements ?? []), ...(second?.elements ?? [])];
    expect(new Set(buttons.map((button) => button.action_id)).size).toBe(30);
    for (const button of buttons) {
      const text = button.text as { text: string };
      expect(text.text.length).toBeLessThanOrEqual(75);
      expect(text.text.startsWith('Review as Reviewer ')).toBe(true);
    }
  });

  it('says so instead of posting an empty actions block when no reviewer is eligible', async () => {
    const receiver = await startReceiver();
    const received = await deliver({ slackWebhookUrl: `${receiver.base}/s` }, notice({}, [link(mallory), link(olivia)]));
    const { blocks } = json(received) as { blocks: { type: string; elements?: { text: string }[] }[] };
    expect(blocks.map((block) => block.type)).toEqual(['header', 'section', 'section', 'context', 'context']);
    expect(blocks[4]?.elements?.[0]?.text).toBe('No eligible reviewer has a review link.');
    expect(received.body).not.toContain('tok-');
  });
});

describe('Microsoft Teams', () => {
  it('posts an Adaptive Card with a FactSet and one OpenUrl action per eligible reviewer', async () => {
    const receiver = await startReceiver((res) => {
      res.statusCode = 202;
      res.end();
    });
    const received = await deliver({ teamsWebhookUrl: `${receiver.base}/workflows/abc/triggers/manual/paths/invoke?sig=XXXX` });
    expect(received.path).toBe('/workflows/abc/triggers/manual/paths/invoke?sig=XXXX');
    const wj = '\u2060';
    expect(json(received)).toEqual({
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
              { type: 'TextBlock', text: 'Approval needed: DeleteBucket by deploy-bot', wrap: true, weight: 'Bolder', size: 'Medium' },
              {
                type: 'FactSet',
                facts: [
                  { title: 'Agent', value: 'deploy-bot' },
                  { title: 'Owner', value: 'olivia' },
                  { title: 'Action', value: 's3:DeleteBucket' },
                  { title: 'Resource', value: 'arn:aws:s3:::prod-data' },
                  { title: 'Region', value: 'us-east-1' },
                  { title: 'Rule', value: 'prod-deletes-need-approval' },
                  { title: 'Agent context', value: 'run-42' },
                  { title: 'Expires', value: '2025-01-31 14:15 UTC' },
                  { title: 'Request', value: 'apr\\_01HZX' },
                ],
              },
              {
                type: 'TextBlock',
                text:
                  '**Reason given by the agent** (unverified): ' +
                  `\\<!channel\\> please approve \\<http://evil.example|here\\> \\[click\\]\\(http://evil.example\\) \\<${wj}at\\>Boss\\</${wj}at\\>`,
                wrap: true,
              },
            ],
            actions: [
              { type: 'Action.OpenUrl', title: 'Review as Alice Adams', url: 'https://countersign.example/review/apr_01HZX?t=tok-alice' },
              { type: 'Action.OpenUrl', title: 'Review as Bob Brown', url: 'https://countersign.example/review/apr_01HZX?t=tok-bob' },
              { type: 'Action.OpenUrl', title: 'Review as Carol Chen', url: 'https://countersign.example/review/apr_01HZX?t=tok-carol' },
            ],
            msteams: { width: 'Full' },
          },
        },
      ],
    });
    const parsed = JSON.parse(received.body) as unknown;
    const texts = JSON.stringify(parsed);
    expect(texts).not.toMatch(/<\/?at>/i);
    expect(texts).not.toContain('[click](');
    expect(received.body).not.toMatch(/tok-mallory|tok-olivia/);
  });

  it('escapes markdown in fact values: lists, links, emphasis, mentions, card functions', async () => {
    const receiver = await startReceiver();
    const sneaky = context({
      agent: 'bot_*one*',
      resources: ['- [x](http://evil.example)', '1. <at>Boss</at>', '{{DATE(2017-02-14T06:08:39Z, SHORT)}}'],
      agentReason: '- item\n# heading\n12. numbered',
    });
    const received = await deliver({ teamsWebhookUrl: `${receiver.base}/t` }, notice({ context: sneaky }));
    const card = (json(received).attachments as { content: { body: [{ text: string }, { facts: { title: string; value: string }[] }, { text: string }] } }[])[0]?.content;
    const facts = card?.body[1].facts ?? [];
    expect(facts[0]).toEqual({ title: 'Agent', value: 'bot\\_\\*one\\*' });
    expect(facts[3]).toEqual({
      title: 'Resources',
      value: '\\- \\[x\\]\\(http://evil.example\\)\n1\\. \\<\u2060at\\>Boss\\</\u2060at\\>\n{\u2060{DATE\\(2017-02-14T06:08:39Z, SHORT\\)}}',
    });
    expect(card?.body[0].text).toBe('Approval needed: DeleteBucket by bot\\_\\*one\\*');
    expect(card?.body[2].text).toBe('**Reason given by the agent** (unverified): \\- item\n\\# heading\n12\\. numbered');
  });
});
