/* global process, Buffer, setTimeout, clearTimeout, URL */
// The real parts the soak runs (scripts/soak/run.js): redis-server with an fsync'd append-only
// file (so a restart keeps its data), countersign replicas as child processes, a TCP balancer
// standing in for the Kubernetes Service, a recording pass-through in front of moto, and an agent
// that signs its own S3 requests (endpoint mode) so it sees countersign's request id and codes.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { signRequest } from '../../dist/aws/sigv4.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export { freePort } from '../../dist/demo/free-port.js';

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

function pong(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write('PING\r\n'));
    socket.once('data', (d) => (socket.destroy(), resolve(d.toString().startsWith('+PONG'))));
    socket.once('error', () => resolve(false));
  });
}

/** redis-server on `port`, its append-only file in `dir`, fsync'd on every write: a restart loses nothing. */
export async function startRedis(port, dir) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (!(await pong(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('redis-server did not start (is it on PATH?)');
    await pause(50);
  }
  const exited = new Promise((r) => child.once('exit', r));
  return { url: `redis://127.0.0.1:${port}`, port, child, stop: async (signal = 'SIGKILL') => (child.exitCode === null && child.kill(signal), await exited) };
}

/** `countersign serve` with `env`; resolves once it listens, with its ports and pid. Logs go nowhere (volume). */
export function startReplica(name, env) {
  const child = spawn(process.execPath, [CLI, 'serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${stderr}`)), 30_000);
    const early = (code) => (clearTimeout(timer), reject(new Error(`${name} exited with ${code}:\n${stderr}`)));
    child.once('exit', early);
    child.stderr.on('data', () => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)[\s\S]*readyz[\s\S]*decide at: http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
      const admin = /readiness: http:\/\/127\.0\.0\.1:(\d+)\/readyz/.exec(stderr);
      if (m === null || admin === null) return;
      clearTimeout(timer);
      child.off('exit', early);
      resolve({
        name,
        pid: child.pid,
        port: Number(m[1]),
        reviewPort: Number(m[2]),
        adminPort: Number(admin[1]),
        alive: () => child.exitCode === null && child.signalCode === null,
        stop: async (signal = 'SIGTERM') => (child.exitCode === null && child.signalCode === null && child.kill(signal), await exited),
      });
    });
  });
}

/** Resident set size of a process, in bytes (Linux). */
export function rssOf(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? NaN : Number(m[1]) * 1024;
}

/** Round-robin over the live backends: each new connection goes to the next one that accepts it. */
export async function startBalancer(backends) {
  const state = { backends, next: 0 };
  const sockets = new Set();
  const track = (s) => (sockets.add(s), s.once('close', () => sockets.delete(s)));
  const route = (client, tries) => {
    const list = state.backends;
    if (tries >= list.length || list.length === 0) return client.destroy();
    const port = list[state.next++ % list.length];
    const upstream = track(net.connect({ host: '127.0.0.1', port }));
    let connected = false;
    upstream.once('error', () => (connected ? client.destroy() : route(client, tries + 1)));
    upstream.once('connect', () => {
      connected = true;
      client.pipe(upstream).on('error', () => undefined);
      upstream.pipe(client).on('error', () => undefined);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
      client.resume();
    });
  };
  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    track(client);
    client.on('error', () => client.destroy());
    route(client, 0);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    set backends(next) {
      state.backends = next;
    },
    close: () => (sockets.forEach((s) => s.destroy()), new Promise((r) => server.close(r))),
  };
}

/** Where countersign's webhook notices arrive: each names an approval and what it asks. */
export async function startNoticeReceiver(onNotice) {
  const server = http.createServer((req, res) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => {
      try {
        onNotice(JSON.parse(Buffer.concat(parts).toString()));
      } catch {
        // not a notice
      }
      res.end('ok');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/notices`, close: () => (server.closeAllConnections(), new Promise((r) => server.close(r))) };
}

/** A pass-through to moto that records every request countersign sent upstream (method and path). */
export async function startTap(target) {
  const upstream = new URL(target);
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, host: req.headers.host });
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => (server.closeAllConnections(), new Promise((r) => server.close(r))) };
}

/**
 * One signed S3 GetObject, path style, in endpoint mode (plain HTTP to countersign): the answer's
 * status, countersign's request id and error code. A new connection each time, so the balancer
 * spreads them; a dropped connection (a killed replica) is status 0.
 */
export async function s3Get(port, key, bucket, object) {
  const host = `127.0.0.1:${port}`;
  const rawPath = `/${bucket}/${object}`;
  const headers = await signRequest({ method: 'GET', host, rawPath, query: {}, headers: { host, 'x-amz-content-sha256': EMPTY_SHA256 } }, key, 'us-east-1', 's3');
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'GET', path: rawPath, headers, agent: false, timeout: 90_000 }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          requestId: res.headers['x-countersign-request-id'],
          code: res.headers['x-countersign-error'],
          approvalId: res.headers['x-countersign-approval-id'],
          body: Buffer.concat(parts).toString(),
        }),
      );
      res.on('error', (error) => resolve({ status: 0, error: error.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ status: 0, error: error.message }));
    req.end();
  });
}
