// Helpers for bench/approvals.js (the approvals budgets): child-process tracking and clean-up,
// redis-server, `countersign serve` with its three listeners, /proc readings (RSS, CPU time,
// file-descriptor limits), SigV4-signed agent requests, percentiles and tables.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { findBinary, freePort, repoRoot } from './moto.js';
import { Sha256 } from './sha256.js';

export const CLI = path.join(repoRoot, 'dist', 'cli', 'main.js');
export const BENCH = path.join(repoRoot, 'bench');

// ---------------------------------------------------------------------------------------------
// Child processes: every one is tracked and killed on exit, error or signal.

const tracked = new Set();

export function track(child, { group = false } = {}) {
  const entry = { child, group };
  tracked.add(entry);
  child.once('exit', () => tracked.delete(entry));
  child.once('error', () => tracked.delete(entry));
  return child;
}

export function killTracked() {
  for (const { child, group } of tracked) {
    try {
      if (group && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

export async function stopChild(child, { group = false } = {}) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const kill = (signal) => {
    try {
      if (group) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // already gone
    }
  };
  kill('SIGTERM');
  const timer = setTimeout(() => kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

export async function stopAllTracked() {
  for (const { child, group } of [...tracked]) await stopChild(child, { group });
}

/** Resolves with the first value `match` returns (not undefined) for the text `stream` wrote so far. */
export function waitForOutput(child, stream, match, what, timeoutMs = 20_000) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => finish(new Error(`${what} did not start within ${timeoutMs / 1000} s:\n${seen.slice(-2000)}`)), timeoutMs);
    const onData = (data) => {
      seen += data.toString();
      const value = match(seen);
      if (value !== undefined) finish(undefined, value);
    };
    const onExit = (code) => finish(new Error(`${what} exited with ${code} before it was ready:\n${seen.slice(-2000)}`));
    function finish(error, value) {
      clearTimeout(timer);
      stream.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(value);
    }
    stream.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Keeps the last few KiB a stream wrote, for error messages. */
export function tail(stream) {
  let text = '';
  stream?.on('data', (d) => (text = (text + d.toString()).slice(-4000)));
  return () => text;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// CPU pinning and limits.

/** [command, args] for `cmd args` pinned to `cpu` (when given and taskset exists), with `nofile` raised (prlimit). */
export function wrapped(cmd, args, { cpu, nofile } = {}) {
  let out = [cmd, args];
  if (nofile !== undefined) out = ['prlimit', [`--nofile=${nofile}:${nofile}`, '--', out[0], ...out[1]]];
  if (cpu !== undefined) out = ['taskset', ['-c', cpu, out[0], ...out[1]]];
  return out;
}

export const hasTaskset = () => findBinary('taskset') !== undefined;

export const cores = os.availableParallelism?.() ?? os.cpus().length;

/** Pin the process under test and the rest to separate cores: not turned off (BENCH_PIN=0), 2+ cores, taskset present. */
export const canPin = () => process.env.BENCH_PIN !== '0' && cores >= 2 && hasTaskset();

const benchHomes = new Set();

/**
 * For a bench's main process: on exit, kill every tracked child and remove any bench home still
 * there, however the run ends; SIGINT and SIGTERM do the same and exit 130.
 */
export function cleanUpOnExit() {
  process.on('exit', () => {
    killTracked();
    for (const root of benchHomes) rmSync(root, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      killTracked();
      process.exit(130);
    });
  }
}

/** A temporary countersign home for one run: { root, data, policies } (policies created). */
export function benchHome(prefix) {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  benchHomes.add(root);
  const dirs = { root, data: path.join(root, 'data'), policies: path.join(root, 'policies') };
  mkdirSync(dirs.policies);
  return dirs;
}

/** Ends a run: stops every tracked child, then removes its home. */
export async function endRun(dirs) {
  await stopAllTracked();
  rmSync(dirs.root, { recursive: true, force: true });
  benchHomes.delete(dirs.root);
}

/** Scenarios that broke: each noted as it fails, all listed at the end with exit code 1. */
export class Failures {
  #failed = [];

  add(label, error) {
    this.#failed.push({ label, message: error instanceof Error ? error.message : String(error) });
    process.stderr.write(' FAILED\n');
  }

  /** Lists the failures (`what` names the unit: "scenario(s)"), if any, and sets the exit code. */
  report(what) {
    if (this.#failed.length === 0) return;
    console.error(`\n${this.#failed.length} ${what} failed:`);
    for (const { label, message } of this.#failed) console.error(`  ${label}: ${message}`);
    process.exitCode = 1;
  }
}

export const hasPrlimit = () => findBinary('prlimit') !== undefined;

/** This process's open-files limits ({ soft, hard }), from /proc. */
export function nofileLimits() {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const [soft, hard] = line.trim().split(/\s+/).slice(3, 5).map((v) => (v === 'unlimited' ? Infinity : Number(v)));
    return { soft, hard };
  } catch {
    return { soft: NaN, hard: NaN };
  }
}

// ---------------------------------------------------------------------------------------------
// /proc readings.

/** VmRSS and VmHWM (peak RSS) in MiB, or undefined off Linux / once gone. */
export function processMemory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

export const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds the process has used (from /proc/PID/stat), NaN when unknown. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS; // utime, stime (fields 14, 15)
  } catch {
    return NaN;
  }
}

/** Busy CPU seconds of the whole machine so far (/proc/stat: user, nice, system, irq, softirq, steal). */
function machineBusySeconds() {
  try {
    const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = values.map(Number);
    return (user + nice + system + irq + softirq + steal) / TICKS;
  } catch {
    return NaN;
  }
}

/** CPU seconds of this process and everything under it (live descendants, plus reaped ones through cutime/cstime). */
function ownTreeSeconds() {
  const parents = new Map();
  const cpu = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(fields[1]));
      cpu.set(Number(entry), (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / TICKS);
    } catch {
      // gone
    }
  }
  const ours = (pid) => {
    for (let p = pid, hops = 0; p > 1 && hops < 50; p = parents.get(p) ?? 0, hops++) if (p === process.pid) return true;
    return false;
  };
  let total = 0;
  for (const [pid, seconds] of cpu) if (ours(pid)) total += seconds;
  return total;
}

/**
 * How much CPU everything else on the machine took while `measure` ran (other sessions' tests,
 * builds): a mark to read the numbers by. Call start(), then stop() -> cores used by others.
 */
export function foreignLoad() {
  const started = { at: performance.now(), busy: machineBusySeconds(), ours: ownTreeSeconds() };
  return () => {
    const seconds = (performance.now() - started.at) / 1000;
    const busy = machineBusySeconds() - started.busy;
    const ours = ownTreeSeconds() - started.ours;
    return Math.max(0, (busy - ours) / seconds);
  };
}

// ---------------------------------------------------------------------------------------------
// redis-server.

function redisAnswers(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write('PING\r\n'));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
  });
}

/** redis-server from PATH on a free port, no persistence. */
export async function startRedis({ cpu } = {}) {
  if (findBinary('redis-server') === undefined) throw new Error('redis-server not found on PATH (bash .ci/run installs it).');
  const port = await freePort();
  const [cmd, args] = wrapped('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { cpu });
  const child = track(spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] }));
  const errors = tail(child.stderr);
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start:\n${errors()}`);
    await sleep(50);
  }
  return { child, port, url: `redis://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

// ---------------------------------------------------------------------------------------------
// The S3 stand-in (bench/upstream.js).

/**
 * bench/upstream.js on HTTPS (a leaf of a throwaway CA, written to `dir`) and plain HTTP,
 * refusing requests that carry `agentKeyId`; `cpu` pins it. stats() reads its counters.
 */
export async function startUpstream(dir, agentKeyId, { cpu } = {}) {
  const { createCertificateAuthority, issueLeafCertificate } = await import('../dist/edge/x509.js');
  const ca = createCertificateAuthority('countersign bench upstream CA');
  const leaf = issueLeafCertificate(ca, '127.0.0.1');
  const caFile = path.join(dir, 'upstream-ca.pem');
  writeFileSync(caFile, ca.certPem);
  writeFileSync(path.join(dir, 'upstream.crt'), leaf.certPem);
  writeFileSync(path.join(dir, 'upstream.key'), leaf.keyPem, { mode: 0o600 });
  const [cmd, args] = wrapped(process.execPath, [path.join(BENCH, 'upstream.js')], { cpu });
  const child = track(
    spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '',
        BENCH_AGENT_KEY_ID: agentKeyId,
        BENCH_CERT_FILE: path.join(dir, 'upstream.crt'),
        BENCH_KEY_FILE: path.join(dir, 'upstream.key'),
      },
    }),
  );
  const errors = tail(child.stderr);
  const { httpsPort, httpPort } = await waitForOutput(child, child.stdout, (seen) => seen.split('\n').map(jsonLine).find(Boolean), 'bench upstream');
  return {
    child,
    caFile,
    httpsPort,
    httpPort,
    errors,
    async stats() {
      const res = await fetch(`http://127.0.0.1:${httpPort}/__stats`);
      return res.json();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// countersign.

export function countersignEnv(dirs, extra) {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? dirs.root,
    COUNTERSIGN_LISTEN: '127.0.0.1:0',
    COUNTERSIGN_ADMIN_LISTEN: '127.0.0.1:0',
    COUNTERSIGN_REVIEW_LISTEN: '127.0.0.1:0',
    COUNTERSIGN_DATA_DIR: dirs.data,
    COUNTERSIGN_POLICY_DIR: dirs.policies,
    COUNTERSIGN_LOG_LEVEL: 'warn',
    AWS_REGION: 'us-east-1',
    AWS_CONFIG_FILE: path.join(dirs.root, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(dirs.root, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

/** `countersign CLI ARGS` against `dirs` (agents issue, reviewers token); `cliPath` picks the build (default: this checkout's dist/). */
export function cli(dirs, args, extraEnv = {}, cliPath = CLI) {
  return execFileSync(process.execPath, [cliPath, ...args], { env: countersignEnv(dirs, extraEnv), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * `countersign serve` with `env` on top of the bench defaults. `nodeArgs` go before the CLI
 * (e.g. --import for the loop monitor, --cpu-prof); `cpu` pins it; `nofile` raises its open-files
 * limit. Resolves once it printed its listeners: proxy, admin (/healthz) and review.
 */
export async function startCountersign(dirs, env, { nodeArgs = [], cpu, nofile, name = 'countersign', auditRecords = false } = {}) {
  const [cmd, args] = wrapped(process.execPath, [...nodeArgs, CLI, 'serve'], { cpu, nofile });
  const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: countersignEnv(dirs, env) }));
  const logs = tail(child.stdout);
  // auditRecords: keep the `event: "request"` audit lines (info level), by approval id.
  const records = new Map();
  if (auditRecords) {
    let partial = '';
    child.stdout.on('data', (d) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop();
      for (const line of lines) {
        const record = jsonLine(line);
        // The per-request audit line (event "request", or "request.forwarded"/"request.failed").
        if (record?.approvalId !== undefined && record.durationsMs !== undefined && String(record.event).startsWith('request')) records.set(record.approvalId, record);
      }
    });
  }
  const stderr = tail(child.stderr);
  const ports = await waitForOutput(child, child.stderr, (text) => {
    const proxy = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1];
    const admin = /readiness: http:\/\/127\.0\.0\.1:(\d+)\//.exec(text)?.[1];
    const review = /decide at: http:\/\/127\.0\.0\.1:(\d+)\//.exec(text)?.[1];
    return proxy && admin && review ? { proxy: Number(proxy), admin: Number(admin), review: Number(review) } : undefined;
  }, name);
  return {
    name,
    child,
    pid: child.pid,
    port: ports.proxy,
    url: `http://127.0.0.1:${ports.proxy}`,
    adminUrl: `http://127.0.0.1:${ports.admin}`,
    reviewUrl: `http://127.0.0.1:${ports.review}`,
    output: () => `${logs()}${stderr()}`,
    /** The audit record of the request an approval let go (with auditRecords). */
    auditFor: (approvalId) => records.get(approvalId),
    memory: () => processMemory(child.pid),
    cpu: () => cpuSeconds(child.pid),
    stop: () => stopChild(child),
  };
}

// ---------------------------------------------------------------------------------------------
// Agent requests: SigV4-signed S3 GETs, as an SDK sends them in endpoint mode.

/** A signer for S3 with `key` ({ accessKeyId, secretAccessKey }). */
export function s3Signer(key) {
  return new SignatureV4({ credentials: key, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: true });
}

/** Signed headers for `GET http://host:port/PATH` (endpoint mode: path style, the bucket first). */
export async function signedGet(signer, port, pathname) {
  const signed = await signer.sign({
    method: 'GET',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port,
    path: pathname,
    query: {},
    headers: { host: `127.0.0.1:${port}`, 'user-agent': 'countersign-approvals-bench' },
  });
  return signed.headers;
}

// ---------------------------------------------------------------------------------------------
// Numbers and tables.

export function percentiles(values) {
  const sorted = Float64Array.from(values).sort();
  const pct = (p) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]);
  return { count: sorted.length, p50: pct(50), p99: pct(99), max: sorted.length === 0 ? NaN : sorted[sorted.length - 1], min: sorted[0] ?? NaN };
}

export const fmt = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

export function table(rows, header) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export const jsonLine = (line) => {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
};
