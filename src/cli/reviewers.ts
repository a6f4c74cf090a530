import { ReviewTokens } from '../approvals/links.js';
import type { Config } from '../config/config.js';
import { loadOrCreateServerKey } from '../identity/registry.js';
import { loadPolicyDir } from '../policy/load.js';

/** `countersign reviewers list | token ID`: operator commands, reading the data and policy directories. */
export function reviewersCommand(config: Config, args: readonly string[], out: (line: string) => void): number {
  const [verb, id] = args;
  const reviewers = loadPolicyDir(config.policyDir).directory.reviewers;
  if (verb === 'list') {
    for (const r of reviewers) out(`${r.id}\t${r.displayName}\t${r.groups.join(',')}\t${r.email ?? ''}`);
    return 0;
  }
  if (verb === 'token' && id !== undefined) {
    if (!reviewers.some((r) => r.id === id)) {
      out(`No reviewer "${id}" is declared in ${config.policyDir}.`);
      return 1;
    }
    const tokens = ReviewTokens.fromServerKey(loadOrCreateServerKey(config.dataDir));
    out(`export COUNTERSIGN_REVIEWER_TOKEN=${tokens.apiToken(id)}`);
    return 0;
  }
  out('usage: countersign reviewers list | token ID');
  return 2;
}
