#!/usr/bin/env node
/* global console, process */
// Seeds the "seeded" section of src/aws/routes/overrides.json from iann0036/iam-dataset's
// aws/map.json (MIT; a copy lives in ../shared/data/, which CI does not have). Run it only when
// refreshing the seed; the generator (scripts/routes/generate.js) reads overrides.json, never
// map.json, so the project builds and tests without ../shared.
//
//   node scripts/routes/seed-overrides.js [path/to/iam-dataset-map.json]
//
// What it does:
//   - keeps the entries of SDK methods that exist in the aws-sdk v2 models (keys "Class.Method"
//     become "<model id>.<Operation>", model id = the key of aws-sdk's apis/metadata.json);
//   - converts iam-dataset's template language (%%regex%%, %%many%%, %%iftruthy%%, ...) into the
//     smaller one countersign evaluates (docs/classification.md, "Override syntax");
//   - drops entries that say nothing the same-name rule does not (one action named
//     "<prefix>:<Operation>" with no mappings);
//   - leaves the "curated" section of overrides.json untouched, and copies the license.
//
// Known gaps of the source that the curated section fills: CopyObject and UploadPartCopy leave
// out the copy source (s3:GetObject on the source object), batch DynamoDB calls use table "*".
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serialiseOverrides } from './format.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const mapPath = resolve(process.argv[2] ?? join(root, '../shared/data/iam-dataset-map.json'));
const licensePath = join(dirname(mapPath), 'iam-dataset-LICENSE');
const outPath = join(root, 'src/aws/routes/overrides.json');
const apis = join(root, 'node_modules/aws-sdk/apis');

if (!existsSync(mapPath)) {
  console.error(`seed-overrides: ${mapPath} not found (it is the iam-dataset map.json; pass its path)`);
  process.exit(1);
}
const map = JSON.parse(readFileSync(mapPath, 'utf8'));
const metadata = JSON.parse(readFileSync(join(apis, 'metadata.json'), 'utf8'));

/** aws-sdk v2 class name -> model id, and the operations of each model's latest version. */
const classToId = new Map();
const operationsOf = new Map();
const files = readdirSync(apis).filter((f) => f.endsWith('.min.json'));
for (const [id, meta] of Object.entries(metadata)) {
  const prefix = meta.prefix ?? id;
  const file = files.filter((f) => f.replace(/-\d{4}-\d{2}-\d{2}\.min\.json$/, '') === prefix).sort().at(-1);
  if (file === undefined) continue;
  classToId.set(meta.name, id);
  operationsOf.set(id, new Set(Object.keys(JSON.parse(readFileSync(join(apis, file), 'utf8')).operations)));
}

// ---- iam-dataset template language -> countersign templates -------------------------------
// Parsed into alternatives: each is { text, when?: condition } where text uses ${path},
// ${path~/regex/} and ${path|filter}. %%many%% yields several alternatives; %%iftruthy%%
// yields one guarded by Exists and one by NotExists.

function splitDirective(body) {
  // body is what lies between "%%" and the closing "%%": name%arg%arg...; args may nest %%...%%.
  const parts = [];
  let depth = 0;
  let current = '';
  for (let i = 0; i < body.length; i++) {
    if (body.startsWith('%%', i)) {
      // a nested directive opens when followed by a name and '%', closes otherwise
      const opens = /^%%[a-z]+%/.test(body.slice(i));
      if (!opens) while (body[i + 2] === '%') current += body[i++];
      depth += opens ? 1 : -1;
      current += '%%';
      i++;
      continue;
    }
    if (body[i] === '%' && depth === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += body[i];
  }
  parts.push(current);
  return parts;
}

/** Finds the end of the directive starting at `start` ("%%name%...%%"). */
function directiveEnd(text, start) {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text.startsWith('%%', i)) {
      const opens = /^%%[a-z]+%/.test(text.slice(i));
      depth += opens ? 1 : -1;
      // "%%%" closing a directive: the first "%" separates an (empty) last argument.
      if (!opens) while (text[i + 2] === '%') i++;
      i++;
      if (depth === 0) return i + 1;
    }
  }
  throw new Error(`unbalanced directive in ${text}`);
}

function pathOf(variable) {
  const m = /^\$\{([^}]+)\}$/.exec(variable.trim());
  return m ? m[1] : undefined;
}

/** Converts one template to a list of alternatives. */
function convert(text) {
  // The source has one typo: a %%many%% directive closed with "$$" (Transfer.CreateServer).
  if (/%%[a-z]+%/.test(text) && text.endsWith('$$')) text = text.slice(0, -2) + '%%';
  // ... and a regex over no variable (DocDB OptionGroupName): "anything", i.e. "*".
  if (text === '%%regex%%/.*/g%%') return [{ text: '*', when: [] }];
  let alternatives = [{ text: '', when: [] }];
  let i = 0;
  while (i < text.length) {
    const next = text.indexOf('%%', i);
    if (next === -1) {
      alternatives = alternatives.map((a) => ({ ...a, text: a.text + text.slice(i) }));
      break;
    }
    if (next > i) alternatives = alternatives.map((a) => ({ ...a, text: a.text + text.slice(i, next) }));
    const end = directiveEnd(text, next);
    const [name, ...args] = splitDirective(text.slice(next + 2, end - 2));
    let options;
    switch (name) {
      case 'regex': {
        const path = pathOf(args[0] ?? '');
        const re = /^\/(.*)\/[a-z]*$/.exec(args.slice(1).join('%'));
        if (path === undefined || re === null) options = [{ text: '*', when: [] }];
        else options = [{ text: '${' + path + '~/' + re[1] + '/}', when: [] }];
        break;
      }
      case 'urlencode': {
        const path = pathOf(args[0] ?? '');
        options = [{ text: path === undefined ? '*' : '${' + path + '|urlencode}', when: [] }];
        break;
      }
      case 'many':
        options = args.filter((a) => a !== '').flatMap((a) => convert(a).map((alt) => ({ ...alt, optional: true })));
        break;
      case 'iftemplatematch':
        options = convert(args[0] ?? '').map((alt) => ({ ...alt, wholeArn: true }));
        break;
      case 'iftruthy': {
        const path = pathOf(args[0] ?? '');
        const yes = args[1] ?? '';
        const no = args[2] ?? '';
        options = [];
        if (yes !== '') options.push(...convert(yes).map((alt) => ({ ...alt, when: [...alt.when, { path, op: 'Exists' }] })));
        if (no !== '') options.push(...convert(no).map((alt) => ({ ...alt, when: [...alt.when, { path, op: 'NotExists' }] })));
        break;
      }
      default:
        throw new Error(`unknown directive %%${name}%% in ${text}`);
    }
    const combined = [];
    for (const a of alternatives) {
      for (const o of options) {
        combined.push({
          text: a.text + o.text,
          when: [...a.when, ...o.when],
          ...(a.optional || o.optional ? { optional: true } : {}),
        });
      }
    }
    alternatives = combined;
    i = end;
  }
  return alternatives;
}

const CONDITION_OPS = {
  Exists: 'Exists',
  NotExists: 'NotExists',
  Equals: 'Equals',
  NotEquals: 'NotEquals',
  // "SELECT " as a substring misses "SELECT\t" and "select\n": a word match is what was meant.
  IContains: 'IContainsWord',
  INotContains: 'INotContainsWord',
  Contains: 'Contains',
  NotStartsWith: 'NotStartsWith',
};

function condition(c) {
  const op = CONDITION_OPS[c.op];
  if (op === undefined) throw new Error(`unknown condition op ${c.op}`);
  const out = { path: c.lhs, op };
  if (c.rhs !== undefined) out.value = op.endsWith('Word') ? c.rhs.trim() : c.rhs;
  const conditions = [out];
  if (c.andCondition) conditions.push(...condition(c.andCondition));
  return conditions;
}

/** One iam-dataset entry -> one or more countersign override entries. */
function convertEntry(entry) {
  const base = { action: entry.action };
  if (entry.undocumented) base.undocumented = true;
  const when = entry.conditions ? condition(entry.conditions) : [];
  if (entry.arn_override) {
    // A replacement ARN, possibly conditional: each alternative becomes its own entry.
    return convert(entry.arn_override.template).map((alt) => {
      const out = { ...base, arn: [alt.text] };
      const w = [...when, ...alt.when];
      if (w.length > 0) out.when = w;
      if (alt.optional) out.optional = true;
      return out;
    });
  }
  const out = { ...base };
  if (when.length > 0) out.when = when;
  const vars = {};
  for (const [variable, mapping] of Object.entries(entry.resource_mappings ?? {})) {
    const alternatives = convert(mapping.template);
    // "%%iftruthy%${X}%*%%%" in a variable: the resource is needed (as any) only when X is given.
    const texts = alternatives.flatMap((a) => {
      if (a.when.length === 0) return [a.text];
      const [c] = a.when;
      if (a.when.length === 1 && c.op === 'Exists' && a.text === '*') return ['${' + c.path + '|any}'];
      return a.text === '' ? [] : [a.text];
    });
    vars[variable] = texts.length === 1 ? texts[0] : texts;
  }
  if (Object.keys(vars).length > 0) out.vars = vars;
  const arns = {};
  for (const [resourceType, template] of Object.entries(entry.resourcearn_mappings ?? {})) {
    const alternatives = convert(template);
    // "%%iftruthy%${TopicArn}%${TopicArn}%*%%": the ARN when given, else the documented "*".
    const present = alternatives.filter((a) => a.text !== '*');
    arns[resourceType] = present.length === 0 ? '*' : present.length === 1 ? present[0].text : present.map((a) => a.text);
  }
  if (Object.keys(arns).length > 0) out.arns = arns;
  return [out];
}

const seeded = {};
let kept = 0;
let sameName = 0;
let unknown = 0;
const services = {};
for (const [method, entries] of Object.entries(map.sdk_method_iam_mappings)) {
  const [className, operation] = method.split('.');
  const id = classToId.get(className);
  if (id === undefined || !operationsOf.get(id)?.has(operation)) {
    unknown++;
    continue;
  }
  const prefix = map.sdk_service_mappings[className];
  if (prefix !== undefined) services[id] = prefix;
  const plain = entries.length === 1 && entries[0].action.split(':')[1] === operation && Object.keys(entries[0]).every((k) => k === 'action' || (k === 'resource_mappings' && Object.keys(entries[0].resource_mappings).length === 0));
  if (plain && entries[0].action.split(':')[0] === prefix) {
    sameName++;
    continue;
  }
  seeded[`${id}.${operation}`] = entries.flatMap(convertEntry);
  kept++;
}

const existing = existsSync(outPath) ? JSON.parse(readFileSync(outPath, 'utf8')) : {};
const out = {
  source: {
    name: 'iann0036/iam-dataset, aws/map.json (sdk_method_iam_mappings, sdk_service_mappings)',
    url: 'https://github.com/iann0036/iam-dataset',
    license: 'MIT',
    licenseFile: 'iam-dataset-LICENSE',
    snapshot: 'early 2023 (schema 1.0.x)',
    convertedBy: 'scripts/routes/seed-overrides.js',
    notes: 'Only "seeded" comes from that source. "curated" is countersign\'s own (Apache-2.0) and wins over "seeded".',
  },
  syntax: 'docs/classification.md#override-syntax',
  services: Object.fromEntries(Object.entries(services).sort(([a], [b]) => a.localeCompare(b))),
  curated: existing.curated ?? {},
  seeded: Object.fromEntries(Object.entries(seeded).sort(([a], [b]) => a.localeCompare(b))),
};
writeFileSync(outPath, serialiseOverrides(out));
if (existsSync(licensePath)) writeFileSync(join(root, 'src/aws/routes/iam-dataset-LICENSE'), readFileSync(licensePath));
console.log(`seed-overrides: ${kept} seeded entries, ${sameName} dropped (same-name rule), ${unknown} for methods not in the models`);
