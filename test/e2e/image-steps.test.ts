// The container image's build, exercised without a Docker engine: this reads the Dockerfile,
// replays its build stage (COPY from the build context as .dockerignore lets it through, then
// each RUN, all of which call scripts/image-build.sh) in a temporary directory standing in for
// the image's filesystem, assembles the runtime stage's COPY --from=build, and starts the result
// with the runtime stage's ENTRYPOINT, CMD, ENV and WORKDIR (Node in place of /nodejs/bin/node,
// without tini). Its HEALTHCHECK must pass, SIGTERM must shut it down cleanly, and nothing may be
// written outside the data directory (the root filesystem is read-only in Kubernetes); with the
// CA and server key in place, nothing but the file audit log is written there.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/python.js';

interface Instruction {
  keyword: string;
  /** Flags such as --from=build or --mount=..., then the arguments. */
  flags: string[];
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Dockerfile instructions by stage: comments dropped, continuation lines joined. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // comment inside a continued instruction
    if (line.endsWith('\\')) {
      current += line.slice(0, -1) + ' ';
      continue;
    }
    logical.push((current + line).trim());
    current = '';
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const match = /^(\S+)\s*(.*)$/.exec(line);
    const keyword = (match?.[1] ?? '').toUpperCase();
    let rest = match?.[2] ?? '';
    const flags: string[] = [];
    for (let flag = /^(--\S+)\s+/.exec(rest); flag !== null; flag = /^(--\S+)\s+/.exec(rest)) {
      flags.push(flag[1] ?? '');
      rest = rest.slice(flag[0].length);
    }
    if (keyword === 'FROM') {
      const [from = '', as, name] = rest.split(/\s+/);
      stages.push({ from, ...(as?.toUpperCase() === 'AS' && name !== undefined && { name }), instructions: [] });
      continue;
    }
    if (keyword === 'ARG' && stages.length === 0) continue; // global ARG before the first FROM
    const stage = stages.at(-1);
    if (stage === undefined) throw new Error(`Dockerfile: ${keyword} before FROM`);
    stage.instructions.push({ keyword, flags, args: rest });
  }
  return stages;
}

/** ENV k=v k2="v 2" */
function parseEnv(args: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) env[m[1] ?? ''] = m[3] ?? m[2] ?? '';
  return env;
}

/** Whether .dockerignore (a deny-all with `!` exceptions, as this repository's is) sends a path to the build. */
function inBuildContext(relative: string, ignore: string[]): boolean {
  let included = true;
  for (const pattern of ignore) {
    const negated = pattern.startsWith('!');
    const p = (negated ? pattern.slice(1) : pattern).replace(/\/$/, '');
    const hit = p === '*' || relative === p || relative.startsWith(`${p}/`);
    if (hit) included = negated;
  }
  return included;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** path -> "size:mtime" for every file and directory under root (symlinks not followed). */
function snapshot(root: string, skip: (p: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      if (skip(full)) continue;
      const stat = lstatSync(full);
      out.set(path.relative(root, full), `${stat.size}:${stat.mtimeMs}`);
      if (stat.isDirectory()) walk(full);
    }
  };
  walk(root);
  return out;
}

const dockerfile = parseDockerfile(readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'));
const buildStage = dockerfile.find((s) => s.name === 'build');
const runtimeStage = dockerfile.at(-1);
const dockerignore = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

describe('Dockerfile', () => {
  it('builds in a Node 26 stage, runs on distroless Node 26 as a non-root user, with tini as PID 1 and a HEALTHCHECK', () => {
    // NODE_MAJOR is the major of the Node.js version .node-version pins (CI's) and engines asks for.
    const pinned = readFileSync(path.join(repoRoot, '.node-version'), 'utf8').trim().replace(/^v/, '');
    const major = pinned.split('.')[0];
    expect(major).toBe('26');
    expect(readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8')).toMatch(new RegExp(`^ARG NODE_MAJOR=${major}$`, 'm'));
    expect((JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node).toBe(`>=${major}`);
    // The replay below stands for the image: it runs on the image's Node major.
    expect(process.versions.node.split('.')[0], `node ${process.version} runs the tests; CI runs ${pinned}`).toBe(major);
    // One Debian release in every stage: distroless publishes Node 26 for Debian 13 only.
    expect(buildStage?.from).toMatch(/^node:\$\{NODE_MAJOR\}-trixie-slim$/);
    expect(dockerfile.find((s) => s.name === 'init')?.from).toBe('debian:trixie-slim');
    expect(runtimeStage?.from).toBe('gcr.io/distroless/nodejs${NODE_MAJOR}-debian13:nonroot');
    const runtime = runtimeStage?.instructions ?? [];
    const user = runtime.filter((i) => i.keyword === 'USER').at(-1)?.args ?? '';
    expect(user).toMatch(/^[1-9][0-9]*(:[1-9][0-9]*)?$/); // numeric and not 0: runAsNonRoot can verify it
    expect(runtime.some((i) => i.keyword === 'RUN')).toBe(false); // distroless: no shell
    const entrypoint = JSON.parse(runtime.find((i) => i.keyword === 'ENTRYPOINT')?.args ?? '[]') as string[];
    expect(entrypoint.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(runtime.find((i) => i.keyword === 'COPY' && i.args.endsWith(' /usr/bin/tini'))?.flags).toContain('--from=init');
    expect(runtime.find((i) => i.keyword === 'HEALTHCHECK')?.args).toMatch(/CMD \["\/nodejs\/bin\/node", "-e", .*\/readyz/);
    expect(runtime.find((i) => i.keyword === 'EXPOSE')?.args.split(/\s+/)).toEqual(['8080', '8081', '9090']);
  });

  it('runs only scripts/image-build.sh in its build stage, and copies only what .dockerignore sends', () => {
    const runs = (buildStage?.instructions ?? []).filter((i) => i.keyword === 'RUN');
    expect(runs.map((r) => r.args)).toEqual(['bash scripts/image-build.sh deps', 'bash scripts/image-build.sh build', 'bash scripts/image-build.sh stage out']);
    for (const copy of (buildStage?.instructions ?? []).filter((i) => i.keyword === 'COPY')) {
      for (const source of copy.args.split(/\s+/).slice(0, -1)) expect(inBuildContext(source.replace(/\/$/, ''), dockerignore), source).toBe(true);
    }
    // Local state never reaches the build context.
    for (const local of ['.countersign/ca.key', 'node_modules/x', 'dist/cli/main.js', '.git/config', '.venv/bin/python', 'test/e2e/x.ts']) {
      expect(inBuildContext(local, dockerignore), local).toBe(false);
    }
  });
});

describe('image build steps, replayed without Docker', { timeout: 240_000 }, () => {
  let root = '';
  /** A container path in the stand-in filesystem of `stage`. */
  const inFs = (stage: 'build' | 'runtime', containerPath: string) => path.join(root, stage, containerPath);
  let entry: string[] = [];
  let workdir = '';
  let imageEnv: Record<string, string> = {};
  let healthcheck: string[] = [];
  const children: ChildProcess[] = [];

  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'cs-image-'));
    // ---- build stage
    let cwd = '/';
    for (const step of buildStage?.instructions ?? []) {
      if (step.keyword === 'WORKDIR') {
        cwd = path.posix.resolve(cwd, step.args);
        mkdirSync(inFs('build', cwd), { recursive: true });
      } else if (step.keyword === 'COPY') {
        const parts = step.args.split(/\s+/);
        const dest = path.posix.resolve(cwd, parts.at(-1) ?? '.');
        const sources = parts.slice(0, -1);
        const intoDir = (parts.at(-1) ?? '').endsWith('/') || sources.length > 1;
        for (const source of sources) {
          const from = path.join(repoRoot, source);
          const to = intoDir ? path.join(inFs('build', dest), path.basename(source)) : inFs('build', dest);
          mkdirSync(path.dirname(to), { recursive: true });
          cpSync(from, to, { recursive: true });
        }
      } else if (step.keyword === 'RUN') {
        // --mount=type=cache,target=/root/.npm: the npm cache of the user running the tests. The
        // machine's extra CA (a registry reached through a TLS-inspecting proxy) comes along, as
        // a build host's would: a package missing from the cache is then fetched, not refused.
        const trust = Object.fromEntries(['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE'].flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]]])));
        const result = spawnSync('bash', ['-c', step.args], {
          cwd: inFs('build', cwd),
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? root, npm_config_update_notifier: 'false', ...trust },
          encoding: 'utf8',
          timeout: 180_000,
        });
        if (result.status !== 0) throw new Error(`RUN ${step.args} failed (${String(result.status)}):\n${result.stdout}\n${result.stderr}`);
      } else if (step.keyword !== 'ENV' && step.keyword !== 'ARG') {
        throw new Error(`the build stage has a ${step.keyword} this test does not replay`);
      }
    }
    // ---- runtime stage
    for (const step of runtimeStage?.instructions ?? []) {
      if (step.keyword === 'COPY' && step.flags.includes('--from=build')) {
        const [source = '', dest = ''] = step.args.split(/\s+/);
        mkdirSync(path.dirname(inFs('runtime', dest)), { recursive: true });
        cpSync(inFs('build', source), inFs('runtime', dest), { recursive: true });
      } else if (step.keyword === 'ENV') {
        imageEnv = { ...imageEnv, ...parseEnv(step.args) };
      } else if (step.keyword === 'WORKDIR') {
        workdir = step.args;
      } else if (step.keyword === 'ENTRYPOINT' || step.keyword === 'CMD') {
        entry = [...(step.keyword === 'CMD' ? entry : []), ...(JSON.parse(step.args) as string[])];
      } else if (step.keyword === 'HEALTHCHECK') {
        healthcheck = JSON.parse(/CMD (\[.*\])$/.exec(step.args)?.[1] ?? '[]') as string[];
      }
    }
  });

  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    if (root !== '') rmSync(root, { recursive: true, force: true });
  });

  it('stages production dependencies only, and no sources', () => {
    const app = inFs('runtime', '/app');
    expect(existsSync(path.join(app, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(app, 'package.json'), 'utf8'))).toMatchObject({ type: 'module' });
    for (const dep of ['ioredis', 'pino', 'undici', 'yaml', '@aws-sdk/client-sts']) expect(existsSync(path.join(app, 'node_modules', dep)), dep).toBe(true);
    for (const dev of ['typescript', 'vitest', 'eslint', '@aws-sdk/client-s3', 'http-proxy']) expect(existsSync(path.join(app, 'node_modules', dev)), dev).toBe(false);
    for (const absent of ['src', 'test', 'tsconfig.json']) expect(existsSync(path.join(app, absent)), absent).toBe(false);
    expect(readdirSync(inFs('runtime', '/etc/countersign/policies')).filter((f) => f.endsWith('.test.yaml'))).toEqual([]);
    expect(statSync(inFs('runtime', '/var/lib/countersign')).mode & 0o777).toBe(0o700);
  });

  /** Starts the image's command; resolves with the child and its admin port once /readyz says ready through the HEALTHCHECK. */
  async function startImage(): Promise<{ child: ChildProcess; output: () => string; health: () => number | null }> {
    const [proxyPort, reviewPort, adminPort] = [await freePort(), await freePort(), await freePort()];
    const mapPath = (value: string) => (value.startsWith('/') && existsSync(inFs('runtime', value)) ? inFs('runtime', value) : value);
    // The image's ENV, with its paths in the stand-in filesystem and ports free on this machine.
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };
    for (const [name, value] of Object.entries(imageEnv)) env[name] = mapPath(value);
    expect(env.COUNTERSIGN_LISTEN).toBe('0.0.0.0:8080');
    expect(env.COUNTERSIGN_ADMIN_LISTEN).toBe('0.0.0.0:9090');
    env.COUNTERSIGN_LISTEN = `127.0.0.1:${proxyPort}`;
    env.COUNTERSIGN_REVIEW_LISTEN = `127.0.0.1:${reviewPort}`;
    env.COUNTERSIGN_ADMIN_LISTEN = `127.0.0.1:${adminPort}`;
    // ENTRYPOINT + CMD without tini (PID 1 duty; not needed for a child process), with this Node.
    const command = entry.slice(entry[1] === '--' ? 2 : 0).map((arg) => (arg === '/nodejs/bin/node' ? process.execPath : mapPath(arg)));
    expect(command.slice(1)).toEqual([inFs('runtime', '/app/dist/cli/main.js'), 'serve']);
    const child = spawn(command[0] ?? '', command.slice(1), { cwd: inFs('runtime', workdir), env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const health = () => {
      const check = healthcheck.map((arg) => (arg === '/nodejs/bin/node' ? process.execPath : arg.replace('127.0.0.1:9090', `127.0.0.1:${adminPort}`)));
      return spawnSync(check[0] ?? '', check.slice(1), { timeout: 10_000 }).status;
    };
    const deadline = Date.now() + 30_000;
    while (health() !== 0) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the image did not become healthy:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return { child, output: () => output, health };
  }

  async function stop(child: ChildProcess): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  it('starts with the image command, passes its HEALTHCHECK, writes only to the data directory, and shuts down cleanly on SIGTERM', async () => {
    const dataDir = inFs('runtime', '/var/lib/countersign');
    const outsideData = (p: string) => p === dataDir;
    const before = snapshot(inFs('runtime', '/'), outsideData);
    const { child, output, health } = await startImage();
    // First start on an empty data volume: the CA and the server key are created there (and,
    // without Redis, the file audit log and, while it runs, the log's one-writer lock).
    expect(readdirSync(dataDir).filter((f) => f !== 'audit.jsonl' && f !== 'audit.jsonl.lock').sort()).toEqual(['ca.crt', 'ca.key', 'server.key']);
    expect(await stop(child)).toBe(0);
    // A clean stop releases the lock.
    expect(readdirSync(dataDir)).not.toContain('audit.jsonl.lock');
    expect(output()).toContain('"event":"policy.loaded"');
    expect(output()).toContain('"event":"shutdown"');
    expect(output()).toContain('"signal":"SIGTERM"');
    // The HEALTHCHECK really checks: with countersign gone it fails.
    expect(health()).not.toBe(0);
    expect(snapshot(inFs('runtime', '/'), outsideData)).toEqual(before);
  });

  it('starts again on the CA and server key in place, changing nothing but the audit log', async () => {
    const auditLog = inFs('runtime', '/var/lib/countersign/audit.jsonl');
    // The data directory's own mtime moves with the audit log's one-writer lock, made at start
    // and removed at the stop; every file in it is still compared.
    const files = () => {
      const all = snapshot(inFs('runtime', '/'), (p) => p === auditLog);
      all.delete('var/lib/countersign');
      return all;
    };
    const before = files();
    const { child } = await startImage();
    expect(await stop(child)).toBe(0);
    expect(files()).toEqual(before);
  });
});
