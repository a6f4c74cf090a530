// A stand-in for Slack on loopback, speaking the documented wire format both ways:
//  - the Web API (POST /api/<method>, JSON, `Authorization: Bearer <bot token>`): chat.postMessage
//    (threads too), chat.update, chat.postEphemeral and views.open, each checking the token and
//    answering HTTP 200 with {"ok": true|false, ...} as Slack does;
//  - interactivity: block_actions and view_submission payloads sent to countersign's endpoint as
//    `application/x-www-form-urlencoded` `payload=<JSON>`, signed with the app's signing secret
//    (X-Slack-Request-Timestamp, X-Slack-Signature: v0=HMAC-SHA256("v0:<ts>:<body>")).
// Trigger ids are issued per click, single use, and live 3 seconds, as Slack's do.
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackCall {
  readonly method: string;
  readonly body: Record<string, unknown>;
  readonly ok: boolean;
}

export interface StoredMessage {
  readonly channel: string;
  readonly ts: string;
  text: string;
  blocks: unknown[];
  /** Earlier versions' blocks: a reviewer's client may still show one (a click on a stale message). */
  readonly history: unknown[][];
  readonly threadTs?: string;
}

export interface OpenView {
  readonly id: string;
  readonly view: Record<string, unknown>;
}

export const STANDIN_CHANNEL_ID = 'C0STANDIN1';
const TRIGGER_LIFETIME_MS = 3_000;

export class SlackStandIn {
  readonly calls: SlackCall[] = [];
  readonly messages = new Map<string, StoredMessage>();
  readonly views = new Map<string, OpenView>();
  private readonly triggers = new Map<string, number>();
  private server: Server | undefined;
  private seq = 100;
  /** Where interactivity payloads go: countersign's /slack/interactivity. */
  endpoint = '';
  /** Age given to new trigger ids: past 3000, views.open refuses them as Slack does (expired_trigger_id). */
  triggerAgeMs = 0;

  constructor(
    readonly botToken: string,
    readonly signingSecret: string,
  ) {}

  /** http://127.0.0.1:PORT/api, for COUNTERSIGN_SLACK_API_URL. */
  get apiUrl(): string {
    return `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}/api`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const method = /^\/api\/([a-zA-Z.]+)$/.exec(req.url ?? '')?.[1];
        const answer = (payload: Record<string, unknown>) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(payload));
        };
        if (method === undefined || req.method !== 'POST') {
          res.writeHead(404);
          res.end();
          return;
        }
        if (req.headers.authorization === undefined) return answer(this.record(method, {}, { ok: false, error: 'not_authed' }));
        if (req.headers.authorization !== `Bearer ${this.botToken}`) return answer(this.record(method, {}, { ok: false, error: 'invalid_auth' }));
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(body) as Record<string, unknown>;
        } catch {
          return answer(this.record(method, {}, { ok: false, error: 'invalid_json' }));
        }
        answer(this.record(method, parsed, this.api(method, parsed)));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', () => resolve()));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (this.server === undefined) return resolve();
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  private record(method: string, body: Record<string, unknown>, answer: Record<string, unknown>): Record<string, unknown> {
    this.calls.push({ method, body, ok: answer.ok === true });
    return answer;
  }

  private api(method: string, body: Record<string, unknown>): Record<string, unknown> {
    switch (method) {
      case 'chat.postMessage': {
        if (typeof body.channel !== 'string' || body.channel === '') return { ok: false, error: 'channel_not_found' };
        if (typeof body.text !== 'string' && !Array.isArray(body.blocks)) return { ok: false, error: 'no_text' };
        const threadTs = typeof body.thread_ts === 'string' ? body.thread_ts : undefined;
        if (threadTs !== undefined && !this.messages.has(threadTs)) return { ok: false, error: 'thread_not_found' };
        const ts = `1700000000.${String((this.seq += 1)).padStart(6, '0')}`;
        const message: StoredMessage = { channel: STANDIN_CHANNEL_ID, ts, text: typeof body.text === 'string' ? body.text : '', blocks: (body.blocks as unknown[] | undefined) ?? [], history: [], ...(threadTs !== undefined && { threadTs }) };
        this.messages.set(ts, message);
        return { ok: true, channel: STANDIN_CHANNEL_ID, ts, message: { text: message.text, ts } };
      }
      case 'chat.update': {
        const message = typeof body.ts === 'string' ? this.messages.get(body.ts) : undefined;
        if (message === undefined || body.channel !== message.channel) return { ok: false, error: 'message_not_found' };
        if (typeof body.text === 'string') message.text = body.text;
        if (Array.isArray(body.blocks)) {
          message.history.push(message.blocks);
          message.blocks = body.blocks as unknown[];
        }
        return { ok: true, channel: message.channel, ts: message.ts };
      }
      case 'chat.postEphemeral':
        if (typeof body.channel !== 'string' || typeof body.user !== 'string' || typeof body.text !== 'string') return { ok: false, error: 'invalid_arguments' };
        return { ok: true, message_ts: `1700000001.${String((this.seq += 1)).padStart(6, '0')}` };
      case 'views.open': {
        const issued = typeof body.trigger_id === 'string' ? this.triggers.get(body.trigger_id) : undefined;
        if (issued === undefined || Date.now() - issued > TRIGGER_LIFETIME_MS) return { ok: false, error: 'expired_trigger_id' };
        this.triggers.delete(body.trigger_id as string);
        const view = body.view as Record<string, unknown> | undefined;
        if (view?.type !== 'modal') return { ok: false, error: 'invalid_arguments' };
        const id = `V${String((this.seq += 1)).padStart(8, '0')}`;
        this.views.set(id, { id, view });
        return { ok: true, view: { id, ...view } };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  /** The message the app posted first (the request), or the one with this ts. */
  message(ts?: string): StoredMessage | undefined {
    if (ts !== undefined) return this.messages.get(ts);
    return [...this.messages.values()].find((m) => m.threadTs === undefined);
  }

  /** Replies in a message's thread. */
  thread(ts: string): StoredMessage[] {
    return [...this.messages.values()].filter((m) => m.threadTs === ts);
  }

  /** Waits (bounded) until a recorded call satisfies `predicate`. */
  async waitForCall(predicate: (call: SlackCall) => boolean, timeoutMs = 10_000): Promise<SlackCall> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.calls.find(predicate);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no matching Slack call; calls so far: ${this.calls.map((c) => c.method).join(', ')}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Signs `body` as Slack does, at `timestamp` (unix seconds; default now). */
  sign(body: string, timestamp = Math.floor(Date.now() / 1000), secret = this.signingSecret): Record<string, string> {
    const ts = String(timestamp);
    return {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': ts,
      'x-slack-signature': `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`,
    };
  }

  /** The form body Slack sends: payload=<JSON>. */
  static form(payload: unknown): string {
    return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  }

  /** POSTs a raw body with the given headers to the endpoint. */
  async post(body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
    const response = await fetch(this.endpoint, { method: 'POST', headers, body });
    return { status: response.status, text: await response.text() };
  }

  /** A block_actions payload for a click on the button `actionId` of the message `ts` by `user`. */
  blockActions(ts: string, actionId: string, user: string): Record<string, unknown> {
    const message = this.messages.get(ts);
    if (message === undefined) throw new Error(`no message ${ts}`);
    const button = [message.blocks, ...[...message.history].reverse()].map((blocks) => findButton(blocks, actionId)).find((b) => b !== undefined);
    if (button === undefined) throw new Error(`message ${ts} has no button ${actionId}`);
    const trigger = `${Date.now()}.${randomUUID()}`;
    this.triggers.set(trigger, Date.now() - this.triggerAgeMs);
    return {
      type: 'block_actions',
      user: { id: user, username: user.toLowerCase(), team_id: 'T0STANDIN' },
      api_app_id: 'A0STANDIN',
      token: 'deprecated-verification-token',
      container: { type: 'message', message_ts: ts, channel_id: message.channel, is_ephemeral: false },
      trigger_id: trigger,
      team: { id: 'T0STANDIN', domain: 'standin' },
      channel: { id: message.channel, name: 'approvals' },
      message: { type: 'message', ts, text: message.text, blocks: message.blocks },
      response_url: 'https://hooks.slack.invalid/actions/T0STANDIN/1/x',
      actions: [{ type: 'button', action_id: actionId, block_id: 'b', text: button.text, value: button.value, style: button.style, action_ts: String(Date.now() / 1000) }],
    };
  }

  /** Clicks a button as `user`, signed; resolves with countersign's answer. */
  click(ts: string, actionId: string, user: string): Promise<{ status: number; text: string }> {
    const body = SlackStandIn.form(this.blockActions(ts, actionId, user));
    return this.post(body, this.sign(body));
  }

  /** A view_submission for an open modal, with the reason typed in. */
  viewSubmission(viewId: string, user: string, reason: string): Record<string, unknown> {
    const open = this.views.get(viewId);
    if (open === undefined) throw new Error(`no open view ${viewId}`);
    return {
      type: 'view_submission',
      team: { id: 'T0STANDIN', domain: 'standin' },
      user: { id: user, username: user.toLowerCase(), team_id: 'T0STANDIN' },
      api_app_id: 'A0STANDIN',
      trigger_id: `${Date.now()}.${randomUUID()}`,
      view: {
        id: viewId,
        type: 'modal',
        callback_id: open.view.callback_id,
        private_metadata: open.view.private_metadata,
        state: { values: { reason: { reason: { type: 'plain_text_input', value: reason } } } },
      },
    };
  }

  submit(viewId: string, user: string, reason: string): Promise<{ status: number; text: string }> {
    const body = SlackStandIn.form(this.viewSubmission(viewId, user, reason));
    return this.post(body, this.sign(body));
  }

  /** The view opened last. */
  lastView(): OpenView | undefined {
    return [...this.views.values()].at(-1);
  }
}

interface Button {
  readonly action_id?: string;
  readonly value?: string;
  readonly text?: unknown;
  readonly style?: string;
}

function findButton(blocks: unknown[], actionId: string): Button | undefined {
  for (const block of blocks as Array<{ type?: string; elements?: Button[] }>) {
    if (block.type !== 'actions') continue;
    const found = block.elements?.find((e) => e.action_id === actionId);
    if (found !== undefined) return found;
  }
  return undefined;
}
