import { execFile, execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, TLSSocket } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateCertificateAuthority } from '../../src/edge/ca-store.js';
import * as der from '../../src/edge/der.js';
import { LeafCertificateCache } from '../../src/edge/leaf-cache.js';
import { createCertificateAuthority, issueLeafCertificate, loadCertificateAuthority } from '../../src/edge/x509.js';
import type { CertificateAuthority } from '../../src/edge/x509.js';

const execFileAsync = promisify(execFile);
const S3_HOST = 'bucket.s3.us-east-1.amazonaws.com';
const DAY_MS = 24 * 60 * 60 * 1000;
const GREETING = 'hello from countersign';

function onPath(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const hasOpenssl = onPath('openssl', ['version']);
const hasPython = onPath('python3', ['-c', 'import ssl']);

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-x509-'));
  tempDirs.push(dir);
  return dir;
}

let ca: CertificateAuthority;
let caCert: X509Certificate;

beforeAll(() => {
  ca = createCertificateAuthority('countersign test CA');
  caCert = new X509Certificate(ca.certPem);
});

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('der', () => {
  const hex = (b: Buffer): string => b.toString('hex');

  it('encodes INTEGER minimally and keeps it positive', () => {
    expect(hex(der.integer(Buffer.from([0x00, 0x00, 0x01])))).toBe('020101');
    expect(hex(der.integer(Buffer.from([0x80])))).toBe('02020080');
    expect(hex(der.integer(Buffer.from([0x00, 0x80])))).toBe('02020080');
    expect(hex(der.integer(Buffer.alloc(0)))).toBe('020100');
  });

  it('encodes lengths, OIDs, named bits and booleans', () => {
    expect(hex(der.encodeLength(127))).toBe('7f');
    expect(hex(der.encodeLength(300))).toBe('82012c');
    expect(hex(der.oid('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302');
    expect(hex(der.oid('2.5.29.19'))).toBe('0603551d13');
    expect(() => der.oid('1.40')).toThrow();
    expect(hex(der.namedBitString([5, 6]))).toBe('03020106'); // keyCertSign | cRLSign
    expect(hex(der.namedBitString([0]))).toBe('03020780'); // digitalSignature
    expect(hex(der.boolean(true))).toBe('0101ff');
  });

  it('switches from UTCTime to GeneralizedTime in 2050', () => {
    expect(der.time(new Date('2049-12-31T23:59:59Z')).toString('latin1', 2)).toBe('491231235959Z');
    expect(der.time(new Date('2049-12-31T23:59:59Z'))[0]).toBe(der.TAG.UTC_TIME);
    expect(der.time(new Date('2050-01-01T00:00:00Z')).toString('latin1', 2)).toBe('20500101000000Z');
    expect(der.time(new Date('2050-01-01T00:00:00Z'))[0]).toBe(der.TAG.GENERALIZED_TIME);
  });

  it('sorts SET OF members and reads back what it writes', () => {
    const set = der.set(der.integer(Buffer.from([2])), der.integer(Buffer.from([1])));
    expect(hex(set)).toBe('3106020101020102');
    const seq = der.sequence(der.octetString(Buffer.alloc(200)), der.utf8String('x'));
    const children = der.readChildren(der.readElement(seq).contents);
    expect(children.map((c) => c.tag)).toEqual([der.TAG.OCTET_STRING, der.TAG.UTF8_STRING]);
    expect(children[0]?.contents.length).toBe(200);
  });
});

describe('createCertificateAuthority', () => {
  it('makes a self-signed CA certificate', () => {
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toBe('O=countersign\nCN=countersign test CA');
    expect(caCert.issuer).toBe(caCert.subject);
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    expect(caCert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(caCert.raw.equals(ca.certDer)).toBe(true);
    expect(ca.subjectKeyId.length).toBe(20);
  });

  it('is valid from an hour ago for ten years', () => {
    const now = new Date('2030-03-04T05:06:07.890Z');
    const cert = new X509Certificate(createCertificateAuthority('clock CA', now).certPem);
    expect(new Date(cert.validFrom).toISOString()).toBe('2030-03-04T04:06:07.000Z');
    expect(new Date(cert.validTo).toISOString()).toBe('2040-03-04T05:06:07.000Z');
  });

  it('writes GeneralizedTime for validity past 2049', () => {
    const cert = new X509Certificate(createCertificateAuthority('late CA', new Date('2045-06-01T00:00:00Z')).certPem);
    expect(new Date(cert.validTo).toISOString()).toBe('2055-06-01T00:00:00.000Z');
  });

  it('rejects unusable common names', () => {
    expect(() => createCertificateAuthority('')).toThrow(/common name/);
    expect(() => createCertificateAuthority('x'.repeat(65))).toThrow(/common name/);
    expect(() => createCertificateAuthority('a\nb')).toThrow(/common name/);
  });
});

describe('loadCertificateAuthority', () => {
  it('round-trips a created CA and issues leaves that chain to the original', () => {
    const loaded = loadCertificateAuthority(ca.certPem, ca.keyPem);
    expect(loaded.certDer.equals(ca.certDer)).toBe(true);
    expect(loaded.subjectKeyId.equals(ca.subjectKeyId)).toBe(true);
    const leaf = new X509Certificate(issueLeafCertificate(loaded, S3_HOST).certPem);
    expect(leaf.verify(caCert.publicKey)).toBe(true);
    expect(leaf.checkIssued(caCert)).toBe(true);
  });

  it('refuses a key that does not match, and a certificate that is not a CA', () => {
    const other = createCertificateAuthority('other CA');
    expect(() => loadCertificateAuthority(ca.certPem, other.keyPem)).toThrow(/does not belong/);
    const leaf = issueLeafCertificate(ca, S3_HOST);
    expect(() => loadCertificateAuthority(leaf.certPem, leaf.keyPem)).toThrow(/not a CA/);
  });
});

describe('issueLeafCertificate', () => {
  it('issues a server certificate for a DNS name, signed by the CA', () => {
    const now = new Date('2030-01-01T00:00:00.500Z');
    const issued = issueLeafCertificate(ca, S3_HOST, now);
    const leaf = new X509Certificate(issued.certPem);
    expect(leaf.verify(caCert.publicKey)).toBe(true);
    expect(leaf.checkIssued(caCert)).toBe(true);
    expect(leaf.issuer).toBe(caCert.subject);
    expect(leaf.ca).toBe(false);
    expect(leaf.subject).toBe(`CN=${S3_HOST}`);
    expect(leaf.subjectAltName).toBe(`DNS:${S3_HOST}`);
    expect(leaf.checkHost(S3_HOST)).toBe(S3_HOST);
    expect(leaf.checkHost('other.s3.us-east-1.amazonaws.com')).toBeUndefined();
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(leaf.checkPrivateKey(createPrivateKey(issued.keyPem))).toBe(true);
    expect(new Date(leaf.validFrom).toISOString()).toBe('2029-12-31T23:00:00.000Z');
    expect(new Date(leaf.validTo).getTime()).toBe(issued.notAfter.getTime());
    expect(issued.notAfter.toISOString()).toBe('2030-01-31T00:00:00.000Z');
  });

  it('uses a fresh key and a positive 16-byte serial each time', () => {
    const a = new X509Certificate(issueLeafCertificate(ca, S3_HOST).certPem);
    const b = new X509Certificate(issueLeafCertificate(ca, S3_HOST).certPem);
    expect(a.serialNumber).not.toBe(b.serialNumber);
    expect(a.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
    expect(a.publicKey.equals(b.publicKey)).toBe(false);
  });

  it('lower-cases names and bounds the CN at 64 characters while the SAN keeps the full name', () => {
    expect(new X509Certificate(issueLeafCertificate(ca, 'Bucket.S3.Amazonaws.COM').certPem).subjectAltName).toBe(
      'DNS:bucket.s3.amazonaws.com',
    );
    const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.example.com`;
    const leaf = new X509Certificate(issueLeafCertificate(ca, long).certPem);
    expect(leaf.subject).toBe(`CN=${long.slice(0, 64)}`);
    expect(leaf.checkHost(long)).toBe(long);
  });

  it('puts IP literals in an iPAddress SAN', () => {
    const v4 = new X509Certificate(issueLeafCertificate(ca, '127.0.0.1').certPem);
    expect(v4.subjectAltName).toBe('IP Address:127.0.0.1');
    expect(v4.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(v4.checkIP('127.0.0.2')).toBeUndefined();
    const v6 = new X509Certificate(issueLeafCertificate(ca, '2001:db8::1').certPem);
    expect(v6.checkIP('2001:db8:0:0:0:0:0:1')).toBeDefined();
    const mapped = new X509Certificate(issueLeafCertificate(ca, '::ffff:10.0.0.1').certPem);
    expect(mapped.subjectAltName).toBe('IP Address:0:0:0:0:0:FFFF:A00:1');
  });

  it.each([
    ['CR/LF injection', 'evil.com\r\nX-Injected: 1'],
    ['space', 'has space.com'],
    ['empty', ''],
    ['empty label', 'a..b.com'],
    ['trailing dot', 'example.com.'],
    ['leading hyphen', '-lead.example.com'],
    ['underscore', 'under_score.example.com'],
    ['wildcard', '*.example.com'],
    ['label over 63', `${'a'.repeat(64)}.com`],
    ['name over 253', `${'a'.repeat(60)}.`.repeat(5) + 'com'],
    ['bracketed IPv6', '[::1]'],
    ['IPv6 zone', 'fe80::1%eth0'],
    ['bad IPv4', '1.2.3.999'],
    ['port', 'example.com:443'],
    ['non-ASCII', 'bücher.example'],
    ['NUL', 'example.com\u0000.evil.com'],
  ])('rejects a hostname with %s', (_why, hostname) => {
    expect(() => issueLeafCertificate(ca, hostname)).toThrow(/invalid hostname/);
  });
});

describe('LeafCertificateCache', () => {
  it('counts hits and misses, case-insensitively, returning the same context', () => {
    const cache = new LeafCertificateCache(ca);
    const first = cache.secureContextFor(S3_HOST);
    expect(cache.secureContextFor(S3_HOST.toUpperCase())).toBe(first);
    expect(cache.secureContextFor(S3_HOST)).toBe(first);
    expect([cache.size, cache.hits, cache.misses]).toEqual([1, 2, 1]);
  });

  it('evicts the least recently used hostname', () => {
    const cache = new LeafCertificateCache(ca, { maxEntries: 2 });
    cache.secureContextFor('a.example.com');
    cache.secureContextFor('b.example.com');
    cache.secureContextFor('a.example.com'); // a is now the most recent
    cache.secureContextFor('c.example.com'); // evicts b
    expect(cache.size).toBe(2);
    cache.secureContextFor('a.example.com');
    expect([cache.hits, cache.misses]).toEqual([2, 3]);
    cache.secureContextFor('b.example.com');
    expect([cache.hits, cache.misses, cache.size]).toEqual([2, 4, 2]);
  });

  it('renews a leaf within a day of its expiry', () => {
    let now = new Date('2030-01-01T00:00:00Z');
    const cache = new LeafCertificateCache(ca, { now: () => now });
    const first = cache.secureContextFor(S3_HOST);
    now = new Date(now.getTime() + 28 * DAY_MS);
    expect(cache.secureContextFor(S3_HOST)).toBe(first);
    now = new Date(now.getTime() + DAY_MS + 1000); // 29 days in: less than a day left of 30
    expect(cache.secureContextFor(S3_HOST)).not.toBe(first);
    expect([cache.size, cache.hits, cache.misses]).toEqual([1, 1, 2]);
  });

  it('throws for invalid hostnames without counting them', () => {
    const cache = new LeafCertificateCache(ca);
    expect(() => cache.secureContextFor('bad host')).toThrow(/invalid hostname/);
    expect([cache.size, cache.hits, cache.misses]).toEqual([0, 0, 0]);
    expect(() => new LeafCertificateCache(ca, { maxEntries: 0 })).toThrow(RangeError);
  });
});

/**
 * A TLS server shaped like the proxy after a CONNECT: the raw socket is wrapped server-side,
 * presenting the leaf for the CONNECT target unless the client's SNI names another host.
 */
async function startTlsServer(cache: LeafCertificateCache, connectTarget: string): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    const socket = new TLSSocket(raw, {
      isServer: true,
      secureContext: cache.secureContextFor(connectTarget),
      SNICallback: (servername, callback) => {
        try {
          callback(null, cache.secureContextFor(servername));
        } catch (error) {
          callback(error instanceof Error ? error : new Error(String(error)));
        }
      },
    });
    socket.on('secure', () => socket.end(GREETING));
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return { port, close };
}

/** Connects, verifies the server the way node does by default, and returns what it sent. */
function fetchGreeting(port: number, options: ConnectionOptions): Promise<{ text: string; subject: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ...options });
    let text = '';
    let subject = '';
    socket.setEncoding('utf8');
    socket.on('secureConnect', () => {
      subject = String(socket.getPeerCertificate().subject.CN);
    });
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve({ text, subject }));
    socket.on('error', reject);
  });
}

describe('TLS handshakes', () => {
  it('succeeds against a client that trusts the CA, using SNI', async () => {
    const cache = new LeafCertificateCache(ca);
    const server = await startTlsServer(cache, 'connect-target.example.com');
    try {
      const result = await fetchGreeting(server.port, { ca: ca.certPem, servername: S3_HOST });
      expect(result).toEqual({ text: GREETING, subject: S3_HOST });
      await fetchGreeting(server.port, { ca: ca.certPem, servername: S3_HOST, maxVersion: 'TLSv1.2' });
      expect(cache.hits).toBeGreaterThanOrEqual(1);
    } finally {
      await server.close();
    }
  });

  it('fails against a client that trusts a different CA', async () => {
    const other = createCertificateAuthority('some other CA');
    const server = await startTlsServer(new LeafCertificateCache(ca), S3_HOST);
    try {
      await expect(fetchGreeting(server.port, { ca: other.certPem, servername: S3_HOST })).rejects.toMatchObject({
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      });
    } finally {
      await server.close();
    }
  });

  it('verifies an IP literal without SNI through the iPAddress SAN', async () => {
    // Node sends no SNI for an IP host, so the server presents the CONNECT target's leaf and the
    // default checkServerIdentity matches 127.0.0.1 against the SAN.
    const server = await startTlsServer(new LeafCertificateCache(ca), '127.0.0.1');
    try {
      const result = await fetchGreeting(server.port, { ca: ca.certPem });
      expect(result).toEqual({ text: GREETING, subject: '127.0.0.1' });
    } finally {
      await server.close();
    }
  });
});

describe('strict verifiers', () => {
  it('passes openssl verify -x509_strict', (ctx) => {
    if (!hasOpenssl) console.warn('openssl not on PATH: skipping the OpenSSL strict verification');
    ctx.skip(!hasOpenssl, 'openssl not on PATH');
    const dir = tempDir();
    const files = {
      ca: join(dir, 'ca.crt'),
      leaf: join(dir, 'leaf.crt'),
      ip: join(dir, 'ip.crt'),
    };
    writeFileSync(files.ca, ca.certPem);
    writeFileSync(files.leaf, issueLeafCertificate(ca, S3_HOST).certPem);
    writeFileSync(files.ip, issueLeafCertificate(ca, '127.0.0.1').certPem);
    const verify = (...args: string[]): string =>
      execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', files.ca, ...args], { encoding: 'utf8' });
    expect(verify(files.ca)).toContain('OK');
    expect(verify(files.leaf)).toContain('OK');
    expect(verify('-purpose', 'sslserver', '-verify_hostname', S3_HOST, files.leaf)).toContain('OK');
    expect(verify('-purpose', 'sslserver', '-verify_ip', '127.0.0.1', files.ip)).toContain('OK');
  });

  it('passes Python ssl with VERIFY_X509_STRICT over a real handshake', async (ctx) => {
    if (!hasPython) console.warn('python3 not on PATH: skipping the Python strict verification');
    ctx.skip(!hasPython, 'python3 not on PATH');
    const caFile = join(tempDir(), 'ca.crt');
    writeFileSync(caFile, ca.certPem);
    const script = [
      'import socket, ssl, sys',
      'cafile, port, host = sys.argv[1], int(sys.argv[2]), sys.argv[3]',
      'ctx = ssl.create_default_context(cafile=cafile)',
      'ctx.verify_flags |= ssl.VERIFY_X509_STRICT',
      'with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:',
      '    with ctx.wrap_socket(raw, server_hostname=host) as tls:',
      '        print(tls.recv(100).decode())',
    ].join('\n');
    const server = await startTlsServer(new LeafCertificateCache(ca), '127.0.0.1');
    try {
      // Asynchronous: the TLS server runs on this process's event loop.
      for (const host of [S3_HOST, '127.0.0.1']) {
        const { stdout } = await execFileAsync('python3', ['-c', script, caFile, String(server.port), host]);
        expect(stdout.trim()).toBe(GREETING);
      }
    } finally {
      await server.close();
    }
  });
});

describe('loadOrCreateCertificateAuthority', () => {
  it('creates the CA with private permissions, then loads the same one', () => {
    const dataDir = join(tempDir(), 'data');
    const first = loadOrCreateCertificateAuthority(dataDir);
    expect(first.created).toBe(true);
    expect(first.certPath).toBe(join(dataDir, 'ca.crt'));
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir, 'ca.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'ca.crt')).mode & 0o777).toBe(0o644);
    expect(new X509Certificate(first.ca.certPem).subject).toBe('O=countersign\nCN=countersign local CA');

    const second = loadOrCreateCertificateAuthority(dataDir);
    expect(second.created).toBe(false);
    expect(second.ca.certDer.equals(first.ca.certDer)).toBe(true);
    expect(second.ca.subjectKeyId.equals(first.ca.subjectKeyId)).toBe(true);
  });

  it('refuses to continue with only one of the two files', () => {
    const dataDir = tempDir();
    loadOrCreateCertificateAuthority(dataDir);
    unlinkSync(join(dataDir, 'ca.crt'));
    expect(() => loadOrCreateCertificateAuthority(dataDir)).toThrow(/ca\.crt is missing.*Restore .*ca\.crt, or remove .*ca\.key/);
    expect(existsSync(join(dataDir, 'ca.crt'))).toBe(false);

    const other = tempDir();
    loadOrCreateCertificateAuthority(other);
    unlinkSync(join(other, 'ca.key'));
    expect(() => loadOrCreateCertificateAuthority(other)).toThrow(/ca\.key is missing/);
  });
});

describe('a CA made elsewhere', () => {
  it('keeps the key identifier the CA carries, so leaves chain to it (Go and cert-manager derive it differently)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-foreign-ca-'));
    const ski = '0123456789abcdef0123456789abcdef01234567';
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', '/CN=foreign CA',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', `subjectKeyIdentifier=${ski}`, '-addext', 'authorityKeyIdentifier=keyid:always',
        '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt')], { stdio: 'ignore' });
    } catch {
      console.warn('openssl not available; skipping the foreign-CA check');
      return;
    }
    const ca = loadCertificateAuthority(readFileSync(join(dir, 'ca.crt'), 'utf8'), readFileSync(join(dir, 'ca.key'), 'utf8'));
    expect(ca.subjectKeyId.toString('hex')).toBe(ski);
    const leaf = issueLeafCertificate(ca, 'bucket.s3.amazonaws.com');
    writeFileSync(join(dir, 'leaf.crt'), leaf.certPem);
    const out = execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', join(dir, 'ca.crt'), join(dir, 'leaf.crt')], { encoding: 'utf8' });
    expect(out.trim()).toMatch(/: OK$/);
  });
});
