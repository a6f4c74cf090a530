// Hand-made requests for the refusal tests: SigV4-signed (or deliberately broken) requests
// sent with node:http, and raw CONNECTs with node:net.
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import { parseQuery } from '../../src/aws/query-string.js';
import { signRequest } from '../../src/aws/sigv4.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface SignOptions {
  accessKeyId: string;
  secretAccessKey: string;
  service: string;
  region?: string;
  method?: string;
  host: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  signingDate?: Date;
}

/** Signs like an AWS SDK would (S3 single-encoded paths, x-amz-content-sha256 for S3). */
export async function signedRequest(options: SignOptions): Promise<{ headers: Record<string, string> }> {
  const body = options.body ?? '';
  const headers: Record<string, string> = { host: options.host, ...options.headers };
  if (options.service === 's3' && headers['x-amz-content-sha256'] === undefined) {
    headers['x-amz-content-sha256'] = createHash('sha256').update(body).digest('hex');
  }
  const [rawPath = '/', rawQuery = ''] = options.path.split('?', 2);
  const signed = await signRequest(
    { method: options.method ?? 'GET', host: options.host, rawPath, query: parseQuery(rawQuery), headers, body: Buffer.from(body) },
    { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    options.region ?? 'us-east-1',
    options.service,
    options.signingDate,
  );
  return { headers: signed };
}

/** Sends a request to http://127.0.0.1:port exactly as given. */
export function send(port: number, method: string, path: string, headers: Record<string, string>, body = ''): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends a raw CONNECT and returns the proxy's status line and body (up to close or 2 s). */
export function rawConnect(port: number, target: string): Promise<{ statusLine: string; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    let text = '';
    const finish = () => {
      socket.destroy();
      resolve({ statusLine: text.split('\r\n')[0] ?? '', text });
    };
    socket.on('connect', () => socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
    socket.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('\r\n\r\n') && text.startsWith('HTTP/1.1 200')) finish();
    });
    socket.on('end', finish);
    socket.on('error', reject);
    setTimeout(finish, 2_000).unref();
  });
}
