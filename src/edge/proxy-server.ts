import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { isAwsHost, splitAuthority } from '../aws/endpoints.js';
import { sendAwsError } from '../aws/error-response.js';
import { protocolOf } from '../aws/protocol.js';
import { CountersignError } from '../errors.js';
import { handleAwsRequest, type PipelineDeps } from '../pipeline.js';
import { openTunnel, planConnect, refuseConnect } from './connect.js';
import { splitTarget, type EntryMode, type InboundRequest } from '../http/inbound.js';
import { forwardToHost } from './host-forward.js';
import type { InFlight } from './in-flight.js';
import type { LeafCertificateCache } from './leaf-cache.js';

export interface ProxyServerDeps {
  /** Requests in progress (graceful shutdown waits for them). */
  readonly inFlight: InFlight;
  readonly pipeline: PipelineDeps;
  readonly leafCertificates: LeafCertificateCache;
}

/**
 * The agents' listener. One port serves the three ways an AWS client can reach countersign:
 *  - CONNECT (HTTPS_PROXY): AWS hosts on 443 are intercepted with a leaf certificate from the
 *    countersign CA; other hosts are tunnelled only when a host rule allows them;
 *  - absolute-URI requests (HTTP_PROXY with an http:// endpoint);
 *  - origin-form requests (endpoint mode, AWS_ENDPOINT_URL=http://countersign:8080), routed by
 *    the service and region in the agent's signature.
 */
export function createProxyServer(deps: ProxyServerDeps): Server {
  /** The host each intercepted TLS connection was opened for with CONNECT (and its port, for non-AWS hosts). */
  const connectHosts = new WeakMap<Socket, { host: string; port?: number }>();

  const onIntercepted = (req: IncomingMessage, res: ServerResponse): void => {
    const target = connectHosts.get(req.socket);
    if (target?.port !== undefined) forwardToHost(deps.pipeline, req, res, { scheme: 'https', host: target.host, port: target.port }, req.url ?? '/');
    else route(deps, req, res, 'intercept', target?.host);
  };
  // A client that sends `Expect: 100-continue` gets the go-ahead only when its body is read (acceptBody).
  const intercepted = createServer(onIntercepted).on('checkContinue', onIntercepted);
  intercepted.on('clientError', (_error, socket) => socket.destroy());

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const target = req.url ?? '';
    if (target.startsWith('/')) route(deps, req, res, 'endpoint', undefined);
    else routeAbsolute(deps, req, res, target);
  };
  const server = createServer(onRequest).on('checkContinue', onRequest);

  server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const plan = planConnect(req.url, deps.pipeline.policy());
    const logger = deps.pipeline.logger;
    if (plan.kind === 'refuse') {
      logger.info({ event: 'connect', target: String(req.url).slice(0, 300), decision: 'deny', errorCode: plan.code }, 'connect refused');
      refuseConnect(socket, plan.code, plan.message);
      return;
    }
    if (plan.kind === 'tunnel') {
      logger.info({ event: 'connect', target: `${plan.host}:${plan.port}`, decision: 'allow', rule: plan.rule }, 'tunnel opened');
      openTunnel(req, socket, head, plan.host, plan.port, logger);
      return;
    }
    let secureContext;
    try {
      secureContext = deps.leafCertificates.secureContextFor(plan.host);
    } catch (error) {
      refuseConnect(socket, 'MisroutedRequest', error instanceof Error ? error.message : 'Bad CONNECT host.');
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    const tls = new TLSSocket(socket, { isServer: true, secureContext, ALPNProtocols: ['http/1.1'] });
    tls.on('error', (error: Error) => {
      logger.debug({ event: 'tls', host: plan.host, error: error.message }, 'TLS handshake or stream failed');
      tls.destroy();
    });
    connectHosts.set(tls, plan.kind === 'inspect' ? { host: plan.host, port: plan.port } : { host: plan.host });
    intercepted.emit('connection', tls);
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  server.on('close', () => intercepted.close());
  return server;
}

function route(deps: ProxyServerDeps, req: IncomingMessage, res: ServerResponse, mode: EntryMode, connectHost: string | undefined): void {
  const id = randomUUID();
  const authority = req.headers.host ?? '';
  const parsed = splitAuthority(authority);
  const { rawPath, rawQuery } = splitTarget(req.url ?? '/');
  if (parsed === undefined || (connectHost !== undefined && (parsed.host !== connectHost || (parsed.port ?? 443) !== 443))) {
    const why = parsed === undefined ? 'The Host header is missing or malformed.' : `The Host header names ${parsed.host}, but the tunnel was opened to ${connectHost ?? '?'}.`;
    sendAwsError(res, new CountersignError('MisroutedRequest', why), protocolOf(undefined, req.headers), id, req.method ?? 'GET');
    return;
  }
  dispatch(deps, res, inboundOf(req, id, mode, authority, parsed.host, rawPath, rawQuery));
}

/** `GET http://host/path` through HTTP_PROXY: AWS hosts are brokered, others decided by host rules. */
function routeAbsolute(deps: ProxyServerDeps, req: IncomingMessage, res: ServerResponse, target: string): void {
  const id = randomUUID();
  const match = /^http:\/\/([^/?#]+)(.*)$/i.exec(target);
  const authority = match?.[1] ?? '';
  const parsed = splitAuthority(authority);
  if (parsed === undefined) {
    sendAwsError(res, new CountersignError('MisroutedRequest', 'The absolute-URI request target has no valid host.'), 'rest-xml', id, req.method ?? 'GET');
    return;
  }
  if (!isAwsHost(parsed.host)) {
    forwardToHost(deps.pipeline, req, res, { scheme: 'http', host: parsed.host, port: parsed.port ?? 80 }, match?.[2] === '' || match?.[2] === undefined ? '/' : match[2]);
    return;
  }
  const { rawPath, rawQuery } = splitTarget(match?.[2] === '' || match?.[2] === undefined ? '/' : match[2]);
  dispatch(deps, res, inboundOf(req, id, 'absolute', authority, parsed.host, rawPath, rawQuery));
}

function inboundOf(req: IncomingMessage, id: string, mode: EntryMode, authority: string, host: string, rawPath: string, rawQuery: string): InboundRequest {
  return {
    id,
    startedAt: process.hrtime.bigint(),
    mode,
    scheme: mode === 'intercept' ? 'https' : 'http',
    method: req.method ?? 'GET',
    authority,
    host,
    rawPath,
    rawQuery,
    remoteAddress: req.socket.remoteAddress ?? '',
    message: req,
  };
}

/** Runs the pipeline; called without an async wrapper, which would cost a promise per request. */
function dispatch(deps: ProxyServerDeps, res: ServerResponse, inbound: InboundRequest): void {
  deps.inFlight.enter();
  handleAwsRequest(deps.pipeline, inbound, res)
    .catch((error: unknown) => {
      // handleAwsRequest answers every refusal itself; reaching here means the response broke mid-stream.
      deps.pipeline.logger.warn({ requestId: inbound.id, error: error instanceof Error ? error.message : String(error) }, 'response aborted');
      res.destroy();
    })
    .finally(() => deps.inFlight.leave());
}
