import type { AddressInfo } from 'node:net';
import { createCredentialRelay } from '../edge/credential-endpoint-relay.js';
import { command } from './args.js';

/** `countersign credential-relay`: the loopback sidecar in front of the credential endpoint (docs/deploy.md). */
export const credentialRelay = command(
  {
    name: 'credential-relay',
    summary: 'Relay the credential endpoint to a loopback port, for SDKs that take plain HTTP only there.',
    options: {
      endpoint: { type: 'string', value: 'URL', description: 'the credential endpoint, https://HOST/v1/credentials' },
      ca: { type: 'string', value: 'FILE', description: "countersign's CA certificate (PEM), the only CA trusted for the endpoint" },
      listen: { type: 'string', value: 'HOST:PORT', description: 'where to listen (default 127.0.0.1:8099; loopback only)' },
    },
    details: [
      'Runs as a sidecar in the agent pod. botocore (boto3, the AWS CLI) fetches container credentials over plain HTTP only from loopback and verifies HTTPS only against certifi\'s bundle, so it cannot reach an HTTPS endpoint signed by countersign\'s CA; point AWS_CONTAINER_CREDENTIALS_FULL_URI at this relay instead. It forwards each GET with its Authorization header and keeps nothing.',
    ],
    examples: ['countersign credential-relay --endpoint https://countersign-credentials.countersign.svc/v1/credentials --ca /etc/countersign-ca/ca.crt'],
  },
  async (args, io) => {
    const endpoint = args.string('endpoint');
    const ca = args.string('ca');
    if (endpoint === undefined || ca === undefined) {
      io.err('countersign credential-relay: --endpoint and --ca are required');
      return 2;
    }
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      io.err(`countersign credential-relay: --endpoint ${endpoint} is not a URL`);
      return 2;
    }
    if (url.protocol !== 'https:') {
      io.err('countersign credential-relay: --endpoint must be https (the relay exists to carry the token over TLS)');
      return 2;
    }
    const match = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost):(\d{1,5})$/.exec(args.string('listen') ?? '127.0.0.1:8099');
    if (match === null) {
      io.err('countersign credential-relay: --listen must be a loopback HOST:PORT (the SDKs take plain HTTP only there)');
      return 2;
    }
    const server = createCredentialRelay({ endpoint: url, caFile: ca });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(match[2]), (match[1] ?? '').replace(/^\[|\]$/g, ''), resolve);
    });
    const address = server.address() as AddressInfo;
    io.err(`countersign credential relay on http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}${'/v1/credentials'} -> ${url.href}`);
    const stop = () => server.close(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    return -1; // keeps running
  },
);
