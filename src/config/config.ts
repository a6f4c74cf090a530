import { resolve } from 'node:path';
import { parseRedisSettings, REDIS_SETTINGS, RedisSettingsError, type RedisSettings } from './redis.js';

/** countersign's settings: read once at start-up from the environment, validated, frozen. */
export interface Config {
  readonly listen: { readonly host: string; readonly port: number };
  readonly adminListen: { readonly host: string; readonly port: number };
  /** File holding the admin API's operator token (or sha256:HEX of it); absent: the admin API is off. */
  readonly adminTokenFile?: string;
  readonly dataDir: string;
  readonly policyDir: string;
  /** Upstream overrides by SigV4 service name (`*` for every service). */
  readonly upstreamOverrides: ReadonlyMap<string, URL>;
  /** PEM file with extra CAs to trust for upstream TLS. */
  readonly upstreamCaFile?: string;
  readonly stsRegion: string;
  /** The longest a request waits for minted credentials (queue and STS attempts included). */
  readonly stsTimeoutMs: number;
  readonly logLevel: string;
  readonly maxBufferedBodyBytes: number;
  readonly approvals: ApprovalsConfig;
  /** SIGTERM: how long in-flight requests get to finish. */
  readonly shutdownGraceMs: number;
  /** The durable audit log: the Redis stream, the data directory's JSONL file, or none (stdout only). */
  readonly auditSink: 'redis' | 'file' | 'stdout';
  /** The credential endpoint for workloads with OIDC tokens (src/identity/oidc, src/edge/credential-endpoint.ts). */
  readonly workloadIdentity: WorkloadIdentityConfig;
}

export interface WorkloadIdentityConfig {
  /** Raw issuer settings, parsed and checked at start-up by src/identity/oidc/issuers.ts. */
  readonly issuersFile?: string;
  readonly issuer?: string;
  readonly audiences?: string;
  readonly jwksFile?: string;
  readonly listen: { readonly host: string; readonly port: number };
  /** Set: the endpoint speaks HTTPS with a certificate from countersign's CA for these names. */
  readonly tlsNames: readonly string[];
  readonly lifetimeSeconds: number;
}

export interface ApprovalsConfig {
  /** Shared store for several replicas; without it, approvals live in this process's memory. */
  readonly redisUrl?: string;
  /** Redis as configured (one server, Sentinel or Cluster; src/config/redis.ts); set whenever Redis is. */
  readonly redis?: RedisSettings;
  readonly redisPrefix: string;
  readonly reviewListen: { readonly host: string; readonly port: number };
  /** Base URL reviewers use to reach the review listener (links in notifications). */
  readonly reviewUrl?: string;
  readonly trustedIdentity?: { readonly header: string; readonly proxies: readonly string[] };
  readonly webhookUrl?: string;
  readonly webhookSecret?: string;
  readonly slackWebhookUrl?: string;
  readonly teamsWebhookUrl?: string;
  /** Slack app mode: interactive Approve/Deny in Slack (docs/approvals.md). */
  readonly slackApp?: SlackAppConfig;
}

export interface SlackAppConfig {
  /** xoxb- bot token (a secret). */
  readonly botToken: string;
  /** The app's signing secret, checks requests to /slack/interactivity (a secret). */
  readonly signingSecret: string;
  /** Channel id (or name) the app posts in. */
  readonly channel: string;
  /** Slack Web API base URL; default https://slack.com/api. */
  readonly apiUrl?: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The documented settings (README "Configuration"); anything else starting with COUNTERSIGN_ is a typo. */
export const SETTINGS = {
  COUNTERSIGN_LISTEN: 'proxy listener, host:port (default 127.0.0.1:8080)',
  COUNTERSIGN_ADMIN_LISTEN: 'admin listener for /healthz and /readyz, host:port (default 127.0.0.1:9090)',
  COUNTERSIGN_ADMIN_TOKEN_FILE: 'file with the operator token of the admin API (or sha256:HEX of it) on the admin listener; unset: the admin API is off. The agents CLI reads the token from it too',
  COUNTERSIGN_ADMIN_TOKEN: 'for the agents CLI with --server: the operator token (else COUNTERSIGN_ADMIN_TOKEN_FILE)',
  COUNTERSIGN_ADMIN_URL: 'for the agents CLI: the admin listener to call (what --server gives), e.g. http://127.0.0.1:9090',
  COUNTERSIGN_DATA_DIR: 'CA, server key and agent registry (default ./.countersign)',
  COUNTERSIGN_POLICY_DIR: 'policy files (default ./policies)',
  COUNTERSIGN_UPSTREAM_OVERRIDES: 'service=URL pairs, comma-separated; * for every service',
  COUNTERSIGN_UPSTREAM_CA_FILE: 'PEM file of extra CAs trusted for upstream TLS',
  COUNTERSIGN_STS_REGION: 'region of the STS endpoint (default AWS_REGION, then us-east-1)',
  COUNTERSIGN_STS_TIMEOUT_SECONDS: 'longest a request waits for STS to mint its credentials before failing closed with StsUnavailable (default 5)',
  COUNTERSIGN_LOG_LEVEL: 'pino level (default info)',
  COUNTERSIGN_MAX_BODY_BYTES: 'largest JSON/query request body read for classification (default 20 MiB)',
  ...REDIS_SETTINGS,
  COUNTERSIGN_REVIEW_LISTEN: 'review listener for reviewers, host:port (default 127.0.0.1:8081)',
  COUNTERSIGN_REVIEW_URL: 'base URL reviewers reach the review listener at (default http://REVIEW_LISTEN)',
  COUNTERSIGN_REVIEW_IDENTITY_HEADER: 'identity header set by an auth proxy in front of the review listener (e.g. X-Forwarded-Email)',
  COUNTERSIGN_REVIEW_TRUSTED_PROXIES: 'comma-separated addresses/CIDRs allowed to set that header',
  COUNTERSIGN_WEBHOOK_URL: 'generic webhook for approval requests (a secret: never logged)',
  COUNTERSIGN_WEBHOOK_SECRET: 'HMAC secret that signs generic webhook notices',
  COUNTERSIGN_SLACK_WEBHOOK_URL: 'Slack incoming webhook for approval requests (a secret)',
  COUNTERSIGN_TEAMS_WEBHOOK_URL: 'Microsoft Teams Workflows webhook for approval requests (a secret)',
  COUNTERSIGN_SLACK_BOT_TOKEN: 'Slack app mode: the bot token (xoxb-..., a secret); with the signing secret and channel',
  COUNTERSIGN_SLACK_SIGNING_SECRET: "Slack app mode: the app's signing secret, verifies clicks on /slack/interactivity (a secret)",
  COUNTERSIGN_SLACK_CHANNEL: 'Slack app mode: channel id the app posts approval requests in',
  COUNTERSIGN_SLACK_API_URL: 'Slack app mode: Web API base URL (default https://slack.com/api)',
  COUNTERSIGN_AUDIT_SINK: 'durable audit log: auto (redis when Redis is configured, else file), redis, file, or stdout (no durable log)',
  COUNTERSIGN_SHUTDOWN_GRACE_SECONDS: 'on SIGTERM, how long in-flight requests may take to finish (default 25)',
  COUNTERSIGN_OIDC_ISSUER: 'the one OIDC issuer whose workload tokens the credential endpoint accepts (exactly its iss)',
  COUNTERSIGN_OIDC_AUDIENCES: 'comma-separated audiences a token of COUNTERSIGN_OIDC_ISSUER must name (e.g. countersign)',
  COUNTERSIGN_OIDC_JWKS_FILE: "static JWKS file of COUNTERSIGN_OIDC_ISSUER's keys (air-gapped; default: discovery)",
  COUNTERSIGN_OIDC_ISSUERS_FILE: 'YAML/JSON file of issuers: [{issuer, audiences, algorithms, jwksFile, jwksUri, caFile, bearerTokenFile}]',
  COUNTERSIGN_CREDENTIALS_LISTEN: 'credential endpoint listener, host:port (default 127.0.0.1:8082; on when an issuer is configured)',
  COUNTERSIGN_CREDENTIALS_TLS_NAMES: 'comma-separated DNS names/IPs: the credential endpoint speaks HTTPS with a countersign-CA certificate for them',
  COUNTERSIGN_CREDENTIAL_LIFETIME_SECONDS: 'lifetime of credentials from the credential endpoint (default 3600, 15 to 43200)',
  COUNTERSIGN_REVIEWER_TOKEN: 'for the approvals CLI: the reviewer API token (countersign reviewers token ID)',
} as const;

/** The Slack app's three settings go together; the URL must be http(s). Messages never quote a value. */
function slackAppOf(env: NodeJS.ProcessEnv): { slackApp?: SlackAppConfig } {
  const botToken = env.COUNTERSIGN_SLACK_BOT_TOKEN ?? '';
  const signingSecret = env.COUNTERSIGN_SLACK_SIGNING_SECRET ?? '';
  const channel = env.COUNTERSIGN_SLACK_CHANNEL ?? '';
  const apiUrl = env.COUNTERSIGN_SLACK_API_URL ?? '';
  const given = [botToken, signingSecret, channel].filter((v) => v !== '').length;
  if (given === 0) {
    if (apiUrl !== '') throw new ConfigError('COUNTERSIGN_SLACK_API_URL is set without the Slack app (COUNTERSIGN_SLACK_BOT_TOKEN, COUNTERSIGN_SLACK_SIGNING_SECRET, COUNTERSIGN_SLACK_CHANNEL).');
    return {};
  }
  if (given !== 3) throw new ConfigError('COUNTERSIGN_SLACK_BOT_TOKEN, COUNTERSIGN_SLACK_SIGNING_SECRET and COUNTERSIGN_SLACK_CHANNEL go together: the app posts with the token, in the channel, and verifies clicks with the secret.');
  if (apiUrl !== '' && !/^https?:\/\/[^\s]+$/.test(apiUrl)) throw new ConfigError('COUNTERSIGN_SLACK_API_URL must be an http(s) URL.');
  return { slackApp: { botToken, signingSecret, channel, ...(apiUrl !== '' && { apiUrl }) } };
}

function parseListen(value: string, name = 'COUNTERSIGN_LISTEN'): { host: string; port: number } {
  const match = /^(?<host>\[[0-9a-fA-F:]+\]|[^:]+):(?<port>\d{1,5})$/.exec(value);
  const port = Number(match?.groups?.port);
  if (!match?.groups?.host || !Number.isInteger(port) || port > 65535) {
    throw new ConfigError(`${name}="${value}": expected host:port, for example 127.0.0.1:8080.`);
  }
  return { host: match.groups.host.replace(/^\[|\]$/g, ''), port };
}

function parseOverrides(value: string | undefined): Map<string, URL> {
  const overrides = new Map<string, URL>();
  if (value === undefined || value.trim() === '') return overrides;
  for (const entry of value.split(',')) {
    const eq = entry.indexOf('=');
    const service = entry.slice(0, eq).trim();
    const url = entry.slice(eq + 1).trim();
    if (eq <= 0 || !/^(\*|[a-z0-9-]+)$/.test(service)) {
      throw new ConfigError(`COUNTERSIGN_UPSTREAM_OVERRIDES entry "${entry}": expected service=URL, for example s3=http://127.0.0.1:4566.`);
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(`COUNTERSIGN_UPSTREAM_OVERRIDES entry "${entry}": "${url}" is not a URL.`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ConfigError(`COUNTERSIGN_UPSTREAM_OVERRIDES entry "${entry}": only http and https URLs can be upstreams.`);
    }
    overrides.set(service, parsed);
  }
  return overrides;
}

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${name}="${value}": expected a positive whole number.`);
  return n;
}

function auditSinkOf(value: string, hasRedis: boolean): Config['auditSink'] {
  if (value === 'auto') return hasRedis ? 'redis' : 'file';
  if (value === 'redis' && !hasRedis) throw new ConfigError('COUNTERSIGN_AUDIT_SINK=redis needs a Redis: COUNTERSIGN_REDIS_URL, COUNTERSIGN_REDIS_SENTINELS or COUNTERSIGN_REDIS_CLUSTER_NODES.');
  if (value === 'redis' || value === 'file' || value === 'stdout') return value;
  throw new ConfigError(`COUNTERSIGN_AUDIT_SINK="${value}": expected auto, redis, file or stdout.`);
}

function redisSettings(env: NodeJS.ProcessEnv): RedisSettings | undefined {
  try {
    return parseRedisSettings(env);
  } catch (error) {
    throw error instanceof RedisSettingsError ? new ConfigError(error.message) : error;
  }
}

function workloadIdentityOf(env: NodeJS.ProcessEnv): WorkloadIdentityConfig {
  const lifetimeSeconds = positiveInteger('COUNTERSIGN_CREDENTIAL_LIFETIME_SECONDS', env.COUNTERSIGN_CREDENTIAL_LIFETIME_SECONDS, 3600);
  if (lifetimeSeconds < 15 || lifetimeSeconds > 43_200) throw new ConfigError(`COUNTERSIGN_CREDENTIAL_LIFETIME_SECONDS=${lifetimeSeconds}: expected 15 to 43200 (12 hours).`);
  const set = (name: keyof typeof SETTINGS) => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const raw = { issuersFile: set('COUNTERSIGN_OIDC_ISSUERS_FILE'), issuer: set('COUNTERSIGN_OIDC_ISSUER'), audiences: set('COUNTERSIGN_OIDC_AUDIENCES'), jwksFile: set('COUNTERSIGN_OIDC_JWKS_FILE') };
  return {
    ...Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)),
    listen: parseListen(env.COUNTERSIGN_CREDENTIALS_LISTEN ?? '127.0.0.1:8082', 'COUNTERSIGN_CREDENTIALS_LISTEN'),
    tlsNames: (env.COUNTERSIGN_CREDENTIALS_TLS_NAMES ?? '').split(',').map((n) => n.trim()).filter((n) => n !== ''),
    lifetimeSeconds,
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const unknown = Object.keys(env).filter((k) => k.startsWith('COUNTERSIGN_') && !(k in SETTINGS));
  if (unknown.length > 0) {
    throw new ConfigError(`Unknown setting ${unknown.join(', ')}; known settings: ${Object.keys(SETTINGS).join(', ')}.`);
  }
  const caFile = env.COUNTERSIGN_UPSTREAM_CA_FILE;
  const reviewListen = parseListen(env.COUNTERSIGN_REVIEW_LISTEN ?? '127.0.0.1:8081', 'COUNTERSIGN_REVIEW_LISTEN');
  const identityHeader = env.COUNTERSIGN_REVIEW_IDENTITY_HEADER;
  const trustedProxies = env.COUNTERSIGN_REVIEW_TRUSTED_PROXIES?.split(',').map((p) => p.trim()).filter((p) => p !== '') ?? [];
  if ((identityHeader === undefined) !== (trustedProxies.length === 0)) {
    throw new ConfigError('COUNTERSIGN_REVIEW_IDENTITY_HEADER and COUNTERSIGN_REVIEW_TRUSTED_PROXIES go together: the header is believed only from those addresses.');
  }
  const redis = redisSettings(env);
  const optional = (name: keyof typeof SETTINGS, key: string) => (env[name] === undefined || env[name] === '' ? {} : { [key]: env[name] });
  const approvals: ApprovalsConfig = {
    redisPrefix: redis?.prefix ?? env.COUNTERSIGN_REDIS_PREFIX ?? 'countersign:',
    ...(redis !== undefined && { redis }),
    reviewListen,
    ...optional('COUNTERSIGN_REDIS_URL', 'redisUrl'),
    ...optional('COUNTERSIGN_REVIEW_URL', 'reviewUrl'),
    ...optional('COUNTERSIGN_WEBHOOK_URL', 'webhookUrl'),
    ...optional('COUNTERSIGN_WEBHOOK_SECRET', 'webhookSecret'),
    ...optional('COUNTERSIGN_SLACK_WEBHOOK_URL', 'slackWebhookUrl'),
    ...optional('COUNTERSIGN_TEAMS_WEBHOOK_URL', 'teamsWebhookUrl'),
    ...(identityHeader !== undefined && { trustedIdentity: { header: identityHeader, proxies: trustedProxies } }),
    ...slackAppOf(env),
  };
  const config: Config = {
    listen: parseListen(env.COUNTERSIGN_LISTEN ?? '127.0.0.1:8080'),
    adminListen: parseListen(env.COUNTERSIGN_ADMIN_LISTEN ?? '127.0.0.1:9090', 'COUNTERSIGN_ADMIN_LISTEN'),
    dataDir: resolve(env.COUNTERSIGN_DATA_DIR ?? '.countersign'),
    policyDir: resolve(env.COUNTERSIGN_POLICY_DIR ?? 'policies'),
    upstreamOverrides: parseOverrides(env.COUNTERSIGN_UPSTREAM_OVERRIDES),
    stsRegion: env.COUNTERSIGN_STS_REGION ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    stsTimeoutMs: positiveInteger('COUNTERSIGN_STS_TIMEOUT_SECONDS', env.COUNTERSIGN_STS_TIMEOUT_SECONDS, 5) * 1000,
    logLevel: env.COUNTERSIGN_LOG_LEVEL ?? 'info',
    maxBufferedBodyBytes: positiveInteger('COUNTERSIGN_MAX_BODY_BYTES', env.COUNTERSIGN_MAX_BODY_BYTES, 20 * 1024 * 1024),
    approvals,
    auditSink: auditSinkOf(env.COUNTERSIGN_AUDIT_SINK ?? 'auto', approvals.redis !== undefined),
    shutdownGraceMs: positiveInteger('COUNTERSIGN_SHUTDOWN_GRACE_SECONDS', env.COUNTERSIGN_SHUTDOWN_GRACE_SECONDS, 25) * 1000,
    workloadIdentity: workloadIdentityOf(env),
    ...(caFile !== undefined && { upstreamCaFile: resolve(caFile) }),
    ...(env.COUNTERSIGN_ADMIN_TOKEN_FILE !== undefined && env.COUNTERSIGN_ADMIN_TOKEN_FILE !== '' && { adminTokenFile: resolve(env.COUNTERSIGN_ADMIN_TOKEN_FILE) }),
  };
  return Object.freeze(config);
}
