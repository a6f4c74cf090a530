/** How `countersign approvals list|show` print approval records for a person. */
import type { ApprovalRecord } from '../approvals/types.js';
import { printable, relative, table, when } from './format.js';

/** "expires in 4 min", "approved, serves it until ...", "consumed 2 min ago". */
function state(record: ApprovalRecord, now: number): string {
  switch (record.status) {
    case 'pending':
      return record.expiresAt > now ? `expires ${relative(record.expiresAt, now)}` : 'expired';
    case 'approved':
      return record.approvedUntil === undefined ? 'approved' : `approved, valid ${relative(record.approvedUntil, now)}`;
    case 'consumed':
      return record.consumedAt === undefined ? 'consumed' : `consumed ${relative(record.consumedAt, now)}`;
    default:
      return record.decidedAt === undefined ? record.status : `${record.status} ${relative(record.decidedAt, now)}`;
  }
}

export function approvalTable(records: readonly ApprovalRecord[], now: number): string[] {
  const rows = records.map((r) => [r.id, r.status, r.context.agent, r.context.actions.join(','), r.context.resources.join(','), state(r, now)]);
  return table(['ID', 'STATUS', 'AGENT', 'ACTIONS', 'RESOURCES', 'WHEN'], rows.map((row) => row.map((cell) => printable(cell))));
}

function indent(text: string): string[] {
  return printable(text, true).split('\n').map((line) => `    ${line}`);
}

/** Everything the review page shows, as lines. */
export function approvalView(record: ApprovalRecord, now: number): string[] {
  const c = record.context;
  const b = c.binding;
  const field = (name: string, value: string) => `${name.padEnd(11)} ${printable(value)}`;
  const lines = [
    field('approval', record.id),
    field('status', `${record.status} (${state(record, now)})`),
    field('agent', `${c.agent} (${c.owners.length === 0 ? 'no owners declared' : `owned by ${c.owners.join(', ')}`})`),
    field('reason', c.agentReason === undefined ? 'none given' : JSON.stringify(c.agentReason)),
    ...(c.agentContext === undefined ? [] : [field('context', JSON.stringify(c.agentContext))]),
    field('call', `${c.method} ${c.host}${c.path}`),
    field('operation', `${c.service}:${c.operation} in ${c.region}`),
    field('role', `${b.roleArn} (account ${b.account})`),
    ...b.grants.map((g, i) => field(i === 0 ? 'grants' : '', `${g.action} on ${g.resource}${g.pattern === true ? ' (pattern)' : ''}`)),
    field('intent', record.intent === 'read'
      ? 'read: this read, however many requests it takes (a HEAD then the GET, ranged reads, pages), until the approval expires'
      : `change: this exact request, ${record.usesLeft === 1 ? 'once' : `${record.usesLeft} times`}`),
    field('rules', `${c.rules.join(', ')} (${c.reasons.join(', ')})`),
    field('needs', record.requirements.map((r) => `${r.quorum} of ${r.eligible.join(', ') || 'nobody eligible'} (rule ${r.rule})`).join('; ')),
    field('created', when(record.createdAt, now)),
    field('expires', when(record.expiresAt, now)),
    ...(record.decidedAt === undefined ? [] : [field('decided', when(record.decidedAt, now))]),
    ...(record.approvedUntil === undefined ? [] : [field('valid until', when(record.approvedUntil, now))]),
    ...(record.consumedAt === undefined ? [] : [field('consumed', when(record.consumedAt, now))]),
    field('uses left', String(record.usesLeft)),
    '',
    'reviews:',
    ...(record.reviews.length === 0
      ? ['    none yet']
      : record.reviews.map((r) => `    ${r.reviewer} ${r.decision === 'approve' ? 'approved' : 'denied'} at ${when(r.at, now)}${r.comment === '' ? '' : `: ${printable(JSON.stringify(r.comment))}`}`)),
    '',
    'parameters:',
    ...indent(c.parametersPreview === '' ? '(none)' : c.parametersPreview),
  ];
  return lines;
}
