// Policy engine budgets (DESIGN.md): a decision with 10,000 rules in <= 10 µs median, and
// loading 10,000 rules in <= 1 s. The baseline in the same run is a linear scan over the same
// compiled rules (what the rule index exists to avoid), so the ratio shows the index's worth.
import { performance } from 'node:perf_hooks';
import { compilePolicySet } from '../dist/policy/compile.js';
import { decide, firstMismatch, pairFacts } from '../dist/policy/evaluate.js';
import { buildPolicySet } from '../dist/policy/load.js';

const RULES = 10_000;
const SERVICES = 200;
const ROLE = 'arn:aws:iam::123456789012:role/bench';

/** 10,000 rules over 200 services: exact actions, some action globs, a few global globs, 10% denies. */
function policyText() {
  const lines = ['apiVersion: countersign.dev/v1alpha1', 'kind: Policy', 'rules:'];
  for (let i = 0; i < RULES; i++) {
    const service = `svc${i % SERVICES}`;
    const effect = i % 10 === 0 ? 'deny' : 'allow';
    const action = i % 100 === 7 ? '*:List*' : i % 20 === 3 ? `${service}:Get*` : `${service}:Action${Math.floor(i / SERVICES)}`;
    lines.push(`  - name: rule-${i}`, `    effect: ${effect}`, `    agents: ["agent-${i % 50}*"]`, `    actions: ["${action}"]`, `    resources: ["arn:aws:${service}:*:*:thing/${i % 500}/*"]`);
    if (effect === 'allow') lines.push(`    credentials: { roleArn: "${ROLE}" }`);
  }
  return lines.join('\n') + '\n';
}

/** Requests aimed at rule r = (i * 7919) % RULES: two in three fit it exactly, the rest miss on agent or resource. */
function requests(count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const r = (i * 7919) % RULES;
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
}

/** The same decision without the index: every rule, every time. */
function linearDecide(policy, request) {
  const need = request.needs[0];
  let allow;
  for (const rule of policy.awsRules) {
    if (firstMismatch(rule, pairFacts(policy, request, need, rule)) !== undefined) continue;
    if (rule.spec.effect === 'deny') return 'deny';
    allow ??= rule;
  }
  return allow === undefined ? 'deny' : 'allow';
}

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

const text = policyText();
const t0 = performance.now();
const policy = compilePolicySet(buildPolicySet([{ path: 'bench-10k.yaml', text }]));
const loadMs = performance.now() - t0;

const inputs = requests(20_000);
let allowed = 0;
for (const request of inputs) if (decide(policy, request).effect === 'allow') allowed += 1;
const indexed = medianMicros((r) => decide(policy, r), inputs, 3);
const linear = medianMicros((r) => linearDecide(policy, r), inputs.slice(0, 2_000), 1);

const verdict = (ok) => (ok ? 'PASS' : 'FAIL');
console.log('policy engine (10,000 rules)');
console.log(`  requests decided: ${inputs.length} (${allowed} allowed)`);
console.log(`  load + compile 10,000 rules     ${loadMs.toFixed(0).padStart(8)} ms   target <= 1000 ms   ${verdict(loadMs <= 1000)}`);
console.log(`  decision, indexed (median)      ${indexed.toFixed(2).padStart(8)} µs   target <= 10 µs     ${verdict(indexed <= 10)}`);
console.log(`  decision, linear scan (median)  ${linear.toFixed(2).padStart(8)} µs   baseline: index is ${(linear / indexed).toFixed(0)}x faster`);
console.log('');
