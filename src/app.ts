import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from './audit/logger.js';
import { CredentialMinter } from './broker/minter.js';
import type { Config } from './config/config.js';
import { loadOrCreateCertificateAuthority } from './edge/ca-store.js';
import { LeafCertificateCache } from './edge/leaf-cache.js';
import { createProxyServer } from './edge/proxy-server.js';
import { UpstreamClient } from './forward/upstream.js';
import { AgentRegistry, loadOrCreateServerKey } from './identity/registry.js';
import { compilePolicySet } from './policy/compile.js';
import { loadPolicyDir } from './policy/load.js';

export interface RunningCountersign {
  readonly address: AddressInfo;
  readonly caCertPath: string;
  readonly logger: Logger;
  close(): Promise<void>;
}

/** Builds every part from a validated config and starts the proxy listener. */
export async function startCountersign(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<RunningCountersign> {
  const policy = compilePolicySet(loadPolicyDir(config.policyDir));
  logger.info({ event: 'policy.loaded', files: policy.files.length, rules: policy.awsRules.length + policy.hostRules.length }, 'policies loaded');
  const { ca, certPath, created } = loadOrCreateCertificateAuthority(config.dataDir);
  if (created) logger.info({ event: 'ca.created', certPath }, 'generated a new countersign CA');
  const registry = new AgentRegistry(config.dataDir, loadOrCreateServerKey(config.dataDir));
  const upstream = new UpstreamClient(config.upstreamCaFile === undefined ? {} : { ca: readFileSync(config.upstreamCaFile, 'utf8') });
  const stsOverride = config.upstreamOverrides.get('sts') ?? config.upstreamOverrides.get('*');
  const minter = new CredentialMinter({ region: config.stsRegion, ...(stsOverride !== undefined && { endpoint: stsOverride.href }) });

  const server: Server = createProxyServer({
    pipeline: {
      registry,
      policy: () => policy,
      minter,
      upstream,
      overrides: config.upstreamOverrides,
      logger,
      maxBufferedBodyBytes: config.maxBufferedBodyBytes,
    },
    leafCertificates: new LeafCertificateCache(ca, { maxEntries: 1000 }),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    address,
    caCertPath: certPath,
    logger,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      minter.destroy();
      await upstream.close();
    },
  };
}
