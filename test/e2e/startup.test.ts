// What a user sees on first start: the embedded default with the shipped example policies, a CA
// generated into the data directory, guidance on stderr; and a bad policy set stopping start-up.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLI, startCountersign } from '../support/countersign.js';
import { repoRoot } from '../support/python.js';

describe('start-up', { timeout: 30_000 }, () => {
  it('starts on the example policies, generates a CA (key mode 0600) and says how to point an agent at it', async () => {
    const cs = await startCountersign({ policies: path.join(repoRoot, 'policies') });
    try {
      expect(statSync(path.join(cs.dataDir, 'ca.key')).mode & 0o777).toBe(0o600);
      expect(statSync(path.join(cs.dataDir, 'server.key')).mode & 0o777).toBe(0o600);
      const ca = new X509Certificate(readFileSync(cs.caPath));
      expect(ca.ca).toBe(true);
      expect(cs.stderr()).toContain(`export HTTPS_PROXY=${cs.proxyUrl}`);
      expect(cs.stderr()).toContain(`export AWS_CA_BUNDLE=${cs.caPath}`);
      // How this CLI was run, never `npx countersign` (outside a checkout npx fetches whatever npm package has the name).
      expect(cs.stderr()).toContain(`node ${path.relative(process.cwd(), CLI)} agents issue my-agent`);
      expect(cs.stderr()).not.toContain('npx');
      expect(cs.stdout()).toContain('"event":"policy.loaded"');
      // No process warning: on node before 22 the AWS SDK printed one at every start (it will
      // require node 22 from January 2027); a deprecation would show here too.
      expect(cs.stderr()).not.toMatch(/Warning:/);
    } finally {
      await cs.stop();
    }
  });

  it('refuses to start on a policy with a schema error, naming file, line, column and what was expected', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cs-bad-policy-'));
    writeFileSync(
      path.join(dir, 'bad.yaml'),
      'apiVersion: countersign.dev/v1alpha1\nkind: Policy\nrules:\n  - name: typo\n    effect: allow\n    agents: ["*"]\n    actions: ["s3:GetObject"]\n    resouces: ["*"]\n',
    );
    const result = spawnSync(process.execPath, [CLI, 'serve'], {
      env: { PATH: process.env.PATH ?? '', COUNTERSIGN_POLICY_DIR: dir, COUNTERSIGN_DATA_DIR: path.join(dir, 'data'), COUNTERSIGN_LISTEN: '127.0.0.1:0' },
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('the policy set is invalid');
    expect(result.stderr).toMatch(/bad\.yaml:8:5: found unknown key "resouces" in a rule, expected one of: /);
    expect(result.stderr).toMatch(/bad\.yaml:4:5: rule "typo" has no "resources", expected one/);
  });

  it('refuses to start on an unknown setting', () => {
    const result = spawnSync(process.execPath, [CLI, 'serve'], {
      env: { PATH: process.env.PATH ?? '', COUNTERSIGN_LISTNE: '127.0.0.1:0' },
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Unknown setting COUNTERSIGN_LISTNE');
  });
});
