// The floor for the held-requests scenario of bench/approvals.js: a bare Node HTTP server that
// holds every request it gets, doing nothing else, until told to answer. Measured the same way
// as countersign (same agents, same loop monitor, same /proc readings), it shows what Node's own
// HTTP machinery costs per held connection, so countersign's figures can be read as a ratio.
//
// Output: one JSON line on stdout, {"port"}. GET /healthz answers at once (for the prober).
// stdin: a line "release" answers every held request 200 (in slices of 200, yielding between).
import http from 'node:http';
import readline from 'node:readline';

const BODY = Buffer.from('released by the bare hold server\n');
const held = [];

const server = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
    return;
  }
  req.resume();
  held.push(res);
});

function release() {
  for (const res of held.splice(0, 200)) {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY.length });
    res.end(BODY);
  }
  if (held.length > 0) setImmediate(release);
}

server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'release') release();
});
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
