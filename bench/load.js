// Load generator, run by bench/run.js as its own process (so it never shares an event loop with
// the upstream or the proxy under test). Closed loop: CONCURRENCY workers on keep-alive
// connections, each sending the next request as soon as the previous answer is fully read.
//
// Phases: warm-up (CONCURRENCY workers, discarded), throughput (CONCURRENCY workers, timed),
// latency (one worker, timed: the unloaded per-request cost). Every answer must be a 200 with
// the expected body length; anything else is an error. Prints one JSON line with the results.
//
// Around the timed throughput phase it reads the CPU time (/proc/PID/stat utime + stime) of the
// processes named in `watch` and its own (process.cpuUsage), and reports the phase's wall-clock
// window, so the orchestrator can attribute CPU and GC to exactly the requests it counted.
//
// env BENCH_LOAD_CONFIG is a JSON config:
//   kind        "direct" (HTTPS to url), "proxy" (HTTPS to url through the HTTPS_PROXY proxyUrl,
//               CONNECT tunnel) or "plain" (plain HTTP to url)
//   url         what the client asks for; the request is SigV4-signed for its host
//   proxyUrl    for kind "proxy"
//   caFile      PEM the client trusts for the TLS it terminates (upstream CA, countersign CA,
//               mitmproxy CA)
//   key         { accessKeyId, secretAccessKey } to sign with
//   workload    "s3" (GetObject, the default) or "dynamodb" (GetItem); see bench/workloads.js
//   watch       { name: pid } of processes whose CPU time the timed phase is charged with
//   concurrency, warmupMs, durationMs, latencyMs
import { readFileSync } from 'node:fs';
import { SignatureV4 } from '@smithy/signature-v4';
import { Agent, ProxyAgent } from 'undici';
import { cpuSeconds, TICKS } from './approvals-support.js';
import { Sha256 } from './sha256.js';
import { DYNAMODB, S3_OBJECT } from './workloads.js';

const config = JSON.parse(process.env.BENCH_LOAD_CONFIG ?? '{}');
const MAX_ERRORS = 50;

const target = new URL(config.url);
const dynamodb = config.workload === 'dynamodb';
const EXPECT_BYTES = dynamodb ? DYNAMODB.item.length : S3_OBJECT.length;
const request = dynamodb
  ? { method: 'POST', body: DYNAMODB.requestBody, headers: { 'content-type': DYNAMODB.contentType, 'x-amz-target': DYNAMODB.target } }
  : { method: 'GET', body: undefined, headers: {} };
const signer = new SignatureV4({
  credentials: config.key,
  region: 'us-east-1',
  service: dynamodb ? 'dynamodb' : 's3',
  sha256: Sha256,
  uriEscapePath: !dynamodb, // S3 paths are encoded once, every other service's twice
  applyChecksum: !dynamodb, // S3 clients send x-amz-content-sha256; DynamoDB clients do not
});

/** A fresh SigV4 signature (SigV4 tolerates replays for 15 minutes, so each worker signs once). */
async function signedHeaders() {
  const signed = await signer.sign({
    method: request.method,
    protocol: target.protocol,
    hostname: target.hostname,
    ...(target.port !== '' && { port: Number(target.port) }),
    path: target.pathname,
    query: {},
    headers: { host: target.host, 'user-agent': 'countersign-bench', ...request.headers, ...(request.body !== undefined && { 'content-length': String(Buffer.byteLength(request.body)) }) },
    ...(request.body !== undefined && { body: request.body }),
  });
  return signed.headers;
}

function dispatcherFor() {
  const common = { keepAliveTimeout: 30_000, headersTimeout: 15_000, bodyTimeout: 15_000, pipelining: 1 };
  const ca = config.caFile === undefined ? undefined : readFileSync(config.caFile, 'utf8');
  if (config.kind === 'proxy') return new ProxyAgent({ ...common, uri: config.proxyUrl, requestTls: { ca } });
  if (config.kind === 'direct') return new Agent({ ...common, connect: { ca } });
  if (config.kind === 'plain') return new Agent(common);
  throw new Error(`unknown kind ${config.kind}`);
}

const dispatcher = dispatcherFor();
const errors = { count: 0, samples: [] };
let total = 0;

function recordError(message) {
  errors.count++;
  if (errors.samples.length < 5) errors.samples.push(message);
}

/** One worker: requests back to back until `until` (ms since epoch), latencies in ms into `out`. */
async function worker(until, out) {
  const headers = await signedHeaders();
  while (Date.now() < until && errors.count < MAX_ERRORS) {
    const start = process.hrtime.bigint();
    try {
      const { statusCode, body } = await dispatcher.request({ origin: target.origin, path: target.pathname, method: request.method, headers, body: request.body });
      const received = Buffer.from(await body.arrayBuffer());
      total++;
      if (statusCode !== 200 || received.length !== EXPECT_BYTES) {
        const text = errors.samples.length < 3 ? `: ${received.toString('utf8', 0, 400).replace(/\s+/g, ' ')}` : '';
        recordError(`HTTP ${statusCode}, ${received.length} bytes${text}`);
        continue;
      }
    } catch (error) {
      recordError(error instanceof Error ? `${error.name}: ${error.message}${error.cause ? ` (${error.cause.message ?? error.cause})` : ''}` : String(error));
      continue;
    }
    out?.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
}

/** Busy ticks per CPU so far (/proc/stat cpuN: user, nice, system, irq, softirq, steal), by CPU number. */
function busyTicksPerCpu() {
  const out = {};
  try {
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+) (.*)$/.exec(line);
      if (m === null) continue;
      const [user, nice, system, , , irq, softirq, steal] = m[2].trim().split(/\s+/).map(Number);
      out[m[1]] = user + nice + system + irq + softirq + steal;
    }
  } catch {
    // not Linux
  }
  return out;
}

/** CPU seconds so far of every watched process and of this one, and each CPU's busy ticks. */
function cpuNow() {
  const out = { load: process.cpuUsage(), cpus: busyTicksPerCpu() };
  for (const [name, pid] of Object.entries(config.watch ?? {})) out[name] = cpuSeconds(pid);
  return out;
}

/**
 * CPU seconds each watched process (and this one, as `load`) used between two cpuNow()
 * readings, and `busy` seconds per CPU number (whoever used them).
 */
function cpuUsed(before, after) {
  const out = { load: (after.load.user - before.load.user + after.load.system - before.load.system) / 1e6, busy: {} };
  for (const name of Object.keys(config.watch ?? {})) out[name] = after[name] - before[name];
  for (const cpu of Object.keys(after.cpus)) out.busy[cpu] = (after.cpus[cpu] - (before.cpus[cpu] ?? 0)) / TICKS;
  return out;
}

async function phase(workers, ms, keep, measureCpu = false) {
  const latencies = keep ? [] : undefined;
  const cpuBefore = measureCpu ? cpuNow() : undefined;
  const startMs = Date.now();
  const started = process.hrtime.bigint();
  const until = Date.now() + ms;
  await Promise.all(Array.from({ length: workers }, () => worker(until, latencies)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const window = { startMs, endMs: Date.now() };
  const cpu = measureCpu ? cpuUsed(cpuBefore, cpuNow()) : undefined;
  if (!keep) return undefined;
  const sorted = Float64Array.from(latencies).sort();
  const pct = (p) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);
  return { requests: sorted.length, seconds, rps: sorted.length / seconds, p50: pct(50), p99: pct(99), window, cpu };
}

await phase(config.concurrency, config.warmupMs, false);
const throughput = await phase(config.concurrency, config.durationMs, true, true);
const latency = await phase(1, config.latencyMs, true);
await dispatcher.close();
process.stdout.write(`${JSON.stringify({ throughput, latency, total, errors })}\n`);
