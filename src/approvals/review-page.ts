import type { ApprovalRecord } from './types.js';

/** HTML text escaping; everything the agent controls goes through it. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface PageViewer {
  /** The reviewer this viewer proved to be, if any. */
  readonly reviewer?: string;
  readonly reviewerName?: string;
  /** Why this viewer cannot decide, when they cannot. */
  readonly cannotDecide?: string;
  readonly csrf?: string;
  readonly linkToken?: string;
  readonly notice?: string;
}

function list(items: readonly string[]): string {
  return `<ul>${items.map((i) => `<li><code>${escapeHtml(i)}</code></li>`).join('')}</ul>`;
}

function minutesLeft(record: ApprovalRecord, now: number): string {
  const ms = record.expiresAt - now;
  return ms <= 0 ? 'expired' : `${Math.ceil(ms / 60_000)} min`;
}

/**
 * The review page. A GET shows the full context and never decides anything (mail scanners and
 * chat unfurlers fetch links); deciding is the form's POST, with a CSRF token.
 */
export function renderReviewPage(record: ApprovalRecord, viewer: PageViewer, now: number): string {
  const c = record.context;
  const reviews = record.reviews.length === 0
    ? '<p>No reviews yet.</p>'
    : `<ul>${record.reviews.map((r) => `<li><b>${escapeHtml(r.reviewer)}</b>: ${r.decision}${r.comment === '' ? '' : ` — ${escapeHtml(r.comment)}`} (${new Date(r.at).toISOString()})</li>`).join('')}</ul>`;
  const needed = record.requirements.map((r) => `${r.quorum} of ${r.eligible.map(escapeHtml).join(', ')} (rule ${escapeHtml(r.rule)})`).join('; ');
  const form =
    record.status === 'pending' && viewer.reviewer !== undefined && viewer.cannotDecide === undefined
      ? `<form method="post" action="/approvals/${encodeURIComponent(record.id)}/decision">
  <input type="hidden" name="csrf" value="${escapeHtml(viewer.csrf ?? '')}">
  ${viewer.linkToken === undefined ? '' : `<input type="hidden" name="t" value="${escapeHtml(viewer.linkToken)}">`}
  <label>Comment <input name="comment" maxlength="1000" size="60"></label>
  <button name="decision" value="approve">Approve</button>
  <button name="decision" value="deny">Deny</button>
</form>`
      : `<p class="muted">${escapeHtml(viewer.cannotDecide ?? (record.status === 'pending' ? 'Open this page from your own review link to decide.' : `This request is ${record.status}.`))}</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">
<title>countersign: ${escapeHtml(c.operation)} by ${escapeHtml(c.agent)}</title>
<style>body{font:15px system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem}th{text-align:left;padding-right:1rem;vertical-align:top}pre{background:#f4f4f4;padding:.75rem;overflow:auto;max-height:24rem}.muted{color:#666}.status{font-weight:bold}</style></head>
<body>
<h1>${escapeHtml(c.operation)} by agent ${escapeHtml(c.agent)}</h1>
${viewer.notice === undefined ? '' : `<p class="status">${escapeHtml(viewer.notice)}</p>`}
<p class="status">Status: ${record.status}${record.status === 'pending' ? `, ${minutesLeft(record, now)} left` : ''}</p>
<table>
<tr><th>Agent</th><td>${escapeHtml(c.agent)} (owned by ${c.owners.length === 0 ? 'nobody declared' : c.owners.map(escapeHtml).join(', ')})</td></tr>
<tr><th>Agent's reason</th><td>${c.agentReason === undefined ? '<span class="muted">none given</span>' : escapeHtml(c.agentReason)}</td></tr>
${c.agentContext === undefined ? '' : `<tr><th>Agent's context</th><td>${escapeHtml(c.agentContext)}</td></tr>`}
<tr><th>Call</th><td><code>${escapeHtml(c.method)} ${escapeHtml(c.host)}${escapeHtml(c.path)}</code></td></tr>
<tr><th>Actions</th><td>${list(c.actions)}</td></tr>
<tr><th>Resources</th><td>${list(c.resources)}</td></tr>
<tr><th>Region</th><td>${escapeHtml(c.region)}</td></tr>
<tr><th>Role</th><td><code>${escapeHtml(c.binding.roleArn)}</code> (account ${escapeHtml(c.binding.account)})</td></tr>
<tr><th>Approves</th><td>${record.intent === 'read' ? 'this read, however many requests it takes (a HEAD then the GET, ranged reads, pages), until the approval expires' : `this exact request, ${record.usesLeft === 1 ? 'once' : `${record.usesLeft} times`}`}</td></tr>
<tr><th>Rules</th><td>${c.rules.map(escapeHtml).join(', ')} (${c.reasons.map(escapeHtml).join(', ')})</td></tr>
<tr><th>Needs</th><td>${needed}</td></tr>
<tr><th>Request id</th><td><code>${escapeHtml(record.id)}</code></td></tr>
</table>
<h2>Parameters</h2>
<pre>${escapeHtml(c.parametersPreview)}</pre>
<h2>Reviews</h2>
${reviews}
${viewer.reviewer === undefined ? '' : `<p>You are <b>${escapeHtml(viewer.reviewerName ?? viewer.reviewer)}</b>.</p>`}
${form}
</body></html>`;
}
