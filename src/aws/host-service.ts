import { isS3Host } from './endpoints.js';

/**
 * Does this AWS host serve the service the agent signed for? A request signed for one
 * service and sent to another's host is refused rather than forwarded on a guess.
 * Hosts follow `<endpointPrefix>[.<region>].amazonaws.com`; S3 also has bucket hosts.
 */
export function hostServesService(host: string, service: string): boolean {
  if (service === 's3') {
    return isS3Host(host);
  }
  const prefix = host.split('.', 1)[0] ?? '';
  return prefix === service || prefix === `${service}-fips`;
}
