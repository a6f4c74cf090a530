// Rewrites the table in docs/errors.md from the error catalogue (npm run docs:errors).
// The unit test errors-documented.test.ts fails when a code has no row.
import { readFileSync, writeFileSync } from 'node:fs';
import { ERROR_CATALOGUE } from '../dist/errors.js';

const path = new URL('../docs/errors.md', import.meta.url);
const text = readFileSync(path, 'utf8');
const header = '| code | HTTP | AWS code | what to do |\n| --- | --- | --- | --- |\n';
const rows = Object.entries(ERROR_CATALOGUE)
  .map(([code, e]) => `| \`${code}\` | ${e.status} | \`${e.awsCode}\`${e.jsonCode ? ` / \`${e.jsonCode}\`` : ''} | ${e.hint.replace(/\|/g, '\\|')} |`)
  .join('\n');
const start = text.indexOf(header);
if (start === -1) throw new Error('docs/errors.md has no error table header');
const end = text.indexOf('\n\n', start + header.length);
writeFileSync(path, text.slice(0, start) + header + rows + (end === -1 ? '\n' : text.slice(end)));
