import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { AuditEmitter } from '../audit/emitter.js';
import type { Logger } from '../audit/logger.js';
import { readBody } from '../http/body.js';
import { isCountersignError } from '../errors.js';
import type { ReviewerSpec } from '../policy/types.js';
import { parseWindowMinutes, reviewApproval, REVIEW_REFUSALS, type ReviewChannel } from './decide.js';
import type { ReviewTokens } from './links.js';
import { PAGE_SCRIPT_HASH, renderReviewPage, type PageViewer } from './review-page.js';
import type { ApprovalRecord, ApprovalStore, ReviewOutcome } from './types.js';

export interface TrustedIdentity {
  /** Header an auth proxy in front sets (oauth2-proxy: X-Forwarded-Email), matched to reviewers by email. */
  readonly header: string;
  /** Only requests from these addresses may assert it. */
  readonly proxies: readonly string[];
}

export interface ReviewServerDeps {
  readonly store: ApprovalStore;
  readonly tokens: ReviewTokens;
  readonly reviewers: () => ReadonlyMap<string, ReviewerSpec>;
  readonly trustedIdentity?: TrustedIdentity;
  readonly logger: Logger;
  readonly audit: AuditEmitter;
  readonly now?: () => number;
  /** The Slack app's interactivity endpoint (slack/interactivity.ts), when the app is configured. */
  readonly slack?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

const MESSAGES = REVIEW_REFUSALS;

/**
 * What the page says after a decision: the POST answers 303 to the page with one of these codes
 * (POST/redirect/GET), so a reload shows the page again and never re-sends the decision. Only
 * these fixed texts are ever shown; any other code is ignored.
 */
const NOTICES: Readonly<Record<string, string>> = {
  approved: 'Recorded: you approved this request.',
  'approved-window': 'Recorded: you approved the same call for a while.',
  denied: 'Recorded: you denied this request.',
  ...MESSAGES,
};

/**
 * The reviewers' listener, on its own port so agents do not reach it by default. Pages and
 * the JSON API; a GET never decides. Anything carrying agent (SigV4) credentials is refused:
 * no agent identity reaches a decision path.
 */
export function createReviewServer(deps: ReviewServerDeps): Server {
  const now = deps.now ?? Date.now;
  const trusted = trustedProxies(deps.trustedIdentity);

  return createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      deps.logger.error({ event: 'review.failed', error: error instanceof Error ? error.message : String(error) }, 'review request failed');
      const status = isCountersignError(error) ? error.entry.status : 500;
      if (!res.headersSent) sendJson(res, status, { error: isCountersignError(error) ? error.clientMessage : 'internal error' });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://review.local');
    if (carriesAgentCredentials(req, url)) {
      deps.logger.warn({ event: 'review.agent_credentials_refused', path: url.pathname, remoteAddress: req.socket.remoteAddress }, 'agent credentials on the review listener');
      return sendJson(res, 403, { error: 'Agent credentials are not accepted here: agents can request approvals, never decide them.' });
    }
    const page = /^\/approvals\/([0-9a-f-]{36})$/.exec(url.pathname);
    const decide = /^\/approvals\/([0-9a-f-]{36})\/decision$/.exec(url.pathname);
    const api = /^\/api\/v1\/approvals(?:\/([0-9a-f-]{36}))?(?:\/(approve|deny))?$/.exec(url.pathname);
    if (page?.[1] !== undefined && req.method === 'GET') return showPage(req, res, page[1], url.searchParams.get('t') ?? undefined, NOTICES[url.searchParams.get('done') ?? '']);
    if (decide?.[1] !== undefined && req.method === 'POST') return decideFromForm(req, res, decide[1]);
    if (api !== null) return serveApi(req, res, api[1], api[2] as 'approve' | 'deny' | undefined, url);
    if (url.pathname === '/slack/interactivity' && deps.slack !== undefined) return deps.slack(req, res);
    if (url.pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
    return sendJson(res, req.method === 'GET' || req.method === 'POST' ? 404 : 405, { error: 'not found' });
  }

  /** Who the viewer of a page is: a genuine link token for this request, or the trusted header. */
  function pageIdentity(req: IncomingMessage, id: string, linkToken: string | undefined): string | undefined {
    if (linkToken !== undefined) return deps.tokens.verifyLink(linkToken, id, now());
    return trustedReviewer(req);
  }

  function trustedReviewer(req: IncomingMessage): string | undefined {
    if (deps.trustedIdentity === undefined || trusted === undefined) return undefined;
    const address = normaliseIp(req.socket.remoteAddress ?? '');
    const family = isIP(address);
    if (family === 0 || !trusted.check(address, family === 6 ? 'ipv6' : 'ipv4')) return undefined;
    const email = req.headers[deps.trustedIdentity.header.toLowerCase()];
    if (typeof email !== 'string') return undefined;
    return [...deps.reviewers().values()].find((r) => r.email !== undefined && r.email.toLowerCase() === email.toLowerCase())?.id;
  }

  function viewerFor(record: ApprovalRecord, reviewer: string | undefined, linkToken: string | undefined, notice?: string): PageViewer {
    if (reviewer === undefined) return { cannotDecide: 'Anyone with this page may look; to decide, open your own review link or sign in.', names: reviewerNames(), ...(notice !== undefined && { notice }) };
    const spec = deps.reviewers().get(reviewer);
    const cannotDecide = record.context.owners.includes(reviewer)
      ? MESSAGES.owner
      : !record.requirements.some((r) => r.eligible.includes(reviewer))
        ? MESSAGES.not_eligible
        : record.reviews.some((r) => r.reviewer === reviewer)
          ? MESSAGES.already_reviewed
          : undefined;
    return {
      reviewer,
      reviewerName: spec?.displayName ?? reviewer,
      names: reviewerNames(),
      csrf: deps.tokens.csrfToken(record.id, reviewer),
      ...(linkToken !== undefined && { linkToken }),
      ...(cannotDecide !== undefined && { cannotDecide }),
      ...(notice !== undefined && { notice }),
    };
  }

  function reviewerNames(): ReadonlyMap<string, string> {
    return new Map([...deps.reviewers().values()].map((r) => [r.id, r.displayName] as const));
  }

  async function showPage(req: IncomingMessage, res: ServerResponse, id: string, linkToken: string | undefined, notice?: string): Promise<void> {
    const record = await deps.store.get(id, now());
    if (record === undefined) return sendHtml(res, 404, '<!doctype html><p>No such approval request.</p>');
    const reviewer = pageIdentity(req, id, linkToken);
    sendHtml(res, 200, renderReviewPage(record, viewerFor(record, reviewer, reviewer === undefined ? undefined : linkToken, notice), now()));
  }

  async function decideFromForm(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const form = new URLSearchParams((await readBody(req, 16 * 1024)).toString('utf8'));
    const linkToken = form.get('t') ?? undefined;
    const reviewer = pageIdentity(req, id, linkToken);
    const decision = form.get('decision');
    if (reviewer === undefined) return sendHtml(res, 403, '<!doctype html><p>Only a reviewer may decide: open your own review link.</p>');
    if (!deps.tokens.verifyCsrf(form.get('csrf') ?? '', id, reviewer)) return sendHtml(res, 403, '<!doctype html><p>The form is stale or forged (CSRF check failed); reload the page.</p>');
    if (decision !== 'approve' && decision !== 'deny') return sendHtml(res, 400, '<!doctype html><p>Choose approve or deny.</p>');
    // The window select belongs to Approve; a Deny sent with it chosen is still just a deny.
    const windowMinutes = decision === 'approve' ? parseWindowMinutes(form.get('window')) : undefined;
    const outcome = await review(id, reviewer, decision, form.get('comment') ?? '', 'page', windowMinutes);
    const done = outcome.ok ? (decision === 'deny' ? 'denied' : windowMinutes === undefined ? 'approved' : 'approved-window') : outcome.reason;
    // POST/redirect/GET: the answer is a redirect to the page, so a reload never re-submits.
    const location = `/approvals/${id}?${new URLSearchParams({ ...(linkToken !== undefined && { t: linkToken }), done }).toString()}`;
    res.writeHead(303, { location, 'content-length': 0, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    res.end();
  }

  async function serveApi(req: IncomingMessage, res: ServerResponse, id: string | undefined, verb: 'approve' | 'deny' | undefined, url: URL): Promise<void> {
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const reviewer = bearer === undefined ? undefined : deps.tokens.verifyApi(bearer);
    if (reviewer === undefined || !deps.reviewers().has(reviewer)) return sendJson(res, 401, { error: 'A reviewer API token is required (countersign reviewers token ID).' });
    if (id === undefined && req.method === 'GET') {
      const status = url.searchParams.get('status') ?? undefined;
      const records = await deps.store.list(now(), status as ApprovalRecord['status'] | undefined);
      return sendJson(res, 200, { approvals: records });
    }
    if (id !== undefined && verb === undefined && req.method === 'GET') {
      const record = await deps.store.get(id, now());
      return record === undefined ? sendJson(res, 404, { error: MESSAGES.not_found }) : sendJson(res, 200, { approval: record });
    }
    if (id !== undefined && verb !== undefined && req.method === 'POST') {
      const body = (await readBody(req, 16 * 1024)).toString('utf8');
      const parsed = parseReviewBody(body);
      if (parsed === undefined) return sendJson(res, 400, { error: 'The body must be JSON like {"comment": "...", "windowMinutes": 30}: a string comment, and whole minutes to approve the same call for a while (omit it to approve once).' });
      const outcome = await review(id, reviewer, verb, parsed.comment, 'api', parsed.windowMinutes);
      return outcome.ok ? sendJson(res, 200, { approval: outcome.record }) : sendJson(res, outcome.reason === 'not_found' ? 404 : 409, { error: MESSAGES[outcome.reason], reason: outcome.reason });
    }
    return sendJson(res, 405, { error: 'GET /api/v1/approvals[/ID], POST /api/v1/approvals/ID/approve|deny' });
  }

  /** Every channel's review (page, API, Slack): one path, audited with its comment and window. */
  function review(id: string, reviewer: string, decision: 'approve' | 'deny', comment: string, via: ReviewChannel, windowMinutes?: number): Promise<ReviewOutcome> {
    return reviewApproval({ store: deps.store, audit: deps.audit, now }, { id, reviewer, decision, comment, via, ...(windowMinutes !== undefined && { windowMinutes }) });
  }
}

/** The optional `comment` and `windowMinutes` of a JSON review body; undefined when the body is not that. */
function parseReviewBody(body: string): { comment: string; windowMinutes?: number } | undefined {
  if (body === '') return { comment: '' };
  let parsed: { comment?: unknown; windowMinutes?: unknown };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object') return undefined;
  const comment = parsed.comment ?? '';
  if (typeof comment !== 'string') return undefined;
  if (parsed.windowMinutes === undefined || parsed.windowMinutes === null) return { comment };
  // Whole minutes; the store refuses a window the rules do not allow (window_not_allowed, window_too_long).
  return typeof parsed.windowMinutes === 'number' && Number.isSafeInteger(parsed.windowMinutes) ? { comment, windowMinutes: parsed.windowMinutes } : undefined;
}

/** SigV4 in a header or in the query: an agent's credential, never a reviewer's. */
function carriesAgentCredentials(req: IncomingMessage, url: URL): boolean {
  const auth = req.headers.authorization ?? '';
  return auth.startsWith('AWS4-') || auth.startsWith('AWS ') || url.searchParams.has('X-Amz-Credential') || url.searchParams.has('X-Amz-Signature') || req.headers['x-amz-security-token'] !== undefined;
}

function trustedProxies(identity: TrustedIdentity | undefined): BlockList | undefined {
  if (identity === undefined) return undefined;
  const list = new BlockList();
  for (const cidr of identity.proxies) {
    const [address = '', prefix] = cidr.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(address, prefix === undefined ? (family === 'ipv6' ? 128 : 32) : Number(prefix), family);
  }
  return list;
}

function normaliseIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    // The page shows agent-controlled text: no script but the page's own (by its hash), no framing, no referrer leaks of link tokens.
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; script-src '${PAGE_SCRIPT_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
  });
  res.end(html);
}
