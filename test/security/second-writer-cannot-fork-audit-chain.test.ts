// Attack (or accident): a second process on the same data directory appends to the file audit
// log. Each writer reads the chain's head once, so two of them chain onto the same head and the
// log forks: `audit verify` then reports tampering that never happened, and real tampering can
// hide in the noise. One writer per log is enforced with a lock file (src/audit/writer-lock.ts).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyChain } from '../../src/audit/chain.js';
import type { AuditEvent, AuditRecord } from '../../src/audit/events.js';
import { FileAuditSink } from '../../src/audit/file-sink.js';
import { WriterLockError } from '../../src/audit/writer-lock.js';
import { CLI, startCountersign, type CountersignProcess } from '../support/countersign.js';
import { repoRoot } from '../support/python.js';

const children: ChildProcess[] = [];
const servers: CountersignProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

const events = (n: number, from = 0): AuditEvent[] => Array.from({ length: n }, (_, i) => ({ event: 'policy.loaded', trigger: 'start', policyHash: `h${from + i}`, files: 1, rules: 1 }) as unknown as AuditEvent);

function records(file: string): AuditRecord[] {
  return readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as AuditRecord);
}

function logFile(): string {
  return path.join(mkdtempSync(path.join(tmpdir(), 'cs-audit-lock-')), 'data', 'audit.jsonl');
}

/** A separate Node process that becomes the log's writer (the built sink), appends, and stays. */
function holder(file: string): Promise<ChildProcess> {
  const program = `
    const { FileAuditSink } = await import(${JSON.stringify(path.join(repoRoot, 'dist', 'audit', 'file-sink.js'))});
    const sink = new FileAuditSink(process.argv[1]);
    await sink.append([{ event: 'policy.loaded', trigger: 'start', policyHash: 'child', files: 1, rules: 1 }], 'child');
    process.stdout.write('holding\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', program, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => d.toString().includes('holding') && resolve(child));
    child.once('exit', (code) => reject(new Error(`holder exited with ${String(code)}`)));
  });
}

describe('a second process on the data dir cannot fork the audit chain', () => {
  it('a second writer in the same process refuses, naming the first; the chain stays whole', async () => {
    const file = logFile();
    const first = new FileAuditSink(file);
    const second = new FileAuditSink(file);
    await first.append(events(2), 'a');
    expect(() => second.claim()).toThrow(WriterLockError);
    await expect(second.append(events(1, 10), 'b')).rejects.toThrow(/already being written by process \d+ on .* \(lock .*audit\.jsonl\.lock\)/);
    await first.append(events(2, 2), 'a');
    expect(verifyChain(records(file))).toEqual({ count: 4 });
    await first.close();
    // Released: the next writer chains on.
    await second.append(events(1, 20), 'b');
    await second.close();
    expect(verifyChain(records(file))).toEqual({ count: 5 });
  });

  it('a second process refuses while the first runs, and takes over once the first was SIGKILLed (a stale lock does not block a restart)', async () => {
    const file = logFile();
    const child = await holder(file);
    const sink = new FileAuditSink(file);
    expect(() => sink.claim()).toThrow(new RegExp(`already being written by process ${String(child.pid)} `));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    sink.claim();
    await sink.append(events(2), 'parent');
    await sink.close();
    expect(records(file).map((r) => r.replica)).toEqual(['child', 'parent', 'parent']);
    expect(verifyChain(records(file))).toEqual({ count: 3 });
  });

  it('a lock replaced behind the writer stops its appends instead of forking the chain', async () => {
    const file = logFile();
    const sink = new FileAuditSink(file);
    await sink.append(events(1), 'a');
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: 1, host: 'elsewhere', started: null, token: 'someone-else' }));
    await expect(sink.append(events(1, 1), 'a')).rejects.toThrow(/no longer names this process/);
    expect(verifyChain(records(file))).toEqual({ count: 1 });
    await sink.close();
  });

  it('countersign serve twice on one data dir: the second exits with a clear error before listening; serve --help starts nothing; audit verify stays intact', { timeout: 60_000 }, async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'cs-two-servers-'));
    const policies = path.join(root, 'policies');
    mkdirSync(policies);
    writeFileSync(path.join(policies, 'rules.yaml'), 'apiVersion: countersign.dev/v1alpha1\nkind: Policy\nrules: []\n');
    const first = await startCountersign({ policies, dataDir: path.join(root, 'data') });
    servers.push(first);
    const env = {
      PATH: process.env.PATH ?? '',
      COUNTERSIGN_LISTEN: '127.0.0.1:0',
      COUNTERSIGN_ADMIN_LISTEN: '127.0.0.1:0',
      COUNTERSIGN_REVIEW_LISTEN: '127.0.0.1:0',
      COUNTERSIGN_DATA_DIR: first.dataDir,
      COUNTERSIGN_POLICY_DIR: policies,
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const second = spawnSync(process.execPath, [CLI, 'serve'], { env, encoding: 'utf8', timeout: 20_000 });
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`the audit log ${path.join(first.dataDir, 'audit.jsonl')} is already being written by process`);
    expect(second.stderr).not.toContain('listening on');

    const help = spawnSync(process.execPath, [CLI, 'serve', '--help'], { env, encoding: 'utf8', timeout: 20_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: countersign serve/);
    expect(help.stderr).not.toContain('listening on');

    await first.stop();
    servers.length = 0;
    const verify = execFileSync(process.execPath, [CLI, 'audit', 'verify'], { env, encoding: 'utf8' });
    expect(verify).toMatch(/^ok: \d+ records, chain intact/);
    // Only the first server wrote: its start and its policy load, nothing from the refused one.
    expect(new Set(records(path.join(first.dataDir, 'audit.jsonl')).map((r) => r.replica)).size).toBe(1);
  });
});
