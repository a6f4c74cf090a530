// The benchmark's S3 stand-in: a tiny, fast origin serving `GET /BUCKET/KEY` with a fixed
// 1 KiB body, and taking `PUT /BUCKET/KEY` uploads (the body is read, counted and dropped; the
// answer is 200 with an ETag), over HTTPS (certificate from its own throwaway CA) and plain
// HTTP. It refuses (403) a request without an Authorization header, or one still carrying the
// agent's access key id (proving countersign re-signed it), and counts what it served.
//
// Started by bench/run.js and bench/upload.js as its own process. Input: env BENCH_AGENT_KEY_ID,
// BENCH_CERT_FILE, BENCH_KEY_FILE. Output: one JSON line on stdout, {"httpsPort", "httpPort"}.
// `GET /__stats` on the HTTP port answers the counters as JSON (not counted).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const BODY = Buffer.alloc(1024, 'countersign-bench/');
const agentKeyId = process.env.BENCH_AGENT_KEY_ID ?? '';
const stats = { served: 0, withSessionToken: 0, rejectedNoAuth: 0, rejectedAgentKey: 0, notFound: 0, uploads: 0, uploadedBytes: 0 };

function handle(req, res) {
  if (req.url === '/__stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  const auth = req.headers.authorization;
  if (auth === undefined || auth === '') {
    stats.rejectedNoAuth++;
    return refuse(res, 403, 'MissingAuthorization');
  }
  if (agentKeyId !== '' && auth.includes(agentKeyId)) {
    stats.rejectedAgentKey++;
    return refuse(res, 403, 'AgentKeyReachedUpstream');
  }
  const objectPath = /^\/[a-z0-9.-]+\/./.test(req.url ?? '');
  if (req.method === 'PUT' && objectPath) return upload(req, res);
  if (req.method !== 'GET' || !objectPath) {
    stats.notFound++;
    return refuse(res, 404, 'NoSuchKey');
  }
  stats.served++;
  if (req.headers['x-amz-security-token'] !== undefined) stats.withSessionToken++;
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': BODY.length,
    etag: '"bench-1k"',
    'last-modified': 'Thu, 01 Jan 2026 00:00:00 GMT',
    'x-amz-request-id': 'BENCH',
  });
  res.end(BODY);
}

/** PUT: reads the body to its end, counting the bytes; the upload counts once it is whole. */
function upload(req, res) {
  let bytes = 0;
  req.on('data', (chunk) => (bytes += chunk.length));
  req.on('end', () => {
    stats.served++;
    stats.uploads++;
    stats.uploadedBytes += bytes;
    if (req.headers['x-amz-security-token'] !== undefined) stats.withSessionToken++;
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
