// The output of bench/run.js: the scenario table, CPU and GC per process, the design budgets as
// ratios with PASS/FAIL, and countersign now against its baseline build. See bench/README.md,
// "Reading the output".
import { fmt, table } from './approvals-support.js';

/** The run of a scenario that counts: the fastest of its rounds (interference only slows a run down). */
const best = (entry) => entry?.runs.reduce((a, b) => (b.load.throughput.rps > a.load.throughput.rps ? b : a));

/** Per-request CPU and GC figures of one run. */
function perRequest(run) {
  const { throughput } = run.load;
  const seconds = throughput.seconds;
  const per10k = (value) => (value * 10_000) / throughput.requests;
  const cpu = throughput.cpu ?? {};
  return {
    proxyCpu10k: per10k(cpu.proxy ?? NaN),
    proxyCores: (cpu.proxy ?? NaN) / seconds,
    loadCores: (cpu.load ?? NaN) / seconds,
    upstreamCores: (cpu.upstream ?? NaN) / seconds,
    cpu0Busy: (cpu.busy?.['0'] ?? NaN) / seconds,
    cpu1Busy: (cpu.busy?.['1'] ?? NaN) / seconds,
    gc10k: run.gc === undefined ? NaN : per10k(run.gc.count),
    gcMinor10k: run.gc === undefined ? NaN : per10k(run.gc.minor),
    gcMajor10k: run.gc === undefined ? NaN : per10k(run.gc.major),
    gcMs10k: run.gc === undefined ? NaN : per10k(run.gc.pauseMs),
    gcMaxMs: run.gc?.maxPauseMs ?? NaN,
  };
}

export function printReport({ results, settings, builds, baseline, pinned, peer }) {
  const entries = [...results.values()].flatMap((byBuild) => [...byBuild.values()]);
  const multi = settings.rounds > 1;

  // 1. Throughput and latency.
  const rows = entries.map((entry) => {
    const run = best(entry);
    const { throughput, latency, total } = run.load;
    const spread = entry.runs.map((r) => r.load.throughput.rps);
    return [
      entry.label,
      fmt(throughput.rps, 0),
      ...(multi ? [`${fmt(Math.min(...spread), 0)}-${fmt(Math.max(...spread), 0)}`] : []),
      fmt(throughput.p50),
      fmt(throughput.p99),
      fmt(latency.p50, 3),
      fmt(latency.p99, 3),
      fmt(latency.rps, 0),
      String(total),
      run.memory === undefined ? '' : `${fmt(run.memory.rssMiB, 0)} / ${fmt(run.memory.peakMiB, 0)}`,
      fmt(run.others, 2),
    ];
  });
  const c = settings.concurrency;
  console.log(table(rows, ['scenario', `req/s c=${c}`, ...(multi ? ['runs req/s'] : []), 'p50 ms', 'p99 ms', 'p50 ms c=1', 'p99 ms c=1', 'req/s c=1', 'requests', 'proxy RSS/peak MiB', 'other load (cores)']));

  // 2. CPU and GC per process, over the timed phase.
  const cpuRows = entries.map((entry) => {
    const run = best(entry);
    const p = perRequest(run);
    const gcKnown = Number.isFinite(p.gc10k);
    const node = gcKnown && p.gcMinor10k + p.gcMajor10k > 0;
    return [
      entry.label,
      fmt(p.proxyCpu10k, 3),
      fmt(10_000 / p.proxyCpu10k, 0),
      fmt(p.proxyCores),
      fmt(p.loadCores),
      fmt(p.upstreamCores),
      `${fmt(p.cpu0Busy)} / ${fmt(p.cpu1Busy)}`,
      String(run.upstreamConnections),
      gcKnown ? `${fmt(p.gc10k, 1)}${node ? ` (${fmt(p.gcMinor10k, 1)} / ${fmt(p.gcMajor10k, 1)})` : ''}` : '-',
      gcKnown ? fmt(p.gcMs10k, 1) : '-',
      gcKnown ? fmt(p.gcMaxMs, 1) : '-',
    ];
  });
  console.log('\nCPU and GC in the timed phase (c=' + c + '), per process:');
  console.log(table(cpuRows, ['scenario', 'proxy CPU s/10k req', 'req/s per core', 'proxy cores', 'load gen cores', 'upstream cores', 'CPU 0 / CPU 1 busy', 'upstream conns', 'GCs/10k req (minor / major)', 'GC pause ms/10k req', 'longest GC ms']));

  // 3. Budgets.
  const get = (id, build = 'now') => best(results.get(id)?.get(build) ?? results.get(id)?.get('-'));
  const verdicts = [];
  const notes = [];
  const ratio = (name, value, budget, pass, unit, digits = 2) =>
    verdicts.push([name, Number.isFinite(value) ? `${fmt(value, digits)}${unit}` : 'n/a', budget, Number.isFinite(value) ? (pass(value) ? 'PASS' : 'FAIL') : 'n/a']);
  const rps = (run) => run?.load.throughput.rps ?? NaN;
  const rps1 = (run) => run?.load.latency.rps ?? NaN;
  const cpu10k = (run) => (run === undefined ? NaN : perRequest(run).proxyCpu10k);
  for (const [prefix, name] of [['', 'S3'], ['ddb-', 'DynamoDB']]) {
    const cs = get(`${prefix}cs-https`);
    const direct = get(`${prefix}direct-https`);
    const mitm = get(`${prefix}mitmdump`);
    const endpoint = get(`${prefix}cs-endpoint`);
    const sigv4 = get(`${prefix}sigv4-proxy`);
    ratio(`1. HTTPS_PROXY ${name}: added p50 over direct HTTPS (c=1)`, cs && direct ? cs.load.latency.p50 - direct.load.latency.p50 : NaN, '<= 1 ms', (v) => v <= 1, ' ms', 3);
    ratio(`1. HTTPS_PROXY ${name}: throughput / direct HTTPS`, rps(cs) / rps(direct), '>= 0.5x', (v) => v >= 0.5, 'x');
    ratio(`2. HTTPS_PROXY ${name}: throughput / mitmdump (c=${c})`, rps(cs) / rps(mitm), '>= 8x', (v) => v >= 8, 'x');
    ratio(`2. HTTPS_PROXY ${name}: throughput / mitmdump (c=1)`, rps1(cs) / rps1(mitm), '>= 8x', (v) => v >= 8, 'x');
    ratio(`2. HTTPS_PROXY ${name}: mitmdump's CPU per request / countersign's`, cpu10k(mitm) / cpu10k(cs), '>= 8x', (v) => v >= 8, 'x');
    ratio(`3. endpoint ${name}: throughput / aws-sigv4-proxy (c=${c})`, rps(endpoint) / rps(sigv4), '>= 1.0x', (v) => v >= 1, 'x');
    ratio(`3. endpoint ${name}: CPU per request / aws-sigv4-proxy`, cpu10k(endpoint) / cpu10k(sigv4), '<= 1.0x', (v) => v <= 1, 'x');
    ratio(`3. endpoint ${name}: throughput / aws-sigv4-proxy (c=1)`, rps1(endpoint) / rps1(sigv4), '>= 1.0x', (v) => v >= 1, 'x');
    const p = sigv4 === undefined ? undefined : perRequest(sigv4);
    if (p !== undefined && p.proxyCores < 0.85) {
      notes.push(
        `aws-sigv4-proxy ${name} used ${fmt(p.proxyCores)} of its core (CPU 0 / CPU 1 busy ${fmt(p.cpu0Busy)} / ${fmt(p.cpu1Busy)}, ` +
          `${best(results.get(`${prefix}sigv4-proxy`).get('-')).upstreamConnections} upstream connections opened): not CPU-bound, so its throughput is a floor ` +
          "and countersign's throughput ratio a ceiling; the CPU-per-request ratio holds",
      );
    }
  }
  const auditStdout = get('cs-https-audit-stdout');
  ratio('4. default file audit (info): throughput / stdout only', rps(get('cs-https-info')) / rps(auditStdout), '>= 0.9x', (v) => v >= 0.9, 'x');
  ratio('4. audit to Redis stream: throughput / stdout only', rps(get('cs-https-audit-redis')) / rps(auditStdout), '>= 0.9x', (v) => v >= 0.9, 'x');
  console.log('');
  console.log(table(verdicts, ['budget', 'measured', 'target', 'verdict']));

  // 4. countersign now vs baseline.
  const base = builds.find((b) => b.id === 'baseline');
  if (base !== undefined) {
    const rowsVs = [];
    for (const [id, byBuild] of results) {
      const now = best(byBuild.get('now'));
      const then = best(byBuild.get('baseline'));
      if (now === undefined || then === undefined) continue;
      const pNow = perRequest(now);
      const pThen = perRequest(then);
      const tRatio = rps(now) / rps(then);
      const cRatio = pNow.proxyCpu10k / pThen.proxyCpu10k;
      rowsVs.push([
        byBuild.get('now').def.label,
        fmt(rps(now), 0),
        fmt(rps(then), 0),
        `${fmt(tRatio)}x`,
        fmt(pNow.proxyCpu10k, 3),
        fmt(pThen.proxyCpu10k, 3),
        `${fmt(cRatio)}x`,
        `${fmt(now.load.latency.p50 / then.load.latency.p50)}x`,
        Number.isFinite(pNow.gcMs10k) ? `${fmt(pNow.gcMs10k, 1)} / ${fmt(pThen.gcMs10k, 1)}` : '-',
        tRatio < 0.9 || cRatio > 1.1 ? 'slower' : tRatio > 1.1 || cRatio < 0.9 ? 'faster' : '',
      ]);
    }
    console.log(`\ncountersign now / baseline ${baseline.short} (same run, interleaved):`);
    console.log(table(rowsVs, ['scenario', `req/s now`, 'req/s base', 'now/base', 'CPU s/10k now', 'CPU s/10k base', 'now/base', 'p50 c=1 now/base', 'GC ms/10k now / base', '']));
    notes.push('"slower"/"faster": throughput or CPU per request more than 10% apart; on a busy machine (see "other load") read it with care');
  }

  const line = (id) => get(id);
  const info = line('cs-https-info');
  const cs = line('cs-https');
  const direct = line('direct-https');
  const endpoint = line('cs-endpoint');
  const directHttp = line('direct-http');
  const httpProxy = line('http-proxy');
  if (cs && direct) notes.push(`S3 HTTPS_PROXY: added p50 under load (c=${c}): ${fmt(cs.load.throughput.p50 - direct.load.throughput.p50)} ms`);
  if (cs && info) notes.push(`info audit logs to /dev/null: throughput ${fmt(rps(info) / rps(cs))}x of warn level, p50 (c=1) ${fmt(info.load.latency.p50 - cs.load.latency.p50, 3)} ms more`);
  if (endpoint && directHttp) notes.push(`S3 endpoint mode: throughput ${fmt(rps(endpoint) / rps(directHttp))}x of direct HTTP, added p50 (c=1) ${fmt(endpoint.load.latency.p50 - directHttp.load.latency.p50, 3)} ms`);
  if (endpoint && httpProxy) notes.push(`S3 endpoint mode: throughput ${fmt(rps(endpoint) / rps(httpProxy))}x of http-proxy (a bare Node passthrough, the floor of a Node proxy's cost)`);
  if (httpProxy && directHttp) notes.push(`http-proxy: throughput ${fmt(rps(httpProxy) / rps(directHttp))}x of direct HTTP, added p50 (c=1) ${fmt(httpProxy.load.latency.p50 - directHttp.load.latency.p50, 3)} ms`);
  if (peer?.binary !== undefined) notes.push('aws-sigv4-proxy runs as it ships: Go\'s default transport keeps 2 idle upstream connections per host, so at c=' + c + ' most of its upstream requests open a new connection');
  if (!pinned) notes.push('not pinned: the proxy shares cores with the load generator and upstream; ratios against direct are pessimistic');
  if (notes.length > 0) console.log(`\n${notes.map((n) => `  ${n}`).join('\n')}`);
}
