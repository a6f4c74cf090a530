import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { locateBotocore } from '../../scripts/routes/generate.js';
import { parseRouteTable, routeTable } from '../../src/aws/routes/table.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const committedPath = join(root, 'src/aws/routes/routes.json');
const botocore = (() => {
  try {
    return locateBotocore();
  } catch {
    return undefined;
  }
})();

describe('routes.json is what scripts/routes/generate.js makes of its inputs', () => {
  if (botocore === undefined) {
    it.skip('skipped: botocore is missing (pip install -r requirements-test.txt into .venv)', () => {});
    return;
  }

  it('regenerating gives no diff (npm run routes:check)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'routes-table-'));
    try {
      const out = join(dir, 'routes.json');
      execFileSync(process.execPath, [join(root, 'scripts/routes/generate.js'), '--out', out], { cwd: root, stdio: 'pipe' });
      const fresh = readFileSync(out, 'utf8');
      const committed = readFileSync(committedPath, 'utf8');
      if (fresh !== committed) {
        const a = committed.split('\n');
        const b = fresh.split('\n');
        const line = b.findIndex((l, i) => l !== a[i]);
        expect.fail(`src/aws/routes/routes.json is stale at line ${line + 1}: run npm run routes:generate\n  committed: ${(a[line] ?? '').slice(0, 160)}\n  generated: ${(b[line] ?? '').slice(0, 160)}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('records the botocore version it was generated from, the one requirements-test.txt pins', () => {
    const pinned = /^botocore==(\S+)$/m.exec(readFileSync(join(root, 'requirements-test.txt'), 'utf8'))?.[1];
    expect(botocore?.version).toBe(pinned);
    expect(routeTable().source.botocoreVersion).toBe(pinned);
  });

  it('fails with a clear message when botocore is missing', () => {
    expect(() => locateBotocore(join(tmpdir(), 'no-botocore-here'))).toThrow(/^botocore is missing: install it with/);
  });
});

describe('the route table', () => {
  it('names its sources and their licenses', () => {
    const { source } = routeTable();
    expect(source.models).toMatch(/^botocore@1\.\d+\.\d+ .*Apache-2\.0/);
    expect(source.iamActions).toMatch(/@cloud-copilot\/iam-data@.*MIT/);
    expect(source.overrides).toMatch(/iam-dataset.*MIT/);
    const overrides = JSON.parse(readFileSync(join(root, 'src/aws/routes/overrides.json'), 'utf8')) as { source: { license: string; licenseFile: string } };
    expect(overrides.source.license).toBe('MIT');
    expect(readFileSync(join(root, 'src/aws/routes', overrides.source.licenseFile), 'utf8')).toMatch(/^MIT License/);
  });

  it('has the latest model of every service and nothing from older versions', () => {
    const { services } = routeTable();
    expect(services.size).toBeGreaterThan(350);
    expect(services.get('lambda')?.model).toBe('lambda-2015-03-31');
    expect(services.get('dynamodb')?.model).toBe('dynamodb-2012-08-10');
    expect(services.get('s3')?.operations.get('GetObject')?.requestUri).toBe('/{Bucket}/{Key+}');
  });

  it('CloudWatch and SQS speak JSON and query (the model: CloudWatch lists CBOR first, which is not read; the overlay: SQS still takes query)', () => {
    const { services } = routeTable();
    const cloudwatch = services.get('cloudwatch');
    expect(cloudwatch?.protocols).toEqual(['json', 'query']);
    expect(cloudwatch?.targetPrefix).toBe('GraniteServiceVersion20100801');
    expect(cloudwatch?.jsonVersion).toBe('1.0');
    expect(cloudwatch?.iamPrefix).toBe('cloudwatch');
    const sqs = services.get('sqs');
    expect(sqs?.protocols).toEqual(['json', 'query']);
    expect(sqs?.targetPrefix).toBe('AmazonSQS');
  });

  it('loads quickly enough for start-up', () => {
    const text = readFileSync(committedPath, 'utf8');
    const started = performance.now();
    const table = parseRouteTable(text);
    const elapsed = performance.now() - started;
    expect(table.services.size).toBeGreaterThan(350);
    // Typically ~60 ms; the bound is loose for slow CI machines.
    expect(elapsed).toBeLessThan(1500);
  });

  it('is never imported from aws-sdk at run time', () => {
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts')) files.push(path);
      }
    };
    walk(join(root, 'src'));
    const offenders = files.filter((f) => /from ['"]aws-sdk(?:\/[^'"]*)?['"]|require\(['"]aws-sdk/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
