// A TCP load balancer on loopback, as a Kubernetes Service is to the agents: each new connection
// goes to the first backend that accepts it, so when one replica dies the agents' next
// connections (their retries) land on another. Bytes are piped as they are (CONNECT tunnels too).
import net from 'node:net';

export interface TcpBalancer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** Backend ports, tried in this order for every new connection. */
  backends: number[];
  close(): Promise<void>;
}

export async function startTcpBalancer(backends: number[]): Promise<TcpBalancer> {
  const state = { backends };
  const open = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  };
  const connectFirst = (client: net.Socket, candidates: number[]) => {
    const [port, ...rest] = candidates;
    if (port === undefined) return client.destroy();
    const upstream = net.connect({ host: '127.0.0.1', port });
    let connected = false;
    track(upstream);
    upstream.once('error', () => {
      // Refused (a dead replica): the next backend; reset mid-stream: the client sees it close.
      if (!connected && rest.length > 0) connectFirst(client, rest);
      else client.destroy();
    });
    upstream.once('connect', () => {
      connected = true;
      client.pipe(upstream);
      upstream.pipe(client);
      client.once('error', () => upstream.destroy());
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
      client.resume();
    });
  };
  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    track(client);
    client.on('error', () => client.destroy());
    connectFirst(client, [...state.backends]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    get backends() {
      return state.backends;
    },
    set backends(next: number[]) {
      state.backends = next;
    },
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
