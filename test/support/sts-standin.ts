// A stand-in for STS on loopback, in front of moto: it passes requests through, delays them, or
// swallows them (accepts the connection, never answers: a blackholed VPC endpoint). It counts
// the requests it holds at once, so a test can see that minting does not pile up.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type StsMode = { readonly kind: 'pass' } | { readonly kind: 'delay'; readonly ms: number } | { readonly kind: 'blackhole' };

export interface StsStandIn {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  mode: StsMode;
  /** Requests seen, and the most held at once. */
  readonly seen: number;
  readonly peak: number;
  readonly holding: number;
  close(): Promise<void>;
}

export async function startStsStandIn(target: string): Promise<StsStandIn> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  let holding = 0;
  let peak = 0;
  let seen = 0;
  const state = { mode: { kind: 'pass' } as StsMode };
  const pass = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', () => res.destroy());
    out.end(body);
  };
  const server = createServer((req, res) => {
    seen += 1;
    holding += 1;
    peak = Math.max(peak, holding);
    res.once('close', () => (holding -= 1));
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const mode = state.mode;
      if (mode.kind === 'blackhole') return; // never answers; the client must give up by itself
      if (mode.kind === 'delay') setTimeout(() => pass(req, res, Buffer.concat(parts)), mode.ms);
      else pass(req, res, Buffer.concat(parts));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return state.mode;
    },
    set mode(next: StsMode) {
      state.mode = next;
    },
    get seen() {
      return seen;
    },
    get peak() {
      return peak;
    },
    get holding() {
      return holding;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
