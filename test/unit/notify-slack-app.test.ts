// The Slack app's pieces on their own: the v0 signature (Slack's documented example), the
// message as the request moves from pending to decided, and the settings that go together.
import { describe, expect, it } from 'vitest';
import { buildAppMessage, APPROVE_ACTION, DENY_ACTION } from '../../src/approvals/slack/message.js';
import { signSlack, verifySlackSignature } from '../../src/approvals/slack/signature.js';
import type { ApprovalRecord } from '../../src/approvals/types.js';
import { loadConfig } from '../../src/config/config.js';
import type { ReviewerSpec } from '../../src/policy/types.js';
import { draft } from '../support/approval-draft.js';

// api.slack.com/authentication/verifying-requests-from-slack, "Validating a request".
const DOC_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const DOC_TIMESTAMP = '1531420618';
const DOC_BODY =
  'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
const DOC_SIGNATURE = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';

describe('Slack request signature', () => {
  const at = Number(DOC_TIMESTAMP) * 1000;
  it("computes Slack's documented example", () => {
    expect(signSlack(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY)).toBe(DOC_SIGNATURE);
    expect(verifySlackSignature(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, Buffer.from(DOC_BODY), at + 1_000)).toEqual({ ok: true });
  });
  it('refuses outside 5 minutes either way, a changed byte, a missing or malformed header', () => {
    const body = Buffer.from(DOC_BODY);
    expect(verifySlackSignature(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, body, at + 301_000)).toEqual({ ok: false, reason: 'stale' });
    expect(verifySlackSignature(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, body, at - 301_000)).toEqual({ ok: false, reason: 'stale' });
    expect(verifySlackSignature(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, Buffer.from(`${DOC_BODY} `), at)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySlackSignature(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE.toUpperCase(), body, at)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySlackSignature(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE.slice(0, -2), body, at)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySlackSignature(DOC_SECRET, undefined, DOC_SIGNATURE, body, at)).toEqual({ ok: false, reason: 'missing' });
    expect(verifySlackSignature(DOC_SECRET, '1531420618.5', DOC_SIGNATURE, body, at)).toEqual({ ok: false, reason: 'missing' });
  });
});

const reviewers = new Map<string, ReviewerSpec>([
  ['ann', { id: 'ann', displayName: 'Ann', groups: [], slackUserId: 'U0ANN0001', source: { file: 'd', line: 1, column: 1 } }],
  ['bob', { id: 'bob', displayName: 'Bob', groups: [], source: { file: 'd', line: 1, column: 1 } }],
]);

function record(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  const d = draft({ requirements: [{ rule: 'exports', quorum: 2, eligible: ['ann', 'bob'] }] });
  return { id: '00000000-0000-4000-8000-000000000001', fingerprint: d.fingerprint, intent: d.intent, status: 'pending', context: d.context, requirements: d.requirements, reviews: [], createdAt: 0, expiresAt: 900_000, usesLeft: 1, ...overrides };
}

const actionIds = (message: ReturnType<typeof buildAppMessage>) =>
  message.blocks.flatMap((b) => (b.type === 'actions' ? b.elements.map((e) => e.action_id) : []));

describe('Slack app message', () => {
  it('while pending: mentions reviewers with a Slack id, names the rest, shows quorum progress and the buttons', () => {
    const message = buildAppMessage({ record: record(), reviewers, pageUrl: 'https://cs.example/approvals/x' });
    const text = JSON.stringify(message.blocks);
    expect(text).toContain('*exports*: 0 of 2 approval(s) from <@U0ANN0001>, Bob');
    expect(actionIds(message)).toEqual([APPROVE_ACTION, DENY_ACTION, 'countersign_details']);
  });
  it('offers approve-for-a-while buttons only where the rule allows a window, never longer than it', () => {
    const message = buildAppMessage({ record: record({ maxWindowMs: 120 * 60_000 }), reviewers, pageUrl: 'https://cs.example/approvals/x' });
    const windows = message.blocks.flatMap((b) => (b.type === 'actions' ? b.elements.filter((e) => e.action_id.startsWith('countersign_approve_window')).map((e) => e.value) : []));
    expect(windows).toEqual(['00000000-0000-4000-8000-000000000001|15', '00000000-0000-4000-8000-000000000001|60', '00000000-0000-4000-8000-000000000001|120']);
  });
  it('once decided: no Approve or Deny, the reviews, the outcome and what AWS answered', () => {
    const approved = record({ status: 'approved', decidedAt: 60_000, reviews: [{ reviewer: 'ann', decision: 'approve', comment: 'ok <!here>', at: 30_000 }, { reviewer: 'bob', decision: 'approve', comment: '', at: 60_000 }] });
    const message = buildAppMessage({ record: approved, reviewers, pageUrl: 'https://cs.example/approvals/x', aws: { status: 200, at: 61_000 } });
    const text = JSON.stringify(message.blocks);
    expect(actionIds(message)).toEqual(['countersign_details']);
    expect(text).toContain('2 of 2 approval(s)');
    expect(text).toContain('*Ann* :white_check_mark: approved');
    expect(text).toContain('ok &lt;!here&gt;');
    expect(text).toContain('AWS answered *HTTP 200*');
    expect(message.text.startsWith('Approved: GetObject by bot')).toBe(true);
  });
});

describe('Slack app settings', () => {
  const all = { COUNTERSIGN_SLACK_BOT_TOKEN: 'xoxb-1', COUNTERSIGN_SLACK_SIGNING_SECRET: 's', COUNTERSIGN_SLACK_CHANNEL: 'C0123' };
  it('takes the three together, with an optional API URL', () => {
    expect(loadConfig(all).approvals.slackApp).toEqual({ botToken: 'xoxb-1', signingSecret: 's', channel: 'C0123' });
    expect(loadConfig({ ...all, COUNTERSIGN_SLACK_API_URL: 'http://127.0.0.1:1/api' }).approvals.slackApp?.apiUrl).toBe('http://127.0.0.1:1/api');
    expect(loadConfig({}).approvals.slackApp).toBeUndefined();
  });
  it('refuses one without the others, and never quotes a secret', () => {
    for (const missing of Object.keys(all)) {
      const env: Record<string, string> = { ...all };
      delete env[missing];
      expect(() => loadConfig(env)).toThrow(/go together/);
    }
    expect(() => loadConfig({ ...all, COUNTERSIGN_SLACK_API_URL: 'ftp://x' })).toThrow(/must be an http\(s\) URL/);
    expect(() => loadConfig({ COUNTERSIGN_SLACK_SIGNING_SECRET: 'sekrit-value' })).toThrow(expect.objectContaining({ message: expect.not.stringContaining('sekrit-value') as string }) as Error);
  });
});
