import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from './audit/logger.js';
import { CredentialMinter } from './broker/minter.js';
import type { Config } from './config/config.js';
import { loadOrCreateCertificateAuthority } from './edge/ca-store.js';
import { LeafCertificateCache } from './edge/leaf-cache.js';
import { createAdminServer } from './edge/admin-server.js';
import { createProxyServer } from './edge/proxy-server.js';
import { UpstreamClient } from './forward/upstream.js';
import { AgentRegistry, loadOrCreateServerKey } from './identity/registry.js';
import { PolicyStore } from './policy/store.js';
import { createApprovals } from './approvals/setup.js';

export interface RunningCountersign {
  readonly address: AddressInfo;
  readonly adminAddress: AddressInfo;
  readonly reviewAddress: AddressInfo;
  readonly caCertPath: string;
  readonly logger: Logger;
  close(): Promise<void>;
}

/** Builds every part from a validated config and starts the proxy listener. */
export async function startCountersign(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<RunningCountersign> {
  const policies = new PolicyStore(config.policyDir, logger);
  policies.watch();
  const { ca, certPath, created } = loadOrCreateCertificateAuthority(config.dataDir);
  if (created) logger.info({ event: 'ca.created', certPath }, 'generated a new countersign CA');
  const serverKey = loadOrCreateServerKey(config.dataDir);
  const registry = new AgentRegistry(config.dataDir, serverKey);
  const review = config.approvals.reviewListen;
  // Links default to where the review listener really listens (known once it does).
  let reviewBaseUrl = config.approvals.reviewUrl ?? '';
  const approvals = createApprovals(config.approvals, serverKey, policies, config.maxBufferedBodyBytes, logger, () => reviewBaseUrl);
  const upstream = new UpstreamClient(config.upstreamCaFile === undefined ? {} : { ca: readFileSync(config.upstreamCaFile, 'utf8') });
  const stsOverride = config.upstreamOverrides.get('sts') ?? config.upstreamOverrides.get('*');
  const minter = new CredentialMinter({ region: config.stsRegion, ...(stsOverride !== undefined && { endpoint: stsOverride.href }) });

  const server: Server = createProxyServer({
    pipeline: {
      registry,
      policy: () => policies.get(),
      minter,
      upstream,
      overrides: config.upstreamOverrides,
      logger,
      maxBufferedBodyBytes: config.maxBufferedBodyBytes,
      approvals: approvals.service,
    },
    leafCertificates: new LeafCertificateCache(ca, { maxEntries: 1000 }),
  });
  const admin = createAdminServer({
    policyStatus: () => policies.status,
    caLoaded: () => ca.certDer.length > 0,
    ...(approvals.shared && { redisPing: () => approvals.store.ping() }),
  });
  const address = await listen(server, config.listen);
  const adminAddress = await listen(admin, config.adminListen);
  const reviewAddress = await listen(approvals.reviewServer, review);
  if (reviewBaseUrl === '') reviewBaseUrl = `http://${reviewAddress.address.includes(':') ? `[${reviewAddress.address}]` : reviewAddress.address}:${reviewAddress.port}`;
  return {
    address,
    adminAddress,
    reviewAddress,
    caCertPath: certPath,
    logger,
    async close() {
      await Promise.all([server, admin, approvals.reviewServer].map((s) => new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      })));
      policies.close();
      await approvals.store.close();
      minter.destroy();
      await upstream.close();
    },
  };
}

function listen(server: Server, at: { host: string; port: number }): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => resolve(server.address() as AddressInfo));
  });
}
