// Bad input gets a clear, AWS-shaped error and nothing is forwarded. Upstream and STS point at a
// recording server, so every test can check that not one byte left countersign.
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect as netConnect, createServer as createTcpServer, isIP, type AddressInfo, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createCertificateAuthority, issueLeafCertificate } from '../../src/edge/x509.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { rawConnect, send, signedRequest, type SignOptions } from '../support/raw-requests.js';

function recorderPortOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

function httpsPortOf(server: HttpsServer): number {
  return (server.address() as AddressInfo).port;
}

function listen(server: Server | TcpServer | HttpsServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('refusals: a clear error in the client protocol, nothing forwarded', { timeout: 60_000 }, () => {
  let recorder: Server;
  let forwarded = 0;
  let echo: TcpServer;
  let httpsServer: HttpsServer;
  let echoPort: number;
  let cs: CountersignProcess;
  let agent: AgentKey;

  beforeAll(async () => {
    recorder = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        // countersign's own identity check (sts:GetCallerIdentity at start and every 30 s while
        // it fails: this recorder is no STS) is not a forwarded request; anything else is.
        if (!/(^|&)Action=GetCallerIdentity(&|$)/.test(Buffer.concat(chunks).toString('utf8'))) forwarded += 1;
        res.end('recorded');
      });
    });
    const recorderPort = await listen(recorder);
    echo = createTcpServer((socket) => socket.pipe(socket));
    echoPort = await listen(echo);
    // A non-AWS HTTPS host, with its own CA that countersign is told to trust upstream.
    const upstreamCa = createCertificateAuthority('test upstream CA');
    const upstreamLeaf = issueLeafCertificate(upstreamCa, '127.0.0.1');
    const caFile = path.join(mkdtempSync(path.join(tmpdir(), 'cs-upstream-ca-')), 'ca.pem');
    writeFileSync(caFile, upstreamCa.certPem);
    httpsServer = createHttpsServer({ cert: upstreamLeaf.certPem, key: upstreamLeaf.keyPem }, (req, res) => {
      forwarded += 1;
      res.end(`https ${req.method ?? ''} ${req.url ?? ''} auth=${req.headers.authorization ?? 'none'}`);
    });
    const httpsPort = await listen(httpsServer);
    cs = await startCountersign({
      policies: {
        'rules.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: everything-s3
    effect: allow
    agents: ["*"]
    actions: ["s3:*", "dynamodb:*", "sts:*"]
    resources: ["*"]
    credentials: { roleArn: "arn:aws:iam::123456789012:role/never-assumed" }
  - name: echo-tunnel
    effect: allow
    hosts: ["127.0.0.1"]
    ports: [${echoPort}]
  - name: blocked-host
    effect: deny
    hosts: ["*.blocked.example"]
  - name: public-pages-only
    effect: allow
    hosts: ["127.0.0.1"]
    ports: [${recorderPort}, ${httpsPort}]
    methods: [GET]
    paths: ["/public/*"]
`,
      },
      env: {
        COUNTERSIGN_UPSTREAM_OVERRIDES: `*=http://127.0.0.1:${recorderPort}`,
        COUNTERSIGN_MAX_BODY_BYTES: '4096',
        COUNTERSIGN_UPSTREAM_CA_FILE: caFile,
        AWS_ACCESS_KEY_ID: 'AKIDNOTUSEDBYTHESETESTS',
        AWS_SECRET_ACCESS_KEY: 'not-used-by-these-tests',
      },
    });
    agent = cs.issueAgent('tester');
  });

  afterAll(async () => {
    await cs?.stop();
    recorder?.close();
    echo?.close();
    httpsServer?.close();
  });

  beforeEach(() => {
    forwarded = 0;
  });

  const host = () => `127.0.0.1:${cs.port}`;
  const s3Get = (overrides: Partial<SignOptions> = {}): SignOptions => ({
    accessKeyId: agent.accessKeyId,
    secretAccessKey: agent.secretAccessKey,
    service: 's3',
    host: host(),
    path: '/bucket/key.txt',
    ...overrides,
  });

  async function sendSigned(options: SignOptions, mutate: (h: Record<string, string>) => void = () => {}) {
    const { headers } = await signedRequest(options);
    mutate(headers);
    return send(cs.port, options.method ?? 'GET', options.path, headers, options.body ?? '');
  }

  function expectXmlError(response: { status: number; body: string }, status: number, code: string, text: string) {
    expect(response.status).toBe(status);
    expect(response.body).toContain(`<Code>${code}</Code>`);
    expect(response.body).toContain(text);
    expect(response.body).toMatch(/<RequestId>[0-9a-f-]{36}<\/RequestId>/);
    expect(forwarded).toBe(0);
  }

  it('refuses a request with no Authorization header', async () => {
    const response = await send(cs.port, 'GET', '/bucket/key.txt', { host: host() });
    expectXmlError(response, 403, 'MissingAuthenticationToken', 'no Authorization header');
  });

  it('refuses a malformed Authorization header', async () => {
    const response = await send(cs.port, 'GET', '/bucket/key.txt', { host: host(), authorization: 'AWS4-HMAC-SHA256 Credential=garbage' });
    expectXmlError(response, 400, 'AuthorizationHeaderMalformed', 'Credential, SignedHeaders and Signature');
  });

  it('refuses a signature made with the wrong secret', async () => {
    const response = await sendSigned(s3Get({ secretAccessKey: 'wrong-secret-wrong-secret-wrong-secret00' }));
    expectXmlError(response, 403, 'SignatureDoesNotMatch', 'does not verify');
  });

  it('refuses a request changed after signing (path swapped for another object)', async () => {
    const { headers } = await signedRequest(s3Get());
    const response = await send(cs.port, 'GET', '/bucket/other-key.txt', headers);
    expectXmlError(response, 403, 'SignatureDoesNotMatch', 'does not verify');
  });

  it('refuses an access key countersign never issued, including a real-looking AWS key', async () => {
    const unknown = await sendSigned(s3Get({ accessKeyId: 'CSAKAAAAAAAAAAAAAAAA' }));
    expectXmlError(unknown, 403, 'InvalidAccessKeyId', 'is not a countersign agent key');
    const aws = await sendSigned(s3Get({ accessKeyId: 'AKIAIOSFODNN7EXAMPLE' }));
    expectXmlError(aws, 403, 'InvalidAccessKeyId', 'is not a countersign agent key');
  });

  it('refuses a revoked agent key', async () => {
    const doomed = cs.issueAgent('doomed');
    const options = s3Get({ accessKeyId: doomed.accessKeyId, secretAccessKey: doomed.secretAccessKey, path: '/bucket/key.txt?versionId=x' });
    expect(cs.cli(['agents', 'revoke', 'doomed'])).toContain(doomed.accessKeyId);
    await new Promise((r) => setTimeout(r, 400)); // the proxy re-reads the registry at most every 250 ms
    const response = await sendSigned(options);
    expectXmlError(response, 403, 'InvalidAccessKeyId', 'was revoked');
  });

  it('refuses an X-Amz-Date more than 15 minutes off', async () => {
    const response = await sendSigned(s3Get({ signingDate: new Date(Date.now() - 20 * 60 * 1000) }));
    expectXmlError(response, 403, 'RequestTimeTooSkewed', 'minutes from countersign');
  });

  it('refuses SigV4a (header and chunks) and malformed presigned URLs', async () => {
    const sigv4a = await send(cs.port, 'GET', '/bucket/key.txt', { host: host(), authorization: 'AWS4-ECDSA-P256-SHA256 Credential=x' });
    expectXmlError(sigv4a, 400, 'InvalidRequest', 'SigV4a');
    const presigned = await send(cs.port, 'GET', '/bucket/key.txt?X-Amz-Credential=a&X-Amz-Signature=b', { host: host() });
    expectXmlError(presigned, 400, 'AuthorizationHeaderMalformed', 'A presigned URL needs exactly one X-Amz-Algorithm parameter');
    const streaming = await sendSigned(
      s3Get({ method: 'PUT', headers: { 'x-amz-content-sha256': 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD' }, body: 'x' }),
    );
    expectXmlError(streaming, 400, 'InvalidRequest', 'SigV4a');
    expect(forwarded).toBe(0);
  });

  it('refuses requests it cannot classify, in the protocol of the service', async () => {
    // A sub-resource the S3 model does not define could be an operation added since: refused, not read as GetObject.
    const unknown = await sendSigned(s3Get({ path: '/bucket/key.txt?restore-status' }));
    expectXmlError(unknown, 400, 'UnclassifiedRequest', 'query parameter "restore-status" is not defined for s3:GetObject');
    const sqs = await sendSigned({ ...s3Get(), service: 'sqs', method: 'POST', path: '/', body: 'Action=NoSuchAction', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expectXmlError(sqs, 400, 'UnclassifiedRequest', 'no sqs API has the action "NoSuchAction"');
    const dynamo = await sendSigned({
      ...s3Get(),
      service: 'dynamodb',
      method: 'POST',
      path: '/',
      headers: { 'x-amz-target': 'DynamoDB_20120810.TransactWriteItems', 'content-type': 'application/x-amz-json-1.0' },
      body: '{}',
    });
    expect(dynamo.status).toBe(400);
    expect(dynamo.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(JSON.parse(dynamo.body)).toMatchObject({ __type: 'countersign#UnclassifiedRequest', countersignCode: 'UnclassifiedRequest' });
    expect(forwarded).toBe(0);
  });

  it('refuses a JSON or query body larger than the configured limit', async () => {
    const response = await sendSigned({ ...s3Get(), service: 'sts', method: 'POST', path: '/', body: `Action=GetCallerIdentity&pad=${'x'.repeat(5000)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expectXmlError(response, 413, 'RequestEntityTooLarge', 'larger than 4096 bytes');
  });

  it('refuses CONNECT to an AWS host on a port other than 443', async () => {
    const { statusLine, text } = await rawConnect(cs.port, 's3.amazonaws.com:8443');
    expect(statusLine).toBe('HTTP/1.1 403 countersign PortNotAllowed');
    expect(text).toContain('port 8443 is not allowed');
  });

  it('refuses CONNECT to a host no rule lets through, and to one a rule denies', async () => {
    const unknown = await rawConnect(cs.port, 'example.com:443');
    expect(unknown.statusLine).toBe('HTTP/1.1 403 countersign HostNotAllowed');
    expect(unknown.text).toContain('not an AWS endpoint and no host rule lets it through');
    const denied = await rawConnect(cs.port, 'api.blocked.example:443');
    expect(denied.text).toContain('denied by rule "blocked-host"');
  });

  it('tunnels a host a rule allows, without interception', async () => {
    const socket = netConnect({ host: '127.0.0.1', port: cs.port });
    const reply = await new Promise<string>((resolve, reject) => {
      let text = '';
      socket.on('connect', () => socket.write(`CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: 127.0.0.1:${echoPort}\r\n\r\n`));
      socket.on('data', (d: Buffer) => {
        text += d.toString();
        if (text === 'HTTP/1.1 200 Connection Established\r\n\r\n') socket.write('ping through the tunnel');
        if (text.endsWith('ping through the tunnel')) resolve(text);
      });
      socket.on('error', reject);
    });
    socket.destroy();
    expect(reply).toBe('HTTP/1.1 200 Connection Established\r\n\r\nping through the tunnel');
  });

  it('refuses an absolute-URI request for a host no rule covers', async () => {
    const response = await send(cs.port, 'GET', 'http://example.com/index.html', { host: 'example.com' });
    expect(response.status).toBe(403);
    expect(response.headers['x-countersign-error']).toBe('HostNotAllowed');
    expect(response.body).toContain('GET /index.html on example.com is not allowed: no host rule lets it through');
    expect(forwarded).toBe(0);
  });

  it('passes plain HTTP to a non-AWS host only for the methods and paths a rule names, untouched', async () => {
    const base = `http://127.0.0.1:${recorderPortOf(recorder)}`;
    const allowed = await send(cs.port, 'GET', `${base}/public/report.html`, { host: `127.0.0.1:${recorderPortOf(recorder)}`, authorization: 'Bearer third-party-token' });
    expect(allowed).toMatchObject({ status: 200, body: 'recorded' });
    expect(forwarded).toBe(1);
    const otherPath = await send(cs.port, 'GET', `${base}/private/keys`, { host: `127.0.0.1:${recorderPortOf(recorder)}` });
    expect(otherPath.status).toBe(403);
    const otherMethod = await send(cs.port, 'POST', `${base}/public/report.html`, { host: `127.0.0.1:${recorderPortOf(recorder)}` }, 'x');
    expect(otherMethod.status).toBe(403);
    expect(otherMethod.body).toContain('POST /public/report.html');
    expect(forwarded).toBe(1);
  });

  it('intercepts a non-AWS HTTPS host whose rules name methods or paths, and decides each request', async () => {
    const port = httpsPortOf(httpsServer);
    const ok = await interceptedRequest(`127.0.0.1`, `GET /public/a.txt HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer keep-me\r\nConnection: close\r\n\r\n`, port);
    expect(ok).toMatch(/^HTTP\/1\.1 200/);
    expect(ok).toContain('https GET /public/a.txt auth=Bearer keep-me');
    const refused = await interceptedRequest(`127.0.0.1`, `GET /admin HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`, port);
    expect(refused).toMatch(/^HTTP\/1\.1 403/);
    expect(refused).toContain('GET /admin on 127.0.0.1:' + String(port) + ' is not allowed');
    expect(forwarded).toBe(1);
  });

  it('refuses an intercepted request whose Host is not the CONNECT host', async () => {
    const response = await interceptedRequest('s3.amazonaws.com', 'GET /bucket/key HTTP/1.1\r\nHost: evil.example.com\r\nConnection: close\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 400/);
    expect(response).toContain('<Code>InvalidRequest</Code>');
    expect(response).toContain('the tunnel was opened to s3.amazonaws.com');
    expect(forwarded).toBe(0);
  });

  it('refuses a request signed for one service and sent to another service host', async () => {
    const { headers } = await signedRequest({ ...s3Get(), host: 's3.amazonaws.com', service: 'dynamodb', method: 'POST', path: '/', body: '{}' });
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n');
    const response = await interceptedRequest('s3.amazonaws.com', `POST / HTTP/1.1\r\n${lines}\r\ncontent-length: 2\r\nConnection: close\r\n\r\n{}`);
    expect(response).toMatch(/^HTTP\/1\.1 400/);
    expect(response).toContain('signed for service "dynamodb" but sent to s3.amazonaws.com');
    expect(forwarded).toBe(0);
  });

  /** CONNECT, TLS with the countersign CA, one raw HTTP/1.1 request; returns the raw response. */
  function interceptedRequest(connectHost: string, rawRequest: string, port = 443): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port: cs.port });
      socket.once('connect', () => socket.write(`CONNECT ${connectHost}:${port} HTTP/1.1\r\nHost: ${connectHost}:${port}\r\n\r\n`));
      socket.once('data', (d: Buffer) => {
        if (!d.toString().startsWith('HTTP/1.1 200')) return reject(new Error(d.toString()));
        const tls = tlsConnect({ socket, host: connectHost, ...(isIP(connectHost) === 0 && { servername: connectHost }), ca: readFileSync(cs.caPath, 'utf8') });
        let text = '';
        tls.on('secureConnect', () => tls.write(rawRequest));
        tls.on('data', (chunk: Buffer) => (text += chunk.toString()));
        tls.on('end', () => resolve(text));
        tls.on('error', reject);
      });
      socket.on('error', reject);
    });
  }
});
