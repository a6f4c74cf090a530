import { readFileSync } from 'node:fs';
import type { CliIo } from './args.js';

/**
 * The agents CLI against a running countersign: calls the admin API (src/edge/admin-api.ts) on
 * the admin listener with the operator token, so issuing and revoking never need the server
 * key outside the deployment.
 */

export interface AdminTarget {
  readonly base: string;
  readonly token: string;
}

export type AdminAnswer = { readonly ok: true; readonly status: number; readonly json: Record<string, unknown> } | { readonly ok: false; readonly exitCode: number };

/** Where and as whom to call, from --server (or COUNTERSIGN_ADMIN_URL) and the token settings; undefined: work locally. */
export function adminTarget(server: string | undefined, io: CliIo): AdminTarget | number | undefined {
  const base = server ?? (io.env.COUNTERSIGN_ADMIN_URL === '' ? undefined : io.env.COUNTERSIGN_ADMIN_URL);
  if (base === undefined) return undefined;
  if (!/^https?:\/\/[^\s/]+\/?$/.test(base)) {
    io.err(`countersign: --server "${base}" is not the admin listener's URL; give http(s)://HOST:PORT, for example http://127.0.0.1:9090.`);
    return 2;
  }
  const token = operatorToken(io);
  if (typeof token === 'number') return token;
  return { base: base.replace(/\/$/, ''), token };
}

function operatorToken(io: CliIo): string | number {
  const direct = io.env.COUNTERSIGN_ADMIN_TOKEN;
  if (direct !== undefined && direct !== '') return direct.trim();
  const file = io.env.COUNTERSIGN_ADMIN_TOKEN_FILE;
  if (file !== undefined && file !== '') {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch (error) {
      io.err(`countersign: cannot read COUNTERSIGN_ADMIN_TOKEN_FILE=${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`);
      return 2;
    }
    if (text.startsWith('sha256:')) {
      io.err(`countersign: COUNTERSIGN_ADMIN_TOKEN_FILE=${file} holds the token's hash, which the server checks against; the CLI needs the token itself (COUNTERSIGN_ADMIN_TOKEN or a file holding it).`);
      return 2;
    }
    return text;
  }
  io.err('countersign: with --server, set COUNTERSIGN_ADMIN_TOKEN (or COUNTERSIGN_ADMIN_TOKEN_FILE) to the operator token the server accepts (its COUNTERSIGN_ADMIN_TOKEN_FILE).');
  return 2;
}

/** One call; a refusal is printed with its code, message and hint (exit 1). */
export async function callAdmin(io: CliIo, target: AdminTarget, method: 'GET' | 'POST', path: string, body?: object): Promise<AdminAnswer> {
  let response: Response;
  try {
    response = await fetch(`${target.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${target.token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      redirect: 'error',
    });
  } catch (error) {
    const why = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    io.err(`countersign: cannot reach the admin API at ${target.base} (${why}).`);
    return { ok: false, exitCode: 1 };
  }
  const text = await response.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    io.err(`countersign: HTTP ${response.status} from ${target.base}, which is not a countersign admin listener.`);
    return { ok: false, exitCode: 1 };
  }
  if (response.status >= 400) {
    const error = (json.error ?? {}) as { code?: string; message?: string; hint?: string };
    io.err(`countersign: ${error.code ?? `HTTP ${response.status}`}: ${[error.message, error.hint].filter((t) => t !== undefined).join(' ')}`);
    return { ok: false, exitCode: 1 };
  }
  return { ok: true, status: response.status, json };
}
