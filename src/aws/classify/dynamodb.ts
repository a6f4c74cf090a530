import { CountersignError } from '../../errors.js';
import { ANY_RESOURCE, accountScoped, type ResourceRef } from '../arn.js';
import { partitionOf } from '../endpoints.js';
import type { ActionOnResource, Classification, ClassifyInput, ServiceClassifier } from './types.js';

/**
 * DynamoDB (JSON 1.0): `X-Amz-Target: DynamoDB_20120810.<Operation>`, parameters in the body.
 * IAM action is `dynamodb:<Operation>`; the resource is the table (or index) ARN in the
 * account of the role that will run the call.
 */

const TARGET_PREFIX = 'DynamoDB_20120810.';

/** Operations on one table named by `TableName`. */
const TABLE_OPERATIONS = new Set([
  'GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'Scan',
  'DescribeTable', 'CreateTable', 'DeleteTable', 'UpdateTable',
  'DescribeTimeToLive', 'UpdateTimeToLive', 'DescribeContinuousBackups',
]);
/** Operations on every table named as a key of `RequestItems`. */
const BATCH_OPERATIONS = new Set(['BatchGetItem', 'BatchWriteItem']);
/** Operations that name no resource (IAM: resource "*"). */
const ACCOUNT_OPERATIONS = new Set(['ListTables', 'DescribeLimits']);

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

function unclassified(why: string): CountersignError {
  return new CountersignError('UnclassifiedRequest', `DynamoDB request not classified: ${why}.`);
}

function parseBody(body: Buffer | undefined): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(body === undefined || body.length === 0 ? '{}' : body.toString('utf8'));
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through to the refusal below
  }
  throw unclassified('the body is not a JSON object');
}

function tableResource(region: string, table: unknown, index?: unknown): ResourceRef {
  if (typeof table !== 'string' || !TABLE_NAME.test(table)) throw unclassified('TableName is missing or not a valid table name');
  let resource = `table/${table}`;
  if (index !== undefined) {
    if (typeof index !== 'string' || !TABLE_NAME.test(index)) throw unclassified('IndexName is not a valid index name');
    resource += `/index/${index}`;
  }
  return accountScoped(partitionOf(region), 'dynamodb', region, resource);
}

/** Top-level string, number and boolean parameters (TableName, IndexName, Limit, ...). */
function scalarParameters(params: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
  }
  return out;
}

export const dynamodbClassifier: ServiceClassifier = {
  protocol: 'json',
  buffersBody: true,
  classify(input: ClassifyInput): Classification {
    const target = input.headers['x-amz-target'];
    if (typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) {
      throw unclassified(`X-Amz-Target must start with ${TARGET_PREFIX}`);
    }
    const operation = target.slice(TARGET_PREFIX.length);
    const action = `dynamodb:${operation}`;
    const params = parseBody(input.body);
    let needs: ActionOnResource[];
    if (TABLE_OPERATIONS.has(operation)) {
      const index = operation === 'Query' || operation === 'Scan' ? params.IndexName : undefined;
      needs = [{ action, resource: tableResource(input.region, params.TableName, index) }];
    } else if (BATCH_OPERATIONS.has(operation)) {
      const items = params.RequestItems;
      if (items === null || typeof items !== 'object' || Object.keys(items).length === 0) throw unclassified('RequestItems names no table');
      needs = Object.keys(items).map((table) => ({ action, resource: tableResource(input.region, table) }));
    } else if (ACCOUNT_OPERATIONS.has(operation)) {
      needs = [{ action, resource: ANY_RESOURCE }];
    } else {
      throw unclassified(`operation "${operation.slice(0, 64)}" is not supported yet`);
    }
    return { service: 'dynamodb', region: input.region, operation, protocol: 'json', needs, parameters: scalarParameters(params) };
  },
};
