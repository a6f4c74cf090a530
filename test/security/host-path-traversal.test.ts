// Host rules match a path as sent and countersign forwards it as sent, so a path that a server
// may read another way (dot segments, encoded separators, backslashes, path parameters, double
// encoding, NUL) must be refused before any rule sees it: `/ok/../x` matches `/ok/*` and is
// served as `/x`. A real countersign process, a loopback server behind a host rule, requests
// sent through countersign as a forward proxy (absolute-URI HTTP, and CONNECT with TLS
// interception), written byte for byte on a socket so no client library tidies the path first.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueLeafCertificate } from '../../src/edge/x509.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { pathAmbiguity } from '../../src/policy/criteria/host-path.js';
import { decideHostRequest } from '../../src/policy/evaluate.js';
import { buildPolicySet } from '../../src/policy/load.js';
import { startCountersign, type CountersignProcess } from '../support/countersign.js';

/** Each of these has a reading under /ok/ (what a rule on the raw path sees) and one outside it, or another file. */
const TRAVERSALS = [
  '/ok/../x',
  '/ok/./../x',
  '/ok/..',
  '/ok/%2e%2e/x',
  '/ok/%2E%2E/x',
  '/ok/..%2fx',
  '/ok/%2E%2E%2Fx',
  '/ok/.%2e/x',
  '/ok/%2e./x',
  '/ok/..%2Fsecret/x',
  '/ok\\..\\x',
  '/ok/..\\x',
  '/ok/%5c..%5cx',
  '/ok/..%5Cx',
  '/ok/%252e%252e/x',
  '/ok/%252e%252e%252fx',
  '/ok/..;/x',
  '/ok/;/../x',
  '/ok/..%3B/x',
  '/ok/x%00.html',
  '/ok/%zz',
  '/ok/x%',
  '/ok/%C0%AE%C0%AE/x',
  '/ok/%EF%BC%8E%EF%BC%8E/x',
  '/ok//../x',
  '/ok/secre%74/x',
];

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function parseResponse(text: string): RawResponse {
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

function listen(server: Server | HttpsServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('host rules refuse paths a server could read another way', { timeout: 60_000 }, () => {
  let cs: CountersignProcess;
  let plain: Server;
  let secure: HttpsServer;
  let plainPort: number;
  let securePort: number;
  /** Every request the loopback servers saw, as `METHOD url`. */
  let seen: string[] = [];

  beforeAll(async () => {
    const record = (req: IncomingMessage, res: ServerResponse) => {
      seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
      res.end(`served ${req.url ?? ''}`);
    };
    plain = createHttpServer(record);
    plainPort = await listen(plain);
    const upstreamCa = createCertificateAuthority('traversal test upstream CA');
    const leaf = issueLeafCertificate(upstreamCa, '127.0.0.1');
    const caFile = path.join(mkdtempSync(path.join(tmpdir(), 'cs-traversal-ca-')), 'ca.pem');
    writeFileSync(caFile, upstreamCa.certPem);
    secure = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, record);
    securePort = await listen(secure);
    cs = await startCountersign({
      policies: {
        'hosts.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: ok-pages
    effect: allow
    hosts: ["127.0.0.1"]
    ports: [${plainPort}, ${securePort}]
    methods: [GET]
    paths: ["/ok/*"]
  - name: no-secrets
    effect: deny
    hosts: ["127.0.0.1"]
    ports: [${plainPort}, ${securePort}]
    paths: ["/ok/secret/*"]
`,
      },
      env: { COUNTERSIGN_UPSTREAM_CA_FILE: caFile },
    });
  });

  afterAll(async () => {
    await cs?.stop();
    plain?.close();
    secure?.close();
  });

  beforeEach(() => {
    seen = [];
  });

  /** `GET http://127.0.0.1:PORT<path>` to countersign's listener, the request line written as given. */
  function throughProxy(rawPath: string, extraHeaders = ''): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port: cs.port });
      let text = '';
      socket.on('connect', () => socket.write(`GET http://127.0.0.1:${plainPort}${rawPath} HTTP/1.1\r\nHost: 127.0.0.1:${plainPort}\r\n${extraHeaders}Connection: close\r\n\r\n`, 'latin1'));
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('end', () => resolve(parseResponse(text)));
      socket.on('error', reject);
    });
  }

  /** CONNECT 127.0.0.1:securePort, TLS with countersign's CA, then one request line as given. */
  function throughTunnel(rawPath: string): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port: cs.port });
      socket.once('connect', () => socket.write(`CONNECT 127.0.0.1:${securePort} HTTP/1.1\r\nHost: 127.0.0.1:${securePort}\r\n\r\n`));
      socket.once('data', (d: Buffer) => {
        if (!d.toString().startsWith('HTTP/1.1 200')) return reject(new Error(d.toString()));
        const tls = tlsConnect({ socket, host: '127.0.0.1', ca: readFileSync(cs.caPath, 'utf8') });
        let text = '';
        tls.on('secureConnect', () => tls.write(`GET ${rawPath} HTTP/1.1\r\nHost: 127.0.0.1:${securePort}\r\nConnection: close\r\n\r\n`, 'latin1'));
        tls.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
        tls.on('end', () => resolve(parseResponse(text)));
        tls.on('error', reject);
      });
      socket.on('error', reject);
    });
  }

  function expectAmbiguous(response: RawResponse, rawPath: string): void {
    expect(response.status, rawPath).toBe(400);
    expect(response.headers['x-countersign-error'], rawPath).toBe('AmbiguousRequest');
    expect(response.headers['content-type'], rawPath).toBe('text/plain; charset=utf-8');
    expect(response.body, rawPath).toContain('is not allowed: its path has ');
  }

  it('refuses every traversal variant sent as an absolute-URI request, and forwards none', async () => {
    for (const rawPath of TRAVERSALS) expectAmbiguous(await throughProxy(rawPath), rawPath);
    expect(seen).toEqual([]);
    const records = await cs.waitForRequests((r) => r.errorCode === 'AmbiguousRequest' && r.mode === 'host', TRAVERSALS.length);
    expect(records).toHaveLength(TRAVERSALS.length);
    for (const record of records) {
      expect(record).toMatchObject({ event: 'request.failed', decision: 'deny', status: 400, rules: [], host: `127.0.0.1:${plainPort}` });
    }
    expect(records.map((r) => r.path)).toEqual(TRAVERSALS);
  });

  it('refuses them inside an intercepted TLS tunnel too', async () => {
    for (const rawPath of TRAVERSALS) expectAmbiguous(await throughTunnel(rawPath), rawPath);
    expect(seen).toEqual([]);
  });

  it('names what makes the path ambiguous', async () => {
    expect((await throughProxy('/ok/../x')).body).toContain('a dot segment ("..")');
    expect((await throughProxy('/ok/..%2fx')).body).toContain('an encoded "/"');
    expect((await throughProxy('/ok\\..\\x')).body).toContain('a backslash');
    expect((await throughProxy('/ok/%252e%252e/x')).body).toContain('an encoded "%" (%25)');
    expect((await throughProxy('/ok/..;/x')).body).toContain('a ";"');
    expect((await throughProxy('/ok/x%00.html')).body).toContain('NUL');
    expect((await throughProxy('/ok/%zz')).body).toContain('an invalid percent-encoding');
    expect(seen).toEqual([]);
  });

  it('refuses a GET the rules allow when it carries a method- or URL-override header (X-HTTP-Method-Override: DELETE, X-Original-URL)', async () => {
    for (const header of ['X-HTTP-Method-Override: DELETE', 'X-HTTP-Method: PUT', 'X-Method-Override: DELETE', 'X-Original-URL: /ok/secret/keys', 'X-Rewrite-URL: /x']) {
      const response = await throughProxy('/ok/fine', `${header}\r\n`);
      expect(response.status, header).toBe(400);
      expect(response.headers['x-countersign-error'], header).toBe('AmbiguousRequest');
      expect(response.body, header).toContain(header.split(':')[0]?.toLowerCase());
    }
    expect(seen).toEqual([]);
  });

  it('still passes a plain path under the rule, byte for byte, and still applies deny and default deny', async () => {
    const fine = await throughProxy('/ok/fine');
    expect(fine).toMatchObject({ status: 200, body: 'served /ok/fine' });
    const encoded = await throughProxy('/ok/a%20b%C3%A9');
    expect(encoded).toMatchObject({ status: 200, body: 'served /ok/a%20b%C3%A9' });
    const tunnelled = await throughTunnel('/ok/fine?q=../x');
    expect(tunnelled).toMatchObject({ status: 200, body: 'served /ok/fine?q=../x' });
    expect(seen).toEqual(['GET /ok/fine', 'GET /ok/a%20b%C3%A9', 'GET /ok/fine?q=../x']);
    seen = [];
    const denied = await throughProxy('/ok/secret/keys');
    expect(denied.status).toBe(403);
    expect(denied.headers['x-countersign-error']).toBe('HostNotAllowed');
    const outside = await throughProxy('/x');
    expect(outside.status).toBe(403);
    expect(seen).toEqual([]);
  });
});

describe('pathAmbiguity and decideHostRequest', () => {
  const policy = (rules: string) =>
    compilePolicySet(buildPolicySet([{ path: 'hosts.yaml', text: `apiVersion: countersign.dev/v1alpha1\nkind: Policy\nrules:\n${rules}` }]));

  it('refuses every traversal variant and passes paths with one reading', () => {
    for (const rawPath of TRAVERSALS) expect(pathAmbiguity(rawPath), rawPath).toBeDefined();
    for (const rawPath of ['/', '/ok/', '/ok/fine', '/ok/a%20b', '/ok/caf%C3%A9', "/ok/a:b@c!$&'()*+,=~", '/ok/v1.2/x..y/.z']) {
      expect(pathAmbiguity(rawPath), rawPath).toBeUndefined();
    }
  });

  it('refuses what RFC 3986 does not allow in a path, and one path spelt two ways', () => {
    expect(pathAmbiguity('http://other.example/ok/x')).toContain('not an absolute path');
    expect(pathAmbiguity('/ok/x#frag')).toContain('U+0023');
    expect(pathAmbiguity('/ok/x y')).toContain('U+0020');
    expect(pathAmbiguity('/ok/caf\u00e9')).toContain('U+00E9');
    expect(pathAmbiguity('/ok/%61')).toContain('an encoded "a"');
    expect(pathAmbiguity('/ok/caf%c3%a9')).toContain('lower-case hex');
    expect(pathAmbiguity('/ok/%EF%BC%8F')).toContain('folds to "/"');
    expect(pathAmbiguity('/ok/%E2%80%A5/x')).toContain('dot segment');
    expect(pathAmbiguity('/ok/x%4')).toContain('invalid percent-encoding');
    expect(pathAmbiguity('/ok/%0Ax')).toContain('control character');
  });

  it('judges paths only where a rule for the host reads them', () => {
    const rules = policy(`  - name: ok-pages
    effect: allow
    hosts: ["docs.example"]
    paths: ["/ok/*"]
  - name: registry-reads
    effect: allow
    hosts: ["registry.example"]
    methods: [GET]
`);
    expect(decideHostRequest(rules, 'docs.example', 443, 'GET', '/ok/../x')).toEqual({ effect: 'ambiguous', why: expect.stringContaining('dot segment') as string });
    expect(decideHostRequest(rules, 'docs.example', 443, 'GET', '/ok/fine')).toEqual({ effect: 'allow', rule: 'ok-pages' });
    // No rule reads the path (npm-style scoped names keep working): the path decides nothing.
    expect(decideHostRequest(rules, 'registry.example', 443, 'GET', '/@scope%2fname')).toEqual({ effect: 'allow', rule: 'registry-reads' });
    // Another port is another set of rules.
    expect(decideHostRequest(rules, 'docs.example', 8443, 'GET', '/ok/../x')).toBeUndefined();
  });
});
