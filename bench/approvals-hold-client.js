// The agents of the held-requests scenario of bench/approvals.js, run as its own process so its
// work (10,000 sockets, signing, approving) never shares an event loop with the orchestrator's
// /healthz probe, or with countersign.
//
// env BENCH_HOLD_CONFIG (JSON):
//   proxyPort            countersign's proxy port (endpoint mode, plain HTTP)
//   count                requests to hold at once, each on its own connection
//   distinct             true: a different object key per request (one approval each);
//                        false: the same request every time (all join one approval)
//   bucket, key          the bucket, and the agent key { accessKeyId, secretAccessKey }
//   ratePerSec           new requests per second during the ramp (0: as fast as connects allow)
//   maxConnecting        connections being opened at once, at most (the listen backlog is 511)
//   reviewUrl, reviewerToken, redisUrl, prefix, approveConcurrency   for approving
//
// stdin, one JSON command a line: {"cmd":"open"} ramps the requests up; {"cmd":"approve"}
// approves every approval record in Redis under the prefix, through countersign's review API
// (POST /api/v1/approvals/ID/approve with the reviewer's bearer token).
// stdout, one JSON event a line: ready, sent (every request written), approved, progress,
// answered (every request has its answer: counts by status and error code).
import http from 'node:http';
import readline from 'node:readline';
import { Redis } from 'ioredis';
import { s3Signer, signedGet, sleep } from './approvals-support.js';

const config = JSON.parse(process.env.BENCH_HOLD_CONFIG ?? '{}');
const emit = (event) => process.stdout.write(`${JSON.stringify({ ...event, at: Date.now() })}\n`);

// Pre-sign everything, so the ramp is only connecting and writing.
const signStart = performance.now();
const signer = s3Signer(config.key);
const requests = [];
if (config.distinct) {
  for (let i = 0; i < config.count; i++) {
    const path = `/${config.bucket}/held-${String(i).padStart(5, '0')}`;
    requests.push({ path, headers: await signedGet(signer, config.proxyPort, path) });
  }
} else {
  const path = `/${config.bucket}/one-object`;
  const headers = await signedGet(signer, config.proxyPort, path); // SigV4 accepts a signature for 15 minutes
  for (let i = 0; i < config.count; i++) requests.push({ path, headers });
}
// Warm-up requests (distinct objects): they take the first-use costs (lazy module loading, JIT)
// before anything is timed.
const warmups = [];
for (let i = 0; i < (config.warmup ?? 0); i++) {
  const path = `/${config.bucket}/warmup-${i}`;
  warmups.push({ path, headers: await signedGet(signer, config.proxyPort, path), warmup: true });
}
emit({ event: 'ready', signMs: performance.now() - signStart });
const warm = { answered: 0, statuses: {} };

const answers = { statuses: {}, codes: {}, errors: {}, count: 0, first: undefined, last: undefined };
let sent = 0;
let connecting = 0;

function answered(status, code) {
  answers.count++;
  answers.statuses[status] = (answers.statuses[status] ?? 0) + 1;
  if (code !== undefined) answers.codes[code] = (answers.codes[code] ?? 0) + 1;
  const now = Date.now();
  if (answers.first === undefined) {
    answers.first = now;
    emit({ event: 'firstAnswer', status, code });
  }
  answers.last = now;
  if (answers.count % 1000 === 0) emit({ event: 'progress', answered: answers.count });
  if (answers.count === config.count) emit({ event: 'answered', ...answers });
}

function send({ path, headers, warmup = false }) {
  connecting++;
  const req = http.request({ host: '127.0.0.1', port: config.proxyPort, path, method: 'GET', headers, agent: false });
  let connected = false;
  const onConnected = () => {
    if (connected) return;
    connected = true;
    connecting--;
  };
  req.once('socket', (socket) => socket.once('connect', onConnected));
  req.once('finish', () => {
    if (warmup) return;
    sent++;
    if (sent === config.count) emit({ event: 'sent', sent });
  });
  req.once('response', (res) => {
    const chunks = [];
    res.on('data', (d) => chunks.push(d));
    res.once('end', () => {
      const body = Buffer.concat(chunks).toString('utf8', 0, 2000);
      const code = res.statusCode === 200 ? undefined : (/<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? /"code"\s*:\s*"([^"]+)"/i.exec(body)?.[1] ?? 'unknown');
      req.destroy();
      if (warmup) warmAnswered(res.statusCode);
      else answered(res.statusCode, code);
    });
  });
  req.once('error', (error) => {
    onConnected();
    const key = error.code ?? error.message;
    if (warmup) return warmAnswered(`error ${key}`);
    answers.errors[key] = (answers.errors[key] ?? 0) + 1;
    answered('error', key);
  });
  req.end();
}

function warmAnswered(status) {
  warm.answered++;
  warm.statuses[status] = (warm.statuses[status] ?? 0) + 1;
  if (warm.answered === warmups.length) emit({ event: 'warmedUp', statuses: warm.statuses });
}

async function warmup() {
  for (const request of warmups) send(request);
  emit({ event: 'warmupSent', count: warmups.length });
}

async function open() {
  const started = performance.now();
  let next = 0;
  while (next < requests.length) {
    const due = config.ratePerSec > 0 ? Math.min(requests.length, Math.floor(((performance.now() - started) / 1000) * config.ratePerSec) + 1) : requests.length;
    while (next < due && connecting < config.maxConnecting) send(requests[next++]);
    await sleep(connecting >= config.maxConnecting ? 1 : 5);
  }
  emit({ event: 'opened', ms: performance.now() - started });
}

const approvedIds = new Set();

/** Approves every approval record under the prefix that an earlier command did not. */
async function approve() {
  const redis = new Redis(config.redisUrl, { lazyConnect: true });
  await redis.connect();
  const ids = (await redis.zrange(`${config.prefix}approvals`, 0, -1)).filter((id) => !approvedIds.has(id));
  redis.disconnect();
  for (const id of ids) approvedIds.add(id);
  const agent = new http.Agent({ keepAlive: true, maxSockets: config.approveConcurrency });
  const review = new URL(config.reviewUrl);
  const outcome = { ok: 0, refused: {}, ids: ids.length };
  const started = performance.now();
  const post = (id) =>
    new Promise((resolve) => {
      const req = http.request(
        {
          host: review.hostname,
          port: review.port,
          path: `/api/v1/approvals/${id}/approve`,
          method: 'POST',
          agent,
          headers: { authorization: `Bearer ${config.reviewerToken}`, 'content-type': 'application/json', 'content-length': 2 },
        },
        (res) => {
          res.resume();
          res.once('end', () => {
            if (res.statusCode === 200) outcome.ok++;
            else outcome.refused[res.statusCode] = (outcome.refused[res.statusCode] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.once('error', (error) => {
        outcome.refused[error.code ?? 'error'] = (outcome.refused[error.code ?? 'error'] ?? 0) + 1;
        resolve();
      });
      req.end('{}');
    });
  let index = 0;
  await Promise.all(
    Array.from({ length: config.approveConcurrency }, async () => {
      while (index < ids.length) await post(ids[index++]);
    }),
  );
  agent.destroy();
  emit({ event: 'approved', ...outcome, ms: performance.now() - started });
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const { cmd } = JSON.parse(line);
  const run = { warmup, open, approve }[cmd];
  if (run === undefined) return emit({ event: 'error', message: `unknown command ${cmd}` });
  run().catch((error) => emit({ event: 'error', message: error instanceof Error ? error.message : String(error) }));
});
rl.on('close', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
