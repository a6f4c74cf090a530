import { createHash } from 'node:crypto';
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
  /** Display names of reviewers by id (the Directory); an id without one is shown as it is. */
  readonly names?: ReadonlyMap<string, string>;
}

/**
 * The page's one script, optional: it rewrites each `<time>` (printed in UTC with its offset)
 * into the reader's own zone. Without JavaScript the page reads the same, in UTC. The CSP
 * allows exactly this script by its hash, so agent text can never run as one.
 */
const LOCALISE_SCRIPT =
  "for(const t of document.querySelectorAll('time[datetime]')){const d=new Date(t.getAttribute('datetime'));if(!isNaN(d)){t.title=t.textContent;t.textContent=d.toLocaleString(undefined,{year:'numeric',month:'short',day:'numeric',hour:'2-digit',minute:'2-digit',timeZoneName:'short'})}}";
export const PAGE_SCRIPT_HASH = `sha256-${createHash('sha256').update(LOCALISE_SCRIPT).digest('base64')}`;

/** Window choices offered (minutes), up to the rules' maxWindow, which is always offered itself. */
const WINDOW_STEPS = [5, 15, 30, 60, 120, 240, 480, 720, 1440];

export function windowChoices(record: Pick<ApprovalRecord, 'maxWindowMs'>): number[] {
  if (record.maxWindowMs === undefined) return [];
  const max = Math.floor(record.maxWindowMs / 60_000);
  return [...new Set([...WINDOW_STEPS.filter((m) => m < max), max])].filter((m) => m >= 1);
}

export function minutesText(minutes: number): string {
  if (minutes % 60 === 0) return minutes === 60 ? '1 hour' : `${minutes / 60} hours`;
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

/** A time for people: UTC with its offset in the text, the instant in `datetime` for the script. */
function time(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `<time datetime="${iso}">${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC+00:00</time>`;
}

function list(items: readonly string[]): string {
  return `<ul class="plain">${items.map((i) => `<li><code>${escapeHtml(i)}</code></li>`).join('')}</ul>`;
}

function row(label: string, html: string): string {
  return `<div class="row"><dt>${label}</dt><dd>${html}</dd></div>`;
}

function minutesLeft(record: ApprovalRecord, now: number): string {
  const ms = record.expiresAt - now;
  return ms <= 0 ? 'expired' : `${Math.ceil(ms / 60_000)} min left`;
}

/**
 * The review page. A GET shows the full context and never decides anything (mail scanners and
 * chat unfurlers fetch links); deciding is the form's POST, with a CSRF token, answered by a
 * redirect back here (so a reload never sends it again). Laid out for a phone first.
 */
export function renderReviewPage(record: ApprovalRecord, viewer: PageViewer, now: number): string {
  const c = record.context;
  const name = (id: string) => escapeHtml(viewer.names?.get(id) ?? id);
  const descriptions = record.requirements.filter((r) => r.description !== undefined);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">
<title>countersign: ${escapeHtml(c.operation)} by ${escapeHtml(c.agent)}</title>
<style>${STYLE}</style></head>
<body><main>
<p class="brand">countersign · approval request</p>
<h1>${escapeHtml(c.operation)} <span class="muted">by agent</span> ${escapeHtml(c.agent)}</h1>
<p class="badge ${record.status}" id="status">${statusText(record, now)}</p>
${viewer.notice === undefined ? '' : `<p class="notice" id="notice" role="status">${escapeHtml(viewer.notice)}</p>`}
<section class="why">
${descriptions.map((r) => `<p><span class="label">What rule ${escapeHtml(r.rule)} is for</span>${escapeHtml(r.description ?? '')}</p>`).join('\n')}
<p><span class="label">The agent's reason</span>${c.agentReason === undefined ? '<span class="muted">none given</span>' : escapeHtml(c.agentReason)}</p>
${c.agentContext === undefined ? '' : `<p><span class="label">The agent's context</span>${escapeHtml(c.agentContext)}</p>`}
</section>
<h2>What it asks</h2>
<dl>
${row('Call', `<code>${escapeHtml(c.method)} ${escapeHtml(c.host)}${escapeHtml(c.path)}</code>`)}
${row('Actions', list(c.actions))}
${row('Resources', list(c.resources))}
${row('Region', escapeHtml(c.region))}
${row('Role', `<code>${escapeHtml(c.binding.roleArn)}</code> (account ${escapeHtml(c.binding.account)})`)}
${row('Agent', `${escapeHtml(c.agent)} (owned by ${c.owners.length === 0 ? 'nobody declared' : c.owners.map(name).join(', ')})`)}
${row('Approves', approvesText(record))}
${row('Rules', `${c.rules.map(escapeHtml).join(', ')} <span class="muted">(${c.reasons.map(escapeHtml).join(', ')})</span>`)}
${row('Needs', record.requirements.map((r) => `${r.quorum} of ${r.eligible.map(name).join(', ')}`).join('; and '))}
</dl>
<h2>Parameters</h2>
<pre>${escapeHtml(c.parametersPreview)}</pre>
${decisionForm(record, viewer)}
<h2>Reviews</h2>
${record.reviews.length === 0 ? '<p class="muted">No reviews yet.</p>' : `<ul class="reviews">${record.reviews.map((r) => `<li><b>${name(r.reviewer)}</b> ${r.decision === 'approve' ? (r.windowMinutes === undefined ? 'approved once' : `approved for ${minutesText(r.windowMinutes)}`) : 'denied'}${r.comment === '' ? '' : `: “${escapeHtml(r.comment)}”`} <span class="muted">${time(r.at)}</span></li>`).join('')}</ul>`}
${outcome(record)}
<p class="muted small">Request <code>${escapeHtml(record.id)}</code>, asked ${time(record.createdAt)}.${viewer.reviewer === undefined ? '' : ` You are <b>${escapeHtml(viewer.reviewerName ?? viewer.reviewer)}</b>.`}</p>
</main>
<script>${LOCALISE_SCRIPT}</script>
</body></html>`;
}

function statusText(record: ApprovalRecord, now: number): string {
  switch (record.status) {
    case 'pending':
      return `Waiting for review · ${minutesLeft(record, now)}`;
    case 'approved':
      return record.windowMinutes === undefined ? 'Approved' : `Approved for ${minutesText(record.windowMinutes)}`;
    case 'denied':
      return 'Denied';
    case 'consumed':
      return 'Approved and used';
    case 'expired':
      return 'Expired';
  }
}

function approvesText(record: ApprovalRecord): string {
  if (record.windowMinutes !== undefined) return `every request by this agent with exactly these actions, resources and parameters, for ${minutesText(record.windowMinutes)}`;
  const base = record.intent === 'read'
    ? 'this read, however many requests it takes (a HEAD then the GET, ranged reads, pages), until the approval expires'
    : `this exact request, ${record.usesLeft === 1 ? 'once' : `${record.usesLeft} times`}`;
  const max = record.maxWindowMs === undefined ? undefined : Math.floor(record.maxWindowMs / 60_000);
  return max === undefined || record.status !== 'pending' ? base : `${base}; or, if you choose, the same call for up to ${minutesText(max)}`;
}

/** The form, for a reviewer who may decide; otherwise why not. */
function decisionForm(record: ApprovalRecord, viewer: PageViewer): string {
  if (record.status !== 'pending' || viewer.reviewer === undefined || viewer.cannotDecide !== undefined) {
    const why = viewer.cannotDecide ?? (record.status === 'pending' ? 'Open this page from your own review link to decide.' : `This request is ${record.status}; nothing more to decide.`);
    return `<p class="muted" id="cannot-decide">${escapeHtml(why)}</p>`;
  }
  const choices = windowChoices(record);
  const window = choices.length === 0
    ? ''
    : `<label for="window">Approve for</label>
<select id="window" name="window"><option value="once" selected>this request only (once)</option>${choices.map((m) => `<option value="${m}">the same call for ${minutesText(m)}</option>`).join('')}</select>
<p class="muted small">A window approves this agent doing exactly these actions on exactly these resources with these parameters, and nothing else, until it closes.</p>`;
  return `<form method="post" action="/approvals/${encodeURIComponent(record.id)}/decision" class="decide">
<input type="hidden" name="csrf" value="${escapeHtml(viewer.csrf ?? '')}">
${viewer.linkToken === undefined ? '' : `<input type="hidden" name="t" value="${escapeHtml(viewer.linkToken)}">`}
<label for="comment">Comment <span class="muted">(shown to the agent on a deny)</span></label>
<textarea id="comment" name="comment" maxlength="1000" rows="2"></textarea>
${window}
<div class="buttons"><button class="approve" name="decision" value="approve">Approve</button><button class="deny" name="decision" value="deny">Deny</button></div>
</form>`;
}

/** What happened once decided: when, until when, the request it let go and what AWS answered. */
function outcome(record: ApprovalRecord): string {
  if (record.status === 'pending') return '';
  const rows = [
    record.decidedAt === undefined ? '' : row('Decided', time(record.decidedAt)),
    record.approvedUntil === undefined || record.status === 'denied' ? '' : row(record.status === 'approved' ? 'Valid until' : 'Was valid until', time(record.approvedUntil)),
    record.consumedAt === undefined ? '' : row('First used', time(record.consumedAt)),
    record.timesUsed === undefined ? '' : row('Requests let go', String(record.timesUsed)),
    record.lastUse === undefined ? '' : row('Last request', `<code>${escapeHtml(record.lastUse.requestId)}</code> at ${time(record.lastUse.at)}`),
    record.lastUse === undefined ? '' : row("AWS's answer", record.lastUse.upstreamStatus === undefined ? '<span class="muted">not recorded yet</span>' : `HTTP ${record.lastUse.upstreamStatus}`),
  ].filter((r) => r !== '');
  if (record.status === 'approved' && record.timesUsed === undefined) rows.push(row('Used', '<span class="muted">not yet</span>'));
  return rows.length === 0 ? '' : `<h2>Outcome</h2>\n<dl id="outcome">\n${rows.join('\n')}\n</dl>`;
}

const STYLE = [
  '*{box-sizing:border-box}',
  'body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;background:#f6f8fa}',
  'main{max-width:46rem;margin:0 auto;padding:1rem;background:#fff;min-height:100vh}',
  'h1{font-size:1.35rem;margin:.25rem 0 .5rem;overflow-wrap:anywhere}h2{font-size:1.05rem;margin:1.5rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem}',
  'code,pre,dd{overflow-wrap:anywhere;word-break:break-word}',
  'pre{background:#f6f8fa;padding:.75rem;border-radius:.4rem;white-space:pre-wrap;max-height:24rem;overflow:auto;font-size:.85rem}',
  '.brand{margin:0;color:#57606a;font-size:.85rem;text-transform:uppercase;letter-spacing:.04em}',
  '.muted{color:#57606a}.small{font-size:.85rem}',
  '.badge{display:inline-block;margin:0 0 .75rem;padding:.25rem .6rem;border-radius:1rem;font-weight:600;background:#eaeef2}',
  '.badge.pending{background:#fff8c5}.badge.approved,.badge.consumed{background:#dafbe1}.badge.denied{background:#ffebe9}.badge.expired{background:#eaeef2}',
  '.notice{padding:.75rem;border-radius:.4rem;background:#ddf4ff;font-weight:600}',
  '.why{border-left:4px solid #0969da;padding:.25rem .75rem;margin:0 0 1rem;background:#f6f8fa}',
  '.why p{margin:.5rem 0}.label{display:block;font-size:.8rem;color:#57606a;text-transform:uppercase;letter-spacing:.03em}',
  'dl{margin:0}.row{padding:.4rem 0;border-bottom:1px solid #eaeef2}dt{font-weight:600;font-size:.9rem}dd{margin:0}',
  '@media (min-width:40rem){.row{display:grid;grid-template-columns:9rem 1fr;gap:1rem}}',
  'ul.plain,ul.reviews{margin:0;padding-left:1.1rem}',
  '.decide{margin:1rem 0;padding:1rem;border:1px solid #d0d7de;border-radius:.5rem}',
  '.decide label{display:block;font-weight:600;margin:.5rem 0 .25rem}',
  'textarea,select{width:100%;font:inherit;padding:.6rem;border:1px solid #8c959f;border-radius:.4rem;min-height:2.75rem}',
  '.buttons{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1rem}',
  'button{flex:1 1 10rem;min-height:3.25rem;font:inherit;font-size:1.1rem;font-weight:600;border:0;border-radius:.5rem;color:#fff;cursor:pointer}',
  'button.approve{background:#1a7f37}button.deny{background:#cf222e}',
].join('');
