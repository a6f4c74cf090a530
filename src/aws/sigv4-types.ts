/** SigV4 definitions shared by the parser and signer (sigv4.ts) and the verifier (sigv4-verify.ts). */

export interface SigV4Authorization {
  readonly accessKeyId: string;
  readonly date: string; // YYYYMMDD from the credential scope
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  /** Set for a presigned URL (query-string auth): its X-Amz-Date and lifetime. */
  readonly presigned?: { readonly longDate: string; readonly expiresSeconds: number };
}

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** A request as SigV4 sees it: the raw wire path, the decoded query, and header values. */
export interface SignableRequest {
  readonly method: string;
  readonly host: string;
  readonly rawPath: string;
  readonly query: Readonly<Record<string, string | string[]>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
}
