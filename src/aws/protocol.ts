import type { IncomingHttpHeaders } from 'node:http';

/**
 * The wire protocol of an AWS API family. It decides how a request is classified and how an
 * error must be shaped for the client's SDK to parse it.
 */
export type Protocol = 'rest-xml' | 'query' | 'json';

/** Best guess before classification, used only to shape early errors. */
export function protocolOf(service: string | undefined, headers: IncomingHttpHeaders): Protocol {
  if (service === 's3') return 'rest-xml';
  if (headers['x-amz-target'] !== undefined) return 'json';
  const contentType = headers['content-type'] ?? '';
  if (contentType.startsWith('application/x-amz-json')) return 'json';
  return service === undefined ? 'rest-xml' : 'query';
}
