import { describe, expect, it } from 'vitest';
import type { QueryParams } from '../../src/aws/query-string.js';
import { parseQuery } from '../../src/aws/query-string.js';
import {
  findService,
  getService,
  matchQueryOperation,
  matchRestOperation,
  matchTargetOperation,
  type RouteService,
} from '../../src/aws/routes/table.js';

function service(id: string): RouteService {
  const s = getService(id);
  if (s === undefined) throw new Error(`no service ${id}`);
  return s;
}

/** matchRestOperation on "METHOD /path?query" with headers. */
function rest(id: string, request: string, headers: Record<string, string> = {}, host?: string) {
  const [method = '', target = ''] = request.split(' ');
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const query: QueryParams = q === -1 ? {} : parseQuery(target.slice(q + 1));
  return matchRestOperation(service(id), method, path, query, headers, host === undefined ? {} : { host });
}

describe('matchRestOperation: S3', () => {
  it('tells GetObject, GetObjectTagging, ListParts and GetObjectAcl apart by query', () => {
    expect(rest('s3', 'GET /bucket/photos/2024/cat.jpg')?.operation.name).toBe('GetObject');
    expect(rest('s3', 'GET /bucket/photos/cat.jpg?tagging')?.operation.name).toBe('GetObjectTagging');
    expect(rest('s3', 'GET /bucket/photos/cat.jpg?uploadId=abc')?.operation.name).toBe('ListParts');
    expect(rest('s3', 'GET /bucket/photos/cat.jpg?acl')?.operation.name).toBe('GetObjectAcl');
    expect(rest('s3', 'HEAD /bucket/photos/cat.jpg')?.operation.name).toBe('HeadObject');
  });

  it('fills the greedy key label with slashes and decodes it', () => {
    const match = rest('s3', 'GET /bucket/photos/2024/my%20cat.jpg');
    expect(match?.labels).toEqual({ Bucket: 'bucket', Key: 'photos/2024/my cat.jpg' });
  });

  it('uses required query and header members as tie-breakers on PUT /{Bucket}/{Key+}', () => {
    expect(rest('s3', 'PUT /bucket/key')?.operation.name).toBe('PutObject');
    expect(rest('s3', 'PUT /bucket/key?partNumber=1&uploadId=abc')?.operation.name).toBe('UploadPart');
    expect(rest('s3', 'PUT /bucket/key', { 'x-amz-copy-source': '/src/key' })?.operation.name).toBe('CopyObject');
    expect(rest('s3', 'PUT /bucket/key?partNumber=1&uploadId=abc', { 'x-amz-copy-source': '/src/key' })?.operation.name).toBe('UploadPartCopy');
    expect(rest('s3', 'POST /bucket/key?uploads')?.operation.name).toBe('CreateMultipartUpload');
  });

  it('prefers literal query values: ListObjectsV2 only with list-type=2', () => {
    expect(rest('s3', 'GET /bucket?list-type=2&prefix=a')?.operation.name).toBe('ListObjectsV2');
    expect(rest('s3', 'GET /bucket?prefix=a')?.operation.name).toBe('ListObjects');
    expect(rest('s3', 'GET /bucket/')?.operation.name).toBe('ListObjects');
    expect(rest('s3', 'GET /')?.operation.name).toBe('ListBuckets');
  });

  it('reads the bucket from a virtual-hosted host', () => {
    const match = rest('s3', 'GET /dir/file.txt', {}, 'my-bucket.s3.eu-west-1.amazonaws.com');
    expect(match?.operation.name).toBe('GetObject');
    expect(match?.labels).toEqual({ Bucket: 'my-bucket', Key: 'dir/file.txt' });
    expect(rest('s3', 'GET /?list-type=2', {}, 'my-bucket.s3.eu-west-1.amazonaws.com')?.operation.name).toBe('ListObjectsV2');
  });

  it('reports query parameters the operation does not define, but not presign parameters', () => {
    const match = rest('s3', 'GET /bucket/key?X-Amz-Signature=abc&X-Amz-Credential=x&versionId=1&newSubresource');
    expect(match?.operation.name).toBe('GetObject');
    expect(match?.unknownQuery).toEqual(['newSubresource']);
  });

  it('serves S3 Express operations only on s3express hosts', () => {
    expect(rest('s3', 'GET /')?.operation.name).toBe('ListBuckets');
    expect(rest('s3', 'GET /', {}, 's3express-control.us-east-1.amazonaws.com')?.operation.name).toBe('ListDirectoryBuckets');
  });
});

describe('matchRestOperation: Lambda, API Gateway, Route 53', () => {
  it('Lambda: Invoke, GetFunction and GetFunctionConfiguration by literal segments', () => {
    const invoke = rest('lambda', 'POST /2015-03-31/functions/my-fn/invocations');
    expect(invoke?.operation.name).toBe('Invoke');
    expect(invoke?.labels).toEqual({ FunctionName: 'my-fn' });
    expect(rest('lambda', 'GET /2015-03-31/functions/my-fn')?.operation.name).toBe('GetFunction');
    expect(rest('lambda', 'GET /2015-03-31/functions/my-fn/configuration')?.operation.name).toBe('GetFunctionConfiguration');
    const byArn = rest('lambda', 'POST /2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn/invocations');
    expect(byArn?.labels.FunctionName).toBe('arn:aws:lambda:us-east-1:123456789012:function:my-fn');
  });

  it('API Gateway: literal segments win over labels', () => {
    expect(rest('apigateway', 'GET /restapis')?.operation.name).toBe('GetRestApis');
    expect(rest('apigateway', 'GET /restapis/a1b2c3')?.operation.name).toBe('GetRestApi');
    expect(rest('apigateway', 'GET /restapis/a1b2c3/resources')?.operation.name).toBe('GetResources');
    const method = rest('apigateway', 'GET /restapis/a1b2c3/resources/r1/methods/GET');
    expect(method?.operation.name).toBe('GetMethod');
    expect(method?.labels).toEqual({ restapi_id: 'a1b2c3', resource_id: 'r1', http_method: 'GET' });
  });

  it('Route 53: hosted zones and record sets, with and without the trailing slash', () => {
    expect(rest('route53', 'POST /2013-04-01/hostedzone/Z123/rrset/')?.operation.name).toBe('ChangeResourceRecordSets');
    expect(rest('route53', 'POST /2013-04-01/hostedzone/Z123/rrset')?.operation.name).toBe('ChangeResourceRecordSets');
    expect(rest('route53', 'GET /2013-04-01/hostedzone/Z123/rrset')?.operation.name).toBe('ListResourceRecordSets');
    expect(rest('route53', 'GET /2013-04-01/hostedzone/Z123')?.operation.name).toBe('GetHostedZone');
    expect(rest('route53', 'GET /2013-04-01/hostedzone')?.operation.name).toBe('ListHostedZones');
  });

  it('refuses what no route matches', () => {
    expect(rest('lambda', 'GET /2015-03-31/nothing-here')).toBeUndefined();
    expect(rest('lambda', 'PATCH /2015-03-31/functions/my-fn')).toBeUndefined();
    expect(rest('s3', 'GET /bucket/%E0%A4%A')).toBeUndefined();
  });
});

describe('matchQueryOperation and matchTargetOperation', () => {
  it('EC2 (ec2 protocol): Action, with Version equal to the API version', () => {
    expect(matchQueryOperation(service('ec2'), 'RunInstances', '2016-11-15')?.name).toBe('RunInstances');
    expect(matchQueryOperation(service('ec2'), 'RunInstances', '2014-01-01')).toBeUndefined();
    expect(matchQueryOperation(service('ec2'), 'NoSuchAction', '2016-11-15')).toBeUndefined();
  });

  it('SQS speaks both: query Action and AmazonSQS X-Amz-Target', () => {
    expect(matchQueryOperation(service('sqs'), 'SendMessage', '2012-11-05')?.name).toBe('SendMessage');
    expect(matchTargetOperation(service('sqs'), 'AmazonSQS.SendMessage')?.name).toBe('SendMessage');
    expect(matchTargetOperation(service('sqs'), 'AmazonSQSX.SendMessage')).toBeUndefined();
  });

  it('CloudWatch speaks both: query Action and GraniteServiceVersion20100801 target', () => {
    expect(matchQueryOperation(service('cloudwatch'), 'PutMetricData', '2010-08-01')?.name).toBe('PutMetricData');
    expect(matchTargetOperation(service('cloudwatch'), 'GraniteServiceVersion20100801.PutMetricData')?.name).toBe('PutMetricData');
  });

  it('JSON: DynamoDB and KMS by target prefix; other prefixes and unknown operations refused', () => {
    expect(matchTargetOperation(service('dynamodb'), 'DynamoDB_20120810.GetItem')?.name).toBe('GetItem');
    expect(matchTargetOperation(service('dynamodb'), 'DynamoDB_20111205.GetItem')).toBeUndefined();
    expect(matchTargetOperation(service('dynamodb'), 'DynamoDB_20120810.Nope')).toBeUndefined();
    expect(matchTargetOperation(service('kms'), 'TrentService.Decrypt')?.name).toBe('Decrypt');
    expect(matchTargetOperation(service('kms'), 'Decrypt')).toBeUndefined();
    expect(matchQueryOperation(service('dynamodb'), 'GetItem')).toBeUndefined();
  });
});

describe('findService: shared signing names', () => {
  it('rds, docdb and neptune are one API: classified against RDS', () => {
    expect(findService('rds', { action: 'CreateDBCluster', version: '2014-10-31', host: 'rds.us-east-1.amazonaws.com', path: '/' })?.id).toBe('rds');
    expect(findService('rds', { action: 'DescribeDBInstances', version: '2014-10-31' })?.id).toBe('rds');
    expect(findService('rds', { action: 'CreateDBCluster', version: '2010-01-01' })).toBeUndefined();
  });

  it('elb v1 and v2 by Version (and by Action where only one has it)', () => {
    expect(findService('elasticloadbalancing', { action: 'DescribeLoadBalancers', version: '2012-06-01' })?.id).toBe('elb');
    expect(findService('elasticloadbalancing', { action: 'DescribeLoadBalancers', version: '2015-12-01' })?.id).toBe('elbv2');
    expect(findService('elasticloadbalancing', { action: 'CreateTargetGroup' })?.id).toBe('elbv2');
    expect(findService('elasticloadbalancing', { action: 'DescribeLoadBalancers' })).toBeUndefined();
  });

  it('s3 and s3control by host, then by path', () => {
    expect(findService('s3', { host: '123456789012.s3-control.us-east-1.amazonaws.com', path: '/v20180820/jobs' })?.id).toBe('s3control');
    expect(findService('s3', { host: 'my-bucket.s3.us-east-1.amazonaws.com', path: '/key' })?.id).toBe('s3');
    expect(findService('s3', { host: 's3.amazonaws.com', path: '/v20180820/looks-like-a-bucket' })?.id).toBe('s3');
    expect(findService('s3', { host: 'localhost', path: '/v20180820/jobs/abc' })?.id).toBe('s3control');
    expect(findService('s3', { host: 'localhost', path: '/bucket/key' })?.id).toBe('s3');
  });

  it('ses, sesv2 and pinpoint-email by path prefix and Action; Mail Manager by target', () => {
    expect(findService('ses', { host: 'email.us-east-1.amazonaws.com', path: '/v2/email/outbound-emails' })?.id).toBe('sesv2');
    expect(findService('ses', { host: 'email.us-east-1.amazonaws.com', path: '/v1/email/outbound-emails' })?.id).toBe('pinpointemail');
    expect(findService('ses', { host: 'email.us-east-1.amazonaws.com', path: '/', action: 'SendEmail', version: '2010-12-01' })?.id).toBe('ses');
    expect(findService('ses', { targetPrefix: 'MailManagerSvc' })?.id).toBe('mailmanager');
  });

  it('API Gateway v1 and v2 by path', () => {
    expect(findService('apigateway', { path: '/restapis/abc/resources' })?.id).toBe('apigateway');
    expect(findService('apigateway', { path: '/v2/apis/abc/routes' })?.id).toBe('apigatewayv2');
    expect(findService('apigateway', { path: '/restapis/abc/resources', targetPrefix: 'Foo' })).toBeUndefined();
  });

  it('EventBridge and CloudWatch Events are one API: EventBridge', () => {
    expect(findService('events', { targetPrefix: 'AWSEvents' })?.id).toBe('eventbridge');
  });

  it('CloudWatch and SQS by either protocol', () => {
    expect(findService('monitoring', { targetPrefix: 'GraniteServiceVersion20100801' })?.id).toBe('cloudwatch');
    expect(findService('monitoring', { action: 'PutMetricData', version: '2010-08-01' })?.id).toBe('cloudwatch');
    expect(findService('sqs', { targetPrefix: 'AmazonSQS' })?.id).toBe('sqs');
    expect(findService('sqs', { action: 'SendMessage', version: '2012-11-05', path: '/123456789012/q' })?.id).toBe('sqs');
  });

  it('refuses unknown signing names and JSON requests without a target to JSON-only services', () => {
    expect(findService('no-such-service')).toBeUndefined();
    expect(findService('dynamodb', {})).toBeUndefined();
    expect(findService('dynamodb', { targetPrefix: 'DynamoDB_20120810' })?.id).toBe('dynamodb');
    // DynamoDB Streams signs as dynamodb too; its target prefix tells it apart.
    expect(findService('dynamodb', { targetPrefix: 'DynamoDBStreams_20120810' })?.id).toBe('dynamodbstreams');
    expect(findService('dynamodb', { targetPrefix: 'DynamoDB_20111205' })).toBeUndefined();
  });
});
