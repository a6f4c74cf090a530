import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeXml, renderAwsError, sendAwsError } from '../../src/aws/error-response.js';
import type { Protocol } from '../../src/aws/protocol.js';
import { CountersignError, ERROR_CATALOGUE, type ErrorCode } from '../../src/errors.js';

const DENIED = new CountersignError('AccessDenied', 'No rule allows s3:GetObject.');
const DENIED_TEXT = `No rule allows s3:GetObject. ${ERROR_CATALOGUE.AccessDenied.hint}`;

/** Undoes XML escaping (numeric and the five named entities) in one pass. */
function unescapeXml(text: string): string {
  const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
  return text.replace(/&(#\d+|#x[0-9a-f]+|lt|gt|amp|quot|apos);/gi, (_, entity: string) => {
    if (entity.startsWith('#x') || entity.startsWith('#X')) return String.fromCharCode(parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCharCode(Number(entity.slice(1)));
    return named[entity] ?? '';
  });
}

function element(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

describe('escapeXml', () => {
  it('escapes the characters that break element text', () => {
    expect(escapeXml('a < b && c > d')).toBe('a &#60; b &#38;&#38; c &#62; d');
    expect(escapeXml('plain text')).toBe('plain text');
  });

  it('round-trips every special character', () => {
    const text = `<tag attr="v" other='w'>&amp;</tag>`;
    const escaped = escapeXml(text);
    expect(escaped).not.toMatch(/[<>]/);
    expect(escaped).not.toMatch(/&(?!#\d+;|lt;|gt;|amp;|quot;|apos;)/);
    expect(unescapeXml(escaped)).toBe(text);
  });
});

describe('renderAwsError', () => {
  it('shapes REST-XML (S3) errors as <Error> with Code, Message and RequestId', () => {
    expect(renderAwsError(DENIED, 'rest-xml', 'req-1')).toEqual({
      contentType: 'application/xml',
      awsCode: 'AccessDenied',
      body:
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>' +
        `<Message>${DENIED_TEXT}</Message><CountersignCode>AccessDenied</CountersignCode><RequestId>req-1</RequestId></Error>`,
    });
  });

  it('shapes query (STS, IAM) errors as <ErrorResponse><Error> with Type, Code, Message and a RequestId', () => {
    expect(renderAwsError(DENIED, 'query', 'req-2')).toEqual({
      contentType: 'text/xml',
      awsCode: 'AccessDenied',
      body:
        '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>' +
        `<Message>${DENIED_TEXT}</Message><CountersignCode>AccessDenied</CountersignCode></Error><RequestId>req-2</RequestId></ErrorResponse>`,
    });
  });

  it('marks server-side query errors as Receiver', () => {
    for (const code of ['InternalError', 'UpstreamUnavailable'] as const) {
      expect(element(renderAwsError(new CountersignError(code, 'x'), 'query', 'r').body, 'Type')).toBe('Receiver');
    }
    expect(element(renderAwsError(new CountersignError('RequestTooLarge', 'x'), 'query', 'r').body, 'Type')).toBe('Sender');
  });

  it('shapes JSON errors with a __type ending in the JSON error code', () => {
    const rendered = renderAwsError(DENIED, 'json', 'req-3');
    expect(rendered.contentType).toBe('application/x-amz-json-1.0');
    expect(rendered.awsCode).toBe('AccessDeniedException');
    expect(JSON.parse(rendered.body)).toEqual({ __type: 'countersign#AccessDeniedException', message: DENIED_TEXT, countersignCode: 'AccessDenied' });
  });

  it('uses the XML code in JSON when the catalogue has no JSON code', () => {
    const rendered = renderAwsError(new CountersignError('UnclassifiedRequest', 'x.'), 'json', 'r');
    expect(rendered.awsCode).toBe('UnclassifiedRequest');
    expect((JSON.parse(rendered.body) as { __type: string }).__type).toBe('countersign#UnclassifiedRequest');
  });

  it.each(Object.keys(ERROR_CATALOGUE) as ErrorCode[])('renders %s in every protocol', (code) => {
    const entry = ERROR_CATALOGUE[code];
    const error = new CountersignError(code, 'Something happened.');
    const xml = renderAwsError(error, 'rest-xml', 'r').body;
    expect(element(xml, 'Code')).toBe(entry.awsCode);
    expect(element(xml, 'CountersignCode')).toBe(code);
    expect(element(renderAwsError(error, 'query', 'r').body, 'Code')).toBe(entry.awsCode);
    const json = JSON.parse(renderAwsError(error, 'json', 'r').body) as { __type: string };
    expect(json.__type).toBe(`countersign#${'jsonCode' in entry ? entry.jsonCode : entry.awsCode}`);
  });

  it('escapes <, &, >, quotes and apostrophes in messages and request ids', () => {
    const nasty = `Key <script>alert("x")</script> & 'quoted' > other`;
    const error = new CountersignError('UnclassifiedRequest', nasty);
    for (const protocol of ['rest-xml', 'query'] as Protocol[]) {
      const { body } = renderAwsError(error, protocol, 'id<&>');
      expect(body).not.toContain('<script>');
      expect(body).not.toContain('</script>');
      const message = element(body, 'Message');
      expect(message).toBeDefined();
      expect(message).not.toMatch(/[<>]/);
      expect(message).not.toMatch(/&(?!#\d+;|lt;|gt;|amp;|quot;|apos;)/);
      expect(unescapeXml(message ?? '')).toBe(error.clientMessage);
      expect(unescapeXml(element(body, 'RequestId') ?? '')).toBe('id<&>');
      // the document still has exactly its own elements
      expect(body.match(/<[A-Za-z]+>/g)).toEqual(
        protocol === 'query'
          ? ['<ErrorResponse>', '<Error>', '<Type>', '<Code>', '<Message>', '<CountersignCode>', '<RequestId>']
          : ['<Error>', '<Code>', '<Message>', '<CountersignCode>', '<RequestId>'],
      );
    }
    const json = JSON.parse(renderAwsError(error, 'json', 'r').body) as { message: string };
    expect(json.message).toBe(error.clientMessage);
  });
});

describe('sendAwsError', () => {
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/partial') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial ');
        setTimeout(() => sendAwsError(res, DENIED, 'rest-xml', 'req-p', req.method ?? 'GET'), 20);
        return;
      }
      const protocol = (url.searchParams.get('protocol') ?? 'rest-xml') as Protocol;
      const code = (url.searchParams.get('code') ?? 'AccessDenied') as ErrorCode;
      sendAwsError(res, new CountersignError(code, 'Refused.'), protocol, 'req-42', req.method ?? 'GET');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('writes the status, the AWS headers and the body', async () => {
    const res = await fetch(`${base}/?protocol=json&code=SignatureMismatch`);
    const body = await res.text();
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(res.headers.get('x-amzn-requestid')).toBe('req-42');
    expect(res.headers.get('x-amz-request-id')).toBe('req-42');
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    expect(res.headers.get('x-countersign-error')).toBe('SignatureMismatch');
    expect(JSON.parse(body)).toEqual({
      __type: 'countersign#InvalidSignatureException',
      message: `Refused. ${ERROR_CATALOGUE.SignatureMismatch.hint}`,
      countersignCode: 'SignatureMismatch',
    });
  });

  it('uses the catalogue status', async () => {
    expect((await fetch(`${base}/?code=RequestTooLarge`)).status).toBe(413);
    expect((await fetch(`${base}/?code=UpstreamUnavailable&protocol=query`)).status).toBe(502);
    expect((await fetch(`${base}/?code=MalformedAuthorization`)).status).toBe(400);
  });

  it('sends no body to a HEAD request, as S3 does', async () => {
    const res = await fetch(`${base}/?protocol=rest-xml&code=AccessDenied`, { method: 'HEAD' });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-countersign-error')).toBe('AccessDenied');
    expect(Number(res.headers.get('content-length'))).toBeGreaterThan(0);
    expect(await res.text()).toBe('');
  });

  it('drops the connection when the response has already started', async () => {
    const res = await fetch(`${base}/partial`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });
});
