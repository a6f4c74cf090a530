import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import { validateDocument, type Issue } from './schema.js';
import type { PolicySetSpec, RuleSpec } from './types.js';

/** A policy set that failed to load: every problem, each with file:line:col. */
export class PolicyLoadError extends Error {
  override readonly name = 'PolicyLoadError';
  constructor(readonly issues: readonly Issue[]) {
    super(issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.message}`).join('\n'));
  }
}

/** Policy files are *.yaml / *.yml; *.test.yaml files hold policy tests, not rules. */
function isPolicyFile(name: string): boolean {
  return /\.ya?ml$/.test(name) && !/\.test\.ya?ml$/.test(name);
}

export function listPolicyFiles(dir: string): string[] {
  let stat;
  try {
    stat = statSync(dir);
  } catch {
    throw new PolicyLoadError([{ file: dir, line: 0, column: 0, message: 'policy directory not found; create it or set COUNTERSIGN_POLICY_DIR' }]);
  }
  if (!stat.isDirectory()) throw new PolicyLoadError([{ file: dir, line: 0, column: 0, message: 'not a directory' }]);
  return readdirSync(dir).filter(isPolicyFile).sort().map((name) => join(dir, name));
}

/** Parses one file's text; positions in issues are 1-based. */
export function parsePolicyText(text: string, file: string): { rules: RuleSpec[]; issues: Issue[] } {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const issues: Issue[] = [];
  const rules: RuleSpec[] = [];
  const at = (offset: number) => {
    const pos = lineCounter.linePos(offset);
    return { file, line: pos.line, column: pos.col };
  };
  for (const document of Array.isArray(documents) ? documents : [documents]) {
    if (document.errors.length > 0) {
      for (const error of document.errors) issues.push({ ...at(error.pos[0]), message: `YAML syntax: ${error.message.split('\n')[0] ?? ''}` });
      continue;
    }
    if (document.contents === null) continue; // an empty document (e.g. a trailing ---)
    validateDocument(document.contents, at, rules, issues);
  }
  return { rules, issues };
}

/** Loads and validates every policy file in a directory; throws PolicyLoadError on any issue. */
export function loadPolicyDir(dir: string): PolicySetSpec {
  const files = listPolicyFiles(dir);
  const issues: Issue[] = [];
  const rules: RuleSpec[] = [];
  for (const path of files) {
    const parsed = parsePolicyText(readFileSync(path, 'utf8'), relative(process.cwd(), path) || path);
    issues.push(...parsed.issues);
    rules.push(...parsed.rules);
  }
  const seen = new Map<string, RuleSpec>();
  for (const rule of rules) {
    const earlier = seen.get(rule.name);
    if (earlier !== undefined) {
      issues.push({ ...rule.source, message: `found a second rule named "${rule.name}", expected unique rule names (first at ${earlier.source.file}:${earlier.source.line})` });
    }
    seen.set(rule.name, rule);
  }
  if (issues.length > 0) throw new PolicyLoadError(issues);
  return { rules, files };
}
