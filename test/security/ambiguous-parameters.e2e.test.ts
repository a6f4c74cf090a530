// The URL-and-body attack end to end: an agent allowed iam:GetRole on role/public-* sends
// GetRole with RoleName=public-a in the form body and ?RoleName=admin in the URL. countersign
// read the body and forwarded the URL; moto (like any server preferring the URL) acted on admin.
// Through the real proxy against moto with authentication on, the request is refused with
// AmbiguousRequest and not one byte reaches moto: IAM traffic goes through a recording tap, and
// no credentials are minted for it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3Calls } from '../support/boto3.js';
import { startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { adminEnv, countersignEnv, startMoto, type MotoServer } from '../support/moto.js';
import { assumedRoles } from '../support/moto-state.js';
import { send, signedRequest, type RawResponse } from '../support/raw-requests.js';
import { startTap } from '../support/tap.js';

const TRUST = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
const FORM = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };

describe('ambiguous parameters through countersign against moto', { timeout: 120_000 }, () => {
  let moto: MotoServer;
  let tap: Awaited<ReturnType<typeof startTap>>;
  let cs: CountersignProcess;
  let agent: AgentKey;

  beforeAll(async () => {
    moto = await startMoto();
    tap = await startTap(moto.endpoint);
    const created = await boto3Calls(adminEnv(moto), [
      { service: 'iam', op: 'create_role', params: { RoleName: 'public-a', AssumeRolePolicyDocument: TRUST } },
      { service: 'iam', op: 'create_role', params: { RoleName: 'admin', AssumeRolePolicyDocument: TRUST } },
    ]);
    expect(created.map((c) => c.ok)).toEqual([true, true]);
    cs = await startCountersign({
      policies: {
        'directory.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Directory
agents:
  reader: { owners: [olga] }
reviewers:
  olga: { name: Olga }
`,
        'public-roles.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: public-roles
    effect: allow
    agents: ["reader"]
    actions: ["iam:GetRole"]
    resources: ["arn:aws:iam::${moto.accountId}:role/public-*"]
    credentials: { roleArn: "${moto.roleArn}" }
`,
      },
      env: { ...countersignEnv(moto), COUNTERSIGN_UPSTREAM_OVERRIDES: `iam=${tap.url},*=${moto.endpoint}` },
    });
    agent = cs.issueAgent('reader');
  }, 120_000);

  afterAll(async () => {
    try {
      await cs?.stop();
      tap?.close();
    } finally {
      await moto?.stop();
    }
  });

  /** A query-protocol IAM call signed by `key` for `port` (countersign in endpoint mode, or moto itself). */
  async function iamCall(port: number, key: { accessKeyId: string; secretAccessKey: string }, query: string, body: string): Promise<RawResponse> {
    const path = query === '' ? '/' : `/?${query}`;
    const { headers } = await signedRequest({ ...key, service: 'iam', host: `127.0.0.1:${port}`, method: 'POST', path, headers: FORM, body });
    return send(port, 'POST', path, headers, body);
  }

  const getRolePublic = 'Action=GetRole&Version=2010-05-08&RoleName=public-a';
  const motoPort = () => Number(new URL(moto.endpoint).port);

  it('moto, asked directly, acts on the URL RoleName: the reading countersign must not guess', async () => {
    const direct = await iamCall(motoPort(), moto.admin, 'RoleName=admin', getRolePublic);
    expect(direct.status).toBe(200);
    expect(direct.body).toContain('<RoleName>admin</RoleName>');
  });

  it('forwards GetRole on public-a given once, in the body', async () => {
    const before = tap.seen.length;
    const response = await iamCall(cs.port, agent, '', getRolePublic);
    expect(response.status).toBe(200);
    expect(response.body).toContain('<RoleName>public-a</RoleName>');
    expect(tap.seen.length).toBe(before + 1);
  });

  it('refuses a query parameter given in both the URL and the body (GetRole admin vs public-a), and nothing reaches moto', async () => {
    const forwardedBefore = tap.seen.length;
    const mintedBefore = (await assumedRoles(moto.endpoint)).length;
    const response = await iamCall(cs.port, agent, 'RoleName=admin', getRolePublic);
    expect(response.status).toBe(400);
    expect(response.body).toContain('<Code>InvalidRequest</Code>');
    expect(response.body).toContain('<CountersignCode>AmbiguousRequest</CountersignCode>');
    expect(response.body).toContain('RoleName differs between the URL and the body');
    expect(response.body).not.toContain('<RoleName>admin</RoleName>');
    expect(tap.seen.length).toBe(forwardedBefore);
    expect((await assumedRoles(moto.endpoint)).length).toBe(mintedBefore);
    const [record] = await cs.waitForRequests((r) => r.errorCode === 'AmbiguousRequest');
    expect(record).toMatchObject({ event: 'request.failed', errorCode: 'AmbiguousRequest' });
  });
});
