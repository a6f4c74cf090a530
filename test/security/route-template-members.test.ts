// Every member an IAM template reads must be a member of its operation's input (issue 11, item 8).
// A template naming anything else reads nothing at request time; the generator used to drop it
// and let the same-name heuristics bind the resource, so Secrets Manager CreateSecret (input
// `Name`, seed template `${SecretId}`) was classified on `secret:*`: the session policy granted
// CreateSecret on every secret, and no name-scoped policy rule could allow it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { generate, locateBotocore } from '../../scripts/routes/generate.js';
import { overrideEntryProblems, TEMPLATE_MEMBER_ERROR, type OverrideEntry, type TemplateMemberError } from '../../scripts/routes/template-members.js';
import { routeTable, type RouteOperation, type RouteService } from '../../src/aws/routes/table.js';
import { pairs, refusal, run, type Request } from '../support/classify-request.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const botocore = (() => {
  try {
    return locateBotocore();
  } catch {
    return undefined;
  }
})();
const hasBotocore = botocore !== undefined;

function createSecret(body: Record<string, unknown>): Request {
  return {
    method: 'POST',
    host: 'secretsmanager.us-east-1.amazonaws.com',
    rawPath: '/',
    headers: { 'x-amz-target': 'secretsmanager.CreateSecret', 'content-type': 'application/x-amz-json-1.1' },
    body: Buffer.from(JSON.stringify(body)),
    service: 'secretsmanager',
  };
}

describe('CreateSecret is scoped to the named secret, never secret:*', () => {
  it('asks secretsmanager:CreateSecret on <Name>-?????? (the new secret, random suffix as a pattern)', () => {
    const c = run(createSecret({ Name: 'prod/db', SecretString: 's3cr3t' }));
    expect(c.operation).toBe('CreateSecret');
    expect(pairs(c)).toEqual(['secretsmanager:CreateSecret arn:aws:secretsmanager:us-east-1::secret:prod/db-?????? (pattern)']);
    for (const need of c.needs) expect(need.resource.arn).not.toMatch(/secret:\*$|^\*$/);
  });

  it('with tags and replica Regions also asks TagResource and ReplicateSecretToRegions on that secret', () => {
    const c = run(createSecret({ Name: 'app', SecretString: 'x', Tags: [{ Key: 'team', Value: 'a' }], AddReplicaRegions: [{ Region: 'eu-west-1' }] }));
    expect(pairs(c)).toEqual([
      'secretsmanager:CreateSecret arn:aws:secretsmanager:us-east-1::secret:app-?????? (pattern)',
      'secretsmanager:TagResource arn:aws:secretsmanager:us-east-1::secret:app-?????? (pattern)',
      'secretsmanager:ReplicateSecretToRegions arn:aws:secretsmanager:us-east-1::secret:app-?????? (pattern)',
    ]);
  });

  it('refuses a CreateSecret without a Name, or with one that would widen the pattern, instead of guessing', () => {
    expect(refusal(createSecret({ SecretString: 'x' }))).toContain('does not name the resource');
    expect(refusal(createSecret({ Name: 'prod/*', SecretString: 'x' }))).toContain('UnclassifiedRequest');
  });
});

// ---- (b) the shipped table ------------------------------------------------------------------

const REFERENCE = /\$\{([^}~|]+)(?:~\/(?:.*?)\/|\|[a-z][a-z0-9]*)?\}/g;
const CONTEXT = new Set(['Partition', 'Region', 'Account']);

interface Shape {
  readonly shape?: string;
  readonly type?: string;
  readonly members?: Readonly<Record<string, Shape>>;
  readonly member?: Shape;
  readonly value?: Shape;
}

interface Model {
  readonly shapes: Readonly<Record<string, Shape>>;
  readonly operations: Readonly<Record<string, { readonly input?: Shape }>>;
}

const models = new Map<string, Model>();

function modelOf(service: RouteService): Model {
  let model = models.get(service.model);
  if (model === undefined) {
    // "<botocore service>-<api version>": botocore/data/<service>/<version>/service-2.json[.gz]
    const file = join(botocore?.data ?? '', service.model.slice(0, -11), service.model.slice(-10), 'service-2.json');
    model = JSON.parse(existsSync(file) ? readFileSync(file, 'utf8') : gunzipSync(readFileSync(`${file}.gz`)).toString('utf8')) as Model;
    models.set(service.model, model);
  }
  return model;
}

function resolve(model: Model, shape: Shape | undefined): Shape | undefined {
  if (shape?.shape === undefined) return shape;
  return resolve(model, model.shapes[shape.shape]);
}

const kind = (s: Shape): string => s.type ?? (s.members !== undefined ? 'structure' : 'string');

/**
 * Whether `path` is a member path of the operation's input in the model, walked by member names
 * on its own (not with the generator's code): "A.B[].C", "Map.*" / "Map{}", "List[?X].Y".
 */
function isMemberPath(model: Model, operation: string, path: string): boolean {
  let shape = resolve(model, model.operations[operation]?.input);
  const segments = path.split('.');
  for (const [i, segment] of segments.entries()) {
    if (segment === '*') {
      // the keys of the map before it, and nothing after
      return i === segments.length - 1 && i > 0 && shape !== undefined && kind(shape) === 'map';
    }
    if (shape === undefined || kind(shape) !== 'structure') return false;
    const m = /^([A-Za-z0-9_-]+)(\[\]|\{\}|\[[?!]([A-Za-z0-9_-]+)\])?$/.exec(segment);
    if (m === null) return false;
    const [, name = '', suffix, predicateMember] = m;
    if (!Object.hasOwn(shape.members ?? {}, name)) return false;
    let member = resolve(model, shape.members?.[name]);
    if (member === undefined) return false;
    if (suffix === '{}') {
      if (kind(member) !== 'map') return false;
      return i === segments.length - 1;
    }
    if (suffix !== undefined) {
      if (kind(member) !== 'list') return false;
      member = resolve(model, member.member);
      if (member === undefined) return false;
      if (predicateMember !== undefined && (kind(member) !== 'structure' || !Object.hasOwn(member.members ?? {}, predicateMember))) return false;
    }
    shape = member;
  }
  return true;
}

/** Every member path an operation's IAM entries read: template references and condition paths. */
function readsOf(op: RouteOperation): Array<{ readonly action: string; readonly what: string; readonly path: string }> {
  const out: Array<{ action: string; what: string; path: string }> = [];
  for (const entry of op.iam ?? []) {
    for (const template of entry.r ?? []) {
      for (const m of template.matchAll(REFERENCE)) if (m[1] !== undefined && !CONTEXT.has(m[1])) out.push({ action: entry.a, what: template, path: m[1] });
    }
    for (const c of entry.when ?? []) out.push({ action: entry.a, what: `when ${c.op}`, path: c.path });
  }
  return out;
}

describe('every template variable of the shipped route table is a member of its operation', () => {
  if (!hasBotocore) {
    it.skip('skipped: botocore is missing (pip install -r requirements-test.txt into .venv)', () => {});
    return;
  }

  it('resolves every reference and condition path to a member path of the input, by member name', () => {
    const bad: string[] = [];
    let checked = 0;
    for (const service of routeTable().services.values()) {
      const model = modelOf(service);
      for (const op of service.operations.values()) {
        for (const read of readsOf(op)) {
          checked++;
          // The evaluator reads a path only through the operation's member map ("in").
          if (!Object.hasOwn(op.members, read.path)) bad.push(`${service.id}.${op.name} ${read.action}: ${read.path} (${read.what}) has no entry in "in"`);
          else if (!isMemberPath(model, op.name, read.path)) bad.push(`${service.id}.${op.name} ${read.action}: ${read.path} (${read.what}) is not a member path of the input`);
        }
      }
    }
    expect(bad).toEqual([]);
    expect(checked).toBeGreaterThan(10_000);
  });

  it('resolves every member an override entry in use reads (curated, else seeded) to a member path of the input', () => {
    // The table alone cannot show a reference that was dropped (CreateSecret's SecretId left no
    // trace in routes.json but secret:*); the override table still says what was meant.
    const overrides = JSON.parse(readFileSync(join(root, 'src/aws/routes/overrides.json'), 'utf8')) as {
      curated: Record<string, { entries: OverrideEntry[] }>;
      seeded: Record<string, OverrideEntry[]>;
    };
    const bad: string[] = [];
    let checked = 0;
    for (const key of new Set([...Object.keys(overrides.curated), ...Object.keys(overrides.seeded)])) {
      const [id = '', operation = ''] = key.split('.');
      const service = routeTable().services.get(id);
      if (service === undefined || !service.operations.has(operation)) {
        bad.push(`${key}: no such operation in the table`);
        continue;
      }
      const model = modelOf(service);
      const entries = overrides.curated[key]?.entries ?? overrides.seeded[key] ?? [];
      for (const entry of entries) {
        const templates = [...(entry.arn ?? []), ...Object.values(entry.arns ?? {}).flat(), ...Object.values(entry.vars ?? {}).flat()];
        const paths = [...templates.flatMap((t) => [...t.matchAll(REFERENCE)].map((m) => m[1] ?? '')), ...(entry.when ?? []).map((c) => c.path)].filter((p) => !CONTEXT.has(p));
        for (const path of paths) {
          checked++;
          if (!isMemberPath(model, operation, path)) bad.push(`${key} ${entry.action}: ${path}`);
        }
      }
    }
    expect(bad).toEqual([]);
    expect(checked).toBeGreaterThan(10_000);
  });

  it('the walker above tells members from wire names and non-members', () => {
    const s3 = routeTable().services.get('s3');
    const ec2 = routeTable().services.get('ec2');
    const dynamodb = routeTable().services.get('dynamodb');
    if (s3 === undefined || ec2 === undefined || dynamodb === undefined) throw new Error('table is missing a service');
    expect(isMemberPath(modelOf(s3), 'DeleteObjects', 'Delete.Objects[?VersionId].Key')).toBe(true);
    expect(isMemberPath(modelOf(s3), 'DeleteObjects', 'Delete.Object[].Key')).toBe(false); // "Object" is the XML wire name
    expect(isMemberPath(modelOf(ec2), 'DescribeInstances', 'InstanceIds[]')).toBe(true);
    expect(isMemberPath(modelOf(ec2), 'DescribeInstances', 'InstanceId[]')).toBe(false); // the query wire name
    expect(isMemberPath(modelOf(dynamodb), 'BatchGetItem', 'RequestItems.*')).toBe(true);
    expect(isMemberPath(modelOf(dynamodb), 'BatchGetItem', 'RequestItems.*.Keys')).toBe(false);
  });
});

// ---- (c) the generator's check ------------------------------------------------------------

describe('the route generator rejects a template variable that is not an input member', () => {
  const input = { Name: {}, Tags: {}, ResourceList: { locationName: 'resource' } };
  const members = new Set(['Name', 'Tags', 'Tags[].Key', 'ResourceList[]']);
  const problems = (entry: OverrideEntry): string[] =>
    overrideEntryProblems({ service: 'secretsmanager', operation: 'CreateSecret', section: 'curated', entry, memberExists: (p) => members.has(p), members: input });

  it('names service, operation and variable for arn, arns, vars and when', () => {
    expect(problems({ action: 'secretsmanager:CreateSecret', arn: ['arn:${Partition}:secretsmanager:${Region}:${Account}:secret:${SecretId|secretid}'] })).toEqual([
      expect.stringMatching(/^secretsmanager\.CreateSecret \(curated, secretsmanager:CreateSecret\): arn template .* reads \$\{SecretId\}, which is not a member of CreateSecret's input/),
    ]);
    expect(problems({ action: 'x:Y', arns: { secret: ['${Name}', '${Nope}'] } })).toEqual([expect.stringContaining('arns.secret template "${Nope}" reads ${Nope}')]);
    expect(problems({ action: 'x:Y', vars: { SecretId: '${name}' } })).toEqual([expect.stringContaining('reads ${name}, which is not a member of CreateSecret\'s input (the member is Name)')]);
    expect(problems({ action: 'x:Y', when: [{ path: 'Tags[].Value', op: 'Exists' }] })).toEqual([expect.stringContaining('condition Exists reads ${Tags[].Value}')]);
    expect(problems({ action: 'x:Y', arn: ['${resource[]}'] })).toEqual([expect.stringContaining('resource is the wire name of member ResourceList')]);
    expect(problems({ action: 'x:Y', arn: ['${Name|nosuchfilter}'] })).toEqual([expect.stringContaining('unknown filter |nosuchfilter')]);
  });

  it('accepts members, nested members, "*" and the context variables', () => {
    expect(problems({ action: 'x:Y', arn: ['arn:${Partition}:x:${Region}:${Account}:secret:${Name}', '?${ResourceList[]}', '*'], when: [{ path: 'Tags[].Key', op: 'Exists' }] })).toEqual([]);
    expect(problems({ action: 'x:Y', vars: { Id: '*', Other: ['${Name}', '${Tags[].Key}'] } })).toEqual([]);
  });

  it.skipIf(!hasBotocore)('fails the whole generation, listing every offending entry (the uncurated CreateSecret seed among them)', () => {
    const overrides = JSON.parse(readFileSync(join(root, 'src/aws/routes/overrides.json'), 'utf8')) as { curated: Record<string, unknown> };
    // The seed's CreateSecret entry again (it reads SecretId), and three bogus curated ones:
    // a wire name for a member, a path past a map's keys, a nested member that does not exist.
    delete overrides.curated['secretsmanager.CreateSecret'];
    overrides.curated['s3.DeleteObjects'] = { why: 'test', entries: [{ action: 's3:DeleteObject', arn: ['arn:${Partition}:s3:::${Bucket}/${Delete.Object[].Key}'] }] };
    overrides.curated['dynamodb.BatchGetItem'] = { why: 'test', entries: [{ action: 'dynamodb:BatchGetItem', arn: ['arn:${Partition}:dynamodb:${Region}:${Account}:table/${RequestItems.*}'], when: [{ path: 'RequestItems.*.Keys', op: 'Exists' }] }] };
    overrides.curated['ec2.DescribeInstances'] = { why: 'test', entries: [{ action: 'ec2:DescribeInstances', arn: ['?arn:${Partition}:ec2:${Region}:${Account}:instance/${Filters[].Names[]}'] }] };
    let error: TemplateMemberError | undefined;
    try {
      generate({ overrides });
    } catch (e) {
      error = e as TemplateMemberError;
    }
    expect(error?.code).toBe(TEMPLATE_MEMBER_ERROR);
    const listed = error?.problems ?? [];
    expect(listed).toHaveLength(4);
    expect(listed).toEqual([
      expect.stringMatching(/^dynamodb\.BatchGetItem \(curated, dynamodb:BatchGetItem\): condition Exists reads \$\{RequestItems\.\*\.Keys\}/),
      expect.stringMatching(/^ec2\.DescribeInstances \(curated, ec2:DescribeInstances\): .*reads \$\{Filters\[\]\.Names\[\]\}/),
      expect.stringMatching(/^s3\.DeleteObjects \(curated, s3:DeleteObject\): .*reads \$\{Delete\.Object\[\]\.Key\}/),
      expect.stringMatching(/^secretsmanager\.CreateSecret \(seeded, secretsmanager:CreateSecret\): .*reads \$\{SecretId\}, which is not a member of CreateSecret's input \(its members: .*Name/),
    ]);
    expect(error?.message).toMatch(/^routes: 4 IAM template references to members the operation's input does not have/);
  }, 60_000);
});
