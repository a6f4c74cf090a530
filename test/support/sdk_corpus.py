#!/usr/bin/env python3
"""Requests as boto3 puts them on the wire, serialised and signed but never sent.

Prints one JSON object per line: {sdk, id, service, operation, method, host, rawPath, rawQuery,
headers, bodyBase64}. A `before-send` handler raises with the prepared request, so nothing reaches
the network and nothing is retried. Used by test/unit/sdk-corpus.test.ts, which holds the expected
classification of every case by its id.

    .venv/bin/python test/support/sdk_corpus.py
"""
import base64
import json
import os
import sys
from urllib.parse import urlsplit

# Nothing from the machine's AWS configuration: no profile, endpoint override or metadata service.
for name in [name for name in os.environ if name.startswith('AWS_')]:
    del os.environ[name]
os.environ.update(AWS_EC2_METADATA_DISABLED='true', AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)

import boto3  # noqa: E402
from botocore import xform_name  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import create_request_object, prepare_request_dict  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.serialize import create_serializer  # noqa: E402

ACCESS_KEY = 'CSAKCORPUS000000000'
ACCOUNT = '123456789012'
BUCKET = 'corpus-bucket'
# Every character S3 keys are known to be mangled by: space, +, %, :, /, =, non-ASCII.
ODD_KEY = 'dir/a b+c%d:e=f/é ü.txt'
KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab'
QUEUE_URL = f'https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/jobs'
MODEL = 'anthropic.claude-3-haiku-20240307-v1:0'


def case(case_id, service, operation, region='us-east-1', path_style=False, **params):
    return {'id': case_id, 'service': service, 'operation': operation, 'region': region, 'path_style': path_style, 'params': params}


CASES = [
    # S3: addressing, key encoding, versions, sub-resource headers, copies, multipart, XML bodies.
    case('s3-get-odd-key', 's3', 'GetObject', Bucket=BUCKET, Key=ODD_KEY),
    case('s3-get-odd-key-path-style', 's3', 'GetObject', path_style=True, Bucket=BUCKET, Key=ODD_KEY),
    case('s3-get-version', 's3', 'GetObject', Bucket=BUCKET, Key='report.csv', VersionId='3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY'),
    case('s3-head-eu', 's3', 'HeadObject', region='eu-west-1', Bucket='corpus-eu', Key='a=b/c.txt'),
    case('s3-put-tagging-acl', 's3', 'PutObject', Bucket=BUCKET, Key='up/new file.txt', Body=b'hello', Tagging='team=data&tier=1', ACL='bucket-owner-full-control'),
    case('s3-copy', 's3', 'CopyObject', Bucket=BUCKET, Key='copies/dst.txt', CopySource={'Bucket': 'src-bucket', 'Key': 'in/a b+c.txt'}),
    case('s3-upload-part-copy', 's3', 'UploadPartCopy', Bucket=BUCKET, Key='big/object.bin', PartNumber=2, UploadId='upl-1', CopySource='src-bucket/in/part.bin'),
    case('s3-delete-objects', 's3', 'DeleteObjects', Bucket=BUCKET, Delete={'Objects': [{'Key': 'old/a b.txt'}, {'Key': 'old/x&y<z>.txt'}], 'Quiet': True}),
    case('s3-create-multipart', 's3', 'CreateMultipartUpload', Bucket=BUCKET, Key='big/object.bin'),
    case('s3-upload-part', 's3', 'UploadPart', Bucket=BUCKET, Key='big/object.bin', PartNumber=1, UploadId='upl-1', Body=b'part one'),
    case('s3-complete-multipart', 's3', 'CompleteMultipartUpload', Bucket=BUCKET, Key='big/object.bin', UploadId='upl-1', MultipartUpload={'Parts': [{'ETag': '"etag1"', 'PartNumber': 1}]}),
    case('s3-list-objects-v2', 's3', 'ListObjectsV2', Bucket=BUCKET, Prefix='dir/'),
    case('s3-list-buckets', 's3', 'ListBuckets'),
    # DynamoDB
    case('ddb-get-item', 'dynamodb', 'GetItem', TableName='orders', Key={'id': {'S': '1'}}),
    case('ddb-query-index', 'dynamodb', 'Query', TableName='orders', IndexName='by-customer', KeyConditionExpression='customer = :c', ExpressionAttributeValues={':c': {'S': 'c1'}}),
    case('ddb-batch-write', 'dynamodb', 'BatchWriteItem', RequestItems={'orders': [{'PutRequest': {'Item': {'id': {'S': '2'}}}}], 'audit': [{'DeleteRequest': {'Key': {'id': {'S': '3'}}}}]}),
    # SQS (JSON; the query form is built below)
    case('sqs-send', 'sqs', 'SendMessage', QueueUrl=QUEUE_URL, MessageBody='hello'),
    case('sqs-delete-batch', 'sqs', 'DeleteMessageBatch', QueueUrl=QUEUE_URL, Entries=[{'Id': '1', 'ReceiptHandle': 'rh-1'}]),
    case('sqs-create-queue', 'sqs', 'CreateQueue', QueueName='jobs-dlq'),
    # SNS
    case('sns-publish', 'sns', 'Publish', TopicArn=f'arn:aws:sns:us-east-1:{ACCOUNT}:alerts', Message='hi'),
    case('sns-create-topic', 'sns', 'CreateTopic', Name='alerts'),
    # KMS
    case('kms-encrypt-alias', 'kms', 'Encrypt', KeyId='alias/app', Plaintext=b'secret'),
    case('kms-decrypt-arn', 'kms', 'Decrypt', KeyId=f'arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}', CiphertextBlob=b'\x01\x02\x03'),
    case('kms-describe-key-id', 'kms', 'DescribeKey', KeyId=KEY_ID),
    # Secrets Manager
    case('sm-get-by-name', 'secretsmanager', 'GetSecretValue', SecretId='prod/db'),
    case('sm-get-by-arn', 'secretsmanager', 'GetSecretValue', SecretId=f'arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-AbCdEf'),
    # SSM
    case('ssm-get-parameter', 'ssm', 'GetParameter', Name='/app/db/url', WithDecryption=True),
    case('ssm-get-by-path', 'ssm', 'GetParametersByPath', Path='/app', Recursive=True),
    # Lambda
    case('lambda-invoke-qualified', 'lambda', 'Invoke', FunctionName='my-fn', Qualifier='prod', Payload=b'{}'),
    case('lambda-get-function-name', 'lambda', 'GetFunction', FunctionName='my-fn'),
    case('lambda-get-function-arn', 'lambda', 'GetFunction', region='eu-west-1', FunctionName=f'arn:aws:lambda:eu-west-1:{ACCOUNT}:function:other-fn'),
    # IAM, STS
    case('iam-get-role', 'iam', 'GetRole', RoleName='deploy'),
    case('iam-create-user-path', 'iam', 'CreateUser', UserName='ci-bot', Path='/bots/'),
    case('sts-caller-identity', 'sts', 'GetCallerIdentity'),
    case('sts-assume-role', 'sts', 'AssumeRole', RoleArn=f'arn:aws:iam::{ACCOUNT}:role/deploy', RoleSessionName='corpus'),
    # EC2
    case('ec2-describe-instances', 'ec2', 'DescribeInstances'),
    case('ec2-terminate', 'ec2', 'TerminateInstances', InstanceIds=['i-0abc', 'i-0def']),
    case('ec2-run-instances', 'ec2', 'RunInstances', ImageId='ami-0abc', MinCount=1, MaxCount=1, InstanceType='t3.micro', SubnetId='subnet-0abc', SecurityGroupIds=['sg-0abc']),
    case('ec2-run-instances-tagged', 'ec2', 'RunInstances', ImageId='ami-0abc', MinCount=1, MaxCount=1, TagSpecifications=[{'ResourceType': 'instance', 'Tags': [{'Key': 'team', 'Value': 'data'}]}, {'ResourceType': 'volume', 'Tags': [{'Key': 'team', 'Value': 'data'}]}]),
    # CloudWatch Logs, CloudWatch (boto3 speaks Smithy RPC v2 CBOR to it)
    case('logs-put-events', 'logs', 'PutLogEvents', logGroupName='/app/web', logStreamName='i-0abc/stdout', logEvents=[{'timestamp': 1700000000000, 'message': 'hi'}]),
    case('cw-put-metric-data', 'cloudwatch', 'PutMetricData', Namespace='App', MetricData=[{'MetricName': 'Requests', 'Value': 1.0}]),
    case('cw-delete-alarms', 'cloudwatch', 'DeleteAlarms', AlarmNames=['high-cpu', 'low-disk']),
    # Containers
    case('ecs-run-task', 'ecs', 'RunTask', cluster='prod', taskDefinition='web:3'),
    case('ecs-describe-services', 'ecs', 'DescribeServices', cluster='prod', services=['web']),
    case('ecr-auth-token', 'ecr', 'GetAuthorizationToken'),
    case('ecr-batch-get-image', 'ecr', 'BatchGetImage', registryId=ACCOUNT, repositoryName='app/web', imageIds=[{'imageTag': 'v1'}]),
    # Streams, workflows, events
    case('kinesis-put-record', 'kinesis', 'PutRecord', StreamName='clicks', Data=b'x', PartitionKey='p'),
    case('sfn-start', 'stepfunctions', 'StartExecution', stateMachineArn=f'arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:orders', input='{}'),
    case('sfn-describe-execution', 'stepfunctions', 'DescribeExecution', executionArn=f'arn:aws:states:us-east-1:{ACCOUNT}:execution:orders:run-1'),
    case('events-put-events', 'events', 'PutEvents', Entries=[{'Source': 'app', 'DetailType': 'order', 'Detail': '{}', 'EventBusName': 'orders'}]),
    case('events-put-rule', 'events', 'PutRule', Name='nightly', ScheduleExpression='rate(1 day)'),
    # Analytics
    case('athena-start-query', 'athena', 'StartQueryExecution', QueryString='SELECT 1', WorkGroup='analytics'),
    case('glue-get-table', 'glue', 'GetTable', DatabaseName='sales', Name='orders'),
    # Bedrock Runtime: the model id's ':' is percent-encoded in the path
    case('bedrock-invoke-model', 'bedrock-runtime', 'InvokeModel', modelId=MODEL, body=b'{"prompt":"hi"}', contentType='application/json'),
    case('bedrock-converse', 'bedrock-runtime', 'Converse', modelId=MODEL, messages=[{'role': 'user', 'content': [{'text': 'hi'}]}]),
    # API Gateway, Route 53, ELBv2, CloudFormation
    case('apigw-get-rest-apis', 'apigateway', 'GetRestApis'),
    case('apigw-get-rest-api', 'apigateway', 'GetRestApi', restApiId='a1b2c3'),
    case('r53-change-rrsets', 'route53', 'ChangeResourceRecordSets', HostedZoneId='/hostedzone/Z0123456789ABC',
         ChangeBatch={'Changes': [{'Action': 'UPSERT', 'ResourceRecordSet': {'Name': 'a.example.com', 'Type': 'A', 'TTL': 60, 'ResourceRecords': [{'Value': '192.0.2.1'}]}}]}),
    case('r53-list-zones', 'route53', 'ListHostedZones'),
    case('elbv2-describe', 'elbv2', 'DescribeLoadBalancers'),
    case('elbv2-delete', 'elbv2', 'DeleteLoadBalancer', LoadBalancerArn=f'arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/app/web/50dc6c495c0c9188'),
    case('cfn-describe-stacks', 'cloudformation', 'DescribeStacks', StackName='web'),
    case('cfn-create-stack', 'cloudformation', 'CreateStack', StackName='web', TemplateBody='{"Resources":{}}'),
]


class Captured(Exception):
    def __init__(self, request):
        super().__init__('captured')
        self.request = request


def capture(request, **_):
    raise Captured(request)


session = boto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key='corpus-secret', region_name='us-east-1')
clients = {}


def client_for(service, region, path_style=False):
    key = (service, region, path_style)
    if key not in clients:
        config = Config(retries={'total_max_attempts': 1}, s3={'addressing_style': 'path' if path_style else 'auto'})
        client = session.client(service, region_name=region, config=config)
        client.meta.events.register('before-send', capture)
        clients[key] = client
    return clients[key]


def wire(request, **fields):
    """What goes on the wire: the request target exactly as urllib3 sends it (botocore's URL is already encoded)."""
    url = urlsplit(request.url)
    headers = {name.lower(): value.decode() if isinstance(value, bytes) else value for name, value in request.headers.items()}
    headers.setdefault('host', url.netloc)  # http.client adds it from the URL
    body = request.body
    if hasattr(body, 'read'):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    return {
        'sdk': 'boto3', **fields, 'method': request.method, 'host': url.netloc, 'rawPath': url.path, 'rawQuery': url.query,
        'headers': headers, 'bodyBase64': base64.b64encode(body or b'').decode(),
    }


def run(c):
    client = client_for(c['service'], c['region'], c['path_style'])
    try:
        getattr(client, xform_name(c['operation']))(**c['params'])
    except Captured as captured:
        return wire(captured.request, id=c['id'], service=c['service'], operation=c['operation'])
    raise RuntimeError(f"{c['id']}: no request was sent")


def sqs_query_send():
    """SendMessage in the query protocol that older SDKs and the CLI v1 still send. boto3 speaks JSON to SQS,
    so the form is made by botocore's own query serializer from the SQS model and signed by hand."""
    operation = client_for('sqs', 'us-east-1').meta.service_model.operation_model('SendMessage')
    request_dict = create_serializer('query').serialize_to_request({'QueueUrl': QUEUE_URL, 'MessageBody': 'hello'}, operation)
    prepare_request_dict(request_dict, endpoint_url='https://sqs.us-east-1.amazonaws.com')
    request = create_request_object(request_dict)
    SigV4Auth(session.get_credentials(), 'sqs', 'us-east-1').add_auth(request)
    return wire(request.prepare(), id='sqs-query-send', service='sqs', operation='SendMessage', handBuilt=True)


def main():
    for c in CASES:
        print(json.dumps(run(c)))
    print(json.dumps(sqs_query_send()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
