// S3 through countersign in every signing variant a client uses: the AWS CLI moving 1 GiB
// (multipart, aws-chunked with an unsigned trailer, ranged GETs), keys that need escaping,
// presigned URLs made with an agent key, DeleteObjects and CopyObject decided per object,
// signed streaming payloads (chunk signatures verified and re-signed), Expect: 100-continue,
// HEAD and empty bodies. moto (request authentication on) is the upstream; S3 traffic reaches it
// through a recording tap, so the tests see exactly what countersign forwarded (or that it
// forwarded nothing).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3Calls as boto3 } from '../support/boto3.js';
import { agentEnv, startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { registerSecret } from '../support/evidence.js';
import { assumedRoles } from '../support/moto-state.js';
import { adminEnv, countersignEnv, seedS3, startMoto, type MotoServer } from '../support/moto.js';
import { repoRoot, venvBin } from '../support/python.js';
import { startTap, type Forwarded, type Tap } from '../support/tap.js';

const SUPPORT = path.join(repoRoot, 'test', 'support');
const MiB = 1024 * 1024;

const DATA = 'cs-data'; // the agent reads and writes it, except under locked/
const SHARED = 'cs-shared'; // the agent may read it (a copy source)
const PRIVATE = 'cs-private'; // no rule names it

function policyYaml(moto: MotoServer): string {
  return `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: nothing-under-locked
    effect: deny
    agents: ["*"]
    actions: ["s3:*"]
    resources: ["arn:aws:s3:::${DATA}/locked/*"]
  - name: data-bucket
    effect: allow
    agents: ["s3-agent"]
    actions: ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:GetObjectTagging", "s3:PutObjectTagging"]
    resources: ["arn:aws:s3:::${DATA}", "arn:aws:s3:::${DATA}/*"]
    credentials: { roleArn: "${moto.roleArn}" }
  - name: read-shared
    effect: allow
    agents: ["s3-agent"]
    actions: ["s3:GetObject", "s3:GetObjectTagging"]
    resources: ["arn:aws:s3:::${SHARED}/*"]
    credentials: { roleArn: "${moto.roleArn}" }
`;
}

// ---- running tools -------------------------------------------------------------------------

interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end and returns its exit code and output (a failure is a result, not a throw). */
function runTool(command: string, args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(command, args, { env, timeout: timeoutMs, maxBuffer: 64 * MiB }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function runOk(command: string, args: string[], env: Record<string, string>, timeoutMs?: number): Promise<string> {
  const result = await runTool(command, args, env, timeoutMs);
  if (result.code !== 0) throw new Error(`${path.basename(command)} ${args.join(' ')} exited with ${result.code}:\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** Runs a Python snippet with JSON input in argv[1]; it prints one JSON value. */
async function python<T>(code: string, input: unknown, env: Record<string, string>): Promise<T> {
  return JSON.parse(await runOk(venvBin('python'), ['-c', code, JSON.stringify(input)], env)) as T;
}


// sha256 and size of objects as boto3 reads them.
const OBJECT_DIGESTS = `
import boto3, hashlib, json, sys
a = json.loads(sys.argv[1])
s3 = boto3.client('s3')
bodies = (s3.get_object(Bucket=a['bucket'], Key=key)['Body'].read() for key in a['keys'])
print(json.dumps([{'sha256': hashlib.sha256(body).hexdigest(), 'size': len(body)} for body in bodies]))
`;

// A presigned GET URL, made locally with whatever key the environment holds.
const PRESIGN = `
import boto3, json, sys
from botocore.config import Config
a = json.loads(sys.argv[1])
url = boto3.client('s3', config=Config(signature_version=a.get('signature', 's3v4'))).generate_presigned_url('get_object', Params={'Bucket': a['bucket'], 'Key': a['key']}, ExpiresIn=a['expires'])
print(json.dumps(url))
`;

// Puts `size` bytes of the chunked_upload.py pattern (byte i is i mod 256).
const PUT_PATTERN = `
import boto3, json, sys
a = json.loads(sys.argv[1])
boto3.client('s3').put_object(Bucket=a['bucket'], Key=a['key'], Body=(bytes(range(256)) * (a['size'] // 256 + 1))[:a['size']])
print('null')
`;

// test/support/chunked_upload.py with one byte of chunk N's data changed after it was signed.
const TAMPERED_CHUNKED_UPLOAD = `
import json, sys
sys.path.insert(0, ${JSON.stringify(SUPPORT)})
import chunked_upload
a = json.loads(sys.argv[1])
signed = chunked_upload.signed_body
def tampered(pieces, signer, trailer):
    # pieces come as header, data, CRLF per chunk
    for index, piece in enumerate(signed(pieces, signer, trailer)):
        yield bytes([piece[0] ^ 1]) + piece[1:] if index == 3 * a['chunk'] - 2 else piece
chunked_upload.signed_body = tampered
sys.argv = ['chunked_upload.py'] + a['args']
chunked_upload.main()
`;

// ---- the recording tap between countersign and moto --------------------------------------

// ---- helpers -------------------------------------------------------------------------------

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** The bytes test/support/chunked_upload.py --size generates: byte i is i mod 256. */
function pattern(size: number): Buffer {
  const buffer = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buffer[i] = i % 256;
  return buffer;
}

async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Writes `size` pseudo-random bytes to `file` and returns their sha256. */
function writeRandomFile(file: string, size: number): string {
  const hash = createHash('sha256');
  const fd = openSync(file, 'w');
  try {
    for (let written = 0; written < size; written += MiB) {
      const block = randomBytes(Math.min(MiB, size - written));
      hash.update(block);
      writeSync(fd, block);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** countersign's resident memory now (Prometheus default metrics on the admin listener). */
async function residentBytes(cs: CountersignProcess): Promise<number> {
  const text = await (await fetch(`${cs.adminUrl}/metrics`)).text();
  return Number(/^countersign_process_resident_memory_bytes (\d+)/m.exec(text)?.[1] ?? NaN);
}

const credentialOf = (forwarded: Forwarded) => /Credential=([A-Z0-9]+)\//.exec(String(forwarded.headers.authorization))?.[1];
const signatureOf = (forwarded: Forwarded) => /Signature=([0-9a-f]{64})/.exec(String(forwarded.headers.authorization))?.[1];

describe('S3 signing variants through countersign', { timeout: 120_000 }, () => {
  let moto: MotoServer;
  let tap: Tap;
  let cs: CountersignProcess;
  let agent: AgentKey;
  let work: string;

  beforeAll(async () => {
    moto = await startMoto();
    // moto closes every connection; the tap keeps countersign's alive, as S3 does, except for
    // keys under closing/. Signed streaming uploads keep their bodies for the chunk checks.
    tap = await startTap(moto.endpoint, { keepAlive: (url) => !url.includes('/closing/'), keepBody: (headers) => String(headers['x-amz-content-sha256']).startsWith('STREAMING-AWS4-HMAC-SHA256') });
    await seedS3(moto, DATA, { 'presigned/report one.txt': 'presigned body', 'locked/keep.txt': 'locked' });
    await seedS3(moto, SHARED, { 'doc.txt': 'shared document' });
    await seedS3(moto, PRIVATE, { 'secret.txt': 'private document' });
    cs = await startCountersign({
      policies: { 's3.yaml': policyYaml(moto) },
      env: { ...countersignEnv(moto), COUNTERSIGN_UPSTREAM_OVERRIDES: `s3=${tap.url},*=${moto.endpoint}` },
    });
    agent = cs.issueAgent('s3-agent');
    work = mkdtempSync(path.join(tmpdir(), 'cs-s3-resigning-'));
  }, 120_000);

  afterAll(async () => {
    try {
      await cs?.stop();
      tap?.close();
    } finally {
      await moto?.stop();
      if (work !== undefined) rmSync(work, { recursive: true, force: true });
    }
  });

  const env = () => agentEnv(cs, agent);
  const asAgent = (calls: unknown[]) => boto3(env(), calls);
  const inMoto = (calls: unknown[]) => boto3(adminEnv(moto), calls);
  const forwardedTo = (bucket: string, key: string) => tap.seen.filter((r) => decodeURIComponent(r.url.split('?')[0] ?? '') === `/${bucket}/${key}`);
  const exists = async (bucket: string, key: string) => (await inMoto([{ service: 's3', op: 'head_object', params: { Bucket: bucket, Key: key } }]))[0]?.ok;
  const records = (predicate: (r: Record<string, unknown>) => boolean) => cs.requests().filter(predicate);

  /** sha256 and size of objects of DATA, read by the agent through countersign. */
  const digests = (keys: string[]) => python<Array<{ sha256: string; size: number }>>(OBJECT_DIGESTS, { bucket: DATA, keys }, env());

  /** A presigned GET URL made with the agent key (SigV4 query auth). */
  const presign = (key: string, expires: number, signature = 's3v4') => python<string>(PRESIGN, { bucket: DATA, key, expires, signature }, env());

  /** GET through HTTPS_PROXY with curl, trusting countersign's CA; returns status and body. */
  async function curlGet(url: string): Promise<{ status: number; body: string }> {
    const out = await runOk('curl', ['-sS', '--proxy', cs.proxyUrl, '--cacert', cs.caPath, '-w', '\n%{http_code}', url], { PATH: process.env.PATH ?? '' });
    const cut = out.lastIndexOf('\n');
    return { status: Number(out.slice(cut + 1)), body: out.slice(0, cut) };
  }

  it('boto3: keys with spaces, +, %, :, /, unicode and = are put, read, headed and listed as named', async () => {
    const keys = ['keys/with space.txt', 'keys/plus+sign.txt', 'keys/per%cent.txt', 'keys/co:lon.txt', 'keys/deep/sla/shes.txt', 'keys/unicodé-日本語.txt', 'keys/eq=uals.txt', 'keys/all of + % : = é/mixed.txt'];
    const outcomes = await asAgent([
      ...keys.map((key) => ({ service: 's3', op: 'put_object', params: { Bucket: DATA, Key: key, Body: `body of ${key}` } })),
      ...keys.map((key) => ({ service: 's3', op: 'get_object', params: { Bucket: DATA, Key: key }, read_body: true })),
      ...keys.map((key) => ({ service: 's3', op: 'head_object', params: { Bucket: DATA, Key: key } })),
      { service: 's3', op: 'list_objects_v2', params: { Bucket: DATA, Prefix: 'keys/' } },
    ]);
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    const [, gets = [], heads = []] = [0, 1, 2].map((i) => outcomes.slice(i * keys.length, (i + 1) * keys.length));
    expect(gets.map((o) => o.result?.Body)).toEqual(keys.map((key) => `body of ${key}`));
    expect(heads.map((o) => o.result?.ContentLength)).toEqual(keys.map((key) => Buffer.byteLength(`body of ${key}`)));
    const listed = (outcomes.at(-1)?.result?.Contents as Array<{ Key: string }>).map((c) => c.Key);
    expect(listed).toEqual([...keys].sort());

    // moto holds exactly these keys; each request went on under its own key and was authorised by its own ARN.
    const [stored] = await inMoto([{ service: 's3', op: 'list_objects_v2', params: { Bucket: DATA, Prefix: 'keys/' } }]);
    expect((stored?.result?.Contents as Array<{ Key: string }>).map((c) => c.Key)).toEqual([...keys].sort());
    for (const key of keys) {
      expect(forwardedTo(DATA, key).map((r) => r.method), key).toEqual(['PUT', 'GET', 'HEAD']);
      const [get] = records((r) => r.operation === 'GetObject' && (r.resources as string[] | undefined)?.[0] === `arn:aws:s3:::${DATA}/${key}`);
      expect(get, key).toMatchObject({ decision: 'allow', upstreamStatus: 200, status: 200 });
    }
  });

  it('presigned GET made with an agent key: fetched through HTTPS_PROXY; expired, tampered or SigV2 ones refused in XML, nothing forwarded', async () => {
    const key = 'presigned/report one.txt';
    const url = await presign(key, 300);
    expect(url).toContain(`X-Amz-Credential=${agent.accessKeyId}`);
    expect(await curlGet(url)).toEqual({ status: 200, body: 'presigned body' });
    const [forwarded, ...more] = forwardedTo(DATA, key);
    expect(more).toEqual([]);
    // It went on with header auth from minted credentials, without the URL's own auth.
    expect(forwarded?.url).not.toContain('X-Amz-');
    expect(credentialOf(forwarded as Forwarded)).toMatch(/^ASIA/);

    const tampered = url.replace(/(X-Amz-Signature=[0-9a-f]{63})([0-9a-f])/, (_m, head: string, last: string) => head + (last === '0' ? '1' : '0'));
    const mismatch = await curlGet(tampered);
    expect(mismatch.status).toBe(403);
    expect(mismatch.body).toContain('<Code>SignatureDoesNotMatch</Code>');

    const shortLived = await presign(key, 1);
    await new Promise((r) => setTimeout(r, 2_100));
    const expired = await curlGet(shortLived);
    expect(expired.status).toBe(403);
    expect(expired.body).toMatch(/^<\?xml[\s\S]*<Error><Code>AccessDenied<\/Code>/);
    expect(expired.body).toContain('<CountersignCode>ExpiredPresignedUrl</CountersignCode>');
    expect(expired.body).toContain('The presigned URL expired at');

    // boto3's SigV2 presigner ("s3"): refused by name, with what to use instead.
    const sigv2 = await presign(key, 300, 's3');
    expect(sigv2).toContain(`AWSAccessKeyId=${agent.accessKeyId}`);
    const refused = await curlGet(sigv2);
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('<CountersignCode>UnsupportedSigning</CountersignCode>');
    expect(refused.body).toContain('SigV2 presigned URLs (AWSAccessKeyId and Signature in the query) are not supported.');
    expect(refused.body).toContain('boto3 presigns S3 URLs with SigV4 given Config(signature_version=');
    expect(forwardedTo(DATA, key)).toHaveLength(1);
  });

  it('DeleteObjects: allowed keys are deleted; one key not allowed refuses the whole request and deletes nothing', async () => {
    await inMoto(['a', 'b', 'c'].map((name) => ({ service: 's3', op: 'put_object', params: { Bucket: DATA, Key: `tmp/${name}.txt`, Body: name } })));
    const deleteObjects = (keys: string[]) => ({ service: 's3', op: 'delete_objects', params: { Bucket: DATA, Delete: { Objects: keys.map((Key) => ({ Key })) } } });

    const [allowed] = await asAgent([deleteObjects(['tmp/a.txt', 'tmp/b.txt'])]);
    expect(allowed?.ok).toBe(true);
    expect((allowed?.result?.Deleted as Array<{ Key: string }>).map((d) => d.Key).sort()).toEqual(['tmp/a.txt', 'tmp/b.txt']);
    expect([await exists(DATA, 'tmp/a.txt'), await exists(DATA, 'tmp/b.txt')]).toEqual([false, false]);
    const session = (await assumedRoles(moto.endpoint)).find((r) => r.policy?.includes(`${DATA}/tmp/a.txt`));
    expect(JSON.parse(session?.policy ?? '{}')).toEqual({
      Version: '2012-10-17',
      Statement: ['a', 'b'].map((name) => ({ Effect: 'Allow', Action: 's3:DeleteObject', Resource: `arn:aws:s3:::${DATA}/tmp/${name}.txt` })),
    });

    const deletesForwarded = tap.seen.filter((r) => r.url.endsWith('?delete')).length;
    const [refused] = await asAgent([deleteObjects(['tmp/c.txt', 'locked/keep.txt'])]);
    expect(refused).toMatchObject({ ok: false, code: 'AccessDenied', status: 403 });
    expect(refused?.message).toContain(`s3:DeleteObject on arn:aws:s3:::${DATA}/locked/keep.txt: denied by rule "nothing-under-locked"`);
    expect(refused?.message).not.toContain('tmp/c.txt');
    expect([await exists(DATA, 'tmp/c.txt'), await exists(DATA, 'locked/keep.txt')]).toEqual([true, true]);
    expect(tap.seen.filter((r) => r.url.endsWith('?delete'))).toHaveLength(deletesForwarded);
  });

  it('CopyObject checks the source: a readable source is copied, an unreadable one refused naming s3:GetObject on it', async () => {
    const copy = (bucket: string, key: string, target: string) => ({ service: 's3', op: 'copy_object', params: { Bucket: DATA, Key: target, CopySource: { Bucket: bucket, Key: key } } });
    const [copied] = await asAgent([copy(SHARED, 'doc.txt', 'copies/from-shared.txt')]);
    expect(copied?.ok, JSON.stringify(copied)).toBe(true);
    const [stored] = await inMoto([{ service: 's3', op: 'get_object', params: { Bucket: DATA, Key: 'copies/from-shared.txt' }, read_body: true }]);
    expect(stored?.result?.Body).toBe('shared document');
    const [record] = records((r) => r.operation === 'CopyObject' && r.decision === 'allow');
    expect(record).toMatchObject({ upstreamStatus: 200, rules: expect.arrayContaining(['data-bucket', 'read-shared']) as unknown });
    expect(record?.resources).toEqual(expect.arrayContaining([`arn:aws:s3:::${SHARED}/doc.txt`, `arn:aws:s3:::${DATA}/copies/from-shared.txt`]));

    const [refused] = await asAgent([copy(PRIVATE, 'secret.txt', 'copies/from-private.txt')]);
    expect(refused).toMatchObject({ ok: false, code: 'AccessDenied', status: 403 });
    expect(refused?.message).toContain(`s3:GetObject on arn:aws:s3:::${PRIVATE}/secret.txt: no rule matched`);
    expect(await exists(DATA, 'copies/from-private.txt')).toBe(false);
    expect(forwardedTo(DATA, 'copies/from-private.txt')).toEqual([]);
  });

  describe('signed streaming payloads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER])', () => {
    const SIZE = 5 * MiB + 12_345;
    const CHUNK = 64 * 1024;
    const uploadArgs = (key: string, trailer: boolean) => ['--region', 'us-east-1', '--bucket', DATA, '--key', key, '--size', String(SIZE), '--chunk-size', String(CHUNK), ...(trailer ? ['--trailer'] : [])];

    for (const trailer of [false, true]) {
      const mode = `STREAMING-AWS4-HMAC-SHA256-PAYLOAD${trailer ? '-TRAILER' : ''}`;
      it(`${mode}: every chunk verified and re-signed on countersign's chain; the object arrives whole`, async () => {
        const key = `chunked/${trailer ? 'trailer' : 'payload'}.bin`;
        const out = await runOk(venvBin('python'), [path.join(SUPPORT, 'chunked_upload.py'), ...uploadArgs(key, trailer)], env());
        expect(out).toMatch(/^200 /);
        expect(await digests([key])).toEqual([{ sha256: sha256(pattern(SIZE)), size: SIZE }]);

        // What moto got: the same framing, each signature continuing the minted credentials' chain.
        const forwarded = forwardedTo(DATA, key).find((r) => r.method === 'PUT');
        expect(forwarded?.headers['x-amz-content-sha256']).toBe(mode);
        const body = forwarded?.body ?? Buffer.alloc(0);
        expect(body.length).toBe(Number(forwarded?.headers['content-length']));
        const session = (await assumedRoles(moto.endpoint)).find((r) => r.access_key_id === credentialOf(forwarded as Forwarded));
        registerSecret(session?.secret_access_key, session?.session_token); // test/secrets: never in countersign's logs
        const expected = await runOk(venvBin('python'), [
          path.join(SUPPORT, 'chunked_body.py'),
          ...['--secret', session?.secret_access_key ?? '', '--date', String(forwarded?.headers['x-amz-date']), '--region', 'us-east-1'],
          ...['--seed', signatureOf(forwarded as Forwarded) ?? '', '--chunk-size', String(CHUNK), '--size', String(SIZE), '--print-signatures'],
          ...(trailer ? ['--trailer'] : []),
        ], { PATH: process.env.PATH ?? '' });
        const sent = [...body.toString('latin1').matchAll(/(?:;chunk-signature=|x-amz-trailer-signature:)([0-9a-f]{64})/g)].map((m) => m[1]);
        expect(sent).toEqual(expected.trim().split('\n'));
        expect(sent).toHaveLength(Math.ceil(SIZE / CHUNK) + 1 + (trailer ? 1 : 0));
      });
    }

    /** chunked_upload.py with chunk `chunk` (from 1) changed after signing; its outcome and audit record. */
    async function tamperedUpload(key: string, chunk: number) {
      const result = await runTool(venvBin('python'), ['-c', TAMPERED_CHUNKED_UPLOAD, JSON.stringify({ chunk, args: uploadArgs(key, false) })], env());
      const [record] = await cs.waitForRequests((r) => r.operation === 'PutObject' && (r.resources as string[] | undefined)?.[0] === `arn:aws:s3:::${DATA}/${key}`);
      return { result, record };
    }

    it('a chunk changed mid-stream is refused as a signature mismatch; moto never gets a whole body and creates nothing', async () => {
      const key = 'chunked/tampered-early.bin';
      const { result, record } = await tamperedUpload(key, 3);
      expect(result.code).not.toBe(0);
      expect(record).toMatchObject({ event: 'request.failed', decision: 'allow', errorCode: 'SignatureMismatch', status: 403 });
      expect(record?.error).toContain('chunk 3');
      expect(forwardedTo(DATA, key).filter((r) => r.body !== undefined)).toEqual([]);
      expect(await exists(DATA, key)).toBe(false);
    });

    it('the last chunk changed: the agent is answered SignatureDoesNotMatch, and moto creates nothing', async () => {
      const key = 'chunked/tampered-last.bin';
      const { result, record } = await tamperedUpload(key, Math.ceil(SIZE / CHUNK));
      expect(record).toMatchObject({ event: 'request.failed', errorCode: 'SignatureMismatch', status: 403 });
      expect(result.stdout).toMatch(/^403 /);
      expect(result.stdout).toContain('<Code>SignatureDoesNotMatch</Code>');
      expect(forwardedTo(DATA, key).filter((r) => r.body !== undefined)).toEqual([]);
      expect(await exists(DATA, key)).toBe(false);
    });
  });

  it('Expect: 100-continue: countersign answers 100 Continue, then the body reaches moto', async () => {
    const file = path.join(work, 'continue.txt');
    const content = 'sent after 100 Continue\n'.repeat(2_000);
    writeFileSync(file, content);
    const result = await runTool('curl', [
      '-sS', '-v', '--fail-with-body', '--proxy', cs.proxyUrl, '--cacert', cs.caPath,
      '--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', `${agent.accessKeyId}:${agent.secretAccessKey}`,
      '-H', 'Expect: 100-continue', '-H', `x-amz-content-sha256: ${sha256(content)}`, '-T', file, `https://s3.amazonaws.com/${DATA}/continue/upload.txt`,
    ], { PATH: process.env.PATH ?? '' });
    expect(result.stderr).toContain('Expect: 100-continue');
    expect(result.stderr).toMatch(/< HTTP\/1\.1 100 Continue/);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const [stored] = await inMoto([{ service: 's3', op: 'get_object', params: { Bucket: DATA, Key: 'continue/upload.txt' }, read_body: true }]);
    expect(stored?.result?.Body).toBe(content);
  });

  it('HEAD requests and an empty-body PUT pass through', async () => {
    const [put, head, missing] = await asAgent([
      { service: 's3', op: 'put_object', params: { Bucket: DATA, Key: 'empty/zero.txt', Body: '' } },
      { service: 's3', op: 'head_object', params: { Bucket: DATA, Key: 'empty/zero.txt' } },
      { service: 's3', op: 'head_object', params: { Bucket: DATA, Key: 'empty/never-written.txt' } },
    ]);
    expect(put?.ok).toBe(true);
    expect(head?.result?.ContentLength).toBe(0);
    expect(missing).toMatchObject({ ok: false, code: '404', status: 404 });
    const [stored] = await inMoto([{ service: 's3', op: 'get_object', params: { Bucket: DATA, Key: 'empty/zero.txt' }, read_body: true }]);
    expect(stored?.result).toMatchObject({ Body: '', ContentLength: 0 });
    expect(forwardedTo(DATA, 'empty/zero.txt').map((r) => r.method)).toEqual(['PUT', 'HEAD']);
    expect(forwardedTo(DATA, 'empty/never-written.txt').map((r) => r.method)).toEqual(['HEAD']);
  });

  it('AWS CLI copies 1 GiB up and down through HTTPS_PROXY (multipart, aws-chunked), bytes intact, memory flat', { timeout: 900_000 }, async () => {
    const file = path.join(work, 'one-gib.bin');
    const back = path.join(work, 'one-gib.back');
    const expected = writeRandomFile(file, 1024 * MiB);
    let peak = 0;
    const sampler = setInterval(() => void residentBytes(cs).then((bytes) => (peak = Math.max(peak, bytes)), () => {}), 500);
    try {
      await runOk(venvBin('aws'), ['s3', 'cp', '--only-show-errors', file, `s3://${DATA}/big/one-gib.bin`], env(), 900_000);
      rmSync(file);
      await runOk(venvBin('aws'), ['s3', 'cp', '--only-show-errors', `s3://${DATA}/big/one-gib.bin`, back], env(), 900_000);
    } finally {
      clearInterval(sampler);
    }
    expect(await fileSha256(back)).toBe(expected);
    rmSync(back);

    const [stored] = await inMoto([{ service: 's3', op: 'head_object', params: { Bucket: DATA, Key: 'big/one-gib.bin' } }]);
    expect(stored?.result?.ContentLength).toBe(1024 * MiB);
    const operations = records((r) => (r.resources as string[] | undefined)?.includes(`arn:aws:s3:::${DATA}/big/one-gib.bin`) === true);
    const count = (op: string) => operations.filter((r) => r.operation === op && r.decision === 'allow' && r.upstreamStatus !== undefined).length;
    expect(count('CreateMultipartUpload')).toBe(1);
    expect(count('UploadPart')).toBeGreaterThan(1);
    expect(count('CompleteMultipartUpload')).toBe(1);
    expect(count('GetObject')).toBeGreaterThan(1);
    expect(operations.filter((r) => r.status !== 200 && r.status !== 206)).toEqual([]);
    // What the CLI sends for the parts, as forwarded: an aws-chunked body with an unsigned trailer.
    const parts = forwardedTo(DATA, 'big/one-gib.bin').filter((r) => r.method === 'PUT');
    expect(new Set(parts.map((r) => `${String(r.headers['x-amz-content-sha256'])} ${String(r.headers['content-encoding'])}`))).toEqual(new Set(['STREAMING-UNSIGNED-PAYLOAD-TRAILER aws-chunked']));
    // The GiB streamed through: countersign never held more than a fraction of it.
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(512 * MiB);
  });

  // Runs last: with undici 7 an upstream's FIN while countersign's reader of it was paused for
  // back-pressure crashed the process (nodejs/undici#5360), so such answers went unpaused; on
  // undici 8 they are paused like any other (test/unit/perf-upstream.test.ts pins that).
  it('an upstream that closes the connection after each answer (as moto does): answers of 64 KiB to 16 MiB, read fast and slowly, arrive whole; countersign stays up', async () => {
    const keyOf = (size: number) => `closing/${size}.bin`;
    const fast = [64 * 1024, 256 * 1024, MiB];
    for (const size of [...fast, 16 * MiB]) await python(PUT_PATTERN, { bucket: DATA, key: keyOf(size), size }, adminEnv(moto));
    const reads = fast.flatMap((size) => Array<number>(10).fill(size));
    const fastReads = await runTool(venvBin('python'), ['-c', OBJECT_DIGESTS, JSON.stringify({ bucket: DATA, keys: reads.map(keyOf) })], env());
    const slow = path.join(work, 'slow.back');
    const url = await presign(keyOf(16 * MiB), 300);
    const slowRead = await runTool('curl', ['-sS', '--proxy', cs.proxyUrl, '--cacert', cs.caPath, '--limit-rate', '4M', '-o', slow, url], { PATH: process.env.PATH ?? '' });

    // An uncaught exception ends the process with its stack and "Node.js vXX" on stderr.
    expect(/^\S*Error[\s\S]*?^Node\.js v.*$/m.exec(cs.stderr())?.[0], 'countersign crashed').toBeUndefined();
    expect(fastReads.code, fastReads.stderr).toBe(0);
    expect(JSON.parse(fastReads.stdout)).toEqual(reads.map((size) => ({ sha256: sha256(pattern(size)), size })));
    expect(slowRead.code, slowRead.stderr).toBe(0);
    expect(await fileSha256(slow)).toBe(sha256(pattern(16 * MiB)));
  });
});
