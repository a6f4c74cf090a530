import type { IncomingMessage } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { Logger } from '../audit/logger.js';
import { isAwsHost, splitAuthority } from '../aws/endpoints.js';
import { ERROR_CATALOGUE, type ErrorCode } from '../errors.js';
import type { CompiledPolicySet } from '../policy/compile.js';
import { decideHost } from '../policy/evaluate.js';

/** What to do with a CONNECT: intercept (AWS on 443), tunnel (a host rule allows), or refuse. */
export type ConnectPlan =
  | { readonly kind: 'intercept'; readonly host: string }
  /** A non-AWS host whose rules look at methods or paths: intercepted, each request decided and passed on unsigned. */
  | { readonly kind: 'inspect'; readonly host: string; readonly port: number }
  | { readonly kind: 'tunnel'; readonly host: string; readonly port: number; readonly rule: string }
  | { readonly kind: 'refuse'; readonly code: ErrorCode; readonly message: string };

export function planConnect(target: string | undefined, policy: CompiledPolicySet): ConnectPlan {
  const authority = splitAuthority(target ?? '');
  if (authority === undefined || authority.port === undefined) {
    return { kind: 'refuse', code: 'MisroutedRequest', message: 'CONNECT needs a target of the form host:port.' };
  }
  const { host, port } = authority;
  const hostRule = decideHost(policy, host, port);
  if (hostRule?.effect === 'deny') {
    return { kind: 'refuse', code: 'HostNotAllowed', message: `CONNECT to ${host}:${port} is denied by rule "${hostRule.rule}".` };
  }
  if (isAwsHost(host) && port === 443) return { kind: 'intercept', host };
  if (hostRule?.inspect === true) return { kind: 'inspect', host, port };
  if (hostRule?.effect === 'allow') return { kind: 'tunnel', host, port, rule: hostRule.rule };
  if (isAwsHost(host)) {
    return { kind: 'refuse', code: 'PortNotAllowed', message: `CONNECT to ${host} on port ${port} is not allowed.` };
  }
  return { kind: 'refuse', code: 'HostNotAllowed', message: `CONNECT to ${host}:${port} is not allowed: it is not an AWS endpoint and no host rule lets it through.` };
}

/**
 * Refuses a CONNECT in plain HTTP (no TLS has started, so AWS-shaped bodies would not reach
 * the SDK's parser). The reason phrase carries the code so clients that only print the
 * status line (curl, botocore's ProxyConnectionError) still show why.
 */
export function refuseConnect(socket: Socket, code: ErrorCode, message: string): void {
  const entry = ERROR_CATALOGUE[code];
  const body = `countersign: ${message} ${entry.hint}\n`;
  socket.end(
    `HTTP/1.1 ${entry.status} countersign ${code}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `X-Countersign-Error: ${code}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

/** A plain TCP tunnel to a non-AWS host a rule lets through: bytes both ways, no interception. */
export function openTunnel(req: IncomingMessage, client: Socket, head: Buffer, host: string, port: number, logger: Logger): void {
  const upstream = netConnect({ host, port });
  let connected = false;
  upstream.once('connect', () => {
    connected = true;
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on('error', (error) => {
    logger.warn({ host, port, error: error.message }, 'tunnel upstream failed');
    if (connected) client.destroy();
    else refuseConnect(client, 'UpstreamUnavailable', `Could not connect to ${host}:${port}.`);
  });
  client.on('error', () => upstream.destroy());
  client.on('close', () => upstream.destroy());
  req.socket.setTimeout(0);
}
