// The baseline build for bench/run.js: another commit of countersign, built beside this one so
// both run in the same bench run (same machine, same load, interleaved), and a regression shows
// as a ratio instead of a number to remember.
//
// Which commit: BENCH_BASELINE=<ref> (any git revision), BENCH_BASELINE=none for no baseline, or
// by default the previous landing: the last commit of main that this work builds on. With a
// remote that is `git merge-base HEAD <upstream>` (the branch's upstream, else origin/main).
// Without one (a checkout made from a landed main, committed to locally) it is the commit the
// branch was created at, read from the branch's reflog ("branch: Created from ..."): the first
// parent of the oldest commit not yet landed. When neither is known it is HEAD, so the bench
// compares the working tree with the last commit.
//
// How it is built: `git archive <commit>` unpacked into a cache directory outside the
// repository (BENCH_CACHE_DIR, default $TMPDIR/countersign-bench-cache/baseline-<commit>), then
// `tsc -p tsconfig.build.json` there. `git archive` rather than `git worktree add`: it only reads
// the repository (no .git/worktrees entry to clean up when a run is killed, no lock shared with
// engineers committing meanwhile), and the built tree is kept for the next run. node_modules is
// a symlink to this checkout's when every package the commit's package-lock.json names is
// installed here at the same version (extra packages do no harm); otherwise `npm ci` runs in the
// cached tree.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './moto.js';
import { CACHE_DIR } from './sigv4-proxy.js';

const git = (args) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const gitOrUndefined = (args) => {
  try {
    return git(args);
  } catch {
    return undefined;
  }
};

/** The previous landing: { commit, why } (see the top of this file). */
function previousLanding() {
  for (const upstream of ['@{upstream}', 'refs/remotes/origin/main']) {
    if (gitOrUndefined(['rev-parse', '--verify', '--quiet', upstream]) === undefined) continue;
    const base = gitOrUndefined(['merge-base', 'HEAD', upstream]);
    if (base !== undefined) return { commit: base, why: `merge-base of HEAD and ${upstream}` };
  }
  const branch = gitOrUndefined(['symbolic-ref', '--quiet', '--short', 'HEAD']);
  if (branch !== undefined) {
    const entries = (gitOrUndefined(['reflog', 'show', '--format=%H %gs', `refs/heads/${branch}`]) ?? '').split('\n').filter(Boolean);
    const created = entries.at(-1);
    if (created !== undefined && / branch: Created from /.test(created)) {
      const commit = created.slice(0, created.indexOf(' '));
      if (gitOrUndefined(['merge-base', '--is-ancestor', commit, 'HEAD']) !== undefined) {
        return { commit, why: `where ${branch} was created (its reflog: ${created.slice(commit.length + 1)}), the last landed main` };
      }
    }
  }
  return { commit: git(['rev-parse', 'HEAD']), why: 'HEAD (no upstream and no branch creation point found)' };
}

/**
 * The baseline to build: { commit, short, subject, why }, or undefined for BENCH_BASELINE=none.
 * Throws when BENCH_BASELINE names no commit.
 */
export function resolveBaseline(spec = process.env.BENCH_BASELINE) {
  if (spec === 'none' || spec === '0' || spec === 'off') return undefined;
  let chosen;
  if (spec === undefined || spec === '' || spec === 'previous') {
    chosen = previousLanding();
  } else {
    const commit = gitOrUndefined(['rev-parse', '--verify', '--quiet', `${spec}^{commit}`]);
    if (commit === undefined) throw new Error(`BENCH_BASELINE=${spec} names no commit in ${repoRoot}`);
    chosen = { commit, why: `BENCH_BASELINE=${spec}` };
  }
  return {
    ...chosen,
    short: git(['rev-parse', '--short', chosen.commit]),
    subject: git(['log', '-1', '--format=%s', chosen.commit]).slice(0, 80),
  };
}

/** What the build under test is: HEAD, and whether src/ has changes not committed (dist/ is built from the working tree). */
export function describeWorkingTree() {
  const head = gitOrUndefined(['rev-parse', '--short', 'HEAD']) ?? 'unknown: not a git checkout';
  const changed = (gitOrUndefined(['status', '--porcelain', '--', 'src', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) ?? '').split('\n').filter(Boolean).length;
  return { head, changed };
}

/** name -> { version, optional } of every package a lockfile (v2/v3 `packages` map) names. */
function lockedPackages(text) {
  const packages = JSON.parse(text).packages ?? {};
  const out = new Map();
  for (const [key, value] of Object.entries(packages)) if (key !== '' && value.version !== undefined) out.set(key, { version: value.version, optional: value.optional === true });
  return out;
}

/**
 * True when this checkout's node_modules has every package `commit` locks, at the same version.
 * A package that lock marks optional (a binding for another platform) may be absent from
 * node_modules, as long as this checkout's own package-lock.json locks the same version.
 */
function installedSatisfies(commit) {
  const read = (file) => (existsSync(path.join(repoRoot, file)) ? lockedPackages(readFileSync(path.join(repoRoot, file), 'utf8')) : new Map());
  const installed = read('node_modules/.package-lock.json');
  const locked = read('package-lock.json');
  const wanted = gitOrUndefined(['show', `${commit}:package-lock.json`]);
  if (installed.size === 0 || wanted === undefined) return false;
  for (const [name, { version, optional }] of lockedPackages(wanted)) {
    if (installed.get(name)?.version === version) continue;
    if (optional && !installed.has(name) && locked.get(name)?.version === version) continue;
    return false;
  }
  return true;
}

/**
 * Builds `baseline` once (cached by commit) and returns { dir, cli, node_modules: 'linked' | 'npm ci', cached }.
 * `log` gets one line per slow step.
 */
export function buildBaseline(baseline, log = (line) => process.stderr.write(`${line}\n`)) {
  const dir = path.join(CACHE_DIR, `baseline-${baseline.commit}`);
  const cli = path.join(dir, 'dist', 'cli', 'main.js');
  const stamp = path.join(dir, '.bench-built');
  if (existsSync(stamp)) {
    const nodeModules = readFileSync(stamp, 'utf8').trim();
    // A linked node_modules is only right while this checkout's packages still satisfy the
    // commit's lock; after an upgrade here the cached tree gets its own (npm ci).
    if (!nodeModules.startsWith('linked') || installedSatisfies(baseline.commit)) return { dir, cli, nodeModules, cached: true };
    log(`  this checkout's node_modules no longer satisfies ${baseline.short}'s package-lock.json: rebuilding the cached baseline`);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  const work = mkdtempSync(path.join(CACHE_DIR, `build-baseline-${baseline.short}-`));
  try {
    log(`  building the baseline ${baseline.short} in ${dir} (once per commit)`);
    execFileSync('sh', ['-c', 'git archive --format=tar "$1" | tar -x -C "$2"', 'sh', baseline.commit, work], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
    let nodeModules;
    if (installedSatisfies(baseline.commit)) {
      symlinkSync(path.join(repoRoot, 'node_modules'), path.join(work, 'node_modules'), 'dir');
      nodeModules = `linked to ${path.join(repoRoot, 'node_modules')}`;
    } else {
      log(`  ${baseline.short}'s package-lock.json wants packages this checkout has not installed: npm ci in the baseline tree`);
      execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
      nodeModules = 'npm ci';
    }
    execFileSync(process.execPath, [path.join(work, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    if (!existsSync(path.join(work, 'dist', 'cli', 'main.js'))) throw new Error('the build produced no dist/cli/main.js');
    writeFileSync(path.join(work, '.bench-built'), `${nodeModules}\n`);
    try {
      renameSync(work, dir); // atomic; a concurrent run that finished first wins
    } catch (error) {
      if (!existsSync(stamp)) throw error;
    }
    return { dir, cli, nodeModules, cached: false };
  } catch (error) {
    const detail = [error.stdout?.toString(), error.stderr?.toString()].filter(Boolean).join('\n').trim();
    throw new Error(`building the baseline ${baseline.short} failed: ${detail || error.message}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
