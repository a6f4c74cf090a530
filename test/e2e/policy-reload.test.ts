// Hot reload the way Kubernetes delivers a ConfigMap: files behind a `..data` symlink that is
// swapped atomically. A good set takes effect without a restart; a bad one is rejected, the
// last good set stays in force, and /readyz says why.
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { send, signedRequest } from '../support/raw-requests.js';

const HEADER = 'apiVersion: countersign.dev/v1alpha1\nkind: Policy\nrules:\n';
const DENY_ALL = `${HEADER}  - name: nothing-yet\n    effect: deny\n    agents: ["*"]\n    actions: ["s3:DeleteBucket"]\n    resources: ["*"]\n`;
const ALLOW_READS = `${HEADER}  - name: reads-now-allowed\n    effect: allow\n    agents: ["*"]\n    actions: ["s3:GetObject"]\n    resources: ["arn:aws:s3:::bucket/*"]\n    credentials: { roleArn: "arn:aws:iam::123456789012:role/r" }\n`;
const BROKEN = `${HEADER}  - name: broken\n    effect: allow\n    agents: ["*"]\n    actions: ["s3:GetObject"]\n    resources: ["*"]\n    credentials: { roleArn: "not-an-arn" }\n`;

describe('policy hot reload through a ConfigMap-style symlink swap', { timeout: 60_000 }, () => {
  let root: string;
  let version = 0;
  let cs: CountersignProcess;
  let agent: AgentKey;

  /** Writes a new `..vN` directory and swaps `..data` to it atomically, as the kubelet does. */
  function publish(text: string): void {
    version += 1;
    const dir = path.join(root, `..v${version}`);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'policy.yaml'), text);
    symlinkSync(`..v${version}`, path.join(root, '..data_tmp'));
    renameSync(path.join(root, '..data_tmp'), path.join(root, '..data'));
  }

  async function decisionForRead(): Promise<unknown> {
    const options = { accessKeyId: agent.accessKeyId, secretAccessKey: agent.secretAccessKey, service: 's3', host: `127.0.0.1:${cs.port}`, path: '/bucket/key.txt' };
    const { headers } = await signedRequest(options);
    const response = await send(cs.port, 'GET', options.path, headers);
    const requestId = response.headers['x-amz-request-id'];
    const [record] = await cs.waitForRequests((r) => r.requestId === requestId);
    return record?.decision;
  }

  async function eventually<T>(probe: () => Promise<T> | T, want: (value: T) => boolean): Promise<T> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const value = await probe();
      if (want(value) || Date.now() > deadline) return value;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'cs-configmap-'));
    publish(DENY_ALL);
    symlinkSync('..data/policy.yaml', path.join(root, 'policy.yaml'));
    cs = await startCountersign({
      policies: root,
      env: { COUNTERSIGN_UPSTREAM_OVERRIDES: '*=http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'AKIDUNUSED', AWS_SECRET_ACCESS_KEY: 'unused' },
    });
    agent = cs.issueAgent('reloader');
  });

  afterAll(async () => {
    await cs?.stop();
  });

  it('applies a new set without a restart, audits it with its hash, and keeps the last good set on a bad reload', async () => {
    expect(await decisionForRead()).toBe('deny');
    const firstHash = (await (await fetch(`${cs.adminUrl}/readyz`)).json()) as { checks: { policies: { hash: string } } };

    publish(ALLOW_READS);
    expect(await eventually(decisionForRead, (d) => d === 'allow')).toBe('allow');
    const loads = cs.stdout().split('\n').filter((l) => l.includes('"event":"policy.loaded"'));
    expect(loads).toHaveLength(2);
    expect(loads[1]).toContain('"trigger":"reload"');
    expect(loads[1]).not.toContain(firstHash.checks.policies.hash);

    publish(BROKEN);
    await eventually(() => cs.stdout(), (out) => out.includes('"event":"policy.rejected"'));
    expect(await decisionForRead()).toBe('allow');
    const ready = await fetch(`${cs.adminUrl}/readyz`);
    expect(ready.status).toBe(200);
    const detail = (await ready.json()) as { checks: { policies: { lastError?: { message: string } } } };
    expect(detail.checks.policies.lastError?.message).toMatch(/policy\.yaml:\d+:\d+: found "not-an-arn" for rule "broken"\.credentials\.roleArn/);
  });
});
