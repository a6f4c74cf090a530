// Invariant 7: nothing secret in logs. The suite kept every countersign process's output and
// audit log, and every secret it created (agent secrets, countersign's own AWS secret, minted
// STS secret keys and session tokens, webhook secrets, review link and reviewer API tokens);
// not one may appear in any of them.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVIDENCE_DIR } from '../support/evidence.js';

describe('no secret in any log line or audit record of the whole suite', () => {
  it('finds the evidence, and no secret in it', () => {
    expect(existsSync(EVIDENCE_DIR), 'run the whole suite first (npm test)').toBe(true);
    const secrets = [...new Set(readFileSync(path.join(EVIDENCE_DIR, 'secrets.txt'), 'utf8').split('\n').filter((s) => s.length >= 8))];
    const files = readdirSync(EVIDENCE_DIR).filter((f) => f.endsWith('.log') || f.endsWith('.audit.jsonl'));
    // Not vacuous: many processes ran, and every kind of secret was registered.
    expect(files.length).toBeGreaterThan(8);
    expect(secrets.length).toBeGreaterThan(20);
    const hits: string[] = [];
    for (const file of files) {
      const text = readFileSync(path.join(EVIDENCE_DIR, file), 'utf8');
      for (const secret of secrets) if (text.includes(secret)) hits.push(`${file} contains a secret starting ${secret.slice(0, 4)}…`);
      if (/Signature=[0-9a-f]{64}/.test(text)) hits.push(`${file} contains a SigV4 signature`);
      if (/X-Amz-Security-Token/i.test(text)) hits.push(`${file} mentions a security token header`);
    }
    expect(hits).toEqual([]);
  });
});
