// An independent SigV4 signer for the unit tests: botocore's SigV4Auth / S3SigV4Auth, with its
// clock pinned to AMZ_DATE, in one python3 run per batch of requests.
import { execFileSync } from 'node:child_process';
import { parseQuery } from '../../src/aws/query-string.js';
import { parseAuthorization, type SigV4Authorization, type SignableRequest } from '../../src/aws/sigv4.js';

export const AMZ_DATE = '20240102T030405Z';
export const SIGNING_DATE = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));

/** A request as botocore is given it: a whole URL, the headers the client set, a text body. */
export interface BotocoreRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly service: string;
  readonly region: string;
}

export interface BotocoreCredentials {
  readonly accessKey: string;
  readonly secretKey: string;
  readonly token?: string;
}

const SIGNER = String.raw`
import sys, json, datetime
from unittest import mock
import botocore.auth as auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
batch = json.loads(sys.argv[1])
when = datetime.datetime.strptime(batch['date'], '%Y%m%dT%H%M%SZ')
creds = Credentials(batch['accessKey'], batch['secretKey'], batch.get('token'))
out = []
for spec in batch['requests']:
    signer = (auth.S3SigV4Auth if spec['service'] == 's3' else auth.SigV4Auth)(creds, spec['service'], spec['region'])
    request = AWSRequest(method=spec['method'], url=spec['url'], headers=spec['headers'], data=spec['body'].encode('utf-8'))
    with mock.patch.object(auth, 'get_current_datetime', return_value=when):
        signer.add_auth(request)
    out.append({k.lower(): v for k, v in request.headers.items()})
print(json.dumps(out))
`;

/** The headers botocore set on each request (X-Amz-Date, Authorization, ...), names in lower case. */
export function botocoreSign(requests: readonly BotocoreRequest[], credentials: BotocoreCredentials): Record<string, string>[] {
  const batch = { ...credentials, date: AMZ_DATE, requests };
  return JSON.parse(execFileSync('python3', ['-c', SIGNER, JSON.stringify(batch)], { encoding: 'utf8' })) as Record<string, string>[];
}

/** The request as countersign receives it: the signed headers only, the raw path, the decoded query. */
export function asReceived(spec: BotocoreRequest, signed: Record<string, string>): { request: SignableRequest; authorization: string; auth: SigV4Authorization } {
  const url = new URL(spec.url);
  const authorization = signed.authorization ?? '';
  const auth = parseAuthorization(authorization);
  const all: Record<string, string> = { ...signed, host: url.host };
  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    const value = all[name];
    if (value === undefined) throw new Error(`botocore signed ${name} but did not set it`);
    headers[name] = value;
  }
  const target = spec.url.slice(url.origin.length);
  const q = target.indexOf('?');
  return {
    request: {
      method: spec.method,
      host: url.host,
      rawPath: q === -1 ? target : target.slice(0, q),
      query: parseQuery(q === -1 ? '' : target.slice(q + 1)),
      headers,
      body: Buffer.from(spec.body),
    },
    authorization,
    auth,
  };
}
