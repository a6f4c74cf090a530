// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by package/module, then the
// functions with the most self and inclusive time. Idle time is left out of the percentages.
//
//   BENCH_ONLY=cs-https BENCH_CS_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench
//   node bench/cpuprofile-top.js /tmp/prof/*.cpuprofile [N]
import { readFileSync } from 'node:fs';

const [file, n = '25'] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node bench/cpuprofile-top.js FILE.cpuprofile [N]');
  process.exit(2);
}
const top = Number(n);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const selfById = new Map();
profile.samples.forEach((id, i) => selfById.set(id, (selfById.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

const where = (url) => {
  if (url === '') return 'native';
  if (url.includes('node_modules/')) return url.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1');
  if (url.includes('/dist/')) return url.replace(/^.*\/dist\//, 'dist/');
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?([^/]+).*$/, 'node:$2');
  return url;
};
const name = (node) => {
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || '(anonymous)'}  ${url === '' ? '' : `${where(url)}${url.includes('node_modules/') ? `/${url.split('/').pop()}` : ''}:${lineNumber + 1}`}`;
};

let busy = 0;
const byModule = new Map();
const self = new Map();
const inclusive = new Map();
for (const [id, us] of selfById) {
  const node = nodes.get(id);
  if (node.callFrame.functionName === '(idle)') continue;
  busy += us;
  const module = node.callFrame.url === '' ? `native ${node.callFrame.functionName}` : where(node.callFrame.url);
  byModule.set(module, (byModule.get(module) ?? 0) + us);
  self.set(name(node), (self.get(name(node)) ?? 0) + us);
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const key = name(nodes.get(at));
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + us);
  }
}

const print = (title, map) => {
  console.log(`\n${title}`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((100 * us) / busy).toFixed(1).padStart(6)}%  ${key}`);
};
console.log(`${(busy / 1000).toFixed(0)} ms busy (idle excluded)`);
print('self time by module', byModule);
print('self time by function', self);
print('inclusive time by function', inclusive);
