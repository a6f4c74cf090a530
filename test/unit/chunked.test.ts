import { execFile, execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { chunkChain, chunkResigner, signedStreamingMode, type ChunkChain } from '../../src/aws/chunked.js';
import { parseAmzDate, parseAuthorization } from '../../src/aws/sigv4.js';
import { verifySignature } from '../../src/aws/sigv4-verify.js';
import { CountersignError } from '../../src/errors.js';
import { findOnPath, repoRoot } from '../support/python.js';

/**
 * Signed streaming payloads (src/aws/chunked.ts): verified on the agent's chain, re-signed on
 * countersign's. Checked against the AWS documentation's worked examples, against bodies an
 * independent Python signer writes (test/support/chunked_body.py), and on tampered, reordered,
 * truncated and oversize bodies fed in arbitrary pieces.
 */

const DOC_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const DOC_DATE = '20130524T000000Z';
// "Transferring Payload in Multiple Chunks": 64 KiB + 1 KiB of 'a', then the final chunk.
const DOC_SEED = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
const DOC_SIGNATURES = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
] as const;
// "Including Trailing Headers": the same payload, then an x-amz-checksum-crc32c trailer.
const DOC_TRAILER_SEED = '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e';
const DOC_TRAILER_SIGNATURES = [
  'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
  '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
  '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
] as const;
const DOC_TRAILER_SIGNATURE = 'd81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435';

function docBody(signatures: readonly string[], trailer?: string): Buffer {
  const [first, second, last] = signatures;
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${first}\r\n`),
    Buffer.alloc(65_536, 'a'),
    Buffer.from(`\r\n400;chunk-signature=${second}\r\n`),
    Buffer.alloc(1_024, 'a'),
    Buffer.from(`\r\n0;chunk-signature=${last}\r\n`),
    Buffer.from(trailer === undefined ? '\r\n' : `x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:${trailer}\r\n\r\n`),
  ]);
}

/** The two chains of a re-signing: the agent's and countersign's. */
interface ChainSpec {
  readonly secret: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly seed: string;
}

const AGENT: ChainSpec = { secret: 'agent+secret/key', date: '20260102T030405Z', region: 'eu-west-1', service: 's3', seed: 'a'.repeat(64) };
const COUNTERSIGN: ChainSpec = {
  secret: 'sts-session-secret',
  date: '20260102T030411Z',
  region: 'eu-west-1',
  service: 's3',
  seed: createHash('sha256').update('re-signed head').digest('hex'),
};

const chainOf = (spec: ChainSpec): ChunkChain => chunkChain(spec.secret, spec.date, spec.region, spec.service, spec.seed);

// ---- a small signer of our own (the test's, not src's) -------------------------------------

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');
const EMPTY = sha256('');

function keyOf(spec: ChainSpec): Buffer {
  let key = hmac(`AWS4${spec.secret}`, spec.date.slice(0, 8));
  for (const part of [spec.region, spec.service, 'aws4_request']) key = hmac(key, part);
  return key;
}

type TrailerStyle = 'crlf' | 'minio';

interface BuildOptions {
  readonly chunkSize?: number;
  /** Trailers to sign after the final chunk (the -TRAILER form). */
  readonly trailers?: readonly (readonly [string, string])[];
  /** crlf: the Java SDK's lines; minio: `name:value\n` then CRLF before the signature line. */
  readonly style?: TrailerStyle;
}

function build(spec: ChainSpec, payload: Buffer, options: BuildOptions = {}): Buffer {
  const chunkSize = options.chunkSize ?? 65_536;
  const key = keyOf(spec);
  const scope = `${spec.date.slice(0, 8)}/${spec.region}/${spec.service}/aws4_request`;
  let previous = spec.seed;
  const sign = (hash: string): string => {
    previous = hmac(key, ['AWS4-HMAC-SHA256-PAYLOAD', spec.date, scope, previous, EMPTY, hash].join('\n')).toString('hex');
    return previous;
  };
  const parts: Buffer[] = [];
  for (let offset = 0; offset < payload.length; offset += chunkSize) {
    const data = payload.subarray(offset, offset + chunkSize);
    parts.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${sign(sha256(data))}\r\n`), data, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0;chunk-signature=${sign(EMPTY)}\r\n`));
  if (options.trailers === undefined) {
    parts.push(Buffer.from('\r\n'));
    return Buffer.concat(parts);
  }
  const canonical = [...options.trailers]
    .map(([name, value]) => `${name.toLowerCase()}:${value.trim()}\n`)
    .sort()
    .join('');
  const signature = hmac(key, ['AWS4-HMAC-SHA256-TRAILER', spec.date, scope, previous, sha256(canonical)].join('\n')).toString('hex');
  const eol = options.style === 'minio' ? '\n' : '\r\n';
  for (const [name, value] of options.trailers) parts.push(Buffer.from(`${name}:${value}${eol}`));
  parts.push(Buffer.from(`${options.style === 'minio' ? '\r\n' : ''}x-amz-trailer-signature:${signature}\r\n\r\n`));
  return Buffer.concat(parts);
}

// ---- running the transform ---------------------------------------------------------------

interface Outcome {
  readonly output: Buffer;
  readonly error: unknown;
}

function run(pieces: readonly Buffer[], options: { verify?: ChunkChain; sign?: ChunkChain; trailer?: boolean; maxChunkBytes?: number; decodedContentLength?: number } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const transform = chunkResigner({
      verify: options.verify ?? chainOf(AGENT),
      sign: options.sign ?? chainOf(COUNTERSIGN),
      trailer: options.trailer ?? false,
      ...(options.maxChunkBytes === undefined ? {} : { maxChunkBytes: options.maxChunkBytes }),
      ...(options.decodedContentLength === undefined ? {} : { decodedContentLength: options.decodedContentLength }),
    });
    const output: Buffer[] = [];
    transform.on('data', (chunk: Buffer) => output.push(chunk));
    transform.on('end', () => resolve({ output: Buffer.concat(output), error: undefined }));
    transform.on('error', (error) => resolve({ output: Buffer.concat(output), error }));
    Readable.from(pieces, { objectMode: false }).pipe(transform);
  });
}

async function resign(body: Buffer, options: Parameters<typeof run>[1] = {}, split: (body: Buffer) => Buffer[] = (b) => [b]): Promise<Buffer> {
  const { output, error } = await run(split(body), options);
  if (error !== undefined) throw error as Error;
  return output;
}

async function refusal(body: Buffer | Buffer[], options: Parameters<typeof run>[1] = {}): Promise<CountersignError> {
  const { error } = await run(Array.isArray(body) ? body : [body], options);
  expect(error).toBeInstanceOf(CountersignError);
  return error as CountersignError;
}

/** Deterministic pseudo-random numbers (mulberry32). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const bytes = (body: Buffer): Buffer[] => Array.from({ length: body.length }, (_, i) => body.subarray(i, i + 1));

function randomSplits(seed: number, maxPiece: number): (body: Buffer) => Buffer[] {
  return (body) => {
    const next = random(seed);
    const pieces: Buffer[] = [];
    for (let offset = 0; offset < body.length; ) {
      const size = 1 + Math.floor(next() * maxPiece);
      pieces.push(body.subarray(offset, offset + size));
      offset += size;
    }
    return pieces;
  };
}

function payloadOf(size: number, seed = 1): Buffer {
  const next = random(seed);
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i += 1) payload[i] = Math.floor(next() * 256);
  return payload;
}

const DOC_CHAIN = (seed: string): ChunkChain => chunkChain(DOC_SECRET, DOC_DATE, 'us-east-1', 's3', seed);

// ---- tests -------------------------------------------------------------------------------

describe('signedStreamingMode', () => {
  it('names the two signed streaming payload modes and nothing else', () => {
    expect(signedStreamingMode('STREAMING-AWS4-HMAC-SHA256-PAYLOAD')).toBe('payload');
    expect(signedStreamingMode('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER')).toBe('trailer');
    for (const other of [undefined, '', 'UNSIGNED-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', EMPTY, 'streaming-aws4-hmac-sha256-payload']) {
      expect(signedStreamingMode(other)).toBeUndefined();
    }
  });
});

describe('the AWS documentation examples', () => {
  it('verifies the chunked upload example and, re-signed on the same chain, reproduces it', async () => {
    const body = docBody(DOC_SIGNATURES);
    expect(body.length).toBe(66_824); // the example's Content-Length
    const chain = DOC_CHAIN(DOC_SEED);
    expect(await resign(body, { verify: chain, sign: chain })).toEqual(body);
    expect(await resign(body, { verify: chain, sign: chain }, bytes)).toEqual(body);
  });

  it('builds the example with the test signer too', () => {
    const spec = { secret: DOC_SECRET, date: DOC_DATE, region: 'us-east-1', service: 's3', seed: DOC_SEED };
    expect(build(spec, Buffer.alloc(66_560, 'a'))).toEqual(docBody(DOC_SIGNATURES));
  });

  it('verifies the trailing headers example and reproduces it', async () => {
    const body = docBody(DOC_TRAILER_SIGNATURES, DOC_TRAILER_SIGNATURE);
    const chain = DOC_CHAIN(DOC_TRAILER_SEED);
    expect(await resign(body, { verify: chain, sign: chain, trailer: true })).toEqual(body);
    expect(await resign(body, { verify: chain, sign: chain, trailer: true }, randomSplits(7, 50))).toEqual(body);
  });

  it('refuses the example under another seed', async () => {
    const error = await refusal(docBody(DOC_SIGNATURES), { verify: DOC_CHAIN(DOC_TRAILER_SEED), sign: DOC_CHAIN(DOC_SEED) });
    expect(error.code).toBe('SignatureMismatch');
  });
});

const python3 = findOnPath('python3');
const PYTHON_SIGNER = path.join(repoRoot, 'test', 'support', 'chunked_body.py');

function pythonBody(spec: ChainSpec, size: number, chunkSize: number, trailer: boolean): Buffer {
  const args = [PYTHON_SIGNER, '--secret', spec.secret, '--date', spec.date, '--region', spec.region, '--service', spec.service, '--seed', spec.seed, '--chunk-size', String(chunkSize), '--size', String(size)];
  if (trailer) args.push('--trailer');
  return execFileSync(python3 ?? 'python3', args, { maxBuffer: 256 * 1024 * 1024 });
}

describe(python3 === undefined ? 'the Python reference signer (skipped: python3 is not on PATH)' : 'the Python reference signer', () => {
  const pyIt = python3 === undefined ? it.skip : it;

  pyIt('writes the AWS example', () => {
    const spec = { secret: DOC_SECRET, date: DOC_DATE, region: 'us-east-1', service: 's3', seed: DOC_SEED };
    const args = [PYTHON_SIGNER, '--secret', spec.secret, '--date', spec.date, '--region', spec.region, '--seed', spec.seed, '--size', '66560', '--payload', 'a'];
    expect(execFileSync(python3 ?? 'python3', args)).toEqual(docBody(DOC_SIGNATURES));
  });

  const cases: [string, number, number, boolean][] = [
    ['an empty payload', 0, 65_536, false],
    ['one byte', 1, 65_536, false],
    ['a payload of whole chunks', 3 * 8_192, 8_192, false],
    ['a payload with a short last chunk', 200_000, 65_536, false],
    ['an empty payload with a trailer', 0, 65_536, true],
    ['a payload with a crc32 trailer', 150_001, 65_536, true],
    ['small chunks with a crc32 trailer', 10_000, 1_000, true],
  ];
  for (const [name, size, chunkSize, trailer] of cases) {
    pyIt(`re-signs ${name} to exactly what the Python signer writes for countersign's chain`, async () => {
      const agentBody = pythonBody(AGENT, size, chunkSize, trailer);
      const expected = pythonBody(COUNTERSIGN, size, chunkSize, trailer);
      expect(expected.length).toBe(agentBody.length);
      const output = await resign(agentBody, { trailer, decodedContentLength: size });
      expect(output.length).toBe(agentBody.length);
      expect(output).toEqual(expected);
      expect(await resign(agentBody, { trailer }, randomSplits(size + 1, 3_000))).toEqual(expected);
      // And back: the re-signed body verifies on countersign's chain.
      expect(await resign(expected, { verify: chainOf(COUNTERSIGN), sign: chainOf(AGENT), trailer })).toEqual(agentBody);
    });
  }

  pyIt('re-signs a body fed one byte at a time', async () => {
    const agentBody = pythonBody(AGENT, 5_000, 1_024, true);
    expect(await resign(agentBody, { trailer: true }, bytes)).toEqual(pythonBody(COUNTERSIGN, 5_000, 1_024, true));
  });
});

/** The data of an aws-chunked body and its trailer lines (no checks: the transform does those). */
function decode(body: Buffer): { data: Buffer; trailer: string } {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    const size = Number.parseInt(body.subarray(at, body.indexOf(';', at)).toString(), 16);
    if (size === 0) return { data: Buffer.concat(parts), trailer: body.subarray(eol + 2).toString() };
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

describe(python3 === undefined ? 'the Python upload client (skipped: python3 is not on PATH)' : 'the Python upload client', () => {
  const pyIt = python3 === undefined ? it.skip : it;
  const client = path.join(repoRoot, 'test', 'support', 'chunked_upload.py');

  for (const trailer of [false, true]) {
    pyIt(`sends a body that verifies and re-signs${trailer ? ' (with a crc32 trailer)' : ''}`, async () => {
      const received: { headers: IncomingHttpHeaders; url: string; body: Buffer }[] = [];
      const sink = createServer((request, response) => {
        const parts: Buffer[] = [];
        request.on('data', (part: Buffer) => parts.push(part));
        request.on('end', () => {
          received.push({ headers: request.headers, url: request.url ?? '', body: Buffer.concat(parts) });
          response.end('<ok/>');
        });
      });
      await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
      const { port } = sink.address() as AddressInfo;
      const size = 200_001;
      try {
        const args = [client, '--region', 'eu-west-1', '--bucket', 'my-bucket', '--key', 'dir/a b.bin', '--size', String(size), '--endpoint', `http://127.0.0.1:${port}`, '--no-proxy'];
        if (trailer) args.push('--trailer');
        const { stdout } = await promisify(execFile)(python3 ?? 'python3', args, {
          env: { ...process.env, AWS_ACCESS_KEY_ID: 'AKIDAGENT', AWS_SECRET_ACCESS_KEY: AGENT.secret, AWS_SESSION_TOKEN: '' },
        });
        expect(stdout).toBe('200 OK\n<ok/>\n');
      } finally {
        sink.close();
      }
      const [request] = received;
      if (request === undefined) throw new Error('the sink got no request');
      const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
      expect(request.url).toBe('/my-bucket/dir/a%20b.bin');
      expect(headers['content-encoding']).toBe('aws-chunked');
      expect(headers['transfer-encoding']).toBeUndefined();
      expect(Number(headers['content-length'])).toBe(request.body.length);
      expect(headers['x-amz-decoded-content-length']).toBe(String(size));
      expect(signedStreamingMode(headers['x-amz-content-sha256'])).toBe(trailer ? 'trailer' : 'payload');
      const auth = parseAuthorization(headers['authorization']);
      const longDate = headers['x-amz-date'] ?? '';
      const date = parseAmzDate(longDate);
      if (date === undefined) throw new Error('no X-Amz-Date');
      expect(verifySignature({ method: 'PUT', host: headers['host'] ?? '', rawPath: request.url, query: {}, headers }, auth, AGENT.secret, date)).toBe(true);

      const chain = chunkChain(AGENT.secret, longDate, 'eu-west-1', 's3', auth.signature);
      expect(await resign(request.body, { verify: chain, sign: chain, trailer, decodedContentLength: size })).toEqual(request.body);
      const { data, trailer: trailerLines } = decode(request.body);
      expect(data.length).toBe(size);
      expect(data.every((byte, i) => byte === i % 256)).toBe(true);
      if (trailer) {
        const crc = Buffer.alloc(4);
        crc.writeUInt32BE(zlib.crc32(data));
        expect(trailerLines).toMatch(new RegExp(`^x-amz-checksum-crc32:${crc.toString('base64').replace(/[+/]/g, '\\$&')}\r\nx-amz-trailer-signature:[0-9a-f]{64}\r\n\r\n$`));
      } else expect(trailerLines).toBe('\r\n');
    });
  }
});

describe('re-signing', () => {
  const payload = payloadOf(100_000);

  it('keeps the length, changes only the signatures, and matches a body signed on the new chain', async () => {
    const body = build(AGENT, payload, { chunkSize: 16_384 });
    const output = await resign(body);
    expect(output.length).toBe(body.length);
    expect(output).toEqual(build(COUNTERSIGN, payload, { chunkSize: 16_384 }));
    expect(output.toString('latin1').replace(/[0-9a-f]{64}/g, '')).toBe(body.toString('latin1').replace(/[0-9a-f]{64}/g, ''));
  });

  it('gives the same output for any split of the input', async () => {
    const body = build(AGENT, payload, { chunkSize: 10_000, trailers: [['x-amz-checksum-crc32', 'AAAAAA==']] });
    const expected = build(COUNTERSIGN, payload, { chunkSize: 10_000, trailers: [['x-amz-checksum-crc32', 'AAAAAA==']] });
    for (const seed of [1, 2, 3]) {
      expect(await resign(body, { trailer: true }, randomSplits(seed, 200))).toEqual(expected);
      expect(await resign(body, { trailer: true }, randomSplits(seed, 70_000))).toEqual(expected);
    }
    expect(await resign(body, { trailer: true }, bytes)).toEqual(expected);
  });

  it('accepts chunk sizes in upper-case hex and keeps them as written', async () => {
    const body = build(AGENT, payload.subarray(0, 3_000), { chunkSize: 3_000 });
    const upper = Buffer.from(body.toString('latin1').replace('bb8;', 'BB8;'), 'latin1');
    const output = await resign(upper);
    expect(output.subarray(0, 4).toString()).toBe('BB8;');
    expect(output.subarray(4)).toEqual(build(COUNTERSIGN, payload.subarray(0, 3_000), { chunkSize: 3_000 }).subarray(4));
  });

  it('signs several trailers sorted by name and keeps their order on the wire', async () => {
    const trailers = [['x-amz-checksum-sha256', 'abc='], ['X-Amz-Checksum-Crc32', ' AAAAAA== ']] as const;
    const body = build(AGENT, payload, { trailers });
    expect(await resign(body, { trailer: true })).toEqual(build(COUNTERSIGN, payload, { trailers }));
  });

  it("accepts minio-go's trailer lines (LF, then CRLF before the signature)", async () => {
    const trailers = [['x-amz-checksum-crc32c', 'sOO8/Q==']] as const;
    const body = build(AGENT, payload, { trailers, style: 'minio' });
    expect(body.toString('latin1')).toContain('x-amz-checksum-crc32c:sOO8/Q==\n\r\nx-amz-trailer-signature:');
    expect(await resign(body, { trailer: true }, randomSplits(5, 30))).toEqual(build(COUNTERSIGN, payload, { trailers, style: 'minio' }));
  });

  it('accepts a trailer whose final CRLF is missing', async () => {
    const body = build(AGENT, payload, { trailers: [['x-amz-checksum-crc32', 'AAAAAA==']] });
    const expected = build(COUNTERSIGN, payload, { trailers: [['x-amz-checksum-crc32', 'AAAAAA==']] });
    expect(await resign(body.subarray(0, -2), { trailer: true })).toEqual(expected.subarray(0, -2));
  });

  it('forwards nothing of a chunk before it verified, and holds the final chunk until the input ends', async () => {
    const body = build(AGENT, payload, { chunkSize: 40_000 });
    const transform = chunkResigner({ verify: chainOf(AGENT), sign: chainOf(COUNTERSIGN), trailer: false });
    const output: Buffer[] = [];
    transform.on('data', (chunk: Buffer) => output.push(chunk));
    const firstChunkEnd = body.indexOf('\r\n', body.indexOf('\r\n') + 2 + 40_000) + 2;
    transform.write(body.subarray(0, firstChunkEnd - 1));
    await new Promise((resolve) => setImmediate(resolve));
    expect(Buffer.concat(output).length).toBe(0);
    transform.write(body.subarray(firstChunkEnd - 1, body.length));
    await new Promise((resolve) => setImmediate(resolve));
    const beforeEnd = Buffer.concat(output);
    expect(beforeEnd.toString('latin1')).not.toContain('\r\n0;chunk-signature=');
    const ended = new Promise((resolve) => transform.on('end', resolve));
    transform.end();
    await ended;
    expect(Buffer.concat(output)).toEqual(build(COUNTERSIGN, payload, { chunkSize: 40_000 }));
  });

  it('checks the chunk sizes against X-Amz-Decoded-Content-Length when given', async () => {
    const body = build(AGENT, payload);
    expect((await resign(body, { decodedContentLength: payload.length })).length).toBe(body.length);
    expect((await refusal(body, { decodedContentLength: payload.length - 1 })).code).toBe('MalformedChunkedBody');
    expect((await refusal(body, { decodedContentLength: payload.length + 1 })).code).toBe('MalformedChunkedBody');
  });

  it('refuses a seed that is not 64 hex digits', () => {
    expect(() => chunkResigner({ verify: { ...chainOf(AGENT), seedSignature: 'abc' }, sign: chainOf(COUNTERSIGN), trailer: false })).toThrow(TypeError);
  });
});

describe('refusals', () => {
  const payload = payloadOf(50_000, 9);
  const body = build(AGENT, payload, { chunkSize: 20_000 });
  const headerAt = (n: number): number => {
    let at = 0;
    for (let i = 0; i < n; i += 1) at = body.indexOf(';chunk-signature=', at) + 1;
    return at - 1;
  };

  it('refuses a changed data byte as a signature mismatch', async () => {
    for (const offset of [100, 30_000, 49_000 + 200]) {
      const tampered = Buffer.from(body);
      const at = body.indexOf('\r\n') + 2 + offset;
      tampered[at] = (tampered[at] ?? 0) ^ 1;
      const error = await refusal(tampered);
      expect(error.code).toBe('SignatureMismatch');
      expect(error.message).not.toMatch(/[0-9a-f]{64}/);
    }
  });

  it('refuses a changed chunk signature, and forwards only the chunks before it', async () => {
    const tampered = Buffer.from(body);
    const at = headerAt(2) + ';chunk-signature='.length + 10;
    tampered[at] = tampered[at] === 0x30 ? 0x31 : 0x30;
    const { output, error } = await run([tampered]);
    expect((error as CountersignError).code).toBe('SignatureMismatch');
    expect((error as CountersignError).message).not.toMatch(/[0-9a-f]{64}/);
    // The first chunk, re-signed; the second (4e20 = 20000 bytes) starts 4 bytes before its ';'.
    expect(output).toEqual(build(COUNTERSIGN, payload, { chunkSize: 20_000 }).subarray(0, headerAt(2) - 4));
  });

  it('refuses a changed final chunk signature', async () => {
    const tampered = Buffer.from(body);
    const at = body.length - 5;
    tampered[at] = tampered[at] === 0x30 ? 0x31 : 0x30;
    expect((await refusal(tampered)).code).toBe('SignatureMismatch');
  });

  it('refuses reordered and dropped chunks', async () => {
    const even = build(AGENT, payloadOf(60_000, 3), { chunkSize: 20_000 });
    const length = '4e20;chunk-signature='.length + 64 + 2 + 20_000 + 2;
    const [one, two, three, last] = [0, 1, 2, 3].map((n) => even.subarray(n * length, n === 3 ? undefined : (n + 1) * length)) as [Buffer, Buffer, Buffer, Buffer];
    expect(Buffer.concat([one, two, three, last])).toEqual(even);
    expect((await refusal(Buffer.concat([two, one, three, last]))).code).toBe('SignatureMismatch');
    expect((await refusal(Buffer.concat([one, three, two, last]))).code).toBe('SignatureMismatch');
    expect((await refusal(Buffer.concat([one, three, last]))).code).toBe('SignatureMismatch');
    expect((await refusal(Buffer.concat([one, two, last]))).code).toBe('SignatureMismatch');
    expect((await refusal(Buffer.concat([one, two, three, one, last]))).code).toBe('SignatureMismatch');
  });

  it('refuses a body that ends before its final chunk, wherever it is cut', async () => {
    const next = random(11);
    const cuts = [0, 1, 10, headerAt(2), headerAt(2) + 5, body.indexOf('\r\n') + 2 + 19_999, body.length - 3, body.length - 1];
    for (let i = 0; i < 20; i += 1) cuts.push(Math.floor(next() * body.length));
    for (const cut of cuts) {
      const { output, error } = await run([body.subarray(0, cut)]);
      expect(error, `cut at ${cut}`).toBeInstanceOf(CountersignError);
      expect((error as CountersignError).code).toBe('MalformedChunkedBody');
      expect(output.length).toBeLessThan(cut + 1);
      expect(output.toString('latin1')).not.toContain('\r\n0;chunk-signature=');
    }
  });

  it('refuses anything after the final chunk', async () => {
    for (const extra of ['x', '\r\n', '0;chunk-signature=' + 'a'.repeat(64) + '\r\n\r\n']) {
      const { output, error } = await run([body, Buffer.from(extra)]);
      expect((error as CountersignError).code).toBe('MalformedChunkedBody');
      expect(output.length).toBeLessThan(body.length);
    }
  });

  it('refuses a chunk larger than the limit before reading its data', async () => {
    const large = build(AGENT, payloadOf(70_000), { chunkSize: 70_000 });
    const error = await refusal(large.subarray(0, 100), { maxChunkBytes: 65_536 });
    expect(error.code).toBe('MalformedChunkedBody');
    expect(error.message).toContain('larger than 65536');
    expect((await refusal(Buffer.from(`1000001;chunk-signature=${'0'.repeat(64)}\r\n`))).message).toContain('larger than');
    expect((await resign(large, { maxChunkBytes: 70_000 })).length).toBe(large.length);
  });

  it('refuses malformed framing', async () => {
    const sig = 'b'.repeat(64);
    for (const framing of [
      `10000\r\n`,
      `10000;chunk-signature=${sig.slice(1)}\r\n`,
      `10000;chunk-signature=${sig}0\r\n`,
      `10000;chunk-signature=${sig}\n`,
      `10000;chunk-signature=${sig};x=y\r\n`,
      `-1;chunk-signature=${sig}\r\n`,
      `0x10;chunk-signature=${sig}\r\n`,
      ` 10;chunk-signature=${sig}\r\n`,
      `10;Chunk-Signature=${sig}\r\n`,
      `\r\n`,
      `${'1'.repeat(200)}`,
    ]) {
      const error = await refusal(Buffer.from(framing));
      expect(error.code, framing).toBe('MalformedChunkedBody');
    }
    // Data not followed by CRLF.
    const noCrlf = Buffer.from(body);
    noCrlf[body.indexOf('\r\n') + 2 + 20_000] = 0x41;
    expect((await refusal(noCrlf)).code).toBe('MalformedChunkedBody');
  });

  it('refuses the -PAYLOAD form with a trailer, and the -TRAILER form without one', async () => {
    const withTrailer = build(AGENT, payload, { trailers: [['x-amz-checksum-crc32', 'AAAAAA==']] });
    expect((await refusal(withTrailer)).code).toBe('MalformedChunkedBody');
    expect((await refusal(body, { trailer: true })).code).toBe('MalformedChunkedBody');
  });

  describe('trailers', () => {
    const trailers = [['x-amz-checksum-crc32', 'AAAAAA==']] as const;
    const signed = build(AGENT, payload, { trailers });
    const text = signed.toString('latin1');
    const edit = (from: string, to: string): Buffer => Buffer.from(text.replace(from, to), 'latin1');
    const signatureLine = text.slice(text.indexOf('x-amz-trailer-signature:'));

    it('refuses a changed trailer value or name as a signature mismatch', async () => {
      expect((await refusal(edit('AAAAAA==', 'AAAAAB=='), { trailer: true })).code).toBe('SignatureMismatch');
      expect((await refusal(edit('x-amz-checksum-crc32:', 'x-amz-checksum-crc64:'), { trailer: true })).code).toBe('SignatureMismatch');
      expect((await refusal(edit('x-amz-checksum-crc32:AAAAAA==\r\n', 'x-amz-checksum-crc32:AAAAAA==\r\nx-amz-meta-extra:1\r\n'), { trailer: true })).code).toBe('SignatureMismatch');
    });

    it('refuses a changed trailer signature', async () => {
      const at = text.indexOf('x-amz-trailer-signature:') + 30;
      const tampered = Buffer.from(signed);
      tampered[at] = tampered[at] === 0x30 ? 0x31 : 0x30;
      const { output, error } = await run([tampered], { trailer: true });
      expect((error as CountersignError).code).toBe('SignatureMismatch');
      expect(output.toString('latin1')).not.toContain('\r\n0;chunk-signature=');
    });

    it('refuses a missing or malformed trailer signature', async () => {
      for (const broken of [
        edit(signatureLine, '\r\n'),
        edit(signatureLine, ''),
        edit('x-amz-trailer-signature:', 'x-amz-trailer-signature: '),
        edit('x-amz-trailer-signature:', 'x-amz-trailer-signatures:'),
        edit(signatureLine, signatureLine.slice(0, -3) + '\r\n'),
        edit('x-amz-checksum-crc32:AAAAAA==\r\n', ''),
        edit('x-amz-checksum-crc32:AAAAAA==', 'x-amz-checksum-crc32 AAAAAA=='),
        edit('x-amz-checksum-crc32:AAAAAA==', 'x-amz-checksum-crc32:AA\rAA=='),
      ]) {
        const error = await refusal(broken, { trailer: true });
        expect(error.code).toBe('MalformedChunkedBody');
      }
    });

    it('refuses a repeated trailer, data after the trailer, and an oversize trailer', async () => {
      expect((await refusal(edit('x-amz-checksum-crc32:AAAAAA==\r\n', 'x-amz-checksum-crc32:AAAAAA==\r\nx-amz-checksum-crc32:AAAAAA==\r\n'), { trailer: true })).code).toBe('MalformedChunkedBody');
      expect((await refusal(Buffer.concat([signed, Buffer.from('\r\n')]), { trailer: true })).code).toBe('MalformedChunkedBody');
      expect((await refusal(edit('x-amz-checksum-crc32:AAAAAA==\r\n', `x-amz-meta-big:${'x'.repeat(10_000)}\r\n`), { trailer: true })).code).toBe('MalformedChunkedBody');
    });
  });
});
