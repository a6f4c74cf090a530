// The benchmark's S3 and DynamoDB stand-in: a tiny, fast origin serving `GET /BUCKET/KEY` with a
// fixed 1 KiB body, taking `PUT /BUCKET/KEY` uploads (the body is read, counted and dropped; the
// answer is 200 with an ETag), and answering DynamoDB's `GetItem` (`POST /` with
// `X-Amz-Target: DynamoDB_20120810.GetItem`: the JSON body is read and parsed, the answer is a
// fixed item), over HTTPS (certificate from its own throwaway CA) and plain HTTP. It refuses
// (403) a request without an Authorization header, or one still carrying an agent's access key
// id (proving the proxy re-signed it), and counts what it served.
//
// Started by bench/run.js and bench/upload.js as its own process. Input: env BENCH_AGENT_KEY_ID
// (comma-separated when several agents' keys must not pass), BENCH_CERT_FILE, BENCH_KEY_FILE.
// Output: one JSON line on stdout, {"httpsPort", "httpPort"}. `GET /__stats` on the HTTP port
// answers the counters as JSON (not counted; `connections` counts the TCP connections that
// carried at least one other request).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { DYNAMODB, S3_OBJECT as BODY } from './workloads.js';

const agentKeyIds = (process.env.BENCH_AGENT_KEY_ID ?? '').split(',').filter((id) => id !== '');
const connectionsSeen = new WeakSet();
const stats = { connections: 0, served: 0, withSessionToken: 0, withRewrittenHeader: 0, rejectedNoAuth: 0, rejectedAgentKey: 0, notFound: 0, uploads: 0, uploadedBytes: 0 };

function handle(req, res) {
  if (req.url === '/__stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  if (!connectionsSeen.has(req.socket)) {
    connectionsSeen.add(req.socket);
    stats.connections++;
  }
  const auth = req.headers.authorization;
  if (auth === undefined || auth === '') {
    stats.rejectedNoAuth++;
    return refuse(res, 403, 'MissingAuthorization');
  }
  if (agentKeyIds.some((id) => auth.includes(id))) {
    stats.rejectedAgentKey++;
    return refuse(res, 403, 'AgentKeyReachedUpstream');
  }
  if (req.method === 'POST' && req.url === '/' && req.headers['x-amz-target'] === DYNAMODB.target) return getItem(req, res);
  const objectPath = /^\/[a-z0-9.-]+\/./.test(req.url ?? '');
  if (req.method === 'PUT' && objectPath) return upload(req, res);
  if (req.method !== 'GET' || !objectPath) {
    stats.notFound++;
    return refuse(res, 404, 'NoSuchKey');
  }
  count(req);
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': BODY.length,
    etag: '"bench-1k"',
    'last-modified': 'Thu, 01 Jan 2026 00:00:00 GMT',
    'x-amz-request-id': 'BENCH',
  });
  res.end(BODY);
}

/** One request served: its session token and the mitmdump addon's header counted. */
function count(req) {
  stats.served++;
  if (req.headers['x-amz-security-token'] !== undefined) stats.withSessionToken++;
  if (req.headers['x-bench-rewritten'] !== undefined) stats.withRewrittenHeader++;
}

/** DynamoDB GetItem: the body is read and must name a table and a key; the answer is the fixed item. */
function getItem(req, res) {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    let input;
    try {
      input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      input = undefined;
    }
    if (typeof input?.TableName !== 'string' || typeof input.Key !== 'object') {
      stats.notFound++;
      res.writeHead(400, { 'content-type': DYNAMODB.contentType });
      res.end('{"__type":"com.amazon.coral.validate#ValidationException"}');
      return;
    }
    count(req);
    res.writeHead(200, { 'content-type': DYNAMODB.contentType, 'content-length': DYNAMODB.item.length, 'x-amzn-requestid': 'BENCH' });
    res.end(DYNAMODB.item);
  });
}

/** PUT: reads the body to its end, counting the bytes; the upload counts once it is whole. */
function upload(req, res) {
  let bytes = 0;
  req.on('data', (chunk) => (bytes += chunk.length));
  req.on('end', () => {
    count(req);
    stats.uploads++;
    stats.uploadedBytes += bytes;
    res.writeHead(200, { etag: '"bench-upload"', 'content-length': 0, 'x-amz-request-id': 'BENCH' });
    res.end();
  });
}

function refuse(res, status, code) {
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const serverOptions = { keepAliveTimeout: 60_000, headersTimeout: 65_000 };
const httpsServer = https.createServer(
  { ...serverOptions, cert: readFileSync(process.env.BENCH_CERT_FILE ?? ''), key: readFileSync(process.env.BENCH_KEY_FILE ?? '') },
  handle,
);
const httpServer = http.createServer(serverOptions, handle);

const listen = (server) => new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', () => resolve(server.address().port));
});
const [httpsPort, httpPort] = await Promise.all([listen(httpsServer), listen(httpServer)]);
process.stdout.write(`${JSON.stringify({ httpsPort, httpPort })}\n`);
// Exit with the parent: stdin is a pipe from bench/run.js.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
