import { startCountersign } from '../app.js';
import { loadConfig, SETTINGS, type Config } from '../config/config.js';
import { command } from './args.js';
import { cliInvocation } from './invocation.js';

export const SETTINGS_HELP = `settings (environment):\n${Object.entries(SETTINGS)
  .map(([name, what]) => `  ${name.padEnd(36)} ${what}`)
  .join('\n')}`;

export const serve = command(
  {
    name: 'serve',
    summary: 'Start the proxy, the review listener and the admin listener.',
    details: [
      'Runs until SIGINT or SIGTERM, then lets in-flight requests finish for up to COUNTERSIGN_SHUTDOWN_GRACE_SECONDS.',
      "JSON log and audit lines go to stdout, this guide to stderr. countersign's own AWS identity comes from the standard AWS provider chain and must be allowed to sts:AssumeRole into the roles the rules name.",
      SETTINGS_HELP,
    ],
    examples: ['COUNTERSIGN_POLICY_DIR=policies countersign serve'],
  },
  async (_args, io) => {
    await serveCommand(loadConfig(io.env));
    return -1; // keeps running
  },
);

/** `countersign serve`: runs until SIGINT/SIGTERM. JSON logs go to stdout, this guide to stderr. */
export async function serveCommand(config: Config): Promise<void> {
  const running = await startCountersign(config);
  const { address, port } = running.address;
  const proxy = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  process.stderr.write(
    [
      `countersign is listening on ${proxy}`,
      `  CA certificate: ${running.caCertPath}`,
      `  health and readiness: http://${running.adminAddress.address}:${running.adminAddress.port}/readyz`,
      `  reviewers decide at: http://${running.reviewAddress.address}:${running.reviewAddress.port}/approvals/ID`,
      '',
      `Issue a key for an agent:   ${cliInvocation()} agents issue my-agent`,
      'Then, in the agent\'s environment:',
      `  export HTTPS_PROXY=${proxy}`,
      `  export AWS_CA_BUNDLE=${running.caCertPath}        # AWS CLI, boto3`,
      `  export NODE_EXTRA_CA_CERTS=${running.caCertPath}  # Node.js`,
      `  # clients without proxy support: export AWS_ENDPOINT_URL=${proxy}`,
      '',
    ].join('\n'),
  );
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    running.logger.info({ event: 'shutdown', signal, graceMs: config.shutdownGraceMs }, 'shutting down');
    // Past the grace period (and a little for the audit flush), leave anyway.
    setTimeout(() => process.exit(1), config.shutdownGraceMs + 5_000).unref();
    void running.close(config.shutdownGraceMs).then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
