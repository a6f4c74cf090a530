#!/usr/bin/env node
/* global console, process */
// Generates src/aws/endpoint-hosts.json: every host name the current and the previous major AWS
// SDKs send a service's calls to, with the signing names each host serves. countersign accepts
// a request signed for a service only on a host this data gives that service
// (src/aws/host-service.ts), and reads S3 buckets only out of the S3 hosts it lists
// (src/aws/endpoints.ts). Inputs, all Apache-2.0 and pinned:
//   - botocore (.venv, pinned in requirements-test.txt) and the botocore the AWS CLI v1 vendors
//     (awscli pinned there too):
//       data/partitions.json            partitions: region pattern, DNS and dual-stack suffixes;
//       data/endpoints.json             per partition, service and region: the host, its FIPS and
//                                       dual-stack variants, the CLI v1's `sslCommonName` hosts
//                                       (`queue.amazonaws.com`, `<region>.queue.amazonaws.com`,
//                                       `rds.amazonaws.com`, ...) and credential-scope services
//                                       (what botocore, boto3 before endpoint rule sets, and the
//                                       Go and Java v1 SDKs resolve from);
//       data/<service>/<version>/endpoint-rule-set-1.json(.gz)
//                                       the Smithy endpoint rule sets every current SDK (boto3, the
//                                       JS SDK v3, Go v2, Java v2) evaluates, and their auth
//                                       schemes' signing names;
//       data/<service>/<version>/service-2.json(.gz)
//                                       the model: endpoint prefix, signing name, and the static
//                                       context parameters some rule sets put in host names.
//   - aws-sdk v2 (node_modules, lockfile-pinned): lib/region_config_data.json (its endpoint
//     rules, FIPS and dual-stack included) over every model's endpoint prefix (apis/*.min.json,
//     apis/metadata.json).
//   - one form no data file lists: S3's legacy dash-Region hosts (`s3-us-west-2.amazonaws.com`),
//     which the S3 User Guide documents ("Legacy endpoints", s3-Region) and old clients still use.
//
// Host names are stored as keys in the form src/aws/endpoint-data.ts reads a request's host
// into: a label that is a region (by its partition's pattern) is `{region}`, a label ending in
// `-<region>` is `<head>-{region}`, a 12-digit label is `{account}`, and the partition's DNS
// suffix is `{dnsSuffix}` or `{dualStackDnsSuffix}`. Rule-set URLs that need anything else (a
// custom endpoint, an access point or outpost name, a stream id) are left out and counted; S3
// access points have their own reading (src/aws/classify/access-point.ts).
//
//   node scripts/endpoints/generate.js [--out FILE]     (writes src/aws/endpoint-hosts.json)
//   node scripts/endpoints/generate.js --check          (fails when the file differs)
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = join(root, 'src/aws/endpoint-hosts.json');
const AWS_SDK = join(root, 'node_modules/aws-sdk');

// ---- inputs ---------------------------------------------------------------------------------

function readJson(path) {
  const bytes = readFileSync(path);
  return JSON.parse((path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8'));
}

/** `path` or `path.gz`, whichever exists. */
function dataFile(path) {
  if (existsSync(path)) return path;
  if (existsSync(`${path}.gz`)) return `${path}.gz`;
  return undefined;
}

/** The site-packages directory of the repository's venv. */
function sitePackages() {
  const lib = join(root, '.venv/lib');
  const python = existsSync(lib) ? readdirSync(lib).find((d) => d.startsWith('python')) : undefined;
  if (python === undefined) throw new Error(`No Python venv in ${join(root, '.venv')}: run bash .ci/run (or pip install -r requirements-test.txt into .venv) first.`);
  return join(lib, python, 'site-packages');
}

/** A botocore installation: its version and data directory. */
function botocore(label, packageDir, versionFile) {
  const version = /__version__ = '([^']+)'/.exec(readFileSync(versionFile, 'utf8'))?.[1];
  if (version === undefined) throw new Error(`No botocore version in ${versionFile}`);
  return { label, version, data: join(packageDir, 'data') };
}

function botocores() {
  const site = sitePackages();
  return [
    botocore('botocore', join(site, 'botocore'), join(site, 'botocore/__init__.py')),
    botocore('awscli botocore', join(site, 'awscli/botocore'), join(site, 'awscli/botocore/__init__.py')),
  ];
}

// ---- host keys ------------------------------------------------------------------------------

/**
 * The partitions (partitions.json): the region pattern and the two DNS suffixes of each. Both
 * botocores must agree; the newer's list is kept.
 */
function readPartitions(sources) {
  const byId = new Map();
  for (const source of sources) {
    for (const p of readJson(join(source.data, 'partitions.json')).partitions) {
      byId.set(p.id, { id: p.id, regionRegex: p.regionRegex, dnsSuffix: p.outputs.dnsSuffix, dualStackDnsSuffix: p.outputs.dualStackDnsSuffix });
    }
  }
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * Reads a host name into a key, exactly as src/aws/endpoint-data.ts does at run time (the unit
 * tests check the two agree on every host of the inputs): undefined when its suffix is no
 * partition's.
 */
export function keyReader(partitions) {
  const suffixes = partitions
    .flatMap((p) => [
      { suffix: p.dnsSuffix, placeholder: '{dnsSuffix}', regex: new RegExp(p.regionRegex) },
      { suffix: p.dualStackDnsSuffix, placeholder: '{dualStackDnsSuffix}', regex: new RegExp(p.regionRegex) },
    ])
    .sort((a, b) => b.suffix.length - a.suffix.length);
  return (host) => {
    const matching = suffixes.filter((s) => host.endsWith(`.${s.suffix}`));
    const first = matching[0];
    if (first === undefined) return undefined;
    const regexes = matching.filter((s) => s.suffix === first.suffix && s.placeholder === first.placeholder).map((s) => s.regex);
    const isRegion = (label) => regexes.some((r) => r.test(label));
    const labels = host.slice(0, -first.suffix.length - 1).split('.').map((label) => {
      if (label.startsWith('{')) return label;
      if (/^\d{12}$/.test(label)) return '{account}';
      if (isRegion(label)) return '{region}';
      for (let dash = label.indexOf('-'); dash > 0; dash = label.indexOf('-', dash + 1)) {
        if (isRegion(label.slice(dash + 1))) return `${label.slice(0, dash)}-{region}`;
      }
      return label;
    });
    return `${labels.join('.')}.${first.placeholder}`;
  };
}

// ---- models ---------------------------------------------------------------------------------

/** The latest API version directory of each botocore service that has a model. */
function botocoreServices(source) {
  const services = [];
  for (const name of readdirSync(source.data).sort()) {
    const dir = join(source.data, name);
    let versions;
    try {
      versions = readdirSync(dir).filter((v) => /^\d{4}-\d{2}-\d{2}$/.test(v)).sort();
    } catch {
      continue; // a file, not a service directory
    }
    const version = versions.at(-1);
    if (version === undefined) continue;
    const model = dataFile(join(dir, version, 'service-2.json'));
    if (model === undefined) continue;
    services.push({ name, model, ruleSet: dataFile(join(dir, version, 'endpoint-rule-set-1.json')) });
  }
  return services;
}

/** Signing names by endpoint prefix, from every model of both SDKs (signingName, else the prefix). */
class SigningNames {
  byPrefix = new Map();
  add(prefix, signingName) {
    if (prefix === undefined) return;
    const names = this.byPrefix.get(prefix) ?? new Set();
    names.add(signingName ?? prefix);
    this.byPrefix.set(prefix, names);
  }
  of(prefix) {
    return [...(this.byPrefix.get(prefix) ?? [])];
  }
}

/** aws-sdk v2's models: endpoint prefix and signing name of the latest version of each. */
function awsSdkV2Models() {
  const apis = join(AWS_SDK, 'apis');
  const metadata = readJson(join(apis, 'metadata.json'));
  const files = readdirSync(apis).filter((f) => f.endsWith('.min.json'));
  const models = [];
  for (const id of Object.keys(metadata).sort()) {
    const prefix = metadata[id].prefix ?? id;
    const file = files.filter((f) => f.replace(/-\d{4}-\d{2}-\d{2}\.min\.json$/, '') === prefix).sort().at(-1);
    if (file === undefined) continue;
    const meta = readJson(join(apis, file)).metadata;
    models.push({ endpointPrefix: meta.endpointPrefix, signingName: meta.signingName });
  }
  return models;
}

// ---- the collection -------------------------------------------------------------------------

class Hosts {
  byKey = new Map();
  s3 = new Set();
  skipped = new Map();
  constructor(partitions) {
    this.partitions = partitions;
    this.key = keyReader(partitions);
  }
  /**
   * A host serving `signingNames`: a name, or a template whose `{region}` and `{account}` are
   * placeholders already and whose suffix may be `{dnsSuffix}` or `{dualStackDnsSuffix}` (a rule
   * set's), then read in every partition. Returns the keys it was read into.
   */
  add(host, signingNames, why) {
    const concrete = /\{(?:dnsSuffix|dualStackDnsSuffix)\}/.test(host)
      ? this.partitions.map((p) => host.replaceAll('{dnsSuffix}', p.dnsSuffix).replaceAll('{dualStackDnsSuffix}', p.dualStackDnsSuffix))
      : [host];
    const keys = [];
    for (const name of concrete) {
      const key = this.key(name);
      if (key === undefined) {
        this.skip(`suffix of no partition (${why})`, name);
        continue;
      }
      const names = this.byKey.get(key) ?? new Set();
      for (const signingName of signingNames) names.add(signingName);
      this.byKey.set(key, names);
      keys.push(key);
    }
    return keys;
  }
  /** An S3 API host: it takes S3 calls path-style, and with `<bucket>.` in front, virtual-hosted. */
  addS3(host, why) {
    for (const key of this.add(host, ['s3'], why)) this.s3.add(key);
  }
  skip(reason, example) {
    const entry = this.skipped.get(reason) ?? { count: 0, example };
    entry.count++;
    this.skipped.set(reason, entry);
    return undefined;
  }
}

/** endpoints.json: hosts, variants and sslCommonName hosts, per partition, service and region. */
function fromEndpointsJson(hosts, source, signingNames) {
  const data = readJson(join(source.data, 'endpoints.json'));
  for (const partition of data.partitions) {
    const regionRegex = new RegExp(partition.regionRegex);
    const dnsSuffix = partition.dnsSuffix;
    const defaults = partition.defaults ?? {};
    for (const [service, config] of Object.entries(partition.services)) {
      const serviceDefaults = config.defaults ?? {};
      for (const [region, endpoint] of Object.entries(config.endpoints ?? {})) {
        const scopeService = endpoint.credentialScope?.service ?? serviceDefaults.credentialScope?.service;
        const names = scopeService !== undefined ? [scopeService] : signingNames.of(service);
        if (names.length === 0) {
          hosts.skip('endpoints.json service no model names', service);
          continue;
        }
        const isRegion = regionRegex.test(region);
        const expand = (template, suffix = dnsSuffix) => {
          if (template === undefined) return undefined;
          // A pseudo-region (aws-global, fips-us-east-1) is only ever used with an explicit host.
          if (template.includes('{region}') && !isRegion) return undefined;
          return template.replaceAll('{service}', service).replaceAll('{dnsSuffix}', suffix);
        };
        const templates = [
          expand(endpoint.hostname ?? serviceDefaults.hostname ?? defaults.hostname),
          expand(endpoint.sslCommonName ?? serviceDefaults.sslCommonName ?? defaults.sslCommonName),
          ...[...(defaults.variants ?? []), ...(serviceDefaults.variants ?? []), ...(endpoint.variants ?? [])].map((v) => expand(v.hostname, v.dnsSuffix ?? dnsSuffix)),
        ];
        for (const host of templates) {
          if (host === undefined) continue;
          if (service === 's3' && names.includes('s3')) hosts.addS3(host, `${source.label} endpoints.json`);
          else hosts.add(host, names, `${source.label} endpoints.json`);
        }
        // S3 User Guide, "Legacy endpoints": the Regions that served S3 before SigV4 (those
        // endpoints.json still marks as taking SigV2, signature version "s3") also answer on
        // s3-<region>; the form is `s3-{region}` for every region once read into a key.
        if (service === 's3' && isRegion && (endpoint.signatureVersions ?? []).includes('s3')) hosts.addS3(`s3-${region}.${dnsSuffix}`, 'S3 legacy dash-Region');
      }
    }
  }
}

/**
 * The partitions' default host templates (endpoints.json partition defaults: the host and its
 * FIPS and dual-stack variants, `{service}` standing for an endpoint prefix), with the suffix
 * as the placeholder it is: what every SDK uses for a service the data has no entry for.
 */
function defaultHosts(sources, partitions) {
  const templates = new Set();
  for (const source of sources) {
    for (const partition of readJson(join(source.data, 'endpoints.json')).partitions) {
      const known = partitions.find((p) => p.id === partition.partition);
      const defaults = partition.defaults ?? {};
      const forms = [{ hostname: defaults.hostname, dnsSuffix: partition.dnsSuffix }, ...(defaults.variants ?? [])];
      for (const { hostname, dnsSuffix } of forms) {
        if (hostname === undefined || known === undefined) continue;
        const placeholder = (dnsSuffix ?? partition.dnsSuffix) === known.dualStackDnsSuffix ? '{dualStackDnsSuffix}' : '{dnsSuffix}';
        templates.add(hostname.replaceAll('{dnsSuffix}', placeholder));
      }
    }
  }
  return [...templates].sort();
}

/** The values a model's operations give each static context parameter (Kinesis: OperationType). */
function staticContextValues(model) {
  const values = new Map();
  for (const operation of Object.values(model.operations ?? {})) {
    for (const [name, param] of Object.entries(operation.staticContextParams ?? {})) {
      if (typeof param.value !== 'string') continue;
      const set = values.get(name) ?? new Set();
      set.add(param.value);
      values.set(name, set);
    }
  }
  return values;
}

/** Every endpoint of a rule set: its URL and the signing names of its auth schemes. */
function ruleSetEndpoints(ruleSet) {
  const out = [];
  const walk = (rules) => {
    for (const rule of rules) {
      if (rule.type === 'tree') walk(rule.rules);
      else if (rule.type === 'endpoint' && typeof rule.endpoint.url === 'string') {
        const schemes = rule.endpoint.properties?.authSchemes ?? [];
        out.push({ url: rule.endpoint.url, signingNames: schemes.map((s) => s.signingName).filter((n) => typeof n === 'string') });
      }
    }
  };
  walk(ruleSet.rules);
  return out;
}

/**
 * A rule-set URL's host as templates in key form: `{Region}` (and an ARN's region) to
 * `{region}`, partition suffixes to theirs, account ids to `{account}`, static context
 * parameters expanded to each value. Undefined when the host needs anything else.
 */
function ruleSetHosts(url, contextValues) {
  const match = /^https:\/\/([^/]+)(?:\/|$)/.exec(url);
  if (match === null) return undefined;
  let hosts = [match[1]
    .replace(/\{(?:Region|[A-Za-z]+#region|PartitionResult#implicitGlobalRegion)\}/g, '{region}')
    .replace(/\{[A-Za-z]+#dnsSuffix\}/g, '{dnsSuffix}')
    .replace(/\{[A-Za-z]+#dualStackDnsSuffix\}/g, '{dualStackDnsSuffix}')
    .replace(/(^|\.)\{(?:AccountId|[A-Za-z]+#accountId)\}(?=\.)/g, '$1{account}')];
  for (const [name, values] of contextValues) {
    if (!hosts[0].includes(`{${name}}`)) continue;
    hosts = hosts.flatMap((h) => [...values].map((v) => h.replaceAll(`{${name}}`, v)));
  }
  const known = /^\{(?:region|dnsSuffix|dualStackDnsSuffix|account|Bucket)\}$/;
  return hosts.every((h) => (h.match(/\{[^}]*\}/g) ?? []).every((p) => known.test(p))) ? hosts : undefined;
}

/**
 * Endpoint rule sets: each endpoint URL's host serves the signing names of its auth schemes,
 * else the model's. S3's `{Bucket}.<host>` endpoints name the S3 hosts buckets go in front of.
 */
function fromRuleSets(hosts, source, signingNames) {
  for (const service of botocoreServices(source)) {
    const model = readJson(service.model);
    const meta = model.metadata;
    signingNames.add(meta.endpointPrefix, meta.signingName);
    if (service.ruleSet === undefined) continue;
    const modelName = meta.signingName ?? meta.endpointPrefix;
    const contextValues = staticContextValues(model);
    for (const endpoint of ruleSetEndpoints(readJson(service.ruleSet))) {
      const found = ruleSetHosts(endpoint.url, contextValues);
      if (found === undefined) {
        hosts.skip('rule-set URL needs parameters other than region, account and partition', `${service.name}: ${endpoint.url}`);
        continue;
      }
      const names = endpoint.signingNames.length > 0 ? endpoint.signingNames : [modelName];
      for (const host of found) {
        if (host.startsWith('{Bucket}.')) {
          if (service.name === 's3' && names.includes('s3') && !host.slice(9).includes('{Bucket}')) hosts.addS3(host.slice(9), `${source.label} rule set`);
          else hosts.skip('bucket host outside the S3 API', `${service.name}: ${endpoint.url}`);
        } else if (host.includes('{Bucket}')) {
          hosts.skip('bucket elsewhere than the first label', `${service.name}: ${endpoint.url}`);
        } else if (service.name === 's3' && names.length === 1 && names[0] === 's3') {
          hosts.addS3(host, `${source.label} rule set`);
        } else {
          hosts.add(host, names, `${source.label} rule set`);
        }
      }
    }
  }
}

/** aws-sdk v2's region_config_data.json: every rule's host over the endpoint prefixes it applies to. */
function fromAwsSdkV2(hosts, signingNames) {
  const config = readJson(join(AWS_SDK, 'lib/region_config_data.json'));
  const prefixes = [...signingNames.byPrefix.keys()].sort();
  for (const table of ['rules', 'fipsRules', 'dualstackRules', 'dualstackFipsRules']) {
    for (const [key, value] of Object.entries(config[table])) {
      const rule = typeof value === 'string' ? config.patterns[value] : value;
      const servicePattern = key.slice(key.indexOf('/') + 1);
      if (servicePattern.endsWith('*') && servicePattern !== '*') continue; // internal-*
      const endpoint = rule.endpoint.replace(/^https:\/\//, '');
      for (const prefix of servicePattern === '*' ? prefixes : [servicePattern]) {
        const names = signingNames.of(prefix);
        if (names.length === 0) continue;
        const host = endpoint.replaceAll('{service}', prefix);
        if (prefix === 's3' && names.includes('s3')) hosts.addS3(host, `aws-sdk ${table}`);
        else hosts.add(host, names, `aws-sdk ${table}`);
      }
    }
  }
}

// ---- output ---------------------------------------------------------------------------------

export function generate() {
  const sources = botocores();
  const partitions = readPartitions(sources);
  const hosts = new Hosts(partitions);
  const signingNames = new SigningNames();
  for (const model of awsSdkV2Models()) signingNames.add(model.endpointPrefix, model.signingName);
  for (const source of sources) fromRuleSets(hosts, source, signingNames);
  for (const source of sources) fromEndpointsJson(hosts, source, signingNames);
  fromAwsSdkV2(hosts, signingNames);
  const awsSdk = readJson(join(AWS_SDK, 'package.json')).version;
  const table = {
    format: 1,
    source: { botocore: sources[0].version, 'awscli botocore': sources[1].version, 'aws-sdk': awsSdk },
    partitions,
    defaultHosts: defaultHosts(sources, partitions),
    s3: [...hosts.s3].sort(),
    hosts: Object.fromEntries([...hosts.byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, [...v].sort()])),
  };
  return { table, skipped: hosts.skipped };
}

/** One host per line, so a regeneration's diff reads as hosts added and removed. */
export function format(table) {
  const lines = Object.entries(table.hosts).map(([key, names]) => `    ${JSON.stringify(key)}: ${JSON.stringify(names)}`);
  const head = JSON.stringify({ format: table.format, source: table.source, partitions: table.partitions, defaultHosts: table.defaultHosts, s3: table.s3 }, null, 2).replace(/\n}$/, '');
  return `${head},\n  "hosts": {\n${lines.join(',\n')}\n  }\n}\n`;
}

function main(argv) {
  const check = argv.includes('--check');
  const outAt = argv.indexOf('--out');
  const out = outAt === -1 ? OUT : resolve(argv[outAt + 1] ?? OUT);
  const { table, skipped } = generate();
  const text = format(table);
  if (check) {
    const current = existsSync(out) ? readFileSync(out, 'utf8') : '';
    if (current !== text) {
      console.error(`${out} is not what scripts/endpoints/generate.js makes of its inputs (${JSON.stringify(table.source)}): run node scripts/endpoints/generate.js`);
      process.exit(1);
    }
    return;
  }
  writeFileSync(out, text);
  console.error(`${Object.keys(table.hosts).length} host keys (${table.s3.length} S3 API hosts) from ${JSON.stringify(table.source)} -> ${out}`);
  for (const [reason, { count, example }] of skipped) console.error(`  left out: ${count} × ${reason}, e.g. ${example}`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
