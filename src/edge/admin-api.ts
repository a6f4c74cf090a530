import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditEvent } from '../audit/events.js';
import { ERROR_CATALOGUE, CountersignError, isCountersignError } from '../errors.js';
import { readBody } from '../http/body.js';
import { AGENT_NAME_PATTERN, DEFAULT_KEY_TTL, looksLikeAgentKeyId, parseKeyTtl } from '../identity/agent-keys.js';
import type { AgentRegistry } from '../identity/registry-types.js';
import { bearerOf, tokenMatches } from './admin-api-token.js';

/**
 * The admin API: issue, list and revoke agent keys and agents on a running deployment, so the
 * server key never leaves it. Served on the admin listener only (createAdminServer mounts it;
 * the proxy port has no route to it), under /v1/, to an operator presenting the token
 * (Authorization: Bearer). No token configured: every /v1/ path answers that the API is off.
 *
 *   GET  /v1/agents                  → { agents: [{ agent, revokedAt?, keys: [...] }] }
 *   POST /v1/agents/NAME/keys        { ttl?: "30d" | "never", force?: true } → 201 the key, secret included
 *   POST /v1/agents/NAME/revoke      → { agent, revokedAt, revokedKeys }
 *   POST /v1/keys/KEY_ID/revoke      → { agent, accessKeyId, revokedKeys }
 *
 * Errors are { error: { code, message, hint } } with a code from the catalogue. The issued
 * secret is in the issue response and nowhere else (not in a log, not in the audit record).
 */

export interface AdminApiDeps {
  readonly registry: AgentRegistry;
  /** SHA-256 of the operator token (admin-api-token.ts); absent: the admin API is off. */
  readonly tokenHash?: Buffer;
  /** Agents the policy Directory in force declares: issuing for another needs force. */
  readonly declaredAgents: () => readonly string[];
  /** Refused calls are audited (`admin.refused`): a wrong token tried is worth knowing about. */
  readonly audit?: (event: AuditEvent) => void;
}

/** Requests are small JSON objects; anything larger is refused unread. */
export const MAX_ADMIN_BODY_BYTES = 16 * 1024;
const PREFIX = '/v1/';

type Handler = (deps: AdminApiDeps, match: readonly string[], req: IncomingMessage) => Promise<{ status: number; body: object }>;

interface Route {
  readonly path: RegExp;
  readonly method: 'GET' | 'POST';
  readonly handle: Handler;
}

const ROUTES: readonly Route[] = [
  { path: /^\/v1\/agents$/, method: 'GET', handle: listAgents },
  { path: /^\/v1\/agents\/([^/]+)\/keys$/, method: 'POST', handle: issueKey },
  { path: /^\/v1\/agents\/([^/]+)\/revoke$/, method: 'POST', handle: revokeAgent },
  { path: /^\/v1\/keys\/([^/]+)\/revoke$/, method: 'POST', handle: revokeKey },
];

/** A handler for the admin listener: answers (and returns true) for every path under /v1/. */
export function createAdminApi(deps: AdminApiDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (!path.startsWith(PREFIX)) return false;
    void answer(deps, req, path).then(
      ({ status, body, headers }) => send(res, status, body, headers),
      (error: unknown) => {
        const refusal = isCountersignError(error) ? error : new CountersignError('InternalError', 'The admin API failed on this request.');
        deps.audit?.({ event: 'admin.refused', errorCode: refusal.code, method: req.method ?? '', path: path.slice(0, 200), remoteAddress: req.socket.remoteAddress ?? '' });
        sendError(res, refusal);
      },
    );
    return true;
  };
}

async function answer(deps: AdminApiDeps, req: IncomingMessage, path: string): Promise<{ status: number; body: object; headers?: Record<string, string> }> {
  if (deps.tokenHash === undefined) throw new CountersignError('AdminApiDisabled', 'The admin API is off on this countersign: no operator token is configured.');
  if (!tokenMatches(bearerOf(req.headers.authorization), deps.tokenHash)) {
    throw new CountersignError('AdminUnauthorized', req.headers.authorization === undefined ? 'The admin API needs the operator token.' : 'The operator token is not the one this countersign accepts.');
  }
  const routes = ROUTES.map((route) => ({ route, match: route.path.exec(path) })).filter((r) => r.match !== null);
  if (routes.length === 0) throw new CountersignError('AdminNotFound', `There is no ${path} in the admin API.`);
  const hit = routes.find((r) => r.route.method === req.method);
  if (hit === undefined) {
    const allowed = routes.map((r) => r.route.method).join(', ');
    const error = new CountersignError('AdminMethodNotAllowed', `${path} takes ${allowed}, not ${req.method ?? '?'}.`, { allow: allowed });
    throw error;
  }
  return hit.route.handle(deps, hit.match ?? [], req);
}

async function listAgents(deps: AdminApiDeps): Promise<{ status: number; body: object }> {
  return { status: 200, body: { agents: await deps.registry.list() } };
}

async function issueKey(deps: AdminApiDeps, match: readonly string[], req: IncomingMessage): Promise<{ status: number; body: object }> {
  const agent = agentName(match[1]);
  const body = await jsonBody(req, { ttl: 'string', force: 'boolean' });
  const ttlText = (body.ttl as string | undefined) ?? DEFAULT_KEY_TTL;
  let ttlMs: number | undefined;
  try {
    ttlMs = parseKeyTtl(ttlText);
  } catch (error) {
    throw new CountersignError('AdminBadRequest', (error as Error).message);
  }
  if (body.force !== true) {
    const declared = deps.declaredAgents();
    if (!declared.includes(agent)) {
      throw new CountersignError('UndeclaredAgent', `The Directory in force does not declare agent "${agent}" (${declared.length === 0 ? 'it declares no agents' : `it declares ${[...declared].sort().join(', ')}`}).`);
    }
  }
  const issued = await deps.registry.issue(agent, ttlMs === undefined ? {} : { ttlMs });
  return { status: 201, body: issued };
}

async function revokeAgent(deps: AdminApiDeps, match: readonly string[], req: IncomingMessage): Promise<{ status: number; body: object }> {
  const agent = agentName(match[1]);
  await jsonBody(req, {});
  const revokedKeys = await deps.registry.revoke(agent);
  return { status: 200, body: { agent, revokedAt: deps.registry.revokedAt(agent), revokedKeys } };
}

async function revokeKey(deps: AdminApiDeps, match: readonly string[], req: IncomingMessage): Promise<{ status: number; body: object }> {
  const accessKeyId = match[1] ?? '';
  await jsonBody(req, {});
  const found = looksLikeAgentKeyId(accessKeyId) ? deps.registry.lookup(accessKeyId) : undefined;
  if (found === undefined) throw new CountersignError('AdminNotFound', `No agent key ${accessKeyId.slice(0, 24)} is in the registry.`);
  const revokedKeys = await deps.registry.revoke(accessKeyId);
  return { status: 200, body: { agent: found.agent, accessKeyId, revokedKeys } };
}

function agentName(raw: string | undefined): string {
  let name: string;
  try {
    name = decodeURIComponent(raw ?? '');
  } catch {
    name = '';
  }
  if (!AGENT_NAME_PATTERN.test(name)) {
    throw new CountersignError('AdminBadRequest', 'The agent name is not valid: use 1-48 letters, digits, ".", "_" or "-", starting with a letter or digit.');
  }
  return name;
}

/** The request's JSON object (empty body: {}), holding only the fields given, of their types. */
async function jsonBody(req: IncomingMessage, fields: Record<string, 'string' | 'boolean'>): Promise<Record<string, unknown>> {
  const raw = await readBody(req, MAX_ADMIN_BODY_BYTES);
  if (raw.length === 0) return {};
  if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    throw new CountersignError('AdminBadRequest', 'Send the body as Content-Type: application/json.');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new CountersignError('AdminBadRequest', 'The body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CountersignError('AdminBadRequest', 'The body must be a JSON object.');
  for (const [name, value] of Object.entries(parsed)) {
    const type = fields[name];
    if (type === undefined) throw new CountersignError('AdminBadRequest', `The field "${name.slice(0, 40)}" is not known here${Object.keys(fields).length === 0 ? ' (this call takes no fields)' : ` (known: ${Object.keys(fields).join(', ')})`}.`);
    if (typeof value !== type) throw new CountersignError('AdminBadRequest', `The field "${name}" must be a ${type}.`);
  }
  return parsed as Record<string, unknown>;
}

function sendError(res: ServerResponse, error: CountersignError): void {
  const entry = ERROR_CATALOGUE[error.code];
  const headers: Record<string, string> = { 'x-countersign-error': error.code, ...error.headers };
  if (error.code === 'AdminUnauthorized') headers['www-authenticate'] = 'Bearer realm="countersign admin"';
  send(res, entry.status, { error: { code: error.code, message: error.message, hint: entry.hint } }, headers);
}

function send(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  // A refused request may leave a body unread: close the connection rather than read it.
  const close = status >= 400 ? { connection: 'close' } : {};
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...close, ...headers });
  res.end(text);
}
