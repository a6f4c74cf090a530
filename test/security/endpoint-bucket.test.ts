// What is decided must be what is sent: the upstream request names the S3 bucket (or access
// point) the request was classified on. Endpoint mode without an override goes to public AWS,
// which no test here may reach, so chooseTarget is tested on its own and against the real
// classifier, fed the fields the pipeline passes both (src/pipeline.ts: planClassification in
// identify() and chooseTarget in forward() read the same inbound host and raw path).
import { describe, expect, it } from 'vitest';
import { accessPointOf } from '../../src/aws/classify/access-point.js';
import { planClassification } from '../../src/aws/classify/index.js';
import { virtualHostedBucket } from '../../src/aws/endpoints.js';
import { routeTable } from '../../src/aws/routes/table.js';
import { chooseTarget, type TargetInput, type UpstreamTarget } from '../../src/forward/target.js';
import type { EntryMode } from '../../src/http/inbound.js';
import { refusal } from '../support/refusal.js';

const NONE = new Map<string, URL>();
const REGION = 'us-west-2';
const AP_HOST = `reports-123456789012.s3-accesspoint.${REGION}.amazonaws.com`;
const AP_ARN = `arn:aws:s3:${REGION}:123456789012:accesspoint/reports`;

function input(mode: EntryMode, host: string, rawPath: string, extra: Partial<TargetInput> = {}): TargetInput {
  const endpoint = mode === 'endpoint';
  return {
    mode,
    scheme: endpoint || mode === 'absolute' ? 'http' : 'https',
    authority: host,
    host,
    rawPath,
    service: 's3',
    endpointPrefix: 's3',
    region: REGION,
    ...extra,
  };
}

describe('endpoint mode sends the bucket it classified, not the one in the path', () => {
  it('moves a virtual-hosted bucket from the Host into the path of the regional endpoint', () => {
    // Classified as GetObject on public/prod/x; sending /prod/x would be GetObject on prod/x.
    expect(chooseTarget(input('endpoint', 'public.s3.amazonaws.com', '/prod/x'), NONE)).toEqual({
      origin: `https://s3.${REGION}.amazonaws.com`,
      host: `s3.${REGION}.amazonaws.com`,
      rawPath: '/public/prod/x',
    });
  });

  it('reads every virtual-hosted form the classifier reads, and the bucket root', () => {
    for (const host of [
      `public.s3.${REGION}.amazonaws.com`,
      `public.s3-${REGION}.amazonaws.com`,
      `public.s3.dualstack.${REGION}.amazonaws.com`,
      'public.s3-external-1.amazonaws.com',
    ]) {
      expect(chooseTarget(input('endpoint', host, '/prod/x'), NONE).rawPath, host).toBe('/public/prod/x');
    }
    expect(chooseTarget(input('endpoint', 'my.dotted.bucket.s3.amazonaws.com', '/'), NONE).rawPath).toBe('/my.dotted.bucket');
    expect(chooseTarget(input('endpoint', 'public.s3.amazonaws.com', '//x'), NONE).rawPath).toBe('/public//x');
    expect(chooseTarget(input('endpoint', 'public.s3.cn-north-1.amazonaws.com.cn', '/k', { region: 'cn-north-1' }), NONE)).toEqual({
      origin: 'https://s3.cn-north-1.amazonaws.com.cn',
      host: 's3.cn-north-1.amazonaws.com.cn',
      rawPath: '/public/k',
    });
  });

  it('leaves path-style requests and non-S3 hosts in endpoint mode as they are', () => {
    expect(chooseTarget(input('endpoint', '127.0.0.1', '/prod/x'), NONE).rawPath).toBe('/prod/x');
    expect(chooseTarget(input('endpoint', 's3.amazonaws.com', '/prod/x'), NONE).rawPath).toBe('/prod/x');
    // An SDK that puts the bucket before countersign's own host: not an AWS host, so the
    // classifier reads the path, and so does the upstream.
    expect(chooseTarget(input('endpoint', 'public.countersign.internal', '/prod/x'), NONE).rawPath).toBe('/prod/x');
    // S3 Control signs as s3 but is another model: a bucket-looking Host means nothing to it.
    expect(chooseTarget(input('endpoint', 'public.s3.amazonaws.com', '/v20180820/configuration/publicAccessBlock', { endpointPrefix: 's3-control' }), NONE)).toEqual({
      origin: `https://s3-control.${REGION}.amazonaws.com`,
      host: `s3-control.${REGION}.amazonaws.com`,
      rawPath: '/v20180820/configuration/publicAccessBlock',
    });
    // Only S3 has buckets in hosts.
    expect(chooseTarget(input('endpoint', 'public.s3.amazonaws.com', '/', { service: 'sts', endpointPrefix: 'sts' }), NONE).rawPath).toBe('/');
  });

  it('sends an access point host to that access point, and refuses one in another region', () => {
    expect(chooseTarget(input('endpoint', AP_HOST, '/prod/x'), NONE)).toEqual({ origin: `https://${AP_HOST}`, host: AP_HOST, rawPath: '/prod/x' });
    // Dual-stack and FIPS names reach the same access point; endpoint mode uses the plain public one.
    expect(chooseTarget(input('endpoint', `reports-123456789012.s3-accesspoint.dualstack.${REGION}.amazonaws.com`, '/k'), NONE).host).toBe(AP_HOST);
    const elsewhere = refusal(() => chooseTarget(input('endpoint', 'reports-123456789012.s3-accesspoint.eu-west-1.amazonaws.com', '/k'), NONE));
    expect(elsewhere.code).toBe('MisroutedRequest');
    expect(elsewhere.message).toContain('is in eu-west-1, but the request was signed for us-west-2');
  });

  it('refuses an access point under an upstream override, which can only name a bucket in the path', () => {
    const overrides = new Map([['s3', new URL('http://127.0.0.1:4566')]]);
    for (const mode of ['endpoint', 'intercept', 'absolute'] as const) {
      const refused = refusal(() => chooseTarget(input(mode, AP_HOST, '/prod/x'), overrides));
      expect(refused.code, mode).toBe('MisroutedRequest');
      expect(refused.message).toContain(`access point host ${AP_HOST}`);
    }
    // A virtual-hosted bucket still moves into the override's path, in every mode.
    for (const mode of ['endpoint', 'intercept', 'absolute'] as const) {
      expect(chooseTarget(input(mode, 'public.s3.amazonaws.com', '/prod/x'), overrides).rawPath, mode).toBe('/public/prod/x');
    }
  });

  it('keeps host and path of intercepted and absolute-URI requests, which AWS reads as they were classified', () => {
    for (const mode of ['intercept', 'absolute'] as const) {
      expect(chooseTarget(input(mode, 'public.s3.amazonaws.com', '/prod/x'), NONE)).toMatchObject({ host: 'public.s3.amazonaws.com', rawPath: '/prod/x' });
      expect(chooseTarget(input(mode, AP_HOST, '/prod/x'), NONE)).toMatchObject({ host: AP_HOST, rawPath: '/prod/x' });
    }
  });

  it('refuses an S3 API host whose request was classified for S3 Control by its path', () => {
    // s3-REGION hosts do not narrow the model by host, so /v20180820/... picks S3 Control; S3
    // itself would read bucket v20180820.
    const refused = refusal(() => chooseTarget(input('intercept', `s3-${REGION}.amazonaws.com`, '/v20180820/configuration/publicAccessBlock', { endpointPrefix: 's3-control' }), NONE));
    expect(refused.code).toBe('MisroutedRequest');
    expect(refused.message).toContain('serves the S3 API');
    // S3 Control's own hosts are fine.
    expect(chooseTarget(input('intercept', `123456789012.s3-control.${REGION}.amazonaws.com`, '/v20180820/configuration/publicAccessBlock', { endpointPrefix: 's3-control' }), NONE).host).toBe(
      `123456789012.s3-control.${REGION}.amazonaws.com`,
    );
  });

  it('pairs the S3 model with the endpoint prefix chooseTarget tests for it', () => {
    // routes/table.ts moves a host's bucket into the path for the model with id "s3";
    // chooseTarget sees the classification's endpoint prefix: they must name the same model.
    const withPrefix = [...routeTable().services.values()].filter((s) => s.endpointPrefix === 's3').map((s) => s.id);
    expect(withPrefix).toEqual(['s3']);
  });
});

/** The bucket (or access point) S3 reads from a request at this host and path, as AWS documents its addressing. */
function resourceAwsReads(target: UpstreamTarget): string {
  const accessPoint = accessPointOf(target.host);
  if (accessPoint !== undefined) return accessPoint.arn;
  const bucket = virtualHostedBucket(target.host.replace(/:\d+$/, ''));
  if (bucket !== undefined) return `arn:aws:s3:::${bucket}`;
  return `arn:aws:s3:::${decodeURIComponent(target.rawPath.split('/')[1] ?? '')}`;
}

/** The bucket (or access point) in the first resource the classifier named. */
function resourceClassified(arn: string): string {
  const accessPoint = /^(arn:[^:]+:s3:[^:]*:\d{12}:accesspoint\/[^/]+)/.exec(arn);
  if (accessPoint?.[1] !== undefined) return accessPoint[1];
  return arn.split('/')[0] ?? '';
}

describe('the upstream reads the bucket the classifier read, in every mode', () => {
  const cases: Array<[EntryMode, string, string]> = [
    ['endpoint', 'public.s3.amazonaws.com', '/prod/x'],
    ['endpoint', `public.s3.${REGION}.amazonaws.com`, '/'],
    ['endpoint', `my.dotted.bucket.s3-${REGION}.amazonaws.com`, '/a/b'],
    ['endpoint', 's3.amazonaws.com', '/prod/x'],
    ['endpoint', '127.0.0.1', '/prod/x'],
    ['endpoint', AP_HOST, '/prod/x'],
    ['intercept', 'public.s3.amazonaws.com', '/prod/x'],
    ['intercept', `s3.${REGION}.amazonaws.com`, '/prod/x'],
    ['intercept', AP_HOST, '/prod/x'],
    ['absolute', 'public.s3.amazonaws.com', '/prod/x'],
  ];
  const overrides = new Map([['*', new URL('http://127.0.0.1:4566')]]);

  for (const [mode, host, rawPath] of cases) {
    for (const [label, table] of [['no override', NONE], ['override', overrides]] as const) {
      if (label === 'override' && accessPointOf(host) !== undefined) continue; // refused above
      it(`${mode} ${host}${rawPath} (${label})`, () => {
        // The fields the pipeline gives the classifier (identify) and chooseTarget (forward).
        const classification = planClassification({ method: 'GET', host, rawPath, query: {}, headers: {}, service: 's3', region: REGION }).classify(undefined);
        const target = chooseTarget(
          { mode, scheme: mode === 'intercept' ? 'https' : 'http', authority: host, host, rawPath, service: classification.service, endpointPrefix: classification.endpointPrefix, region: classification.region },
          table,
        );
        const arn = classification.needs[0]?.resource.arn ?? '';
        expect(resourceAwsReads(target)).toBe(resourceClassified(arn));
        if (accessPointOf(host) !== undefined) expect(arn.startsWith(`${AP_ARN}/object/`)).toBe(true);
      });
    }
  }
});
