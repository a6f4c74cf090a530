// What the whole suite leaves for the last check (test/secrets): every countersign process's
// output and audit log, and every secret the tests created. `npm test` runs that check after
// the suite, so it sees all of it.
import { appendFileSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { repoRoot } from './python.js';

export const EVIDENCE_DIR = path.join(repoRoot, '.test-logs');

function ensureDir(): void {
  mkdirSync(EVIDENCE_DIR, { recursive: true });
}

/** Remembers a secret value the logs must never contain. */
export function registerSecret(...values: Array<string | undefined>): void {
  ensureDir();
  const lines = values.filter((v): v is string => typeof v === 'string' && v.length >= 8);
  if (lines.length > 0) appendFileSync(path.join(EVIDENCE_DIR, 'secrets.txt'), lines.join('\n') + '\n');
}

/** Keeps a process's output and its audit log for the final check. */
export function keepLogs(name: string, output: string, auditFile?: string): void {
  ensureDir();
  const id = `${name}-${randomUUID().slice(0, 8)}`;
  writeFileSync(path.join(EVIDENCE_DIR, `${id}.log`), output);
  if (auditFile !== undefined && existsSync(auditFile)) copyFileSync(auditFile, path.join(EVIDENCE_DIR, `${id}.audit.jsonl`));
}
