#!/usr/bin/env node
/* global process, setTimeout, setInterval, clearInterval, fetch, AbortSignal */
// npm run soak: a bounded soak (a few minutes; not in CI's budget) of two countersign replicas on
// one Redis, behind a balancer, with mixed allow, deny and approve traffic from several agents,
// a reviewer bot, and faults injected: Redis restarted (its data kept), then a replica SIGKILLed
// and started again. It then checks, from what reached moto, the audit stream and the clients:
// no request forwarded that was not allowed or approved, no approval spent twice, replica B's RSS
// flat, every decision in the audit log exactly once. Exit 0 when all hold; the report is printed
// and written to .test-logs/soak/report.json. SOAK_SECONDS (default 240), SOAK_AGENTS (default 4).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { countersignEnv, seedS3, startMoto } from '../../dist/demo/moto.js';
import { checkSoak } from './checks.js';
import { CLI, freePort, ROOT, rssOf, s3Get, startBalancer, startNoticeReceiver, startRedis, startReplica, startTap } from './parts.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 240);
const AGENTS = Number(process.env.SOAK_AGENTS ?? 4);
/** Held objects, each read once on its own approval: enough that a default run never runs out (seeded 4 buckets at once). */
const INTENTS = 6000;
const HELD_BUCKETS = 4;
/** Between an agent's calls: a steady load, not a benchmark (RSS is judged at a constant rate). */
const THINK_MS = 20;
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (line) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function policies(dir, roleArn) {
  const agents = Array.from({ length: AGENTS }, (_, i) => `  agent-${i}: { owners: [olga] }`).join('\n');
  writeFileSync(path.join(dir, 'directory.yaml'), `apiVersion: countersign.dev/v1alpha1\nkind: Directory\nagents:\n${agents}\nreviewers:\n  olga: { name: Olga, groups: [owners] }\n  ann: { name: Ann, groups: [owners] }\ngroups:\n  owners: {}\n`);
  const rule = (name, effect, bucket, extra = '') => `  - name: ${name}\n    effect: ${effect}\n    agents: ["*"]\n    actions: ["s3:GetObject"]\n    resources: ["arn:aws:s3:::${bucket}/*"]\n${extra}${effect === 'deny' ? '' : `    credentials: { roleArn: "${roleArn}" }\n`}`;
  writeFileSync(
    path.join(dir, 'rules.yaml'),
    `apiVersion: countersign.dev/v1alpha1\nkind: Policy\nrules:\n${rule('open', 'allow', 'open')}${rule('closed', 'deny', 'closed')}${rule('held', 'approve', 'held-*', '    approval: { groups: [owners], holdTimeout: 2s, pendingTimeout: 5m }\n')}`,
  );
}

async function main() {
  const root = mkdtempSync(path.join(tmpdir(), 'cs-soak-'));
  const [dataDir, policyDir, redisDir] = ['data', 'policies', 'redis'].map((d) => path.join(root, d));
  for (const d of [dataDir, policyDir, redisDir]) mkdirSync(d, { mode: 0o700 });
  log(`starting moto, redis and two replicas in ${root}`);
  const moto = await startMoto();
  // Object intent-N lives in bucket held-(N mod HELD_BUCKETS): unique keys, seeded in parallel.
  const held = Array.from({ length: HELD_BUCKETS }, (_, b) => Object.fromEntries(Array.from({ length: INTENTS / HELD_BUCKETS }, (_, j) => j * HELD_BUCKETS + b).map((n) => [`intent-${n}`, `held ${n}`])));
  await Promise.all([seedS3(moto, 'open', { 'a.txt': 'open a', 'b.txt': 'open b' }), seedS3(moto, 'closed', { 'secret.txt': 'closed' }), ...held.map((objects, b) => seedS3(moto, `held-${b}`, objects))]);
  const tap = await startTap(moto.endpoint);
  // The reviewer learns of approvals as a person does, from the notice (webhook), and from the
  // approval id an agent's ApprovalPending answer carries (a notice can die with its replica).
  const toReview = new Map(); // approval id -> object key
  const notices = await startNoticeReceiver((notice) => {
    const id = notice?.approval?.id;
    const resource = notice?.approval?.context?.resources?.[0];
    if (typeof id === 'string' && typeof resource === 'string') toReview.set(id, resource.replace(/^arn:aws:s3:::held-\d+\//, ''));
  });
  let redis = await startRedis(await freePort(), redisDir);
  policies(policyDir, moto.roleArn);

  const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? root, AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: path.join(root, 'none'), AWS_SHARED_CREDENTIALS_FILE: path.join(root, 'none') };
  const cliEnv = { ...base, COUNTERSIGN_DATA_DIR: dataDir, COUNTERSIGN_POLICY_DIR: policyDir };
  const keys = Array.from({ length: AGENTS }, (_, i) => JSON.parse(execFileSync(process.execPath, [CLI, 'agents', 'issue', `agent-${i}`, '--json'], { env: cliEnv, encoding: 'utf8' })));
  const token = /COUNTERSIGN_REVIEWER_TOKEN=(\S+)/.exec(execFileSync(process.execPath, [CLI, 'reviewers', 'token', 'ann'], { env: cliEnv, encoding: 'utf8' }))?.[1];
  const env = {
    ...base,
    ...countersignEnv(moto),
    COUNTERSIGN_UPSTREAM_OVERRIDES: `*=${tap.url}`,
    COUNTERSIGN_DATA_DIR: dataDir,
    COUNTERSIGN_POLICY_DIR: policyDir,
    COUNTERSIGN_REDIS_URL: redis.url,
    COUNTERSIGN_LISTEN: '127.0.0.1:0',
    COUNTERSIGN_ADMIN_LISTEN: '127.0.0.1:0',
    COUNTERSIGN_REVIEW_LISTEN: '127.0.0.1:0',
    COUNTERSIGN_LOG_LEVEL: 'warn',
    COUNTERSIGN_WEBHOOK_URL: notices.url,
    COUNTERSIGN_WEBHOOK_SECRET: 'soak-webhook-secret-0123456789abcdef',
  };
  const replicas = { a: await startReplica('a', env), b: await startReplica('b', env) };
  const killedReplicas = [];
  const balancer = await startBalancer([replicas.a.port, replicas.b.port]);
  const live = () => Object.values(replicas).filter((r) => r.alive());

  const started = Date.now();
  const deadline = started + SECONDS * 1000;
  const responses = [];
  const decided = new Map(); // key -> 'approve' | 'deny' (what the reviewer bot did)
  const rss = [];
  let nextIntent = 0;
  let stopping = false;

  const reviewed = new Set();
  const reviewer = (async () => {
    while (!stopping) {
      for (const [id, key] of [...toReview]) {
        if (reviewed.has(id)) continue;
        const verdict = Number(key.replace('intent-', '')) % 10 === 7 ? 'deny' : 'approve';
        for (const replica of live()) {
          try {
            const post = await fetch(`http://127.0.0.1:${replica.reviewPort}/api/v1/approvals/${id}/${verdict}`, {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: '{}',
              signal: AbortSignal.timeout(5_000),
            });
            // 200: decided now; a 4xx: decided already (this bot, through a replica that then died),
            // expired or gone. The bot gives one verdict per key, so it is recorded either way.
            if (post.status < 500 && post.status !== 401) {
              reviewed.add(id);
              decided.set(key, verdict);
              break;
            }
          } catch {
            // a replica going away: the next one
          }
        }
      }
      await pause(100);
    }
  })();

  async function intent(keyOf) {
    const index = nextIntent++;
    if (index >= INTENTS) return;
    const object = `intent-${index}`;
    // An agent gives an intent up a little after the soak's end (a held request is answered within 2 s).
    while (!stopping && Date.now() < deadline + 20_000) {
      const answer = await s3Get(balancer.port, keyOf, `held-${index % HELD_BUCKETS}`, object);
      if (typeof answer.approvalId === 'string' && !toReview.has(answer.approvalId)) toReview.set(answer.approvalId, object);
      responses.push({ agent: keyOf.agent, bucket: 'held', object, at: Date.now(), ...answer, body: undefined, ok: answer.status === 200 && answer.body === `held ${index}` });
      if (answer.status === 200 || answer.code === 'ApprovalDenied') return;
      await pause(answer.status === 0 ? 100 : 250);
    }
  }

  const agents = keys.map(async (key, i) => {
    let n = 0;
    while (Date.now() < deadline) {
      n += 1;
      const roll = (n * 7 + i * 3) % 10;
      if (roll < 5) {
        const answer = await s3Get(balancer.port, key, 'open', n % 2 === 0 ? 'a.txt' : 'b.txt');
        responses.push({ agent: key.agent, bucket: 'open', at: Date.now(), ...answer, body: undefined, ok: answer.status === 200 && answer.body.startsWith('open ') });
      } else if (roll < 7) {
        const answer = await s3Get(balancer.port, key, 'closed', 'secret.txt');
        responses.push({ agent: key.agent, bucket: 'closed', at: Date.now(), ...answer, body: undefined, ok: answer.status === 403 && answer.code === 'AccessDenied' });
      } else {
        await intent(key);
      }
      await pause(THINK_MS);
    }
  });

  const faults = (async () => {
    // RSS from /proc, and the V8 heap in use from the replica's own metrics (a leak grows both; a heap settling in grows RSS alone).
    const sample = setInterval(() => {
      const at = Date.now() - started;
      const bytes = rssOf(replicas.b.pid);
      void fetch(`http://127.0.0.1:${replicas.b.adminPort}/metrics`, { signal: AbortSignal.timeout(2_000) })
        .then((res) => res.text())
        .then((text) => rss.push({ at, bytes, heapUsed: Number(/^countersign_nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1] ?? NaN) }))
        .catch(() => rss.push({ at, bytes, heapUsed: NaN }));
    }, 2_000);
    await pause((SECONDS * 1000) / 3);
    log('fault: Redis restarted (SIGKILL; its fsynced append-only file is kept)');
    await redis.stop('SIGKILL');
    await pause(2_000);
    redis = await startRedis(redis.port, redisDir);
    await pause((SECONDS * 1000) / 3 - 2_000);
    log(`fault: replica a (pid ${replicas.a.pid}) SIGKILLed while serving`);
    const killedAt = Date.now();
    killedReplicas.push({ name: 'a', pid: replicas.a.pid, killedAt });
    await replicas.a.stop('SIGKILL');
    await pause(3_000);
    replicas.a = await startReplica('a2', env);
    balancer.backends = [replicas.a.port, replicas.b.port];
    log(`replica a2 (pid ${replicas.a.pid}) started in its place`);
    await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())));
    clearInterval(sample);
  })();

  await Promise.all([...agents, faults]);
  stopping = true;
  await reviewer;
  log(`traffic done: ${responses.length} answers; letting the audit queues drain`);
  await pause(1_500);
  await Promise.all(live().map((r) => r.stop('SIGTERM')));
  const auditEnv = { ...base, COUNTERSIGN_DATA_DIR: dataDir, COUNTERSIGN_POLICY_DIR: policyDir, COUNTERSIGN_REDIS_URL: redis.url };
  const stream = execFileSync(process.execPath, [CLI, 'audit', 'export'], { env: auditEnv, encoding: 'utf8', maxBuffer: 1 << 30 })
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  let verify;
  try {
    verify = execFileSync(process.execPath, [CLI, 'audit', 'verify'], { env: auditEnv, encoding: 'utf8' }).trim();
  } catch (error) {
    verify = `FAILED: ${String(error.stdout ?? error.message).trim()}`;
  }
  const report = checkSoak({ seconds: SECONDS, responses, stream, upstream: tap.seen, decided, rss, killedReplicas, verify });
  await balancer.close();
  await notices.close();
  await tap.close();
  await redis.stop();
  await moto.stop();
  const out = path.join(ROOT, '.test-logs', 'soak');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'report.json'), JSON.stringify(report, null, 2));
  process.stdout.write(`${report.lines.join('\n')}\n`);
  process.exitCode = report.ok ? 0 : 1;
}

main().catch((error) => {
  process.stderr.write(`soak failed to run: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 2;
});
