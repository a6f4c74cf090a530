import { createHash } from 'node:crypto';
import type { RedisClient } from './connect.js';

/** How many replicas must hold a write before countersign acts on it, and for how long to wait. */
export interface Durability {
  readonly minReplicas: number;
  readonly timeoutMs: number;
}

/**
 * The write ran on the primary, but fewer replicas than required acknowledged it in time: a
 * failover now could lose it. Callers fail closed (the result is kept for those that must
 * know whether the write happened, like the audit sink).
 */
export class NotReplicatedError extends Error {
  override readonly name = 'NotReplicatedError';
  constructor(
    readonly result: unknown,
    readonly acknowledged: number,
    readonly wanted: number,
    readonly timeoutMs: number,
  ) {
    super(`${acknowledged} of the ${wanted} required Redis replica(s) acknowledged the write within ${timeoutMs} ms`);
  }
}

export interface Script {
  /** Runs the script (atomic on the server). */
  run(keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown>;
  /**
   * Runs it and then Redis WAIT on the same connection, in one pipeline: on a Cluster the
   * pipeline goes to the node that owns the keys' slot, so WAIT counts that primary's replicas.
   * WAIT cannot run inside Lua, and must follow the write on the connection that sent it.
   */
  runDurable(keys: readonly string[], args: ReadonlyArray<string | number>, durability: Durability): Promise<unknown>;
}

type Call = (...args: Array<string | number>) => Promise<unknown>;

/** Defines a Lua script on a client (EVALSHA, loaded again on NOSCRIPT, as after a failover to a fresh replica). */
export function defineScript(client: RedisClient, source: string): Script {
  const name = `cs${createHash('sha1').update(source).digest('hex').slice(0, 12)}`;
  client.defineCommand(name, { lua: source });
  const direct = (client as unknown as Record<string, Call>)[name];
  if (direct === undefined) throw new Error('ioredis did not define the script command');
  return {
    run: (keys, args) => direct.call(client, keys.length, ...keys, ...args),
    async runDurable(keys, args, durability) {
      if (durability.minReplicas <= 0) return direct.call(client, keys.length, ...keys, ...args);
      const pipeline = client.pipeline();
      (pipeline as unknown as Record<string, (...a: Array<string | number>) => unknown>)[name]!(keys.length, ...keys, ...args);
      pipeline.wait(durability.minReplicas, durability.timeoutMs);
      const replies = await pipeline.exec();
      const [scriptError, result] = replies?.[0] ?? [new Error('Redis returned no reply'), undefined];
      if (scriptError !== null) throw scriptError;
      const [waitError, acknowledged] = replies?.[1] ?? [new Error('Redis returned no reply to WAIT'), undefined];
      // A server that refuses WAIT cannot promise replication: the same as too few replicas.
      if (waitError !== null) throw new NotReplicatedError(result, 0, durability.minReplicas, durability.timeoutMs);
      if (Number(acknowledged) < durability.minReplicas) throw new NotReplicatedError(result, Number(acknowledged), durability.minReplicas, durability.timeoutMs);
      return result;
    },
  };
}
