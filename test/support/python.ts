// Locating the Python-based test tools (moto_server, aws, python, mitmdump).
// `bash .ci/run` installs them into <repo>/.venv from requirements-test.txt;
// without a repo venv we fall back to whatever is on PATH.
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the repository root (this file is test/support/python.ts). */
export const repoRoot: string = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of the repo's virtualenv bin directory (may not exist). */
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
 * `<repo>/.venv/bin/NAME` when that exists, else plain NAME (resolved via
 * PATH by the spawner). Use for `aws`, `python`, `moto_server`, `mitmdump`.
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
