import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent, request } from 'undici';
import { CREDENTIALS_PATH } from './credential-endpoint.js';

/** A credential answer is a few hundred bytes; anything larger is not countersign's. */
const MAX_ANSWER_BYTES = 64 * 1024;
const TIMEOUT_MS = 10_000;

export interface RelayOptions {
  /** The credential endpoint: https://countersign-credentials.countersign.svc/v1/credentials. */
  readonly endpoint: URL;
  /** countersign's CA certificate (PEM): the only CA the relay trusts for the endpoint. */
  readonly caFile: string;
}

/**
 * The loopback sidecar for SDKs that accept plain HTTP only on loopback and verify HTTPS
 * against their own bundle, not the CA the agent is given: botocore (boto3, the AWS CLI) checks
 * the container credential URL against certifi's bundle alone. The agent's SDK GETs
 * http://127.0.0.1:PORT/v1/credentials with its token; the relay sends that one request on to the
 * credential endpoint over HTTPS, trusting only countersign's CA, and answers with what it
 * answered. It holds no secret and keeps nothing: each fetch is the agent's own.
 */
export function createCredentialRelay(options: RelayOptions): Server {
  const dispatcher = new Agent({ connect: { ca: readFileSync(options.caFile, 'utf8'), timeout: TIMEOUT_MS }, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
  const server = createServer((req, res) => {
    void relay(options.endpoint, dispatcher, req, res);
  });
  server.on('close', () => void dispatcher.close());
  return server;
}

async function relay(endpoint: URL, dispatcher: Agent, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if ((req.url ?? '').split('?')[0] !== CREDENTIALS_PATH || req.method !== 'GET') {
    answer(res, 400, { Code: 'InvalidRequest', Message: `The credential relay answers GET ${CREDENTIALS_PATH}.`, CountersignCode: 'CredentialRequestInvalid' });
    return;
  }
  try {
    const upstream = await request(endpoint, {
      method: 'GET',
      dispatcher,
      headers: { accept: 'application/json', ...(req.headers.authorization !== undefined && { authorization: req.headers.authorization }) },
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of upstream.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_ANSWER_BYTES) throw new Error('the credential endpoint answered too much');
      chunks.push(chunk as Buffer);
    }
    const code = upstream.headers['x-countersign-error'];
    res.writeHead(upstream.statusCode, { 'content-type': 'application/json', 'cache-control': 'no-store', ...(typeof code === 'string' && { 'x-countersign-error': code }) });
    res.end(Buffer.concat(chunks));
  } catch (error) {
    // The SDK shows this message; say where the relay could not get to (never the token).
    answer(res, 502, { Code: 'ServiceUnavailable', Message: `The credential relay could not reach ${endpoint.origin}: ${error instanceof Error ? error.message : String(error)}. Check the endpoint URL, the CA file and the NetworkPolicy.` });
  }
}

function answer(res: ServerResponse, status: number, body: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
