// Slack app mode end to end: countersign (built CLI) with the Slack app configured against the
// Slack stand-in on loopback, moto (auth on) as AWS, boto3 as the agent. The held request's
// message mentions the eligible reviewers; the stand-in clicks Approve as one of them, signed as
// Slack signs, and the held request goes through to moto; the message then says who approved and
// what AWS answered. Deny goes through the modal and the agent is told the reason.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVE_ACTION, DENY_ACTION } from '../../src/approvals/slack/message.js';
import { boto3Calls } from '../support/boto3.js';
import { agentEnv, startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { registerSecret } from '../support/evidence.js';
import { assumedRoles } from '../support/moto-state.js';
import { countersignEnv, seedS3, startMoto, type MotoServer } from '../support/moto.js';
import { SlackStandIn, STANDIN_CHANNEL_ID, type SlackCall } from '../support/slack-standin.js';

const BOT_TOKEN = 'xoxb-e2e-standin-token-abcdef0123456789';
const SIGNING_SECRET = 'e2e-signing-secret-fedcba9876543210';
const ANN = 'U0ANN0001';
const BOB = 'U0BOB0001';

function policies(moto: MotoServer): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cs-slack-policies-'));
  writeFileSync(
    path.join(dir, 'directory.yaml'),
    `apiVersion: countersign.dev/v1alpha1
kind: Directory
agents:
  exporter: { owners: [olga] }
reviewers:
  olga: { name: Olga Owner, groups: [data-owners], slack: U0OLGA001 }
  ann: { name: Ann Analyst, groups: [data-owners], slack: ${ANN} }
  bob: { name: Bob Builder, groups: [data-owners], slack: ${BOB} }
groups:
  data-owners: {}
`,
  );
  writeFileSync(
    path.join(dir, 'rules.yaml'),
    `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: exports
    effect: approve
    agents: ["exporter"]
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::exports/*"]
    approval: { groups: [data-owners], holdTimeout: 30s }
    credentials: { roleArn: "${moto.roleArn}" }
`,
  );
  return dir;
}

describe('Slack app mode', { timeout: 120_000 }, () => {
  let moto: MotoServer;
  let cs: CountersignProcess;
  let agent: AgentKey;
  const standin = new SlackStandIn(BOT_TOKEN, SIGNING_SECRET);

  beforeAll(async () => {
    registerSecret(BOT_TOKEN, SIGNING_SECRET);
    [moto] = await Promise.all([startMoto(), standin.start()]);
    await seedS3(moto, 'exports', { 'a.csv': 'exports a', 'b.csv': 'exports b' });
    cs = await startCountersign({
      policies: policies(moto),
      env: {
        ...countersignEnv(moto),
        COUNTERSIGN_SLACK_BOT_TOKEN: BOT_TOKEN,
        COUNTERSIGN_SLACK_SIGNING_SECRET: SIGNING_SECRET,
        COUNTERSIGN_SLACK_CHANNEL: STANDIN_CHANNEL_ID,
        COUNTERSIGN_SLACK_API_URL: standin.apiUrl,
      },
    });
    standin.endpoint = `${cs.reviewUrl}/slack/interactivity`;
    agent = cs.issueAgent('exporter');
  });

  afterAll(async () => {
    if (moto !== undefined) registerSecret(...(await assumedRoles(moto.endpoint)).flatMap((r) => [r.secret_access_key, r.session_token]));
    await cs?.stop();
    await Promise.all([moto?.stop(), standin.stop()]);
  });

  const getObject = (key: string) => ({ service: 's3', op: 'get_object', params: { Bucket: 'exports', Key: key }, read_body: true });
  const posted = (key: string) => (c: SlackCall) => c.method === 'chat.postMessage' && c.body.thread_ts === undefined && JSON.stringify(c.body).includes(key);

  it('a click on Approve by an eligible reviewer lets the held request through to AWS, and the message says so', async () => {
    const held = boto3Calls(agentEnv(cs, agent, { AWS_MAX_ATTEMPTS: '1' }), [getObject('a.csv')]);
    const call = await standin.waitForCall(posted('a.csv'), 30_000);
    const blocks = JSON.stringify(call.body.blocks);
    expect(blocks).toContain(`<@${ANN}>`);
    expect(blocks).toContain(`<@${BOB}>`);
    expect(blocks).not.toContain('<@U0OLGA001>'); // the owner is never asked
    const ts = standin.message()?.ts ?? '';

    expect((await standin.click(ts, APPROVE_ACTION, ANN)).status).toBe(200);
    const [outcome] = await held;
    expect(outcome).toMatchObject({ ok: true, result: { Body: 'exports a' } });
    const [record] = await cs.waitForRequests((r) => r.upstreamStatus === 200 && r.decision === 'approve');
    expect(record).toMatchObject({ approvers: ['ann'] });

    await standin.waitForCall((c) => c.method === 'chat.update' && c.body.ts === ts && JSON.stringify(c.body).includes('AWS answered *HTTP 200*'));
    const message = JSON.stringify(standin.message(ts)?.blocks);
    expect(message).toContain('Approved');
    expect(message).toContain('*Ann Analyst* :white_check_mark: approved');
    expect(message).not.toContain('countersign_approve'); // no buttons once decided
    expect(standin.thread(ts).map((m) => m.text).join('\n')).toContain('Ann Analyst');
    expect(standin.calls.every((c) => c.ok)).toBe(true); // every call carried the bot token
  });

  it('Deny opens the modal first; the submission decides and the agent is told the reason', async () => {
    const held = boto3Calls(agentEnv(cs, agent, { AWS_MAX_ATTEMPTS: '1' }), [getObject('b.csv')]);
    await standin.waitForCall(posted('b.csv'), 30_000);
    const ts = [...standin.messages.values()].filter((m) => m.threadTs === undefined).at(-1)?.ts ?? '';
    await standin.click(ts, DENY_ACTION, BOB);
    const view = standin.lastView();
    expect(view?.view.callback_id).toBe('countersign_deny');
    expect((await standin.submit(view?.id ?? '', BOB, 'not this quarter')).status).toBe(200);
    const [outcome] = await held;
    expect(outcome).toMatchObject({ ok: false, code: 'AccessDenied', status: 403 });
    expect(outcome?.message).toContain('not this quarter');
    await standin.waitForCall((c) => c.method === 'chat.update' && c.body.ts === ts && JSON.stringify(c.body).includes('*Denied*'));
    expect(standin.thread(ts).map((m) => m.text).join('\n')).toContain('not this quarter');
  });
});
