/**
 * The one error catalogue. Every refusal countersign makes has a stable code here, an HTTP
 * status, the error code an AWS client expects in its own protocol, and a hint that tells the
 * caller what to do. `src/aws/error-response.ts` is the one place that turns these into
 * AWS-shaped responses; nothing matches on message text.
 */

export interface CatalogueEntry {
  /** HTTP status sent to the client. */
  readonly status: number;
  /** Error code as AWS would name it for XML protocols (S3, query). */
  readonly awsCode: string;
  /** Error code for JSON protocols, when AWS names it differently there. */
  readonly jsonCode?: string;
  /** What the caller should do about it. */
  readonly hint: string;
}

export const ERROR_CATALOGUE = {
  MissingAuthentication: {
    status: 403,
    awsCode: 'MissingAuthenticationToken',
    hint: 'Sign the request with SigV4 using a countersign agent key (countersign agents issue NAME).',
  },
  MalformedAuthorization: {
    status: 400,
    awsCode: 'AuthorizationHeaderMalformed',
    jsonCode: 'IncompleteSignatureException',
    hint: 'Use an AWS SDK or CLI to sign requests; countersign accepts AWS4-HMAC-SHA256 header signatures.',
  },
  UnsupportedSigning: {
    status: 400,
    awsCode: 'InvalidRequest',
    hint: "Sign with SigV4 (AWS4-HMAC-SHA256), in the Authorization header or a presigned URL; SigV2, SigV3 and SigV4a are not supported. boto3 presigns S3 URLs with SigV4 given Config(signature_version='s3v4').",
  },
  MalformedChunkedBody: {
    status: 400,
    awsCode: 'IncompleteBody',
    hint: 'Send a complete aws-chunked body as an AWS SDK writes it (STREAMING-AWS4-HMAC-SHA256-PAYLOAD): size;chunk-signature=... lines, a final zero chunk, trailers with x-amz-trailer-signature.',
  },
  ExpiredPresignedUrl: {
    status: 403,
    awsCode: 'AccessDenied',
    jsonCode: 'AccessDeniedException',
    hint: 'Presign the URL again with the agent key; X-Amz-Date plus X-Amz-Expires (at most 7 days) must lie ahead of countersign\'s clock.',
  },
  UnknownAgentKey: {
    status: 403,
    awsCode: 'InvalidAccessKeyId',
    jsonCode: 'UnrecognizedClientException',
    hint: 'Use an access key issued by this countersign (countersign agents issue NAME), not an AWS key.',
  },
  RevokedAgentKey: {
    status: 403,
    awsCode: 'InvalidAccessKeyId',
    jsonCode: 'UnrecognizedClientException',
    hint: 'This agent key was revoked; ask an operator to issue a new one.',
  },
  ExpiredAgentKey: {
    status: 403,
    awsCode: 'InvalidAccessKeyId',
    jsonCode: 'UnrecognizedClientException',
    hint: 'This agent key has expired (countersign agents list shows when); ask an operator to issue a new one (countersign agents issue NAME --ttl 30d).',
  },
  AgentRegistryUnavailable: {
    status: 503,
    awsCode: 'ServiceUnavailable',
    hint: 'countersign identifies agents from the registry in Redis and fails closed while it cannot read it; retry later, and check COUNTERSIGN_REDIS_URL.',
  },
  AdminApiDisabled: {
    status: 404,
    awsCode: 'NotFound',
    hint: 'The admin API is off: set COUNTERSIGN_ADMIN_TOKEN_FILE on the server to a file holding the operator token (or its sha256:HEX).',
  },
  AdminUnauthorized: {
    status: 401,
    awsCode: 'AccessDenied',
    hint: 'Send the operator token as Authorization: Bearer TOKEN (the CLI reads COUNTERSIGN_ADMIN_TOKEN or COUNTERSIGN_ADMIN_TOKEN_FILE).',
  },
  AdminBadRequest: {
    status: 400,
    awsCode: 'InvalidRequest',
    hint: 'Send a JSON object as the admin API documents it (README, "Admin API"): a valid agent name, a ttl like 30d or never.',
  },
  AdminNotFound: {
    status: 404,
    awsCode: 'NotFound',
    hint: 'The admin API serves /v1/agents, /v1/agents/NAME/keys, /v1/agents/NAME/revoke and /v1/keys/KEY_ID/revoke; countersign agents list shows agents and keys.',
  },
  AdminMethodNotAllowed: {
    status: 405,
    awsCode: 'MethodNotAllowed',
    hint: 'Listings are GET; issuing and revoking are POST.',
  },
  UndeclaredAgent: {
    status: 409,
    awsCode: 'InvalidRequest',
    hint: 'Declare the agent in a kind: Directory file (its owners and groups) on the server, or issue with force to give it a key with no owners and no groups.',
  },
  SignatureMismatch: {
    status: 403,
    awsCode: 'SignatureDoesNotMatch',
    jsonCode: 'InvalidSignatureException',
    hint: 'Check the agent secret key and that nothing between the client and countersign rewrites the request.',
  },
  RequestTimeSkewed: {
    status: 403,
    awsCode: 'RequestTimeTooSkewed',
    jsonCode: 'InvalidSignatureException',
    hint: "Fix the agent's clock: X-Amz-Date must be within 15 minutes of countersign's time.",
  },
  SessionCredentialsInvalid: {
    status: 403,
    awsCode: 'InvalidClientTokenId',
    jsonCode: 'UnrecognizedClientException',
    hint: 'Use the AccessKeyId, SecretAccessKey and Token from this countersign\'s credential endpoint together, unchanged (the SDK sends the Token as X-Amz-Security-Token).',
  },
  SessionCredentialsExpired: {
    status: 403,
    awsCode: 'ExpiredToken',
    jsonCode: 'ExpiredTokenException',
    hint: 'Fetch new credentials from the credential endpoint; AWS SDKs do so by themselves before Expiration when AWS_CONTAINER_CREDENTIALS_FULL_URI is set.',
  },
  AgentRevoked: {
    status: 403,
    awsCode: 'InvalidClientTokenId',
    jsonCode: 'UnrecognizedClientException',
    hint: 'An operator revoked this agent: credentials issued to it until then are void, and the credential endpoint issues it none while it stays revoked.',
  },
  WorkloadTokenMissing: {
    status: 401,
    awsCode: 'MissingAuthenticationToken',
    hint: 'Send the workload token (a Kubernetes projected service-account token, a CI OIDC token) in the Authorization header: set AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE to its file.',
  },
  WorkloadTokenMalformed: {
    status: 401,
    awsCode: 'InvalidIdentityToken',
    hint: 'Send the issuer\'s signed JWT as it is (header.payload.signature, an asymmetric alg such as RS256 or ES256, at most 16 KiB, with exp); unsigned, HS* and encrypted tokens are refused.',
  },
  WorkloadTokenSignature: {
    status: 401,
    awsCode: 'InvalidIdentityToken',
    hint: 'The token is not signed by a key its issuer publishes (JWKS); send a token the issuer made, unchanged.',
  },
  WorkloadTokenExpired: {
    status: 401,
    awsCode: 'ExpiredTokenException',
    hint: 'Send a fresh workload token: the kubelet rotates projected tokens in their file; a CI job requests a new one.',
  },
  WorkloadTokenNotYetValid: {
    status: 401,
    awsCode: 'InvalidIdentityToken',
    hint: 'The token is dated in the future (nbf or iat); check the clocks of the issuer and of countersign.',
  },
  WorkloadTokenAudience: {
    status: 403,
    awsCode: 'InvalidIdentityToken',
    hint: 'Request the token for the audience countersign is configured with (Kubernetes: serviceAccountToken.audience in the projected volume).',
  },
  WorkloadTokenIssuer: {
    status: 403,
    awsCode: 'InvalidIdentityToken',
    hint: 'Tokens are accepted only from the issuers in COUNTERSIGN_OIDC_ISSUER or COUNTERSIGN_OIDC_ISSUERS_FILE; add the issuer there, or send a token from one of them.',
  },
  WorkloadKeysUnavailable: {
    status: 503,
    awsCode: 'IDPCommunicationError',
    hint: 'countersign could not get the issuer\'s signing keys (discovery or JWKS unreachable, and none cached); retry later, and check the issuer URL, caFile, or the static jwksFile.',
  },
  WorkloadNotMapped: {
    status: 403,
    awsCode: 'AccessDenied',
    hint: 'Add an entry to a Directory\'s identities: (issuer, claims, agent) that maps this workload to a declared agent.',
  },
  CredentialRequestInvalid: {
    status: 400,
    awsCode: 'InvalidRequest',
    hint: 'The credential endpoint answers GET on its path (AWS_CONTAINER_CREDENTIALS_FULL_URI, as the countersign docs give it) with the token in Authorization.',
  },
  UnclassifiedRequest: {
    status: 400,
    awsCode: 'UnclassifiedRequest',
    hint: 'countersign only forwards requests it can map to an IAM action and resource; this operation is not supported yet.',
  },
  AmbiguousRequest: {
    status: 400,
    awsCode: 'InvalidRequest',
    jsonCode: 'ValidationException',
    hint: 'Send each parameter once, in one place: not in both the URL and the body, not twice in a JSON object or a form; no method-override headers, no dot segments or encoded slashes in the path. countersign decides on one reading only when AWS can have no other.',
  },
  MalformedRequestBody: {
    status: 400,
    awsCode: 'MalformedInput',
    jsonCode: 'SerializationException',
    hint: 'Send the body as an AWS SDK writes it: well-formed JSON, XML or form data, nested no deeper than AWS accepts.',
  },
  ApprovalMismatch: {
    status: 403,
    awsCode: 'AccessDenied',
    jsonCode: 'AccessDeniedException',
    hint: 'An approval serves only the request the reviewers saw (same agent, region, actions, resources, role and parameters); send the request that was approved, or ask for a new approval.',
  },
  AccessDenied: {
    status: 403,
    awsCode: 'AccessDenied',
    jsonCode: 'AccessDeniedException',
    hint: 'Ask a countersign operator to add or change a policy rule if this agent needs the action.',
  },
  ApprovalUnavailable: {
    status: 403,
    awsCode: 'AccessDenied',
    jsonCode: 'AccessDeniedException',
    hint: 'The request needs a human approval that nobody can give (every eligible reviewer owns the agent, or too few are declared); ask an operator to fix the rule or the directory.',
  },
  ApprovalPending: {
    status: 503,
    awsCode: 'ApprovalPending',
    hint: 'A human must approve this request; countersign held it as long as it could. Send the same request again (same parameters and body) once it is approved.',
  },
  ApprovalDenied: {
    status: 403,
    awsCode: 'AccessDenied',
    jsonCode: 'AccessDeniedException',
    hint: 'A reviewer refused this request; do not retry it unchanged.',
  },
  ApprovalExpired: {
    status: 403,
    awsCode: 'AccessDenied',
    jsonCode: 'AccessDeniedException',
    hint: 'Nobody approved the request in time, or its approval was used up or ran out; sending it again asks for approval anew.',
  },
  ApprovalStoreUnavailable: {
    status: 503,
    awsCode: 'ServiceUnavailable',
    hint: 'Requests that need human approval fail closed while the approval store (Redis) is unreachable; retry later, and check COUNTERSIGN_REDIS_URL.',
  },
  ApprovalNotReplicated: {
    status: 503,
    awsCode: 'ServiceUnavailable',
    hint: 'A use or a decision of an approval reached the Redis primary but not COUNTERSIGN_REDIS_MIN_REPLICAS replicas in time, so nothing was sent on it (a failover could undo it and let the approval be spent twice); retry later, and check the Redis replicas.',
  },
  AuditUnavailable: {
    status: 503,
    awsCode: 'ServiceUnavailable',
    hint: 'Requests that need approval fail closed while the durable audit log is unreachable; retry later, and check the audit sink (Redis or the data directory).',
  },
  SlackRequestUnverified: {
    status: 401,
    awsCode: 'InvalidSignature',
    hint: "Only Slack may call the interactivity endpoint: requests must carry a valid X-Slack-Signature made with the app's signing secret (COUNTERSIGN_SLACK_SIGNING_SECRET) and a timestamp within 5 minutes.",
  },
  SlackPayloadInvalid: {
    status: 400,
    awsCode: 'InvalidRequest',
    hint: "The interactivity endpoint takes Slack's block_actions and view_submission payloads for countersign's own buttons and dialog, one payload form field of JSON.",
  },
  AssumeRoleFailed: {
    status: 403,
    awsCode: 'AccessDenied',
    jsonCode: 'AccessDeniedException',
    hint: "Check the rule's role: its trust policy must let countersign's own identity assume it, and the session policy must fit STS limits.",
  },
  BrokerCredentialsUnavailable: {
    status: 503,
    awsCode: 'ServiceUnavailable',
    hint: "countersign's own AWS identity is missing, expired or not accepted, so it can mint no credentials; an operator must give countersign credentials (environment, profile, IRSA/web identity, container or instance role). /readyz shows the identity it runs as.",
  },
  StsUnavailable: {
    status: 503,
    awsCode: 'ServiceUnavailable',
    hint: 'STS was too slow or unreachable to mint credentials in time, or too many requests were already waiting for it; retry shortly, and check network egress to STS (COUNTERSIGN_STS_REGION, the sts upstream override).',
  },
  MisroutedRequest: {
    status: 400,
    awsCode: 'InvalidRequest',
    hint: 'The Host header must name the host given in CONNECT, and endpoint-mode requests must be signed for a known AWS service and region.',
  },
  HostNotAllowed: {
    status: 403,
    awsCode: 'AccessDenied',
    hint: 'Only AWS endpoints are brokered; other hosts need a policy rule with `hosts:` that lets them through.',
  },
  PortNotAllowed: {
    status: 403,
    awsCode: 'AccessDenied',
    hint: 'Only port 443 is intercepted; other ports need a policy rule with `hosts:` and `ports:` that lets them through.',
  },
  RequestTooLarge: {
    status: 413,
    awsCode: 'RequestEntityTooLarge',
    hint: 'Requests to JSON and query APIs are read whole to be classified; send a smaller request.',
  },
  UpstreamUnavailable: {
    status: 502,
    awsCode: 'ServiceUnavailable',
    hint: 'countersign could not reach the AWS endpoint; retry, and check the upstream override settings and network egress.',
  },
  InternalError: {
    status: 500,
    awsCode: 'InternalError',
    hint: 'This is a countersign bug or misconfiguration; the request id in the audit log has the details.',
  },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** A refusal with a stable catalogue code. `message` says what went wrong for this request. */
export class CountersignError extends Error {
  override readonly name = 'CountersignError';
  readonly entry: CatalogueEntry;

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra response headers (Retry-After for ApprovalPending). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.entry = ERROR_CATALOGUE[code];
  }

  /** The message plus what to do, as the client sees it. */
  get clientMessage(): string {
    return `${this.message} ${this.entry.hint}`;
  }
}

export function isCountersignError(error: unknown): error is CountersignError {
  return error instanceof CountersignError;
}
