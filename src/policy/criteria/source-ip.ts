import { BlockList, isIP } from 'node:net';
import type { Criterion } from './types.js';

/** The agent's address must be in one of the CIDRs (node's BlockList: no regex, no parsing per request). */
export function sourceIpCriterion(cidrs: readonly string[]): Criterion {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', prefix = ''] = cidr.split('/');
    list.addSubnet(address, Number(prefix), isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
  return {
    code: 'SOURCE_IP_MISMATCH',
    matches: (facts) => {
      if (facts.sourceIp === undefined) return false;
      // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d.
      const ip = facts.sourceIp.startsWith('::ffff:') && isIP(facts.sourceIp.slice(7)) === 4 ? facts.sourceIp.slice(7) : facts.sourceIp;
      const family = isIP(ip);
      return family !== 0 && list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}
