// Policy engine budgets (DESIGN.md): a decision with 10,000 rules in <= 10 µs median, flat in
// rule count, on rules spread over services AND on rules that all name the same action; and
// loading 10,000 rules in <= 1 s. Each distribution is measured at 10 and at 10,000 rules (the
// ratio shows whether the decision stays flat), and against a linear scan over the same compiled
// rules in the same run (every rule for every request: what the rule index exists to avoid).
// The linear scan also checks the index: both must decide every sampled request alike.
import { performance } from 'node:perf_hooks';
import { compilePolicySet } from '../dist/policy/compile.js';
import { decide } from '../dist/policy/evaluate.js';
import { buildPolicySet } from '../dist/policy/load.js';
import { linearScan } from '../dist/policy/rule-index.js';

const RULES = 10_000;
const FEW = 10;
const SERVICES = 200;
const ROLE = 'arn:aws:iam::123456789012:role/bench';
const BUDGET_MICROS = 10;

function header() {
  return ['apiVersion: countersign.dev/v1alpha1', 'kind: Policy', 'rules:'];
}

function rule(lines, i, effect, agents, actions, resources) {
  lines.push(`  - name: rule-${i}`, `    effect: ${effect}`, `    agents: ${JSON.stringify(agents)}`, `    actions: ${JSON.stringify(actions)}`, `    resources: ${JSON.stringify(resources)}`);
  if (effect !== 'deny') lines.push(`    credentials: { roleArn: "${ROLE}" }`);
}

/** Spread: rules over 200 services: exact actions, some action globs, a few global globs, 10% denies. */
const spread = {
  title: 'spread over 200 services',
  policy(count) {
    const lines = header();
    for (let i = 0; i < count; i++) {
      const service = `svc${i % SERVICES}`;
      const action = i % 100 === 7 ? '*:List*' : i % 20 === 3 ? `${service}:Get*` : `${service}:Action${Math.floor(i / SERVICES)}`;
      rule(lines, i, i % 10 === 0 ? 'deny' : 'allow', [`agent-${i % 50}*`], [action], [`arn:aws:${service}:*:*:thing/${i % 500}/*`]);
    }
    return lines.join('\n') + '\n';
  },
  /** Requests aimed at rule r = (i * 7919) % count: two in three fit it exactly, the rest miss on agent or resource. */
  requests(total, count) {
    const out = [];
    for (let i = 0; i < total; i++) {
      const r = (i * 7919) % count;
      const s = r % SERVICES;
      const action = r % 20 === 3 ? `svc${s}:GetThing` : `svc${s}:Action${Math.floor(r / SERVICES)}`;
      const fits = i % 3 !== 0;
      out.push({
        agent: fits ? `agent-${r % 50}-x` : `other-${i}`,
        service: `svc${s}`,
        region: 'eu-west-1',
        needs: [{ action, resource: { arn: `arn:aws:svc${s}:eu-west-1:123456789012:thing/${fits ? r % 500 : 999}/x`, needsAccount: false } }],
      });
    }
    return out;
  },
};

/**
 * Skewed: every rule names s3:GetObject, each on a resource of its own in 100 buckets; half are
 * prefixes with a wildcard (`team-N/...`), half single objects; 10% denies (half of them on
 * prefixes), and one rule in 1,000 denies every agent the `private/` folders of every bucket (a
 * wildcard right after the service), so every request meets rules neither index rules out.
 */
const skewed = {
  title: 'all on s3:GetObject',
  resource(i) {
    if (i % 1000 === 0) return 'arn:aws:s3:::*/private/*';
    return i % 2 === 0 ? `arn:aws:s3:::bucket-${i % 100}/team-${i}/*` : `arn:aws:s3:::bucket-${i % 100}/team-${i}/report.csv`;
  },
  policy(count) {
    const lines = header();
    for (let i = 0; i < count; i++) {
      const agents = i % 1000 === 0 ? ['*'] : [`agent-${i % 50}*`];
      rule(lines, i, i % 20 === 0 || i % 20 === 5 ? 'deny' : 'allow', agents, ['s3:GetObject'], [this.resource(i)]);
    }
    return lines.join('\n') + '\n';
  },
  /** Requests aimed at rule r: most fit it, one in six misses on agent, one in six on resource, one in seven asks for a private key. */
  requests(total, count) {
    const out = [];
    for (let i = 0; i < total; i++) {
      const r = (i * 7919) % count;
      const bucket = i % 6 === 3 ? 'bucket-999' : `bucket-${r % 100}`;
      const key = i % 7 === 0 ? `team-${r}/private/k${i}` : r % 2 === 0 ? `team-${r}/data-${i}.csv` : `team-${r}/report.csv`;
      out.push({
        agent: i % 6 === 0 ? `other-${i}` : `agent-${r % 50}-x`,
        service: 's3',
        region: 'eu-west-1',
        needs: [{ action: 's3:GetObject', resource: { arn: `arn:aws:s3:::${bucket}/${key}`, needsAccount: false } }],
      });
    }
    return out;
  },
};

function medianMicros(fn, inputs, rounds) {
  const perBatch = [];
  const batch = 200;
  for (let r = 0; r < rounds; r++) {
    for (let start = 0; start + batch <= inputs.length; start += batch) {
      const t0 = performance.now();
      for (let i = start; i < start + batch; i++) fn(inputs[i]);
      perBatch.push(((performance.now() - t0) * 1000) / batch);
    }
  }
  perBatch.sort((a, b) => a - b);
  return perBatch[Math.floor(perBatch.length / 2)];
}

function compile(text) {
  const t0 = performance.now();
  const policy = compilePolicySet(buildPolicySet([{ path: 'bench.yaml', text }]));
  return { policy, ms: performance.now() - t0 };
}

const summary = (d) => `${d.effect}:${d.rules.join(',')}:${d.reasons.map((r) => r.code).join(',')}`;

/** Rules the index offers per pair (allow and approve, then deny): what a decision tests at most. */
function offeredPerPair(policy, inputs) {
  let offered = 0;
  for (const request of inputs) {
    const groups = policy.agentGroups.get(request.agent) ?? new Set();
    for (const need of request.needs) {
      const rules = policy.index.forAction(need.action);
      offered += rules.granting(need, request.agent, groups).length + rules.denying(need, need.resource.arn, request.agent, groups).length;
    }
  }
  return offered / inputs.length;
}

function measure(distribution) {
  const few = compile(distribution.policy(FEW)).policy;
  const { policy: many, ms: loadMs } = compile(distribution.policy(RULES));
  const inputs = distribution.requests(20_000, RULES);
  const fewInputs = distribution.requests(20_000, FEW);
  const effects = { allow: 0, deny: 0, approve: 0 };
  for (const request of inputs) effects[decide(many, request).effect] += 1;
  const linear = linearScan(many.awsRules);
  const sample = inputs.slice(0, 2_000);
  let disagreements = 0;
  for (const request of sample) if (summary(decide(many, request)) !== summary(decide(many, request, linear))) disagreements += 1;
  return {
    loadMs,
    effects,
    disagreements,
    sample: sample.length,
    offeredFew: offeredPerPair(few, fewInputs),
    offeredMany: offeredPerPair(many, inputs),
    few: medianMicros((r) => decide(few, r), fewInputs, 3),
    many: medianMicros((r) => decide(many, r), inputs, 3),
    linear: medianMicros((r) => decide(many, r, linear), sample, 1),
  };
}

const verdict = (ok) => (ok ? 'PASS' : 'FAIL');
const micros = (v) => `${v.toFixed(2).padStart(8)} µs`;
const count = (n) => n.toLocaleString('en');
console.log('policy engine');
for (const distribution of [spread, skewed]) {
  const m = measure(distribution);
  const decided = m.effects.allow + m.effects.deny + m.effects.approve;
  console.log(`  ${distribution.title}: ${count(RULES)} rules, ${count(decided)} requests (${count(m.effects.allow)} allowed)`);
  console.log(`    load + compile ${count(RULES)} rules       ${m.loadMs.toFixed(0).padStart(8)} ms   target <= 1000 ms   ${verdict(m.loadMs <= 1000)}`);
  console.log(`    decision, ${count(RULES)} rules (median) ${micros(m.many)}   target <= ${BUDGET_MICROS} µs     ${verdict(m.many <= BUDGET_MICROS)}`);
  console.log(`    decision, ${FEW} rules (median)     ${micros(m.few)}   ${count(RULES)} / ${FEW} rules: ${(m.many / m.few).toFixed(2)}x`);
  console.log(`    rules offered per decision     ${m.offeredMany.toFixed(1).padStart(8)}      at ${count(RULES)} rules (${m.offeredFew.toFixed(1)} at ${FEW})`);
  console.log(`    linear scan, ${count(RULES)} rules      ${micros(m.linear)}   index is ${(m.linear / m.many).toFixed(0)}x faster`);
  console.log(`    index vs linear scan       ${`${m.disagreements} of ${count(m.sample)}`.padStart(12)}      requests decided differently   ${verdict(m.disagreements === 0)}`);
}
console.log('');
