// Streaming upload budget ("every AWS service, every signing variant"): a 1 GiB PutObject goes
// through countersign with its memory within 64 MiB of its idle RSS and at >= 80% of the
// throughput of the same upload sent directly to the same upstream. See bench/README.md.
//
// Processes: this orchestrator (samples countersign's RSS every 100 ms); moto_server (STS,
// one AssumeRole per countersign); the S3 stand-in (bench/upstream.js, HTTPS; counts the bytes
// of every PUT); countersign (`serve`, log level warn, a policy allowing s3:PutObject); the
// client (bench/upload-client.js), one process per upload. With taskset and 2+ cores
// countersign runs on CPU 1, the client and the stand-in on CPU 0 (BENCH_PIN=0: unpinned).
//
// Per payload mode: a direct upload (client -> stand-in over HTTPS, no proxy), then a fresh
// countersign, a warm-up upload through it (8 MiB: TLS, the STS mint, JIT), idle RSS, and the
// timed upload through it (CONNECT, countersign's CA). Exit code 1 when an upload fails or the
// stand-in did not receive every byte; budgets are reported, not asserted.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  BENCH,
  benchHome,
  canPin,
  cleanUpOnExit,
  cli,
  cpuSeconds,
  endRun,
  Failures,
  fmt,
  foreignLoad,
  jsonLine,
  killTracked,
  processMemory,
  sleep,
  startCountersign,
  startUpstream,
  table,
  tail,
  track,
  wrapped,
} from './approvals-support.js';
import { startMoto } from './moto.js';

const env = process.env;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const BYTES = Number(env.BENCH_UPLOAD_BYTES ?? 1024 * MiB);
const WARMUP_BYTES = 8 * MiB;
const RUNS = Number(env.BENCH_UPLOAD_RUNS ?? 3);
const MODES = (env.BENCH_UPLOAD_MODES ?? 'unsigned,unsigned-trailer,signed-chunks').split(',').map((m) => m.trim());
const LABELS = { unsigned: 'UNSIGNED-PAYLOAD', 'unsigned-trailer': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'signed-chunks': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD (64 KiB)' };
const BUDGET = { memoryMiB: 64, throughput: 0.8 };
const DIRECT_KEY = { accessKeyId: 'AKIABENCHDIRECTCLIENT', secretAccessKey: 'bench-direct-client-secret' };
const PIN = canPin();
const CPU = PIN ? { countersign: '1', client: '0' } : {};
/** BENCH_GC=0: countersign runs without bench/gc-monitor.js (its GC columns show "-"). */
const GC = env.BENCH_GC !== '0';

cleanUpOnExit();

/** One upload by bench/upload-client.js; resolves with its result, throws unless it got a 200. */
async function upload(config) {
  const [cmd, args] = wrapped(process.execPath, [path.join(BENCH, 'upload-client.js')], { cpu: CPU.client });
  const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: env.PATH ?? '', BENCH_UPLOAD_CONFIG: JSON.stringify(config) } }));
  const stdout = tail(child.stdout);
  const stderr = tail(child.stderr);
  await new Promise((resolve) => child.once('exit', resolve));
  const result = stdout().trim().split('\n').map(jsonLine).filter(Boolean).pop();
  if (result?.status !== 200) throw new Error(`upload failed: ${result?.error ?? `HTTP ${result?.status}: ${result?.body}`}${stderr()}`);
  return result;
}

/** Uploads and checks the stand-in received exactly the bytes sent, re-signed when `viaCountersign`. */
async function checkedUpload(upstream, config, viaCountersign) {
  const before = await upstream.stats();
  const load = foreignLoad();
  const sinkCpu = cpuSeconds(upstream.child.pid);
  const window = { startMs: Date.now() };
  const result = await upload(config);
  window.endMs = Date.now();
  const sinkCpuSeconds = cpuSeconds(upstream.child.pid) - sinkCpu;
  const others = load();
  const after = await upstream.stats();
  const received = after.uploadedBytes - before.uploadedBytes;
  if (after.uploads - before.uploads !== 1 || received !== result.contentLength) {
    throw new Error(`the stand-in received ${after.uploads - before.uploads} uploads, ${received} bytes; the client sent ${result.contentLength}`);
  }
  if (viaCountersign && after.withSessionToken - before.withSessionToken !== 1) throw new Error('the upload reached the stand-in without an STS session token');
  return { ...result, sinkCpuSeconds, others, window, mibps: config.bytes / MiB / result.seconds };
}

/** GCs countersign recorded (bench/gc-monitor.js) inside `window`: { count, major, pauseMs }, or undefined. */
function gcIn(file, { startMs, endMs }) {
  if (file === undefined || !existsSync(file)) return undefined;
  const events = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => line.split(' ')).map(([at, ms, kind]) => ({ at: Number(at), ms: Number(ms), kind }));
  const inside = events.filter((e) => e.at >= startMs && e.at <= endMs);
  return { count: inside.length, major: inside.filter((e) => e.kind === 'major').length, pauseMs: inside.reduce((sum, e) => sum + e.ms, 0) };
}

/** Samples `pid`'s VmRSS every 100 ms; stop() -> the largest sample in MiB. */
function rssSampler(pid) {
  let peak = processMemory(pid)?.rssMiB ?? NaN;
  const timer = setInterval(() => {
    const rss = processMemory(pid)?.rssMiB;
    if (rss !== undefined && !(rss <= peak)) peak = rss;
  }, 100);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

/** Resets the kernel's peak-RSS mark (VmHWM) of `pid`; false when /proc refuses. */
function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

async function runMode(mode, { dirs, moto, upstream, agent }) {
  const gcFile = GC ? path.join(dirs.root, `gc-${mode}.log`) : undefined;
  const cs = await startCountersign(
    dirs,
    {
      AWS_ACCESS_KEY_ID: moto.admin.accessKeyId,
      AWS_SECRET_ACCESS_KEY: moto.admin.secretAccessKey,
      COUNTERSIGN_UPSTREAM_OVERRIDES: `s3=https://127.0.0.1:${upstream.httpsPort},sts=${moto.endpoint}`,
      COUNTERSIGN_UPSTREAM_CA_FILE: upstream.caFile,
      ...(gcFile !== undefined && { BENCH_GC_FILE: gcFile }),
    },
    // BENCH_UPLOAD_CS_NODE_ARGS: extra node flags for countersign, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    // bench/gc-monitor.js records its GCs (no src/ change).
    {
      cpu: CPU.countersign,
      nodeArgs: [...(GC ? ['--import', pathToFileURL(path.join(BENCH, 'gc-monitor.js')).href] : []), ...(env.BENCH_UPLOAD_CS_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')],
    },
  );
  try {
    const direct = { url: `https://127.0.0.1:${upstream.httpsPort}/bench/upload.bin`, caFile: upstream.caFile, key: DIRECT_KEY, mode, bytes: BYTES };
    const through = { url: 'https://bench.s3.us-east-1.amazonaws.com/upload.bin', proxyUrl: cs.url, caFile: path.join(dirs.data, 'ca.crt'), key: agent, mode, bytes: BYTES };
    await checkedUpload(upstream, { ...through, bytes: WARMUP_BYTES }, true);
    await sleep(1000);
    const idle = [];
    for (let i = 0; i < 5; i++) {
      idle.push(cs.memory().rssMiB);
      await sleep(100);
    }
    const idleMiB = idle.sort((a, b) => a - b)[2]; // the median of 5 readings
    const hwmReset = resetPeak(cs.pid);
    const sampled = rssSampler(cs.pid);
    // Direct and through countersign in turn, RUNS times; the fastest of each counts.
    const runs = { direct: [], through: [] };
    for (let run = 0; run < RUNS; run++) {
      runs.direct.push(await checkedUpload(upstream, direct, false));
      const cpuBefore = cs.cpu();
      const result = await checkedUpload(upstream, through, true);
      runs.through.push({ ...result, csCpuSeconds: cs.cpu() - cpuBefore });
    }
    const sampledPeak = sampled();
    const peakMiB = hwmReset ? Math.max(sampledPeak, cs.memory().peakMiB) : sampledPeak;
    const fastest = (list) => list.reduce((a, b) => (b.mibps > a.mibps ? b : a));
    const fastestThrough = fastest(runs.through);
    await cs.stop(); // flushes its GC records
    return { mode, direct: fastest(runs.direct), through: { ...fastestThrough, gc: gcIn(gcFile, fastestThrough.window) }, idleMiB, peakMiB, hwmReset };
  } catch (error) {
    throw new Error(`${error.message}\n    countersign output:\n${cs.output().trim().split('\n').slice(-10).join('\n')}`);
  } finally {
    await cs.stop();
  }
}

const perGiB = (seconds) => fmt(seconds / (BYTES / GiB), 2);

function report(results) {
  const rows = results.map((r) => [
    LABELS[r.mode],
    `${fmt(r.direct.mibps, 0)} (${fmt(r.direct.seconds, 1)} s)`,
    `${fmt(r.through.mibps, 0)} (${fmt(r.through.seconds, 1)} s)`,
    fmt(r.through.mibps / r.direct.mibps),
    `${fmt(r.idleMiB, 0)} -> ${fmt(r.peakMiB, 0)}`,
    fmt(r.peakMiB - r.idleMiB, 1),
    `${perGiB(r.direct.cpuSeconds)} + ${perGiB(r.direct.sinkCpuSeconds)}`,
    `${perGiB(r.through.csCpuSeconds)}`,
    r.through.gc === undefined ? '-' : `${fmt(r.through.gc.count / (BYTES / GiB), 0)} (${fmt(r.through.gc.major / (BYTES / GiB), 0)})`,
    r.through.gc === undefined ? '-' : fmt(r.through.gc.pauseMs / (BYTES / GiB), 0),
    `${fmt(r.direct.others, 1)} / ${fmt(r.through.others, 1)}`,
  ]);
  const header = ['payload mode', 'direct MiB/s', 'countersign MiB/s', 'ratio', 'cs RSS idle -> peak MiB', 'delta MiB', 'CPU s/GiB client + stand-in', 'CPU s/GiB countersign', 'cs GCs/GiB (major)', 'cs GC pause ms/GiB', 'other load (cores)'];
  console.log(table(rows, header));
  const verdicts = [];
  for (const r of results) {
    const delta = r.peakMiB - r.idleMiB;
    const ratio = r.through.mibps / r.direct.mibps;
    verdicts.push([`memory above idle, ${r.mode}`, `${fmt(delta, 1)} MiB`, `<= ${BUDGET.memoryMiB} MiB`, delta <= BUDGET.memoryMiB ? 'PASS' : 'FAIL']);
    verdicts.push([`throughput / direct, ${r.mode}`, `${fmt(ratio)}x`, `>= ${BUDGET.throughput}x`, ratio >= BUDGET.throughput ? 'PASS' : 'FAIL']);
  }
  console.log('');
  console.log(table(verdicts, ['budget', 'measured', 'target', 'verdict']));
  if (results.some((r) => !r.hwmReset)) console.log('\n  peak RSS from 100 ms samples only (/proc/PID/clear_refs refused, so VmHWM could not be reset)');
  const busy = results.filter((r) => Math.max(r.direct.others, r.through.others) >= 0.3).map((r) => r.mode);
  if (busy.length > 0) console.log(`\n  other processes used 0.3 cores or more during the uploads of ${busy.join(', ')}: their throughput figures say more about the machine than about countersign`);
}

async function main() {
  console.log('countersign streaming upload');
  console.log(`  ${fmt(BYTES / MiB, 0)} MiB PUT per upload, streamed from a generator with Content-Length; per mode a fresh countersign, ${WARMUP_BYTES / MiB} MiB warm-up,`);
  console.log(`  then direct and through countersign in turn, ${RUNS} times: the fastest of each counts, the memory peak is over all of them`);
  console.log(PIN ? '  pinned: countersign on CPU 1; client and S3 stand-in on CPU 0 (BENCH_PIN=0 to unpin)' : '  not pinned: every process shares every core');
  const dirs = benchHome('countersign-upload-bench-');
  const results = [];
  const failures = new Failures();
  try {
    process.stderr.write('setting up: moto (STS), agent key, S3 stand-in\n');
    const moto = await startMoto(track);
    writeFileSync(
      path.join(dirs.policies, 'bench.yaml'),
      ['apiVersion: countersign.dev/v1alpha1', 'kind: Policy', 'rules:', '  - name: bench-upload', '    effect: allow', '    agents: ["bench"]', '    actions: ["s3:PutObject"]', '    resources: ["arn:aws:s3:::bench/*"]', '    credentials:', `      roleArn: "${moto.roleArn}"`, ''].join('\n'),
    );
    const agent = JSON.parse(cli(dirs, ['agents', 'issue', 'bench', '--json', '--force']));
    const upstream = await startUpstream(dirs.root, agent.accessKeyId, { cpu: CPU.client });
    for (const mode of MODES) {
      process.stderr.write(`  ${LABELS[mode] ?? mode} ...`);
      try {
        const result = await runMode(mode, { dirs, moto, upstream, agent });
        results.push(result);
        process.stderr.write(` direct ${fmt(result.direct.mibps, 0)} MiB/s, countersign ${fmt(result.through.mibps, 0)} MiB/s, +${fmt(result.peakMiB - result.idleMiB, 1)} MiB\n`);
      } catch (error) {
        failures.add(mode, error);
      }
    }
    console.log('');
    report(results);
    console.log('');
  } finally {
    await endRun(dirs);
  }
  failures.report('upload mode(s)');
}

main().catch((error) => {
  console.error(`upload bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  killTracked();
  process.exit(1);
});
