// An HTTP pass-through between countersign and moto that records what countersign forwarded,
// for tests that check what reached the upstream (or that nothing did).
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';

export interface Forwarded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** The whole body, when `keepBody` asked for it. */
  body?: Buffer;
}

export interface Tap {
  url: string;
  seen: Forwarded[];
  close(): void;
}

export interface TapOptions {
  /** Keep the body of requests these headers describe (signed streaming uploads). */
  readonly keepBody?: (headers: IncomingHttpHeaders) => boolean;
  /**
   * moto answers every request with `Connection: close`; return true to keep countersign's
   * connection alive instead, as S3 does.
   */
  readonly keepAlive?: (url: string) => boolean;
}

export async function startTap(target: string, options: TapOptions = {}): Promise<Tap> {
  const upstream = new URL(target);
  const seen: Forwarded[] = [];
  const server: Server = createServer((req, res) => {
    const record: Forwarded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
    seen.push(record);
    if (options.keepBody?.(req.headers) === true) {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => (record.body = Buffer.concat(parts)));
    }
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      const headers = { ...answer.headers };
      if (options.keepAlive?.(record.url) === true) delete headers.connection;
      res.writeHead(answer.statusCode ?? 502, headers);
      pipeline(answer, res, () => {});
    });
    out.on('error', () => res.destroy());
    // A request cut off on the way in is cut off on the way out too.
    pipeline(req, out, (error) => error && out.destroy(error));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => server.close() };
}
