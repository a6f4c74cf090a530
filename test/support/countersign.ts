// Runs the built countersign CLI (`node dist/cli/main.js serve`) as a child process, the way a
// user runs it, with its own data and policy directories, and collects its JSON log lines.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { keepLogs, registerSecret } from './evidence.js';
import { repoRoot } from './python.js';

export const CLI = path.join(repoRoot, 'dist', 'cli', 'main.js');

export interface AgentKey {
  agent: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface CountersignProcess {
  /** http://127.0.0.1:PORT */
  proxyUrl: string;
  port: number;
  /** http://127.0.0.1:PORT of the admin listener (/healthz, /readyz). */
  adminUrl: string;
  /** http://127.0.0.1:PORT of the review listener. */
  reviewUrl: string;
  dataDir: string;
  policyDir: string;
  caPath: string;
  /** Everything written to stdout so far (JSON log lines). */
  stdout(): string;
  stderr(): string;
  /** Parsed final records of requests (`request.forwarded` and `request.failed`). */
  requests(): Array<Record<string, unknown>>;
  /**
   * Waits until `count` request records satisfy `predicate` (audit lines arrive through the
   * child's stdout pipe a moment after the response) and returns them.
   */
  waitForRequests(predicate: (record: Record<string, unknown>) => boolean, count?: number): Promise<Array<Record<string, unknown>>>;
  /** Runs `countersign ARGS` against the same data directory. */
  cli(args: string[]): string;
  issueAgent(name: string): AgentKey;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Policy files to write into a fresh policy directory, or an existing directory to use. */
  policies: Record<string, string> | string;
  env?: Record<string, string>;
  /** Share a data directory (CA, server key, agent registry) with another process, as replicas do. */
  dataDir?: string;
}

export async function startCountersign(options: StartOptions): Promise<CountersignProcess> {
  const root = mkdtempSync(path.join(tmpdir(), 'countersign-test-'));
  const dataDir = options.dataDir ?? path.join(root, 'data');
  const policyDir = typeof options.policies === 'string' ? options.policies : path.join(root, 'policies');
  if (typeof options.policies !== 'string') {
    mkdirSync(policyDir);
    for (const [name, text] of Object.entries(options.policies)) writeFileSync(path.join(policyDir, name), text);
  }
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? root,
    COUNTERSIGN_LISTEN: '127.0.0.1:0',
    COUNTERSIGN_ADMIN_LISTEN: '127.0.0.1:0',
    COUNTERSIGN_REVIEW_LISTEN: '127.0.0.1:0',
    COUNTERSIGN_DATA_DIR: dataDir,
    COUNTERSIGN_POLICY_DIR: policyDir,
    COUNTERSIGN_LOG_LEVEL: 'debug',
    AWS_REGION: 'us-east-1',
    // No shared config or instance metadata lookups: credentials come from the env only.
    AWS_CONFIG_FILE: path.join(root, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(root, 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    ...options.env,
  };
  const child = spawn(process.execPath, [CLI, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await waitForListening(child, () => stderr);
  const cli = (args: string[]) => execFileSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
  registerSecret(env.AWS_SECRET_ACCESS_KEY, env.COUNTERSIGN_WEBHOOK_SECRET, env.COUNTERSIGN_WEBHOOK_URL, env.COUNTERSIGN_SLACK_WEBHOOK_URL, env.COUNTERSIGN_TEAMS_WEBHOOK_URL);
  const adminPort = /readiness: http:\/\/127\.0\.0\.1:(\d+)\/readyz/.exec(stderr)?.[1];
  const requests = () =>
    stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((record) => record.event === 'request.forwarded' || record.event === 'request.failed');
  const waitForRequests = async (predicate: (record: Record<string, unknown>) => boolean, count = 1) => {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const found = requests().filter(predicate);
      if (found.length >= count || Date.now() > deadline) return found;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    proxyUrl: `http://127.0.0.1:${port}`,
    port,
    adminUrl: `http://127.0.0.1:${adminPort ?? '0'}`,
    reviewUrl: `http://127.0.0.1:${/decide at: http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr)?.[1] ?? '0'}`,
    dataDir,
    policyDir,
    caPath: path.join(dataDir, 'ca.crt'),
    stdout: () => stdout,
    stderr: () => stderr,
    requests,
    waitForRequests,
    cli,
    issueAgent: (name) => {
      // Test policies mostly declare no Directory; the refusal of unknown names has its own test (cli.test.ts).
      const key = JSON.parse(cli(['agents', 'issue', name, '--json', '--force'])) as AgentKey;
      registerSecret(key.secretAccessKey);
      return key;
    },
    stop: async () => {
      await stopChild(child);
      keepLogs('countersign', stdout + stderr, path.join(dataDir, 'audit.jsonl'));
    },
  };
}

function waitForListening(child: ChildProcess, stderr: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`countersign did not start:\n${stderr()}`)), 15_000);
    const check = () => {
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)[\s\S]*decide at/.exec(stderr());
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        child.stderr?.off('data', check);
        resolve(Number(match[1]));
      }
    };
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`countersign exited with ${String(code)}:\n${stderr()}`));
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  // A child killed by a signal has no exit code but has exited: waiting for 'exit' would hang.
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** The environment an agent process gets: its key, the proxy, the CA, nothing else from AWS. */
export function agentEnv(cs: CountersignProcess, key: AgentKey, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    AWS_ACCESS_KEY_ID: key.accessKeyId,
    AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    HTTPS_PROXY: cs.proxyUrl,
    https_proxy: cs.proxyUrl,
    NO_PROXY: '',
    AWS_CA_BUNDLE: cs.caPath,
    ...extra,
  };
}
