import { accessPointOf } from './classify/access-point.js';
import { isS3Host } from './endpoints.js';
import { routeTable } from './routes/table.js';

/**
 * Does this AWS host serve the service the agent signed for? A request signed for one service
 * and sent to another's host is refused rather than forwarded on a guess. A host serves a
 * signing name when it starts with the endpoint prefix of one of that name's service models
 * (`<prefix>[-fips].<region>.amazonaws.com`: bedrock-runtime and bedrock-agent sign as bedrock,
 * api.ecr as ecr, email as ses), optionally after an account label (`<account>.s3-control`,
 * DynamoDB's `<account>.ddb`); S3 also has bucket hosts.
 */
export function hostServesService(host: string, signingName: string): boolean {
  if (signingName === 's3' && (isS3Host(host) || accessPointOf(host) !== undefined)) return true;
  const labels = host.replace(AWS_SUFFIX, '');
  const prefixes = prefixesOf(signingName);
  return prefixes.some((prefix) => startsWithPrefix(labels, prefix) || (ACCOUNT_LABEL.test(labels) && startsWithPrefix(labels.slice(13), prefix)));
}

const AWS_SUFFIX = /\.(?:amazonaws\.com(?:\.cn)?|api\.aws)$/;
const ACCOUNT_LABEL = /^\d{12}\./;

/** Endpoint prefixes the route table does not name: DynamoDB's account-based endpoints. */
const EXTRA_PREFIXES: Readonly<Record<string, readonly string[]>> = { dynamodb: ['ddb'] };

const bySigningName = new Map<string, readonly string[]>();

function prefixesOf(signingName: string): readonly string[] {
  let prefixes = bySigningName.get(signingName);
  if (prefixes === undefined) {
    const models = routeTable().bySigningName.get(signingName) ?? [];
    prefixes = [...new Set([...models.map((s) => s.endpointPrefix), ...(EXTRA_PREFIXES[signingName] ?? [])])];
    bySigningName.set(signingName, prefixes);
  }
  return prefixes;
}

/** `<prefix>[-fips][.dualstack][.<region>]`, and nothing else after: `bedrock.s3.amazonaws.com` is a bucket, not Bedrock. */
function startsWithPrefix(labels: string, prefix: string): boolean {
  for (const name of [prefix, `${prefix}-fips`]) {
    if (labels === name) return true;
    if (labels.startsWith(`${name}.`) && REGION_LABELS.test(labels.slice(name.length + 1))) return true;
  }
  return false;
}

const REGION_LABELS = /^(?:dualstack\.)?[a-z]{2,}(?:-[a-z]+)+-\d{1,2}$/;
