// Locating the Python tools the local AWS emulator needs (moto_server, python with boto3, the
// AWS CLI). `bash .ci/run` installs them into <package>/.venv from requirements-test.txt;
// without that venv, whatever is on PATH.
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: this file is src/demo/tools.ts, or dist/demo/tools.js once built. */
export const repoRoot: string = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The package's virtualenv bin directory (may not exist). */
export const venvBinDir: string = path.join(repoRoot, '.venv', 'bin');

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * `<package>/.venv/bin/NAME` when that exists, else plain NAME (resolved via PATH by the
 * spawner). For `aws`, `python`, `moto_server`, `mitmdump`.
 */
export function venvBin(name: string): string {
  const candidate = path.join(venvBinDir, name);
  return isExecutableFile(candidate) ? candidate : name;
}

/** Like `command -v NAME`: absolute path of NAME on PATH, or undefined. */
export function findOnPath(name: string): string | undefined {
  if (name.includes('/')) return isExecutableFile(name) ? path.resolve(name) : undefined;
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The process environment less everything that would let the user's own AWS setup, countersign
 * settings or proxies leak into a child: `AWS_*`, `COUNTERSIGN_*`, the proxy variables, and any
 * further prefixes a caller names.
 */
export function isolatedEnv(dropPrefixes: readonly string[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key.startsWith('AWS_') || key.startsWith('COUNTERSIGN_') || dropPrefixes.some((p) => key.startsWith(p)) || /^(https?|all|no)_proxy$/i.test(key)) continue;
    env[key] = value;
  }
  return env;
}

/**
 * The environment of a local AWS tool (moto_server, its bootstrap script, boto3 or the CLI
 * against it): isolated, no config or credential files, no instance metadata, loopback unproxied.
 */
export function localAwsToolEnv(extra: Readonly<Record<string, string>> = {}, dropPrefixes: readonly string[] = []): Record<string, string> {
  return {
    ...isolatedEnv(dropPrefixes),
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    PYTHONUNBUFFERED: '1',
    ...extra,
  };
}
