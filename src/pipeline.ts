/**
 * One AWS request, end to end. Read this file first: it composes the stages in order and each
 * stage lives in its own folder with no knowledge of the stages after it.
 *
 *   identify  → which agent? (SigV4 signature made with a countersign agent key)
 *   classify  → what is it asking? (service, operation, IAM actions, resource ARNs)
 *   decide    → policy rules: allow or deny, with reasons
 *   mint      → STS AssumeRole with a session policy of exactly the decided grants
 *   sign      → strip the agent's auth, SigV4-sign with the minted credentials
 *   forward   → pooled keep-alive upstream, response streamed back
 *   audit     → one record per request
 */
import type { ServerResponse } from 'node:http';
import { classifierFor, type Classification, type ServiceClassifier } from './aws/classify/index.js';
import { sendAwsError } from './aws/error-response.js';
import { hostServesService } from './aws/host-service.js';
import { checkPayloadMode } from './aws/payload.js';
import { protocolOf, type Protocol } from './aws/protocol.js';
import { parseQuery, type QueryParams } from './aws/query-string.js';
import { parseAuthorization, signRequest } from './aws/sigv4.js';
import { elapsedMs, recordClassification, recordDecision, type RequestAudit } from './audit/record.js';
import type { Logger } from './audit/logger.js';
import type { MintRequest, MintResult } from './broker/minter.js';
import { sessionPolicy } from './broker/session-policy.js';
import { readBody } from './edge/body.js';
import type { InboundRequest } from './edge/inbound.js';
import { CountersignError, isCountersignError } from './errors.js';
import { forwardableRequestHeaders, forwardableResponseHeaders, signedHeaderValues } from './forward/headers.js';
import { chooseTarget } from './forward/target.js';
import type { UpstreamClient } from './forward/upstream.js';
import { resolveAgentKey, verifyAgent, type AgentIdentity } from './identity/identify.js';
import type { AgentRegistry } from './identity/registry.js';
import type { CompiledPolicySet } from './policy/compile.js';
import { decide, type Decision } from './policy/evaluate.js';

export interface PipelineDeps {
  readonly registry: AgentRegistry;
  /** The current policy set (a function, so a reload swaps it atomically). */
  readonly policy: () => CompiledPolicySet;
  readonly minter: { mint(request: MintRequest): Promise<MintResult> };
  readonly upstream: UpstreamClient;
  readonly overrides: ReadonlyMap<string, URL>;
  readonly logger: Logger;
  readonly maxBufferedBodyBytes: number;
}

interface Verified {
  readonly identity: AgentIdentity;
  readonly classifier: ServiceClassifier;
  readonly query: QueryParams;
  readonly body: Buffer | undefined;
}

export async function handleAwsRequest(deps: PipelineDeps, inbound: InboundRequest, res: ServerResponse): Promise<void> {
  const audit: RequestAudit = {
    event: 'request',
    requestId: inbound.id,
    mode: inbound.mode,
    method: inbound.method,
    host: inbound.authority,
    remoteAddress: inbound.remoteAddress,
    durationsMs: {},
  };
  let protocol: Protocol = protocolOf(undefined, inbound.message.headers);
  try {
    const verified = await identify(deps, inbound, audit, (p) => (protocol = p));
    const classification = verified.classifier.classify({
      method: inbound.method,
      host: inbound.host,
      rawPath: inbound.rawPath,
      query: verified.query,
      headers: inbound.message.headers,
      body: verified.body,
      service: verified.identity.service,
      region: verified.identity.region,
    });
    recordClassification(audit, classification);
    const decision = decide(deps.policy(), {
      agent: verified.identity.agent,
      service: classification.service,
      region: classification.region,
      needs: classification.needs,
      parameters: classification.parameters,
      sourceIp: inbound.remoteAddress,
      requestBytes: requestBytes(inbound),
    });
    recordDecision(audit, decision);
    if (decision.effect === 'approve') throw approvalRequired(verified.identity, decision, inbound.id);
    if (decision.effect !== 'allow' || decision.credentials === undefined) throw accessDenied(verified.identity, decision, inbound.id);
    await forward(deps, inbound, verified, classification, decision, audit, res);
  } catch (error) {
    const refusal = isCountersignError(error) ? error : internalError(deps.logger, inbound.id, error);
    audit.errorCode = refusal.code;
    audit.error = refusal.message;
    sendAwsError(res, refusal, protocol, inbound.id, inbound.method);
  } finally {
    audit.status = res.statusCode;
    audit.durationsMs.total = elapsedMs(inbound.startedAt);
    deps.logger.info(audit, 'request');
  }
}

/** identify: parse the signature, find the agent, read the body if the protocol needs it, verify. */
async function identify(deps: PipelineDeps, inbound: InboundRequest, audit: RequestAudit, setProtocol: (p: Protocol) => void): Promise<Verified> {
  const headers = inbound.message.headers;
  const query = parseQuery(inbound.rawQuery);
  if (query['X-Amz-Credential'] !== undefined || query['X-Amz-Signature'] !== undefined) {
    throw new CountersignError('UnsupportedSigning', 'Presigned URLs (X-Amz-* query authentication) are not supported yet.');
  }
  const auth = parseAuthorization(headers.authorization);
  audit.accessKeyId = auth.accessKeyId;
  audit.service = auth.service;
  audit.region = auth.region;
  setProtocol(protocolOf(auth.service, headers));
  const key = resolveAgentKey(deps.registry, auth);
  audit.agent = key.agent;
  if (inbound.mode !== 'endpoint' && !hostServesService(inbound.host, auth.service)) {
    throw new CountersignError('MisroutedRequest', `The request was signed for service "${auth.service}" but sent to ${inbound.host}.`);
  }
  const classifier = classifierFor(auth.service);
  setProtocol(classifier.protocol);
  if (!classifier.buffersBody) checkPayloadMode(headers);
  const body = classifier.buffersBody ? await readBody(inbound.message, deps.maxBufferedBodyBytes) : undefined;
  const signed = signedHeaderValues(headers, auth.signedHeaders);
  if (signed.missing !== undefined) {
    throw new CountersignError('SignatureMismatch', `The signed header "${signed.missing}" is not in the request.`);
  }
  const identity = await verifyAgent(
    { method: inbound.method, host: inbound.host, rawPath: inbound.rawPath, query, headers: signed.values, ...(body !== undefined && { body }) },
    auth,
    key,
  );
  return { identity, classifier, query, body };
}

/** mint, sign, forward, and stream the answer back. */
async function forward(
  deps: PipelineDeps,
  inbound: InboundRequest,
  verified: Verified,
  classification: Classification,
  decision: Decision,
  audit: RequestAudit,
  res: ServerResponse,
): Promise<void> {
  const credentials = decision.credentials;
  if (credentials === undefined) throw new CountersignError('InternalError', 'An allow decision carried no credentials.');
  const stsStart = process.hrtime.bigint();
  const minted = await deps.minter.mint({
    roleArn: credentials.roleArn,
    sessionPolicy: sessionPolicy(decision.grants),
    durationSeconds: credentials.sessionDurationSeconds,
    agent: verified.identity.agent,
  });
  audit.durationsMs.sts = elapsedMs(stsStart);
  audit.stsSession = minted.credentials.sessionName;
  audit.credentialsCached = minted.cached;

  const target = chooseTarget({ ...inbound, service: classification.service, region: classification.region }, deps.overrides);
  const headers = forwardableRequestHeaders(inbound.message.headers);
  headers.host = target.host;
  const signedHeaders = await signRequest(
    { method: inbound.method, host: target.host, rawPath: target.rawPath, query: verified.query, headers, ...(verified.body !== undefined && { body: verified.body }) },
    minted.credentials,
    classification.region,
    classification.service,
  );

  const abort = new AbortController();
  // Only a client that goes away mid-answer cancels the upstream call (an abort after a
  // finished response would cost an exception per request for nothing).
  res.once('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  const upstreamStart = process.hrtime.bigint();
  const path = inbound.rawQuery === '' ? target.rawPath : `${target.rawPath}?${inbound.rawQuery}`;
  const hasBody = verified.body !== undefined ? verified.body.length > 0 : requestHasBody(inbound);
  try {
    await deps.upstream.forward({ ...target, rawPath: path }, inbound.method, signedHeaders, verified.body ?? (hasBody ? inbound.message : undefined), abort.signal, (status, headers) => {
      audit.upstreamStatus = status;
      res.writeHead(status, { ...forwardableResponseHeaders(headers), 'x-countersign-request-id': inbound.id });
      return res;
    });
  } finally {
    audit.durationsMs.upstream = elapsedMs(upstreamStart);
  }
}

/** The declared body size; undefined for a streamed body without Content-Length. */
function requestBytes(inbound: InboundRequest): number | undefined {
  const declared = inbound.message.headers['content-length'];
  if (declared !== undefined) return Number(declared);
  return inbound.message.headers['transfer-encoding'] === undefined ? 0 : undefined;
}

function requestHasBody(inbound: InboundRequest): boolean {
  const headers = inbound.message.headers;
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

function accessDenied(identity: AgentIdentity, decision: Decision, requestId: string): CountersignError {
  const refusing = decision.reasons.filter((r) => r.code !== 'RULE_ALLOWED');
  const why = refusing
    .map((r) => {
      const by = r.code === 'RULE_DENIED' ? `denied by rule "${r.rule ?? '?'}"` : r.code === 'ROLES_DIFFER' ? 'allowed under different roles, which one call cannot use' : 'no rule matched';
      return `${r.action} on ${r.resource}: ${by} (${r.code})`;
    })
    .join('; ');
  return new CountersignError('AccessDenied', `countersign refused agent "${identity.agent}": ${why}. Request id ${requestId}.`);
}

function approvalRequired(identity: AgentIdentity, decision: Decision, requestId: string): CountersignError {
  const rules = decision.approvals.map((a) => `"${a.rule}"`).join(', ');
  return new CountersignError('ApprovalUnavailable', `Agent "${identity.agent}" needs human approval under rule ${rules}, and approvals are not enabled on this countersign. Request id ${requestId}.`);
}

function internalError(logger: Logger, requestId: string, error: unknown): CountersignError {
  const message = error instanceof Error ? error.message : String(error);
  logger.error({ requestId, error: message }, 'internal error');
  return new CountersignError('InternalError', `countersign failed on request ${requestId}.`);
}
