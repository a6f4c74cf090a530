// AWS SDK for JavaScript v3 with the container credential provider (the default chain's fromHttp,
// from AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE): list a
// bucket, wait past the credentials' expiry, list again. Prints {keys, results} as JSON.
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpsProxyAgent } from 'https-proxy-agent';

const bucket = process.argv[2];
const once = process.argv[3] === 'once'; // one call, no wait
const s3 = new S3Client({ region: 'us-east-1', maxAttempts: 1, requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsProxyAgent(process.env.HTTPS_PROXY) }) });
const keys = [];
const results = [];
for (let attempt = 0; attempt < (once ? 1 : 2); attempt++) {
  try {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    results.push({ ok: true, keys: (out.Contents ?? []).map((o) => o.Key) });
  } catch (error) {
    results.push({ ok: false, code: error.name, message: error.message });
  }
  const credentials = await s3.config.credentials();
  keys.push(credentials.accessKeyId);
  if (attempt === 0 && !once) {
    await sleep(Math.max(0, credentials.expiration.getTime() - Date.now()) + 1500);
    process.stderr.write('waited\n');
  }
}
s3.destroy();
process.stdout.write(JSON.stringify({ keys, results }) + '\n');
