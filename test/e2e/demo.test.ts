// `npm run demo` the way the README says: it starts a local AWS (moto, request authentication on)
// and countersign with the example policies, and prints three commands; run as printed, one is
// allowed, one denied, one held until the printed approve command runs. Then Ctrl-C (SIGINT to
// its process group, as a terminal sends it) stops everything it started.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerSecret } from '../support/evidence.js';
import { repoRoot } from '../support/python.js';

const run = promisify(execFile);

/** Runs a printed command as a person pasting it into a shell would (bash, no rc files). */
function shell(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('bash', ['--norc', '--noprofile', '-c', command], { cwd: repoRoot, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' }, timeout: 90_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof error.code === 'number' ? error.code : -1, stdout: error.stdout ?? '', stderr: error.stderr ?? '' }),
  );
}

function refusesConnections(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** Processes whose command line or environment mention `needle` (moto's port, the demo's directory). */
function processesMentioning(needles: readonly string[]): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    if (Number(pid) === process.pid) continue;
    let text = '';
    for (const file of ['cmdline', 'environ']) {
      try {
        text += readFileSync(`/proc/${pid}/${file}`, 'utf8').replace(/\0/g, ' ');
      } catch {
        // gone, or not ours
      }
    }
    if (needles.some((n) => text.includes(n))) found.push(`${pid}: ${text.slice(0, 200)}`);
  }
  return found;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm run demo', { timeout: 240_000 }, () => {
  let demo: ChildProcess;
  let output = '';
  const waitFor = async (pattern: RegExp, ms: number): Promise<RegExpExecArray> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const match = pattern.exec(output);
      if (match !== null) return match;
      if (Date.now() > deadline || demo.exitCode !== null) throw new Error(`demo did not print ${String(pattern)}:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  beforeAll(async () => {
    // --ignore-scripts skips only the predemo build (the suite builds first); the demo script itself runs.
    demo = spawn('npm', ['run', 'demo', '--ignore-scripts'], { cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    demo.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    demo.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(/Ctrl-C stops everything/, 120_000);
  }, 150_000);

  afterAll(() => {
    if (demo.pid !== undefined && groupAlive(demo.pid)) process.kill(-demo.pid, 'SIGKILL');
  });

  const printed = () => {
    const env = /\n {2}(source \S+agent\.env)\n/.exec(output)?.[1] ?? '';
    const calls = [...output.matchAll(/\n\d\. [^\n]+\n {2}(aws [^\n]+)\n/g)].map((m) => m[1] ?? '');
    return { env, calls };
  };

  it('prints the agent environment and three commands to paste', () => {
    const { env, calls } = printed();
    expect(env).toMatch(/^source \/\S+\/agent\.env$/);
    expect(calls).toEqual(['aws s3 cp s3://reports/2026/q3.csv -', 'aws s3 rm s3://prod-backups/db.dump', 'aws s3 cp s3://customer-data-eu/accounts.csv -']);
    registerSecret(/AWS_SECRET_ACCESS_KEY=(\S+)/.exec(readFileSync(env.slice('source '.length), 'utf8'))?.[1]);
  });

  it('1 is allowed, 2 denied by its rule, 3 held until the printed approve command runs', async () => {
    const { env, calls } = printed();
    const [allowed = '', denied = '', held = ''] = calls;
    const one = await shell(`${env} && ${allowed}`);
    expect(one).toMatchObject({ code: 0, stdout: 'region,revenue\neu-west,1200\nus-east,3400\n' });

    const two = await shell(`${env} && ${denied}`);
    expect(two.code).not.toBe(0);
    expect(two.stderr).toContain('AccessDenied');
    expect(two.stderr).toContain('denied by rule "no-production-deletes"');

    const three = shell(`${env} && ${held}`);
    const notice = await waitFor(/\n {4}(COUNTERSIGN_REVIEW_URL=\S+ COUNTERSIGN_REVIEWER_TOKEN=(\S+) .* approvals approve \S+ --comment "demo")\n/, 30_000);
    registerSecret(notice[2]);
    expect(output).toMatch(/Held: report-bot asks for s3:GetObject on arn:aws:s3:::customer-data-eu\/accounts\.csv \(rule customer-data-reads/);
    expect(output).toMatch(/Review it in a browser as Dmitri Data[^\n]*\n {4}http:\/\/127\.0\.0\.1:\d+\/approvals\/[0-9a-f-]{36}\?t=\S+\n/);
    const approve = await shell(notice[1] ?? '');
    expect(approve).toMatchObject({ code: 0, stdout: 'Approved; the request is now approved.\n' });
    expect(await three).toMatchObject({ code: 0, stdout: 'id,name,email\n1,Ada,ada@example.com\n' });
  });

  it('Ctrl-C stops everything it started and removes its directory', async () => {
    const dir = /source (\/\S+)\/agent\.env/.exec(output)?.[1] ?? '';
    const moto = /local AWS \(moto, request authentication on\) at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] ?? '';
    const proxy = /countersign on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] ?? '';
    const review = /review listener (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] ?? '';
    expect([dir, moto, proxy, review].every((s) => s !== '')).toBe(true);
    expect(processesMentioning([dir]).length).toBeGreaterThan(0);

    const pgid = demo.pid ?? 0;
    process.kill(-pgid, 'SIGINT');
    const deadline = Date.now() + 30_000;
    while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(groupAlive(pgid)).toBe(false);
    expect(output).toContain('Stopped.');
    for (const url of [moto, proxy, review]) expect(await refusesConnections(url), url).toBe(true);
    expect(processesMentioning([dir, `-p ${new URL(moto).port}`])).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});
