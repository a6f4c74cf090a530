import type { IncomingHttpHeaders } from 'node:http';
import type { ResourceRef } from '../arn.js';
import type { Protocol } from '../protocol.js';
import type { QueryParams } from '../query-string.js';

/** One IAM action the request needs, on one resource. */
export interface ActionOnResource {
  readonly action: string;
  readonly resource: ResourceRef;
}

/** What a request asks for, in IAM terms. */
export interface Classification {
  readonly service: string;
  readonly region: string;
  readonly operation: string;
  readonly protocol: Protocol;
  /** Every (action, resource) pair the request needs; the policy decides on all of them. */
  readonly needs: readonly ActionOnResource[];
  /** Request parameters a rule may test (TableName, Key, PolicyDocument, ...), as strings. */
  readonly parameters: Readonly<Record<string, string>>;
}

/** Everything a classifier may read. Bodies are present only for services that buffer them. */
export interface ClassifyInput {
  readonly method: string;
  readonly host: string;
  readonly rawPath: string;
  readonly query: QueryParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer | undefined;
  readonly service: string;
  readonly region: string;
}

export interface ServiceClassifier {
  readonly protocol: Protocol;
  /** JSON and query APIs carry their parameters in the body, so it is read before deciding. */
  readonly buffersBody: boolean;
  classify(input: ClassifyInput): Classification;
}
