// AWS SDK for JavaScript v3 as an agent runs it: credentials from the environment, the
// countersign CA trusted through NODE_EXTRA_CA_CERTS, and either HTTPS_PROXY (the SDK needs a
// proxy agent for it) or AWS_ENDPOINT_URL (endpoint mode). Prints outcomes as one JSON list.
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { HttpsProxyAgent } from 'https-proxy-agent';

const proxy = process.env.HTTPS_PROXY;
const endpoint = process.env.AWS_ENDPOINT_URL;
const common = {
  region: 'us-east-1',
  maxAttempts: 1,
  ...(proxy ? { requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsProxyAgent(proxy) }) } : {}),
  ...(endpoint ? { endpoint } : {}),
};
const s3 = new S3Client({ ...common, forcePathStyle: Boolean(endpoint) });
const dynamo = new DynamoDBClient(common);

const calls = JSON.parse(process.argv[2]);
const outcomes = [];
for (const call of calls) {
  try {
    if (call.op === 'GetObject') {
      const out = await s3.send(new GetObjectCommand(call.params));
      outcomes.push({ ok: true, body: await out.Body.transformToString() });
    } else if (call.op === 'GetItem') {
      const out = await dynamo.send(new GetItemCommand(call.params));
      outcomes.push({ ok: true, item: out.Item });
    } else {
      throw new Error(`unknown op ${call.op}`);
    }
  } catch (error) {
    outcomes.push({ ok: false, name: error.name, message: error.message, status: error.$metadata?.httpStatusCode });
  }
}
s3.destroy();
dynamo.destroy();
process.stdout.write(JSON.stringify(outcomes) + '\n');
