/** Amazon Resource Names as countersign uses them: built from requests, matched by rules. */

/**
 * A resource a request touches. When the request does not say which account owns the
 * resource (a DynamoDB TableName, an IAM RoleName), `needsAccount` is set and the account
 * field of `arn` is empty; it is filled from the account of the role a rule assumes, since
 * that role is the principal the request will run as.
 */
export interface ResourceRef {
  readonly arn: string;
  readonly needsAccount: boolean;
}

export const ANY_RESOURCE: ResourceRef = { arn: '*', needsAccount: false };

export function arn(partition: string, service: string, region: string, account: string, resource: string): string {
  return `arn:${partition}:${service}:${region}:${account}:${resource}`;
}

/** A resource whose account is unknown until a rule's role is chosen. */
export function accountScoped(partition: string, service: string, region: string, resource: string): ResourceRef {
  return { arn: arn(partition, service, region, '', resource), needsAccount: true };
}

/** The account of an ARN such as a role ARN, or undefined when it has none. */
export function accountOf(value: string): string | undefined {
  const account = value.split(':', 5)[4];
  return account === undefined || account === '' ? undefined : account;
}

/** Fills the account field of an ARN that lacks one (`needsAccount`). */
export function withAccount(ref: ResourceRef, account: string): string {
  if (!ref.needsAccount) return ref.arn;
  const fields = ref.arn.split(':');
  fields[4] = account;
  return fields.join(':');
}

/**
 * A literal ARN written into an IAM policy. `*`, `?` and `$` are policy wildcards and variable
 * markers, so a key like `reports/*` would silently widen the grant; IAM's special-character
 * variables `${*}`, `${?}` and `${$}` match those characters literally (IAM User Guide,
 * "IAM policy elements: Variables and tags", special characters).
 */
export function literalPolicyResource(value: string): string {
  if (value === '*') return value;
  return value.replace(/[*?$]/g, (c) => '${' + c + '}');
}
