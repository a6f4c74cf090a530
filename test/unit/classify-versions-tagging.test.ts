import { describe, expect, it } from 'vitest';
import { type ClassifyInput } from '../../src/aws/classify/index.js';
import { parseQuery } from '../../src/aws/query-string.js';
import { routeTable } from '../../src/aws/routes/table.js';
import { pairs, refusal, run, type Request } from '../support/classify-request.js';

/**
 * Two classification rules that each cover a family of operations: S3 calls on a given object
 * version (versionId) and EC2 tags given when a resource is created (TagSpecification.N).
 */

const s3 = (method: string, path: string, query = '', headers: ClassifyInput['headers'] = {}): Request => ({
  method,
  host: 's3.us-east-1.amazonaws.com',
  rawPath: path,
  query: parseQuery(query),
  headers,
  service: 's3',
});

const ec2 = (body: string): Request => ({
  method: 'POST',
  host: 'ec2.us-east-1.amazonaws.com',
  rawPath: '/',
  headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
  body: Buffer.from(`Version=2016-11-15&${body}`),
  service: 'ec2',
});

describe('S3 calls on an object version', () => {
  // Service Authorization Reference: the *Version actions are the ones with the s3:versionid
  // condition key; GetObject's VersionId documentation: with a versionId "the s3:GetObject
  // permission is not required". DeleteObject follows the same rule.
  it.each([
    ['GET', 'acl', 's3:GetObjectAcl', 's3:GetObjectVersionAcl'],
    ['PUT', 'acl', 's3:PutObjectAcl', 's3:PutObjectVersionAcl'],
    ['GET', 'tagging', 's3:GetObjectTagging', 's3:GetObjectVersionTagging'],
    ['PUT', 'tagging', 's3:PutObjectTagging', 's3:PutObjectVersionTagging'],
    ['DELETE', 'tagging', 's3:DeleteObjectTagging', 's3:DeleteObjectVersionTagging'],
    ['GET', '', 's3:GetObject', 's3:GetObjectVersion'],
    ['HEAD', '', 's3:GetObject', 's3:GetObjectVersion'],
    ['DELETE', '', 's3:DeleteObject', 's3:DeleteObjectVersion'],
  ])('%s ?%s: %s, and %s (only) with a versionId', (method, sub, plain, versioned) => {
    const query = sub === '' ? '' : `${sub}&`;
    expect(pairs(run(s3(method, '/r/a.csv', sub)))).toEqual([`${plain} arn:aws:s3:::r/a.csv`]);
    expect(pairs(run(s3(method, '/r/a.csv', `${query}versionId=3`)))).toEqual([`${versioned} arn:aws:s3:::r/a.csv`]);
  });

  it('GetObjectAttributes needs the object read and the attributes read, of the version when one is given', () => {
    // S3 API Reference, GetObjectAttributes, permissions.
    const headers = { 'x-amz-object-attributes': 'ETag' };
    expect(pairs(run(s3('GET', '/r/a.csv', 'attributes', headers)))).toEqual(['s3:GetObject arn:aws:s3:::r/a.csv', 's3:GetObjectAttributes arn:aws:s3:::r/a.csv']);
    expect(pairs(run(s3('GET', '/r/a.csv', 'attributes&versionId=3', headers)))).toEqual(['s3:GetObjectVersion arn:aws:s3:::r/a.csv', 's3:GetObjectVersionAttributes arn:aws:s3:::r/a.csv']);
  });

  it('DeleteBucketIntelligentTieringConfiguration is s3:PutIntelligentTieringConfiguration (there is no delete action)', () => {
    expect(pairs(run(s3('DELETE', '/r', 'intelligent-tiering&id=x')))).toEqual(['s3:PutIntelligentTieringConfiguration arn:aws:s3:::r']);
  });

  it('no S3 or EC2 operation asks for an action IAM does not have', () => {
    const unknown = ['s3', 'ec2'].flatMap((id) =>
      [...(routeTable().services.get(id)?.operations.values() ?? [])].flatMap((op) => (op.iam ?? []).filter((e) => e.unknown === true).map((e) => `${id}.${op.name}: ${e.a}`)),
    );
    expect(unknown).toEqual([]);
  });
});

describe('EC2 tags given when a resource is created', () => {
  // EC2 User Guide, "Grant permission to tag Amazon EC2 resources during creation".
  const tags = (n: number, type: string) => `TagSpecification.${n}.ResourceType=${type}&TagSpecification.${n}.Tag.1.Key=team&TagSpecification.${n}.Tag.1.Value=data`;

  it('needs ec2:CreateTags on the new resource only when tags are given', () => {
    expect(pairs(run(ec2('Action=CreateVolume&AvailabilityZone=us-east-1a&Size=8')))).toEqual(['ec2:CreateVolume arn:aws:ec2:us-east-1::volume/* (pattern)']);
    expect(pairs(run(ec2(`Action=CreateVolume&AvailabilityZone=us-east-1a&Size=8&${tags(1, 'volume')}`)))).toEqual([
      'ec2:CreateVolume arn:aws:ec2:us-east-1::volume/* (pattern)',
      'ec2:CreateTags arn:aws:ec2:us-east-1::volume/* (pattern)',
    ]);
    // The seed asked CreateTags on every call and on dozens of resource types.
    expect(pairs(run(ec2('Action=CreateInternetGateway')))).toEqual(['ec2:CreateInternetGateway arn:aws:ec2:us-east-1::internet-gateway/* (pattern)']);
  });

  it('RunInstances: one CreateTags need per resource type tagged', () => {
    const c = run(ec2(`Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId=subnet-1&SecurityGroupId.1=sg-1&${tags(1, 'instance')}&${tags(2, 'volume')}&${tags(3, 'instance')}`));
    expect(pairs(c).filter((p) => p.startsWith('ec2:CreateTags'))).toEqual(['ec2:CreateTags arn:aws:ec2:us-east-1::instance/* (pattern)', 'ec2:CreateTags arn:aws:ec2:us-east-1::volume/* (pattern)']);
    expect(c.needs.find((n) => n.action === 'ec2:CreateTags')?.resource.needsAccount).toBe(true);
  });

  it('takes the ARN shape of each type: images and snapshots have no account, IPAM types no Region', () => {
    const image = run(ec2(`Action=CreateImage&InstanceId=i-1&Name=x&${tags(1, 'image')}&${tags(2, 'snapshot')}`));
    expect(pairs(image).filter((p) => p.startsWith('ec2:CreateTags'))).toEqual(['ec2:CreateTags arn:aws:ec2:us-east-1::image/* (pattern)', 'ec2:CreateTags arn:aws:ec2:us-east-1::snapshot/* (pattern)']);
    expect(image.needs.filter((n) => n.action === 'ec2:CreateTags').map((n) => n.resource.needsAccount)).toEqual([false, false]);
    const pool = run({ ...ec2(`Action=CreateIpamPool&IpamScopeId=ipam-scope-1&AddressFamily=ipv4&${tags(1, 'ipam-pool')}`), region: 'eu-west-1' });
    expect(pairs(pool)).toContain('ec2:CreateTags arn:aws:ec2:::ipam-pool/* (pattern)');
  });

  it('covers every operation with tag specifications, security group rules and BYOIP pools included', () => {
    expect(pairs(run(ec2(`Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&${tags(1, 'security-group-rule')}`)))).toEqual([
      'ec2:AuthorizeSecurityGroupIngress arn:aws:ec2:us-east-1::security-group/sg-1',
      'ec2:CreateTags arn:aws:ec2:us-east-1::security-group-rule/* (pattern)',
    ]);
    const byoip = run(ec2('Action=ProvisionByoipCidr&Cidr=203.0.113.0/24&PoolTagSpecification.1.ResourceType=ipv4pool-ec2&PoolTagSpecification.1.Tag.1.Key=a'));
    expect(pairs(byoip)).toContain('ec2:CreateTags arn:aws:ec2:us-east-1::ipv4pool-ec2/* (pattern)');
    const tagging = [...(routeTable().services.get('ec2')?.operations.values() ?? [])].filter((op) => op.iam?.some((e) => e.a === 'ec2:CreateTags' && e.when !== undefined));
    expect(tagging.length).toBeGreaterThanOrEqual(80);
  });

  it('refuses tags whose resource type names no resource, never widened to any resource', () => {
    expect(refusal(ec2('Action=CreateVolume&AvailabilityZone=us-east-1a&TagSpecification.1.Tag.1.Key=a'))).toBe('UnclassifiedRequest: Request not classified: ec2:CreateTags: the request names none of its resources.');
    expect(refusal(ec2('Action=CreateVolume&AvailabilityZone=us-east-1a&TagSpecification.1.ResourceType=*&TagSpecification.1.Tag.1.Key=a'))).toContain('UnclassifiedRequest');
    expect(refusal(ec2('Action=CreateVolume&AvailabilityZone=us-east-1a&TagSpecification.1.ResourceType=volume/x&TagSpecification.1.Tag.1.Key=a'))).toContain('UnclassifiedRequest');
  });
});
