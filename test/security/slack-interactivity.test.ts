// Attacks on the Slack app's interactivity endpoint (issue 14): each is sent the way Slack sends
// clicks (a signed form POST) to the real endpoint on the real review server, by the Slack
// stand-in; the request stays pending, no review is recorded, and where a person clicked, an
// ephemeral message says why.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { APPROVE_ACTION, DENY_ACTION } from '../../src/approvals/slack/message.js';
import { SLACK_REFUSALS } from '../../src/approvals/slack/interactivity.js';
import { storeFactories } from '../support/approval-harness.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { SlackStandIn } from '../support/slack-standin.js';
import { putObject, SIGNING_SECRET, SLACK, slackPolicy, startSlackRig, type SlackRig } from '../support/slack-rig.js';

let rig: SlackRig;
let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  await rig?.close();
});

async function unchanged(id: string): Promise<void> {
  const record = await rig.record(id);
  expect(record.status).toBe('pending');
  expect(record.reviews).toEqual([]);
}

const ephemeralTo = (user: string) => rig.standin.calls.filter((c) => c.method === 'chat.postEphemeral' && c.body.user === user);

describe('forged, replayed, re-ordered and truncated payloads', () => {
  beforeEach(async () => {
    rig = await startSlackRig();
  });

  it('refuses a click signed with another secret (forged signature)', async () => {
    const { record, ts } = await rig.hold(putObject('forged.txt'));
    const body = SlackStandIn.form(rig.standin.blockActions(ts, APPROVE_ACTION, SLACK.ann));
    const answer = await rig.standin.post(body, rig.standin.sign(body, undefined, 'not-the-signing-secret'));
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.text)).toMatchObject({ code: 'SlackRequestUnverified' });
    await unchanged(record.id);
  });

  it('refuses a click with no signature at all', async () => {
    const { record, ts } = await rig.hold(putObject('unsigned.txt'));
    const body = SlackStandIn.form(rig.standin.blockActions(ts, APPROVE_ACTION, SLACK.ann));
    const answer = await rig.standin.post(body, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(answer.status).toBe(401);
    await unchanged(record.id);
  });

  it('refuses a replayed click: validly signed, but its timestamp is 6 minutes old', async () => {
    const { record, ts } = await rig.hold(putObject('replayed.txt'));
    const body = SlackStandIn.form(rig.standin.blockActions(ts, APPROVE_ACTION, SLACK.ann));
    const answer = await rig.standin.post(body, rig.standin.sign(body, Math.floor(Date.now() / 1000) - 360));
    expect(answer.status).toBe(401);
    expect(answer.text).toContain('more than 5 minutes');
    await unchanged(record.id);
  });

  it('refuses a click whose timestamp header was moved to now while the signature is the old one', async () => {
    const { record, ts } = await rig.hold(putObject('moved-ts.txt'));
    const body = SlackStandIn.form(rig.standin.blockActions(ts, APPROVE_ACTION, SLACK.ann));
    const old = rig.standin.sign(body, Math.floor(Date.now() / 1000) - 360);
    const answer = await rig.standin.post(body, { ...old, 'x-slack-request-timestamp': String(Math.floor(Date.now() / 1000)) });
    expect(answer.status).toBe(401);
    await unchanged(record.id);
  });

  it('refuses a re-ordered payload: the same JSON members in another order than signed', async () => {
    const { record, ts } = await rig.hold(putObject('reordered.txt'));
    const payload = rig.standin.blockActions(ts, APPROVE_ACTION, SLACK.ann);
    const body = SlackStandIn.form(payload);
    const headers = rig.standin.sign(body);
    const reordered = SlackStandIn.form(Object.fromEntries(Object.entries(payload).reverse()));
    expect(reordered).not.toBe(body);
    const answer = await rig.standin.post(reordered, headers);
    expect(answer.status).toBe(401);
    await unchanged(record.id);
  });

  it('refuses a re-ordered form: another field placed before the signed payload', async () => {
    const { record, ts } = await rig.hold(putObject('reordered-form.txt'));
    const body = SlackStandIn.form(rig.standin.blockActions(ts, APPROVE_ACTION, SLACK.ann));
    const headers = rig.standin.sign(body);
    const answer = await rig.standin.post(`x=1&${body}`, headers);
    expect(answer.status).toBe(401);
    await unchanged(record.id);
  });

  it('refuses a truncated payload', async () => {
    const { record, ts } = await rig.hold(putObject('truncated.txt'));
    const body = SlackStandIn.form(rig.standin.blockActions(ts, APPROVE_ACTION, SLACK.ann));
    const headers = rig.standin.sign(body);
    const answer = await rig.standin.post(body.slice(0, body.length - 40), headers);
    expect(answer.status).toBe(401);
    await unchanged(record.id);
  });

  it('refuses a validly signed body carrying two payload fields (two readings)', async () => {
    const { record, ts } = await rig.hold(putObject('two-payloads.txt'));
    const approve = SlackStandIn.form(rig.standin.blockActions(ts, APPROVE_ACTION, SLACK.ann));
    const body = `${approve}&${SlackStandIn.form({ type: 'block_actions' })}`;
    const answer = await rig.standin.post(body, rig.standin.sign(body));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text)).toMatchObject({ code: 'SlackPayloadInvalid' });
    await unchanged(record.id);
  });

  it('refuses an oversized body before reading it whole (size limit)', async () => {
    const { record } = await rig.hold(putObject('oversized.txt'));
    const body = `payload=${'a'.repeat(200 * 1024)}`;
    const answer = await rig.standin.post(body, rig.standin.sign(body));
    expect(answer.status).toBe(413);
    await unchanged(record.id);
  });

  it('refuses a signed click on a button that is not countersign\'s, or names no approval', async () => {
    const { record, ts } = await rig.hold(putObject('other-button.txt'));
    const payload = rig.standin.blockActions(ts, APPROVE_ACTION, SLACK.ann);
    const actions = [{ type: 'button', action_id: 'countersign_approve', value: 'not-an-id' }];
    const body = SlackStandIn.form({ ...payload, actions });
    const answer = await rig.standin.post(body, rig.standin.sign(body));
    expect(answer.status).toBe(400);
    await unchanged(record.id);
  });
});

describe.each(storeFactories(() => redis.url))('clicks by the wrong person, twice, or too late (%s store)', (_name, makeStore) => {
  beforeEach(async () => {
    rig = await startSlackRig(slackPolicy(2), makeStore);
  });

  it('refuses a click by a Slack user the Directory does not know (non-reviewer), ephemerally', async () => {
    const { record, ts } = await rig.hold(putObject('nobody.txt'));
    expect((await rig.standin.click(ts, APPROVE_ACTION, SLACK.nobody)).status).toBe(200);
    await rig.standin.waitForCall((c) => c.method === 'chat.postEphemeral' && c.body.user === SLACK.nobody);
    expect(ephemeralTo(SLACK.nobody)[0]?.body.text).toBe(SLACK_REFUSALS.not_linked);
    await unchanged(record.id);
  });

  it('refuses a click by a reviewer this request does not list (not eligible)', async () => {
    const { record, ts } = await rig.hold(putObject('mallory.txt'));
    await rig.standin.click(ts, APPROVE_ACTION, SLACK.mallory);
    await rig.standin.waitForCall((c) => c.method === 'chat.postEphemeral' && c.body.user === SLACK.mallory);
    expect(ephemeralTo(SLACK.mallory)[0]?.body.text).toBe(SLACK_REFUSALS.not_eligible);
    await unchanged(record.id);
  });

  it("refuses the agent's owner, on Approve and on Deny (self-approval)", async () => {
    const { record, ts } = await rig.hold(putObject('owner.txt'));
    await rig.standin.click(ts, APPROVE_ACTION, SLACK.olga);
    await rig.standin.click(ts, DENY_ACTION, SLACK.olga);
    await rig.standin.waitForCall(() => ephemeralTo(SLACK.olga).length === 2);
    expect(ephemeralTo(SLACK.olga).map((c) => c.body.text)).toEqual([SLACK_REFUSALS.owner, SLACK_REFUSALS.owner]);
    expect(rig.standin.calls.some((c) => c.method === 'views.open')).toBe(false);
    await unchanged(record.id);
  });

  it('counts the same reviewer clicking Approve twice once (quorum 2 stays unmet)', async () => {
    const { record, ts } = await rig.hold(putObject('twice.txt'));
    await rig.standin.click(ts, APPROVE_ACTION, SLACK.ann);
    await rig.standin.click(ts, APPROVE_ACTION, SLACK.ann);
    await rig.standin.waitForCall((c) => c.method === 'chat.postEphemeral' && c.body.user === SLACK.ann);
    expect(ephemeralTo(SLACK.ann)[0]?.body.text).toBe(SLACK_REFUSALS.already_reviewed);
    const after = await rig.record(record.id);
    expect(after.status).toBe('pending');
    expect(after.reviews.map((r) => r.reviewer)).toEqual(['ann']);
  });

  it('refuses a click on a request already decided, and a Deny submitted after it was decided', async () => {
    const { record, ts } = await rig.hold(putObject('decided.txt'));
    await rig.standin.click(ts, DENY_ACTION, SLACK.bob);
    const view = rig.standin.lastView();
    expect(view).toBeDefined();
    await rig.standin.click(ts, APPROVE_ACTION, SLACK.ann);
    await rig.standin.click(ts, APPROVE_ACTION, SLACK.bob); // quorum met: approved
    expect((await rig.record(record.id)).status).toBe('approved');
    const late = await rig.standin.submit(view?.id ?? '', SLACK.bob, 'too late');
    expect(JSON.parse(late.text)).toMatchObject({ response_action: 'errors', errors: { reason: SLACK_REFUSALS.not_pending } });
    await rig.standin.click(ts, DENY_ACTION, SLACK.ann);
    await rig.standin.waitForCall((c) => c.method === 'chat.postEphemeral' && c.body.user === SLACK.ann);
    expect(ephemeralTo(SLACK.ann)[0]?.body.text).toBe(SLACK_REFUSALS.not_pending);
    const after = await rig.record(record.id);
    expect(after.reviews.map((r) => `${r.reviewer}:${r.decision}`)).toEqual(['ann:approve', 'bob:approve']);
  });

  it('refuses a click on a request that expired', async () => {
    const { record, ts } = await rig.hold(putObject('expired.txt'));
    // 16 minutes later (the pending timeout is 15), Slack delivers the click, signed then.
    rig.advance(16 * 60_000);
    const body = SlackStandIn.form(rig.standin.blockActions(ts, APPROVE_ACTION, SLACK.ann));
    expect((await rig.standin.post(body, rig.standin.sign(body, Math.floor(rig.now() / 1000)))).status).toBe(200);
    await rig.standin.waitForCall((c) => c.method === 'chat.postEphemeral' && c.body.user === SLACK.ann);
    expect(ephemeralTo(SLACK.ann)[0]?.body.text).toBe(SLACK_REFUSALS.expired);
    const after = await rig.record(record.id);
    expect(after.status).toBe('expired');
    expect(after.reviews).toEqual([]);
  });

  it('refuses a Deny submission by someone who may not review, in the modal, deciding nothing', async () => {
    const { record, ts } = await rig.hold(putObject('deny-forged.txt'));
    await rig.standin.click(ts, DENY_ACTION, SLACK.ann);
    const view = rig.standin.lastView();
    const answer = await rig.standin.submit(view?.id ?? '', SLACK.olga, 'I own it and say no');
    expect(JSON.parse(answer.text)).toMatchObject({ response_action: 'errors', errors: { reason: SLACK_REFUSALS.owner } });
    await unchanged(record.id);
  });
});

describe('a signing secret does not leak through answers', () => {
  beforeEach(async () => {
    rig = await startSlackRig();
  });

  it('never echoes the signing secret or the expected signature in a refusal', async () => {
    const { ts } = await rig.hold(putObject('echo.txt'));
    const body = SlackStandIn.form(rig.standin.blockActions(ts, APPROVE_ACTION, SLACK.ann));
    const good = rig.standin.sign(body);
    const answer = await rig.standin.post(body, rig.standin.sign(body, undefined, 'wrong'));
    expect(answer.text).not.toContain(SIGNING_SECRET);
    expect(answer.text).not.toContain(good['x-slack-signature']?.slice(3) ?? 'x');
  });
});
