import { readFileSync } from 'node:fs';

/**
 * AWS's endpoint data, as scripts/endpoints/generate.js extracts it into endpoint-hosts.json
 * from botocore (its partitions, endpoints.json and the endpoint rule sets every current SDK
 * evaluates, the AWS CLI v1's copy included) and aws-sdk v2's endpoint rules: which signing
 * names each AWS host serves, and which hosts are the S3 API's.
 *
 * Hosts are looked up by key: a region label (by its partition's pattern, for the partition
 * whose suffix the host ends in) reads as `{region}`, a label ending in `-<region>` as
 * `<head>-{region}`, a 12-digit label as `{account}`, the suffix as `{dnsSuffix}` or
 * `{dualStackDnsSuffix}`. So `sqs.eu-west-1.amazonaws.com` is `sqs.{region}.{dnsSuffix}` and
 * `eu-west-1.queue.amazonaws.com` is `{region}.queue.{dnsSuffix}`, both sqs's.
 */

/** Keeps endpoint-hosts.json part of the compilation, so the build copies it next to this module. */
export type EndpointHostsJsonFile = typeof import('./endpoint-hosts.json');

interface RawPartition {
  readonly id: string;
  readonly regionRegex: string;
  readonly dnsSuffix: string;
  readonly dualStackDnsSuffix: string;
}

interface RawEndpointHosts {
  readonly format: number;
  readonly source: Readonly<Record<string, string>>;
  readonly partitions: readonly RawPartition[];
  readonly defaultHosts: readonly string[];
  readonly s3: readonly string[];
  readonly hosts: Readonly<Record<string, readonly string[]>>;
}

interface Suffix {
  readonly suffix: string;
  readonly placeholder: '{dnsSuffix}' | '{dualStackDnsSuffix}';
  readonly regions: readonly RegExp[];
}

export interface EndpointData {
  readonly source: Readonly<Record<string, string>>;
  /** Partition suffixes, longest first, each with the region patterns of the partitions using it. */
  readonly suffixes: readonly Suffix[];
  /** Host key → signing names it serves. */
  readonly hosts: ReadonlyMap<string, readonly string[]>;
  /** Keys of the S3 API's own hosts (path-style; with `<bucket>.` in front, virtual-hosted). */
  readonly s3: ReadonlySet<string>;
  /** The partitions' default host templates, `{service}` standing for an endpoint prefix. */
  readonly defaultHosts: readonly string[];
}

/** Builds the lookup from endpoint-hosts.json's text (exported for tests). */
export function parseEndpointData(text: string): EndpointData {
  const raw = JSON.parse(text) as RawEndpointHosts;
  if (raw.format !== 1) throw new Error(`endpoint-hosts.json format ${String(raw.format)} is not supported`);
  const bySuffix = new Map<string, { placeholder: Suffix['placeholder']; regions: RegExp[] }>();
  for (const p of raw.partitions) {
    for (const [suffix, placeholder] of [[p.dnsSuffix, '{dnsSuffix}'], [p.dualStackDnsSuffix, '{dualStackDnsSuffix}']] as const) {
      const entry = bySuffix.get(suffix) ?? { placeholder, regions: [] };
      entry.regions.push(new RegExp(p.regionRegex));
      bySuffix.set(suffix, entry);
    }
  }
  const suffixes = [...bySuffix.entries()].map(([suffix, e]) => ({ suffix, ...e })).sort((a, b) => b.suffix.length - a.suffix.length);
  return {
    source: raw.source,
    suffixes,
    hosts: new Map(Object.entries(raw.hosts)),
    s3: new Set(raw.s3),
    defaultHosts: raw.defaultHosts,
  };
}

let loaded: EndpointData | undefined;

/** The endpoint data, read from endpoint-hosts.json beside this module the first time it is needed. */
export function endpointData(): EndpointData {
  loaded ??= parseEndpointData(readFileSync(new URL('./endpoint-hosts.json', import.meta.url), 'utf8'));
  return loaded;
}

/**
 * A host's key (lower-case, no port), or undefined when it ends in no partition's suffix.
 * scripts/endpoints/generate.js reads the data's hosts the same way.
 */
export function hostKey(host: string, data: EndpointData = endpointData()): string | undefined {
  const found = data.suffixes.find((s) => host.length > s.suffix.length && host.endsWith(s.suffix) && host[host.length - s.suffix.length - 1] === '.');
  if (found === undefined) return undefined;
  const isRegion = (label: string) => found.regions.some((r) => r.test(label));
  const labels = host.slice(0, -found.suffix.length - 1).split('.');
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as string;
    if (/^\d{12}$/.test(label)) labels[i] = '{account}';
    else if (isRegion(label)) labels[i] = '{region}';
    else {
      for (let dash = label.indexOf('-'); dash > 0; dash = label.indexOf('-', dash + 1)) {
        if (isRegion(label.slice(dash + 1))) {
          labels[i] = `${label.slice(0, dash)}-{region}`;
          break;
        }
      }
    }
  }
  return `${labels.join('.')}.${found.placeholder}`;
}

/**
 * Memo of hostKey by host: a proxy sees few hosts, and every request asks. Cleared when full,
 * so a client sending many names costs a recomputation, never unbounded memory.
 */
const keys = new Map<string, string | null>();
const MAX_MEMO = 4096;

export function cachedHostKey(host: string): string | undefined {
  let key = keys.get(host);
  if (key === undefined) {
    if (keys.size >= MAX_MEMO) keys.clear();
    key = hostKey(host) ?? null;
    keys.set(host, key);
  }
  return key ?? undefined;
}

/** The signing names the endpoint data gives a host (none for a host it does not list). */
export function signingNamesOfHost(host: string): readonly string[] {
  const key = cachedHostKey(host);
  return key === undefined ? [] : (endpointData().hosts.get(key) ?? []);
}

/** Is the host one of the S3 API's own (`s3.us-west-2.amazonaws.com`, `s3-fips.dualstack...`)? */
export function isS3ApiHost(host: string): boolean {
  const key = cachedHostKey(host);
  return key !== undefined && endpointData().s3.has(key);
}
