/**
 * One AWS request, end to end. Read this file first: it composes the stages in order and each
 * stage lives in its own folder with no knowledge of the stages after it.
 *
 *   identify  → which agent? (SigV4 signature made with a countersign agent key)
 *   classify  → what is it asking? (service, operation, IAM actions, resource ARNs)
 *   decide    → policy rules: allow, deny or approve, with reasons
 *   approve   → effect approve: bind an approval to this exact request (or join a retry's),
 *               notify reviewers, hold the connection until decided (any replica)
 *   mint      → STS AssumeRole with a session policy of exactly the decided grants
 *   sign      → strip the agent's auth, SigV4-sign with the minted credentials
 *   forward   → pooled keep-alive upstream, response streamed back
 *   audit     → one record per request
 */
import type { ServerResponse } from 'node:http';
import { pipeline, Readable } from 'node:stream';
import { chunkChain, chunkResigner, type ChunkChain } from './aws/chunked.js';
import { planClassification, type Classification, type ClassificationPlan } from './aws/classify/index.js';
import { dotSegment } from './aws/dot-segments.js';
import { sendAwsError } from './aws/error-response.js';
import { bodyForReading } from './aws/request-compression.js';
import { hostServesService } from './aws/host-service.js';
import { payloadModeOf, type PayloadMode } from './aws/payload.js';
import { protocolOf, type Protocol } from './aws/protocol.js';
import { firstValue, parseQuery, withoutParams, type QueryParams } from './aws/query-string.js';
import { isPresigned, parseAuthorization, parseQueryAuthorization, PRESIGN_ONLY_PARAMS, sha256Hex, signRequest, type SignableRequest } from './aws/sigv4.js';
import { decidedEvent, elapsedMs, recordClassification, recordDecision, type RequestAudit } from './audit/record.js';
import type { Logger } from './audit/logger.js';
import type { MintRequest, MintResult } from './broker/minter.js';
import { sessionPolicy } from './broker/session-policy.js';
import { hasBody, readBody } from './http/body.js';
import { acceptBody, type InboundRequest } from './http/inbound.js';
import { CountersignError, isCountersignError } from './errors.js';
import { forwardableRequestHeaders, forwardableResponseHead, methodOverrideHeader, signedHeaderValues } from './forward/headers.js';
import { chooseTarget, type UpstreamTarget } from './forward/target.js';
import { sentContentLength, type UpstreamClient } from './forward/upstream.js';
import { resolveAgentKey, verifyAgent, type AgentIdentity } from './identity/identify.js';
import type { AgentRegistry } from './identity/registry.js';
import type { SessionCredentialIssuer } from './identity/session-credentials.js';
import type { CompiledPolicySet } from './policy/compile.js';
import { decide, type Decision } from './policy/evaluate.js';
import type { AuditEmitter } from './audit/emitter.js';
import type { ApprovalService } from './approvals/service.js';

export interface PipelineDeps {
  readonly registry: AgentRegistry;
  /** Verifies session credentials from the credential endpoint (absent: none are accepted). */
  readonly sessions?: SessionCredentialIssuer;
  /** The current policy set (a function, so a reload swaps it atomically). */
  readonly policy: () => CompiledPolicySet;
  readonly minter: { mint(request: MintRequest): Promise<MintResult> };
  readonly upstream: UpstreamClient;
  readonly overrides: ReadonlyMap<string, URL>;
  readonly logger: Logger;
  readonly maxBufferedBodyBytes: number;
  readonly approvals: ApprovalService;
  readonly audit: AuditEmitter;
  readonly metrics: { observeRequest(audit: RequestAudit): void };
}

/** One request's state as it moves through the stages: where it came from, where its answer and record go. */
interface RequestContext {
  readonly deps: PipelineDeps;
  readonly inbound: InboundRequest;
  readonly audit: RequestAudit;
  readonly res: ServerResponse;
}

/** A request once identified, classified, decided, and placed upstream. */
interface DecidedRequest {
  readonly verified: Verified;
  readonly classification: Classification;
  readonly decision: Decision;
  /** Where it goes, chosen from the classification before anyone approves or anything is minted. */
  readonly target: UpstreamTarget;
}

interface Verified {
  readonly identity: AgentIdentity;
  readonly plan: ClassificationPlan;
  /** The query as it goes on (a presigned URL's auth parameters removed), decoded and on the wire. */
  readonly query: QueryParams;
  readonly rawQuery: string;
  readonly body: Buffer | undefined;
  readonly payload: PayloadMode;
  /** Signed chunks: the agent's chain, which every chunk must continue. */
  readonly agentChunks?: ChunkChain;
}

export async function handleAwsRequest(deps: PipelineDeps, inbound: InboundRequest, res: ServerResponse): Promise<void> {
  const audit: RequestAudit = {
    event: 'request.failed',
    requestId: inbound.id,
    mode: inbound.mode,
    method: inbound.method,
    host: inbound.authority,
    remoteAddress: inbound.remoteAddress,
    durationsMs: {},
  };
  // The protocol errors are shaped in, refined as identify learns the service.
  const shape: { protocol: Protocol } = { protocol: protocolOf(undefined, inbound.message.headers) };
  try {
    const verified = await identify(deps, inbound, res, audit, shape);
    const classification = verified.plan.classify(verified.body === undefined ? undefined : bodyForReading(verified.body, inbound.message.headers, verified.plan.protocol, deps.maxBufferedBodyBytes));
    recordClassification(audit, classification);
    // A request that cannot be sent as classified is refused before a reviewer sees it or STS is called.
    const target = chooseTarget(
      { mode: inbound.mode, scheme: inbound.scheme, authority: inbound.authority, host: inbound.host, rawPath: inbound.rawPath, service: classification.service, endpointPrefix: classification.endpointPrefix, region: classification.region },
      deps.overrides,
    );
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
    deps.audit(decidedEvent(audit));
    if (decision.effect === 'deny' || decision.credentials === undefined) throw accessDenied(verified.identity, decision, inbound.id);
    const context = { deps, inbound, audit, res };
    const decided = { verified, classification, decision, target };
    const approved = decision.effect === 'approve' ? await holdForApproval(context, decided) : verified;
    await forward(context, { ...decided, verified: approved });
  } catch (error) {
    const refusal = isCountersignError(error) ? error : internalError(deps.logger, inbound.id, error);
    audit.errorCode = refusal.code;
    audit.error = refusal.message;
    const approvalId = refusal.headers['x-countersign-approval-id'];
    if (approvalId !== undefined) audit.approvalId ??= approvalId;
    sendAwsError(res, refusal, shape.protocol, inbound.id, inbound.method);
  } finally {
    audit.status = res.statusCode;
    audit.durationsMs.total = elapsedMs(inbound.startedAt);
    audit.event = audit.upstreamStatus === undefined ? 'request.failed' : 'request.forwarded';
    deps.audit(audit);
    deps.metrics.observeRequest(audit);
    // An approval that let this request go keeps AWS's answer (the review page shows it; never throws).
    if (audit.approvalId !== undefined && audit.approvers !== undefined) void deps.approvals.finished(audit.approvalId, inbound.id, audit.upstreamStatus);
  }
}

/** identify: parse the signature, find the agent, place the request, read the body if needed, verify. */
async function identify(deps: PipelineDeps, inbound: InboundRequest, res: ServerResponse, audit: RequestAudit, shape: { protocol: Protocol }): Promise<Verified> {
  const headers = inbound.message.headers;
  const override = methodOverrideHeader(headers);
  if (override !== undefined) throw new CountersignError('AmbiguousRequest', `The request carries ${override}, which asks some servers for another method or URL than the one countersign decides on.`);
  const signedQuery = parseQuery(inbound.rawQuery);
  const presigned = isPresigned(signedQuery);
  const auth = presigned ? parseQueryAuthorization(signedQuery) : parseAuthorization(headers.authorization);
  audit.accessKeyId = auth.accessKeyId;
  audit.service = auth.service;
  audit.region = auth.region;
  shape.protocol = protocolOf(auth.service, headers);
  const tokenHeader = headers['x-amz-security-token'];
  const sessionToken = presigned ? firstValue(signedQuery, 'X-Amz-Security-Token') : typeof tokenHeader === 'string' ? tokenHeader : undefined;
  const key = resolveAgentKey(deps.registry, auth, { issuer: deps.sessions, token: sessionToken });
  audit.agent = key.agent;
  const dot = auth.service === 's3' ? undefined : dotSegment(inbound.rawPath);
  if (dot !== undefined) throw new CountersignError('AmbiguousRequest', `The path has a dot segment ("${dot}"), which SigV4 and AWS resolve and countersign does not; send the path as an SDK does.`);
  if (inbound.mode !== 'endpoint' && !hostServesService(inbound.host, auth.service)) {
    throw new CountersignError('MisroutedRequest', `The request was signed for service "${auth.service}" but sent to ${inbound.host}.`);
  }
  // What goes on carries fresh header auth: a presigned URL's own parameters are dropped.
  const rawQuery = presigned ? withoutParams(inbound.rawQuery, PRESIGN_ONLY_PARAMS) : inbound.rawQuery;
  const query = presigned ? parseQuery(rawQuery) : signedQuery;
  const plan = planClassification({ method: inbound.method, host: inbound.host, rawPath: inbound.rawPath, query, headers, service: auth.service, region: auth.region });
  shape.protocol = plan.protocol;
  const payload = payloadModeOf(headers);
  const chunked = payload === 'chunks' || payload === 'chunks-trailer';
  if (chunked && plan.buffersBody) throw new CountersignError('UnsupportedSigning', 'Signed chunks are supported for uploads only; send this operation\'s body with a hex payload hash.');
  if (plan.buffersBody) acceptBody(inbound.message, res);
  const body = plan.buffersBody ? await readBody(inbound.message, deps.maxBufferedBodyBytes) : undefined;
  if (body !== undefined && payload === 'hashed' && sha256Hex(body) !== headers['x-amz-content-sha256']) {
    throw new CountersignError('SignatureMismatch', 'The body does not match its x-amz-content-sha256.');
  }
  const signed = signedHeaderValues(headers, auth.signedHeaders);
  if (signed.missing !== undefined) {
    throw new CountersignError('SignatureMismatch', `The signed header "${signed.missing}" is not in the request.`);
  }
  const request: SignableRequest = body === undefined
    ? { method: inbound.method, host: inbound.host, rawPath: inbound.rawPath, query: signedQuery, headers: signed.values }
    : { method: inbound.method, host: inbound.host, rawPath: inbound.rawPath, query: signedQuery, headers: signed.values, body };
  const identity = verifyAgent(request, auth, key);
  const verified = { identity, plan, query, rawQuery, body, payload };
  return chunked ? { ...verified, agentChunks: chunkChain(key.secret, signed.values['x-amz-date'] ?? '', auth.region, auth.service, auth.signature) } : verified;
}

/** mint, sign, forward, and stream the answer back. */
async function forward({ deps, inbound, audit, res }: RequestContext, { verified, classification, decision, target }: DecidedRequest): Promise<void> {
  const credentials = decision.credentials;
  if (credentials === undefined) throw new CountersignError('InternalError', 'An allow decision carried no credentials.');
  const stsStart = process.hrtime.bigint();
  const minted = await deps.minter.mint({
    roleArn: credentials.roleArn,
    sessionPolicy: sessionPolicy(decision.grants, credentials.sessionPolicyConditions),
    durationSeconds: credentials.sessionDurationSeconds,
    agent: verified.identity.agent,
    requestId: inbound.id,
    ...(audit.approvalId !== undefined && { approvalId: audit.approvalId }),
    ...(audit.approvers !== undefined && { approvers: audit.approvers }),
    ...(credentials.sessionTags !== undefined && { tags: credentials.sessionTags }),
  });
  audit.durationsMs.sts = elapsedMs(stsStart);
  audit.stsSession = minted.credentials.sessionName;
  audit.credentialsCached = minted.cached;

  const body = verified.body;
  const outgoing = body ?? (hasBody(inbound.message.headers) ? inbound.message : undefined);
  const headers = forwardableRequestHeaders(inbound.message.headers);
  headers.host = target.host;
  // Every signed header must arrive: Content-Length as the upstream client writes it for this body.
  const contentLength = sentContentLength(inbound.method, outgoing, inbound.message.headers['content-length']);
  if (contentLength !== undefined) headers['content-length'] = contentLength;
  // S3 wants a payload hash with header auth; a presigned URL's request had none.
  if (classification.service === 's3' && headers['x-amz-content-sha256'] === undefined) headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  const toSign: SignableRequest = body === undefined
    ? { method: inbound.method, host: target.host, rawPath: target.rawPath, query: verified.query, headers }
    : { method: inbound.method, host: target.host, rawPath: target.rawPath, query: verified.query, headers, body };
  const signedHeaders = await signRequest(toSign, minted.credentials, classification.region, classification.service);
  if (outgoing === inbound.message) acceptBody(inbound.message, res);

  const upstreamStart = process.hrtime.bigint();
  try {
    await deps.upstream.forward(
      {
        origin: target.origin,
        path: verified.rawQuery === '' ? target.rawPath : `${target.rawPath}?${verified.rawQuery}`,
        method: inbound.method,
        headers: signedHeaders,
        body: verified.agentChunks === undefined || outgoing === undefined ? outgoing : resignedChunks(verified, outgoing, inbound.message.headers['x-amz-decoded-content-length'], minted.credentials.secretAccessKey, signedHeaders, classification),
      },
      res,
      (status, rawHeaders) => {
        audit.upstreamStatus = status;
        res.writeHead(status, forwardableResponseHead(rawHeaders, inbound.id));
      },
    );
  } finally {
    audit.durationsMs.upstream = elapsedMs(upstreamStart);
  }
}

/** Signed chunks: each verified against the agent's chain and re-signed in the chain of the outgoing signature. */
function resignedChunks(verified: Verified, body: Readable | Buffer, decodedLength: string | string[] | undefined, secret: string, signedHeaders: Readonly<Record<string, string>>, classification: Classification): Readable | Buffer {
  const agentChunks = verified.agentChunks;
  if (agentChunks === undefined) return body;
  const signature = /Signature=([0-9a-f]{64})/.exec(signedHeaders.authorization ?? '')?.[1];
  const longDate = signedHeaders['x-amz-date'];
  if (signature === undefined || longDate === undefined) throw new CountersignError('InternalError', 'The re-signed request carries no signature to chain its chunks to.');
  const sign = chunkChain(secret, longDate, classification.region, classification.service, signature);
  // The chunk sizes must add up to what the agent signed as X-Amz-Decoded-Content-Length.
  const declared = typeof decodedLength === 'string' && /^\d{1,15}$/.test(decodedLength) ? Number(decodedLength) : undefined;
  const resigner = chunkResigner({ verify: agentChunks, sign, trailer: verified.payload === 'chunks-trailer', ...(declared !== undefined && { decodedContentLength: declared }) });
  // pipeline: a client that goes away, or a chunk that fails, ends both sides.
  pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, resigner, () => {});
  return resigner;
}

/** The declared body size; undefined for a streamed body without Content-Length. */
function requestBytes(inbound: InboundRequest): number | undefined {
  const declared = inbound.message.headers['content-length'];
  if (declared !== undefined) return Number(declared);
  return inbound.message.headers['transfer-encoding'] === undefined ? 0 : undefined;
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

/** approve: held until reviewers decide; returns the request as it may go (with its body, when reading it bound the approval). */
async function holdForApproval({ deps, inbound, audit, res }: RequestContext, { verified, classification, decision }: DecidedRequest): Promise<Verified> {
  const hangUp = new AbortController();
  const onClose = () => hangUp.abort();
  res.once('close', onClose);
  const holdStart = process.hrtime.bigint();
  // Binding the approval to an unbuffered body reads it.
  if (verified.body === undefined && hasBody(inbound.message.headers)) acceptBody(inbound.message, res);
  try {
    const outcome = await deps.approvals.hold({
      requestId: inbound.id,
      agent: verified.identity.agent,
      classification,
      decision,
      method: inbound.method,
      host: inbound.host,
      rawPath: inbound.rawPath,
      rawQuery: verified.rawQuery,
      headers: inbound.message.headers,
      rawHeaders: inbound.message.rawHeaders,
      body: verified.body,
      stream: inbound.message,
      signal: hangUp.signal,
    });
    audit.approvalId = outcome.approvalId;
    audit.approvers = [...outcome.approvers];
    return outcome.body === undefined ? verified : { ...verified, body: outcome.body };
  } finally {
    res.off('close', onClose);
    audit.durationsMs.approval = elapsedMs(holdStart);
  }
}

function internalError(logger: Logger, requestId: string, error: unknown): CountersignError {
  const message = error instanceof Error ? error.message : String(error);
  logger.error({ requestId, error: message }, 'internal error');
  return new CountersignError('InternalError', `countersign failed on request ${requestId}.`);
}
