// A real redis-server on a free loopback port, for the approval store and multi-replica tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Whether the server on this port is the process we started: a port chosen free a moment ago
 * can be taken meanwhile by another test's Redis, which would answer PING just as well.
 */
async function answers(port: number, pid: number | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    let reply = '';
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write('INFO server\r\n'));
    const done = (ours: boolean) => {
      socket.destroy();
      resolve(ours);
    };
    socket.on('data', (d: Buffer) => {
      // One bulk reply ($LENGTH, then that many bytes), or an error (-LOADING while starting).
      reply += d.toString('latin1');
      if (reply.startsWith('-')) return done(false);
      const header = reply.indexOf('\r\n');
      if (header === -1 || reply.length < header + 2 + Number(reply.slice(1, header))) return;
      done(reply.includes(`process_id:${pid ?? -1}\r\n`));
    });
    socket.setTimeout(2_000, () => done(false));
    socket.once('error', () => resolve(false));
  });
}

/** Every server a test file started dies with it, even when the run is cut short. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Starts redis-server (from PATH; `bash .ci/run` installs it) with no persistence. */
export async function startRedis(port?: number): Promise<RedisServer> {
  const chosen = port ?? (await freePort());
  const child = spawn('redis-server', ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  track(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => undefined);
  const deadline = Date.now() + 10_000;
  while (!(await answers(chosen, child.pid))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${chosen} (taken, or not installed: bash .ci/run installs it)`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${chosen}`,
    port: chosen,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

// ---- Several processes: a replicated primary watched by Sentinels, and a Redis Cluster. ----

export interface RedisProcess {
  readonly port: number;
  /** Still running (not killed, not exited). */
  readonly alive: boolean;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP / SIGCONT: a replica that stops acknowledging without disconnecting. */
  pause(): void;
  resume(): void;
}

async function spawnRedis(port: number, args: readonly string[], cwd?: string): Promise<RedisProcess> {
  // A replica writes the snapshot its primary sends to its working directory (dump.rdb) even
  // with persistence off: never the repository's.
  const child = spawn('redis-server', [...args], { stdio: 'ignore', cwd: cwd ?? mkdtempSync(path.join(tmpdir(), 'cs-redis-')) });
  track(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => undefined);
  const deadline = Date.now() + 10_000;
  while (!(await answers(port, child.pid))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      if (child.exitCode === null) child.kill('SIGKILL');
      throw new Error(`redis-server ${args.join(' ')} did not start`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    get alive() {
      return child.exitCode === null && child.signalCode === null;
    },
    kill: async (signal: NodeJS.Signals = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill(signal);
      }
      await exited;
    },
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
  };
}

// A replica's full sync starts at once (Redis 7 waits 5 s by default for more replicas to join it).
const NO_PERSISTENCE = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--repl-diskless-sync-delay', '0'];

/** Polls until `check` holds (bounded); the last error explains a timeout. */
export async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One command over a short-lived connection (no client library state in the way of a fault test). */
export async function command(port: number, ...args: string[]): Promise<string> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const reply = await client.call(args[0] ?? 'PING', ...args.slice(1));
    return Array.isArray(reply) ? JSON.stringify(reply) : String(reply);
  } finally {
    client.disconnect();
  }
}

export interface SentinelGroup {
  readonly masterName: string;
  readonly sentinels: ReadonlyArray<{ host: string; port: number }>;
  /** The Redis processes by port: the first primary and its replica. */
  readonly servers: ReadonlyMap<number, RedisProcess>;
  /** The port of the server the Sentinels name as primary now. */
  primaryPort(): Promise<number>;
  /** Kills the server on this port (SIGKILL: no goodbye to anyone). */
  kill(port: number): Promise<void>;
  /**
   * Starts an empty server on a killed server's port as a replica of the current primary (as a
   * Sentinel-rewritten config would; the Sentinels alone take up to their 10 s INFO period).
   */
  restart(port: number): Promise<void>;
  /** Waits until the primary has a replica in sync (so WAIT 1 can succeed again). */
  replicated(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A primary, one replica and three Sentinels (quorum 2) on loopback, failing over within a few
 * seconds of the primary going down. Sentinels rewrite their config files, so each gets one in
 * a temporary directory.
 */
export async function startSentinelGroup(masterName = 'countersign-test'): Promise<SentinelGroup> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cs-sentinel-'));
  const started: RedisProcess[] = [];
  try {
    const [primaryPort, replicaPort, ...sentinelPorts] = await Promise.all(Array.from({ length: 5 }, () => freePort()));
    const primary = await spawnRedis(primaryPort!, ['--port', String(primaryPort), ...NO_PERSISTENCE]);
    started.push(primary);
    const replica = await spawnRedis(replicaPort!, ['--port', String(replicaPort), ...NO_PERSISTENCE, '--replicaof', '127.0.0.1', String(primaryPort)]);
    started.push(replica);
    await until('the replica to sync', async () => (await command(replicaPort!, 'INFO', 'replication')).includes('master_link_status:up'));
    for (const port of sentinelPorts) {
      const file = path.join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 4000`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      started.push(await spawnRedis(port, [file, '--sentinel']));
    }
    const sentinels = sentinelPorts.map((port) => ({ host: '127.0.0.1', port }));
    // Each Sentinel must know the replica and the others before a failover can be agreed.
    await until('the Sentinels to see the replica and each other', async () => {
      for (const { port } of sentinels) {
        const info = await command(port, 'SENTINEL', 'MASTER', masterName);
        const fields = JSON.parse(info) as string[];
        const field = (name: string) => Number(fields[fields.indexOf(name) + 1]);
        if (field('num-slaves') < 1 || field('num-other-sentinels') < 2) return false;
      }
      return true;
    });
    const servers = new Map([
      [primaryPort!, primary],
      [replicaPort!, replica],
    ]);
    const currentPrimary = async (): Promise<number> => {
      for (const { port } of sentinels) {
        try {
          const [, p] = JSON.parse(await command(port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as [string, string];
          return Number(p);
        } catch {
          // That Sentinel is not answering; ask the next.
        }
      }
      throw new Error('no Sentinel answered');
    };
    return {
      masterName,
      sentinels,
      servers,
      primaryPort: currentPrimary,
      kill: async (port) => {
        await servers.get(port)?.kill();
      },
      restart: async (port) => {
        const server = await spawnRedis(port, ['--port', String(port), ...NO_PERSISTENCE, '--replicaof', '127.0.0.1', String(await currentPrimary())]);
        started.push(server);
        servers.set(port, server);
      },
      replicated: () =>
        until('the primary to have a replica in sync', async () => {
          const info = await command(await currentPrimary(), 'INFO', 'replication');
          return info.includes('role:master') && /slave\d+:ip=[^,]+,port=\d+,state=online/.test(info);
        }, 30_000),
      stop: async () => {
        await Promise.all(started.map((p) => p.kill()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.all(started.map((p) => p.kill()));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export interface RedisClusterServers {
  readonly nodes: ReadonlyArray<{ host: string; port: number }>;
  stop(): Promise<void>;
}

/** Three primaries (no replicas) in a Redis Cluster on loopback, each slot assigned and the cluster state ok. */
export async function startRedisCluster(): Promise<RedisClusterServers> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cs-cluster-'));
  const started: RedisProcess[] = [];
  try {
    const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
    const nodes = [0, 1, 2].map((i) => ({ host: '127.0.0.1', port: ports[i]!, bus: ports[i + 3]! }));
    for (const node of nodes) {
      started.push(
        await spawnRedis(node.port, [
          '--port', String(node.port),
          // The bus port defaults to port + 10000, which may be taken or past 65535: choose it.
          '--cluster-port', String(node.bus),
          '--cluster-enabled', 'yes',
          '--cluster-config-file', path.join(dir, `nodes-${node.port}.conf`),
          '--cluster-node-timeout', '2000',
          ...NO_PERSISTENCE,
        ], dir),
      );
    }
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    await until('the cluster state to be ok on every node', async () => {
      for (const node of nodes) if (!(await command(node.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
      return true;
    });
    return {
      nodes: nodes.map(({ host, port }) => ({ host, port })),
      stop: async () => {
        await Promise.all(started.map((p) => p.kill()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.all(started.map((p) => p.kill()));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export interface ReplicatedRedis {
  /** redis://127.0.0.1:PORT of the primary. */
  readonly url: string;
  readonly primary: RedisProcess;
  readonly replica: RedisProcess;
  stop(): Promise<void>;
}

/** A primary and one replica in sync, without Sentinels (for WAIT, not for failover). */
export async function startReplicatedRedis(): Promise<ReplicatedRedis> {
  const [primaryPort, replicaPort] = await Promise.all([freePort(), freePort()]);
  const primary = await spawnRedis(primaryPort, ['--port', String(primaryPort), ...NO_PERSISTENCE]);
  try {
    const replica = await spawnRedis(replicaPort, ['--port', String(replicaPort), ...NO_PERSISTENCE, '--replicaof', '127.0.0.1', String(primaryPort)]);
    await until('the replica to sync', async () => (await command(replicaPort, 'INFO', 'replication')).includes('master_link_status:up'));
    return {
      url: `redis://127.0.0.1:${primaryPort}`,
      primary,
      replica,
      stop: async () => {
        await Promise.all([primary.kill(), replica.kill()]);
      },
    };
  } catch (error) {
    await primary.kill();
    throw error;
  }
}
