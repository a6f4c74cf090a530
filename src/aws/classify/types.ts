import type { IncomingHttpHeaders } from 'node:http';
import type { ResourceRef } from '../arn.js';
import type { Protocol } from '../protocol.js';
import type { QueryParams } from '../query-string.js';

/** One IAM action the request needs, on one resource. */
export interface ActionOnResource {
  readonly action: string;
  readonly resource: ResourceRef;
  /**
   * The ARN is a pattern covering more than the request names (RunInstances' `instance/*`, a KMS
   * alias as `key/*`, a secret name as `name-??????`): an allow rule must cover all of it, a deny
   * rule that overlaps it applies. Absent: the ARN is literal (an S3 key may contain `*`).
   */
  readonly wildcard?: true;
}

/** What a request asks for, in IAM terms. */
export interface Classification {
  /** The SigV4 signing name (from the credential scope). */
  readonly service: string;
  /** Where the service's model says it lives (`bedrock-runtime`, `api.ecr`): endpoint mode's upstream host. */
  readonly endpointPrefix: string;
  readonly region: string;
  readonly operation: string;
  readonly protocol: Protocol;
  /** Every (action, resource) pair the request needs; the policy decides on all of them. */
  readonly needs: readonly ActionOnResource[];
  /** Request parameters a rule may test (TableName, Key, PolicyDocument, ...), as strings. */
  readonly parameters: Readonly<Record<string, string>>;
}

/** What a classifier may read before the body: everything but the body. */
export interface ClassifyHead {
  readonly method: string;
  readonly host: string;
  readonly rawPath: string;
  readonly query: QueryParams;
  readonly headers: IncomingHttpHeaders;
  /** SigV4 signing name and region from the verified credential scope. */
  readonly service: string;
  readonly region: string;
}

/** Everything a classifier may read. The body is present only when the plan asked for it. */
export interface ClassifyInput extends ClassifyHead {
  readonly body: Buffer | undefined;
}

/** A request placed by its head: how its errors are shaped, whether its body is needed, and the rest. */
export interface ClassificationPlan {
  readonly protocol: Protocol;
  /** JSON and query APIs carry their operation and members in the body, so it is read before deciding. */
  readonly buffersBody: boolean;
  classify(body: Buffer | undefined): Classification;
}
