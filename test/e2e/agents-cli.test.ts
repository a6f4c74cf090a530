// `countersign agents` on a local data directory (no server): key lifetimes, the listing's
// columns, and what revoke says for an agent, a key, a key already revoked and an unknown one.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../support/countersign.js';
import { registerSecret } from '../support/evidence.js';

function countersign(dataDir: string, args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', COUNTERSIGN_DATA_DIR: dataDir }, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function issued(dataDir: string, args: string[]): { accessKeyId: string; createdAt: string; expiresAt?: string } {
  const result = countersign(dataDir, ['agents', 'issue', ...args, '--force', '--json']);
  expect(result.stderr).toBe('');
  const key = JSON.parse(result.stdout) as { accessKeyId: string; secretAccessKey: string; createdAt: string; expiresAt?: string };
  registerSecret(key.secretAccessKey);
  return key;
}

describe('countersign agents on a local data directory', () => {
  it('issues keys that expire after --ttl (default 90d), or never with --ttl never, and refuses a lifetime it cannot read', () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'cs-agents-cli-')), 'data');
    const byDefault = issued(dir, ['report-bot']);
    expect(Date.parse(byDefault.expiresAt ?? '') - Date.parse(byDefault.createdAt)).toBe(90 * 86_400_000);
    const monthly = issued(dir, ['report-bot', '--ttl', '30d']);
    expect(Date.parse(monthly.expiresAt ?? '') - Date.parse(monthly.createdAt)).toBe(30 * 86_400_000);
    const forever = issued(dir, ['report-bot', '--ttl', 'never']);
    expect(forever.expiresAt).toBeUndefined();
    const stored = JSON.parse(readFileSync(path.join(dir, 'agents.json'), 'utf8')) as { agents: Record<string, { keys: Array<Record<string, string>> }> };
    expect(stored.agents['report-bot']?.keys.map((k) => k.expiresAt)).toEqual([byDefault.expiresAt, monthly.expiresAt, undefined]);
    const bad = countersign(dir, ['agents', 'issue', 'report-bot', '--force', '--ttl', '1w']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('countersign: The key lifetime "1w" is not valid: give a number and a unit (s, m, h or d), at most 3650d, for example 30d; or "never".\n');
    const exported = countersign(dir, ['agents', 'issue', 'report-bot', '--force', '--ttl', '12h']);
    registerSecret(/AWS_SECRET_ACCESS_KEY=(\S+)/.exec(exported.stdout)?.[1]);
    expect(exported.stdout).toMatch(/^# countersign agent key for "report-bot": worthless against AWS, valid only through countersign; expires \d{4}-\S+Z\.\n/);
  });

  it('lists expires and last use, and says what revoke did for an agent, a key, a revoked key and an unknown one', () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'cs-agents-cli-')), 'data');
    const key = issued(dir, ['report-bot', '--ttl', 'never']);
    const other = issued(dir, ['support-bot']);
    const lines = countersign(dir, ['agents', 'list']).stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^AGENT +ACCESS KEY ID +STATUS +ISSUED +EXPIRES +LAST USED$/);
    expect(lines[1]).toMatch(new RegExp(`^report-bot +${key.accessKeyId} +active +${key.createdAt} +never +-$`));
    expect(lines[2]).toMatch(new RegExp(`^support-bot +${other.accessKeyId} +active +\\S+ +${other.expiresAt ?? ''} +-$`));

    expect(countersign(dir, ['agents', 'revoke', key.accessKeyId])).toMatchObject({ code: 0, stdout: `Revoked ${key.accessKeyId}.\n` });
    expect(countersign(dir, ['agents', 'revoke', key.accessKeyId])).toMatchObject({ code: 1, stderr: expect.stringContaining('was already revoked') as unknown });
    expect(countersign(dir, ['agents', 'revoke', 'CSAKAAAAAAAAAAAAAAAA'])).toMatchObject({ code: 1, stderr: expect.stringContaining('no key CSAKAAAAAAAAAAAAAAAA is in the registry') as unknown });
    const agent = countersign(dir, ['agents', 'revoke', 'support-bot']);
    expect(agent.code).toBe(0);
    expect(agent.stdout).toMatch(new RegExp(`^Revoked agent "support-bot" at \\d{4}-\\S+: ${other.accessKeyId}, and every credential issued to it until then\\.\\n$`));
    const workload = countersign(dir, ['agents', 'revoke', 'workload-bot']);
    expect(workload.stdout).toMatch(/^Revoked agent "workload-bot" at \S+ \(it had no active key; credentials issued to it until then are refused\)\.\n$/);
    const after = countersign(dir, ['agents', 'list']).stdout.trimEnd().split('\n');
    expect(after.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 3))).toEqual([
      ['report-bot', key.accessKeyId, expect.stringMatching(/^revoked \d{4}-/) as unknown],
      ['support-bot', other.accessKeyId, expect.stringMatching(/^revoked \d{4}-/) as unknown],
      ['workload-bot', '-', expect.stringMatching(/^agent revoked \d{4}-/) as unknown],
    ]);
  });
});
