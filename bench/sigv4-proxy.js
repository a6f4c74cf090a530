// awslabs/aws-sigv4-proxy as a contender for endpoint mode (bench/run.js): built from the
// peer's source tarball in ../shared/peers/ (with its vendor/, so the build is offline), cached
// by the tarball's SHA-256, and started signing for the bench upstream with static test
// credentials. Nothing of the peer (source or binary) is written inside the repository.
//
// How it ships, measured as it ships: Go's http.DefaultTransport (MaxIdleConnsPerHost 2, so under
// load most upstream requests open a new connection), the whole request body read before signing,
// the whole answer read before it is written back. GOMAXPROCS follows the CPU affinity, so pinned
// to one CPU it runs on one core as countersign does.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { processMemory, stopChild, tail, track, wrapped } from './approvals-support.js';
import { findBinary, freePort, repoRoot } from './moto.js';

/** Where built peers and baselines are kept between runs (outside the repository, so no test runner or linter sees them). */
export const CACHE_DIR = process.env.BENCH_CACHE_DIR ?? path.join(os.tmpdir(), 'countersign-bench-cache');
const PEERS_DIR = process.env.BENCH_PEERS_DIR ?? path.join(repoRoot, '..', 'shared', 'peers');

/** Static test credentials the peer signs with (the upstream checks the request was re-signed, not by whom). */
export const PEER_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'AKIABENCHSIGV4PROXY0',
  AWS_SECRET_ACCESS_KEY: 'bench-sigv4-proxy-secret',
  AWS_SESSION_TOKEN: 'bench-sigv4-proxy-session-token',
};

function sha256File(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * The aws-sigv4-proxy binary, built once per tarball: `tar xzf`, then
 * `go build -mod=vendor ./cmd/aws-sigv4-proxy` with the module proxy off. Returns
 * { binary, tarball, sha256 } or throws with what is missing.
 */
export function sigv4ProxyBinary(log = (line) => process.stderr.write(`${line}\n`)) {
  const tarballName = existsSync(PEERS_DIR) ? readdirSync(PEERS_DIR).find((f) => /^aws-sigv4-proxy-.*\.tar\.gz$/.test(f)) : undefined;
  if (tarballName === undefined) throw new Error(`no aws-sigv4-proxy-*.tar.gz in ${PEERS_DIR} (BENCH_PEERS_DIR)`);
  const tarball = path.join(PEERS_DIR, tarballName);
  const sha256 = sha256File(tarball);
  const dir = path.join(CACHE_DIR, `aws-sigv4-proxy-${sha256.slice(0, 16)}`);
  const binary = path.join(dir, 'aws-sigv4-proxy');
  if (existsSync(binary)) return { binary, tarball, sha256 };
  const go = findBinary('go');
  if (go === undefined) throw new Error('go not found on PATH: it builds aws-sigv4-proxy from its source (offline, -mod=vendor)');
  mkdirSync(CACHE_DIR, { recursive: true });
  const work = mkdtempSync(path.join(CACHE_DIR, 'build-sigv4-proxy-'));
  try {
    log(`  building aws-sigv4-proxy from ${tarballName} (once per tarball; cached in ${dir})`);
    execFileSync('tar', ['xzf', tarball, '-C', work]);
    const source = readdirSync(work).map((d) => path.join(work, d)).find((d) => existsSync(path.join(d, 'cmd', 'aws-sigv4-proxy')));
    if (source === undefined) throw new Error(`${tarballName} has no cmd/aws-sigv4-proxy`);
    const out = path.join(work, 'bin', 'aws-sigv4-proxy'); // not work/aws-sigv4-proxy: that is the source directory
    execFileSync(go, ['build', '-mod=vendor', '-trimpath', '-o', out, './cmd/aws-sigv4-proxy'], {
      cwd: source,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, GOFLAGS: '-mod=vendor', GOPROXY: 'off', GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
    });
    mkdirSync(dir, { recursive: true });
    renameSync(out, binary); // atomic: a concurrent run sees a whole binary or none
  } catch (error) {
    throw new Error(`building aws-sigv4-proxy failed: ${error.stderr?.toString() || error.message}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { binary, tarball, sha256 };
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

/**
 * A Go GC trace line (GODEBUG=gctrace=1): `gc N @T s P%: A+B+C ms clock, ...`. A and C are the
 * two stop-the-world phases (sweep termination, mark termination); B is concurrent marking.
 */
const GCTRACE = /^gc \d+ @([\d.]+)s [\d.]+%: ([\d.]+)\+[\d.]+\+([\d.]+) ms clock/;

/** Wall-clock start of `pid` in ms since the epoch, from /proc (10 ms resolution), or NaN. */
function processStartEpochMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]); // field 22
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    return btime * 1000 + (startTicks / ticks) * 1000;
  } catch {
    return NaN;
  }
}

/**
 * `aws-sigv4-proxy` on a free port, signing for `service` in us-east-1 and sending to
 * `upstream` (http://127.0.0.1:PORT). `cpu` pins it. gcEvents() lists its GCs
 * ({ at: epoch ms, pauseMs, kind }) from GODEBUG=gctrace=1.
 */
export async function startSigv4Proxy(binary, { service, upstream, cpu }) {
  const target = new URL(upstream);
  const port = await freePort();
  const [cmd, args] = wrapped(binary, [
    '--port', `127.0.0.1:${port}`,
    '--host', target.host,
    '--upstream-url-scheme', target.protocol.replace(':', ''),
    '--name', service,
    '--region', 'us-east-1',
  ], { cpu });
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: os.tmpdir(),
    ...PEER_CREDENTIALS,
    AWS_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    GODEBUG: 'gctrace=1',
  };
  const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env }));
  const output = tail(child.stdout);
  const errors = tail(child.stderr);
  const gcLines = [];
  let partial = '';
  child.stderr.on('data', (d) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop();
    for (const line of lines) {
      const m = GCTRACE.exec(line);
      if (m !== null) gcLines.push({ sinceStartS: Number(m[1]), pauseMs: Number(m[2]) + Number(m[3]) });
    }
  });
  const deadline = Date.now() + 20_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null) throw new Error(`aws-sigv4-proxy exited with ${child.exitCode}:\n${output()}${errors()}`);
    if (Date.now() > deadline) throw new Error(`aws-sigv4-proxy did not listen within 20 s:\n${output()}${errors()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const startedAt = processStartEpochMs(child.pid);
  return {
    child,
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    output: () => `${output()}${errors().split('\n').filter((l) => !GCTRACE.test(l)).join('\n')}`,
    memory: () => processMemory(child.pid),
    gcEvents: () => gcLines.map((g) => ({ at: startedAt + g.sinceStartS * 1000, pauseMs: g.pauseMs, kind: 'go' })),
    stop: () => stopChild(child),
  };
}
