import { CountersignError } from '../../errors.js';
import { ANY_RESOURCE, accountScoped, type ResourceRef } from '../arn.js';
import { partitionOf } from '../endpoints.js';
import { parseFormBody } from '../query-string.js';
import type { Classification, ClassifyInput, ServiceClassifier } from './types.js';

/**
 * Query-protocol services (STS, IAM): `Action=<Operation>` in the form body (POST) or the URL
 * query (GET); IAM action `<prefix>:<Operation>`; the resource from the operation's parameters.
 */

type ResourceOf = (params: Map<string, string>, region: string) => ResourceRef;

const anyResource: ResourceOf = () => ANY_RESOURCE;

/** A full ARN given as a parameter is used as is (after a shape check). */
function arnParameter(name: string): ResourceOf {
  return (params) => {
    const value = params.get(name);
    if (value === undefined || !/^arn:[a-z-]+:[a-z0-9-]+:[a-z0-9-]*:\d{12}:[\x21-\x7e]+$/.test(value)) {
      throw unclassified(`${name} is missing or not an ARN`);
    }
    return { arn: value, needsAccount: false };
  };
}

/** IAM names (RoleName, UserName) become ARNs in the account of the role that runs the call. */
function iamNamed(name: string, kind: 'role' | 'user'): ResourceOf {
  return (params, region) => {
    const value = params.get(name);
    if (value === undefined || !/^[\w+=,.@-]{1,128}$/.test(value)) throw unclassified(`${name} is missing or not a valid IAM name`);
    return accountScoped(partitionOf(region), 'iam', '', `${kind}/${value}`);
  };
}

const OPERATIONS: Record<string, Record<string, ResourceOf>> = {
  sts: {
    GetCallerIdentity: anyResource,
    AssumeRole: arnParameter('RoleArn'),
  },
  iam: {
    ListRoles: anyResource,
    ListUsers: anyResource,
    GetRole: iamNamed('RoleName', 'role'),
    CreateRole: iamNamed('RoleName', 'role'),
    DeleteRole: iamNamed('RoleName', 'role'),
    AttachRolePolicy: iamNamed('RoleName', 'role'),
    PutRolePolicy: iamNamed('RoleName', 'role'),
    ListAttachedRolePolicies: iamNamed('RoleName', 'role'),
    GetUser: iamNamed('UserName', 'user'),
  },
};

function unclassified(why: string): CountersignError {
  return new CountersignError('UnclassifiedRequest', `Query request not classified: ${why}.`);
}

/**
 * Every form parameter, with JSON documents (PolicyDocument, AssumeRolePolicyDocument) re-serialised
 * compactly, so a rule's glob like `*"Action":"*"*` does not depend on the agent's whitespace.
 */
function normalisedParameters(params: Map<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of params) {
    const trimmed = value.trimStart();
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
      try {
        out[key] = JSON.stringify(JSON.parse(value));
        continue;
      } catch {
        // not JSON after all: keep the text as sent
      }
    }
    out[key] = value;
  }
  return out;
}

function queryClassifier(service: 'sts' | 'iam'): ServiceClassifier {
  const operations = OPERATIONS[service] ?? {};
  return {
    protocol: 'query',
    buffersBody: true,
    classify(input: ClassifyInput): Classification {
      const params = input.body !== undefined && input.body.length > 0 ? parseFormBody(input.body) : new Map<string, string>();
      for (const [key, value] of Object.entries(input.query)) {
        if (!params.has(key)) params.set(key, Array.isArray(value) ? (value[0] ?? '') : value);
      }
      const operation = params.get('Action');
      if (operation === undefined) throw unclassified('no Action parameter');
      const resourceOf = Object.hasOwn(operations, operation) ? operations[operation] : undefined;
      if (resourceOf === undefined) throw unclassified(`${service} operation "${operation.slice(0, 64)}" is not supported yet`);
      return {
        service,
        region: input.region,
        operation,
        protocol: 'query',
        needs: [{ action: `${service}:${operation}`, resource: resourceOf(params, input.region) }],
        parameters: normalisedParameters(params),
      };
    },
  };
}

export const stsClassifier = queryClassifier('sts');
export const iamClassifier = queryClassifier('iam');
