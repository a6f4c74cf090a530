// Classification budget ("every AWS service, every signing variant"): placing a request from
// the route table (service, operation, IAM actions and ARNs, rule parameters) takes <= 5 µs
// median per request. Pure in-process, like bench/policy.js: classify() from
// dist/aws/classify/index.js (planClassification, then plan.classify(body), as the pipeline
// calls them) over a mix of the requests agents send most, each as the SDK sends it (host,
// path, parsed query, SDK headers, body). Every request is timed on its own, after warm-up.
//
// BENCH_CLASSIFY_ROUNDS (default 20000): timed requests per kind. BENCH_CLASSIFY_ONLY: only the
// kinds whose name contains this text (case-insensitive), e.g. to profile one:
//   BENCH_CLASSIFY_ONLY="s3 getobject (path" node --cpu-prof --cpu-prof-dir=/tmp/prof bench/classify.js
import { performance } from 'node:perf_hooks';
import { classify } from '../dist/aws/classify/index.js';
import { parseQuery } from '../dist/aws/query-string.js';
import { fmt, table } from './approvals-support.js';

const ROUNDS = Number(process.env.BENCH_CLASSIFY_ROUNDS ?? 20_000);
const WARMUP = 5_000;
const BUDGET_MICROS = 5;
const REGION = 'us-east-1';

/** Headers every SDK request carries (lower-case, as node's IncomingMessage gives them). */
function sdkHeaders(service, extra = {}) {
  return {
    'user-agent': 'aws-sdk-js/3.700.0 ua/2.1 os/linux lang/js md/nodejs#20.20.2',
    'x-amz-date': '20260101T000000Z',
    'amz-sdk-invocation-id': '0f3c4a8e-6b1d-4c1e-9d55-3a2b7c9e8f10',
    'amz-sdk-request': 'attempt=1; max=3',
    authorization: `AWS4-HMAC-SHA256 Credential=AKIAAGENTEXAMPLE/20260101/${REGION}/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
    ...extra,
  };
}

/** A request as the pipeline hands it to the classifier. */
function request({ service, method = 'POST', host = `${service}.${REGION}.amazonaws.com`, path = '/', query = '', headers = {}, body }) {
  const bytes = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const length = bytes === undefined ? {} : { 'content-length': String(bytes.length) };
  return { method, host, rawPath: path, query: parseQuery(query), headers: sdkHeaders(service, { host, ...length, ...headers }), body: bytes, service, region: REGION };
}

const json = (version, target) => ({ 'content-type': `application/x-amz-json-${version}`, 'x-amz-target': target });
const form = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
const queueUrl = 'https://sqs.us-east-1.amazonaws.com/123456789012/jobs';

/** [kind, request, expected "action resource" of the first need]. */
const ALL_KINDS = [
  ['S3 GetObject (path-style)', request({ service: 's3', method: 'GET', host: 's3.us-east-1.amazonaws.com', path: '/reports/2026/01/daily%20summary.csv', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }), 's3:GetObject arn:aws:s3:::reports/2026/01/daily summary.csv'],
  ['S3 GetObject (virtual-hosted)', request({ service: 's3', method: 'GET', host: 'reports.s3.us-east-1.amazonaws.com', path: '/2026/01/daily.csv', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }), 's3:GetObject arn:aws:s3:::reports/2026/01/daily.csv'],
  ['S3 PutObject', request({ service: 's3', method: 'PUT', host: 'reports.s3.us-east-1.amazonaws.com', path: '/uploads/part-0001.parquet', query: 'x-id=PutObject', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-type': 'application/octet-stream', 'content-length': '1048576', 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-sdk-checksum-algorithm': 'CRC32' } }), 's3:PutObject arn:aws:s3:::reports/uploads/part-0001.parquet'],
  ['S3 ListObjectsV2', request({ service: 's3', method: 'GET', host: 'reports.s3.us-east-1.amazonaws.com', path: '/', query: 'list-type=2&prefix=2026%2F01%2F&max-keys=1000', headers: { 'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' } }), 's3:ListBucket arn:aws:s3:::reports'],
  ['DynamoDB GetItem (JSON)', request({ service: 'dynamodb', headers: json('1.0', 'DynamoDB_20120810.GetItem'), body: { TableName: 'orders', Key: { pk: { S: 'customer#42' }, sk: { S: 'order#2026-01-01' } }, ConsistentRead: true } }), 'dynamodb:GetItem arn:aws:dynamodb:us-east-1::table/orders'],
  ['SQS SendMessage (JSON)', request({ service: 'sqs', headers: json('1.0', 'AmazonSQS.SendMessage'), body: { QueueUrl: queueUrl, MessageBody: '{"job":"resize","id":42}', DelaySeconds: 0 } }), 'sqs:SendMessage arn:aws:sqs:us-east-1:123456789012:jobs'],
  ['SQS SendMessage (query)', request({ service: 'sqs', headers: form, body: `Action=SendMessage&Version=2012-11-05&QueueUrl=${encodeURIComponent(queueUrl)}&MessageBody=${encodeURIComponent('{"job":"resize","id":42}')}` }), 'sqs:SendMessage arn:aws:sqs:us-east-1:123456789012:jobs'],
  ['STS GetCallerIdentity (query)', request({ service: 'sts', host: 'sts.us-east-1.amazonaws.com', headers: form, body: 'Action=GetCallerIdentity&Version=2011-06-15' }), 'sts:GetCallerIdentity *'],
  ['Lambda Invoke (REST-JSON)', request({ service: 'lambda', path: '/2015-03-31/functions/image-resizer/invocations', headers: { 'content-type': 'application/json', 'x-amz-invocation-type': 'RequestResponse', 'x-amz-log-type': 'None' }, body: { bucket: 'reports', key: 'a.png', width: 640 } }), 'lambda:InvokeFunction arn:aws:lambda:us-east-1::function:image-resizer'],
  ['EC2 DescribeInstances (query)', request({ service: 'ec2', headers: form, body: 'Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0&MaxResults=100' }), 'ec2:DescribeInstances *'],
  ['KMS Decrypt (JSON)', request({ service: 'kms', headers: json('1.1', 'TrentService.Decrypt'), body: { CiphertextBlob: Buffer.alloc(184, 7).toString('base64'), KeyId: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab', EncryptionContext: { app: 'billing' } } }), 'kms:Decrypt arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'],
];
const ONLY = process.env.BENCH_CLASSIFY_ONLY?.toLowerCase();
const KINDS = ALL_KINDS.filter(([kind]) => ONLY === undefined || kind.toLowerCase().includes(ONLY));

// Each kind must classify as expected, or the timing means nothing.
const wrong = [];
for (const [kind, input, expected] of KINDS) {
  let got;
  try {
    const c = classify(input);
    got = `${c.needs[0]?.action} ${c.needs[0]?.resource.arn}`;
  } catch (error) {
    got = `${error.code ?? error.name}: ${error.message}`;
  }
  if (!got.startsWith(expected)) wrong.push(`${kind}: expected ${expected}, got ${got}`);
}
if (wrong.length > 0) {
  console.error(`classification bench: requests not classified as expected:\n  ${wrong.join('\n  ')}`);
  process.exit(1);
}

/**
 * Per-call times in µs for `input`, `count` calls each timed on its own. Every call gets its own
 * request object, query object and body buffer (made before the clock starts), as every request
 * on the wire does: nothing may be remembered from the call before by identity.
 */
function timeCalls(input, count, out) {
  for (let i = 0; i < count; i++) {
    const request = { ...input, query: Object.assign(Object.create(null), input.query), body: input.body === undefined ? undefined : Buffer.from(input.body) };
    const t0 = performance.now();
    classify(request);
    out.push((performance.now() - t0) * 1000);
  }
}

/** The cost of the timer itself, subtracted from every sample. */
function timerOverhead() {
  const samples = [];
  for (let i = 0; i < 100_000; i++) {
    const t0 = performance.now();
    samples.push((performance.now() - t0) * 1000);
  }
  return median(samples);
}

function median(values) {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.floor(sorted.length / 2)];
}

function meanOf(values) {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function p99(values) {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)];
}

for (const [, input] of KINDS) timeCalls(input, WARMUP, []);
const overhead = timerOverhead();
// Interleaved rounds (100 calls of each kind in turn), so a GC or a noisy neighbour is spread
// over every kind rather than landing on one.
const samples = KINDS.map(() => []);
for (let done = 0; done < ROUNDS; done += 100) KINDS.forEach(([, input], k) => timeCalls(input, 100, samples[k]));
for (const list of samples) for (let i = 0; i < list.length; i++) list[i] = Math.max(0, list[i] - overhead);

const all = samples.flat();
const mean = meanOf(all);
const overall = median(all);
const rows = KINDS.map(([kind], k) => [kind, fmt(median(samples[k])), fmt(meanOf(samples[k])), fmt(p99(samples[k])), median(samples[k]) <= BUDGET_MICROS ? '' : 'over budget']);

console.log('classification (route table)');
console.log(`  ${KINDS.length} request kinds x ${ROUNDS} calls each, timed one by one after ${WARMUP} warm-up calls per kind (timer overhead ${fmt(overhead, 3)} µs subtracted)`);
console.log(table(rows, ['request', 'median µs', 'mean µs', 'p99 µs', '']).replace(/^/gm, '  '));
console.log(`  classification, all kinds (median)  ${fmt(overall).padStart(8)} µs   target <= ${BUDGET_MICROS} µs      ${overall <= BUDGET_MICROS ? 'PASS' : 'FAIL'}`);
console.log(`  classification, all kinds (mean)    ${fmt(mean).padStart(8)} µs   (${fmt(1e6 / mean / 1000, 0)}k requests/s on one core)`);
console.log('');
