// Event-loop stall meter, preloaded into `countersign serve` by bench/approvals.js with
// `node --expose-gc --import ./bench/loop-monitor.js dist/cli/main.js serve` (nothing in src/
// changes).
//
// perf_hooks.monitorEventLoopDelay samples the loop with a 10 ms libuv timer and records how
// late each tick ran: a callback (or a burst of them in one poll phase, a long microtask queue,
// or a GC pause) that keeps the loop busy for X ms shows as a delay of about X ms. Every 100 ms
// this appends one JSON line to the file named by BENCH_LOOP_FILE: the window's largest delay
// and its p99, the longest GC pause in it, RSS and heap. The cost is one timer every 10 ms and
// one small write every 100 ms.
//
// SIGUSR2 (sent by the bench between its measurements): a full GC (with --expose-gc), so the
// bench can tell live memory from garbage V8 has not collected yet; then, when
// BENCH_HEAP_SNAPSHOT_DIR is set, a heap snapshot there. Writes one line {"forcedGc": true, ...}.
import { openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

const file = process.env.BENCH_LOOP_FILE;
if (file !== undefined && file !== '') {
  const fd = openSync(file, 'a');
  const write = (line) => writeSync(fd, `${JSON.stringify(line)}\n`);
  const MiB = 1048576;
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let gcMaxMs = 0;
  let gcTotalMs = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcMaxMs = Math.max(gcMaxMs, entry.duration);
      gcTotalMs += entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  const timer = setInterval(() => {
    const memory = process.memoryUsage();
    write({
      t: Date.now(),
      maxMs: histogram.count === 0 ? 0 : histogram.max / 1e6,
      p99Ms: histogram.count === 0 ? 0 : histogram.percentile(99) / 1e6,
      gcMaxMs,
      gcTotalMs,
      rssMiB: memory.rss / MiB,
      heapUsedMiB: memory.heapUsed / MiB,
      heapTotalMiB: memory.heapTotal / MiB,
      externalMiB: memory.external / MiB, // includes arrayBuffers
    });
    histogram.reset();
    gcMaxMs = 0;
    gcTotalMs = 0;
  }, 100);
  timer.unref();

  process.on('SIGUSR2', () => {
    const before = process.memoryUsage();
    const started = performance.now();
    if (typeof globalThis.gc === 'function') globalThis.gc();
    const gcMs = performance.now() - started;
    const after = process.memoryUsage();
    const dir = process.env.BENCH_HEAP_SNAPSHOT_DIR;
    const snapshot = dir === undefined || dir === '' ? undefined : v8.writeHeapSnapshot(path.join(dir, `countersign-held-${process.pid}.heapsnapshot`));
    write({ t: Date.now(), forcedGc: typeof globalThis.gc === 'function', gcMs, heapBeforeMiB: before.heapUsed / MiB, heapAfterMiB: after.heapUsed / MiB, rssAfterMiB: after.rss / MiB, snapshot });
  });
}
