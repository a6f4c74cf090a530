/* global process */
// Serialises src/aws/routes/overrides.json with one operation per line, so diffs stay readable.
//
//   node scripts/routes/format.js      rewrites overrides.json in this layout (after hand edits)

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SECTIONS = new Set(['services', 'curated', 'seeded']);

export function serialiseOverrides(value) {
  const lines = ['{'];
  const keys = Object.keys(value);
  keys.forEach((key, i) => {
    const comma = i < keys.length - 1 ? ',' : '';
    const v = value[key];
    if (!SECTIONS.has(key)) {
      lines.push(`  ${JSON.stringify(key)}: ${JSON.stringify(v)}${comma}`);
      return;
    }
    const inner = Object.keys(v).sort();
    if (inner.length === 0) {
      lines.push(`  ${JSON.stringify(key)}: {}${comma}`);
      return;
    }
    lines.push(`  ${JSON.stringify(key)}: {`);
    inner.forEach((k, j) => lines.push(`    ${JSON.stringify(k)}: ${JSON.stringify(v[k])}${j < inner.length - 1 ? ',' : ''}`));
    lines.push(`  }${comma}`);
  });
  lines.push('}');
  return lines.join('\n') + '\n';
}

const self = fileURLToPath(import.meta.url);
if (process.argv[1] !== undefined && resolve(process.argv[1]) === self) {
  const path = process.argv[2] ?? join(dirname(self), '../../src/aws/routes/overrides.json');
  writeFileSync(path, serialiseOverrides(JSON.parse(readFileSync(path, 'utf8'))));
}
