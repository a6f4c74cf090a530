// Every header countersign signs is one that arrives upstream. Content-Length is the one undici
// decides itself (none for a bodiless GET, HEAD, DELETE or OPTIONS, `0` for a bodiless PUT or
// POST, a normalised number for a stream), so it is signed as sentContentLength predicts, and
// the prediction is checked here against undici itself: every method and every framing an
// agent may send (none, Content-Length 0, 3 and 003, chunked empty and not), the body passed on
// as a stream (S3 uploads) or read into a Buffer (bodies countersign classifies on).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBody, readBody } from '../../src/http/body.js';
import { forwardableRequestHeaders, forwardableResponseHead } from '../../src/forward/headers.js';
import { sentContentLength, UpstreamClient } from '../../src/forward/upstream.js';

describe('sentContentLength', () => {
  const stream = () => Readable.from([Buffer.from('abc')]);

  it.each(['GET', 'HEAD', 'DELETE', 'OPTIONS'])('%s without a body: none, whatever the agent declared', (method) => {
    expect(sentContentLength(method, undefined, '0')).toBeUndefined();
    expect(sentContentLength(method, undefined, undefined)).toBeUndefined();
    expect(sentContentLength(method, Buffer.alloc(0), '0')).toBeUndefined();
    expect(sentContentLength(method, stream(), '0')).toBeUndefined();
  });

  it.each(['PUT', 'POST', 'PATCH'])('%s without a body: 0', (method) => {
    expect(sentContentLength(method, undefined, undefined)).toBe('0');
    expect(sentContentLength(method, Buffer.alloc(0), undefined)).toBe('0');
    expect(sentContentLength(method, stream(), '0')).toBe('0');
  });

  it.each(['GET', 'DELETE', 'PUT'])('%s with a body: its length, a declared one as a number', (method) => {
    expect(sentContentLength(method, Buffer.from('abc'), '3')).toBe('3');
    expect(sentContentLength(method, Buffer.from('abc'), undefined)).toBe('3');
    expect(sentContentLength(method, stream(), '3')).toBe('3');
    expect(sentContentLength(method, stream(), '003')).toBe('3');
  });

  it('a stream with no declared length goes chunked: nothing to sign', () => {
    expect(sentContentLength('PUT', stream(), undefined)).toBeUndefined();
    expect(sentContentLength('DELETE', stream(), undefined)).toBeUndefined();
  });
});

/** The framings an agent may send a request with: header lines and the bytes after them. */
const FRAMINGS: Readonly<Record<string, { head: string; body: string }>> = {
  none: { head: '', body: '' },
  'content-length 0': { head: 'Content-Length: 0\r\n', body: '' },
  'content-length 3': { head: 'Content-Length: 3\r\n', body: 'abc' },
  'content-length 003': { head: 'Content-Length: 003\r\n', body: 'abc' },
  'chunked, empty': { head: 'Transfer-Encoding: chunked\r\n', body: '0\r\n\r\n' },
  'chunked, 3 bytes': { head: 'Transfer-Encoding: chunked\r\n', body: '3\r\nabc\r\n0\r\n\r\n' },
};
const METHODS = ['GET', 'HEAD', 'DELETE', 'OPTIONS', 'PUT', 'POST', 'PATCH'];

interface Arrival {
  predicted: string | undefined;
  received: IncomingHttpHeaders;
  bytes: number;
}

describe('sentContentLength agrees with undici: the Content-Length signed is the one that arrives', () => {
  let upstream: Server;
  let proxy: Server;
  let proxyPort: number;
  const client = new UpstreamClient();
  const arrivals = new Map<string, Arrival>();
  let upstreamSaw: { headers: IncomingHttpHeaders; bytes: number } | undefined;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.length));
      req.on('end', () => {
        upstreamSaw = { headers: req.headers, bytes };
        res.end('ok');
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    // The pipeline's composition (src/pipeline.ts, forward): the body that goes, the headers
    // it forwards and signs, Content-Length from sentContentLength.
    proxy = createServer((req, res) => {
      void (async () => {
        const buffered = req.url?.endsWith('buffer') === true;
        const body = buffered ? await readBody(req, 1024) : hasBody(req.headers) ? req : undefined;
        const headers = forwardableRequestHeaders(req.headers);
        headers.host = 'upstream';
        const predicted = sentContentLength(req.method ?? '', body, req.headers['content-length']);
        if (predicted !== undefined) headers['content-length'] = predicted;
        upstreamSaw = undefined;
        await client.forward({ origin, path: '/', method: req.method ?? '', headers, body }, res, (status, raw) => res.writeHead(status, forwardableResponseHead(raw, 'r')));
        const saw = upstreamSaw as { headers: IncomingHttpHeaders; bytes: number } | undefined;
        if (saw !== undefined) arrivals.set(req.url ?? '', { predicted, received: saw.headers, bytes: saw.bytes });
      })().catch((error: unknown) => res.destroy(error as Error));
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyPort = (proxy.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await client.close();
    await new Promise((r) => proxy.close(r));
    await new Promise((r) => upstream.close(r));
  });

  /** Sends one request with exactly these bytes and waits for the answer to end. */
  function sendRaw(method: string, path: string, framing: { head: string; body: string }): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(proxyPort, '127.0.0.1', () => socket.write(`${method} ${path} HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n${framing.head}\r\n${framing.body}`));
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
  }

  const cases = METHODS.flatMap((method) => Object.keys(FRAMINGS).flatMap((framing) => ['stream', 'buffer'].map((as) => [method, framing, as] as const)));

  it.each(cases)('%s, %s, passed on as a %s', async (method, framing, as) => {
    const path = `/${method}/${encodeURIComponent(framing)}/${as}`;
    const answer = await sendRaw(method, path, FRAMINGS[framing] as { head: string; body: string });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    const arrival = arrivals.get(path);
    expect(arrival).toBeDefined();
    const { predicted, received, bytes } = arrival as Arrival;
    expect(bytes).toBe(FRAMINGS[framing]?.body.includes('abc') === true ? 3 : 0);
    if (predicted !== undefined) {
      // Signed: it must arrive, with this value.
      expect(received['content-length']).toBe(predicted);
    } else if (!(framing.startsWith('chunked') && as === 'stream')) {
      // Not signed, and undici writes none either (a chunked stream may get an unsigned one).
      expect(received['content-length']).toBeUndefined();
    }
    expect(received['transfer-encoding'] === undefined || predicted === undefined).toBe(true);
  });
});
