import { join } from 'node:path';
import { verifyChain } from '../audit/chain.js';
import type { AuditRecord } from '../audit/events.js';
import { FileAuditSink } from '../audit/file-sink.js';
import { RedisAuditSink } from '../audit/redis-sink.js';
import type { AuditSink } from '../audit/sink.js';
import { loadConfig, type Config } from '../config/config.js';
import { command, type CliIo, type CommandGroup } from './args.js';

const SOURCE_NOTE = 'Reads the Redis stream when Redis is configured (COUNTERSIGN_REDIS_URL, or the Sentinel or Cluster settings) and COUNTERSIGN_AUDIT_SINK is not file, else COUNTERSIGN_DATA_DIR/audit.jsonl.';

export function openAuditSink(config: Config): AuditSink {
  return config.auditSink === 'redis' && config.approvals.redis !== undefined ? new RedisAuditSink(config.approvals.redis, config.approvals.redisPrefix) : new FileAuditSink(join(config.dataDir, 'audit.jsonl'));
}

async function withSink(io: CliIo, use: (sink: AuditSink) => Promise<number>): Promise<number> {
  const sink = openAuditSink(loadConfig(io.env));
  try {
    return await use(sink);
  } finally {
    await sink.close();
  }
}

/**
 * The why of an approval (the agent's words, each review's comment and window) is in the durable
 * log, not only in the approval record that expires; the columns after `hash` carry it (added
 * last, so the earlier columns keep their places).
 */
const CSV_COLUMNS = ['seq', 'at', 'event', 'requestId', 'agent', 'service', 'operation', 'actions', 'resources', 'decision', 'rules', 'reasons', 'approvalId', 'approvers', 'reviewer', 'stsSession', 'upstreamStatus', 'status', 'errorCode', 'hash', 'agentReason', 'agentContext', 'comment', 'via', 'windowMinutes', 'approvedFor', 'window', 'approvedUntil', 'refusal'];

const verify = command(
  {
    name: 'audit verify',
    summary: "Walk the audit log's hash chain and name the first broken link.",
    details: ['Exit 0 when the chain is intact, 1 when a link is broken.', SOURCE_NOTE, 'Keep the printed head hash elsewhere: a cut tail leaves an intact but shorter chain.'],
    examples: ['countersign audit verify'],
  },
  (_args, io) =>
    withSink(io, async (sink) => {
      const records: unknown[] = [];
      for await (const record of sink.read()) records.push(record);
      const result = verifyChain(records);
      if (result.broken !== undefined) {
        io.out(`BROKEN at record #${result.broken.index + 1} (seq ${result.broken.seq ?? '?'}): ${result.broken.reason}. The ${result.count} records before it are intact.`);
        return 1;
      }
      const last = records[records.length - 1] as AuditRecord | undefined;
      io.out(`ok: ${result.count} records, chain intact${last === undefined ? '' : `; head seq ${last.seq} hash ${last.hash} (keep it elsewhere to detect a cut tail)`}`);
      // Records Redis lost are not tampering, but the log must not look complete (src/audit/redis-sink.ts).
      for (const gap of records as AuditRecord[]) {
        if (gap.event === 'audit.gap') io.out(`GAP at seq ${gap.seq}: records ${String(gap.lostFromSeq)}-${String(gap.lostThroughSeq)} as replica ${gap.replica} knew them are lost (${String(gap.reason)}); the last of them had hash ${String(gap.lastKnownHash)}.`);
      }
      return 0;
    }),
);

const exportRecords = command(
  {
    name: 'audit export',
    summary: 'Audit records as JSON lines or CSV, filtered.',
    options: {
      since: { type: 'string', value: 'ISO', description: 'records at or after this time (ISO 8601, like 2026-11-21T00:00:00Z)' },
      until: { type: 'string', value: 'ISO', description: 'records before this time' },
      agent: { type: 'string', value: 'NAME', description: "one agent's records" },
      decision: { type: 'string', value: 'EFFECT', description: 'allow, deny or approve' },
      event: { type: 'string', value: 'NAME', description: 'one event, like request.forwarded or approval.reviewed' },
      format: { type: 'string', value: 'FORMAT', description: 'jsonl (default) or csv (spreadsheet-safe: a leading = + - @ is quoted)' },
    },
    details: [SOURCE_NOTE],
    examples: ['countersign audit export --since 2026-11-01T00:00:00Z --agent report-bot --decision approve --format csv', 'countersign audit export --event approval.reviewed | head -5'],
  },
  (args, io) => {
    const format = args.string('format') ?? 'jsonl';
    if (format !== 'jsonl' && format !== 'csv') {
      io.err('countersign audit export: --format is jsonl or csv');
      return 2;
    }
    const sinceText = args.string('since');
    const untilText = args.string('until');
    const since = sinceText === undefined ? undefined : Date.parse(sinceText);
    const until = untilText === undefined ? undefined : Date.parse(untilText);
    if (Number.isNaN(since) || Number.isNaN(until)) {
      io.err('countersign audit export: --since and --until take ISO 8601 times, like 2026-11-21T00:00:00Z');
      return 2;
    }
    const filters = { agent: args.string('agent'), decision: args.string('decision'), event: args.string('event') };
    return withSink(io, async (sink) => {
      if (format === 'csv') io.out(CSV_COLUMNS.join(','));
      for await (const record of sink.read()) {
        const at = Date.parse(record.at);
        if (since !== undefined && at < since) continue;
        if (until !== undefined && at >= until) continue;
        if (filters.agent !== undefined && record.agent !== filters.agent) continue;
        if (filters.decision !== undefined && record.decision !== filters.decision) continue;
        if (filters.event !== undefined && record.event !== filters.event) continue;
        io.out(format === 'csv' ? CSV_COLUMNS.map((c) => csvCell(record[c])).join(',') : JSON.stringify(record));
      }
      return 0;
    });
  },
);

/** RFC 4180 quoting; lists joined with spaces; a leading =+-@ is neutralised against spreadsheet formula injection. */
function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  let text = Array.isArray(value) ? value.join(' ') : typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const auditCommands: CommandGroup = {
  name: 'audit',
  summary: 'The durable audit log: verify its hash chain, export its records.',
  details: [SOURCE_NOTE],
  commands: [verify, exportRecords],
};
