import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createNotifiers, notifyAll, NotifyError, postJson } from '../../src/approvals/notify/index.js';
import type { ApprovalNotice, Notifier, NotifyChannel } from '../../src/approvals/notify/types.js';
import type { ApprovalRecord } from '../../src/approvals/types.js';
import { closeReceivers, receivers, startReceiver } from '../support/receiver.js';
import { binding } from '../support/approval-draft.js';

afterEach(closeReceivers);

const status = (code: number, headers: Record<string, string> = {}) => (res: ServerResponse) => {
  res.writeHead(code, headers);
  res.end(`status ${code}`);
};

/** A port nothing listens on: start a receiver, note its address, close it. */
async function deadBase(): Promise<string> {
  const receiver = await startReceiver();
  await receiver.close();
  receivers.splice(receivers.indexOf(receiver), 1);
  return receiver.base;
}

const SECRET_PATH = '/services/T000/B000/SECRETTOKEN';

function expectNoSecret(error: unknown): void {
  expect(error).toBeInstanceOf(NotifyError);
  const notifyError = error as NotifyError;
  expect(notifyError.message).not.toContain('SECRETTOKEN');
  expect(notifyError.message).not.toContain('127.0.0.1');
  expect(JSON.stringify(notifyError)).not.toContain('SECRETTOKEN');
  expect(String(notifyError)).not.toContain('SECRETTOKEN');
  expect(notifyError.stack ?? '').not.toContain('SECRETTOKEN');
  expect(notifyError).not.toHaveProperty('cause');
}

async function failure(promise: Promise<unknown>): Promise<NotifyError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(NotifyError);
    return error as NotifyError;
  }
  throw new Error('expected a NotifyError');
}

const record: ApprovalRecord = {
  id: 'apr_1',
  fingerprint: 'f'.repeat(64),
  intent: 'change',
  status: 'pending',
  context: {
    binding: binding('s3:DeleteObject'),
    agent: 'deploy-bot',
    owners: [],
    service: 's3',
    operation: 'DeleteObject',
    region: 'us-east-1',
    actions: ['s3:DeleteObject'],
    resources: ['arn:aws:s3:::b/k'],
    rules: ['r'],
    reasons: ['action'],
    parametersPreview: '',
    method: 'DELETE',
    host: 'b.s3.amazonaws.com',
    path: '/k',
  },
  requirements: [{ rule: 'r', quorum: 1, eligible: ['alice'] }],
  reviews: [],
  createdAt: 1_700_000_000_000,
  expiresAt: 1_700_000_900_000,
  usesLeft: 1,
};

const notice: ApprovalNotice = {
  record,
  links: [{ reviewer: { id: 'alice', displayName: 'Alice', groups: [], source: { file: 'd.yaml', line: 1, column: 1 } }, url: 'https://cs.example/r/apr_1?t=secret-link-token' }],
  reviewPageBaseUrl: 'https://cs.example/r',
};

describe('postJson retries', () => {
  it('retries a 500 with exponential backoff, then succeeds', async () => {
    const receiver = await startReceiver((res, index) => (index < 2 ? status(500)(res) : status(200)(res)));
    const result = await postJson(`${receiver.base}/hook`, { hello: 'world' }, { channel: 'webhook', timeoutMs: 2_000, attempts: 3, backoffMs: 40 });
    expect(result).toEqual({ status: 200, attempts: 3 });
    expect(receiver.requests).toHaveLength(3);
    for (const request of receiver.requests) {
      expect(request.method).toBe('POST');
      expect(request.body).toBe('{"hello":"world"}');
    }
    const [first, second, third] = receiver.requests.map((request) => request.at);
    // 40 ms before the second attempt, 80 ms before the third (a little slack for timer granularity).
    expect((second ?? 0) - (first ?? 0)).toBeGreaterThanOrEqual(35);
    expect((third ?? 0) - (second ?? 0)).toBeGreaterThanOrEqual(75);
  });

  it('gives up after the configured attempts, reporting the last status', async () => {
    const receiver = await startReceiver(status(503));
    const error = await failure(postJson(`${receiver.base}${SECRET_PATH}`, {}, { channel: 'slack', timeoutMs: 2_000, attempts: 3, backoffMs: 5 }));
    expect(receiver.requests).toHaveLength(3);
    expect(error).toMatchObject({ name: 'NotifyError', channel: 'slack', status: 503, attempts: 3, reason: 'http_status' });
    expect(error.message).toBe('slack notification failed after 3 attempts: HTTP 503');
    expectNoSecret(error);
  });

  it('retries a 429', async () => {
    const receiver = await startReceiver((res, index) => (index === 0 ? status(429, { 'retry-after': '0' })(res) : status(200)(res)));
    await expect(postJson(`${receiver.base}/hook`, {}, { channel: 'slack', timeoutMs: 2_000, attempts: 3, backoffMs: 5 })).resolves.toEqual({
      status: 200,
      attempts: 2,
    });
    expect(receiver.requests).toHaveLength(2);
  });

  it('does not retry a 400', async () => {
    const receiver = await startReceiver(status(400));
    const error = await failure(postJson(`${receiver.base}${SECRET_PATH}`, {}, { channel: 'teams', timeoutMs: 2_000, attempts: 3, backoffMs: 5 }));
    expect(receiver.requests).toHaveLength(1);
    expect(error).toMatchObject({ channel: 'teams', status: 400, attempts: 1, reason: 'http_status' });
    expect(error.message).toBe('teams notification failed after 1 attempt: HTTP 400');
    expectNoSecret(error);
  });

  it('does not follow redirects (the body would be replayed elsewhere)', async () => {
    const receiver = await startReceiver((res, index) => (index === 0 ? status(307, { location: '/elsewhere' })(res) : status(200)(res)));
    const error = await failure(postJson(`${receiver.base}/hook`, {}, { channel: 'webhook', timeoutMs: 2_000, attempts: 3, backoffMs: 5 }));
    expect(error).toMatchObject({ status: 307, attempts: 1 });
    expect(receiver.requests.map((request) => request.path)).toEqual(['/hook']);
  });

  it('honours the per-attempt timeout against a receiver that never answers', async () => {
    const receiver = await startReceiver(() => undefined);
    const started = performance.now();
    const error = await failure(postJson(`${receiver.base}${SECRET_PATH}`, {}, { channel: 'slack', timeoutMs: 150, attempts: 2, backoffMs: 10 }));
    const elapsed = performance.now() - started;
    expect(error).toMatchObject({ channel: 'slack', reason: 'timeout', attempts: 2 });
    expect(error.status).toBeUndefined();
    expect(error.message).toBe('slack notification failed after 2 attempts: no response within 150 ms');
    expect(receiver.requests).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(5_000);
    expectNoSecret(error);
  });

  it('reports a refused connection by its code, retried, without the URL', async () => {
    const base = await deadBase();
    const error = await failure(postJson(`${base}${SECRET_PATH}`, {}, { channel: 'webhook', timeoutMs: 2_000, attempts: 2, backoffMs: 5 }));
    expect(error).toMatchObject({ channel: 'webhook', reason: 'network', attempts: 2 });
    expect(error.message).toBe('webhook notification failed after 2 attempts: network error ECONNREFUSED');
    expectNoSecret(error);
  });

  it('sends the given headers, content-type always JSON', async () => {
    const receiver = await startReceiver();
    await postJson(`${receiver.base}/hook`, '{"raw":true}', { channel: 'webhook', headers: { 'X-Extra': 'yes', 'Content-Type': 'text/plain' }, timeoutMs: 2_000, attempts: 1, backoffMs: 5 });
    expect(receiver.requests[0]?.headers['x-extra']).toBe('yes');
    expect(receiver.requests[0]?.headers['content-type']).toBe('application/json');
    expect(receiver.requests[0]?.body).toBe('{"raw":true}');
  });
});

describe('channel errors never carry the webhook URL', () => {
  const channels = [
    ['slack', { slackWebhookUrl: '' }],
    ['teams', { teamsWebhookUrl: '' }],
    ['webhook', { webhookUrl: '', webhookSecret: 's' }],
  ] as const;

  for (const [channel, settings] of channels) {
    it(`${channel}: HTTP error, timeout and refused connection`, async () => {
      const erroring = await startReceiver(status(500));
      const silent = await startReceiver(() => undefined);
      const dead = await deadBase();
      for (const base of [erroring.base, silent.base, dead]) {
        const url = `${base}${SECRET_PATH}`;
        const withUrl = Object.fromEntries(Object.entries(settings).map(([key, value]) => [key, key.endsWith('Url') ? url : value]));
        const [notifier] = createNotifiers({ ...withUrl, timeoutMs: 150, attempts: 2, backoffMs: 5 });
        const error = await failure(notifier?.send(notice) ?? Promise.resolve());
        expect(error.channel).toBe(channel);
        expect(error.attempts).toBe(2);
        expectNoSecret(error);
        expect(JSON.stringify(error)).not.toContain('secret-link-token');
      }
      expect(erroring.requests).toHaveLength(2);
      expect(silent.requests).toHaveLength(2);
    });
  }
});

describe('createNotifiers', () => {
  it('creates one notifier per configured channel', () => {
    expect(createNotifiers({}).map((notifier) => notifier.channel)).toEqual([]);
    const all = createNotifiers({
      webhookUrl: 'https://hooks.example/countersign',
      webhookSecret: 'secret',
      slackWebhookUrl: 'https://hooks.slack.com/services/T/B/X',
      teamsWebhookUrl: 'https://prod.westus.logic.azure.com/workflows/x',
    });
    expect(all.map((notifier) => notifier.channel)).toEqual(['webhook', 'slack', 'teams']);
  });

  it('refuses a webhook without a secret and URLs that are not http(s), without echoing them', () => {
    expect(() => createNotifiers({ webhookUrl: 'https://hooks.example/x' })).toThrow(/webhookSecret is required/);
    expect(() => createNotifiers({ webhookUrl: 'https://hooks.example/x', webhookSecret: '' })).toThrow(/webhookSecret is required/);
    for (const bad of ['ftp://hooks.example/SECRETTOKEN', 'not a url SECRETTOKEN']) {
      let message = '';
      try {
        createNotifiers({ slackWebhookUrl: bad });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/^slackWebhookUrl /);
      expect(message).not.toContain('SECRETTOKEN');
    }
  });
});

describe('notifyAll', () => {
  it('sends to every channel concurrently and reports each failure without throwing', async () => {
    const slow = (res: ServerResponse) => setTimeout(() => status(200)(res), 300);
    const slack = await startReceiver(slow);
    const teams = await startReceiver((res) => setTimeout(() => status(400)(res), 300));
    const webhook = await startReceiver(slow);
    const notifiers = createNotifiers({
      slackWebhookUrl: `${slack.base}${SECRET_PATH}`,
      teamsWebhookUrl: `${teams.base}/teams`,
      webhookUrl: `${webhook.base}/hook`,
      webhookSecret: 'secret',
      timeoutMs: 2_000,
      attempts: 1,
    });
    const failures: [NotifyChannel, NotifyError][] = [];
    const started = performance.now();
    await notifyAll(notifiers, notice, (channel, error) => failures.push([channel, error]));
    const elapsed = performance.now() - started;
    // Three 300 ms answers in parallel, not in sequence.
    expect(elapsed).toBeLessThan(800);
    expect([slack, teams, webhook].map((receiver) => receiver.requests.length)).toEqual([1, 1, 1]);
    expect(failures.map(([channel, error]) => [channel, error.status])).toEqual([['teams', 400]]);
  });

  it('never rejects: not when onFailure throws, not when a notifier throws something unexpected', async () => {
    const dead = await deadBase();
    const broken: Notifier = {
      channel: 'webhook',
      send: () => Promise.reject(new TypeError(`Failed to parse URL from ${dead}${SECRET_PATH}`)),
    };
    const [slack] = createNotifiers({ slackWebhookUrl: `${dead}${SECRET_PATH}`, attempts: 1 });
    if (slack === undefined) throw new Error('no notifier');
    const seen: NotifyError[] = [];
    await expect(
      notifyAll([broken, slack], notice, (_channel, error) => {
        seen.push(error);
        throw new Error('audit sink down');
      }),
    ).resolves.toBeUndefined();
    expect(seen.map((error) => [error.channel, error.reason])).toEqual([
      ['webhook', 'internal'],
      ['slack', 'network'],
    ]);
    for (const error of seen) expectNoSecret(error);
    expect(seen[0]?.message).toBe('webhook notification failed: unexpected TypeError');
  });
});
