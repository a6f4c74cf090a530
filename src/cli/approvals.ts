import type { ApprovalRecord } from '../approvals/types.js';
import { loadConfig } from '../config/config.js';
import { command, type CliIo, type CommandGroup } from './args.js';
import { approvalTable, approvalView } from './approval-view.js';

const TOKEN_NOTE =
  'Talks to the review listener (COUNTERSIGN_REVIEW_URL, else COUNTERSIGN_REVIEW_LISTEN) as the reviewer whose API token is in COUNTERSIGN_REVIEWER_TOKEN; an operator prints it with: countersign reviewers token ID.';

interface ApiAnswer {
  readonly status: number;
  readonly json: { approvals?: ApprovalRecord[]; approval?: ApprovalRecord; error?: string };
}

/** One call to the reviewers' JSON API, or an exit code when it cannot be made. */
async function callApi(io: CliIo, method: string, path: string, body?: object): Promise<ApiAnswer | number> {
  const token = io.env.COUNTERSIGN_REVIEWER_TOKEN;
  if (token === undefined || token === '') {
    io.err('countersign: set COUNTERSIGN_REVIEWER_TOKEN to your reviewer API token (an operator prints it with: countersign reviewers token ID).');
    return 2;
  }
  const config = loadConfig(io.env);
  const base = config.approvals.reviewUrl ?? `http://${config.approvals.reviewListen.host}:${config.approvals.reviewListen.port}`;
  let response: Response;
  try {
    response = await fetch(`${base}/api/v1/approvals${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  } catch (error) {
    io.err(`countersign: cannot reach the review listener at ${base} (${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}); set COUNTERSIGN_REVIEW_URL to it.`);
    return 1;
  }
  const text = await response.text();
  let json: ApiAnswer['json'];
  try {
    json = JSON.parse(text) as ApiAnswer['json'];
  } catch {
    json = { error: `HTTP ${response.status} from ${base}, not the countersign review API` };
  }
  if (response.status !== 200) {
    io.err(`countersign: ${json.error ?? `HTTP ${response.status}`}`);
    return 1;
  }
  return { status: response.status, json };
}

const JSON_OPTION = { type: 'boolean', description: 'print the record(s) as the JSON API returns them' } as const;
const ID = { name: 'ID', description: 'the approval request id (approvals list shows them)' } as const;

const list = command(
  {
    name: 'approvals list',
    summary: 'Requests waiting for review (--all: every status).',
    options: { all: { type: 'boolean', description: 'every status, not only pending' }, json: JSON_OPTION },
    details: [TOKEN_NOTE],
    examples: ['COUNTERSIGN_REVIEWER_TOKEN=csr_... countersign approvals list', 'countersign approvals list --all --json'],
  },
  async (args, io) => {
    const answer = await callApi(io, 'GET', args.flag('all') ? '' : '?status=pending');
    if (typeof answer === 'number') return answer;
    const records = answer.json.approvals ?? [];
    if (args.flag('json')) io.out(JSON.stringify(records));
    else if (records.length === 0) io.out(args.flag('all') ? 'No approval requests.' : 'Nothing is waiting for review.');
    else for (const line of approvalTable(records, Date.now())) io.out(line);
    return 0;
  },
);

const show = command(
  {
    name: 'approvals show',
    summary: 'One request as its reviewers see it.',
    positionals: [ID],
    options: { json: JSON_OPTION },
    details: ['The agent and its owners, its stated reason, the call, the role and account the session assumes, the grants, what one approval covers (a read, or this exact change N times), the rules, who may approve, the reviews so far, and the times (ISO, and how far from now).', TOKEN_NOTE],
    examples: ['countersign approvals show 3f1c9a2e-7b4d-4c1a-9e2f-5d6b8a0c1e47'],
  },
  async (args, io) => {
    const answer = await callApi(io, 'GET', `/${encodeURIComponent(args.positionals[0] ?? '')}`);
    if (typeof answer === 'number') return answer;
    const record = answer.json.approval;
    if (record === undefined) return 1;
    if (args.flag('json')) io.out(JSON.stringify(record, null, 2));
    else for (const line of approvalView(record, Date.now())) io.out(line);
    return 0;
  },
);

function decideCommand(verb: 'approve' | 'deny') {
  return command(
    {
      name: `approvals ${verb}`,
      summary: verb === 'approve' ? 'Approve a request.' : 'Deny a request.',
      positionals: [ID],
      options: { comment: { type: 'string', value: 'TEXT', description: 'why, recorded in the audit log with the review' }, json: { type: 'boolean', description: 'print the record after the review as JSON' } },
      details: [verb === 'approve' ? 'The approval counts toward the quorum of every rule that holds the request; the held request goes on when all are met.' : 'One denial refuses the held request at once.', 'A reviewer may not review a request of an agent they own, nor review twice. ' + TOKEN_NOTE],
      examples: [`countersign approvals ${verb} 3f1c9a2e-7b4d-4c1a-9e2f-5d6b8a0c1e47 --comment "${verb === 'approve' ? 'quarterly export' : 'not this bucket'}"`],
    },
    async (args, io) => {
      const answer = await callApi(io, 'POST', `/${encodeURIComponent(args.positionals[0] ?? '')}/${verb}`, { comment: args.string('comment') ?? '' });
      if (typeof answer === 'number') return answer;
      const record = answer.json.approval;
      if (record === undefined) return 1;
      io.out(args.flag('json') ? JSON.stringify(record) : `${verb === 'approve' ? 'Approved' : 'Denied'}; the request is now ${record.status}.`);
      return 0;
    },
  );
}

export const approvalsCommands: CommandGroup = {
  name: 'approvals',
  summary: 'Review held requests from a terminal: the reviewers\' JSON API, with your own reviewer token.',
  details: [TOKEN_NOTE],
  commands: [list, show, decideCommand('approve'), decideCommand('deny')],
};
