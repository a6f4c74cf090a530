// A real HTTP receiver on 127.0.0.1 for the notification tests: it records every request as it
// arrived (and when) and answers as told. Started receivers are closed by closeReceivers().
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** performance.now() when the body had arrived. */
  readonly at: number;
}

export interface Receiver {
  readonly base: string;
  readonly requests: Received[];
  close(): Promise<void>;
}

/** Every receiver started and not yet closed by closeReceivers, oldest first. */
export const receivers: Receiver[] = [];

export async function startReceiver(reply: (res: ServerResponse, index: number) => void = (res) => res.end('ok')): Promise<Receiver> {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: performance.now() });
      reply(res, requests.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const receiver: Receiver = {
    base: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  receivers.push(receiver);
  return receiver;
}

/** Closes every receiver started so far (for afterEach). */
export async function closeReceivers(): Promise<void> {
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
}
