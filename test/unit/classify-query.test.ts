import { describe, expect, it } from 'vitest';
import { classify, type Classification } from '../../src/aws/classify/index.js';
import { parseQuery } from '../../src/aws/query-string.js';
import { isCountersignError } from '../../src/errors.js';

/** A query-protocol POST with a form body (how the SDKs send STS and IAM calls). */
function post(service: 'sts' | 'iam', form: string, region = 'us-east-1', rawQuery = ''): Classification {
  return classify({
    method: 'POST',
    host: service === 'iam' ? 'iam.amazonaws.com' : `sts.${region}.amazonaws.com`,
    rawPath: '/',
    query: parseQuery(rawQuery),
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: Buffer.from(form),
    service,
    region,
  });
}

/** A query-protocol GET with the parameters in the URL. */
function get(service: 'sts' | 'iam', rawQuery: string, region = 'us-east-1'): Classification {
  return classify({ method: 'GET', host: `${service}.amazonaws.com`, rawPath: '/', query: parseQuery(rawQuery), headers: {}, body: undefined, service, region });
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

describe('STS', () => {
  it('classifies GetCallerIdentity from a form body', () => {
    expect(post('sts', 'Action=GetCallerIdentity&Version=2011-06-15')).toEqual({
      service: 'sts',
      region: 'us-east-1',
      operation: 'GetCallerIdentity',
      protocol: 'query',
      needs: [{ action: 'sts:GetCallerIdentity', resource: { arn: '*', needsAccount: false } }],
      parameters: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    });
  });

  it('classifies GetCallerIdentity from the URL query', () => {
    expect(get('sts', 'Action=GetCallerIdentity&Version=2011-06-15', 'eu-west-1')).toEqual({
      service: 'sts',
      region: 'eu-west-1',
      operation: 'GetCallerIdentity',
      protocol: 'query',
      needs: [{ action: 'sts:GetCallerIdentity', resource: { arn: '*', needsAccount: false } }],
      parameters: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    });
  });

  it('reads the Action from the URL when a POST body lacks it', () => {
    expect(post('sts', 'Version=2011-06-15', 'us-east-1', 'Action=GetCallerIdentity').operation).toBe('GetCallerIdentity');
  });

  it('prefers the form body over the URL query', () => {
    expect(post('sts', 'Action=GetCallerIdentity', 'us-east-1', 'Action=AssumeRole').operation).toBe('GetCallerIdentity');
  });

  it('uses the RoleArn of AssumeRole as is', () => {
    const form = 'Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdeploy%2Fci-runner&RoleSessionName=s';
    expect(post('sts', form).needs).toEqual([
      { action: 'sts:AssumeRole', resource: { arn: 'arn:aws:iam::123456789012:role/deploy/ci-runner', needsAccount: false } },
    ]);
    expect(get('sts', 'Action=AssumeRole&RoleArn=arn:aws-cn:iam::123456789012:role/x', 'cn-north-1').needs[0]?.resource.arn).toBe('arn:aws-cn:iam::123456789012:role/x');
  });

  it('refuses AssumeRole without a valid RoleArn', () => {
    const expected = { code: 'UnclassifiedRequest', message: 'Query request not classified: RoleArn is missing or not an ARN.' };
    expect(refusal(() => post('sts', 'Action=AssumeRole'))).toEqual(expected);
    expect(refusal(() => post('sts', 'Action=AssumeRole&RoleArn=deploy'))).toEqual(expected);
    expect(refusal(() => post('sts', 'Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A12345%3Arole%2Fx'))).toEqual(expected);
    expect(refusal(() => post('sts', 'Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fa+b'))).toEqual(expected);
  });

  it.each(['AssumeRoleWithWebIdentity', 'GetSessionToken', 'GetFederationToken', 'getcalleridentity', 'GetRole'])('refuses the unsupported STS action %s', (action) => {
    expect(refusal(() => post('sts', `Action=${action}`))).toEqual({
      code: 'UnclassifiedRequest',
      message: `Query request not classified: sts operation "${action}" is not supported yet.`,
    });
  });

  it('refuses a request without an Action', () => {
    expect(refusal(() => post('sts', 'Version=2011-06-15'))).toEqual({ code: 'UnclassifiedRequest', message: 'Query request not classified: no Action parameter.' });
    expect(refusal(() => get('sts', ''))).toEqual({ code: 'UnclassifiedRequest', message: 'Query request not classified: no Action parameter.' });
  });
});

describe('IAM', () => {
  it('classifies GetRole as the role ARN in the account of the rule role', () => {
    expect(post('iam', 'Action=GetRole&RoleName=reader&Version=2010-05-08')).toEqual({
      service: 'iam',
      region: 'us-east-1',
      operation: 'GetRole',
      protocol: 'query',
      needs: [{ action: 'iam:GetRole', resource: { arn: 'arn:aws:iam:::role/reader', needsAccount: true } }],
      parameters: { Action: 'GetRole', RoleName: 'reader', Version: '2010-05-08' },
    });
  });

  it('exposes JSON parameters in a normalised form', () => {
    const doc = encodeURIComponent('{ "Version": "2012-10-17",\n  "Statement": [] }');
    expect(post('iam', `Action=PutRolePolicy&RoleName=r&PolicyName=p&PolicyDocument=${doc}`).parameters).toEqual({
      Action: 'PutRolePolicy',
      RoleName: 'r',
      PolicyName: 'p',
      PolicyDocument: '{"Version":"2012-10-17","Statement":[]}',
    });
    expect(post('iam', 'Action=GetRole&RoleName=r&Note=%7Bnot%20json').parameters.Note).toBe('{not json');
  });

  it('classifies the other role and user operations', () => {
    for (const action of ['CreateRole', 'DeleteRole', 'AttachRolePolicy', 'PutRolePolicy', 'ListAttachedRolePolicies']) {
      expect(post('iam', `Action=${action}&RoleName=r_1%2B%3D%2C.%40-x`).needs).toEqual([
        { action: `iam:${action}`, resource: { arn: 'arn:aws:iam:::role/r_1+=,.@-x', needsAccount: true } },
      ]);
    }
    expect(get('iam', 'Action=GetUser&UserName=alice').needs).toEqual([{ action: 'iam:GetUser', resource: { arn: 'arn:aws:iam:::user/alice', needsAccount: true } }]);
    expect(get('iam', 'Action=ListRoles').needs).toEqual([{ action: 'iam:ListRoles', resource: { arn: '*', needsAccount: false } }]);
    expect(get('iam', 'Action=ListUsers').needs).toEqual([{ action: 'iam:ListUsers', resource: { arn: '*', needsAccount: false } }]);
  });

  it('uses the partition of the signing region', () => {
    expect(post('iam', 'Action=GetRole&RoleName=reader', 'cn-north-1').needs[0]?.resource.arn).toBe('arn:aws-cn:iam:::role/reader');
  });

  it('refuses a missing or invalid IAM name', () => {
    const expected = { code: 'UnclassifiedRequest', message: 'Query request not classified: RoleName is missing or not a valid IAM name.' };
    expect(refusal(() => post('iam', 'Action=GetRole'))).toEqual(expected);
    expect(refusal(() => post('iam', 'Action=GetRole&RoleName=a%2Fb'))).toEqual(expected);
    expect(refusal(() => post('iam', 'Action=GetRole&RoleName=a+b'))).toEqual(expected);
    expect(refusal(() => post('iam', `Action=GetRole&RoleName=${'x'.repeat(129)}`))).toEqual(expected);
    expect(refusal(() => post('iam', 'Action=GetUser&UserName=*'))).toEqual({
      code: 'UnclassifiedRequest',
      message: 'Query request not classified: UserName is missing or not a valid IAM name.',
    });
  });

  it('does not accept STS actions on IAM', () => {
    expect(refusal(() => post('iam', 'Action=GetCallerIdentity')).message).toBe('Query request not classified: iam operation "GetCallerIdentity" is not supported yet.');
  });
});

describe('prototype names never classify', () => {
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'])('refuses Action=%s', (action) => {
    for (const service of ['sts', 'iam'] as const) {
      expect(refusal(() => post(service, `Action=${action}`))).toEqual({
        code: 'UnclassifiedRequest',
        message: `Query request not classified: ${service} operation "${action}" is not supported yet.`,
      });
      expect(refusal(() => get(service, `Action=${action}`)).code).toBe('UnclassifiedRequest');
    }
  });
});
