import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createApprovals } from './approvals/setup.js';
import { AuditLog } from './audit/audit-log.js';
import type { AuditEvent } from './audit/events.js';
import { FileAuditSink } from './audit/file-sink.js';
import { createLogger, type Logger } from './audit/logger.js';
import { Metrics } from './audit/metrics.js';
import { RedisAuditSink } from './audit/redis-sink.js';
import type { AuditSink } from './audit/sink.js';
import { AwsIdentityMonitor, identityCheck } from './broker/identity.js';
import { CredentialMinter } from './broker/minter.js';
import type { Config } from './config/config.js';
import { createAdminApi } from './edge/admin-api.js';
import { readAcceptedTokenHash } from './edge/admin-api-token.js';
import { createAdminServer } from './edge/admin-server.js';
import { createWorkloadIdentity } from './edge/credential-endpoint-setup.js';
import { loadOrCreateCertificateAuthority } from './edge/ca-store.js';
import { InFlight } from './edge/in-flight.js';
import { LeafCertificateCache } from './edge/leaf-cache.js';
import { createProxyServer } from './edge/proxy-server.js';
import { UpstreamClient } from './forward/upstream.js';
import { loadOrCreateServerKey } from './identity/registry.js';
import { noteVerifiedUse } from './identity/registry-last-use.js';
import { keyChangeEvent, openAgentRegistry } from './identity/registry-setup.js';
import { PolicyStore } from './policy/store.js';

export interface RunningCountersign {
  readonly address: AddressInfo;
  readonly adminAddress: AddressInfo;
  readonly reviewAddress: AddressInfo;
  readonly caCertPath: string;
  readonly logger: Logger;
  /** Graceful stop: no new connections, held requests answered as pending, in-flight finished, audit flushed. */
  close(graceMs?: number): Promise<void>;
}

/** Builds every part from a validated config and starts the listeners. */
export async function startCountersign(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<RunningCountersign> {
  const replica = `${hostname()}:${process.pid}`;
  const sink = auditSink(config);
  const audit = new AuditLog(logger, sink, replica);
  const emit = (event: AuditEvent) => audit.emit(event);
  // Gauges read the parts below when scraped, by then all built.
  const metrics = new Metrics({
    heldRequests: () => approvals.service.held,
    auditQueueDepth: () => audit.queueDepth,
    auditHealthy: () => audit.healthy,
    auditDropped: () => audit.droppedRecords,
    leafCache: () => ({ size: leafCertificates.size, hits: leafCertificates.hits, misses: leafCertificates.misses }),
    stsCalls: () => minter.stsCalls,
  });
  const policies = new PolicyStore(config.policyDir, logger, emit, (ok) => metrics.policyLoaded(ok));
  policies.watch();
  const { ca, certPath, created } = loadOrCreateCertificateAuthority(config.dataDir);
  if (created) logger.info({ event: 'ca.created', certPath }, 'generated a new countersign CA');
  const serverKey = loadOrCreateServerKey(config.dataDir);
  // The agent registry: in Redis when configured (shared by every replica), else DATA_DIR/agents.json.
  const redisRegistry = config.approvals.redis === undefined ? {} : { redis: { settings: config.approvals.redis, prefix: config.approvals.redisPrefix } };
  const registries = openAgentRegistry({ dataDir: config.dataDir, serverKey, ...redisRegistry, onChange: (change) => emit(keyChangeEvent(change)) });
  const registry = registries.registry;
  await registries.ready();
  // Links default to where the review listener really listens (known once it does).
  let reviewBaseUrl = config.approvals.reviewUrl ?? '';
  const approvals = createApprovals(config.approvals, { serverKey, policies, maxBufferedBodyBytes: config.maxBufferedBodyBytes, logger, audit, reviewBaseUrl: () => reviewBaseUrl });
  const upstream = new UpstreamClient(config.upstreamCaFile === undefined ? {} : { ca: readFileSync(config.upstreamCaFile, 'utf8') });
  const stsOverride = config.upstreamOverrides.get('sts') ?? config.upstreamOverrides.get('*');
  const minter = new CredentialMinter({ region: config.stsRegion, timeoutMs: config.stsTimeoutMs, ...(stsOverride !== undefined && { endpoint: stsOverride.href }) });
  // Which AWS identity countersign runs as: checked now (in the background) and periodically.
  const identity = new AwsIdentityMonitor({ sts: minter.client, timeoutMs: config.stsTimeoutMs, logger, onCheck: (id) => metrics.awsIdentity(id) });
  void identity.start();
  let shuttingDown = false;
  const leafCertificates = new LeafCertificateCache(ca, { maxEntries: 1000 });
  const inFlight = new InFlight();
  const workload = createWorkloadIdentity(config.workloadIdentity, { serverKey, registry, identities: () => policies.get().directory.identities ?? [], audit: emit, logger, ca, leafCertificates });

  const server: Server = createProxyServer({
    pipeline: {
      registry,
      sessions: workload.sessions,
      policy: () => policies.get(),
      minter,
      upstream,
      overrides: config.upstreamOverrides,
      logger,
      maxBufferedBodyBytes: config.maxBufferedBodyBytes,
      approvals: approvals.service,
      // Request records also tell the approval notifiers what AWS answered an approved request.
      audit: (event: AuditEvent) => {
        emit(event);
        approvals.observe(event);
      },
      // A finished request that was decided proves its key was used (last use, agents list).
      metrics: { observeRequest: (record) => (metrics.observeRequest(record), noteVerifiedUse(registry, record)) },
    },
    leafCertificates,
    inFlight,
  });
  const admin = createAdminServer({
    policyStatus: () => policies.status,
    caLoaded: () => ca.certDer.length > 0,
    metrics: metrics.registry,
    adminApi: createAdminApi({
      registry,
      ...(config.adminTokenFile !== undefined && { tokenHash: readAcceptedTokenHash(config.adminTokenFile) }),
      declaredAgents: () => policies.get().directory.agents.map((agent) => agent.name),
      audit: emit,
    }),
    shuttingDown: () => shuttingDown,
    awsIdentity: () => identityCheck(identity.identity),
    ...(sink !== undefined && { audit: () => ({ ok: audit.healthy, sink: sink.kind, queued: audit.queueDepth, dropped: audit.droppedRecords }) }),
    onDependency: (name, ok) => metrics.dependency(name, ok),
    onReady: (ok) => metrics.ready(ok),
    logger,
    ...(approvals.shared && { redisPing: () => approvals.store.ping() }),
  });
  const address = await listen(server, config.listen);
  const adminAddress = await listen(admin, config.adminListen);
  const reviewAddress = await listen(approvals.reviewServer, config.approvals.reviewListen);
  const credentialAddress = workload.server === undefined ? undefined : await listen(workload.server, config.workloadIdentity.listen);
  if (credentialAddress !== undefined) logger.info({ event: 'credentials.listening', url: `${workload.scheme}://${hostPort(credentialAddress)}/v1/credentials` }, 'credential endpoint listening');
  if (reviewBaseUrl === '') reviewBaseUrl = `http://${reviewAddress.address.includes(':') ? `[${reviewAddress.address}]` : reviewAddress.address}:${reviewAddress.port}`;

  return {
    address,
    adminAddress,
    reviewAddress,
    caCertPath: certPath,
    logger,
    async close(graceMs = 25_000) {
      shuttingDown = true; // /readyz 503 while draining: the Service stops sending new requests
      identity.stop();
      const closed = [server, approvals.reviewServer, ...(workload.server === undefined ? [] : [workload.server])].map(stopAccepting);
      approvals.service.releaseAll();
      await Promise.race([inFlight.idle(), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
      server.closeAllConnections();
      approvals.reviewServer.closeAllConnections();
      workload.server?.closeAllConnections();
      await Promise.all(closed);
      await workload.close();
      await stopAccepting(admin);
      admin.closeAllConnections();
      policies.close();
      await registry.close();
      await audit.close();
      await approvals.store.close();
      minter.destroy();
      await upstream.close();
    },
  };
}

function auditSink(config: Config): AuditSink | undefined {
  if (config.auditSink === 'stdout') return undefined;
  if (config.auditSink === 'redis' && config.approvals.redis !== undefined) return new RedisAuditSink(config.approvals.redis, config.approvals.redisPrefix);
  const file = new FileAuditSink(join(config.dataDir, 'audit.jsonl'));
  file.claim(); // one writer per log: a second server on this data directory refuses here, before it listens
  return file;
}

function hostPort(address: AddressInfo): string {
  return `${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
}

function listen(server: Server, at: { host: string; port: number }): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => resolve(server.address() as AddressInfo));
  });
}

/** Stops accepting connections; idle keep-alive connections close now, busy ones when done. */
function stopAccepting(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
