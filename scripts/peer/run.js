#!/usr/bin/env node
/* global console, process, Buffer, URL, setTimeout, clearTimeout */
// npm run test:peer -- moto's own test suite as the yardstick (issue 12).
//
// moto's tests, taken from the source distribution of the moto version requirements-test.txt
// pins, run in moto's server mode (TEST_SERVER_MODE=true): every boto3 client they create talks
// to TEST_SERVER_MODE_ENDPOINT. Each service's tests run twice, one service at a time:
//
//   direct    TEST_SERVER_MODE_ENDPOINT = moto_server
//   through   TEST_SERVER_MODE_ENDPOINT = a small passthrough of ours, which sends moto's own
//             /moto-api/* calls (the reset between tests, state managers) to moto and every
//             other request to countersign in endpoint mode (COUNTERSIGN_UPSTREAM_OVERRIDES=
//             *=moto, one allow-everything rule); the tests' clients sign with an issued agent
//             key (test/peer/peer_plugin.py turns off moto's fake credentials)
//
// moto_server runs with request authentication OFF: moto's tests create and delete their own IAM
// users, roles and policies and reset all state between tests, which an authenticating moto
// would turn into AccessDenied for reasons that have nothing to do with countersign. What
// countersign adds is checked all the same: every call through it is verified (the agent's
// SigV4), classified, decided, minted (STS AssumeRole at moto) and re-signed.
//
// A test that passes direct and fails through countersign is a countersign-only failure. Each is
// reported with the refusals countersign answered during it (x-countersign-error, the operation)
// and must match test/peer/expected-failures.yaml (deliberate refusals, and known bugs marked
// `bug: true`); any other one fails the run.
//
//   node scripts/peer/run.js [--services s3,sqs,...] [-k EXPR] [--direct-only] [--no-gate]
//   node scripts/peer/run.js --report CACHE/last-run/raw.json   (the table and the gate again,
//                                      against the allow-list as it is now; runs nothing)
//
// Output: the table on stdout; report.json, report.md and every log in $COUNTERSIGN_PEER_OUT, else
// CACHE/last-run. CACHE (the sdist, its tests, the virtualenv): $COUNTERSIGN_PEER_CACHE, else
// ~/.cache/countersign-peer.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import http from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { freePort } from '../../dist/demo/free-port.js';
import { localAwsToolEnv } from '../../dist/demo/tools.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const peerDir = join(root, 'test', 'peer');
const DEFAULT_SERVICES = ['s3', 'dynamodb', 'sqs', 'sns', 'iam', 'kms', 'secretsmanager', 'ssm', 'sts', 'logs'];
const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/countersign-peer`;
/** More unrefused failures than this in one service is no race: they are left as they are. */
const MAX_RETRIES = 25;
const TEST_TIMEOUT_S = 120;

// ---------------------------------------------------------------------------------------------
// Arguments

function parseArgs(argv) {
  const options = { services: DEFAULT_SERVICES, keyword: undefined, directOnly: false, gate: true, report: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--services') options.services = argv[++i].split(',').filter(Boolean);
    else if (arg === '-k') options.keyword = argv[++i];
    else if (arg === '--direct-only') options.directOnly = true;
    else if (arg === '--no-gate') options.gate = false;
    else if (arg === '--report') options.report = argv[++i];
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: node scripts/peer/run.js [--services s3,sqs,...] [-k EXPR] [--direct-only] [--no-gate] | --report RAW.json');
      process.exit(0);
    } else {
      console.error(`unknown argument: ${arg}`);
      process.exit(2);
    }
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// The pinned moto, its tests and a virtualenv to run them

const log = (...parts) => console.error('[peer]', ...parts);

function pinnedMotoVersion() {
  const text = readFileSync(join(root, 'requirements-test.txt'), 'utf8');
  const match = /^moto\[server\]==(\S+)$/m.exec(text);
  if (!match) throw new Error('requirements-test.txt pins no moto[server]==VERSION');
  const ours = readFileSync(join(peerDir, 'requirements.txt'), 'utf8');
  if (!ours.includes(`moto[server]==${match[1]}`)) {
    throw new Error(`test/peer/requirements.txt must pin moto[server]==${match[1]} like requirements-test.txt`);
  }
  return match[1];
}

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...opts });
}

function ensureVenv(cache) {
  const venv = join(cache, 'venv');
  const requirements = readFileSync(join(peerDir, 'requirements.txt'));
  const want = createHash('sha256').update(requirements).digest('hex');
  const stamp = join(venv, '.countersign-requirements-sha256');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want && existsSync(join(venv, 'bin', 'pytest'))) return venv;
  log(`creating ${venv} from test/peer/requirements.txt`);
  rmSync(venv, { recursive: true, force: true });
  run('python3', ['-m', 'venv', venv]);
  run(join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', join(peerDir, 'requirements.txt')], { stdio: 'inherit' });
  writeFileSync(stamp, want);
  return venv;
}

function ensureTests(cache, venv, version) {
  const dir = join(cache, `moto-${version}`);
  if (existsSync(join(dir, 'tests', 'conftest.py'))) return dir;
  const downloads = join(cache, 'sdist');
  mkdirSync(downloads, { recursive: true });
  const tarball = join(downloads, `moto-${version}.tar.gz`);
  if (!existsSync(tarball)) {
    log(`pip download --no-binary :all: --no-deps moto==${version}`);
    run(join(venv, 'bin', 'python'), ['-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', '--no-binary', ':all:', '--no-deps', `moto==${version}`, '-d', downloads], { stdio: 'inherit' });
  }
  const listing = run('tar', ['tzf', tarball]);
  if (!listing.split('\n').includes(`moto-${version}/tests/conftest.py`)) {
    throw new Error(`${tarball} has no tests/ directory: moto's sdist no longer ships its tests`);
  }
  run('tar', ['xzf', tarball, '-C', cache]);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Processes

/** A child's environment: nothing of the user's AWS, countersign, moto or test-server settings, nor proxies. */
const cleanEnv = (extra) => localAwsToolEnv(extra, ['MOTO_', 'TEST_SERVER_MODE']);

async function waitFor(check, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function httpOk(url) {
  return new Promise((resolveOk) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolveOk(res.statusCode !== undefined && res.statusCode < 500);
    });
    req.on('error', () => resolveOk(false));
    req.setTimeout(2000, () => req.destroy());
  });
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolveStop();
    });
    child.kill('SIGTERM');
  });
}

async function startMoto(venv, logDir) {
  const port = await freePort();
  const out = openSync(join(logDir, 'moto.log'), 'w');
  // Authentication off (see the header): moto's tests manage IAM state themselves.
  const child = spawn(join(venv, 'bin', 'moto_server'), ['-H', '127.0.0.1', '-p', String(port)], {
    env: cleanEnv({ MOTO_EC2_LOAD_DEFAULT_AMIS: 'false' }),
    stdio: ['ignore', out, out],
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor(() => httpOk(`${endpoint}/moto-api/`), 'moto_server');
  return { endpoint, child };
}

async function startCountersign(motoEndpoint, workDir, logDir) {
  const dataDir = join(workDir, 'countersign-data');
  const policyDir = join(workDir, 'countersign-policies');
  mkdirSync(policyDir, { recursive: true });
  writeFileSync(
    join(policyDir, 'peer.yaml'),
    `apiVersion: countersign.dev/v1alpha1
kind: Policy
metadata:
  name: peer-suite
rules:
  - name: everything
    description: The peer suite decides nothing; it measures what countersign can classify and forward.
    effect: allow
    agents: ["peer"]
    actions: ["*"]
    resources: ["*"]
    credentials: { roleArn: "${ROLE_ARN}" }
`,
  );
  const env = cleanEnv({
    COUNTERSIGN_LISTEN: '127.0.0.1:0',
    COUNTERSIGN_ADMIN_LISTEN: '127.0.0.1:0',
    COUNTERSIGN_REVIEW_LISTEN: '127.0.0.1:0',
    COUNTERSIGN_DATA_DIR: dataDir,
    COUNTERSIGN_POLICY_DIR: policyDir,
    COUNTERSIGN_LOG_LEVEL: 'warn',
    COUNTERSIGN_AUDIT_SINK: 'file',
    COUNTERSIGN_UPSTREAM_OVERRIDES: `*=${motoEndpoint}`,
    AWS_REGION: REGION,
    // countersign's own identity at moto's STS (authentication is off: any key).
    AWS_ACCESS_KEY_ID: 'AKIAPEERCOUNTERSIGN1',
    AWS_SECRET_ACCESS_KEY: 'peer-suite-countersign-secret',
  });
  const cli = join(root, 'dist', 'cli', 'main.js');
  const out = createWriteStream(join(logDir, 'countersign.log'));
  const child = spawn(process.execPath, [cli, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stdout.pipe(out);
  child.stderr.on('data', (d) => {
    stderr += d.toString();
    out.write(d);
  });
  let port;
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`countersign exited:\n${stderr}`);
    port = /listening on http:\/\/127\.0\.0\.1:(\d+)[\s\S]*decide at/.exec(stderr)?.[1];
    return port !== undefined;
  }, 'countersign');
  const key = JSON.parse(execFileSync(process.execPath, [cli, 'agents', 'issue', 'peer', '--json', '--force'], { env, encoding: 'utf8' }));
  return { endpoint: `http://127.0.0.1:${port}`, child, key, auditPath: join(dataDir, 'audit.jsonl') };
}

// The passthrough: /moto-api/* to moto (moto's reset and state API is not AWS and carries no
// signature), everything else to countersign. Notes every answer countersign gives with
// x-countersign-error, charged to the test the plugin said is running.
function operationHint(req, head) {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') return target.split('.').pop();
  const url = new URL(req.url, 'http://x');
  const action = url.searchParams.get('Action') ?? /(?:^|&)Action=([^&]*)/.exec(head)?.[1];
  if (action) return decodeURIComponent(action);
  return `${req.method} ${url.pathname}${url.search ? '?' + [...url.searchParams.keys()].join('&') : ''}`;
}

function scopeService(req) {
  const auth = req.headers.authorization ?? '';
  const fromHeader = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(auth)?.[1];
  if (fromHeader) return fromHeader;
  const cred = new URL(req.url, 'http://x').searchParams.get('X-Amz-Credential');
  return cred?.split('/')[3];
}

async function startPassthrough(motoEndpoint, countersignEndpoint) {
  const state = { test: undefined, refusals: [] };
  const moto = new URL(motoEndpoint);
  const cs = new URL(countersignEndpoint);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const server = http.createServer((req, res) => {
    if (req.url === '/__peer/test' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        state.test = body;
        res.end('ok');
      });
      return;
    }
    const target = req.url.startsWith('/moto-api') ? moto : cs;
    let head = '';
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (up) => {
        const code = up.headers['x-countersign-error'];
        if (code !== undefined && target === cs) {
          const chunks = [];
          up.on('data', (d) => chunks.push(d));
          up.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const message = /<Message>([\s\S]*?)<\/Message>/.exec(text)?.[1] ?? /"message"\s*:\s*"((?:[^"\\]|\\.)*)"/i.exec(text)?.[1] ?? text.slice(0, 300);
            state.refusals.push({
              test: state.test,
              code: String(code),
              status: up.statusCode,
              service: scopeService(req),
              operation: operationHint(req, head),
              requestId: up.headers['x-countersign-request-id'],
              message: message.slice(0, 400),
            });
          });
        }
        res.writeHead(up.statusCode ?? 502, up.rawHeaders.length ? up.rawHeaders : up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`peer passthrough: ${err.message}`);
    });
    req.on('data', (d) => {
      if (head.length < 4096) head += d.toString('latin1').slice(0, 4096 - head.length);
    });
    req.pipe(upstream);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${server.address().port}`;
  return { endpoint, state, close: () => new Promise((r) => { agent.destroy(); server.closeAllConnections(); server.close(() => r()); }) };
}

// ---------------------------------------------------------------------------------------------
// One pytest run

function runPytest({ venv, testsDir, service, mode, endpoint, passthrough, key, keyword, logDir, nodeids }) {
  const results = join(logDir, `${service}.${mode}.jsonl`);
  rmSync(results, { force: true });
  const env = cleanEnv({
    TEST_SERVER_MODE: 'true',
    TEST_SERVER_MODE_ENDPOINT: endpoint,
    AWS_DEFAULT_REGION: REGION,
    PYTHONPATH: peerDir,
    PEER_RESULTS: results,
    MOTO_EC2_LOAD_DEFAULT_AMIS: 'false',
    // No docker here: moto's tests that start Lambda containers skip (both runs alike).
    TESTS_SKIP_REQUIRES_DOCKER: 'true',
    ...(passthrough ? { PEER_CONTROL_URL: `${passthrough}/__peer` } : {}),
    ...(key ? { PEER_AGENT_KEYS: '1', AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey } : { AWS_ACCESS_KEY_ID: 'FOOBARKEY', AWS_SECRET_ACCESS_KEY: 'FOOBARSECRET' }),
  });
  const args = ['-p', 'peer_plugin', '-p', 'no:cacheprovider', '-o', 'addopts=', '-q', '--no-header', '-rN', `--timeout=${TEST_TIMEOUT_S}`, '-W', 'ignore', '-m', 'not network', ...(nodeids ?? [`tests/test_${service}`])];
  if (keyword && !nodeids) args.push('-k', keyword);
  const started = Date.now();
  const out = createWriteStream(join(logDir, `${service}.${mode}.pytest.log`));
  return new Promise((resolveRun) => {
    const child = spawn(join(venv, 'bin', 'pytest'), args, { cwd: testsDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    child.on('exit', (code) => {
      const outcomes = new Map();
      const rank = { passed: 0, skipped: 0, xfailed: 0, xpassed: 0, failed: 2, error: 3 };
      if (existsSync(results)) {
        for (const line of readFileSync(results, 'utf8').split('\n')) {
          if (!line) continue;
          const record = JSON.parse(line);
          const before = outcomes.get(record.nodeid);
          if (!before || rank[record.outcome] > rank[before.outcome]) outcomes.set(record.nodeid, record);
        }
      }
      resolveRun({ outcomes, seconds: (Date.now() - started) / 1000, exitCode: code });
    });
  });
}

/**
 * A test that passed direct, failed through countersign, and met no refusal there is most
 * likely one of moto's timing-sensitive tests losing a race on a loaded machine (the proxy adds
 * a hop): it runs once more, through countersign, on its own. A pass then counts, marked
 * `retried` in the raw results and the report; a failure or a refusal then stays a failure.
 * Tests countersign refused are never retried: a refusal is deterministic, and is the finding.
 */
async function retryUnrefused({ venv, testsDir, service, direct, through, passthrough, key, logDir }) {
  const refused = new Set(through.refusals.map((r) => r.test));
  const nodeids = [...direct.outcomes.values()]
    .filter((r) => r.outcome === 'passed' && through.outcomes.get(r.nodeid)?.outcome !== 'passed' && !refused.has(r.nodeid))
    .map((r) => r.nodeid);
  if (nodeids.length === 0 || nodeids.length > MAX_RETRIES) return;
  passthrough.state.refusals = [];
  const again = await runPytest({ venv, testsDir, service, mode: 'through-retry', endpoint: passthrough.endpoint, passthrough: passthrough.endpoint, key, logDir, nodeids });
  let passed = 0;
  for (const nodeid of nodeids) {
    const outcome = again.outcomes.get(nodeid);
    if (outcome?.outcome === 'passed' && !passthrough.state.refusals.some((r) => r.test === nodeid)) {
      through.outcomes.set(nodeid, { ...outcome, retried: true });
      passed++;
    }
  }
  through.refusals.push(...passthrough.state.refusals);
  log(`${service}: ${nodeids.length} failure(s) with no refusal run again, ${passed} passed`);
}

// ---------------------------------------------------------------------------------------------
// Allow-list

function loadAllowList() {
  const doc = YAML.parse(readFileSync(join(peerDir, 'expected-failures.yaml'), 'utf8')) ?? {};
  const entries = doc.expected ?? [];
  for (const e of entries) {
    if (!e.reason) throw new Error(`expected-failures.yaml: an entry without a reason: ${JSON.stringify(e)}`);
    if (!e.test && !e.code) throw new Error(`expected-failures.yaml: an entry needs a test or a code: ${JSON.stringify(e)}`);
  }
  return entries;
}

const globRe = (glob) => new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');

/** The allow-list entry that explains this failure, if any. */
function explain(entries, failure) {
  for (const e of entries) {
    if (e.test && !globRe(e.test).test(failure.test)) continue;
    if (e.code) {
      const codes = failure.refusals.map((r) => r.code);
      if (codes.length === 0 || !codes.some((c) => c === e.code)) continue;
      if (e.operation && !failure.refusals.some((r) => r.code === e.code && globRe(e.operation).test(r.operation))) continue;
      // A code-only entry explains a failure only when every refusal in it is of that code.
      if (!e.test && !codes.every((c) => c === e.code)) continue;
    } else if (e.noRefusal && failure.refusals.length > 0) continue;
    return e;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Report

function auditIndex(auditPath) {
  const byId = new Map();
  if (!existsSync(auditPath)) return byId;
  for (const line of readFileSync(auditPath, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    let rec;
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    const r = rec.record ?? rec;
    const id = r.requestId;
    if (!id) continue;
    byId.set(id, { ...(byId.get(id) ?? {}), ...r });
  }
  return byId;
}

function pct(a, b) {
  return b === 0 ? '-' : `${((100 * a) / b).toFixed(1)}%`;
}

function markdown(report) {
  const lines = [];
  lines.push(`moto ${report.motoVersion} test suite, direct vs through countersign (${report.date}, ${report.totalSeconds.toFixed(0)} s)`, '');
  // "to forward": the direct passes less the deliberate refusals (allow-listed, not bugs), so
  // "forwarded" is the share of what countersign should forward that it does (goal: 99.5%).
  const shares = (s) => (s.passedThrough === undefined ? ['-', '-'] : [pct(s.passedBoth, s.passedDirect), pct(s.passedBoth, s.passedDirect - (s.allowListed - s.bugs))]);
  lines.push('| service | tests | pass direct | pass through countersign (on retry) | share | forwarded | countersign-only failures | allow-listed (of which bugs) | not allow-listed | time direct / through |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of report.services) {
    const [share, forwarded] = shares(s);
    lines.push(`| ${s.service} | ${s.tests} | ${s.passedDirect} | ${s.passedThrough ?? '-'} (${s.retried ?? 0}) | ${share} | ${forwarded} | ${s.countersignOnly.length} | ${s.allowListed} (${s.bugs}) | ${s.unexpected} | ${s.secondsDirect.toFixed(0)} s / ${s.secondsThrough?.toFixed(0) ?? '-'} s |`);
  }
  const t = report.total;
  const [share, forwarded] = shares({ ...t, countersignOnly: [] });
  lines.push(`| **all** | ${t.tests} | ${t.passedDirect} | ${t.passedThrough} (${t.retried}) | ${share} | ${forwarded} | ${t.countersignOnly} | ${t.allowListed} (${t.bugs}) | ${t.unexpected} | |`);
  lines.push('');
  const failures = report.services.flatMap((s) => s.countersignOnly);
  if (failures.length) {
    lines.push('Countersign-only failures:', '');
    lines.push('| test | refusals (code: operation) | allow-list |');
    lines.push('| --- | --- | --- |');
    for (const f of failures) {
      const refusals = [...new Set(f.refusals.map((r) => `${r.code}: ${r.service ?? '?'} ${r.operation}`))].join('; ') || `no refusal: ${(f.message ?? '').replace(/\s+/g, ' ').slice(0, 160)}`;
      const why = f.allowListed ? `${f.allowListed.bug ? 'bug: ' : ''}${f.allowListed.reason.replace(/\s+/g, ' ')}` : '**not allow-listed**';
      lines.push(`| \`${f.test}\` | ${refusals.replace(/\|/g, '\\|')} | ${why.replace(/\|/g, '\\|')} |`);
    }
  }
  return lines.join('\n') + '\n';
}

/** The table from the raw results, checked against the allow-list; sets the exit code. */
function finish(raw, allow, logDir, options) {
  const report = { motoVersion: raw.motoVersion, date: new Date().toISOString(), totalSeconds: raw.totalSeconds, services: [], total: {} };
  for (const { service, direct, through } of raw.services) {
    const passedDirect = direct.outcomes.filter((r) => r.outcome === 'passed').map((r) => r.nodeid);
    const row = { service, tests: direct.outcomes.length, passedDirect: passedDirect.length, secondsDirect: direct.seconds, countersignOnly: [], allowListed: 0, bugs: 0, unexpected: 0 };
    if (through) {
      const outcomes = new Map(through.outcomes.map((r) => [r.nodeid, r]));
      row.passedThrough = through.outcomes.filter((r) => r.outcome === 'passed').length;
      row.secondsThrough = through.seconds;
      row.passedBoth = 0;
      row.retried = 0;
      for (const nodeid of passedDirect) {
        const outcome = outcomes.get(nodeid);
        if (outcome?.outcome === 'passed') {
          row.passedBoth++;
          if (outcome.retried) row.retried++;
          continue;
        }
        const refusals = through.refusals.filter((r) => r.test === nodeid);
        const failure = { test: nodeid, outcome: outcome?.outcome ?? 'missing', message: outcome?.message, refusals };
        const entry = explain(allow, failure);
        if (entry) {
          failure.allowListed = { reason: entry.reason, bug: entry.bug === true, ...(entry.code && { code: entry.code }), ...(entry.test && { test: entry.test }) };
          row.allowListed++;
          if (entry.bug) row.bugs++;
        } else row.unexpected++;
        row.countersignOnly.push(failure);
      }
    }
    report.services.push(row);
  }
  const sum = (key) => report.services.reduce((n, s) => n + (typeof s[key] === 'number' ? s[key] : s[key]?.length ?? 0), 0);
  report.total = { tests: sum('tests'), passedDirect: sum('passedDirect'), passedThrough: sum('passedThrough'), passedBoth: sum('passedBoth'), retried: sum('retried'), countersignOnly: sum('countersignOnly'), allowListed: sum('allowListed'), bugs: sum('bugs'), unexpected: sum('unexpected') };
  writeFileSync(join(logDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  const md = markdown(report);
  writeFileSync(join(logDir, 'report.md'), md);
  console.log(md);
  log(`report: ${join(logDir, 'report.json')}, logs in ${logDir}`);
  const through = raw.services.some((s) => s.through !== undefined);
  if (options.gate && through && report.total.unexpected > 0) {
    log(`${report.total.unexpected} countersign-only failure(s) not in test/peer/expected-failures.yaml`);
    process.exitCode = 1;
  }
  return report;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (options.report !== undefined) {
    const raw = JSON.parse(readFileSync(options.report, 'utf8'));
    const out = join(dirname(resolve(options.report)), 'rereport');
    mkdirSync(out, { recursive: true });
    finish(raw, loadAllowList(), out, options);
    return;
  }
  const started = Date.now();
  const cache = process.env.COUNTERSIGN_PEER_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'countersign-peer');
  mkdirSync(cache, { recursive: true });
  const version = pinnedMotoVersion();
  const venv = ensureVenv(cache);
  const testsDir = ensureTests(cache, venv, version);
  for (const service of options.services) {
    if (!existsSync(join(testsDir, 'tests', `test_${service}`))) throw new Error(`moto ${version} has no tests/test_${service}`);
  }
  const allow = loadAllowList();
  if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: npm run build');

  // Not .test-logs/: npm test empties that directory when it starts.
  const logDir = process.env.COUNTERSIGN_PEER_OUT ?? join(cache, 'last-run');
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  const workDir = mkdtempSync(join(tmpdir(), 'countersign-peer-'));
  const moto = await startMoto(venv, logDir);
  let cs;
  let passthrough;
  const stops = [() => stopChild(moto.child)];
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      void Promise.allSettled(stops.map((stop) => stop())).then(() => process.exit(130));
    });
  }
  try {
    if (!options.directOnly) {
      cs = await startCountersign(moto.endpoint, workDir, logDir);
      stops.unshift(() => stopChild(cs.child));
      passthrough = await startPassthrough(moto.endpoint, cs.endpoint);
      stops.unshift(() => passthrough.close());
    }
    log(`moto ${version} at ${moto.endpoint}${cs ? `, countersign at ${cs.endpoint}, passthrough at ${passthrough.endpoint}` : ''}`);
    const services = [];
    for (const service of options.services) {
      const direct = await runPytest({ venv, testsDir, service, mode: 'direct', endpoint: moto.endpoint, keyword: options.keyword, logDir });
      log(`${service}: direct ${direct.outcomes.size} tests in ${direct.seconds.toFixed(0)} s`);
      let through;
      if (cs) {
        passthrough.state.refusals = [];
        through = await runPytest({ venv, testsDir, service, mode: 'through', endpoint: passthrough.endpoint, passthrough: passthrough.endpoint, key: cs.key, keyword: options.keyword, logDir });
        through.refusals = passthrough.state.refusals;
        log(`${service}: through countersign ${through.outcomes.size} tests in ${through.seconds.toFixed(0)} s, ${through.refusals.length} refusals`);
        await retryUnrefused({ venv, testsDir, service, direct, through, passthrough, key: cs.key, logDir });
      }
      services.push({ service, direct, through });
    }
    const audit = cs ? auditIndex(cs.auditPath) : new Map();
    // The raw results (every outcome, every refusal with the operation from the audit log), so
    // the table can be rebuilt against an edited allow-list without running again (--report).
    const raw = {
      motoVersion: version,
      totalSeconds: (Date.now() - started) / 1000,
      services: services.map(({ service, direct, through }) => ({
        service,
        direct: { seconds: direct.seconds, outcomes: [...direct.outcomes.values()] },
        ...(through && {
          through: {
            seconds: through.seconds,
            outcomes: [...through.outcomes.values()],
            refusals: through.refusals.map((r) => {
              const rec = audit.get(r.requestId);
              return { ...r, operation: rec?.operation ?? r.operation, ...(rec?.actions && { actions: rec.actions }) };
            }),
          },
        }),
      })),
    };
    writeFileSync(join(logDir, 'raw.json'), JSON.stringify(raw) + '\n');
    finish(raw, allow, logDir, options);
  } finally {
    for (const stop of stops) await stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
