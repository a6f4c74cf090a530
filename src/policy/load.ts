import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isScalar, LineCounter, parseAllDocuments } from 'yaml';
import { Checker, type Issue, type Reference } from './schema/checker.js';
import { checkDirectory, emptyDirectory } from './schema/directory.js';
import { validateDocument } from './schema/document.js';
import type { DirectorySpec, PolicySetSpec, RuleSpec } from './types.js';

export type { Issue } from './schema/checker.js';

/** A policy set that failed to load: every problem, each with file:line:col. */
export class PolicyLoadError extends Error {
  override readonly name = 'PolicyLoadError';
  constructor(readonly issues: readonly Issue[]) {
    super(issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.message}`).join('\n'));
  }
}

/**
 * Policy files are *.yaml / *.yml; *.test.yaml files hold policy tests, not rules. Names
 * starting with a dot are skipped: Kubernetes ConfigMap volumes keep their real files in
 * `..data` and `..2024_...` directories behind symlinks.
 */
function isPolicyFile(name: string): boolean {
  return !name.startsWith('.') && /\.ya?ml$/.test(name) && !/\.test\.ya?ml$/.test(name);
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

export interface ParsedPolicyFile {
  readonly rules: RuleSpec[];
  readonly directory: DirectorySpec;
  readonly references: Reference[];
  readonly issues: Issue[];
}

/** yaml gives an empty document (a trailing `---`, a file of comments) null contents or a null scalar. */
export function isEmptyDocument(contents: unknown): boolean {
  return contents === null || (isScalar(contents) && contents.value === null);
}

/** Parses one file's text; positions in issues are 1-based. */
export function parsePolicyText(text: string, file: string): ParsedPolicyFile {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const issues: Issue[] = [];
  const rules: RuleSpec[] = [];
  const directory = emptyDirectory();
  const at = (offset: number) => {
    const pos = lineCounter.linePos(offset);
    return { file, line: pos.line, column: pos.col };
  };
  const check = new Checker(at, issues);
  for (const document of Array.isArray(documents) ? documents : [documents]) {
    if (document.errors.length > 0) {
      for (const error of document.errors) issues.push({ ...at(error.pos[0]), message: `YAML syntax: ${error.message.split('\n')[0] ?? ''}` });
      continue;
    }
    if (isEmptyDocument(document.contents)) continue; // e.g. after a trailing ---
    validateDocument(check, document.contents, rules, directory);
  }
  return { rules, directory, references: check.references, issues };
}

/** Builds a whole policy set from files' texts: checks references and unique names across files. */
export function buildPolicySet(files: ReadonlyArray<{ path: string; text: string }>): PolicySetSpec {
  const issues: Issue[] = [];
  const rules: RuleSpec[] = [];
  const references: Reference[] = [];
  const directory = emptyDirectory();
  const hash = createHash('sha256');
  for (const { path, text } of files) {
    const name = relative(process.cwd(), path) || path;
    hash.update(`${name}\0${text}\0`);
    const parsed = parsePolicyText(text, name);
    issues.push(...parsed.issues);
    rules.push(...parsed.rules);
    references.push(...parsed.references);
    directory.agents.push(...parsed.directory.agents);
    directory.reviewers.push(...parsed.directory.reviewers);
    directory.groups.push(...parsed.directory.groups);
    directory.identities.push(...(parsed.directory.identities ?? []));
  }
  const seen = new Map<string, RuleSpec>();
  for (const rule of rules) {
    const earlier = seen.get(rule.name);
    if (earlier !== undefined) {
      issues.push({ ...rule.source, message: `found a second rule named "${rule.name}", expected unique rule names (first at ${earlier.source.file}:${earlier.source.line})` });
    }
    seen.set(rule.name, rule);
  }
  issues.push(...checkDirectory(directory, references));
  if (issues.length > 0) throw new PolicyLoadError(issues);
  return { rules, directory, files: files.map((f) => f.path), hash: hash.digest('hex') };
}

/** Loads and validates every policy file in a directory; throws PolicyLoadError on any issue. */
export function loadPolicyDir(dir: string): PolicySetSpec {
  return buildPolicySet(listPolicyFiles(dir).map((path) => ({ path, text: readFileSync(path, 'utf8') })));
}
