// The CLI as a newcomer meets it (issue 16): every command explains itself before doing anything,
// unknown options are one line and the usage, listings are human by default and JSON on request,
// a closed pipe ends a command quietly, and keys are issued only for agents the Directory knows.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileAuditSink } from '../../src/audit/file-sink.js';
import { CLI, startCountersign, type CountersignProcess } from '../support/countersign.js';
import { registerSecret } from '../support/evidence.js';
import { repoRoot } from '../support/python.js';
import { send, signedRequest } from '../support/raw-requests.js';

const run = promisify(execFile);

function countersign(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd: repoRoot, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function scratch(): string {
  return mkdtempSync(path.join(tmpdir(), 'cs-cli-'));
}

const COMMANDS = [
  'serve', 'demo',
  'agents issue', 'agents revoke', 'agents list',
  'approvals list', 'approvals show', 'approvals approve', 'approvals deny',
  'reviewers list', 'reviewers token',
  'audit verify', 'audit export',
  'policy check', 'policy test', 'policy explain',
];
const GROUPS = ['agents', 'approvals', 'reviewers', 'audit', 'policy'];

describe('countersign CLI', { timeout: 120_000 }, () => {
  describe('help', () => {
    it.each(COMMANDS)('%s answers --help and -h with its usage, options and an example, exit 0, touching nothing', (name) => {
      const dataDir = path.join(scratch(), 'data');
      // An invalid setting too: help comes before the configuration is read.
      const env = { COUNTERSIGN_DATA_DIR: dataDir, COUNTERSIGN_NOT_A_SETTING: '1' };
      const long = countersign([...name.split(' '), '--help'], env);
      expect(long.code).toBe(0);
      expect(long.stdout).toMatch(new RegExp(`^usage: countersign ${name}\\b`));
      expect(long.stdout).toContain('\noptions:\n');
      expect(long.stdout).toContain('-h, --help');
      expect(long.stdout).toMatch(/\nexamples?:\n {2}\S/);
      expect(long.stderr).toBe('');
      const short = countersign([...name.split(' '), '-h', 'extra', '--bogus'], env);
      expect(short).toEqual(long);
      expect(countersign(['help', ...name.split(' ')], env)).toEqual(long);
      expect(existsSync(dataDir)).toBe(false);
    });

    it('serve --help starts no second server and writes no audit log', () => {
      const dir = scratch();
      const started = Date.now();
      const { code } = countersign(['serve', '--help'], { COUNTERSIGN_DATA_DIR: dir, COUNTERSIGN_LISTEN: '127.0.0.1:0' });
      expect(code).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(existsSync(path.join(dir, 'audit.jsonl'))).toBe(false);
      expect(existsSync(path.join(dir, 'ca.crt'))).toBe(false);
    });

    it.each(GROUPS)('%s --help lists its commands; "help %s" says the same', (group) => {
      const { code, stdout } = countersign([group, '--help']);
      expect(code).toBe(0);
      expect(stdout).toMatch(new RegExp(`^usage: countersign ${group} <command>`));
      for (const name of COMMANDS.filter((c) => c.startsWith(`${group} `))) expect(stdout).toContain(`\n  ${name.slice(group.length + 1)}`);
      expect(countersign(['help', group]).stdout).toBe(stdout);
    });

    it('countersign help and --help list every command and the settings; no command at all is a usage error', () => {
      const help = countersign(['help']);
      expect(help.code).toBe(0);
      for (const name of COMMANDS) expect(help.stdout).toContain(`\n  ${name}`);
      expect(help.stdout).toContain('COUNTERSIGN_POLICY_DIR');
      expect(countersign(['--help']).stdout).toBe(help.stdout);
      const none = countersign([]);
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('usage: countersign <command>');
    });

    it('an unknown option is one line and the usage on stderr, exit 2', () => {
      const { code, stdout, stderr } = countersign(['agents', 'list', '--bogus']);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toBe('countersign agents list: unknown option --bogus\nusage: countersign agents list [--json] [--server URL]  (countersign agents list --help for more)\n');
      expect(countersign(['approvals', 'approve', 'x', '--comment']).stderr).toMatch(/^countersign approvals approve: --comment needs a value \(TEXT\)\n/);
      expect(countersign(['agents', 'issue']).stderr).toMatch(/^countersign agents issue: missing NAME\n/);
      expect(countersign(['agents', 'revoke', 'a', 'b']).stderr).toMatch(/^countersign agents revoke: unexpected argument "b"\n/);
    });

    it('an unknown command or subcommand names itself and shows the usage, exit 2', () => {
      const sub = countersign(['agents', 'isue', 'bot']);
      expect(sub.code).toBe(2);
      expect(sub.stderr).toMatch(/^countersign agents: unknown command "isue"\nusage: countersign agents <command>/);
      const top = countersign(['agnets']);
      expect(top.code).toBe(2);
      expect(top.stderr).toMatch(/^countersign: unknown command "agnets"\nusage: countersign <command>/);
      expect(countersign(['help', 'agents', 'isue']).code).toBe(2);
    });
  });

  describe('agents and reviewers', () => {
    const dataDir = () => path.join(scratch(), 'data');

    it('agents issue refuses a name the Directory does not know, says how to declare it or force it; --force issues', () => {
      const env = { COUNTERSIGN_DATA_DIR: dataDir(), COUNTERSIGN_POLICY_DIR: path.join(repoRoot, 'policies') };
      const refused = countersign(['agents', 'issue', 'reprot-bot'], env);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toContain('the Directory in');
      expect(refused.stderr).toContain('does not know agent "reprot-bot" (it declares deploy-bot, report-bot, sre-bot, support-bot)');
      expect(refused.stderr).toContain('--force');
      expect(countersign(['agents', 'list', '--json'], env).stdout.trim()).toBe('[]');
      const forced = countersign(['agents', 'issue', 'reprot-bot', '--force', '--json'], env);
      expect(forced.code).toBe(0);
      const key = JSON.parse(forced.stdout) as { agent: string; secretAccessKey: string };
      registerSecret(key.secretAccessKey);
      expect(key.agent).toBe('reprot-bot');
      const nowhere = countersign(['agents', 'issue', 'report-bot'], { COUNTERSIGN_DATA_DIR: dataDir(), COUNTERSIGN_POLICY_DIR: path.join(scratch(), 'none') });
      expect(nowhere.code).toBe(1);
      expect(nowhere.stderr).toMatch(/cannot read the Directory to check agent "report-bot":\n.*policy directory not found.*\nSet COUNTERSIGN_POLICY_DIR .* or run again with --force\.\n$/);
    });

    it('agents issue of a declared agent prints export lines; agents list has a header and aligned columns, --json for scripts', () => {
      const env = { COUNTERSIGN_DATA_DIR: dataDir(), COUNTERSIGN_POLICY_DIR: path.join(repoRoot, 'policies') };
      const issued = countersign(['agents', 'issue', 'report-bot'], env);
      expect(issued.code).toBe(0);
      registerSecret(/AWS_SECRET_ACCESS_KEY=(\S+)/.exec(issued.stdout)?.[1]);
      expect(issued.stdout).toMatch(/^# countersign agent key for "report-bot".*\nexport AWS_ACCESS_KEY_ID=CSAK\w+\nexport AWS_SECRET_ACCESS_KEY=\S+\n$/);
      registerSecret(/AWS_SECRET_ACCESS_KEY=(\S+)/.exec(countersign(['agents', 'issue', 'support-bot'], env).stdout)?.[1]);
      countersign(['agents', 'revoke', 'support-bot'], env);
      const lines = countersign(['agents', 'list'], env).stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^AGENT +ACCESS KEY ID +STATUS +ISSUED +EXPIRES +LAST USED$/);
      expect(lines).toHaveLength(3);
      // Every column starts where its header does.
      const starts = (line: string) => [...line.matchAll(/(?<=^|\s{2})\S/g)].map((m) => m.index);
      expect(starts(lines[1] ?? '').slice(0, 3)).toEqual(starts(lines[0] ?? '').slice(0, 3));
      expect(lines[2]).toMatch(/^support-bot +CSAK\w+ +revoked \d{4}-/);
      const json = JSON.parse(countersign(['agents', 'list', '--json'], env).stdout) as Array<{ agent: string; keys: unknown[] }>;
      expect(json.map((a) => a.agent)).toEqual(['report-bot', 'support-bot']);
    });

    it('reviewers token keeps the export line and has a bare form for a bearer header; reviewers list has a header, --json', () => {
      const env = { COUNTERSIGN_DATA_DIR: dataDir(), COUNTERSIGN_POLICY_DIR: path.join(repoRoot, 'policies') };
      const exported = countersign(['reviewers', 'token', 'dana'], env).stdout;
      const bare = countersign(['reviewers', 'token', 'dana', '--bare'], env).stdout;
      expect(bare).toMatch(/^csr_\S+\n$/);
      expect(exported).toBe(`export COUNTERSIGN_REVIEWER_TOKEN=${bare}`);
      registerSecret(bare.trim());
      expect(countersign(['reviewers', 'token', 'nobody'], env).code).toBe(1);
      const list = countersign(['reviewers', 'list'], env).stdout.split('\n');
      expect(list[0]).toMatch(/^ID +NAME +GROUPS +EMAIL$/);
      expect(list[1]).toMatch(/^dana +Dana Data +data-owners +dana@example\.com$/);
      const json = JSON.parse(countersign(['reviewers', 'list', '--json'], env).stdout) as Array<{ id: string; source?: unknown }>;
      expect(json[0]).toMatchObject({ id: 'dana', displayName: 'Dana Data', groups: ['data-owners'] });
      expect(json[0]?.source).toBeUndefined();
    });
  });

  describe('policy explain [DIR]', () => {
    const policies = path.join(repoRoot, 'policies');
    const other = scratch();
    beforeAll(() => {
      writeFileSync(path.join(other, 'rules.yaml'), 'apiVersion: countersign.dev/v1alpha1\nkind: Policy\nrules:\n  - name: only-rule\n    effect: deny\n    agents: ["*"]\n    actions: ["s3:*"]\n    resources: ["*"]\n');
    });

    it('takes DIR before or after the request, and answers for that directory', () => {
      for (const args of [[other, '--agent', 'a', 'GET', 's3://b/k'], ['--agent', 'a', 'GET', 's3://b/k', other], ['--agent', 'a', 'GET s3://b/k', other], ['--dir', other, '--agent', 'a', 'GET', 's3://b/k']]) {
        const { code, stdout } = countersign(['policy', 'explain', ...args]);
        expect(code, args.join(' ')).toBe(0);
        expect(stdout).toContain('s3:GetObject on arn:aws:s3:::b/k');
        expect(stdout).toContain('decision: deny by "only-rule"');
      }
      const shipped = countersign(['policy', 'explain', policies, '--agent', 'support-bot', 'GET', 's3://customer-data-eu/accounts.csv']);
      expect(shipped.stdout).toContain('decision: approve by "customer-data-reads"');
    });

    it('refuses a word that is neither DIR nor request instead of answering for another request', () => {
      const missing = countersign(['policy', 'explain', '--agent', 'a', 'GET', 's3://b/k', 'no-such-dir']);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('"no-such-dir" is not a policy directory');
      const middle = countersign(['policy', 'explain', '--agent', 'a', 'GET', other, 's3://b/k']);
      expect(middle.code).toBe(2);
      expect(middle.stderr).toContain('is in the middle of the request');
      expect(countersign(['policy', 'explain', other, '--dir', other, '--agent', 'a', 'GET', 's3://b/k']).stderr).toContain('given twice');
      expect(countersign(['policy', 'explain', other, '--agent', 'a', 'GET', 's3://b/k', '--action', 's3:GetObject']).stderr).toContain('one way only');
      expect(countersign(['policy', 'explain', other, 'GET', 's3://b/k']).stderr).toContain('--agent NAME');
    });

    it('--json gives the explanation as data', () => {
      const { stdout } = countersign(['policy', 'explain', other, '--agent', 'a', 'GET', 's3://b/k', '--json']);
      const explanation = JSON.parse(stdout) as { decision: { effect: string; rules: string[] }; pairs: Array<{ action: string }> };
      expect(explanation.decision).toMatchObject({ effect: 'deny', rules: ['only-rule'] });
      expect(explanation.pairs[0]?.action).toBe('s3:GetObject');
    });
  });

  it('audit export | head -1 ends quietly: no EPIPE stack trace', async () => {
    const dataDir = scratch();
    const sink = new FileAuditSink(path.join(dataDir, 'audit.jsonl'));
    await sink.append(Array.from({ length: 20_000 }, (_, i) => ({ event: 'request.forwarded', agent: 'a', requestId: `r${i}` })), 'test');
    await sink.close();
    for (const format of ['jsonl', 'csv']) {
      const { stdout, stderr } = await run('bash', ['--norc', '-c', `node "${CLI}" audit export --format ${format} | head -1; echo "exit \${PIPESTATUS[0]}" >&2`], { env: { PATH: process.env.PATH ?? '', COUNTERSIGN_DATA_DIR: dataDir } });
      expect(stdout.split('\n')).toHaveLength(2);
      expect(stderr).toBe('exit 0\n');
    }
  });

  describe('approvals, as a reviewer', () => {
    let cs: CountersignProcess;
    let token = '';
    let held: Promise<{ status: number; body: string }>;

    beforeAll(async () => {
      cs = await startCountersign({
        policies: {
          'directory.yaml': 'apiVersion: countersign.dev/v1alpha1\nkind: Directory\nagents:\n  exporter: { owners: [olga] }\nreviewers:\n  olga: { name: Olga Owner }\n  ann: { name: Ann Analyst, groups: [data-owners] }\ngroups:\n  data-owners: {}\n',
          'rules.yaml':
            'apiVersion: countersign.dev/v1alpha1\nkind: Policy\nrules:\n  - name: exports\n    effect: approve\n    agents: ["exporter"]\n    actions: ["s3:GetObject"]\n    resources: ["arn:aws:s3:::exports/*"]\n    approval: { groups: [data-owners], holdTimeout: 60s, pendingTimeout: 10m }\n    credentials: { roleArn: "arn:aws:iam::123456789012:role/export" }\n',
        },
      });
      const agent = cs.issueAgent('exporter');
      token = /COUNTERSIGN_REVIEWER_TOKEN=(\S+)/.exec(cs.cli(['reviewers', 'token', 'ann']))?.[1] ?? '';
      registerSecret(token);
      const host = `127.0.0.1:${cs.port}`;
      const { headers } = await signedRequest({ ...agent, service: 's3', host, path: '/exports/q3.csv', headers: { 'x-countersign-reason': 'quarterly \u009b2Jreport' } });
      held = send(cs.port, 'GET', '/exports/q3.csv', headers);
      for (let i = 0; i < 100 && !cs.stdout().includes('"approval.requested"'); i++) await new Promise((r) => setTimeout(r, 50));
    });

    afterAll(async () => {
      await cs?.stop();
    });

    const reviewer = (args: string[]) => run(process.execPath, [CLI, 'approvals', ...args], { env: { PATH: process.env.PATH ?? '', COUNTERSIGN_REVIEW_URL: cs.reviewUrl, COUNTERSIGN_REVIEWER_TOKEN: token } });

    it('list: a header row and aligned columns, with how long is left; --json the records', async () => {
      const { stdout } = await reviewer(['list']);
      const lines = stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^ID +STATUS +AGENT +ACTIONS +RESOURCES +WHEN$/);
      expect(lines[1]).toMatch(/^[0-9a-f-]{36} +pending +exporter +s3:GetObject +arn:aws:s3:::exports\/q3\.csv +expires in (9|10) min$/);
      const records = JSON.parse((await reviewer(['list', '--json'])).stdout) as Array<{ id: string; expiresAt: number }>;
      expect(records).toHaveLength(1);
      expect(typeof records[0]?.expiresAt).toBe('number');
    });

    it('show: a readable view with ISO and relative times, intent and binding, and the agent\'s words made harmless; --json the record', async () => {
      const records = JSON.parse((await reviewer(['list', '--json'])).stdout) as Array<{ id: string }>;
      const id = records[0]?.id ?? '';
      const { stdout } = await reviewer(['show', id]);
      expect(stdout).toContain(`approval    ${id}\n`);
      expect(stdout).toMatch(/\nstatus +pending \(expires in (9|10) min\)\n/);
      expect(stdout).toContain('\nagent       exporter (owned by olga)\n');
      expect(stdout).toContain('\ncall        GET 127.0.0.1/exports/q3.csv\n');
      expect(stdout).toContain('\nrole        arn:aws:iam::123456789012:role/export (account 123456789012)\n');
      expect(stdout).toContain('\ngrants      s3:GetObject on arn:aws:s3:::exports/q3.csv\n');
      expect(stdout).toMatch(/\nintent +read: this read, however many requests it takes/);
      expect(stdout).toMatch(/\nneeds +1 of ann \(rule exports\)\n/);
      expect(stdout).toMatch(/\ncreated +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(\d+ s ago\)\n/);
      expect(stdout).toMatch(/\nexpires +\d{4}-\d\d-\d\dT[\d:.]+Z \(in (9|10) min\)\n/);
      expect(stdout).toContain('\nreviews:\n    none yet\n');
      // A control sequence from the agent (C1 CSI, which a header may carry) cannot clear the reviewer's screen.
      expect(stdout).not.toContain('\u009b');
      expect(stdout).toContain('reason      "quarterly \\u009b2Jreport"');
      expect(stdout).not.toMatch(/\d{13}/); // no epoch milliseconds
      const json = JSON.parse((await reviewer(['show', id, '--json'])).stdout) as { id: string; intent: string; context: { binding: { roleArn: string } } };
      expect(json).toMatchObject({ id, intent: 'read', context: { binding: { roleArn: 'arn:aws:iam::123456789012:role/export' } } });
    });

    it('deny: the held request is refused; show then says who reviewed', async () => {
      const records = JSON.parse((await reviewer(['list', '--json'])).stdout) as Array<{ id: string }>;
      const id = records[0]?.id ?? '';
      const denied = await reviewer(['deny', id, '--comment', 'not this quarter']);
      expect(denied.stdout).toBe('Denied; the request is now denied.\n');
      const answer = await held;
      expect(answer.status).toBe(403);
      const { stdout } = await reviewer(['show', id]);
      expect(stdout).toMatch(/\nstatus +denied \(denied \d+ s ago\)\n/);
      expect(stdout).toMatch(/\nreviews:\n {4}ann denied at \d{4}-[\d-]+T[\d:.]+Z \(\d+ s ago\): "not this quarter"\n/);
      expect((await reviewer(['list'])).stdout).toBe('Nothing is waiting for review.\n');
    });

    it('without a token, or against no listener, says what to do', () => {
      const none = countersign(['approvals', 'list'], { COUNTERSIGN_REVIEW_URL: cs.reviewUrl });
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('set COUNTERSIGN_REVIEWER_TOKEN');
      const nowhere = countersign(['approvals', 'list'], { COUNTERSIGN_REVIEW_URL: 'http://127.0.0.1:9', COUNTERSIGN_REVIEWER_TOKEN: token });
      expect(nowhere.code).toBe(1);
      expect(nowhere.stderr).toContain('cannot reach the review listener at http://127.0.0.1:9');
    });
  });
});
