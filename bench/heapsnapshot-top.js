// Summarises a V8 .heapsnapshot (from `node --heapsnapshot-signal`, e.g. the one
// BENCH_APPROVALS_HEAP_SNAPSHOT=DIR makes bench/approvals.js take of countersign holding its
// requests): self size and count by constructor/type, largest first.
//
//   node bench/heapsnapshot-top.js DIR/Heap.*.heapsnapshot [N]
import { readFileSync } from 'node:fs';

const [file, n = '30'] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node bench/heapsnapshot-top.js FILE.heapsnapshot [N]');
  process.exit(2);
}
const snapshot = JSON.parse(readFileSync(file, 'utf8'));
const meta = snapshot.snapshot.meta;
const fields = meta.node_fields;
const width = fields.length;
const typeNames = meta.node_types[fields.indexOf('type')];
const at = { type: fields.indexOf('type'), name: fields.indexOf('name'), size: fields.indexOf('self_size') };
const byKey = new Map();
let total = 0;
for (let i = 0; i < snapshot.nodes.length; i += width) {
  const type = typeNames[snapshot.nodes[i + at.type]];
  const size = snapshot.nodes[i + at.size];
  const name = snapshot.strings[snapshot.nodes[i + at.name]];
  const key = type === 'object' || type === 'closure' ? `${type} ${name}` : type === 'string' || type === 'concatenated string' || type === 'sliced string' ? 'strings' : `(${type}) ${type === 'native' || type === 'hidden' || type === 'code' || type === 'array' ? name.slice(0, 60) : ''}`;
  const entry = byKey.get(key) ?? { size: 0, count: 0 };
  entry.size += size;
  entry.count++;
  byKey.set(key, entry);
  total += size;
}
console.log(`${(total / 1048576).toFixed(1)} MiB in ${snapshot.snapshot.node_count} nodes`);
for (const [key, { size, count }] of [...byKey].sort((a, b) => b[1].size - a[1].size).slice(0, Number(n))) {
  console.log(`${(size / 1048576).toFixed(1).padStart(8)} MiB ${String(count).padStart(9)}  ${key}`);
}
