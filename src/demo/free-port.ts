import net from 'node:net';

/**
 * A TCP port free on 127.0.0.1 right now, for a child process (moto, Redis, countersign) that
 * must be told its port up front. Shared by the demo and the scripts that start such children
 * (the peer suite, the soak) through dist/demo/free-port.js.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('could not determine a free port'));
        return;
      }
      srv.close(() => resolve(addr.port));
    });
  });
}
