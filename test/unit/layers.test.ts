// The folders read top-down (issue 16, "The house"): cli → app → edge (listeners) → pipeline →
// stages → aws → http → errors and config. A file may import its own layer or a lower one, and
// no file imports itself back through others.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/python.js';

const SRC = path.join(repoRoot, 'src');

/** Higher imports lower. Stages may use each other's definitions; none may reach up. */
const LAYER: Readonly<Record<string, number>> = {
  errors: 0,
  config: 0,
  http: 1,
  aws: 2,
  redis: 2,
  audit: 3,
  policy: 3,
  identity: 3,
  broker: 3,
  forward: 3,
  approvals: 3,
  pipeline: 4,
  edge: 5,
  app: 6,
  demo: 7,
  cli: 8,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : [];
  });
}

const imports = new Map<string, string[]>(
  sourceFiles(SRC).map((file) => {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/^(?:import|export)\b[^'"]*?\bfrom '(\.[^']+)'/gm)].map((m) => path.join(path.dirname(file), (m[1] ?? '').replace(/\.js$/, '.ts')));
    return [file, targets];
  }),
);

const folderOf = (file: string): string => {
  const [first = '', second] = path.relative(SRC, file).split(path.sep);
  return second === undefined ? first.replace(/\.ts$/, '') : first;
};

describe('source layers', () => {
  it('every folder has a layer', () => {
    const unknown = [...new Set([...imports.keys()].map(folderOf))].filter((folder) => LAYER[folder] === undefined);
    expect(unknown).toEqual([]);
  });

  it('no file imports a higher layer', () => {
    const upward: string[] = [];
    for (const [file, targets] of imports) {
      for (const target of targets) {
        const from = LAYER[folderOf(file)] ?? 99;
        const to = LAYER[folderOf(target)] ?? 99;
        if (to > from) upward.push(`${path.relative(SRC, file)} -> ${path.relative(SRC, target)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('no import circles, type-only ones included', () => {
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string): void => {
      state.set(file, 'open');
      stack.push(file);
      for (const target of imports.get(file) ?? []) {
        if (!imports.has(target)) continue;
        if (state.get(target) === 'open') circles.push([...stack.slice(stack.indexOf(target)), target].map((f) => path.relative(SRC, f)).join(' -> '));
        else if (state.get(target) === undefined) visit(target);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of imports.keys()) if (state.get(file) === undefined) visit(file);
    expect(circles).toEqual([]);
  });
});
