// `npm run bench`: countersign's throughput and latency against its baselines, in one run, on
// this machine. See bench/README.md for what each scenario measures and how to read the ratios.
//
// Processes: this orchestrator; moto_server (STS only, idle after the first AssumeRole); the
// bench upstream (bench/upstream.js); the proxy under test (countersign, mitmdump, http-proxy or
// none); the load generator (bench/load.js), one per scenario. With taskset and 2+ cores the
// proxy under test runs on CPU 1 and the load generator and upstream on CPU 0, the same for
// every scenario (BENCH_PIN=0 turns pinning off).
//
// Exit code: 0 when every scenario ran with every request answered 200 (budgets are reported,
// not asserted); 1 when a scenario failed.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { benchHome, canPin, cleanUpOnExit, CLI, cli, cores, countersignEnv, endRun, Failures, killTracked, processMemory, startRedis, startUpstream, stopChild, tail, track, waitForOutput } from './approvals-support.js';
import { findBinary, freePort, repoRoot, startMoto } from './moto.js';

const env = process.env;
const SETTINGS = {
  concurrency: Number(env.BENCH_CONCURRENCY ?? 32),
  warmupMs: Number(env.BENCH_WARMUP_MS ?? 1500),
  durationMs: Number(env.BENCH_DURATION_MS ?? 5000),
  latencyMs: Number(env.BENCH_LATENCY_MS ?? 2000),
};
/** BENCH_ONLY=id,id runs only those scenarios (ids: direct-https, cs-https, cs-https-info, cs-https-audit-stdout, cs-https-audit-redis, mitmdump, direct-http, http-proxy, cs-endpoint). */
const ONLY = env.BENCH_ONLY?.split(',').map((s) => s.trim());
const BENCH = path.join(repoRoot, 'bench');
const OBJECT_KEY = 'obj-1k'; // one key: one session policy, so countersign mints once and caches
const DIRECT_KEY = { accessKeyId: 'AKIABENCHDIRECTCLIENT', secretAccessKey: 'bench-direct-client-secret' };

// ---------------------------------------------------------------------------------------------
// Child processes: every one is tracked and killed on exit, error or signal.

cleanUpOnExit();

const PIN = canPin();
const CPU = { proxy: '1', load: '0', upstream: '0' };

/** [command, args] for `cmd args`, pinned to `cpu` when pinning is on. */
function pinned(role, cmd, args) {
  return PIN ? ['taskset', ['-c', CPU[role], cmd, ...args]] : [cmd, args];
}

/** Resolves with the first line of `stream` that `match` accepts (returns non-undefined). */
function waitForLine(child, stream, match, what, timeoutMs = 20_000) {
  return waitForOutput(child, stream, (seen) => {
    for (const line of seen.split('\n')) {
      const value = match(line);
      if (value !== undefined) return value;
    }
    return undefined;
  }, what, timeoutMs);
}

const jsonLine = (line) => {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
};

// ---------------------------------------------------------------------------------------------
// The parts.

/** countersign's environment, signing its STS calls as moto's admin user. */
const envAgainstMoto = (dirs, moto, extra) => countersignEnv(dirs, { AWS_ACCESS_KEY_ID: moto.admin.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.admin.secretAccessKey, ...extra });

/** `countersign serve`; `logsToDevNull` sends its stdout (the JSON logs) to /dev/null. */
async function startCountersign(dirs, moto, { logLevel, upstreamOverrides, upstreamCaFile, logsToDevNull = false, extraEnv = {} }) {
  // BENCH_CS_NODE_ARGS: extra node flags for `serve`, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  // (node 20 refuses --cpu-prof in NODE_OPTIONS).
  const nodeArgs = (env.BENCH_CS_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const [cmd, args] = pinned('proxy', process.execPath, [...nodeArgs, CLI, 'serve']);
  const child = track(
    spawn(cmd, args, {
      stdio: ['ignore', logsToDevNull ? 'ignore' : 'pipe', 'pipe'],
      env: envAgainstMoto(dirs, moto, {
        COUNTERSIGN_LOG_LEVEL: logLevel,
        COUNTERSIGN_UPSTREAM_OVERRIDES: upstreamOverrides,
        COUNTERSIGN_UPSTREAM_CA_FILE: upstreamCaFile,
        ...extraEnv,
      }),
    }),
  );
  const logs = child.stdout === null ? () => '' : tail(child.stdout);
  const stderr = tail(child.stderr);
  const port = await waitForLine(child, child.stderr, (line) => {
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
    return m === null ? undefined : Number(m[1]);
  }, 'countersign');
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    caFile: path.join(dirs.data, 'ca.crt'),
    logs,
    stderr,
    memory: () => processMemory(child.pid),
    stop: () => stopChild(child),
  };
}

async function startMitmdump(dir, upstreamCaFile) {
  const mitmdump = findBinary('mitmdump');
  if (mitmdump === undefined) throw new Error('mitmdump not found in .venv/bin nor on PATH; install the test tools with `bash .ci/run`.');
  const confdir = path.join(dir, 'mitmproxy');
  mkdirSync(confdir, { recursive: true });
  const port = await freePort();
  const [cmd, args] = pinned('proxy', mitmdump, [
    '--listen-host', '127.0.0.1',
    '--listen-port', String(port),
    '-q',
    '--set', `confdir=${confdir}`,
    '--set', `ssl_verify_upstream_trusted_ca=${upstreamCaFile}`,
  ]);
  const child = track(spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...cleanProxyEnv(), HOME: dir } }), { group: true });
  const output = tail(child.stdout);
  const errors = tail(child.stderr);
  const caFile = path.join(confdir, 'mitmproxy-ca-cert.pem');
  const deadline = Date.now() + 30_000;
  while (!(existsSync(caFile) && (await canConnect(port)))) {
    if (child.exitCode !== null) throw new Error(`mitmdump exited with ${child.exitCode}:\n${output()}${errors()}`);
    if (Date.now() > deadline) throw new Error(`mitmdump did not start within 30 s:\n${output()}${errors()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    caFile,
    output: () => output() + errors(),
    memory: () => processMemory(child.pid),
    stop: () => stopChild(child, { group: true }),
  };
}

function cleanProxyEnv() {
  const out = {};
  for (const [k, v] of Object.entries(env)) {
    if (/^(https?|all|no)_proxy$/i.test(k) || k.startsWith('AWS_') || k.startsWith('COUNTERSIGN_')) continue;
    out[k] = v;
  }
  return out;
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function startHttpProxy(target) {
  const [cmd, args] = pinned('proxy', process.execPath, [path.join(BENCH, 'httpproxy.js')]);
  const child = track(spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: env.PATH ?? '', BENCH_TARGET: target } }));
  const errors = tail(child.stderr);
  const { port } = await waitForLine(child, child.stdout, jsonLine, 'http-proxy');
  return { child, url: `http://127.0.0.1:${port}`, output: errors, memory: () => processMemory(child.pid), stop: () => stopChild(child) };
}

/** Runs bench/load.js with `config`; resolves with its JSON result. */
async function runLoad(config) {
  const [cmd, args] = pinned('load', process.execPath, [path.join(BENCH, 'load.js')]);
  const loadEnv = { PATH: env.PATH ?? '', BENCH_LOAD_CONFIG: JSON.stringify({ ...SETTINGS, ...config }) };
  const child = track(spawn(cmd, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: loadEnv }));
  const stdout = tail(child.stdout);
  const stderr = tail(child.stderr);
  const limit = SETTINGS.warmupMs + SETTINGS.durationMs + SETTINGS.latencyMs + 60_000;
  const timer = setTimeout(() => child.kill('SIGKILL'), limit);
  const code = await new Promise((resolve) => child.once('exit', (c, s) => resolve(c ?? s)));
  clearTimeout(timer);
  const result = stdout().trim().split('\n').map(jsonLine).filter(Boolean).pop();
  if (code !== 0 || result === undefined) throw new Error(`load generator exited with ${code}:\n${stderr()}${stdout()}`);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

const results = new Map(); // scenario id -> { label, load, memory? }
const failures = new Failures();

/**
 * Runs one scenario: `proxy()` starts its proxy (or returns undefined), then the load.
 * Every request must have been answered 200 and reached the upstream exactly once.
 */
async function scenario(id, label, upstream, { proxy, load, expectSessionTokens = false }) {
  if (ONLY !== undefined && !ONLY.includes(id)) return;
  process.stderr.write(`  ${label} ...`);
  const started = Date.now();
  let running;
  try {
    running = proxy === undefined ? undefined : await proxy();
    const before = await upstream.stats();
    const result = await runLoad(load(running));
    const after = await upstream.stats();
    const memory = running?.memory?.();
    const served = after.served - before.served;
    const problems = [];
    if (result.errors.count > 0) problems.push(`${result.errors.count} failed requests, e.g.\n      ${[...new Set(result.errors.samples)].join('\n      ')}`);
    if (served !== result.total) problems.push(`the client got ${result.total} answers but the upstream served ${served}`);
    if (expectSessionTokens && after.withSessionToken - before.withSessionToken !== served) {
      problems.push(`${served - (after.withSessionToken - before.withSessionToken)} requests reached the upstream without an STS session token`);
    }
    const rejected = after.rejectedAgentKey - before.rejectedAgentKey + after.rejectedNoAuth - before.rejectedNoAuth;
    if (rejected > 0) problems.push(`the upstream refused ${rejected} requests (no Authorization, or the agent's key id)`);
    if (problems.length > 0) {
      const detail = running?.logs?.() || running?.output?.() || running?.stderr?.() || '';
      throw new Error(problems.join('; ') + (detail === '' ? '' : `\n    proxy output:\n${detail.trim().split('\n').slice(-10).join('\n')}`));
    }
    results.set(id, { label, load: result, memory });
    process.stderr.write(` ${Math.round(result.throughput.rps)} req/s (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  } catch (error) {
    failures.add(label, error);
  } finally {
    await running?.stop?.();
  }
}

// ---------------------------------------------------------------------------------------------
// Output.

const fmt = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

function table(rows, header) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function printResults() {
  const rows = [];
  for (const { label, load, memory } of results.values()) {
    rows.push([
      label,
      fmt(load.throughput.rps, 0),
      fmt(load.throughput.p50),
      fmt(load.throughput.p99),
      fmt(load.latency.p50, 3),
      fmt(load.latency.p99, 3),
      String(load.total),
      memory === undefined ? '' : `${fmt(memory.rssMiB, 0)} / ${fmt(memory.peakMiB, 0)}`,
    ]);
  }
  console.log(
    table(rows, [
      'scenario',
      `req/s c=${SETTINGS.concurrency}`,
      'p50 ms',
      'p99 ms',
      'p50 ms c=1',
      'p99 ms c=1',
      'requests',
      'proxy RSS/peak MiB',
    ]),
  );

  const get = (id) => results.get(id)?.load;
  const verdicts = [];
  const ratio = (name, value, budget, pass, unit) =>
    verdicts.push([name, Number.isFinite(value) ? `${fmt(value)}${unit}` : 'n/a', budget, Number.isFinite(value) ? (pass(value) ? 'PASS' : 'FAIL') : 'n/a']);
  const cs = get('cs-https');
  const direct = get('direct-https');
  const mitm = get('mitmdump');
  const endpoint = get('cs-endpoint');
  const httpProxy = get('http-proxy');
  ratio('1. HTTPS_PROXY: added p50 over direct HTTPS (c=1)', cs && direct ? cs.latency.p50 - direct.latency.p50 : NaN, '<= 1 ms', (v) => v <= 1, ' ms');
  ratio('1. HTTPS_PROXY: throughput / direct HTTPS', cs && direct ? cs.throughput.rps / direct.throughput.rps : NaN, '>= 0.5x', (v) => v >= 0.5, 'x');
  ratio('2. HTTPS_PROXY: throughput / mitmdump', cs && mitm ? cs.throughput.rps / mitm.throughput.rps : NaN, '>= 8x', (v) => v >= 8, 'x');
  ratio('3. endpoint mode: throughput / http-proxy', endpoint && httpProxy ? endpoint.throughput.rps / httpProxy.throughput.rps : NaN, '>= 1.0x', (v) => v >= 1, 'x');
  const auditStdout = get('cs-https-audit-stdout');
  const auditRedis = get('cs-https-audit-redis');
  ratio('4. audit to Redis stream: throughput / stdout only', auditStdout && auditRedis ? auditRedis.throughput.rps / auditStdout.throughput.rps : NaN, '>= 0.9x', (v) => v >= 0.9, 'x');
  console.log('');
  console.log(table(verdicts, ['budget', 'measured', 'target', 'verdict']));

  const info = get('cs-https-info');
  const directHttp = get('direct-http');
  const notes = [];
  if (cs && direct) notes.push(`added p50 under load (c=${SETTINGS.concurrency}): ${fmt(cs.throughput.p50 - direct.throughput.p50)} ms`);
  if (cs && info) notes.push(`info audit logs to /dev/null: throughput ${fmt(info.throughput.rps / cs.throughput.rps)}x of warn level, p50 (c=1) ${fmt(info.latency.p50 - cs.latency.p50, 3)} ms more`);
  if (endpoint && directHttp) notes.push(`endpoint mode: throughput ${fmt(endpoint.throughput.rps / directHttp.throughput.rps)}x of direct HTTP, added p50 (c=1) ${fmt(endpoint.latency.p50 - directHttp.latency.p50, 3)} ms`);
  if (httpProxy && directHttp) notes.push(`http-proxy: throughput ${fmt(httpProxy.throughput.rps / directHttp.throughput.rps)}x of direct HTTP, added p50 (c=1) ${fmt(httpProxy.latency.p50 - directHttp.latency.p50, 3)} ms`);
  if (notes.length > 0) console.log(`\n${notes.map((n) => `  ${n}`).join('\n')}`);
}

// ---------------------------------------------------------------------------------------------
// Main.

async function main() {
  console.log('countersign bench');
  console.log(`  node ${process.version}, ${cores} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), ${os.platform()} ${os.release()}`);
  console.log(
    `  ${SETTINGS.concurrency} concurrent keep-alive connections, ${SETTINGS.warmupMs} ms warm-up, ${SETTINGS.durationMs} ms timed; then 1 connection for ${SETTINGS.latencyMs} ms (c=1 columns)`,
  );
  console.log(
    PIN
      ? `  pinned: proxy under test on CPU ${CPU.proxy}; load generator and upstream on CPU ${CPU.load} (BENCH_PIN=0 to unpin)`
      : '  not pinned: every process shares every core',
  );
  console.log('  GET of a 1 KiB object from a local Node upstream; every request must answer 200\n');

  const dirs = benchHome('countersign-bench-');
  try {
    process.stderr.write('setting up: moto (STS), agent key, upstream\n');
    const moto = await startMoto(track);
    writeFileSync(
      path.join(dirs.policies, 'bench.yaml'),
      [
        'apiVersion: countersign.dev/v1alpha1',
        'kind: Policy',
        'rules:',
        '  - name: bench-read',
        '    effect: allow',
        '    agents: ["bench"]',
        '    actions: ["s3:GetObject"]',
        '    resources: ["arn:aws:s3:::bench/*"]',
        '    credentials:',
        `      roleArn: "${moto.roleArn}"`,
        '',
      ].join('\n'),
    );
    const agent = JSON.parse(cli(dirs, ['agents', 'issue', 'bench', '--json', '--force']));
    const upstream = await startUpstream(dirs.root, agent.accessKeyId, PIN ? { cpu: CPU.upstream } : {});
    const httpsUpstream = `https://127.0.0.1:${upstream.httpsPort}`;
    const httpUpstream = `http://127.0.0.1:${upstream.httpPort}`;
    const csHttps = { upstreamOverrides: `s3=${httpsUpstream},sts=${moto.endpoint}`, upstreamCaFile: upstream.caFile };
    const csHttp = { upstreamOverrides: `s3=${httpUpstream},sts=${moto.endpoint}`, upstreamCaFile: upstream.caFile };
    const objectPath = `/bench/${OBJECT_KEY}`;

    process.stderr.write('scenarios:\n');
    await scenario('direct-https', 'direct HTTPS (no proxy)', upstream, {
      load: () => ({ kind: 'direct', url: `${httpsUpstream}${objectPath}`, caFile: upstream.caFile, key: DIRECT_KEY }),
    });
    await scenario('cs-https', 'countersign HTTPS_PROXY', upstream, {
      proxy: () => startCountersign(dirs, moto, { logLevel: 'warn', ...csHttps }),
      load: (cs) => ({ kind: 'proxy', proxyUrl: cs.url, url: `https://bench.s3.us-east-1.amazonaws.com/${OBJECT_KEY}`, caFile: cs.caFile, key: agent }),
      expectSessionTokens: true,
    });
    await scenario('cs-https-info', 'countersign HTTPS_PROXY, info logs > /dev/null', upstream, {
      proxy: () => startCountersign(dirs, moto, { logLevel: 'info', logsToDevNull: true, ...csHttps }),
      load: (cs) => ({ kind: 'proxy', proxyUrl: cs.url, url: `https://bench.s3.us-east-1.amazonaws.com/${OBJECT_KEY}`, caFile: cs.caFile, key: agent }),
      expectSessionTokens: true,
    });
    // Audit cost: stdout only vs stdout plus the durable Redis stream (both at info, stdout to /dev/null).
    const wantsAudit = ONLY === undefined || ONLY.some((id) => id.startsWith('cs-https-audit'));
    const redis = wantsAudit ? await startRedis(PIN ? { cpu: CPU.load } : {}) : undefined;
    for (const [id, label, extraEnv] of [
      ['cs-https-audit-stdout', 'countersign HTTPS_PROXY, audit to stdout only', { COUNTERSIGN_AUDIT_SINK: 'stdout' }],
      ['cs-https-audit-redis', 'countersign HTTPS_PROXY, audit to stdout + Redis stream', { COUNTERSIGN_REDIS_URL: redis?.url ?? '' }],
    ]) {
      await scenario(id, label, upstream, {
        proxy: () => startCountersign(dirs, moto, { logLevel: 'info', logsToDevNull: true, extraEnv, ...csHttps }),
        load: (cs) => ({ kind: 'proxy', proxyUrl: cs.url, url: `https://bench.s3.us-east-1.amazonaws.com/${OBJECT_KEY}`, caFile: cs.caFile, key: agent }),
        expectSessionTokens: true,
      });
    }
    await redis?.stop();
    await scenario('mitmdump', 'mitmdump HTTPS_PROXY', upstream, {
      proxy: () => startMitmdump(dirs.root, upstream.caFile),
      load: (mitm) => ({ kind: 'proxy', proxyUrl: mitm.url, url: `${httpsUpstream}${objectPath}`, caFile: mitm.caFile, key: DIRECT_KEY }),
    });
    await scenario('direct-http', 'direct HTTP (no proxy)', upstream, {
      load: () => ({ kind: 'plain', url: `${httpUpstream}${objectPath}`, key: DIRECT_KEY }),
    });
    await scenario('http-proxy', 'http-proxy passthrough', upstream, {
      proxy: () => startHttpProxy(httpUpstream),
      load: (hp) => ({ kind: 'plain', url: `${hp.url}${objectPath}`, key: DIRECT_KEY }),
    });
    await scenario('cs-endpoint', 'countersign endpoint mode', upstream, {
      proxy: () => startCountersign(dirs, moto, { logLevel: 'warn', ...csHttp }),
      load: (cs) => ({ kind: 'plain', url: `${cs.url}${objectPath}`, key: agent }),
      expectSessionTokens: true,
    });
    console.log('');
    printResults();
  } finally {
    await endRun(dirs);
  }
  failures.report('scenario(s)');
}

main().catch((error) => {
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  killTracked();
  process.exit(1);
});
