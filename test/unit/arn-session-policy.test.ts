import { describe, expect, it } from 'vitest';
import { accountOf, accountScoped, ANY_RESOURCE, arn, literalPolicyResource, withAccount } from '../../src/aws/arn.js';
import { sessionPolicy } from '../../src/broker/session-policy.js';

describe('ARNs', () => {
  it('builds ARNs from their fields', () => {
    expect(arn('aws', 's3', '', '', 'bucket/key')).toBe('arn:aws:s3:::bucket/key');
    expect(arn('aws-cn', 'dynamodb', 'cn-north-1', '123456789012', 'table/t')).toBe('arn:aws-cn:dynamodb:cn-north-1:123456789012:table/t');
  });

  it('marks account-scoped resources as needing an account', () => {
    expect(accountScoped('aws', 'dynamodb', 'us-east-1', 'table/orders')).toEqual({ arn: 'arn:aws:dynamodb:us-east-1::table/orders', needsAccount: true });
    expect(ANY_RESOURCE).toEqual({ arn: '*', needsAccount: false });
  });

  it('reads the account of an ARN', () => {
    expect(accountOf('arn:aws:iam::123456789012:role/reader')).toBe('123456789012');
    expect(accountOf('arn:aws:iam::123456789012:role/path/with:colon')).toBe('123456789012');
    expect(accountOf('arn:aws:s3:::bucket/key')).toBeUndefined();
    expect(accountOf('*')).toBeUndefined();
    expect(accountOf('')).toBeUndefined();
  });

  it('fills the account only of resources that need one', () => {
    expect(withAccount(accountScoped('aws', 'dynamodb', 'us-east-1', 'table/orders'), '123456789012')).toBe('arn:aws:dynamodb:us-east-1:123456789012:table/orders');
    expect(withAccount(accountScoped('aws', 'iam', '', 'role/reader'), '123456789012')).toBe('arn:aws:iam::123456789012:role/reader');
    expect(withAccount({ arn: 'arn:aws:s3:::bucket/a:b:c:d', needsAccount: false }, '123456789012')).toBe('arn:aws:s3:::bucket/a:b:c:d');
    expect(withAccount(ANY_RESOURCE, '123456789012')).toBe('*');
  });
});

describe('literalPolicyResource', () => {
  it('leaves a bare * alone', () => {
    expect(literalPolicyResource('*')).toBe('*');
  });

  it('leaves resources without special characters alone', () => {
    expect(literalPolicyResource('arn:aws:s3:::bucket/dir/key.txt')).toBe('arn:aws:s3:::bucket/dir/key.txt');
  });

  it('escapes *, ? and $ into IAM special-character variables', () => {
    expect(literalPolicyResource('arn:aws:s3:::bucket/reports/*')).toBe('arn:aws:s3:::bucket/reports/${*}');
    expect(literalPolicyResource('arn:aws:s3:::bucket/what?')).toBe('arn:aws:s3:::bucket/what${?}');
    expect(literalPolicyResource('arn:aws:s3:::bucket/$HOME')).toBe('arn:aws:s3:::bucket/${$}HOME');
    expect(literalPolicyResource('arn:aws:s3:::bucket/a*b?c$d')).toBe('arn:aws:s3:::bucket/a${*}b${?}c${$}d');
  });

  it('escapes each character once, not the $ of its own replacement', () => {
    expect(literalPolicyResource('$')).toBe('${$}');
    expect(literalPolicyResource('$$')).toBe('${$}${$}');
    expect(literalPolicyResource('**')).toBe('${*}${*}');
    expect(literalPolicyResource('arn:aws:s3:::b/${aws:username}')).toBe('arn:aws:s3:::b/${$}{aws:username}');
    expect(literalPolicyResource('arn:aws:s3:::b/${*}')).toBe('arn:aws:s3:::b/${$}{${*}}');
  });
});

describe('sessionPolicy', () => {
  it('writes one Allow statement per pair, as valid JSON with Version 2012-10-17', () => {
    const text = sessionPolicy([
      { action: 's3:PutObject', resource: 'arn:aws:s3:::bucket/k' },
      { action: 's3:PutObjectAcl', resource: 'arn:aws:s3:::bucket/k' },
    ]);
    expect(JSON.parse(text)).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::bucket/k' },
        { Effect: 'Allow', Action: 's3:PutObjectAcl', Resource: 'arn:aws:s3:::bucket/k' },
      ],
    });
    expect(text).toBe(
      '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::bucket/k"},' +
        '{"Effect":"Allow","Action":"s3:PutObjectAcl","Resource":"arn:aws:s3:::bucket/k"}]}',
    );
  });

  it('drops duplicate pairs', () => {
    const policy = JSON.parse(
      sessionPolicy([
        { action: 'dynamodb:BatchGetItem', resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/a' },
        { action: 'dynamodb:BatchGetItem', resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/b' },
        { action: 'dynamodb:BatchGetItem', resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/a' },
      ]),
    ) as { Statement: unknown[] };
    expect(policy.Statement).toEqual([
      { Effect: 'Allow', Action: 'dynamodb:BatchGetItem', Resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/a' },
      { Effect: 'Allow', Action: 'dynamodb:BatchGetItem', Resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/b' },
    ]);
  });

  it('never merges pairs into a cross product', () => {
    const policy = JSON.parse(
      sessionPolicy([
        { action: 'a:One', resource: 'arn:aws:x:::r1' },
        { action: 'a:Two', resource: 'arn:aws:x:::r2' },
      ]),
    ) as { Statement: Array<{ Action: unknown; Resource: unknown }> };
    expect(policy.Statement.map((s) => [s.Action, s.Resource])).toEqual([
      ['a:One', 'arn:aws:x:::r1'],
      ['a:Two', 'arn:aws:x:::r2'],
    ]);
  });

  it('escapes wildcards in resources and keeps a bare *', () => {
    const policy = JSON.parse(
      sessionPolicy([
        { action: 's3:GetObject', resource: 'arn:aws:s3:::bucket/reports/*' },
        { action: 'sts:GetCallerIdentity', resource: '*' },
      ]),
    ) as { Statement: Array<{ Resource: unknown }> };
    expect(policy.Statement.map((s) => s.Resource)).toEqual(['arn:aws:s3:::bucket/reports/${*}', '*']);
  });

  it('writes JSON that survives quotes and backslashes in keys', () => {
    const resource = 'arn:aws:s3:::bucket/say "hi"\\now';
    const policy = JSON.parse(sessionPolicy([{ action: 's3:GetObject', resource }])) as { Statement: Array<{ Resource: unknown }> };
    expect(policy.Statement[0]?.Resource).toBe(resource);
  });

  it('writes an empty statement list for no grants', () => {
    expect(sessionPolicy([])).toBe('{"Version":"2012-10-17","Statement":[]}');
  });
});
