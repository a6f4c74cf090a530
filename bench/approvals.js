// `node bench/approvals.js` (the last part of `npm run bench`): the human-approval budgets of the
// design, measured and printed with PASS/FAIL, never asserted. See bench/README.md, "Approvals".
//
//   1. reviewer's POST → held request leaves for upstream, two replicas: ≤ 20 ms p99. Baselines
//      in the same run: the same replica holding and approving, and one replica without Redis.
//   2. 10,000 requests held at once: ≤ 300 MB RSS and no event-loop stall > 50 ms, with distinct
//      requests (10,000 approvals) and with one request sent 10,000 times (one approval); the
//      floor in the same run: a bare Node HTTP server holding as many.
//
// Processes: this orchestrator (scenario 1's S3 stand-in, STS timing relay and webhook receiver
// run inside it, so both ends of the timing share one clock; scenario 2's /healthz prober);
// redis-server; moto_server (scenario 1's STS); countersign replicas (`node dist/cli/main.js
// serve`; in scenario 2 with bench/loop-monitor.js preloaded); for scenario 2 the S3 stand-in
// (bench/upstream.js), an STS stub and webhook sink (bench/approvals-stubs.js), the agents
// (bench/approvals-hold-client.js) and the bare floor (bench/approvals-bare-hold.js). With
// taskset and 2+ cores, scenario 2 runs the holder alone on CPU 1 and the rest on CPU 0.
//
// Exit code: 0 when every scenario ran and every request got the answer it should (budgets are
// reported, not asserted); 1 when a scenario broke.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { Agent, Pool } from 'undici';
import {
  BENCH,
  benchHome,
  canPin,
  cleanUpOnExit,
  cli,
  cores,
  cpuSeconds,
  endRun,
  Failures,
  fmt,
  foreignLoad,
  hasPrlimit,
  jsonLine,
  killTracked,
  nofileLimits,
  percentiles,
  processMemory,
  s3Signer,
  signedGet,
  sleep,
  startCountersign,
  startRedis,
  stopChild,
  table,
  tail,
  track,
  waitForOutput,
  wrapped,
} from './approvals-support.js';
import { startStsRelay, startTimedUpstream, startWebhookReceiver } from './approvals-servers.js';
import { startMoto } from './moto.js';

const env = process.env;
const SETTINGS = {
  /** Scenario 1: timed approvals per row, after `warmup` untimed ones. */
  iterations: Number(env.BENCH_APPROVALS_N ?? 200),
  warmup: Number(env.BENCH_APPROVALS_WARMUP ?? 10),
  /** Scenario 1: pause between the notice and the POST, so the holding replica is waiting (a human takes seconds). */
  settleMs: 20,
  /** Scenario 2. */
  held: Number(env.BENCH_HELD ?? 10_000),
  /** New held requests per second; default per case (see the modes in main). */
  heldRate: env.BENCH_HELD_RATE === undefined ? undefined : Number(env.BENCH_HELD_RATE),
  steadyMs: 2_000,
  afterMs: 3_000,
  probeEveryMs: 10,
};
/** BENCH_APPROVALS_ONLY=id,id (ids: post, held-bare, held-distinct, held-same). */
const ONLY = env.BENCH_APPROVALS_ONLY?.split(',').map((s) => s.trim());
const selected = (id) => ONLY === undefined || ONLY.includes(id);
/** Extra node flags for countersign in scenario 2, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
const CS_NODE_ARGS = (env.BENCH_APPROVALS_CS_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
/** A directory: scenario 2 writes a heap snapshot of countersign there once every request is held (diagnosis). */
const HEAP_SNAPSHOT_DIR = env.BENCH_APPROVALS_HEAP_SNAPSHOT === undefined ? undefined : path.resolve(env.BENCH_APPROVALS_HEAP_SNAPSHOT);

const POST_BUCKET = 'approvals-bench';
const DISTINCT_BUCKET = 'held-distinct';
const SAME_BUCKET = 'held-same';
const SAME_MAX_USES = 1000; // the schema's maximum
const WEBHOOK_SECRET = 'approvals-bench-webhook-secret-0123456789';
const FALLBACK_ROLE = 'arn:aws:iam::123456789012:role/approvals-bench';
const BUDGET = { postP99Ms: 20, rssMB: 300, stallMs: 50 };
const WARMUP_HELD = 20; // scenario 2: requests held and released before anything is timed

const PIN = canPin();

cleanUpOnExit();

const failures = new Failures();

// ---------------------------------------------------------------------------------------------
// Set-up.

function writePolicies(dir, roleArn) {
  writeFileSync(
    path.join(dir, 'directory.yaml'),
    [
      'apiVersion: countersign.dev/v1alpha1',
      'kind: Directory',
      'agents:',
      '  bench: { owners: [olga] }',
      'reviewers:',
      '  ann: { name: Ann Analyst }',
      '  olga: { name: Olga Owner }',
      '',
    ].join('\n'),
  );
  const rule = (name, bucket, approval) =>
    [
      `  - name: ${name}`,
      '    effect: approve',
      '    agents: ["bench"]',
      '    actions: ["s3:GetObject"]',
      `    resources: ["arn:aws:s3:::${bucket}/*"]`,
      `    approval: { reviewers: [ann], ${approval} }`,
      `    credentials: { roleArn: "${roleArn}" }`,
    ].join('\n');
  writeFileSync(
    path.join(dir, 'approvals.yaml'),
    [
      'apiVersion: countersign.dev/v1alpha1',
      'kind: Policy',
      'rules:',
      rule('post-latency', POST_BUCKET, 'holdTimeout: 55s'),
      rule('held-distinct', DISTINCT_BUCKET, 'holdTimeout: 120s'),
      rule('held-same', SAME_BUCKET, `holdTimeout: 30s, maxUses: ${SAME_MAX_USES}`),
      '',
    ].join('\n'),
  );
}

let reviewerToken;
function tokenFor(dirs) {
  reviewerToken ??= /COUNTERSIGN_REVIEWER_TOKEN=(\S+)/.exec(cli(dirs, ['reviewers', 'token', 'ann']))?.[1];
  if (reviewerToken === undefined) throw new Error('`countersign reviewers token ann` printed no token');
  return reviewerToken;
}

// ---------------------------------------------------------------------------------------------
// Scenario 1: reviewer's POST → held request leaves for upstream.

async function postScenario(dirs, redis, agent, moto) {
  const upstream = await startTimedUpstream(agent.accessKeyId);
  const sts = await startStsRelay(moto.endpoint);
  const hooks = await startWebhookReceiver();
  const common = {
    COUNTERSIGN_UPSTREAM_OVERRIDES: `s3=${upstream.url},sts=${sts.url}`,
    COUNTERSIGN_WEBHOOK_URL: hooks.url,
    COUNTERSIGN_WEBHOOK_SECRET: WEBHOOK_SECRET,
    AWS_ACCESS_KEY_ID: moto.admin.accessKeyId,
    AWS_SECRET_ACCESS_KEY: moto.admin.secretAccessKey,
    // info: the default, and its audit line per request gives countersign's own mint time (durationsMs.sts).
    COUNTERSIGN_LOG_LEVEL: 'info',
  };
  const shared = { ...common, COUNTERSIGN_REDIS_URL: redis.url, COUNTERSIGN_REDIS_PREFIX: 'bench-post:' };
  const a = await startCountersign(dirs, shared, { name: 'replica A', auditRecords: true });
  const b = await startCountersign(dirs, shared, { name: 'replica B', auditRecords: true });
  const single = await startCountersign(dirs, common, { name: 'in-memory replica', auditRecords: true });
  const token = tokenFor(dirs);
  const signer = s3Signer(agent);
  const agentDispatcher = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 60_000 });
  const reviewPools = new Map([a, b, single].map((cs) => [cs, new Pool(cs.reviewUrl, { connections: 2 })]));
  const rows = [
    { id: 'cross', label: 'two replicas: A holds, B approves', holder: a, reviewer: b, samples: [] },
    { id: 'same', label: 'same replica: A holds, A approves', holder: a, reviewer: a, samples: [] },
    { id: 'memory', label: 'one replica, in-memory store (no Redis)', holder: single, reviewer: single, samples: [] },
  ];

  async function iteration(row, n) {
    const key = `obj-${row.id}-${String(n).padStart(4, '0')}`;
    const pathname = `/${POST_BUCKET}/${key}`;
    const arrival = upstream.arrival(pathname);
    const notice = hooks.notice(`arn:aws:s3:::${POST_BUCKET}/${key}`);
    const headers = await signedGet(signer, row.holder.port, pathname);
    const answer = agentDispatcher
      .request({ origin: row.holder.url, path: pathname, method: 'GET', headers })
      .then(async (res) => ({ status: res.statusCode, body: await res.body.text(), at: performance.now() }));
    answer.catch(() => undefined);
    arrival.catch(() => undefined);
    const id = (await notice).approval.id;
    await sleep(SETTINGS.settleMs);
    const stsBefore = sts.calls.length;
    const t0 = performance.now();
    const posted = reviewPools
      .get(row.reviewer)
      .request({ path: `/api/v1/approvals/${id}/approve`, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' })
      .then(async (res) => ({ status: res.statusCode, body: await res.body.text(), at: performance.now() }));
    const [arrivedAt, post, got] = await Promise.all([arrival, posted, answer]);
    if (post.status !== 200) throw new Error(`the approve POST answered ${post.status}: ${post.body.slice(0, 300)}`);
    if (got.status !== 200) throw new Error(`the agent got ${got.status}: ${got.body.slice(0, 300)}`);
    if (arrivedAt < t0) throw new Error(`${pathname} reached the upstream before the approval was sent`);
    const stsCalls = sts.calls.slice(stsBefore).filter((c) => c.assumeRole);
    return {
      id,
      holder: row.holder,
      toUpstream: arrivedAt - t0,
      posted: post.at - t0,
      answered: got.at - t0,
      sts: stsCalls.reduce((sum, c) => sum + (c.end - c.start), 0),
      stsCalls: stsCalls.length,
    };
  }

  try {
    // Interleaved, so drift (moto, Redis, the machine) hits every row alike.
    for (let n = 0; n < SETTINGS.warmup + SETTINGS.iterations; n++) {
      for (const row of rows) {
        const sample = await iteration(row, n);
        if (n >= SETTINGS.warmup) row.samples.push(sample);
      }
    }
    const expected = rows.length * (SETTINGS.warmup + SETTINGS.iterations);
    if (upstream.stats.served !== expected || upstream.stats.refused > 0) {
      throw new Error(`the upstream served ${upstream.stats.served} of ${expected} released requests and refused ${upstream.stats.refused} (${upstream.stats.reasons.join(', ')})`);
    }
    const failedSts = sts.calls.filter((c) => c.status !== 200).length;
    if (failedSts > 0) throw new Error(`${failedSts} STS calls failed`);
    await sleep(200); // the last audit lines come through the pipes
    for (const sample of rows.flatMap((r) => r.samples)) {
      sample.mint = sample.holder.auditFor(sample.id)?.durationsMs?.sts ?? NaN;
      delete sample.holder;
    }
    return { rows, stsCallsPerApproval: rows.flatMap((r) => r.samples).reduce((s, x) => s + x.stsCalls, 0) / rows.reduce((s, r) => s + r.samples.length, 0) };
  } catch (error) {
    const logs = [a, b, single].map((cs) => `${cs.name}:\n${cs.output().trim().split('\n').slice(-5).join('\n')}`).join('\n');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n    countersign output:\n${logs}`, { cause: error });
  } finally {
    await agentDispatcher.close();
    for (const pool of reviewPools.values()) await pool.close();
    await Promise.all([a.stop(), b.stop(), single.stop()]);
    await Promise.all([upstream.close(), sts.close(), hooks.close()]);
  }
}

// ---------------------------------------------------------------------------------------------
// Scenario 2: 10,000 requests held at once.

async function startChildJson(script, childEnv, { cpu, nofile, what }) {
  const [cmd, args] = wrapped(process.execPath, [path.join(BENCH, script)], { cpu, nofile });
  const child = track(spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: env.PATH ?? '', ...childEnv } }));
  const errors = tail(child.stderr);
  const first = await waitForOutput(child, child.stdout, (text) => text.split('\n').map(jsonLine).find(Boolean), what, 60_000);
  return { child, first, errors };
}

/** Events from the hold client, as they come; next(name) takes the oldest one of that name not taken yet. */
function eventStream(child) {
  const events = [];
  const taken = new Set();
  let wake = () => undefined;
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const event = jsonLine(line);
    if (event === undefined) return;
    events.push(event);
    wake();
  });
  const take = (name) => {
    const event = events.find((e) => !taken.has(e) && (e.event === name || e.event === 'error'));
    if (event !== undefined) taken.add(event);
    return event;
  };
  return {
    events,
    async next(name, timeoutMs, what) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const event = take(name);
        if (event?.event === 'error') throw new Error(`hold client: ${event.message}`);
        if (event !== undefined) return event;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`${what} took longer than ${timeoutMs / 1000} s (last events: ${JSON.stringify(events.slice(-3))})`);
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 1_000));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
  };
}

/** Times GET /healthz on the admin listener every `everyMs` (sequential); also how late its own timer ran. */
function startProbe(adminUrl, everyMs) {
  const pool = new Pool(adminUrl, { connections: 1 });
  const samples = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const start = performance.now();
      try {
        const res = await pool.request({ path: '/healthz', method: 'GET' });
        await res.body.text();
        samples.push({ t: Date.now(), ms: performance.now() - start, ok: res.statusCode === 200 });
      } catch {
        samples.push({ t: Date.now(), ms: performance.now() - start, ok: false });
      }
      const before = performance.now();
      await sleep(everyMs);
      samples[samples.length - 1].lateMs = performance.now() - before - everyMs;
    }
  })();
  return {
    samples,
    stop: async () => {
      if (!running) return;
      running = false;
      await done;
      await pool.close();
    },
  };
}

/** Samples countersign's RSS and CPU time from /proc every `everyMs`. */
function startSampler(pid, everyMs) {
  const samples = [];
  const timer = setInterval(() => {
    const memory = processMemory(pid);
    if (memory !== undefined) samples.push({ t: Date.now(), rss: memory.rssMiB, peak: memory.peakMiB, cpu: cpuSeconds(pid) });
  }, everyMs);
  return { samples, stop: () => clearInterval(timer) };
}

/** Resolves once countersign's CPU use stays under `share` of a core for `quietMs` (it has processed what reached it). */
async function cpuQuiet(pid, { quietMs = 300, share = 0.05, timeoutMs = 60_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = cpuSeconds(pid);
  for (;;) {
    await sleep(quietMs);
    const now = cpuSeconds(pid);
    if (now - last < (share * quietMs) / 1000) return;
    last = now;
    if (Date.now() > deadline) throw new Error(`countersign stayed busy for ${timeoutMs / 1000} s`);
  }
}

const MB = 1.048576; // MiB → MB

/** Waits for the loop monitor's answer to SIGUSR2 (the forced GC, and the heap snapshot if asked for). */
async function forcedGcLine(file, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = readFileSync(file, 'utf8').trim().split('\n').map(jsonLine).find((l) => l?.forcedGc !== undefined);
    if (line !== undefined) return line;
    if (Date.now() > deadline) throw new Error('countersign did not answer SIGUSR2 (the loop monitor is not loaded?)');
    await sleep(100);
  }
}

/** What holds the requests: countersign (Redis store, stand-ins for S3, STS and the webhook), or the bare Node floor. */
async function startHolder(mode, ctx, loopFile, prefix) {
  const { dirs, redis, upstream, stubs, nofile } = ctx;
  const nodeArgs = ['--expose-gc', '--import', pathToFileURL(path.join(BENCH, 'loop-monitor.js')).href];
  const loopEnv = { BENCH_LOOP_FILE: loopFile, ...(HEAP_SNAPSHOT_DIR !== undefined && { BENCH_HEAP_SNAPSHOT_DIR: HEAP_SNAPSHOT_DIR }) };
  if (mode.bare) {
    const [cmd, args] = wrapped(process.execPath, [...nodeArgs, path.join(BENCH, 'approvals-bare-hold.js')], { cpu: PIN ? '1' : undefined, nofile });
    const child = track(spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: env.PATH ?? '', ...loopEnv } }));
    const errors = tail(child.stderr);
    const { port } = await waitForOutput(child, child.stdout, (text) => text.split('\n').map(jsonLine).find(Boolean), 'bare hold server');
    return {
      pid: child.pid,
      port,
      adminUrl: `http://127.0.0.1:${port}`,
      output: errors,
      cpu: () => cpuSeconds(child.pid),
      release: () => child.stdin.write('release\n'),
      stop: () => stopChild(child),
    };
  }
  return startCountersign(
    dirs,
    {
      COUNTERSIGN_REDIS_URL: redis.url,
      COUNTERSIGN_REDIS_PREFIX: prefix,
      COUNTERSIGN_UPSTREAM_OVERRIDES: `s3=http://127.0.0.1:${upstream.httpPort},sts=http://127.0.0.1:${stubs.port}`,
      COUNTERSIGN_WEBHOOK_URL: `http://127.0.0.1:${stubs.port}/hook`,
      COUNTERSIGN_WEBHOOK_SECRET: WEBHOOK_SECRET,
      AWS_ACCESS_KEY_ID: 'AKIABENCHSTSSTUB',
      AWS_SECRET_ACCESS_KEY: 'bench-sts-stub-secret',
      ...loopEnv,
    },
    { name: `countersign (${mode.id})`, nodeArgs: [...nodeArgs, ...CS_NODE_ARGS], cpu: PIN ? '1' : undefined, nofile },
  );
}

async function heldScenario(mode, ctx) {
  const { dirs, redis, redisClient, upstream, stubs, agent, nofile } = ctx;
  const prefix = `bench-held-${mode.id}:`;
  await redisClient.flushall();
  const loopFile = path.join(dirs.root, `loop-${mode.id}.jsonl`);
  const cs = await startHolder(mode, ctx, loopFile, prefix);
  const config = {
    proxyPort: cs.port,
    count: SETTINGS.held,
    distinct: mode.distinct,
    bucket: mode.bucket,
    key: { accessKeyId: agent.accessKeyId, secretAccessKey: agent.secretAccessKey },
    ratePerSec: SETTINGS.heldRate ?? mode.rate,
    maxConnecting: 256,
    warmup: WARMUP_HELD,
    ...(!mode.bare && { reviewUrl: cs.reviewUrl, reviewerToken: tokenFor(dirs), redisUrl: redis.url, prefix, approveConcurrency: 32 }),
  };
  let client;
  let probe;
  let sampler;
  const phases = {};
  try {
    client = await startChildJson('approvals-hold-client.js', { BENCH_HOLD_CONFIG: JSON.stringify(config) }, { cpu: PIN ? '0' : undefined, nofile, what: 'hold client' });
    const events = eventStream(client.child);
    const upBefore = await upstream.stats();
    const stubsBefore = await stubs.stats();
    const warmupServed = mode.bare ? 0 : WARMUP_HELD;
    // Warm-up: a few held requests, released (approved, for countersign), before anything is timed.
    client.child.stdin.write(`${JSON.stringify({ cmd: 'warmup' })}\n`);
    await events.next('warmupSent', 30_000, 'sending the warm-up requests');
    if (mode.bare) {
      await cpuQuiet(cs.pid);
      cs.release();
    } else {
      const deadline = Date.now() + 30_000;
      while ((await redisClient.zcard(`${prefix}approvals`)) < WARMUP_HELD) {
        if (Date.now() > deadline) throw new Error('the warm-up requests were not held');
        await sleep(50);
      }
      await sleep(200);
      client.child.stdin.write(`${JSON.stringify({ cmd: 'approve' })}\n`);
      await events.next('approved', 30_000, 'approving the warm-up requests');
    }
    const warmed = await events.next('warmedUp', 30_000, 'answering the warm-up requests');
    if (warmed.statuses['200'] !== WARMUP_HELD) throw new Error(`warm-up answers: ${JSON.stringify(warmed.statuses)}`);
    await sleep(1_000);
    sampler = startSampler(cs.pid, 50);
    probe = startProbe(cs.adminUrl, SETTINGS.probeEveryMs);
    phases.idle = { start: Date.now() };
    await sleep(1_000);
    const idle = processMemory(cs.pid);
    const cpuAtOpen = cs.cpu();
    phases.ramp = { start: Date.now() };
    phases.idle.end = phases.ramp.start;
    client.child.stdin.write(`${JSON.stringify({ cmd: 'open' })}\n`);
    await events.next('sent', 120_000, 'writing every request');
    if (mode.distinct && !mode.bare) {
      const deadline = Date.now() + 60_000;
      while ((await redisClient.zcard(`${prefix}approvals`)) < SETTINGS.held + WARMUP_HELD) {
        if (Date.now() > deadline) throw new Error(`only ${(await redisClient.zcard(`${prefix}approvals`)) - WARMUP_HELD} approval records after 60 s`);
        await sleep(50);
      }
    }
    await cpuQuiet(cs.pid);
    phases.ramp.end = Date.now();
    const cpuAtHeld = cs.cpu();
    const early = events.events.find((e) => e.event === 'firstAnswer');
    if (early !== undefined) throw new Error(`requests were answered before anyone approved them (first: ${early.status} ${early.code ?? ''})`);
    phases.hold = { start: phases.ramp.end };
    await sleep(SETTINGS.steadyMs);
    phases.hold.end = Date.now();
    const held = processMemory(cs.pid);
    const records = mode.bare ? 0 : (await redisClient.zcard(`${prefix}approvals`)) - WARMUP_HELD;
    // Live memory vs garbage not yet collected: a full GC (outside every timed phase).
    process.kill(cs.pid, 'SIGUSR2');
    const forced = await forcedGcLine(loopFile, 120_000);
    await sleep(1_000);
    await cpuQuiet(cs.pid);
    const afterGc = processMemory(cs.pid);
    phases.release = { start: Date.now() };
    let approved = { ids: 0, ok: 0, ms: 0 };
    if (mode.bare) cs.release();
    else {
      client.child.stdin.write(`${JSON.stringify({ cmd: 'approve' })}\n`);
      approved = await events.next('approved', 120_000, 'approving');
    }
    const answered = await events.next('answered', 120_000, 'answering every held request');
    phases.release.end = Date.now();
    const cpuAtAnswered = cs.cpu();
    phases.after = { start: phases.release.end };
    await sleep(SETTINGS.afterMs);
    phases.after.end = Date.now();
    const after = processMemory(cs.pid);
    sampler.stop();
    await probe.stop();
    const upAfter = await upstream.stats();
    const stubsAfter = await stubs.stats();
    const served = upAfter.served - upBefore.served - warmupServed;
    const refused = upAfter.rejectedAgentKey - upBefore.rejectedAgentKey + upAfter.rejectedNoAuth - upBefore.rejectedNoAuth;

    const problems = [];
    const ok = answered.statuses['200'] ?? 0;
    const expect = mode.expect(SETTINGS.held);
    for (const [status, count] of Object.entries(expect.statuses)) {
      if ((answered.statuses[status] ?? 0) !== count) problems.push(`expected ${count} answers ${status}, got ${answered.statuses[status] ?? 0}`);
    }
    if (answered.count !== SETTINGS.held) problems.push(`${answered.count} of ${SETTINGS.held} requests answered`);
    if (!mode.bare) {
      if (served !== ok) problems.push(`the agents got ${ok} answers 200 but the upstream served ${served}`);
      if (refused > 0) problems.push(`the upstream refused ${refused} requests (not re-signed)`);
      if (upAfter.withSessionToken - upBefore.withSessionToken - warmupServed !== served) problems.push('some released requests reached the upstream without an STS session token');
    }
    if (problems.length > 0) throw new Error(`${problems.join('; ')}; answers ${JSON.stringify(answered.statuses)} ${JSON.stringify(answered.codes)}`);

    const loop = readFileSync(loopFile, 'utf8').trim().split('\n').map(jsonLine).filter((l) => l !== undefined && l.maxMs !== undefined);
    // A loop window covers the 100 ms before its time stamp: it counts in the phase its middle falls in.
    const inPhase = (list, phase) => list.filter((s) => s.t - 50 >= phase.start && s.t - 50 < phase.end);
    const phaseStats = (phase) => {
      const windows = inPhase(loop, phase);
      const probes = probe.samples.filter((s) => s.t >= phase.start && s.t <= phase.end);
      return {
        loopMaxMs: Math.max(0, ...windows.map((w) => w.maxMs)),
        gcMaxMs: Math.max(0, ...windows.map((w) => w.gcMaxMs)),
        probeMaxMs: Math.max(0, ...probes.map((p) => p.ms)),
        probeP99Ms: percentiles(probes.map((p) => p.ms)).p99,
        probeLateMaxMs: Math.max(0, ...probes.map((p) => p.lateMs ?? 0)),
        probes: probes.length,
        probeFailures: probes.filter((p) => !p.ok).length,
      };
    };
    const phaseOf = (t) => Object.entries(phases).find(([, p]) => t - 50 >= p.start && t - 50 < p.end)?.[0] ?? '-';
    const worst = loop
      .filter((w) => w.maxMs > BUDGET.stallMs && phaseOf(w.t) !== '-')
      .sort((x, y) => y.maxMs - x.maxMs)
      .slice(0, 3)
      .map((w) => ({ phase: phaseOf(w.t), atS: (w.t - phases.ramp.start) / 1000, maxMs: w.maxMs, gcMaxMs: w.gcMaxMs, heapUsedMiB: w.heapUsedMiB }));
    const stallsOver = loop.filter((w) => w.maxMs > BUDGET.stallMs && phaseOf(w.t) !== '-').length;
    const timedWindows = loop.filter((w) => phaseOf(w.t) !== '-').length;
    const heldSamples = sampler.samples.filter((s) => s.t >= phases.ramp.start && s.t <= phases.hold.end);
    const heapAtHeld = inPhase(loop, phases.hold).pop();
    const rampSeconds = (phases.ramp.end - phases.ramp.start) / 1000;
    return {
      mode,
      rate: config.ratePerSec,
      rampSeconds,
      heldPerSecond: SETTINGS.held / rampSeconds,
      cpuPerHeldUs: ((cpuAtHeld - cpuAtOpen) / SETTINGS.held) * 1e6,
      releaseSeconds: (phases.release.end - phases.release.start) / 1000,
      releaseCpuSeconds: cpuAtAnswered - cpuAtHeld,
      approvals: records,
      worst,
      stallsOver,
      loopWindows: timedWindows,
      approved,
      answered,
      webhooks: stubsAfter.webhooks - stubsBefore.webhooks - warmupServed,
      assumeRoles: stubsAfter.assumeRole - stubsBefore.assumeRole - warmupServed,
      rss: { idle: idle?.rssMiB, held: held?.rssMiB, maxWhileHeld: Math.max(...heldSamples.map((s) => s.rss)), heldAfterGc: afterGc?.rssMiB, peak: after?.peakMiB, after: after?.rssMiB },
      forced,
      heap: heapAtHeld,
      phases: { idle: phaseStats(phases.idle), ramp: phaseStats(phases.ramp), hold: phaseStats(phases.hold), release: phaseStats(phases.release) },
    };
  } catch (error) {
    const detail = `${cs.output().trim().split('\n').slice(-8).join('\n')}${client ? `\n    hold client stderr:\n${client.errors()}` : ''}`;
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n    countersign output:\n${detail}`, { cause: error });
  } finally {
    sampler?.stop();
    await probe?.stop();
    if (client !== undefined) {
      client.child.stdin.end();
      await stopChild(client.child);
    }
    await cs.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Output.

function printPost(result) {
  console.log(`1. reviewer's POST -> held request leaves for upstream (${SETTINGS.iterations} approvals per row, each a new object key, after ${SETTINGS.warmup} untimed; rows interleaved)`);
  const rows = result.rows.map((row) => {
    const of = (f) => percentiles(row.samples.map(f));
    const up = of((s) => s.toUpstream);
    const own = of((s) => s.toUpstream - s.sts);
    return [
      row.label,
      fmt(up.p50),
      fmt(up.p99),
      fmt(up.max),
      fmt(of((s) => s.sts).p50),
      fmt(of((s) => s.mint).p50),
      fmt(own.p50),
      fmt(own.p99),
      fmt(of((s) => s.toUpstream - s.mint).p50),
      fmt(of((s) => s.posted).p50),
      fmt(of((s) => s.answered).p50),
    ];
  });
  console.log(table(rows, ['scenario', 'p50 ms', 'p99 ms', 'max ms', 'STS wire p50', 'mint p50', 'w/o STS p50', 'w/o STS p99', 'w/o mint p50', 'POST answered p50', 'agent answered p50']));
  console.log(
    `   From just before the reviewer's POST is sent to the upstream receiving the released request, on one clock (both ends are in this\n` +
      `   process). It includes the review (Lua script) and its publish, the holding replica waking, consuming the approval (Lua), minting\n` +
      `   (one STS AssumeRole per approval, by design: ${fmt(result.stsCallsPerApproval, 2)} seen), re-signing and sending upstream.\n` +
      `   STS wire: the AssumeRole round trip as a timing relay in front of moto saw it. mint: countersign's own mint time from its audit\n` +
      `   line (durationsMs.sts: AWS SDK + STS). "w/o STS" and "w/o mint" subtract them per approval. POST answered: the review API's\n` +
      `   answer to the reviewer; agent answered: the agent has the object. Replicas run at the default info log level.\n` +
      `   Other processes on the machine used ${fmt(result.foreignCores, 2)} of ${cores} cores meanwhile (tails suffer when that is high).`,
  );
}

function printHeld(results) {
  console.log(`\n2. ${SETTINGS.held.toLocaleString('en')} requests held at once (each on its own connection; endpoint mode; Redis store; webhook notices on)`);
  const rows = results.map((r) => [
    r.mode.label,
    String(r.rate),
    fmt(r.rampSeconds, 1),
    fmt(r.cpuPerHeldUs, 0),
    fmt(r.rss.idle, 0),
    fmt(r.rss.held, 0),
    r.heap ? `${fmt(r.heap.heapUsedMiB, 0)} / ${fmt(r.heap.heapTotalMiB, 0)} / ${fmt(r.heap.externalMiB, 0)}` : '-',
    `${fmt(r.rss.heldAfterGc, 0)} (${fmt(r.forced.heapAfterMiB, 0)})`,
    fmt(r.rss.peak, 0),
    fmt(r.rss.after, 0),
    String(r.approvals),
    fmt(r.releaseSeconds, 1),
    Object.entries(r.answered.statuses).map(([s, n]) => `${n}x${s}`).join(' ') + Object.entries(r.answered.codes).map(([c, n]) => ` (${n} ${c})`).join(''),
  ]);
  console.log(table(rows, ['held', 'ramp/s', 'ramp s', 'CPU us/held', 'RSS idle', 'RSS held', 'heap used/total/ext', 'after full GC: RSS (heap)', 'RSS peak', 'RSS after', 'approvals', 'release s', 'answers']));
  console.log(
    '   MiB. RSS: the holder\'s /proc VmRSS, "held" after 2 s of holding them all; peak is VmHWM; heap: V8 heap used and committed, and external\n' +
      '   memory, while held. "after full GC": a forced full GC (--expose-gc, between the timed phases) leaves only live objects in the heap; V8 keeps\n' +
      '   the freed pages for a while, so RSS hardly moves. "after": 3 s after the last answer. CPU us/held: CPU time of the ramp per request.\n',
  );
  const stallRows = [];
  for (const r of results) {
    for (const phase of ['idle', 'ramp', 'hold', 'release']) {
      const s = r.phases[phase];
      stallRows.push([`${r.mode.label}: ${phase}`, fmt(s.loopMaxMs, 1), fmt(s.gcMaxMs, 1), fmt(s.probeP99Ms, 1), fmt(s.probeMaxMs, 1), fmt(s.probeLateMaxMs, 1), `${s.probes}${s.probeFailures ? ` (${s.probeFailures} failed)` : ''}`]);
    }
  }
  console.log(table(stallRows, ['event loop', 'max delay ms', 'max GC ms', '/healthz p99 ms', '/healthz max ms', 'prober lag ms', 'probes']));
  console.log(
    '   max delay: inside countersign, perf_hooks.monitorEventLoopDelay (10 ms resolution), preloaded with `node --import bench/loop-monitor.js`\n' +
      '   (no change to src/): how late the loop ran a timer, i.e. the longest stretch it was busy. max GC: longest GC pause.\n' +
      `   /healthz: from outside, GET /healthz on the holder's admin listener every ${SETTINGS.probeEveryMs} ms from the orchestrator: the round trip\n` +
      '   includes a stall, the loopback and the prober itself; "prober lag" is how late the prober\'s own timer ran. When every core is\n' +
      '   busy (ramp, release) the prober waits for a CPU as well, so the budget is judged on the in-process figure.',
  );
  const notes = [];
  for (const r of results) {
    notes.push(
      `${r.mode.label}: ${r.approved.ids} approval record(s) approved in ${fmt(r.approved.ms / 1000, 1)} s (${r.approved.ok} POSTs 200), ${r.webhooks} webhook notices, ${r.assumeRoles} AssumeRole calls; CPU ${fmt(r.releaseCpuSeconds, 1)} s to release; other processes on the machine used ${fmt(r.foreignCores, 2)} cores meanwhile`,
    );
    if (r.worst.length > 0) {
      const list = r.worst.map((w) => `${fmt(w.maxMs, 0)} ms in ${w.phase} at +${fmt(w.atS, 1)} s (longest GC in that 100 ms: ${fmt(w.gcMaxMs, 0)} ms; heap ${fmt(w.heapUsedMiB, 0)} MiB)`).join('; ');
      notes.push(`${r.mode.label}: ${r.stallsOver} of ${r.loopWindows} 100-ms windows had a stall over ${BUDGET.stallMs} ms; worst: ${list}`);
    }
  }
  console.log(`\n${notes.map((n) => `   ${n}`).join('\n')}`);
}

function printBudgets(post, held) {
  const verdicts = [];
  const add = (name, value, unit, target, pass) =>
    verdicts.push([name, Number.isFinite(value) ? `${fmt(value)}${unit}` : 'n/a', target, pass === undefined ? '' : Number.isFinite(value) ? (pass(value) ? 'PASS' : 'FAIL') : 'n/a']);
  if (post !== undefined) {
    const p = (id, f = (s) => s.toUpstream) => percentiles(post.rows.find((r) => r.id === id).samples.map(f));
    const cross = p('cross');
    const same = p('same');
    const memory = p('memory');
    add('1. POST -> upstream p99, two replicas', cross.p99, ' ms', `<= ${BUDGET.postP99Ms} ms`, (v) => v <= BUDGET.postP99Ms);
    add('1. the same without the STS round trip (p99)', p('cross', (s) => s.toUpstream - s.sts).p99, ' ms', `<= ${BUDGET.postP99Ms} ms`, (v) => v <= BUDGET.postP99Ms);
    add('   two replicas / same replica, p50', cross.p50 / same.p50, 'x', 'cross-replica cost');
    add('   two replicas / same replica, p99', cross.p99 / same.p99, 'x', 'cross-replica cost');
    add('   same replica (Redis) / in-memory store, p50', same.p50 / memory.p50, 'x', 'cost of the shared store');
  }
  const bare = held?.find((r) => r.mode.bare);
  const perHeldKiB = (r) => ((Math.max(r.rss.held, r.rss.maxWhileHeld) - r.rss.idle) * 1024) / SETTINGS.held;
  for (const r of held ?? []) {
    if (r.mode.bare) continue;
    const rssMB = Math.max(r.rss.held, r.rss.maxWhileHeld) * MB;
    add(`2. RSS with ${SETTINGS.held} held, ${r.mode.short}`, rssMB, ' MB', `<= ${BUDGET.rssMB} MB`, (v) => v <= BUDGET.rssMB);
    add('   V8 heap still live after a forced full GC', r.forced.heapAfterMiB * MB, ' MB', 'of which live JS');
    if (bare !== undefined) add(`   RSS per held request over idle: ${fmt(perHeldKiB(r), 1)} KiB vs bare Node ${fmt(perHeldKiB(bare), 1)} KiB`, perHeldKiB(r) / perHeldKiB(bare), 'x', 'vs bare Node');
    const holding = Math.max(r.phases.ramp.loopMaxMs, r.phases.hold.loopMaxMs);
    add(`2. longest stall while ramping and holding, ${r.mode.short}`, holding, ' ms', `<= ${BUDGET.stallMs} ms`, (v) => v <= BUDGET.stallMs);
    add(`2. longest stall while releasing, ${r.mode.short}`, r.phases.release.loopMaxMs, ' ms', `<= ${BUDGET.stallMs} ms`, (v) => v <= BUDGET.stallMs);
  }
  console.log('');
  console.log(table(verdicts, ['budget', 'measured', 'target', 'verdict']));
}

// ---------------------------------------------------------------------------------------------
// Main.

async function main() {
  console.log('countersign approvals bench');
  console.log(`  node ${process.version}, ${cores} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), ${os.platform()} ${os.release()}; load average ${os.loadavg()[0].toFixed(2)}`);
  const limits = nofileLimits();
  const needed = SETTINGS.held + 1024;
  let nofile;
  if (selected('held-bare') || selected('held-distinct') || selected('held-same')) {
    if (!(limits.soft >= needed)) {
      if (limits.hard >= needed && hasPrlimit()) nofile = needed;
      else {
        const fit = Math.max(0, Math.min(limits.soft, limits.hard) - 1024);
        console.log(`  open-files limit ${limits.soft}/${limits.hard} (soft/hard) is below the ${needed} needed and cannot be raised: holding ${fit} instead`);
        SETTINGS.held = fit;
      }
    }
    console.log(`  open files: limit ${limits.soft} (hard ${limits.hard})${nofile ? `, raised to ${nofile} for countersign and the hold client with prlimit` : ''}; ${SETTINGS.held} held needs ${SETTINGS.held + 1024}`);
    console.log(
      PIN
        ? '  scenario 2 pinned: countersign on CPU 1; agents, Redis and stand-ins on CPU 0; this orchestrator (the /healthz prober) unpinned (BENCH_PIN=0 to unpin)'
        : '  not pinned: every process shares every core',
    );
  }
  console.log('');

  const dirs = benchHome('countersign-approvals-bench-');
  let post;
  const held = [];
  try {
    process.stderr.write('setting up: redis-server');
    const redis = await startRedis({ cpu: PIN ? '0' : undefined });
    const redisClient = new Redis(redis.url);
    let moto;
    if (selected('post')) {
      process.stderr.write(', moto (STS)');
      moto = await startMoto(trackAndRemember);
    }
    process.stderr.write(', agent key\n');
    writePolicies(dirs.policies, moto?.roleArn ?? FALLBACK_ROLE);
    const agent = JSON.parse(cli(dirs, ['agents', 'issue', 'bench', '--json']));

    if (selected('post')) {
      process.stderr.write(`  POST -> upstream, ${SETTINGS.warmup + SETTINGS.iterations} x 3 approvals ...`);
      const started = Date.now();
      const others = foreignLoad();
      try {
        post = await postScenario(dirs, redis, agent, moto);
        post.foreignCores = others();
        const cross = percentiles(post.rows[0].samples.map((s) => s.toUpstream));
        process.stderr.write(` p99 ${fmt(cross.p99)} ms (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
      } catch (error) {
        failures.add("reviewer's POST -> upstream", error);
      }
      await stopMoto();
    }

    const modes = [
      {
        id: 'bare',
        label: 'bare Node http server (floor)',
        short: 'bare Node',
        bare: true,
        distinct: true,
        bucket: DISTINCT_BUCKET,
        rate: 2000,
        expect: (n) => ({ statuses: { 200: n } }),
      },
      {
        id: 'distinct',
        label: 'distinct requests',
        short: 'distinct requests',
        distinct: true,
        bucket: DISTINCT_BUCKET,
        rate: 500, // about half of what one core takes in (~1.2 ms CPU per new approval here)
        expect: (n) => ({ statuses: { 200: n } }),
      },
      {
        id: 'same',
        label: `one request x${SETTINGS.held}`,
        short: 'one request',
        distinct: false,
        bucket: SAME_BUCKET,
        rate: 1000, // about half of what one core takes in (~0.5 ms CPU per joining request here)
        // A GET held n times over is one read, one intent (docs/approvals.md): one approval lets every copy go while it is
        // valid, whatever maxUses says (maxUses counts the sends of a change).
        expect: (n) => ({ statuses: { 200: n } }),
      },
    ].filter((m) => selected(`held-${m.id}`));
    if (modes.length > 0 && SETTINGS.held > 0) {
      const upstream = await startUpstreamChild(dirs.root, agent.accessKeyId);
      const stubs = await startStubs();
      for (const mode of modes) {
        process.stderr.write(`  ${SETTINGS.held} held, ${mode.label} ...`);
        const started = Date.now();
        const others = foreignLoad();
        try {
          const result = await heldScenario(mode, { dirs, redis, redisClient, upstream, stubs, agent, nofile });
          result.foreignCores = others();
          held.push(result);
          process.stderr.write(` RSS ${fmt(result.rss.held, 0)} MiB held, loop max ${fmt(Math.max(result.phases.ramp.loopMaxMs, result.phases.hold.loopMaxMs), 1)} ms (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
        } catch (error) {
          failures.add(`${SETTINGS.held} held, ${mode.label}`, error);
        }
      }
    }
    redisClient.disconnect();
    console.log('');
    if (post !== undefined) printPost(post);
    if (held.length > 0) printHeld(held);
    printBudgets(post, held);
  } finally {
    await endRun(dirs);
  }
  failures.report('scenario(s)');
}

// moto is only scenario 1's STS: remember it (startMoto registers it through this) and stop it
// before scenario 2, so it does not compete for the CPU.
const motoChildren = [];
const trackAndRemember = (child, options) => {
  motoChildren.push(child);
  return track(child, options);
};

async function stopMoto() {
  for (const child of motoChildren) await stopChild(child, { group: true });
}

async function startUpstreamChild(dir, agentKeyId) {
  const { createCertificateAuthority, issueLeafCertificate } = await import('../dist/edge/x509.js');
  const ca = createCertificateAuthority('countersign approvals bench upstream CA');
  const leaf = issueLeafCertificate(ca, '127.0.0.1');
  writeFileSync(path.join(dir, 'upstream.crt'), leaf.certPem);
  writeFileSync(path.join(dir, 'upstream.key'), leaf.keyPem, { mode: 0o600 });
  const { child, first, errors } = await startChildJson(
    'upstream.js',
    { BENCH_AGENT_KEY_ID: agentKeyId, BENCH_CERT_FILE: path.join(dir, 'upstream.crt'), BENCH_KEY_FILE: path.join(dir, 'upstream.key') },
    { cpu: PIN ? '0' : undefined, what: 'bench upstream' },
  );
  return {
    child,
    errors,
    httpPort: first.httpPort,
    stats: async () => (await fetch(`http://127.0.0.1:${first.httpPort}/__stats`)).json(),
  };
}

async function startStubs() {
  const { child, first } = await startChildJson('approvals-stubs.js', {}, { cpu: PIN ? '0' : undefined, what: 'STS stub and webhook sink' });
  return { child, port: first.port, stats: async () => (await fetch(`http://127.0.0.1:${first.port}/__stats`)).json() };
}

main().catch((error) => {
  console.error(`approvals bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  killTracked();
  process.exit(1);
});
