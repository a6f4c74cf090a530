import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { verifyChain } from '../audit/chain.js';
import type { AuditRecord } from '../audit/events.js';
import { FileAuditSink } from '../audit/file-sink.js';
import { RedisAuditSink } from '../audit/redis-sink.js';
import type { AuditSink } from '../audit/sink.js';
import type { Config } from '../config/config.js';

type Out = (line: string) => void;

const USAGE = `usage:
  countersign audit verify                 walk the hash chain; name the first broken link
  countersign audit export [--since ISO] [--until ISO] [--agent NAME] [--decision allow|deny|approve]
                           [--event NAME] [--format jsonl|csv]
  reads the Redis stream when COUNTERSIGN_REDIS_URL is set, else DATA_DIR/audit.jsonl`;

export function openAuditSink(config: Config): AuditSink {
  return config.auditSink === 'redis' && config.approvals.redisUrl !== undefined ? new RedisAuditSink(config.approvals.redisUrl, config.approvals.redisPrefix) : new FileAuditSink(join(config.dataDir, 'audit.jsonl'));
}

const CSV_COLUMNS = ['seq', 'at', 'event', 'requestId', 'agent', 'service', 'operation', 'actions', 'resources', 'decision', 'rules', 'reasons', 'approvalId', 'approvers', 'reviewer', 'stsSession', 'upstreamStatus', 'status', 'errorCode', 'hash'];

/** `countersign audit verify|export`; exit 0 ok, 1 broken chain, 2 usage. */
export async function auditCommand(config: Config, args: readonly string[], out: Out): Promise<number> {
  const [verb, ...rest] = args;
  const sink = openAuditSink(config);
  try {
    if (verb === 'verify') return await verify(sink, out);
    if (verb === 'export') return await exportRecords(sink, rest, out);
    out(USAGE);
    return 2;
  } finally {
    await sink.close();
  }
}

async function verify(sink: AuditSink, out: Out): Promise<number> {
  const records: unknown[] = [];
  for await (const record of sink.read()) records.push(record);
  const result = verifyChain(records);
  if (result.broken !== undefined) {
    out(`BROKEN at record #${result.broken.index + 1} (seq ${result.broken.seq ?? '?'}): ${result.broken.reason}. The ${result.count} records before it are intact.`);
    return 1;
  }
  const last = records[records.length - 1] as AuditRecord | undefined;
  out(`ok: ${result.count} records, chain intact${last === undefined ? '' : `; head seq ${last.seq} hash ${last.hash} (keep it elsewhere to detect a cut tail)`}`);
  return 0;
}

async function exportRecords(sink: AuditSink, args: readonly string[], out: Out): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { since: { type: 'string' }, until: { type: 'string' }, agent: { type: 'string' }, decision: { type: 'string' }, event: { type: 'string' }, format: { type: 'string', default: 'jsonl' } },
  });
  if (values.format !== 'jsonl' && values.format !== 'csv') {
    out('--format is jsonl or csv');
    return 2;
  }
  const since = values.since === undefined ? undefined : Date.parse(values.since);
  const until = values.until === undefined ? undefined : Date.parse(values.until);
  if (Number.isNaN(since) || Number.isNaN(until)) {
    out('--since and --until take ISO 8601 times, like 2026-11-21T00:00:00Z');
    return 2;
  }
  if (values.format === 'csv') out(CSV_COLUMNS.join(','));
  for await (const record of sink.read()) {
    const at = Date.parse(record.at);
    if (since !== undefined && at < since) continue;
    if (until !== undefined && at >= until) continue;
    if (values.agent !== undefined && record.agent !== values.agent) continue;
    if (values.decision !== undefined && record.decision !== values.decision) continue;
    if (values.event !== undefined && record.event !== values.event) continue;
    out(values.format === 'csv' ? CSV_COLUMNS.map((c) => csvCell(record[c])).join(',') : JSON.stringify(record));
  }
  return 0;
}

/** RFC 4180 quoting; lists joined with spaces; a leading =+-@ is neutralised against spreadsheet formula injection. */
function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  let text = Array.isArray(value) ? value.join(' ') : typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
