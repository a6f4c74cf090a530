import { parseArgs } from 'node:util';
import type { Config } from '../config/config.js';
import type { ApprovalRecord } from '../approvals/types.js';

type Out = (line: string) => void;

const USAGE = `usage: countersign approvals list [--all] | show ID | approve ID [--comment TEXT] | deny ID [--comment TEXT]
  talks to the review listener (COUNTERSIGN_REVIEW_URL) as the reviewer whose API token is in
  COUNTERSIGN_REVIEWER_TOKEN (an operator prints it with: countersign reviewers token ID)`;

/** `countersign approvals ...`: the JSON API from a terminal, with the reviewer's own token. */
export async function approvalsCommand(config: Config, args: readonly string[], out: Out, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], options: { comment: { type: 'string' }, all: { type: 'boolean' } }, allowPositionals: true });
  const [verb, id] = positionals;
  const token = env.COUNTERSIGN_REVIEWER_TOKEN;
  if (verb === undefined || (verb !== 'list' && id === undefined)) {
    out(USAGE);
    return 2;
  }
  if (token === undefined || token === '') {
    out('Set COUNTERSIGN_REVIEWER_TOKEN to your reviewer API token (an operator prints it with: countersign reviewers token ID).');
    return 2;
  }
  const base = config.approvals.reviewUrl ?? `http://${config.approvals.reviewListen.host}:${config.approvals.reviewListen.port}`;
  const call = async (method: string, path: string, body?: object) => {
    const response = await fetch(`${base}/api/v1/approvals${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as { approvals?: ApprovalRecord[]; approval?: ApprovalRecord; error?: string } };
  };
  let result;
  switch (verb) {
    case 'list':
      result = await call('GET', values.all === true ? '' : '?status=pending');
      if (result.status === 200) for (const record of result.json.approvals ?? []) out(summary(record));
      break;
    case 'show':
      result = await call('GET', `/${id ?? ''}`);
      if (result.status === 200 && result.json.approval !== undefined) out(JSON.stringify(result.json.approval, null, 2));
      break;
    case 'approve':
    case 'deny':
      result = await call('POST', `/${id ?? ''}/${verb}`, { comment: values.comment ?? '' });
      if (result.status === 200 && result.json.approval !== undefined) out(`${verb === 'approve' ? 'Approved' : 'Denied'}; the request is now ${result.json.approval.status}.`);
      break;
    default:
      out(USAGE);
      return 2;
  }
  if (result.status !== 200) {
    out(`countersign: ${result.json.error ?? `HTTP ${result.status}`}`);
    return 1;
  }
  return 0;
}

function summary(record: ApprovalRecord): string {
  const c = record.context;
  const left = Math.max(0, Math.ceil((record.expiresAt - Date.now()) / 60_000));
  return `${record.id}\t${record.status}\t${c.agent}\t${c.actions.join(',')}\t${c.resources.join(',')}\t${record.status === 'pending' ? `${left} min left` : ''}`;
}
