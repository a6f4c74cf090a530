import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestAudit } from '../audit/record.js';
import { elapsedMs } from '../audit/record.js';
import { ERROR_CATALOGUE } from '../errors.js';
import { forwardableResponseHead, methodOverrideHeader, passThroughRequestHeaders } from '../forward/headers.js';
import type { PipelineDeps } from '../pipeline.js';
import { decideHostRequest } from '../policy/evaluate.js';
import { hasBody } from '../http/body.js';
import { acceptBody, splitTarget } from '../http/inbound.js';

export interface HostTarget {
  readonly scheme: 'http' | 'https';
  readonly host: string;
  readonly port: number;
}

/**
 * One request to a host that is not AWS, decided by host rules on its method and path (deny
 * beats allow; no rule, no way through) and passed on as it came: nothing is signed, nothing
 * of the client's is stripped but hop-by-hop headers. A path the host's rules would match one
 * way and its server might read another (`/ok/../x`, `%2F`, a backslash) is refused before any rule is
 * matched, never normalised: see policy/criteria/host-path.ts. Refusals are plain text, since
 * the client is not an AWS SDK.
 */
export function forwardToHost(deps: PipelineDeps, req: IncomingMessage, res: ServerResponse, target: HostTarget, rawTarget: string): void {
  const startedAt = process.hrtime.bigint();
  const method = req.method ?? 'GET';
  const { rawPath, rawQuery } = splitTarget(rawTarget);
  const authority = (target.scheme === 'https' && target.port === 443) || (target.scheme === 'http' && target.port === 80) ? target.host : `${target.host}:${target.port}`;
  const decision = decideHostRequest(deps.policy(), target.host, target.port, method, rawPath);
  const audit: RequestAudit = {
    event: 'request.failed',
    requestId: randomUUID(),
    mode: 'host',
    method,
    host: authority,
    path: rawPath.slice(0, 512),
    remoteAddress: req.socket.remoteAddress ?? '',
    decision: decision?.effect === 'allow' ? 'allow' : 'deny',
    rules: decision === undefined || decision.effect === 'ambiguous' ? [] : [decision.rule],
    // An ambiguous path is refused before any rule is matched: no rule, no reason; its errorCode says why.
    reasons: decision?.effect === 'ambiguous' ? [] : [decision === undefined ? 'NO_RULE_MATCHED' : decision.effect === 'deny' ? 'RULE_DENIED' : 'RULE_ALLOWED'],
    durationsMs: {},
  };
  const finish = () => {
    audit.status = res.statusCode;
    audit.durationsMs.total = elapsedMs(startedAt);
    audit.event = audit.upstreamStatus === undefined ? 'request.failed' : 'request.forwarded';
    deps.audit(audit);
  };
  const refuse = (code: 'HostNotAllowed' | 'AmbiguousRequest', why: string) => {
    const entry = ERROR_CATALOGUE[code];
    const body = `countersign: ${method} ${rawPath.slice(0, 512)} on ${authority} is not allowed: ${why}. ${entry.hint}\n`;
    audit.errorCode = code;
    res.writeHead(entry.status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-countersign-error': code, 'x-countersign-request-id': audit.requestId });
    res.end(body);
    finish();
  };
  if (decision?.effect === 'ambiguous') {
    refuse('AmbiguousRequest', `its path has ${decision.why}`);
    return;
  }
  // Host rules decide on the method and path: a header asking the server for another is refused.
  const override = methodOverrideHeader(req.headers);
  if (override !== undefined && decision?.effect === 'allow') {
    refuse('AmbiguousRequest', `it carries ${override}, which asks some servers for another method or URL than the one the rules decided on`);
    return;
  }
  if (decision?.effect !== 'allow') {
    refuse('HostNotAllowed', decision === undefined ? 'no host rule lets it through' : `it is denied by rule "${decision.rule}"`);
    return;
  }
  const headers = passThroughRequestHeaders(req.headers);
  headers.host = authority;
  const withBody = hasBody(req.headers);
  if (withBody) acceptBody(req, res);
  const upstreamStart = process.hrtime.bigint();
  deps.upstream
    .forward({ origin: `${target.scheme}://${authority}`, path: rawQuery === '' ? rawPath : `${rawPath}?${rawQuery}`, method, headers, body: withBody ? req : undefined }, res, (status, rawHeaders) => {
      audit.upstreamStatus = status;
      res.writeHead(status, forwardableResponseHead(rawHeaders, audit.requestId));
    })
    .catch((error: unknown) => {
      audit.errorCode = 'UpstreamUnavailable';
      audit.error = error instanceof Error ? error.message : String(error);
      if (res.headersSent) res.destroy();
      else {
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'x-countersign-error': 'UpstreamUnavailable' });
        res.end(`countersign: could not reach ${authority}.\n`);
      }
    })
    .finally(() => {
      audit.durationsMs.upstream = elapsedMs(upstreamStart);
      finish();
    });
}
