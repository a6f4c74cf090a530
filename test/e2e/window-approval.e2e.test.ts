// Approve for a while, end to end: countersign (memory store) in front of moto (auth on), boto3
// as the agent. A reviewer approves one PutObject for 15 minutes through the API: the same agent
// writing the same key goes through again without a review, another key is held anew, and the
// approval record keeps the request it let go and what AWS answered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3Calls } from '../support/boto3.js';
import { agentEnv, startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { registerSecret } from '../support/evidence.js';
import { assumedRoles } from '../support/moto-state.js';
import { countersignEnv, seedS3, startMoto, type MotoServer } from '../support/moto.js';

interface ApprovalView {
  id: string;
  status: string;
  windowMinutes?: number;
  timesUsed?: number;
  lastUse?: { requestId: string; upstreamStatus?: number };
}

function policy(moto: MotoServer): Record<string, string> {
  return {
    'directory.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Directory
agents:
  status-bot: { owners: [olga] }
reviewers:
  olga: { name: Olga Owner }
  ann: { name: Ann Analyst }
`,
    'rules.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: status-writes
    description: The status bot rewrites its own status file; approve it for a while during a run.
    effect: approve
    agents: ["status-bot"]
    actions: ["s3:PutObject"]
    resources: ["arn:aws:s3:::drop/*"]
    approval: { reviewers: [ann], holdTimeout: 1s, maxWindow: 30m }
    credentials: { roleArn: "${moto.roleArn}" }
  - name: status-reads
    effect: allow
    agents: ["status-bot"]
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::drop/*"]
    credentials: { roleArn: "${moto.roleArn}" }
`,
  };
}

describe('approve for a while, end to end', { timeout: 120_000 }, () => {
  let moto: MotoServer;
  let cs: CountersignProcess;
  let agent: AgentKey;
  let token = '';

  beforeAll(async () => {
    moto = await startMoto();
    await seedS3(moto, 'drop', { 'status.json': '{}' });
    cs = await startCountersign({ policies: policy(moto), env: countersignEnv(moto) });
    agent = cs.issueAgent('status-bot');
    token = /COUNTERSIGN_REVIEWER_TOKEN=(\S+)/.exec(cs.cli(['reviewers', 'token', 'ann']))?.[1] ?? '';
    registerSecret(token);
  });

  afterAll(async () => {
    if (moto !== undefined) registerSecret(...(await assumedRoles(moto.endpoint)).flatMap((r) => [r.secret_access_key, r.session_token]));
    await cs?.stop();
    await moto?.stop();
  });

  const put = (key: string, body: string) => ({ service: 's3', op: 'put_object', params: { Bucket: 'drop', Key: key, Body: body } });
  const send = (calls: unknown[]) => boto3Calls(agentEnv(cs, agent, { AWS_MAX_ATTEMPTS: '1', AWS_RETRY_MODE: 'standard' }), calls);
  const api = (method: string, suffix: string, body?: object) =>
    fetch(`${cs.reviewUrl}/api/v1/approvals${suffix}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) });
  const heldId = (message: string | undefined) => /Approval request ([0-9a-f-]{36})/.exec(message ?? '')?.[1] ?? '';

  it('one review lets the same write through for the window, never another key; the record shows what AWS answered', async () => {
    const [first] = await send([put('status.json', '{"run":1}')]);
    expect(first).toMatchObject({ ok: false, code: 'ApprovalPending', status: 503 });
    const id = heldId(first?.message);
    const approved = await api('POST', `/${id}/approve`, { comment: 'during the migration run', windowMinutes: 15 });
    expect(approved.status).toBe(200);

    // The same call again, twice, with new content: no new review.
    const again = await send([put('status.json', '{"run":1}'), put('status.json', '{"run":2}')]);
    expect(again.map((o) => o.ok)).toEqual([true, true]);
    const [read] = await send([{ service: 's3', op: 'get_object', params: { Bucket: 'drop', Key: 'status.json' }, read_body: true }]);
    expect(read).toMatchObject({ ok: true, result: { Body: '{"run":2}' } });

    // Another key is another resource: held for its own review.
    const [other] = await send([put('other.json', '{}')]);
    expect(other).toMatchObject({ ok: false, code: 'ApprovalPending' });
    expect(heldId(other?.message)).not.toBe(id);

    const forwarded = await cs.waitForRequests((r) => r.approvalId === id && r.upstreamStatus === 200, 2);
    const last = forwarded.at(-1)?.requestId;
    // AWS's answer reaches the record a moment after the agent has it: poll, bounded.
    const deadline = Date.now() + 10_000;
    let view: ApprovalView | undefined;
    while (Date.now() < deadline) {
      view = ((await (await api('GET', `/${id}`)).json()) as { approval: ApprovalView }).approval;
      if (view.lastUse?.upstreamStatus !== undefined && view.lastUse.requestId === last) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(view).toMatchObject({ status: 'approved', windowMinutes: 15, timesUsed: 2, lastUse: { requestId: last, upstreamStatus: 200 } });
  });
});
