// The hosts countersign accepts for a service come from AWS's endpoint data
// (scripts/endpoints/generate.js → src/aws/endpoint-hosts.json): every host the current SDKs'
// endpoint rule sets and the previous ones' endpoints.json and aws-sdk v2 rules use, and no
// host the data does not give the service (a bucket named like a service is a bucket).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { keyReader, type Partition } from '../../scripts/endpoints/generate.js';
import { endpointData, hostKey, isS3ApiHost, signingNamesOfHost } from '../../src/aws/endpoint-data.js';
import { isS3Host, virtualHostedBucket } from '../../src/aws/endpoints.js';
import { hostServesService } from '../../src/aws/host-service.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const committedPath = join(root, 'src/aws/endpoint-hosts.json');
const table = JSON.parse(readFileSync(committedPath, 'utf8')) as { source: Record<string, string>; partitions: Partition[]; hosts: Record<string, string[]> };

/** The repository venv's site-packages (botocore, the AWS CLI v1's vendored botocore). */
function sitePackages(): string | undefined {
  const lib = join(root, '.venv/lib');
  const python = existsSync(lib) ? readdirSync(lib).find((d) => d.startsWith('python')) : undefined;
  return python === undefined ? undefined : join(lib, python, 'site-packages');
}
const site = sitePackages();

describe('endpoint-hosts.json is what scripts/endpoints/generate.js makes of its inputs', () => {
  if (site === undefined) {
    it.skip('skipped: no .venv with botocore (bash .ci/run installs it)', () => {});
    return;
  }

  it('regenerating gives no diff (node scripts/endpoints/generate.js --check)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'endpoint-hosts-'));
    try {
      const out = join(dir, 'endpoint-hosts.json');
      execFileSync(process.execPath, [join(root, 'scripts/endpoints/generate.js'), '--out', out], { cwd: root, stdio: 'pipe' });
      const fresh = readFileSync(out, 'utf8').split('\n');
      const committed = readFileSync(committedPath, 'utf8').split('\n');
      const line = fresh.findIndex((l, i) => l !== committed[i]);
      if (line !== -1 || fresh.length !== committed.length) {
        expect.fail(`src/aws/endpoint-hosts.json is stale at line ${line + 1}: run node scripts/endpoints/generate.js\n  committed: ${committed[line] ?? ''}\n  generated: ${fresh[line] ?? ''}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('records the botocore versions it was generated from', () => {
    const version = (file: string) => /__version__ = '([^']+)'/.exec(readFileSync(join(site, file), 'utf8'))?.[1];
    expect(endpointData().source).toMatchObject({ botocore: version('botocore/__init__.py'), 'awscli botocore': version('awscli/botocore/__init__.py') });
  });

  it('reads every host name of botocore\'s endpoints.json as the generator does', () => {
    const read = keyReader(table.partitions);
    const hosts = new Set<string>();
    for (const file of ['botocore/data/endpoints.json', 'awscli/botocore/data/endpoints.json']) {
      const data = JSON.parse(readFileSync(join(site, file), 'utf8')) as { partitions: Array<{ services: Record<string, { endpoints?: Record<string, { hostname?: string; variants?: Array<{ hostname?: string }> }> }> }> };
      for (const partition of data.partitions) {
        for (const service of Object.values(partition.services)) {
          for (const endpoint of Object.values(service.endpoints ?? {})) {
            for (const host of [endpoint.hostname, ...(endpoint.variants ?? []).map((v) => v.hostname)]) if (host !== undefined && !host.includes('{')) hosts.add(host);
          }
        }
      }
    }
    expect(hosts.size).toBeGreaterThan(1000);
    const differ = [...hosts].filter((host) => hostKey(host) !== read(host));
    expect(differ).toEqual([]);
  });
});

/** A region of each partition, to put into a key's `{region}`. */
const REGION: Readonly<Record<string, string>> = {
  aws: 'us-west-2', 'aws-cn': 'cn-north-1', 'aws-us-gov': 'us-gov-west-1', 'aws-iso': 'us-iso-east-1', 'aws-iso-b': 'us-isob-east-1',
  'aws-iso-e': 'eu-isoe-west-1', 'aws-iso-f': 'us-isof-south-1', 'aws-eusc': 'eusc-de-east-1',
};

/** The key's host names, one per partition, that read back to the key. */
function instances(key: string): string[] {
  return table.partitions
    .map((p) => {
      const region = REGION[p.id] ?? '';
      return key.replaceAll('{region}', region).replaceAll('{account}', '123456789012').replaceAll('{dnsSuffix}', p.dnsSuffix).replaceAll('{dualStackDnsSuffix}', p.dualStackDnsSuffix);
    })
    .filter((host) => hostKey(host) === key);
}

describe('every key of the data', () => {
  it('has a region for every partition', () => {
    for (const p of table.partitions) expect(new RegExp(p.regionRegex).test(REGION[p.id] ?? ''), p.id).toBe(true);
  });

  it('is the key of a host name, which serves the key\'s signing names', () => {
    const entries = Object.entries(table.hosts);
    expect(entries.length).toBeGreaterThan(1500);
    for (const [key, names] of entries) {
      const hosts = instances(key);
      expect(hosts, key).not.toEqual([]);
      for (const host of hosts) for (const name of names) expect(hostServesService(host, name), `${host} for ${name}`).toBe(true);
    }
  });

  it('never gives a host that has the shape of an S3 bucket host to a service other than S3', () => {
    const claimed = Object.entries(table.hosts).flatMap(([key, names]) => instances(key).filter((host) => isS3Host(host) && names.some((n) => n !== 's3')).map((host) => `${host}: ${names.join(',')}`));
    expect(claimed).toEqual([]);
  });
});

describe('the hosts the SDKs use are accepted for their service', () => {
  it.each([
    // AWS CLI v1 (awscli/customizations/overridesslcommonname.py, from endpoints.json sslCommonName)
    ['queue.amazonaws.com', 'sqs'],
    ['eu-west-1.queue.amazonaws.com', 'sqs'],
    ['us-gov-west-1.queue.amazonaws.com', 'sqs'],
    ['cn-north-1.queue.amazonaws.com.cn', 'sqs'],
    ['rds.amazonaws.com', 'rds'],
    ['us-west-2.elasticmapreduce.amazonaws.com', 'elasticmapreduce'],
    ['health.us-east-1.amazonaws.com', 'health'],
    // current SDKs' rule sets: regional, FIPS, dual-stack, account-based
    ['sqs.eu-west-1.amazonaws.com', 'sqs'],
    ['sqs-fips.us-east-1.amazonaws.com', 'sqs'],
    ['sqs.us-east-1.api.aws', 'sqs'],
    ['sqs.cn-north-1.api.amazonwebservices.com.cn', 'sqs'],
    ['dynamodb-fips.us-gov-west-1.amazonaws.com', 'dynamodb'],
    ['123456789012.ddb.us-east-1.amazonaws.com', 'dynamodb'],
    ['123456789012.control-kinesis.us-east-1.amazonaws.com', 'kinesis'],
    ['bedrock-runtime.us-east-1.amazonaws.com', 'bedrock'],
    ['bedrock-runtime-fips.us-east-1.amazonaws.com', 'bedrock'],
    ['api.ecr.us-east-1.amazonaws.com', 'ecr'],
    ['ecr-fips.us-east-1.amazonaws.com', 'ecr'],
    ['runtime.sagemaker.eu-west-1.amazonaws.com', 'sagemaker'],
    ['email.us-east-1.amazonaws.com', 'ses'],
    ['monitoring.us-east-1.amazonaws.com', 'monitoring'],
    ['iam.amazonaws.com', 'iam'],
    ['iam.global.api.aws', 'iam'],
    ['sts.amazonaws.com', 'sts'],
    ['sts.us-east-1.amazonaws.com', 'sts'],
    ['123456789012.s3-control.us-east-1.amazonaws.com', 's3'],
    // S3: legacy global and dash-Region hosts, FIPS and dual-stack, buckets in front
    ['s3.amazonaws.com', 's3'],
    ['s3-external-1.amazonaws.com', 's3'],
    ['s3-us-west-2.amazonaws.com', 's3'],
    ['s3.dualstack.eu-west-1.amazonaws.com', 's3'],
    ['s3-fips.us-gov-west-1.amazonaws.com', 's3'],
    ['s3-fips.dualstack.us-east-1.amazonaws.com', 's3'],
    ['reports.s3-fips.us-east-1.amazonaws.com', 's3'],
    ['my.reports.s3-fips.dualstack.us-east-2.amazonaws.com', 's3'],
    ['reports.s3-us-west-2.amazonaws.com', 's3'],
    ['reports.s3-external-1.amazonaws.com', 's3'],
    ['reports.s3-accelerate.dualstack.amazonaws.com', 's3'],
    ['reports.s3.cn-north-1.amazonaws.com.cn', 's3'],
  ])('%s serves %s', (host, service) => {
    expect(hostServesService(host, service)).toBe(true);
  });

  it.each([
    ['reports.s3-fips.us-east-1.amazonaws.com', 'reports'],
    ['my.reports.s3.dualstack.eu-west-1.amazonaws.com', 'my.reports'],
    ['us-east-1.s3.amazonaws.com', 'us-east-1'],
    ['s3.s3.amazonaws.com', 's3'],
    ['dualstack.s3.us-east-1.amazonaws.com', 'dualstack'],
    ['reports.s3-us-west-2.amazonaws.com', 'reports'],
  ])('%s names the bucket %s', (host, bucket) => {
    expect(virtualHostedBucket(host)).toBe(bucket);
  });
});

describe('hosts the data does not give a service are refused for it', () => {
  it.each([
    ['bedrock.s3.amazonaws.com', 'bedrock'], // a bucket named bedrock
    ['sqs.s3.amazonaws.com', 'sqs'],
    ['queue.s3.amazonaws.com', 'sqs'],
    ['eu-west-1.queue.s3.eu-west-1.amazonaws.com', 'sqs'],
    ['dynamodb.s3-fips.us-east-1.amazonaws.com', 'dynamodb'],
    ['iam.s3.amazonaws.com', 'iam'],
    ['sqs.us-east-1.amazonaws.com', 'dynamodb'], // another service's host
    ['queue.amazonaws.com', 'sns'],
    ['rds.amazonaws.com', 'ec2'],
    ['s3.amazonaws.com', 'sqs'],
    ['123456789012.sqs.us-east-1.amazonaws.com', 'sqs'], // no account-based SQS endpoint
    ['123456789012.ddb.us-east-1.amazonaws.com', 'sqs'],
    ['sqs.evil.example', 'sqs'], // not AWS
    ['sqs.us-east-1.amazonaws.com.evil.example', 'sqs'],
    ['evilqueue.amazonaws.com', 'sqs'],
    ['queue.amazonaws.com.evil.example', 'sqs'],
    ['sqs.not-a-region.amazonaws.com', 'sqs'],
    ['sqs.us-east-1.us-east-1.amazonaws.com', 'sqs'],
    ['sqs.cn-north-1.api.aws', 'sqs'], // a China region under the commercial suffix
  ])('%s does not serve %s', (host, service) => {
    expect(hostServesService(host, service)).toBe(false);
  });

  it.each([
    's3-control.us-east-1.amazonaws.com',
    '123456789012.s3-control.us-east-1.amazonaws.com',
    'ap-123456789012.s3-accesspoint.us-east-1.amazonaws.com',
    'ap-123456789012.s3-object-lambda.us-east-1.amazonaws.com',
    's3-object-lambda.us-east-1.amazonaws.com',
    'b.s3.not-a-region.amazonaws.com',
    'b.s3.amazonaws.com.evil.example',
    'B_ad.s3.amazonaws.com',
    'sqs.us-east-1.amazonaws.com',
  ])('%s is not an S3 API host', (host) => {
    expect(isS3Host(host)).toBe(false);
  });

  it('lists no host of another service among the S3 API hosts', () => {
    for (const key of endpointData().s3) expect(endpointData().hosts.get(key), key).toEqual(['s3']);
    expect(isS3ApiHost('sqs.us-east-1.amazonaws.com')).toBe(false);
    expect(signingNamesOfHost('reports.s3.amazonaws.com')).toEqual([]);
  });
});
