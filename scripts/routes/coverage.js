#!/usr/bin/env node
/* global console, process */
// npm run coverage:aws -- how much of AWS the route table classifies.
//
// For every operation of every service in src/aws/routes/routes.json: does it classify to at
// least one IAM action, and does every action it needs get a resource -- an ARN built from the
// request, or "*" where IAM documents the action as taking no resource? Reads only the table,
// so it runs without botocore installed.
//
//   node scripts/routes/coverage.js [--verbose SERVICE...] [--json]
//
// Per operation, one of:
//   arn        every action has an ARN template filled from the request, or is documented "*"
//   wildcard   as arn, but some ARN has a "*" in it on purpose: the resource does not exist yet
//              (RunInstances' instance/*, CreateFleet's fleet/*), or the request names it by
//              something the ARN does not contain (a query ID, a task handle), written so by a
//              curated or seeded entry or the Create<Thing> rule
//   fallback   as wildcard, but the "*" comes from the generator's last resort: no resource
//              type of an action could be named from the request, so its ARN template was used
//              with the unnamed parts as "*" (entries marked "fb")
//   star       some action that has IAM resource types gets the bare resource "*"
//   no-arn     some action's required resource type cannot be filled from the request
//   no-action  no IAM action is known for the operation
// "classified" = arn + wildcard + fallback (an action and an ARN, or documented "*"); the
// output also gives the figure without the fallback.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const table = JSON.parse(readFileSync(join(root, 'src/aws/routes/routes.json'), 'utf8'));

/** Services the issue names as must-classify-everything, by model id. */
export const MUST = [
  ['S3', 's3'],
  ['EC2', 'ec2'],
  ['IAM', 'iam'],
  ['STS', 'sts'],
  ['Lambda', 'lambda'],
  ['DynamoDB', 'dynamodb'],
  ['SQS', 'sqs'],
  ['SNS', 'sns'],
  ['KMS', 'kms'],
  ['Secrets Manager', 'secretsmanager'],
  ['SSM', 'ssm'],
  ['CloudWatch', 'cloudwatch'],
  ['CloudWatch Logs', 'cloudwatchlogs'],
  ['ECS', 'ecs'],
  ['EKS', 'eks'],
  ['ECR', 'ecr'],
  ['RDS', 'rds'],
  ['CloudFormation', 'cloudformation'],
  ['Route 53', 'route53'],
  ['ELBv2', 'elbv2'],
  ['Athena', 'athena'],
  ['Glue', 'glue'],
  ['Kinesis', 'kinesis'],
  ['Firehose', 'firehose'],
  ['Step Functions', 'stepfunctions'],
  ['EventBridge', 'eventbridge'],
  ['Bedrock', 'bedrock'],
  ['Bedrock Runtime', 'bedrockruntime'],
  ['CodeBuild', 'codebuild'],
  ['API Gateway', 'apigateway'],
  ['API Gateway v2', 'apigatewayv2'],
];

const STATUSES = ['arn', 'wildcard', 'fallback', 'star', 'no-arn', 'no-action'];

/** A template with a "*" outside its ${...} references. */
function hasWildcard(template) {
  return template.replace(/\$\{[^}]*\}/g, '').includes('*');
}

export function statusOf(op) {
  const entries = op.iam ?? [];
  if (entries.length === 0) return 'no-action';
  if (entries.some((e) => e.x !== undefined)) return 'no-arn';
  if (entries.some((e) => (e.r ?? []).includes('*'))) return 'star';
  if (entries.some((e) => e.fb === true)) return 'fallback';
  if (entries.some((e) => (e.r ?? []).some(hasWildcard))) return 'wildcard';
  return 'arn';
}

export function measure() {
  const rows = [];
  for (const [id, service] of Object.entries(table.services)) {
    const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    const problems = [];
    let unsigned = 0;
    for (const [name, op] of Object.entries(service.ops)) {
      const status = statusOf(op);
      counts[status]++;
      if (op.auth === 'none' || service.auth === 'bearer') unsigned++;
      if (status !== 'arn') problems.push(`${status.padEnd(9)} ${name}${op.iam ? '  ' + JSON.stringify(op.iam).slice(0, 300) : ''}`);
    }
    const total = Object.keys(service.ops).length;
    rows.push({ id, total, ...counts, action: total - counts['no-action'], classified: counts.arn + counts.wildcard + counts.fallback, unsigned, problems });
  }
  return rows;
}

const pct = (n, d) => (d === 0 ? '100.0' : ((100 * n) / d).toFixed(1));

function main(argv) {
  const rows = measure();
  const verbose = argv.includes('--verbose') ? argv.filter((a) => !a.startsWith('--')) : undefined;
  if (argv.includes('--json')) {
    console.log(JSON.stringify(rows.map(({ problems: _p, ...r }) => r), null, 2));
    return;
  }
  console.log(`Route table: ${table.source.models}`);
  console.log(`IAM actions: ${table.source.iamActions}; overrides: ${table.source.overrides}\n`);
  const header = `${'service'.padEnd(34)} ${'ops'.padStart(5)} ${'action'.padStart(7)} ${'action%'.padStart(7)} ${'class.'.padStart(7)} ${'class.%'.padStart(7)} ${'wildc.'.padStart(6)} ${'fallb.'.padStart(6)} ${'star'.padStart(5)} ${'no-arn'.padStart(6)} ${'no-act'.padStart(6)}`;
  console.log(header);
  console.log('-'.repeat(header.length));
  const totals = { total: 0, action: 0, classified: 0, arn: 0, wildcard: 0, fallback: 0, star: 0, 'no-arn': 0, 'no-action': 0, unsigned: 0 };
  for (const r of rows) {
    for (const k of Object.keys(totals)) totals[k] += r[k];
    console.log(
      `${r.id.padEnd(34)} ${String(r.total).padStart(5)} ${String(r.action).padStart(7)} ${pct(r.action, r.total).padStart(7)} ${String(r.classified).padStart(7)} ${pct(r.classified, r.total).padStart(7)} ${String(r.wildcard).padStart(6)} ${String(r.fallback).padStart(6)} ${String(r.star).padStart(5)} ${String(r['no-arn']).padStart(6)} ${String(r['no-action']).padStart(6)}`,
    );
    if (verbose !== undefined && (verbose.length === 0 || verbose.includes(r.id))) for (const p of r.problems) console.log(`    ${p}`);
  }
  console.log('-'.repeat(header.length));
  console.log(`${'ALL'.padEnd(34)} ${String(totals.total).padStart(5)} ${String(totals.action).padStart(7)} ${pct(totals.action, totals.total).padStart(7)} ${String(totals.classified).padStart(7)} ${pct(totals.classified, totals.total).padStart(7)} ${String(totals.wildcard).padStart(6)} ${String(totals.fallback).padStart(6)} ${String(totals.star).padStart(5)} ${String(totals['no-arn']).padStart(6)} ${String(totals['no-action']).padStart(6)}`);
  console.log(`\nServices: ${rows.length}. Operations: ${totals.total} (${totals.unsigned} of them unsigned or bearer-token: no SigV4 credential scope reaches the proxy).`);
  console.log(`Classified to an action: ${pct(totals.action, totals.total)}%. To an action and an ARN (or documented "*"): ${pct(totals.classified, totals.total)}% (goal >= 97%: ${totals.classified / totals.total >= 0.97 ? 'PASS' : 'FAIL'}).`);
  console.log(`  of which: ${totals.arn} exact (every ARN filled from the request, or documented "*"), ${totals.wildcard} with a deliberate wildcard in an ARN, ${totals.fallback} by the generic fallback (wildcards where the request names no resource of the type).`);
  const withoutFallback = (totals.classified - totals.fallback) / totals.total;
  console.log(`  Without the generic fallback: ${pct(totals.classified - totals.fallback, totals.total)}% (goal: ${withoutFallback >= 0.97 ? 'PASS' : 'FAIL'}). Exact only: ${pct(totals.arn, totals.total)}%.`);
  console.log(`  Not counted: ${totals.star} "star" (an action that has resource types would get bare "*"), ${totals['no-arn']} no-arn, ${totals['no-action']} no-action.`);
  console.log('\nMust be 100%:');
  let failed = 0;
  for (const [label, id] of MUST) {
    const r = rows.find((x) => x.id === id);
    if (r === undefined) {
      console.log(`  FAIL ${label} (${id}): not in the table`);
      failed++;
      continue;
    }
    const ok = r.classified === r.total;
    if (!ok) failed++;
    const notes = [r.wildcard > 0 ? `${r.wildcard} with a wildcard ARN` : '', r.fallback > 0 ? `${r.fallback} by fallback` : ''].filter((n) => n !== '');
    console.log(`  ${ok ? 'PASS' : 'FAIL'} ${label.padEnd(16)} ${id.padEnd(15)} ${String(r.classified).padStart(4)}/${String(r.total).padEnd(4)} ${pct(r.classified, r.total).padStart(6)}%${notes.length > 0 ? `  (${notes.join(', ')})` : ''}`);
  }
  console.log(`\n${MUST.length - failed}/${MUST.length} must-be-100% services pass.`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
