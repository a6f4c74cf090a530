// boto3 calls run by test/e2e/clients/boto3_calls.py, as an agent or an admin would make them.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, venvBin } from './python.js';

const BOTO3_CALLS = path.join(repoRoot, 'test', 'e2e', 'clients', 'boto3_calls.py');
const run = promisify(execFile);

/** One call's outcome: its result (response metadata dropped), or the AWS error it got. */
export interface Boto3Outcome {
  ok: boolean;
  result?: Record<string, unknown>;
  code?: string;
  message?: string;
  status?: number;
}

/** Runs `calls` ({ service, op, params, read_body }) in one boto3 session with `env`. */
export async function boto3Calls(env: Record<string, string>, calls: unknown[]): Promise<Boto3Outcome[]> {
  const { stdout } = await run(venvBin('python'), [BOTO3_CALLS, JSON.stringify(calls)], { env });
  return JSON.parse(stdout) as Boto3Outcome[];
}
