// `npm run bench`: countersign's throughput, latency, CPU and GC against its contenders and
// against a baseline build of itself, in one run, on this machine. See bench/README.md for what
// each scenario measures and how to read the ratios.
//
// Processes: this orchestrator; moto_server (STS only, idle after the first AssumeRole); the
// bench upstream (bench/upstream.js: S3 GetObject and DynamoDB GetItem); the proxy under test
// (countersign now, countersign at the baseline commit, mitmdump, aws-sigv4-proxy, http-proxy
// or none); the load generator (bench/load.js), one per scenario. With taskset and 2+ cores the
// proxy under test runs on CPU 1 and the load generator and upstream on CPU 0, the same for
// every scenario (BENCH_PIN=0 turns pinning off).
//
// Exit code: 0 when every scenario ran with every request answered 200 (budgets are reported,
// not asserted); 1 when a scenario failed.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchHome, canPin, cleanUpOnExit, CLI, cli, cores, countersignEnv, endRun, Failures, foreignLoad, killTracked, processMemory, startRedis, startUpstream, stopChild, tail, track, waitForOutput } from './approvals-support.js';
import { buildBaseline, describeWorkingTree, resolveBaseline } from './baseline.js';
import { findBinary, freePort, repoRoot, startMoto } from './moto.js';
import { printReport } from './run-report.js';
import { sigv4ProxyBinary, startSigv4Proxy } from './sigv4-proxy.js';

const env = process.env;
const SETTINGS = {
  concurrency: Number(env.BENCH_CONCURRENCY ?? 64),
  warmupMs: Number(env.BENCH_WARMUP_MS ?? 1500),
  durationMs: Number(env.BENCH_DURATION_MS ?? 5000),
  latencyMs: Number(env.BENCH_LATENCY_MS ?? 2000),
  rounds: Math.max(1, Number(env.BENCH_ROUNDS ?? 1)),
};
/** BENCH_ONLY=id,id runs only those scenarios (ids in bench/README.md; countersign ones run for the baseline build too). */
const ONLY = env.BENCH_ONLY?.split(',').map((s) => s.trim());
const GC = env.BENCH_GC !== '0';
const BENCH = path.join(repoRoot, 'bench');
const OBJECT_KEY = 'obj-1k'; // one key: one session policy, so countersign mints once and caches
const DIRECT_KEY = { accessKeyId: 'AKIABENCHDIRECTCLIENT', secretAccessKey: 'bench-direct-client-secret' };

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
// GC of the Node processes under test: bench/gc-monitor.js preloaded (no src/ change).

let gcFiles = 0;

/** Node flags and env that make a Node process record its GCs, and a reader for them. */
function gcRecorder(root) {
  if (!GC) return { nodeArgs: [], env: {}, events: () => undefined };
  const file = path.join(root, `gc-${++gcFiles}.log`);
  return {
    nodeArgs: ['--import', pathToFileURL(path.join(BENCH, 'gc-monitor.js')).href],
    env: { BENCH_GC_FILE: file },
    events: () => {
      if (!existsSync(file)) return [];
      return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => {
        const [at, pauseMs, kind] = line.split(' ');
        return { at: Number(at), pauseMs: Number(pauseMs), kind };
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The builds of countersign under test: this checkout's dist/ ("now") and, unless
// BENCH_BASELINE=none, the baseline commit built in a cache directory (bench/baseline.js).

/** Sets up one build: its own data directory (CA, agent registry, audit log), the shared policies, an agent key issued by its own CLI. */
function prepareBuild(id, name, cliPath, dirs) {
  const data = path.join(dirs.root, `data-${id}`);
  const buildDirs = { root: dirs.root, data, policies: dirs.policies };
  let issued;
  try {
    issued = cli(buildDirs, ['agents', 'issue', 'bench', '--json', '--force'], {}, cliPath);
  } catch (error) {
    if (!/--force/.test(String(error.stderr ?? error.message))) throw error;
    issued = cli(buildDirs, ['agents', 'issue', 'bench', '--json'], {}, cliPath); // builds before `--force` existed
  }
  return { id, name, cli: cliPath, dirs: buildDirs, agent: JSON.parse(issued) };
}

// ---------------------------------------------------------------------------------------------
// The processes under test.

/** `countersign serve` of `build`; `logsToDevNull` sends its stdout (the JSON logs) to /dev/null. */
async function startCountersign(build, moto, { logLevel, upstreamOverrides, upstreamCaFile, logsToDevNull = false, extraEnv = {} }) {
  // BENCH_CS_NODE_ARGS: extra node flags for `serve`, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  // (node 20 refuses --cpu-prof in NODE_OPTIONS).
  const nodeArgs = (env.BENCH_CS_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const gc = gcRecorder(build.dirs.root);
  const [cmd, args] = pinned('proxy', process.execPath, [...gc.nodeArgs, ...nodeArgs, build.cli, 'serve']);
  const child = track(
    spawn(cmd, args, {
      stdio: ['ignore', logsToDevNull ? 'ignore' : 'pipe', 'pipe'],
      env: countersignEnv(build.dirs, {
        AWS_ACCESS_KEY_ID: moto.admin.accessKeyId,
        AWS_SECRET_ACCESS_KEY: moto.admin.secretAccessKey,
        COUNTERSIGN_LOG_LEVEL: logLevel,
        COUNTERSIGN_UPSTREAM_OVERRIDES: upstreamOverrides,
        COUNTERSIGN_UPSTREAM_CA_FILE: upstreamCaFile,
        ...gc.env,
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
    pid: child.pid,
    port,
    url: `http://127.0.0.1:${port}`,
    caFile: path.join(build.dirs.data, 'ca.crt'),
    logs,
    stderr,
    memory: () => processMemory(child.pid),
    gcEvents: gc.events,
    stop: () => stopChild(child),
  };
}

/** mitmdump intercepting TLS with its CA, running bench/mitm-addon.py (one header rewritten per request). */
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
    '-s', path.join(BENCH, 'mitm-addon.py'),
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
    pid: child.pid,
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

async function startHttpProxy(root, target) {
  const gc = gcRecorder(root);
  const [cmd, args] = pinned('proxy', process.execPath, [...gc.nodeArgs, path.join(BENCH, 'httpproxy.js')]);
  const child = track(spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: env.PATH ?? '', BENCH_TARGET: target, ...gc.env } }));
  const errors = tail(child.stderr);
  const { port } = await waitForLine(child, child.stdout, jsonLine, 'http-proxy');
  return { child, pid: child.pid, url: `http://127.0.0.1:${port}`, output: errors, memory: () => processMemory(child.pid), gcEvents: gc.events, stop: () => stopChild(child) };
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

/** id -> build id ('now', 'baseline', '-' for the others) -> { def, build, label, runs: [{ load, memory, gc, others, upstreamConnections }] } */
const results = new Map();
const failures = new Failures();

/** GCs inside the timed window: { count, minor, major, pauseMs, maxPauseMs }, or undefined when not recorded. */
function gcInWindow(events, { startMs, endMs }) {
  if (events === undefined) return undefined;
  const inside = events.filter((e) => e.at >= startMs && e.at <= endMs);
  return {
    count: inside.length,
    minor: inside.filter((e) => e.kind === 'minor').length,
    major: inside.filter((e) => e.kind === 'major').length,
    pauseMs: inside.reduce((sum, e) => sum + e.pauseMs, 0),
    maxPauseMs: inside.reduce((max, e) => Math.max(max, e.pauseMs), 0),
  };
}

/**
 * Runs one scenario once: `def.start(build)` starts its proxy (or none), then the load. Every
 * request must have been answered 200 and reached the upstream exactly once, re-signed.
 */
async function runScenario(def, build, upstream) {
  const label = build === undefined ? def.label : `${def.label}${build.id === 'now' ? '' : ` [${build.name}]`}`;
  process.stderr.write(`  ${label} ...`);
  const started = Date.now();
  let running;
  try {
    running = def.start === undefined ? undefined : await def.start(build);
    const before = await upstream.stats();
    const others = foreignLoad();
    const watch = { upstream: upstream.child.pid, ...(running?.pid !== undefined && { proxy: running.pid }) };
    const result = await runLoad({ ...def.load(running, build), workload: def.workload, watch });
    const otherCores = others();
    const after = await upstream.stats();
    const memory = running?.memory?.();
    const served = after.served - before.served;
    const problems = [];
    if (result.errors.count > 0) problems.push(`${result.errors.count} failed requests, e.g.\n      ${[...new Set(result.errors.samples)].join('\n      ')}`);
    if (served !== result.total) problems.push(`the client got ${result.total} answers but the upstream served ${served}`);
    if (def.sessionTokens && after.withSessionToken - before.withSessionToken !== served) {
      problems.push(`${served - (after.withSessionToken - before.withSessionToken)} requests reached the upstream without a session token`);
    }
    if (def.rewritten && after.withRewrittenHeader - before.withRewrittenHeader !== served) {
      problems.push(`${served - (after.withRewrittenHeader - before.withRewrittenHeader)} requests reached the upstream without the addon's header`);
    }
    const rejected = after.rejectedAgentKey - before.rejectedAgentKey + after.rejectedNoAuth - before.rejectedNoAuth;
    if (rejected > 0) problems.push(`the upstream refused ${rejected} requests (no Authorization, or the agent's key id)`);
    if (problems.length > 0) {
      const detail = running?.logs?.() || running?.output?.() || running?.stderr?.() || '';
      throw new Error(problems.join('; ') + (detail === '' ? '' : `\n    proxy output:\n${detail.trim().split('\n').slice(-10).join('\n')}`));
    }
    await running?.stop?.(); // flushes the GC records
    const gc = gcInWindow(running?.gcEvents?.(), result.throughput.window);
    running = undefined;
    const key = build?.id ?? '-';
    if (!results.has(def.id)) results.set(def.id, new Map());
    const byBuild = results.get(def.id);
    if (!byBuild.has(key)) byBuild.set(key, { def, build, label, runs: [] });
    byBuild.get(key).runs.push({ load: result, memory, gc, others: otherCores, upstreamConnections: after.connections - before.connections });
    process.stderr.write(` ${Math.round(result.throughput.rps)} req/s (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  } catch (error) {
    failures.add(label, error);
  } finally {
    await running?.stop?.();
  }
}

/** The scenario definitions, in the order they run: each group's contenders back to back. */
function scenarios({ moto, upstream, redis, sigv4Proxy, builds, root }) {
  const httpsUpstream = `https://127.0.0.1:${upstream.httpsPort}`;
  const httpUpstream = `http://127.0.0.1:${upstream.httpPort}`;
  const overrides = (origin) => ({ upstreamOverrides: `s3=${origin},dynamodb=${origin},sts=${moto.endpoint}`, upstreamCaFile: upstream.caFile });
  const csHttps = overrides(httpsUpstream);
  const csHttp = overrides(httpUpstream);
  const nowAgent = builds[0].agent;
  const workloads = {
    s3: { prefix: '', label: 'S3 GetObject 1 KiB', path: `/bench/${OBJECT_KEY}`, viaProxy: `https://bench.s3.us-east-1.amazonaws.com/${OBJECT_KEY}`, service: 's3' },
    dynamodb: { prefix: 'ddb-', label: 'DynamoDB GetItem', path: '/', viaProxy: 'https://dynamodb.us-east-1.amazonaws.com/', service: 'dynamodb' },
  };
  const defs = [];
  for (const [workload, w] of Object.entries(workloads)) {
    const add = (id, label, def) => defs.push({ id: `${w.prefix}${id}`, label: `${w.label}: ${label}`, workload, ...def });
    const countersign = (options) => (build) => startCountersign(build, moto, options);
    add('direct-https', 'direct HTTPS (no proxy)', { load: () => ({ kind: 'direct', url: `${httpsUpstream}${w.path}`, caFile: upstream.caFile, key: DIRECT_KEY }) });
    add('cs-https', 'countersign HTTPS_PROXY', {
      countersign: true,
      start: countersign({ logLevel: 'warn', ...csHttps }),
      load: (cs, build) => ({ kind: 'proxy', proxyUrl: cs.url, url: w.viaProxy, caFile: cs.caFile, key: build.agent }),
      sessionTokens: true,
    });
    add('mitmdump', 'mitmdump HTTPS_PROXY, one-header addon', {
      start: () => startMitmdump(root, upstream.caFile),
      load: (mitm) => ({ kind: 'proxy', proxyUrl: mitm.url, url: `${httpsUpstream}${w.path}`, caFile: mitm.caFile, key: DIRECT_KEY }),
      rewritten: true,
    });
    if (workload === 's3') {
      // Audit cost: the default durable log (file) and the Redis stream vs stdout only, all at info with stdout to /dev/null.
      for (const [id, label, extraEnv] of [
        ['cs-https-info', 'countersign HTTPS_PROXY, info logs > /dev/null (default file audit)', {}],
        ['cs-https-audit-stdout', 'countersign HTTPS_PROXY, audit to stdout only', { COUNTERSIGN_AUDIT_SINK: 'stdout' }],
        ['cs-https-audit-redis', 'countersign HTTPS_PROXY, audit to stdout + Redis stream', { COUNTERSIGN_REDIS_URL: redis?.url ?? '' }],
      ]) {
        add(id, label, {
          countersign: true,
          start: countersign({ logLevel: 'info', logsToDevNull: true, extraEnv, ...csHttps }),
          load: (cs, build) => ({ kind: 'proxy', proxyUrl: cs.url, url: w.viaProxy, caFile: cs.caFile, key: build.agent }),
          sessionTokens: true,
        });
      }
    }
    add('direct-http', 'direct HTTP (no proxy)', { load: () => ({ kind: 'plain', url: `${httpUpstream}${w.path}`, key: DIRECT_KEY }) });
    if (workload === 's3') {
      add('http-proxy', 'http-proxy passthrough', { start: () => startHttpProxy(root, httpUpstream), load: (hp) => ({ kind: 'plain', url: `${hp.url}${w.path}`, key: DIRECT_KEY }) });
    }
    add('cs-endpoint', 'countersign endpoint mode', {
      countersign: true,
      start: countersign({ logLevel: 'warn', ...csHttp }),
      load: (cs, build) => ({ kind: 'plain', url: `${cs.url}${w.path}`, key: build.agent }),
      sessionTokens: true,
    });
    add('sigv4-proxy', 'aws-sigv4-proxy (endpoint)', {
      start: async () => startSigv4Proxy(sigv4Proxy().binary, { service: w.service, upstream: httpUpstream, cpu: PIN ? CPU.proxy : undefined }),
      load: (peer) => ({ kind: 'plain', url: `${peer.url}${w.path}`, key: nowAgent }),
      sessionTokens: true,
    });
  }
  return defs.filter((d) => ONLY === undefined || ONLY.includes(d.id));
}

function policyYaml(moto) {
  return [
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
    '  - name: bench-item',
    '    effect: allow',
    '    agents: ["bench"]',
    '    actions: ["dynamodb:GetItem"]',
    `    resources: ["arn:aws:dynamodb:us-east-1:${moto.accountId}:table/bench"]`,
    '    credentials:',
    `      roleArn: "${moto.roleArn}"`,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main.

const loadAverage = () => os.loadavg().map((l) => l.toFixed(2)).join(', ');

async function main() {
  console.log('countersign bench');
  console.log(`  node ${process.version}, ${cores} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), ${os.platform()} ${os.release()}; load average at start ${loadAverage()}`);
  console.log(
    `  ${SETTINGS.concurrency} concurrent keep-alive connections, ${SETTINGS.warmupMs} ms warm-up, ${SETTINGS.durationMs} ms timed; then 1 connection for ${SETTINGS.latencyMs} ms (c=1 columns); ${SETTINGS.rounds} round(s), the fastest run of each scenario counts`,
  );
  console.log(
    PIN
      ? `  pinned: proxy under test on CPU ${CPU.proxy}; load generator and upstream on CPU ${CPU.load} (BENCH_PIN=0 to unpin)`
      : '  not pinned: every process shares every core',
  );
  console.log('  S3 GetObject (1 KiB) and DynamoDB GetItem from a local Node upstream; every request must answer 200');

  const tree = describeWorkingTree();
  console.log(`  countersign now: dist/ of this checkout (HEAD ${tree.head}${tree.changed > 0 ? `, ${tree.changed} uncommitted change(s) under src/ or the package files` : ''})`);
  const baseline = resolveBaseline();
  console.log(baseline === undefined ? '  baseline: none (BENCH_BASELINE=none)' : `  baseline: ${baseline.short} "${baseline.subject}" (${baseline.why})`);
  console.log('');

  const dirs = benchHome('countersign-bench-');
  try {
    process.stderr.write('setting up: moto (STS), builds, agent keys, upstream\n');
    const moto = await startMoto(track);
    writeFileSync(path.join(dirs.policies, 'bench.yaml'), policyYaml(moto));
    const builds = [prepareBuild('now', 'countersign', CLI, dirs)];
    const anyCountersign = ONLY === undefined || ONLY.some((id) => /(^|-)cs-/.test(id));
    if (baseline !== undefined && anyCountersign) {
      try {
        const built = buildBaseline(baseline);
        builds.push(prepareBuild('baseline', `baseline ${baseline.short}`, built.cli, dirs));
        process.stderr.write(`  baseline ${baseline.short}: ${built.cached ? 'cached build' : 'built'} in ${built.dir} (node_modules ${built.nodeModules})\n`);
      } catch (error) {
        failures.add(`baseline ${baseline.short}`, error);
      }
    }
    const upstream = await startUpstream(dirs.root, builds.map((b) => b.agent.accessKeyId).join(','), PIN ? { cpu: CPU.upstream } : {});
    let peer;
    if (ONLY === undefined || ONLY.some((id) => id.endsWith('sigv4-proxy'))) {
      try {
        peer = sigv4ProxyBinary();
        process.stderr.write(`  aws-sigv4-proxy: ${peer.binary} (from ${path.basename(peer.tarball)}, sha256 ${peer.sha256.slice(0, 12)})\n`);
      } catch (error) {
        peer = { error };
      }
    }
    const sigv4Proxy = () => {
      if (peer?.error !== undefined) throw peer.error;
      return peer;
    };
    const wantsRedis = ONLY === undefined || ONLY.includes('cs-https-audit-redis');
    const redis = wantsRedis ? await startRedis(PIN ? { cpu: CPU.load } : {}) : undefined;
    const defs = scenarios({ moto, upstream, redis, sigv4Proxy, builds, root: dirs.root });

    for (let round = 0; round < SETTINGS.rounds; round++) {
      process.stderr.write(SETTINGS.rounds > 1 ? `round ${round + 1} of ${SETTINGS.rounds}:\n` : 'scenarios:\n');
      // countersign now and baseline back to back, alternating which goes first (A B, B A, ...).
      const order = round % 2 === 0 ? builds : [...builds].reverse();
      for (const def of defs) {
        if (def.countersign) for (const build of order) await runScenario(def, build, upstream);
        else await runScenario(def, undefined, upstream);
      }
    }
    await redis?.stop();
    console.log(`  load average at end ${loadAverage()}\n`);
    printReport({ results, settings: SETTINGS, builds, baseline, pinned: PIN, peer });
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
