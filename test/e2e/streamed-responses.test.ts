// Answers that stream (Bedrock ConverseStream, Lambda InvokeWithResponseStream: AWS event
// streams) reach the agent event by event, not buffered; and an agent whose clock is minutes off
// is served, signed with countersign's clock. STS is moto (signatures checked); the model and
// the function are a loopback stand-in that holds the rest of its answer until the client,
// through countersign, has the first event in hand.
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentEnv, startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { countersignEnv, startMoto, type MotoServer } from '../support/moto.js';
import { repoRoot, venvBin } from '../support/python.js';
import { send, signedRequest } from '../support/raw-requests.js';

const run = promisify(execFile);
const STREAM_CLIENT = path.join(repoRoot, 'test', 'e2e', 'clients', 'boto3_stream.py');
const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const FUNCTION = 'summarise';
/** How long the stand-in holds the rest of an answer before giving up on the client. */
const HOLD_MS = 15_000;

/** One AWS event-stream message: prelude, CRC, string headers, payload, CRC. */
function eventMessage(eventType: string, payload: Buffer, contentType = 'application/json'): Buffer {
  const headers = Buffer.concat(
    Object.entries({ ':event-type': eventType, ':content-type': contentType, ':message-type': 'event' }).map(([name, value]) => {
      const head = Buffer.alloc(1 + name.length + 3);
      head.writeUInt8(name.length, 0);
      head.write(name, 1, 'ascii');
      head.writeUInt8(7, 1 + name.length); // 7: string
      head.writeUInt16BE(Buffer.byteLength(value), 2 + name.length);
      return Buffer.concat([head, Buffer.from(value)]);
    }),
  );
  const total = 12 + headers.length + payload.length + 4;
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(total, 0);
  prelude.writeUInt32BE(headers.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const message = Buffer.concat([prelude, headers, payload, Buffer.alloc(4)]);
  message.writeUInt32BE(crc32(message.subarray(0, total - 4)), total - 4);
  return message;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** The events of each answer: those sent at once, and those held until the client has the first. */
const ANSWERS = {
  converse: {
    first: [eventMessage('messageStart', json({ role: 'assistant' })), eventMessage('contentBlockDelta', json({ contentBlockIndex: 0, delta: { text: 'Hel' } }))],
    rest: [
      eventMessage('contentBlockDelta', json({ contentBlockIndex: 0, delta: { text: 'lo' } })),
      eventMessage('contentBlockStop', json({ contentBlockIndex: 0 })),
      eventMessage('messageStop', json({ stopReason: 'end_turn' })),
      eventMessage('metadata', json({ usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 }, metrics: { latencyMs: 1 } })),
    ],
  },
  lambda: {
    first: [eventMessage('PayloadChunk', Buffer.from('part one;'), 'application/octet-stream')],
    rest: [eventMessage('PayloadChunk', Buffer.from('part two'), 'application/octet-stream'), eventMessage('InvokeComplete', json({}))],
  },
};

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly authorization: string;
  readonly amzDate: string;
}

describe('streamed answers and the agent clock', { timeout: 120_000 }, () => {
  let moto: MotoServer;
  let upstream: Server;
  let cs: CountersignProcess;
  let agent: AgentKey;
  const seen: Seen[] = [];
  let release: (() => boolean) | undefined;

  /** Writes the first events, then the rest once released (or after HOLD_MS, too late). */
  function stream(res: import('node:http').ServerResponse, answer: { first: Buffer[]; rest: Buffer[] }, headers: Record<string, string>) {
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', ...headers });
    for (const message of answer.first) res.write(message);
    const finish = () => {
      release = undefined;
      for (const message of answer.rest) res.write(message);
      res.end();
    };
    const timer = setTimeout(finish, HOLD_MS);
    release = () => {
      clearTimeout(timer);
      setImmediate(finish);
      return true;
    };
  }

  function answer(req: IncomingMessage, res: import('node:http').ServerResponse) {
    const url = req.url ?? '';
    if (url === '/release') {
      res.end(release?.() === true ? 'released before timeout' : 'too late');
      return;
    }
    seen.push({ method: req.method ?? '', url, authorization: req.headers.authorization ?? '', amzDate: String(req.headers['x-amz-date'] ?? '') });
    req.resume();
    req.on('end', () => {
      if (url.endsWith('/converse-stream')) stream(res, ANSWERS.converse, { 'x-amzn-requestid': 'converse-1' });
      else if (url.endsWith('/response-streaming-invocations')) stream(res, ANSWERS.lambda, { 'x-amzn-requestid': 'lambda-1', 'x-amz-executed-version': '$LATEST' });
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ answered: url }));
    });
  }

  beforeAll(async () => {
    moto = await startMoto();
    upstream = createServer(answer);
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const standIn = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    cs = await startCountersign({
      policies: {
        'rules.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: one-model
    effect: allow
    agents: ["writer"]
    actions: ["bedrock:InvokeModelWithResponseStream", "bedrock:InvokeModel"]
    resources: ["arn:aws:bedrock:us-east-1::foundation-model/${MODEL}"]
    credentials: { roleArn: "${moto.roleArn}" }
  - name: one-function
    effect: allow
    agents: ["writer"]
    actions: ["lambda:InvokeFunction"]
    resources: ["arn:aws:lambda:us-east-1:${moto.accountId}:function:${FUNCTION}"]
    credentials: { roleArn: "${moto.roleArn}" }
`,
      },
      env: { ...countersignEnv(moto), COUNTERSIGN_UPSTREAM_OVERRIDES: `bedrock=${standIn},lambda=${standIn},sts=${moto.endpoint}` },
    });
    agent = cs.issueAgent('writer');
  });

  afterAll(async () => {
    await cs?.stop();
    upstream?.close();
    await moto?.stop();
  });

  async function boto3Stream(call: string, params: Record<string, unknown>) {
    const spec = { call, params, release: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/release` };
    const { stdout } = await run(venvBin('python'), [STREAM_CLIENT, JSON.stringify(spec)], { env: agentEnv(cs, agent) });
    return JSON.parse(stdout) as { events: Array<Record<string, unknown>>; released_after_first: boolean };
  }

  function expectResignedFor(service: string, url: string) {
    const request = seen.find((s) => s.url === url);
    expect(request, `${url} reached the stand-in`).toBeDefined();
    expect(request?.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=\\w+/\\d{8}/us-east-1/${service}/aws4_request, `));
    expect(request?.authorization).not.toContain(agent.accessKeyId);
  }

  it('Bedrock ConverseStream (boto3, HTTPS_PROXY): the first event reaches the agent while the model still holds the rest', async () => {
    const result = await boto3Stream('converse_stream', { modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'Hello?' }] }] });
    expect(result.released_after_first).toBe(true);
    expect(result.events.map((e) => Object.keys(e)[0])).toEqual(['messageStart', 'contentBlockDelta', 'contentBlockDelta', 'contentBlockStop', 'messageStop', 'metadata']);
    expect(result.events[1]).toEqual({ contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'Hel' } } });
    expectResignedFor('bedrock', `/model/${encodeURIComponent(MODEL)}/converse-stream`);
  });

  it('Lambda InvokeWithResponseStream (boto3, HTTPS_PROXY): payload chunks arrive as they are sent', async () => {
    const result = await boto3Stream('invoke_with_response_stream', { FunctionName: FUNCTION, Payload: '{}' });
    expect(result.released_after_first).toBe(true);
    expect(result.events).toEqual([{ PayloadChunk: { Payload: 'part one;' } }, { PayloadChunk: { Payload: 'part two' } }, { InvokeComplete: {} }]);
    expectResignedFor('lambda', `/2021-11-15/functions/${FUNCTION}/response-streaming-invocations`);
  });

  it('an agent clock 10 minutes slow or fast is served, and what goes out carries countersign’s time', async () => {
    for (const offsetMinutes of [-10, 10]) {
      const host = `127.0.0.1:${cs.port}`;
      const path = `/model/${encodeURIComponent(MODEL)}/invoke`;
      const body = JSON.stringify({ prompt: `clock ${offsetMinutes}` });
      const { headers } = await signedRequest({
        accessKeyId: agent.accessKeyId,
        secretAccessKey: agent.secretAccessKey,
        service: 'bedrock',
        method: 'POST',
        host,
        path,
        headers: { 'content-type': 'application/json' },
        body,
        signingDate: new Date(Date.now() + offsetMinutes * 60_000),
      });
      const before = Date.now();
      const response = await send(cs.port, 'POST', path, headers, body);
      expect(response.status, response.body).toBe(200);
      const forwarded = seen.filter((s) => s.url === path).at(-1);
      const stamped = forwarded?.amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z') ?? '';
      // countersign stamps its own time, not the agent's ten minutes off.
      expect(Math.abs(Date.parse(stamped) - before)).toBeLessThan(60_000);
      expect(headers['x-amz-date']).not.toBe(forwarded?.amzDate);
    }
  });
});
