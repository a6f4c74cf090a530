/**
 * `countersign demo` (`npm run demo`): countersign end to end on one machine, without AWS. A local
 * AWS (moto, request authentication on, so a wrong re-signature fails as AWS fails), the roles the
 * example policies name created in it, two buckets, countersign pointed at it with the example
 * policies and a key for the agent report-bot; then three commands to paste: an allowed call, a
 * denied one, and one held until a reviewer approves, with the review link and the CLI command
 * shown when it is held. Ctrl-C stops everything it started and removes its directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ReviewTokens } from '../approvals/links.js';
import type { WebhookPayload } from '../approvals/notify/webhook.js';
import { AgentRegistry, loadOrCreateServerKey } from '../identity/registry.js';
import { loadPolicyDir } from '../policy/load.js';
import { countersignEnv, seedRoles, seedS3, startMoto, type MotoServer } from './moto.js';
import { isolatedEnv } from './tools.js';
import { receiveNotices, type NoticeReceiver } from './notices.js';
import { findOnPath, repoRoot, venvBin, venvBinDir } from './tools.js';

export interface DemoIo {
  out(line: string): void;
  /** How to run this CLI, for the printed commands (`node dist/cli/main.js`). */
  readonly cli: string;
}

const AGENT = 'report-bot';
/** Eligible for report-bot's data reads: a data owner who does not own report-bot (dana does). */
const REVIEWER = 'dmitri';
const POLICY_DIR = path.join(repoRoot, 'policies');
const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const START_TIMEOUT_MS = 30_000;

export const DEMO_CALLS = {
  allowed: 'aws s3 cp s3://reports/2026/q3.csv -',
  denied: 'aws s3 rm s3://prod-backups/db.dump',
  held: 'aws s3 cp s3://customer-data-eu/accounts.csv -',
} as const;

interface Countersign {
  readonly child: ChildProcess;
  readonly proxyUrl: string;
  readonly reviewUrl: string;
  readonly exited: Promise<void>;
}

/** The role names the policies' credentials use, in the moto account (the example account is moto's, 123456789012). */
function policyRoles(moto: MotoServer): { names: string[]; foreign: string[] } {
  const arns = new Set(loadPolicyDir(POLICY_DIR).rules.flatMap((rule) => (rule.kind === 'aws' && rule.credentials !== undefined ? [rule.credentials.roleArn] : [])));
  const names: string[] = [];
  const foreign: string[] = [];
  for (const arn of arns) {
    const match = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(arn);
    if (match?.[1] === moto.accountId && match[2] !== undefined) names.push(match[2]);
    else foreign.push(arn);
  }
  return { names, foreign };
}

async function startProxy(moto: MotoServer, dir: string, notices: NoticeReceiver): Promise<Countersign> {
  const log = openSync(path.join(dir, 'countersign.log'), 'a');
  const env = {
    ...isolatedEnv(),
    ...countersignEnv(moto),
    COUNTERSIGN_LISTEN: '127.0.0.1:0',
    COUNTERSIGN_ADMIN_LISTEN: '127.0.0.1:0',
    COUNTERSIGN_REVIEW_LISTEN: '127.0.0.1:0',
    COUNTERSIGN_DATA_DIR: path.join(dir, 'data'),
    COUNTERSIGN_POLICY_DIR: POLICY_DIR,
    COUNTERSIGN_WEBHOOK_URL: notices.url,
    COUNTERSIGN_WEBHOOK_SECRET: notices.secret,
    COUNTERSIGN_SHUTDOWN_GRACE_SECONDS: '2',
    AWS_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  // Its own process group: a Ctrl-C reaches the demo, which stops it (and moto) in order.
  const child = spawn(process.execPath, [MAIN, 'serve'], { env, stdio: ['ignore', log, 'pipe'], detached: true });
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  return new Promise<Countersign>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`countersign did not start within ${START_TIMEOUT_MS / 1000} s:\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const proxy = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
      const review = /decide at: (http:\/\/127\.0\.0\.1:\d+)\//.exec(stderr)?.[1];
      if (proxy === undefined || review === undefined) return;
      clearTimeout(timer);
      resolve({ child, proxyUrl: proxy, reviewUrl: review, exited });
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`countersign exited (${String(child.exitCode ?? child.signalCode)}):\n${stderr}`));
    });
  });
}

/** The agent's shell: its countersign key, the proxy, the CA, and nothing of the user's AWS setup. */
function agentEnvFile(dir: string, cs: Countersign, key: { accessKeyId: string; secretAccessKey: string }): string {
  const file = path.join(dir, 'agent.env');
  const venvAws = venvBin('aws') !== 'aws';
  writeFileSync(
    file,
    [
      `# The agent "${AGENT}" of countersign demo: a countersign key (worthless against AWS), the proxy and its CA.`,
      'unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_CA_BUNDLE NO_PROXY no_proxy',
      `export HTTPS_PROXY=${cs.proxyUrl} https_proxy=${cs.proxyUrl}`,
      `export AWS_CA_BUNDLE=${path.join(dir, 'data', 'ca.crt')}`,
      `export AWS_ACCESS_KEY_ID=${key.accessKeyId}`,
      `export AWS_SECRET_ACCESS_KEY=${key.secretAccessKey}`,
      'export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1',
      '# No profile or credentials file of yours gets in the way.',
      'export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true',
      ...(venvAws ? ['# The AWS CLI from requirements-test.txt.', `export PATH="${venvBinDir}:$PATH"`] : []),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return file;
}

function guide(io: DemoIo, moto: MotoServer, cs: Countersign, envFile: string, dir: string): string[] {
  return [
    '',
    `countersign demo is running: countersign on ${cs.proxyUrl} (review listener ${cs.reviewUrl}) with the example policies`,
    `in ${path.relative(process.cwd(), POLICY_DIR) || POLICY_DIR}, in front of a local AWS (moto, request authentication on) at ${moto.endpoint}.`,
    '',
    `In another terminal, be the agent "${AGENT}" (its countersign key, the proxy, the CA):`,
    '',
    `  source ${envFile}`,
    '',
    `1. Allowed (rule read-only): prints the object`,
    `  ${DEMO_CALLS.allowed}`,
    '',
    `2. Denied (rule no-production-deletes): AccessDenied names the rule; nothing reaches AWS`,
    `  ${DEMO_CALLS.denied}`,
    '',
    `3. Held until a data owner approves (rule customer-data-reads): waits up to 55 s; run it again after approving`,
    `  ${DEMO_CALLS.held}`,
    '',
    'When 3 is held, the review link and the command to approve it appear here.',
    `Audit log: ${path.join(dir, 'data', 'audit.jsonl')} (${io.cli} audit export, with COUNTERSIGN_DATA_DIR=${path.join(dir, 'data')}); countersign's log: ${path.join(dir, 'countersign.log')}.`,
    'Ctrl-C stops everything.',
    '',
  ];
}

function noticeLines(io: DemoIo, notice: WebhookPayload, cs: Countersign, token: string): string[] {
  const { id, context } = notice.approval;
  const link = notice.reviewLinks.find((l) => l.reviewer === REVIEWER) ?? notice.reviewLinks[0];
  return [
    '',
    `Held: ${context.agent} asks for ${context.actions.join(', ')} on ${context.resources.join(', ')} (rule ${context.rules.join(', ')}; approval ${id}).`,
    ...(link === undefined ? [] : [`  Review it in a browser as ${link.name} (${context.owners.join(', ') || 'nobody'} owns ${context.agent}, so may not):`, `    ${link.url}`]),
    '  or approve it from the CLI:',
    `    COUNTERSIGN_REVIEW_URL=${cs.reviewUrl} COUNTERSIGN_REVIEWER_TOKEN=${token} ${io.cli} approvals approve ${id} --comment "demo"`,
    '',
  ];
}

async function stopChild(cs: Countersign): Promise<void> {
  if (cs.child.exitCode !== null || cs.child.signalCode !== null) return;
  cs.child.kill('SIGTERM');
  const timer = setTimeout(() => cs.child.kill('SIGKILL'), 10_000);
  await cs.exited;
  clearTimeout(timer);
}

/** Resolves on the first SIGINT, SIGTERM or SIGHUP; later ones are ignored while the demo stops (it stops within seconds). */
function stopSignal(): Promise<string> {
  return new Promise<string>((resolve) => {
    let seen = false;
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => {
        if (!seen) resolve(signal);
        seen = true;
      });
    }
  });
}

/** Runs until a stop signal (or countersign exits); resolves with the exit code once everything it started is gone. */
export async function runDemo(io: DemoIo): Promise<number> {
  // From the start, so a Ctrl-C while moto starts still stops moto.
  const stop = stopSignal();
  if (venvBin('aws') === 'aws' && findOnPath('aws') === undefined) {
    io.out('note: the AWS CLI is not installed (python3 -m venv .venv && .venv/bin/pip install -r requirements-test.txt); the commands below need it.');
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'countersign-demo-'));
  const cleanups: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
  const cleanUp = async () => {
    for (const step of cleanups.reverse()) await step();
  };
  const running = await start(io, dir, cleanups).catch(async (error: unknown) => {
    await cleanUp();
    throw error;
  });
  const stopped = await Promise.race([stop, running.exited.then(() => 'countersign exited')]);
  io.out(`\nStopping (${stopped}): countersign, the local AWS, ${dir}...`);
  await cleanUp();
  io.out('Stopped.');
  return stopped === 'countersign exited' ? 1 : 0;
}

async function start(io: DemoIo, dir: string, cleanups: Array<() => Promise<void> | void>): Promise<Countersign> {
  io.out('Starting a local AWS (moto, request authentication on)...');
  const moto = await startMoto();
  cleanups.push(() => moto.stop());
  const roles = policyRoles(moto);
  for (const arn of roles.foreign) io.out(`note: ${arn} is not in the local AWS account ${moto.accountId}; calls under it will fail.`);
  await seedRoles(moto, roles.names);
  await seedS3(moto, 'reports', { '2026/q3.csv': 'region,revenue\neu-west,1200\nus-east,3400\n' });
  await seedS3(moto, 'customer-data-eu', { 'accounts.csv': 'id,name,email\n1,Ada,ada@example.com\n' });
  const state: { cs?: Countersign; token?: string } = {};
  const notices = await receiveNotices((notice) => {
    if (state.cs !== undefined) for (const line of noticeLines(io, notice, state.cs, state.token ?? '')) io.out(line);
  });
  cleanups.push(() => notices.close());
  io.out('Starting countersign with the example policies...');
  const cs = await startProxy(moto, dir, notices);
  cleanups.push(() => stopChild(cs));
  const dataDir = path.join(dir, 'data');
  const serverKey = loadOrCreateServerKey(dataDir);
  const key = new AgentRegistry(dataDir, serverKey).issue(AGENT);
  state.token = ReviewTokens.fromServerKey(serverKey).apiToken(REVIEWER);
  state.cs = cs;
  for (const line of guide(io, moto, cs, agentEnvFile(dir, cs, key), dir)) io.out(line);
  return cs;
}
