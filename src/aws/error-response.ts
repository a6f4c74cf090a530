import type { ServerResponse } from 'node:http';
import type { CountersignError } from '../errors.js';
import type { Protocol } from './protocol.js';

/** XML element-text escaping (the message may quote request data). */
export function escapeXml(text: string): string {
  return text.replace(/[<>&]/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface RenderedError {
  readonly contentType: string;
  readonly body: string;
  readonly awsCode: string;
}

/**
 * Shapes an error the way the client's SDK expects for its protocol, so the agent's tooling
 * surfaces our message instead of a parse failure:
 *  - REST-XML (S3): `<Error><Code/><Message/><RequestId/></Error>`;
 *  - query (STS, IAM): `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`;
 *  - JSON (DynamoDB, ...): `{"__type": "...#Code", "message": "..."}` plus `x-amzn-ErrorType`.
 */
export function renderAwsError(error: CountersignError, protocol: Protocol, requestId: string): RenderedError {
  const message = error.clientMessage;
  if (protocol === 'json') {
    const awsCode = error.entry.jsonCode ?? error.entry.awsCode;
    return {
      contentType: 'application/x-amz-json-1.0',
      body: JSON.stringify({ __type: `countersign#${awsCode}`, message, countersignCode: error.code }),
      awsCode,
    };
  }
  const awsCode = error.entry.awsCode;
  const fields = `<Code>${escapeXml(awsCode)}</Code><Message>${escapeXml(message)}</Message>`;
  if (protocol === 'query') {
    const type = error.entry.status >= 500 ? 'Receiver' : 'Sender';
    return {
      contentType: 'text/xml',
      body:
        `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>${type}</Type>${fields}` +
        `<CountersignCode>${error.code}</CountersignCode></Error><RequestId>${escapeXml(requestId)}</RequestId></ErrorResponse>`,
      awsCode,
    };
  }
  return {
    contentType: 'application/xml',
    body:
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${fields}<CountersignCode>${error.code}</CountersignCode>` +
      `<RequestId>${escapeXml(requestId)}</RequestId></Error>`,
    awsCode,
  };
}

/** Writes the error response; a HEAD request gets the status and headers only, as S3 does. */
export function sendAwsError(
  res: ServerResponse,
  error: CountersignError,
  protocol: Protocol,
  requestId: string,
  method: string,
): void {
  const rendered = renderAwsError(error, protocol, requestId);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(rendered.body);
  res.writeHead(error.entry.status, {
    'content-type': rendered.contentType,
    'content-length': body.length,
    'x-amzn-requestid': requestId,
    'x-amz-request-id': requestId,
    'x-amzn-errortype': rendered.awsCode,
    'x-countersign-error': error.code,
    ...error.headers,
  });
  res.end(method === 'HEAD' ? undefined : body);
}
