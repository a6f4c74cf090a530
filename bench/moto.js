// moto_server as the benchmark's STS (a plain-JS port of what bench/run.js needs from
// src/demo/moto.ts): request authentication on, bootstrapped by
// scripts/moto_bootstrap.py with an admin user and an assumable role. countersign calls
// AssumeRole once per run (credentials are cached), so moto's speed does not enter the numbers.
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { localAwsToolEnv } from '../dist/demo/tools.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NO_AUTH_BOOTSTRAP_CALLS = 5; // NO_AUTH_CALLS in scripts/moto_bootstrap.py
const BOOTSTRAP_SCRIPT = path.join(repoRoot, 'scripts', 'moto_bootstrap.py');

function isExecutableFile(file) {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `<repo>/.venv/bin/NAME` when it exists, else NAME from PATH; undefined when neither. */
export function findBinary(name) {
  const venv = path.join(repoRoot, '.venv', 'bin', name);
  if (isExecutableFile(venv)) return venv;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '' && isExecutableFile(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts moto_server on a free port and bootstraps it. `track(child)` registers the process
 * (its own process group) for clean-up. Returns { endpoint, admin, roleArn, accountId }.
 */
export async function startMoto(track) {
  const motoServer = findBinary('moto_server');
  if (motoServer === undefined) {
    throw new Error('moto_server not found in .venv/bin nor on PATH; install the test tools with `bash .ci/run`.');
  }
  const python = ['python', 'python3'].map((n) => path.join(path.dirname(motoServer), n)).find((p) => existsSync(p)) ?? 'python3';
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(motoServer, ['-H', '127.0.0.1', '-p', String(port)], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: localAwsToolEnv({ INITIAL_NO_AUTH_ACTION_COUNT: String(NO_AUTH_BOOTSTRAP_CALLS), MOTO_PORT: String(port) }),
  });
  track(child, { group: true });
  let tail = '';
  child.stderr.on('data', (d) => (tail = (tail + d.toString()).slice(-4000)));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited early (${child.exitCode}):\n${tail}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      break;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`moto_server did not answer within 20 s (${error.message}):\n${tail}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const stdout = await new Promise((resolve, reject) => {
    execFile(python, [BOOTSTRAP_SCRIPT, 'bootstrap', endpoint], { env: localAwsToolEnv(), timeout: 60_000 }, (error, out, err) => {
      if (error) reject(new Error(`moto_bootstrap.py bootstrap failed: ${error.message}\n${err || out}\nmoto stderr:\n${tail}`));
      else resolve(out);
    });
  });
  const boot = JSON.parse(stdout.trim().split('\n').pop() ?? '');
  return {
    endpoint,
    admin: { accessKeyId: boot.accessKeyId, secretAccessKey: boot.secretAccessKey },
    accountId: boot.accountId,
    roleArn: boot.roleArn,
  };
}
