// Baseline for endpoint mode: a bare `http-proxy` passthrough (no identification, no policy, no
// signing) from plain HTTP to the bench upstream's plain HTTP port, with keep-alive upstream
// connections as countersign has. Run by bench/run.js as its own process.
// Input: env BENCH_TARGET (http://127.0.0.1:PORT). Output: one JSON line, {"port"}.
import http from 'node:http';
import httpProxy from 'http-proxy';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 30_000 });
const proxy = httpProxy.createProxyServer({ target: process.env.BENCH_TARGET, agent });
proxy.on('error', (error, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
  res.end(`bench http-proxy: ${error.message}\n`);
});
const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => proxy.web(req, res));
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
