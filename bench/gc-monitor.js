// GC recorder, preloaded into the Node processes bench/run.js measures (countersign, the
// baseline build, http-proxy) with `node --import <this file> ...`: nothing in src/ changes, and
// NODE_OPTIONS is not used (node 20 refuses some flags there, and it would leak into children).
//
// Every perf_hooks `gc` entry (one per scavenge, mark-compact, incremental-marking step or
// weak-callback pass, each with the main-thread time it took) becomes one line
// `<start, ms since the epoch> <duration ms> <kind>` appended to BENCH_GC_FILE every 500 ms and
// at exit. bench/run.js then counts the entries inside the load generator's timed window.
// Cost: one PerformanceObserver callback per batch of GCs and one small write per 500 ms.
import { appendFileSync } from 'node:fs';
import { constants, performance, PerformanceObserver } from 'node:perf_hooks';

const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

const file = process.env.BENCH_GC_FILE;
if (file !== undefined && file !== '') {
  const origin = performance.timeOrigin;
  let pending = '';
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      pending += `${(origin + entry.startTime).toFixed(2)} ${entry.duration.toFixed(3)} ${KINDS[entry.detail?.kind] ?? 'other'}\n`;
    }
  }).observe({ entryTypes: ['gc'] });
  const flush = () => {
    if (pending === '') return;
    appendFileSync(file, pending);
    pending = '';
  };
  setInterval(flush, 500).unref();
  process.on('exit', flush);
}

