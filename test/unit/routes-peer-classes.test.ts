// Classes of valid calls the peer suite (npm run test:peer: moto's own tests through countersign)
// found refused, each fixed by a generic rule of the route generator (scripts/routes/generate.js)
// and checked here on the requests moto's tests send, and on the requests that must stay refused.
import { describe, expect, it } from 'vitest';
import { parseQuery } from '../../src/aws/query-string.js';
import { iamNeeds, requestMembers, type IamResult } from '../../src/aws/routes/iam-actions.js';
import { getService, matchQueryOperation, matchRestOperation, matchTargetOperation, type RouteService } from '../../src/aws/routes/table.js';

const ACCOUNT = '123456789012';

function service(id: string): RouteService {
  const s = getService(id);
  if (s === undefined) throw new Error(`no service ${id}`);
  return s;
}

function summary(result: IamResult): string[] | string {
  if (!result.ok) return `refused: ${result.reason}`;
  return result.needs.map((n) => `${n.action} ${n.resource.arn}${n.wildcard ? ' ~' : ''}`);
}

function json(id: string, target: string, body: unknown): string[] | string {
  const s = service(id);
  const op = matchTargetOperation(s, target);
  if (op === undefined) throw new Error(`no operation for ${target}`);
  const parts = { query: {}, headers: {}, body: Buffer.from(JSON.stringify(body)), protocol: 'json' as const };
  return summary(iamNeeds(s, op, requestMembers(op, parts), { region: 'us-east-1', account: ACCOUNT }));
}

function rest(id: string, method: string, target: string, body?: string): string[] | string {
  const [path = '/', rawQuery = ''] = target.split('?');
  const query = parseQuery(rawQuery);
  const s = service(id);
  const match = matchRestOperation(s, method, path, query, {}, {});
  if (match === undefined) throw new Error('no route');
  const parts = { labels: match.labels, query, headers: {}, body: body === undefined ? undefined : Buffer.from(body), protocol: s.protocol };
  return summary(iamNeeds(s, match.operation, requestMembers(match.operation, parts), { region: 'us-east-1', account: ACCOUNT }));
}

describe('resources named by a type and an id (ResourceType + ResourceId), not by an ARN', () => {
  const ssm = (op: string, ResourceType: string, ResourceId: string) =>
    json('ssm', `AmazonSSM.${op}`, { ResourceType, ResourceId, ...(op === 'AddTagsToResource' ? { Tags: [{ Key: 'k', Value: 'v' }] } : {}), ...(op === 'RemoveTagsFromResource' ? { TagKeys: ['k'] } : {}) });

  it('SSM tagging: the type picks the ARN the id goes into', () => {
    expect(ssm('AddTagsToResource', 'Document', 'my-doc')).toEqual([`ssm:AddTagsToResource arn:aws:ssm:us-east-1:${ACCOUNT}:document/my-doc`]);
    expect(ssm('ListTagsForResource', 'MaintenanceWindow', 'mw-0123456789abcdef0')).toEqual([`ssm:ListTagsForResource arn:aws:ssm:us-east-1:${ACCOUNT}:maintenancewindow/mw-0123456789abcdef0`]);
    expect(ssm('RemoveTagsFromResource', 'ManagedInstance', 'mi-0123456789abcdef0')).toEqual([`ssm:RemoveTagsFromResource arn:aws:ssm:us-east-1:${ACCOUNT}:managed-instance/mi-0123456789abcdef0`]);
    expect(ssm('AddTagsToResource', 'PatchBaseline', 'pb-0123456789abcdef0')).toEqual([`ssm:AddTagsToResource arn:aws:ssm:us-east-1:${ACCOUNT}:patchbaseline/pb-0123456789abcdef0`]);
    expect(ssm('AddTagsToResource', 'OpsItem', 'oi-0123456789ab')).toEqual([`ssm:AddTagsToResource arn:aws:ssm:us-east-1:${ACCOUNT}:opsitem/oi-0123456789ab`]);
  });

  it('SSM tagging of a parameter: the parameter ARN, as GetParameter names it', () => {
    expect(ssm('AddTagsToResource', 'Parameter', '/app/db')).toEqual([`ssm:AddTagsToResource arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/app/db`]);
    expect(ssm('ListTagsForResource', 'Parameter', 'plain')).toEqual([`ssm:ListTagsForResource arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/plain`]);
  });

  it('a type IAM has no resource type for, or none at all, is refused, never widened to "*"', () => {
    // SSM's Automation: IAM knows automation-execution and automation-definition, not "automation".
    expect(ssm('AddTagsToResource', 'Automation', 'abc')).toMatch(/^refused: no IAM entry of ssm:AddTagsToResource applies/);
    expect(ssm('AddTagsToResource', 'foo', 'abc')).toMatch(/^refused: /);
    expect(ssm('AddTagsToResource', '', 'abc')).toMatch(/^refused: /);
    // The EC2 instance type of ssm:AddTagsToResource is no SSM ResourceType.
    expect(ssm('AddTagsToResource', 'instance', 'i-0123456789abcdef0')).toMatch(/^refused: /);
  });

  it('a value that would read two ways is not taken apart: the type must name one resource type whole', () => {
    expect(ssm('AddTagsToResource', 'Document/x', 'my-doc')).toMatch(/^refused: /);
    expect(ssm('AddTagsToResource', 'DocumentMaintenanceWindow', 'my-doc')).toMatch(/^refused: /);
  });

  it('Route 53 tags: healthcheck or hostedzone from the path', () => {
    expect(rest('route53', 'GET', '/2013-04-01/tags/hostedzone/Z0123456789')).toEqual(['route53:ListTagsForResource arn:aws:route53:::hostedzone/Z0123456789']);
    expect(rest('route53', 'GET', '/2013-04-01/tags/healthcheck/abc-123')).toEqual(['route53:ListTagsForResource arn:aws:route53:::healthcheck/abc-123']);
    expect(rest('route53', 'GET', '/2013-04-01/tags/trafficpolicy/abc')).toMatch(/^refused: /);
  });

  it('Machine Learning tags: the model, data source, evaluation or batch prediction', () => {
    expect(json('machinelearning', 'AmazonML_20141212.AddTags', { ResourceType: 'MLModel', ResourceId: 'ml-1', Tags: [] })).toEqual([`machinelearning:AddTags arn:aws:machinelearning:us-east-1:${ACCOUNT}:mlmodel/ml-1`]);
    expect(json('machinelearning', 'AmazonML_20141212.DescribeTags', { ResourceType: 'DataSource', ResourceId: 'ds-1' })).toEqual([`machinelearning:DescribeTags arn:aws:machinelearning:us-east-1:${ACCOUNT}:datasource/ds-1`]);
  });
});

describe('a resource named by its name or by its ARN (two optional members)', () => {
  const stream = `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/orders`;

  it('Kinesis: StreamName or StreamARN, the same stream either way', () => {
    expect(json('kinesis', 'Kinesis_20131202.PutRecord', { StreamName: 'orders', Data: 'eA==', PartitionKey: 'p' })).toEqual([`kinesis:PutRecord ${stream}`]);
    expect(json('kinesis', 'Kinesis_20131202.PutRecord', { StreamARN: stream, Data: 'eA==', PartitionKey: 'p' })).toEqual([`kinesis:PutRecord ${stream}`]);
    expect(json('kinesis', 'Kinesis_20131202.DescribeStreamSummary', { StreamARN: stream })).toEqual([`kinesis:DescribeStreamSummary ${stream}`]);
  });

  it('both given: both are asked (the request may name two streams)', () => {
    const other = `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/other`;
    expect(json('kinesis', 'Kinesis_20131202.DeleteStream', { StreamName: 'orders', StreamARN: other })).toEqual([`kinesis:DeleteStream ${stream}`, `kinesis:DeleteStream ${other}`]);
  });

  it('neither given, or an ARN member that holds no ARN: refused', () => {
    expect(json('kinesis', 'Kinesis_20131202.DeleteStream', {})).toMatch(/^refused: /);
    expect(json('kinesis', 'Kinesis_20131202.DeleteStream', { StreamARN: 'orders' })).toMatch(/^refused: /);
  });

  it('IoT: a thing named by its ARN is asked too (it used to be left out, asking for the group alone)', () => {
    const thing = `arn:aws:iot:us-east-1:${ACCOUNT}:thing/sensor-1`;
    expect(rest('iot', 'PUT', '/billing-groups/addThingToBillingGroup', JSON.stringify({ billingGroupName: 'g', thingArn: thing }))).toEqual([
      `iot:AddThingToBillingGroup arn:aws:iot:us-east-1:${ACCOUNT}:billinggroup/g`,
      `iot:AddThingToBillingGroup ${thing}`,
    ]);
  });
});

describe('one action in two entries, each naming the resource its own way', () => {
  const table = (name: string) => `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/${name}`;

  it('DynamoDB RestoreTableToPointInTime: the source by name or by ARN, and the target', () => {
    expect(json('dynamodb', 'DynamoDB_20120810.RestoreTableToPointInTime', { SourceTableName: 'orders', TargetTableName: 'orders-restored' })).toEqual([
      `dynamodb:RestoreTableToPointInTime ${table('orders')}`,
      `dynamodb:RestoreTableToPointInTime ${table('orders-restored')}`,
    ]);
    expect(json('dynamodb', 'DynamoDB_20120810.RestoreTableToPointInTime', { SourceTableArn: table('orders'), TargetTableName: 'orders-restored' })).toEqual([
      `dynamodb:RestoreTableToPointInTime ${table('orders-restored')}`,
      `dynamodb:RestoreTableToPointInTime ${table('orders')}`,
    ]);
  });

  it('naming none of them is still refused', () => {
    expect(json('dynamodb', 'DynamoDB_20120810.RestoreTableToPointInTime', {})).toMatch(/^refused: /);
  });
});

describe('a name where the seed expected a whole ARN', () => {
  const send = (DocumentName: string) => json('ssm', 'AmazonSSM.SendCommand', { DocumentName, InstanceIds: ['i-0123456789abcdef0'] });

  it('SSM SendCommand: the document by name or by ARN, and the instances it targets', () => {
    const targets = [`ssm:SendCommand arn:aws:ec2:us-east-1:${ACCOUNT}:instance/* ~`, `ssm:SendCommand arn:aws:ssm:us-east-1:${ACCOUNT}:managed-instance/* ~`];
    expect(send('my-doc')).toEqual([`ssm:SendCommand arn:aws:ssm:us-east-1:${ACCOUNT}:document/my-doc`, ...targets]);
    expect(send(`arn:aws:ssm:us-east-1:${ACCOUNT}:document/shared-doc`)).toEqual([`ssm:SendCommand arn:aws:ssm:us-east-1:${ACCOUNT}:document/shared-doc`, ...targets]);
  });

  it('an ARN of another service is refused', () => {
    expect(send(`arn:aws:s3:::bucket/doc`)).toMatch(/^refused: /);
  });
});

describe('Secrets Manager replication calls name the source secret, by name or ARN, in the request Region', () => {
  const secret = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:prod/db-??????`;

  it('ReplicateSecretToRegions: the source secret, not a secret in each replica Region', () => {
    expect(json('secretsmanager', 'secretsmanager.ReplicateSecretToRegions', { SecretId: 'prod/db', AddReplicaRegions: [{ Region: 'eu-west-1' }] })).toEqual([`secretsmanager:ReplicateSecretToRegions ${secret} ~`]);
  });

  it('RemoveRegionsFromReplication and StopReplicationToReplica: the name becomes name-?????? like every other call', () => {
    expect(json('secretsmanager', 'secretsmanager.RemoveRegionsFromReplication', { SecretId: 'prod/db', RemoveReplicaRegions: ['eu-west-1'] })).toEqual([`secretsmanager:RemoveRegionsFromReplication ${secret} ~`]);
    const full = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:prod/db-AbCdEf`;
    expect(json('secretsmanager', 'secretsmanager.StopReplicationToReplica', { SecretId: full })).toEqual([`secretsmanager:StopReplicationToReplica ${full}`]);
  });
});

describe('CloudWatch Logs: logGroupIdentifier is a log group name or its ARN', () => {
  const logs = (op: string, body: object) => json('cloudwatchlogs', `Logs_20140328.${op}`, body);
  const group = `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/app/web`;

  it('DescribeLogStreams and GetLogEvents by identifier, name or ARN, name the same log group', () => {
    expect(logs('DescribeLogStreams', { logGroupIdentifier: '/app/web' })).toEqual([`logs:DescribeLogStreams ${group}`]);
    expect(logs('DescribeLogStreams', { logGroupIdentifier: group })).toEqual([`logs:DescribeLogStreams ${group}`]);
    expect(logs('DescribeLogStreams', { logGroupName: '/app/web' })).toEqual([`logs:DescribeLogStreams ${group}`]);
    expect(logs('GetLogEvents', { logGroupIdentifier: group, logStreamName: 's1' })).toEqual([`logs:GetLogEvents ${group}:log-stream:s1`]);
  });

  it('the ":*" DescribeLogGroups puts on its ARNs is dropped, never read as a pattern', () => {
    expect(logs('DescribeLogStreams', { logGroupIdentifier: `${group}:*` })).toEqual([`logs:DescribeLogStreams ${group}`]);
  });

  it("an ARN of another account or Region names that account and Region (a monitoring account's call)", () => {
    expect(logs('FilterLogEvents', { logGroupIdentifier: 'arn:aws:logs:eu-west-1:210987654321:log-group:shared' })).toEqual(['logs:FilterLogEvents arn:aws:logs:eu-west-1:210987654321:log-group:shared']);
  });

  it('calls that take only an identifier accept a name too (they refused every name)', () => {
    expect(logs('GetDataProtectionPolicy', { logGroupIdentifier: '/app/web' })).toEqual([`logs:GetDataProtectionPolicy ${group}`]);
    expect(logs('GetTransformer', { logGroupIdentifier: group })).toEqual([`logs:GetTransformer ${group}`]);
  });

  it('neither given, a pattern, or an ARN of another service: refused', () => {
    expect(logs('DescribeLogStreams', {})).toMatch(/^refused: /);
    expect(logs('DescribeLogStreams', { logGroupIdentifier: '/app/*' })).toMatch(/^refused: /);
    expect(logs('DescribeLogStreams', { logGroupIdentifier: `arn:aws:s3:::bucket` })).toMatch(/^refused: /);
  });
});

describe('SNS Publish: to a topic, a platform endpoint, or a phone number', () => {
  const publish = (form: Record<string, string>) => {
    const s = service('sns');
    const op = matchQueryOperation(s, 'Publish', '2010-03-31');
    if (op === undefined) throw new Error('no Publish');
    const body = Buffer.from(new URLSearchParams({ Action: 'Publish', Version: '2010-03-31', Message: 'hi', ...form }).toString());
    return summary(iamNeeds(s, op, requestMembers(op, { query: {}, headers: {}, body, protocol: 'query' }), { region: 'us-east-1', account: ACCOUNT }));
  };

  it('TopicArn or TargetArn: that ARN', () => {
    const topic = `arn:aws:sns:us-east-1:${ACCOUNT}:alerts`;
    const endpoint = `arn:aws:sns:us-east-1:${ACCOUNT}:endpoint/APNS/app/0a1b2c3d-0000-1111-2222-333344445555`;
    expect(publish({ TopicArn: topic })).toEqual([`sns:Publish ${topic}`]);
    expect(publish({ TargetArn: endpoint })).toEqual([`sns:Publish ${endpoint}`]);
  });

  it('PhoneNumber (SMS): "*", as IAM authorises it', () => {
    expect(publish({ PhoneNumber: '+15555550100' })).toEqual(['sns:Publish *']);
  });

  it('a phone number sent with a topic asks for both, never the topic alone or "*" alone', () => {
    const topic = `arn:aws:sns:us-east-1:${ACCOUNT}:alerts`;
    expect(publish({ TopicArn: topic, PhoneNumber: '+15555550100' })).toEqual([`sns:Publish ${topic}`, 'sns:Publish *']);
  });

  it('naming no target is refused', () => {
    expect(publish({})).toMatch(/^refused: /);
  });
});

describe('SSM GetParametersByPath: the path as given, the root included', () => {
  const byPath = (Path: string) => json('ssm', 'AmazonSSM.GetParametersByPath', { Path, Recursive: true });

  it('"/" is parameter/, "/app" parameter/app, "/app/" parameter/app/ (as AWS names them)', () => {
    expect(byPath('/')).toEqual([`ssm:GetParametersByPath arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/`]);
    expect(byPath('/app')).toEqual([`ssm:GetParametersByPath arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/app`]);
    expect(byPath('/app/')).toEqual([`ssm:GetParametersByPath arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/app/`]);
  });

  it('a path without its leading slash, with an empty level or a wildcard, is refused', () => {
    for (const path of ['app', '//', '/a//b', '/app/*']) expect(byPath(path)).toMatch(/^refused: /);
  });
});

describe('EC2 tags: resources named by ID, the prefix naming the type', () => {
  const tags = (op: 'CreateTags' | 'DeleteTags', ids: string[]) => {
    const s = service('ec2');
    const op_ = matchQueryOperation(s, op, '2016-11-15');
    if (op_ === undefined) throw new Error(`no ${op}`);
    const form: Record<string, string> = { Action: op, Version: '2016-11-15', 'Tag.1.Key': 'k', 'Tag.1.Value': 'v' };
    ids.forEach((id, i) => (form[`ResourceId.${i + 1}`] = id));
    const body = Buffer.from(new URLSearchParams(form).toString());
    return summary(iamNeeds(s, op_, requestMembers(op_, { query: {}, headers: {}, body, protocol: 'ec2' }), { region: 'us-east-1', account: ACCOUNT }));
  };

  it('each ID becomes its type ARN; images and snapshots have no account', () => {
    expect(tags('CreateTags', ['i-0123456789abcdef0', 'vol-0123456789abcdef0', 'sg-0123abcd', 'ami-0123456789abcdef0', 'snap-0123456789abcdef0', 'subnet-0123456789abcdef0', 'vpce-svc-0123456789abcdef0'])).toEqual([
      `ec2:CreateTags arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-0123456789abcdef0`,
      `ec2:CreateTags arn:aws:ec2:us-east-1:${ACCOUNT}:volume/vol-0123456789abcdef0`,
      `ec2:CreateTags arn:aws:ec2:us-east-1:${ACCOUNT}:security-group/sg-0123abcd`,
      'ec2:CreateTags arn:aws:ec2:us-east-1::image/ami-0123456789abcdef0',
      'ec2:CreateTags arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0',
      `ec2:CreateTags arn:aws:ec2:us-east-1:${ACCOUNT}:subnet/subnet-0123456789abcdef0`,
      `ec2:CreateTags arn:aws:ec2:us-east-1:${ACCOUNT}:vpc-endpoint-service/vpce-svc-0123456789abcdef0`,
    ]);
    expect(tags('DeleteTags', ['i-0123456789abcdef0'])).toEqual([`ec2:DeleteTags arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-0123456789abcdef0`]);
  });

  it('an unknown prefix, an ID of the wrong shape, a path or a wildcard is refused, never "*"', () => {
    for (const id of ['xyz-0123456789abcdef0', 'i-123', 'i-0123456789abcdef0/../x', 'i-*', 'arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0']) {
      expect(tags('CreateTags', [id])).toMatch(/^refused: /);
    }
    // one bad ID among good ones refuses the call
    expect(tags('CreateTags', ['i-0123456789abcdef0', 'nope'])).toMatch(/^refused: /);
  });
});

describe('calls that name no resource where AWS takes a default or every resource', () => {
  it('EventBridge DescribeEventBus without Name: the default bus', () => {
    expect(json('eventbridge', 'AWSEvents.DescribeEventBus', {})).toEqual([`events:DescribeEventBus arn:aws:events:us-east-1:${ACCOUNT}:event-bus/default`]);
    expect(json('eventbridge', 'AWSEvents.DescribeEventBus', { Name: 'orders' })).toEqual([`events:DescribeEventBus arn:aws:events:us-east-1:${ACCOUNT}:event-bus/orders`]);
  });

  it('ECR DescribeRepositories without names: every repository of the registry, as a pattern', () => {
    const ecr = (body: object) => json('ecr', 'AmazonEC2ContainerRegistry_V20150921.DescribeRepositories', body);
    expect(ecr({})).toEqual([`ecr:DescribeRepositories arn:aws:ecr:us-east-1:${ACCOUNT}:repository/* ~`]);
    expect(ecr({ registryId: '210987654321' })).toEqual(['ecr:DescribeRepositories arn:aws:ecr:us-east-1:210987654321:repository/* ~']);
    expect(ecr({ repositoryNames: ['app'] })).toEqual([`ecr:DescribeRepositories arn:aws:ecr:us-east-1:${ACCOUNT}:repository/app`]);
  });

  it('EC2 DeleteLaunchTemplate by name: every launch template, as a pattern; by ID: that one', () => {
    const del = (form: Record<string, string>) => {
      const s = service('ec2');
      const op = matchQueryOperation(s, 'DeleteLaunchTemplate', '2016-11-15');
      if (op === undefined) throw new Error('no op');
      const body = Buffer.from(new URLSearchParams({ Action: 'DeleteLaunchTemplate', Version: '2016-11-15', ...form }).toString());
      return summary(iamNeeds(s, op, requestMembers(op, { query: {}, headers: {}, body, protocol: 'ec2' }), { region: 'us-east-1', account: ACCOUNT }));
    };
    expect(del({ LaunchTemplateName: 'web' })).toEqual([`ec2:DeleteLaunchTemplate arn:aws:ec2:us-east-1:${ACCOUNT}:launch-template/* ~`]);
    expect(del({ LaunchTemplateId: 'lt-0123456789abcdef0' })).toEqual([`ec2:DeleteLaunchTemplate arn:aws:ec2:us-east-1:${ACCOUNT}:launch-template/lt-0123456789abcdef0`]);
    expect(del({})).toMatch(/^refused: /);
  });
});
