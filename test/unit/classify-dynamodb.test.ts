import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { classify, classifierFor, type Classification } from '../../src/aws/classify/index.js';
import { isCountersignError } from '../../src/errors.js';

function dynamodb(operation: string | undefined, body: unknown, region = 'us-east-1', extraHeaders: IncomingHttpHeaders = {}): Classification {
  const headers: IncomingHttpHeaders = { 'content-type': 'application/x-amz-json-1.0', ...extraHeaders };
  if (operation !== undefined) headers['x-amz-target'] = `DynamoDB_20120810.${operation}`;
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  return classify({ method: 'POST', host: `dynamodb.${region}.amazonaws.com`, rawPath: '/', query: {}, headers, body: Buffer.from(raw), service: 'dynamodb', region });
}

function refusal(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    if (isCountersignError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('DynamoDB classification', () => {
  it('classifies GetItem as the table ARN with the account left for the rule to fill', () => {
    expect(dynamodb('GetItem', { TableName: 'orders', Key: { id: { S: '1' } } })).toEqual({
      service: 'dynamodb',
      region: 'us-east-1',
      operation: 'GetItem',
      protocol: 'json',
      needs: [{ action: 'dynamodb:GetItem', resource: { arn: 'arn:aws:dynamodb:us-east-1::table/orders', needsAccount: true } }],
      parameters: { TableName: 'orders' },
    });
  });

  it('exposes the scalar top-level body fields as parameters', () => {
    expect(dynamodb('Query', { TableName: 'orders', IndexName: 'by-date', Limit: 10, ConsistentRead: true, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: '1' } } }).parameters).toEqual({
      TableName: 'orders',
      IndexName: 'by-date',
      Limit: '10',
      ConsistentRead: 'true',
      KeyConditionExpression: 'pk = :p',
    });
  });

  it.each(['PutItem', 'UpdateItem', 'DeleteItem', 'Scan', 'Query', 'DescribeTable', 'CreateTable', 'DeleteTable', 'UpdateTable', 'DescribeTimeToLive', 'UpdateTimeToLive', 'DescribeContinuousBackups'])(
    'classifies %s on its table',
    (operation) => {
      expect(dynamodb(operation, { TableName: 'Orders_2024.v-1' }, 'eu-west-1').needs).toEqual([
        { action: `dynamodb:${operation}`, resource: { arn: 'arn:aws:dynamodb:eu-west-1::table/Orders_2024.v-1', needsAccount: true } },
      ]);
    },
  );

  it('uses the index ARN for a Query or Scan with IndexName', () => {
    expect(dynamodb('Query', { TableName: 'orders', IndexName: 'by-date' }).needs).toEqual([
      { action: 'dynamodb:Query', resource: { arn: 'arn:aws:dynamodb:us-east-1::table/orders/index/by-date', needsAccount: true } },
    ]);
    expect(dynamodb('Scan', { TableName: 'orders', IndexName: 'by-date' }).needs[0]?.resource.arn).toBe('arn:aws:dynamodb:us-east-1::table/orders/index/by-date');
  });

  it('ignores IndexName on operations that do not take one', () => {
    expect(dynamodb('GetItem', { TableName: 'orders', IndexName: 'by-date' }).needs[0]?.resource.arn).toBe('arn:aws:dynamodb:us-east-1::table/orders');
  });

  it('refuses an invalid IndexName', () => {
    expect(refusal(() => dynamodb('Query', { TableName: 'orders', IndexName: 'x' }))).toEqual({
      code: 'UnclassifiedRequest',
      message: 'DynamoDB request not classified: IndexName is not a valid index name.',
    });
    expect(refusal(() => dynamodb('Query', { TableName: 'orders', IndexName: 42 })).code).toBe('UnclassifiedRequest');
  });

  it('needs one pair per table of a batch', () => {
    const batch = dynamodb('BatchGetItem', { RequestItems: { orders: { Keys: [] }, customers: { Keys: [] } } });
    expect(batch.operation).toBe('BatchGetItem');
    expect(batch.needs).toEqual([
      { action: 'dynamodb:BatchGetItem', resource: { arn: 'arn:aws:dynamodb:us-east-1::table/orders', needsAccount: true } },
      { action: 'dynamodb:BatchGetItem', resource: { arn: 'arn:aws:dynamodb:us-east-1::table/customers', needsAccount: true } },
    ]);
    expect(dynamodb('BatchWriteItem', { RequestItems: { orders: [] } }).needs).toEqual([
      { action: 'dynamodb:BatchWriteItem', resource: { arn: 'arn:aws:dynamodb:us-east-1::table/orders', needsAccount: true } },
    ]);
  });

  it('refuses a batch that names no table or an invalid table', () => {
    expect(refusal(() => dynamodb('BatchGetItem', { RequestItems: {} }))).toEqual({
      code: 'UnclassifiedRequest',
      message: 'DynamoDB request not classified: RequestItems names no table.',
    });
    expect(refusal(() => dynamodb('BatchGetItem', {})).code).toBe('UnclassifiedRequest');
    expect(refusal(() => dynamodb('BatchGetItem', { RequestItems: null })).code).toBe('UnclassifiedRequest');
    expect(refusal(() => dynamodb('BatchWriteItem', { RequestItems: { 'bad name': [] } })).code).toBe('UnclassifiedRequest');
    expect(refusal(() => dynamodb('BatchWriteItem', { RequestItems: ['orders'] })).code).toBe('UnclassifiedRequest');
  });

  it('classifies ListTables and DescribeLimits as resource "*"', () => {
    for (const operation of ['ListTables', 'DescribeLimits']) {
      expect(dynamodb(operation, {}).needs).toEqual([{ action: `dynamodb:${operation}`, resource: { arn: '*', needsAccount: false } }]);
    }
    expect(dynamodb('ListTables', '').operation).toBe('ListTables');
  });

  it('uses the aws-cn partition for China regions', () => {
    expect(dynamodb('GetItem', { TableName: 'orders' }, 'cn-north-1').needs[0]?.resource.arn).toBe('arn:aws-cn:dynamodb:cn-north-1::table/orders');
  });

  it.each(['TransactWriteItems', 'ExecuteStatement', 'getitem', '__proto__', 'constructor', 'hasOwnProperty', ''])('refuses the unsupported operation "%s"', (operation) => {
    expect(refusal(() => dynamodb(operation, { TableName: 'orders' }))).toEqual({
      code: 'UnclassifiedRequest',
      message: `DynamoDB request not classified: operation "${operation}" is not supported yet.`,
    });
  });

  it.each([
    ['missing', {}],
    ['too short', { TableName: 'ab' }],
    ['with a space', { TableName: 'my table' }],
    ['a number', { TableName: 123 }],
    ['an ARN', { TableName: 'arn:aws:dynamodb:us-east-1:123456789012:table/orders' }],
    ['too long', { TableName: 'x'.repeat(256) }],
  ])('refuses a TableName that is %s', (_what, body) => {
    expect(refusal(() => dynamodb('GetItem', body))).toEqual({
      code: 'UnclassifiedRequest',
      message: 'DynamoDB request not classified: TableName is missing or not a valid table name.',
    });
  });

  it('refuses a body that is not a JSON object', () => {
    for (const body of ['not json', '[1,2]', 'null', '"orders"']) {
      expect(refusal(() => dynamodb('GetItem', body))).toEqual({
        code: 'UnclassifiedRequest',
        message: 'DynamoDB request not classified: the body is not a JSON object.',
      });
    }
  });

  it('refuses a missing or incorrect X-Amz-Target', () => {
    const expected = { code: 'UnclassifiedRequest', message: 'DynamoDB request not classified: X-Amz-Target must start with DynamoDB_20120810..' };
    expect(refusal(() => dynamodb(undefined, { TableName: 'orders' }))).toEqual(expected);
    for (const target of ['DynamoDB_20111205.GetItem', 'DynamoDBStreams_20120810.GetRecords', 'GetItem', 'dynamodb_20120810.GetItem']) {
      expect(refusal(() => dynamodb(undefined, { TableName: 'orders' }, 'us-east-1', { 'x-amz-target': target }))).toEqual(expected);
    }
  });

  it('is chosen by the signing name and buffers bodies', () => {
    expect(classifierFor('dynamodb')).toMatchObject({ protocol: 'json', buffersBody: true });
    expect(classifierFor('s3')).toMatchObject({ protocol: 'rest-xml', buffersBody: false });
    expect(classifierFor('sts')).toMatchObject({ protocol: 'query', buffersBody: true });
    expect(classifierFor('iam')).toMatchObject({ protocol: 'query', buffersBody: true });
  });

  it.each(['ec2', 'lambda', '__proto__', 'constructor', 'toString', ''])('refuses the unsupported service "%s"', (service) => {
    expect(refusal(() => classifierFor(service))).toEqual({
      code: 'UnclassifiedRequest',
      message: `Requests to the AWS service "${service}" are not supported yet.`,
    });
  });
});
