// Stand-ins for the held-requests scenario of bench/approvals.js, one small process on plain
// HTTP: an STS that answers every AssumeRole at once with throwaway credentials, and a webhook
// sink that takes countersign's approval notices. 10,000 approvals mean 10,000 AssumeRole calls
// (one per approved action, by design); moto would take most of a minute for them, and the
// scenario measures countersign, not STS. The S3 stand-in (bench/upstream.js) does not check
// signatures against a secret, so throwaway credentials are enough.
//
// Output: one JSON line on stdout, {"port"}. `GET /__stats` answers the counters.
import http from 'node:http';
import { randomBytes } from 'node:crypto';

const stats = { assumeRole: 0, webhooks: 0, other: 0 };

function assumeRoleXml() {
  const id = randomBytes(8).toString('hex').toUpperCase();
  const expiration = new Date(Date.now() + 3600_000).toISOString();
  return `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIABENCH${id}</AccessKeyId><SecretAccessKey>bench-stub-secret-${id}</SecretAccessKey><SessionToken>bench-stub-session-token-${id}</SessionToken><Expiration>${expiration}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROABENCH:${id}</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/bench/${id}</Arn></AssumedRoleUser><PackedPolicySize>6</PackedPolicySize></AssumeRoleResult><ResponseMetadata><RequestId>${id}</RequestId></ResponseMetadata></AssumeRoleResponse>`;
}

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  if (req.url === '/__stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  let body = '';
  req.on('data', (d) => (body += d.toString()));
  req.on('end', () => {
    if (req.url === '/hook') {
      stats.webhooks++;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    } else if (req.method === 'POST' && body.includes('Action=AssumeRole')) {
      stats.assumeRole++;
      const xml = assumeRoleXml();
      res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(xml) });
      res.end(xml);
    } else {
      stats.other++;
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('unexpected request');
    }
  });
});

server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
