// A local AWS for the e2e tests, the benchmarks' harness and `countersign demo`: moto in server
// mode with request authentication ON (every request after the bootstrap must carry a valid
// SigV4 signature from a known IAM principal, and is checked against IAM policies / role trust
// policies), so a wrong re-signature fails the way AWS fails.
//
// Requires moto_server + boto3: `bash .ci/run`, or
// `python3 -m venv .venv && .venv/bin/pip install -r requirements-test.txt`.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './free-port.js';
import { findOnPath, localAwsToolEnv, repoRoot, venvBin } from './tools.js';

export interface MotoServer {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  /** Access key of IAM user `countersign-proxy` (inline policy: Allow * on *). */
  admin: { accessKeyId: string; secretAccessKey: string };
  /** moto's default account, 123456789012. */
  accountId: string;
  /** arn:aws:iam::ACCOUNT:role/countersign-target, assumable by the admin user. */
  roleArn: string;
  stop(): Promise<void>;
}

/**
 * Number of unauthenticated calls scripts/moto_bootstrap.py makes
 * (create user, put user policy, create access key, create role, put role
 * policy). moto authenticates every request after these. Keep in sync with
 * NO_AUTH_CALLS in the script.
 */
const NO_AUTH_BOOTSTRAP_CALLS = 5;
const READY_TIMEOUT_MS = 20_000;
const SCRIPT_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;
const BOOTSTRAP_SCRIPT = path.join(repoRoot, 'scripts', 'moto_bootstrap.py');
const SETUP_HINT =
  'Install the Python test tools with `bash .ci/run` (or `python3 -m venv .venv && ' +
  '.venv/bin/pip install -r requirements-test.txt`).';

function resolveMotoServer(): string {
  const bin = venvBin('moto_server');
  const resolved = path.isAbsolute(bin) ? bin : findOnPath(bin);
  if (!resolved) {
    throw new Error(`moto_server not found in ${path.join(repoRoot, '.venv', 'bin')} nor on PATH. ${SETUP_HINT}`);
  }
  return resolved;
}

/** The python that owns moto_server (and hence boto3): its sibling `python`, else python3. */
function resolvePython(motoServer: string = resolveMotoServer()): string {
  for (const name of ['python', 'python3']) {
    const sibling = path.join(path.dirname(motoServer), name);
    if (existsSync(sibling)) return sibling;
  }
  return 'python3';
}

function runScript(python: string, args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      python,
      [BOOTSTRAP_SCRIPT, ...args],
      { env: localAwsToolEnv(extraEnv), timeout: SCRIPT_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const detail = (stderr || stdout).trim().split('\n').slice(-20).join('\n');
          reject(new Error(`${python} moto_bootstrap.py ${args[0] ?? ''} failed: ${err.message}\n${detail}`));
          return;
        }
        resolve(stdout);
      },
    );
  });
}

/** Keeps the last `max` lines written to a stream (moto logs every request to stderr). */
class Tail {
  private lines: string[] = [];
  private partial = '';
  constructor(private readonly max = 40) {}
  push(chunk: Buffer | string): void {
    const parts = (this.partial + chunk.toString()).split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
  }
  toString(): string {
    return [...this.lines, this.partial].filter((l) => l !== '').join('\n');
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // group already gone
  }
}

interface Spawned {
  child: ChildProcess;
  exited: Promise<void>;
  hasExited(): boolean;
  tail: Tail;
}

function spawnMoto(motoServer: string, port: number): Spawned {
  const child = spawn(motoServer, ['-H', '127.0.0.1', '-p', String(port)], {
    detached: true, // own process group, so stop() can kill the whole group
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      INITIAL_NO_AUTH_ACTION_COUNT: String(NO_AUTH_BOOTSTRAP_CALLS),
      MOTO_PORT: String(port),
      PYTHONUNBUFFERED: '1',
    },
  });
  const tail = new Tail();
  child.stdout?.on('data', (c: Buffer) => tail.push(c));
  child.stderr?.on('data', (c: Buffer) => tail.push(c));
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      done = true;
      resolve();
    });
    child.once('error', (err) => {
      tail.push(`spawn error: ${err.message}\n`);
      done = true;
      resolve();
    });
  });
  return { child, exited, hasExited: () => done, tail };
}

async function waitReady(endpoint: string, proc: Spawned): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastErr = '';
  while (Date.now() < deadline) {
    if (proc.hasExited()) {
      throw new Error(
        `moto_server exited before becoming ready (exit code ${proc.child.exitCode ?? 'n/a'}, ` +
          `signal ${proc.child.signalCode ?? 'none'}). stderr tail:\n${proc.tail.toString()}`,
      );
    }
    try {
      // /moto-api/ is served by moto's own dashboard handler: it does not
      // consume one of the INITIAL_NO_AUTH_ACTION_COUNT unauthenticated calls.
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      return;
    } catch (err) {
      lastErr = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `moto_server did not answer ${endpoint}/moto-api/ within ${READY_TIMEOUT_MS / 1000}s ` +
      `(last error: ${lastErr}). stderr tail:\n${proc.tail.toString()}`,
  );
}

function parseBootstrap(stdout: string): { accessKeyId: string; secretAccessKey: string; accountId: string; roleArn: string } {
  const line = stdout.trim().split('\n').pop() ?? '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`moto_bootstrap.py printed no JSON line; stdout:\n${stdout}`);
  }
  const o = parsed as Record<string, unknown>;
  const { accessKeyId, secretAccessKey, accountId, roleArn } = o;
  if (
    typeof accessKeyId !== 'string' ||
    typeof secretAccessKey !== 'string' ||
    typeof accountId !== 'string' ||
    typeof roleArn !== 'string'
  ) {
    throw new Error(`moto_bootstrap.py printed an unexpected line: ${line}`);
  }
  return { accessKeyId, secretAccessKey, accountId, roleArn };
}

/**
 * Starts moto_server on a free 127.0.0.1 port with request authentication ON,
 * bootstraps an admin IAM user + assumable target role, and verifies that
 * authentication is really enforced (bogus secret rejected, AssumeRole works).
 */
export async function startMoto(): Promise<MotoServer> {
  const motoServer = resolveMotoServer();
  const python = resolvePython(motoServer);

  let proc: Spawned | undefined;
  let endpoint: string;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    proc = spawnMoto(motoServer, port);
    try {
      await waitReady(endpoint, proc);
      break;
    } catch (err) {
      killGroup(proc.child, 'SIGKILL');
      await proc.exited;
      // Someone else may have grabbed the port between close() and spawn.
      const portRace = /address already in use/i.test(proc.tail.toString());
      if (!portRace || attempt >= 3) throw err;
    }
  }
  const running = proc;

  const onExit = (): void => killGroup(running.child, 'SIGKILL');
  process.once('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.removeListener('exit', onExit);
      if (running.hasExited()) return;
      killGroup(running.child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(running.child, 'SIGKILL'), STOP_GRACE_MS);
      try {
        await running.exited;
      } finally {
        clearTimeout(timer);
      }
    })();
    return stopping;
  };

  try {
    const boot = parseBootstrap(await runScript(python, ['bootstrap', endpoint]));
    return {
      endpoint,
      admin: { accessKeyId: boot.accessKeyId, secretAccessKey: boot.secretAccessKey },
      accountId: boot.accountId,
      roleArn: boot.roleArn,
      stop,
    };
  } catch (err) {
    await stop();
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${msg}\nmoto_server stderr tail:\n${running.tail.toString()}`, { cause: err });
  }
}

/** The environment of a client talking to moto directly with the admin key (to seed and to check). */
export function adminEnv(moto: MotoServer): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    AWS_ACCESS_KEY_ID: moto.admin.accessKeyId,
    AWS_SECRET_ACCESS_KEY: moto.admin.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

/** countersign's own environment against moto: every service (STS included) sent to moto, as the admin user. */
export function countersignEnv(moto: MotoServer): Record<string, string> {
  return {
    COUNTERSIGN_UPSTREAM_OVERRIDES: `*=${moto.endpoint}`,
    AWS_ACCESS_KEY_ID: moto.admin.accessKeyId,
    AWS_SECRET_ACCESS_KEY: moto.admin.secretAccessKey,
  };
}

/** Creates `bucket` (us-east-1) holding `objects` (key -> UTF-8 body), signed with the admin key. */
export async function seedS3(moto: MotoServer, bucket: string, objects: Record<string, string>): Promise<void> {
  await runScript(resolvePython(), ['seed-s3', moto.endpoint, bucket, JSON.stringify(objects)], adminEnv(moto));
}

/** Creates DynamoDB `table` (hash key `pk`, S) with one item {pk: 'k1', v: 'hello'}, signed with the admin key. */
export async function seedDynamoTable(moto: MotoServer, table: string): Promise<void> {
  await runScript(resolvePython(), ['seed-dynamo', moto.endpoint, table], adminEnv(moto));
}

/** Creates IAM roles `names`, assumable by the admin user (as `countersign-target` is), allowing * on *. */
export async function seedRoles(moto: MotoServer, names: readonly string[]): Promise<void> {
  await runScript(resolvePython(), ['seed-roles', moto.endpoint, JSON.stringify(names)], adminEnv(moto));
}

/** Creates IAM role `name` whose trust policy does not admit countersign's identity. */
export async function seedUntrustingRole(moto: MotoServer, name: string): Promise<void> {
  await runScript(resolvePython(), ['seed-untrusting-role', moto.endpoint, name], adminEnv(moto));
}
