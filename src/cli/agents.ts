import type { Config } from '../config/config.js';
import { AgentRegistry, loadOrCreateServerKey } from '../identity/registry.js';

function registry(config: Config): AgentRegistry {
  return new AgentRegistry(config.dataDir, loadOrCreateServerKey(config.dataDir));
}

/** `countersign agents issue|revoke|list`; returns the exit code. */
export function agentsCommand(config: Config, args: readonly string[], out: (line: string) => void): number {
  const [verb, subject] = args;
  if (verb === 'issue' && subject !== undefined) {
    const key = registry(config).issue(subject);
    if (args.includes('--json')) {
      out(JSON.stringify(key));
    } else {
      out(`# countersign agent key for "${key.agent}": worthless against AWS, valid only through countersign.`);
      out(`export AWS_ACCESS_KEY_ID=${key.accessKeyId}`);
      out(`export AWS_SECRET_ACCESS_KEY=${key.secretAccessKey}`);
    }
    return 0;
  }
  if (verb === 'revoke' && subject !== undefined) {
    const revoked = registry(config).revoke(subject);
    if (revoked.length === 0) {
      out(`No active key matches "${subject}" (give an agent name or an access key id).`);
      return 1;
    }
    out(`Revoked ${revoked.join(', ')}.`);
    return 0;
  }
  if (verb === 'list') {
    for (const { agent, keys } of registry(config).list()) {
      for (const key of keys) out(`${agent}\t${key.accessKeyId}\t${key.revokedAt === undefined ? 'active' : `revoked ${key.revokedAt}`}\tissued ${key.createdAt}`);
    }
    return 0;
  }
  out('usage: countersign agents issue NAME [--json] | revoke NAME|ACCESS_KEY_ID | list');
  return 2;
}
