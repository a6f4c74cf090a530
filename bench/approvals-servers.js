// In-process servers for the POST → upstream scenario of bench/approvals.js. They run in the
// orchestrator, so the moment the reviewer's POST leaves and the moment the upstream sees the
// released request are read from one clock (performance.now() of one process).
//
// - the S3 stand-in: answers GET /BUCKET/KEY with a small body, records when each path arrived
//   and refuses (403) anything not re-signed (no Authorization, the agent's key id, no STS token);
// - a timing relay in front of moto's STS: records when each AssumeRole came in and when its
//   answer went back, so the STS round trip can be told apart from countersign's own time;
// - a webhook receiver for countersign's approval notices (how the bench learns approval ids).
import http from 'node:http';

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

/** Resolves `key`'s waiter with `value`, or keeps the value for a waiter still to come. */
function rendezvous() {
  const values = new Map();
  const waiters = new Map();
  return {
    put(key, value) {
      const waiter = waiters.get(key);
      if (waiter !== undefined) {
        waiters.delete(key);
        waiter(value);
      } else values.set(key, value);
    },
    take(key, timeoutMs, what) {
      if (values.has(key)) {
        const value = values.get(key);
        values.delete(key);
        return Promise.resolve(value);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(key);
          reject(new Error(`${what} for ${key} did not arrive within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        waiters.set(key, (value) => {
          clearTimeout(timer);
          resolve(value);
        });
      });
    },
  };
}

const BODY = Buffer.from('approved object: countersign approvals bench\n');

export async function startTimedUpstream(agentKeyId) {
  const arrivals = rendezvous();
  const stats = { served: 0, refused: 0, reasons: [] };
  const refuse = (res, why) => {
    stats.refused++;
    if (stats.reasons.length < 5) stats.reasons.push(why);
    res.writeHead(403, { 'content-type': 'application/xml' });
    res.end(`<Error><Code>${why}</Code></Error>`);
  };
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const at = performance.now();
    const auth = req.headers.authorization ?? '';
    if (auth === '') return refuse(res, 'MissingAuthorization');
    if (auth.includes(agentKeyId)) return refuse(res, 'AgentKeyReachedUpstream');
    if (req.headers['x-amz-security-token'] === undefined) return refuse(res, 'NoSessionToken');
    stats.served++;
    arrivals.put(req.url, at);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY.length, 'x-amz-request-id': 'BENCH' });
    res.end(BODY);
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    /** performance.now() when `path` reached the upstream. */
    arrival: (path, timeoutMs = 15_000) => arrivals.take(path, timeoutMs, 'the released request'),
    close: () => new Promise((r) => server.close(r)),
  };
}

export async function startStsRelay(target) {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const calls = [];
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const call = { start: performance.now(), end: NaN, assumeRole: false, status: 0 };
    calls.push(call);
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      call.assumeRole = body.includes('Action=AssumeRole');
      // Headers go as they came: moto checks the SigV4 signature, which covers Host.
      const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
        call.status = answer.statusCode;
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      });
      out.once('error', (error) => {
        res.writeHead(502);
        res.end(String(error));
      });
      out.end(body);
    });
    res.once('finish', () => (call.end = performance.now()));
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () => {
      agent.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

export async function startWebhookReceiver() {
  const notices = rendezvous();
  let received = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d.toString()));
    req.on('end', () => {
      res.end('ok');
      try {
        const notice = JSON.parse(body);
        received++;
        for (const resource of notice.approval?.context?.resources ?? []) notices.put(resource, notice);
      } catch {
        // not a notice
      }
    });
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received: () => received,
    /** The approval.requested notice for `resource` (an S3 object ARN). */
    notice: (resource, timeoutMs = 10_000) => notices.take(resource, timeoutMs, 'the approval notice'),
    close: () => new Promise((r) => server.close(r)),
  };
}
