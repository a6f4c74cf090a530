// The review page over HTTP (issue 14): a decision POST answers with a redirect, so a reload
// never re-submits it; a GET never decides; agent-controlled text is inert; a window the rule
// does not allow is refused. The real review listener on loopback, over a real store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReviewSite, type ReviewSite } from '../support/review-server.js';

let site: ReviewSite;
beforeAll(async () => {
  site = await startReviewSite();
});
afterAll(async () => {
  await site?.close();
});

/** The page's form fields for this viewer, as a browser would send them. */
async function formOf(link: string): Promise<Record<string, string>> {
  const html = await (await fetch(link)).text();
  const fields: Record<string, string> = {};
  for (const [, name = '', value = ''] of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[name] = value;
  return fields;
}

function post(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', body: new URLSearchParams(fields), headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
}

describe('review page', () => {
  it('a reload never re-submits a decision: the POST answers 303 to the page, and the page only shows', async () => {
    const record = await site.open({ requirements: [{ rule: 'r', quorum: 2, eligible: ['ann', 'bob', 'cat'] }] });
    const form = await formOf(site.link(record, 'ann'));
    const answer = await post(`${site.base}/approvals/${record.id}/decision`, { ...form, decision: 'approve', comment: 'fine' });
    expect(answer.status).toBe(303);
    const location = new URL(answer.headers.get('location') ?? '', site.base);
    expect(location.pathname).toBe(`/approvals/${record.id}`);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    // What a reload does after the redirect: GET the page again, as often as it likes.
    for (let i = 0; i < 3; i += 1) {
      const page = await fetch(location);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('Recorded: you approved this request.');
    }
    const after = await site.store.get(record.id, Date.now());
    expect(after?.reviews.map((r) => [r.reviewer, r.decision, r.comment])).toEqual([['ann', 'approve', 'fine']]);
    expect(after?.status).toBe('pending');
    // Re-sending the very POST (a browser's "resubmit the form?") is one review per reviewer still.
    const again = await post(`${site.base}/approvals/${record.id}/decision`, { ...form, decision: 'approve', comment: 'fine' });
    expect(new URL(again.headers.get('location') ?? '', site.base).searchParams.get('done')).toBe('already_reviewed');
    expect((await site.store.get(record.id, Date.now()))?.reviews).toHaveLength(1);
  });

  it('a client that follows the redirect lands on the page saying what happened, and a replayed form says it was decided', async () => {
    const record = await site.open();
    const form = new URLSearchParams({ ...(await formOf(site.link(record, 'ann'))), decision: 'deny', comment: 'not now' });
    expect(await (await fetch(`${site.base}/approvals/${record.id}/decision`, { method: 'POST', body: form })).text()).toContain('Recorded: you denied this request.');
    expect(await (await fetch(`${site.base}/approvals/${record.id}/decision`, { method: 'POST', body: form })).text()).toContain('This request was already decided.');
  });

  it('a GET never decides, whatever its query says (link unfurlers and mail scanners fetch links)', async () => {
    const record = await site.open();
    const link = site.link(record, 'ann');
    for (const url of [`${link}&decision=approve`, `${site.base}/approvals/${record.id}/decision?${new URLSearchParams({ ...(await formOf(link)), decision: 'approve' }).toString()}`]) {
      await (await fetch(url)).text();
    }
    expect(await site.store.get(record.id, Date.now())).toMatchObject({ status: 'pending', reviews: [] });
  });

  it('agent text in the description, reason, context, parameters and path is inert on the page', async () => {
    const hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'><svg onload=alert(3)>';
    const base = (await site.open()).context;
    const record = await site.open({
      context: { ...base, agentReason: hostile, agentContext: hostile, parametersPreview: hostile, path: `/${hostile}`, operation: hostile },
      requirements: [{ rule: 'r', quorum: 1, eligible: ['ann'], description: hostile }],
    });
    const page = await fetch(site.link(record, 'ann'));
    const html = await page.text();
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<svg');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    // The one script the page may run is its own, by hash: an injected one would not run anyway.
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toContain('unsafe-inline\'; form');
    expect(/script-src [^;]*unsafe-inline/.test(csp)).toBe(false);
    expect([...html.matchAll(/<script>/g)]).toHaveLength(1);
  });

  it('the notice after a redirect is one of the fixed texts, never text from the URL', async () => {
    const record = await site.open();
    const html = await (await fetch(`${site.link(record, 'ann')}&done=${encodeURIComponent('<b>you were hacked</b>')}`)).text();
    expect(html).not.toContain('you were hacked');
    expect(html).not.toContain('id="notice"');
  });

  it('a forged form (no CSRF token, another reviewer’s token) decides nothing', async () => {
    const record = await site.open();
    const { t = '' } = await formOf(site.link(record, 'ann'));
    expect((await post(`${site.base}/approvals/${record.id}/decision`, { t, decision: 'approve' })).status).toBe(403);
    const bob = await formOf(site.link(record, 'bob'));
    expect((await post(`${site.base}/approvals/${record.id}/decision`, { t, csrf: bob.csrf ?? '', decision: 'approve' })).status).toBe(403);
    expect(await site.store.get(record.id, Date.now())).toMatchObject({ status: 'pending', reviews: [] });
  });

  it("a window from the page is bounded by the rule's maxWindow, and a Deny ignores the window select", async () => {
    const record = await site.open();
    const link = site.link(record, 'ann');
    const tooLong = await post(`${site.base}/approvals/${record.id}/decision`, { ...(await formOf(link)), decision: 'approve', window: '61' });
    expect(new URL(tooLong.headers.get('location') ?? '', site.base).searchParams.get('done')).toBe('window_too_long');
    expect(await site.store.get(record.id, Date.now())).toMatchObject({ status: 'pending', reviews: [] });
    const deny = await post(`${site.base}/approvals/${record.id}/decision`, { ...(await formOf(link)), decision: 'deny', window: '30', comment: 'wrong quarter' });
    expect(new URL(deny.headers.get('location') ?? '', site.base).searchParams.get('done')).toBe('denied');
    const reviewed = site.audit.filter((e) => e.event === 'approval.reviewed' && e.approvalId === record.id);
    expect(reviewed.map((e) => [e.accepted, e.refusal ?? e.status, e.comment])).toEqual([[false, 'window_too_long', ''], [true, 'denied', 'wrong quarter']]);
  });

  it('the API takes windowMinutes and refuses one past maxWindow; the audit record says which', async () => {
    const record = await site.open();
    const api = (body: unknown) => fetch(`${site.base}/api/v1/approvals/${record.id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${site.tokens.apiToken('bob')}` }, body: JSON.stringify(body) });
    const refused = await api({ windowMinutes: 120 });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ reason: 'window_too_long' });
    expect((await api({ windowMinutes: '30' })).status).toBe(400);
    const ok = await api({ comment: 'nightly export', windowMinutes: 45 });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ approval: { status: 'approved', windowMinutes: 45 } });
    expect(site.audit.at(-1)).toMatchObject({ event: 'approval.reviewed', reviewer: 'bob', comment: 'nightly export', windowMinutes: 45, approvedFor: 'window', window: 45, via: 'api' });
  });
});
