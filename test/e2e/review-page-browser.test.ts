// The review page in a real headless Chromium (Debian's chromium, driven by playwright-core):
// approve and deny on a 390 px phone screen, reload after a decision (nothing is sent again),
// JavaScript off, and agent text that tries to run. Screenshots for docs/images/ (the README shows one).
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReviewSite, type ReviewSite } from '../support/review-server.js';

const CHROMIUM = process.env.COUNTERSIGN_CHROMIUM ?? '/usr/bin/chromium';
// Screenshots land in .test-logs/ on every run; COUNTERSIGN_UPDATE_SCREENSHOTS=1 writes the ones docs/ shows.
const IMAGES = new URL(process.env.COUNTERSIGN_UPDATE_SCREENSHOTS === '1' ? '../../docs/images/' : '../../.test-logs/screenshots/', import.meta.url);
const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, timezoneId: 'America/New_York', locale: 'en-US' };

let site: ReviewSite;
let browser: Browser;
beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`These tests need Chromium at ${CHROMIUM} (Debian: apt-get install chromium; .ci/run installs it), or COUNTERSIGN_CHROMIUM=/path/to/chromium.`);
  site = await startReviewSite();
  // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
});

/** A page in a fresh phone context, with every POST it sends counted. */
async function phone(options: BrowserContextOptions = {}): Promise<{ page: Page; posts: () => number; close: () => Promise<void> }> {
  const context = await browser.newContext({ ...PHONE, ...options });
  const page = await context.newPage();
  let posts = 0;
  // The page's own script must never fail (a failure would leave the times in UTC unnoticed).
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('request', (request) => {
    if (request.method() === 'POST') posts += 1;
  });
  return {
    page,
    posts: () => posts,
    close: async () => {
      await context.close();
      expect(errors).toEqual([]);
    },
  };
}

/** A screenshot for docs/ (the whole page, or what the phone's screen shows). */
async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  mkdirSync(IMAGES, { recursive: true });
  await page.screenshot({ path: new URL(name, IMAGES).pathname, fullPage });
}

describe('review page in Chromium', () => {
  it('approve on a 390 px phone: the page fits the screen, the buttons are big, and a reload after the decision sends nothing again', async () => {
    const record = await site.open();
    const { page, posts, close } = await phone();
    try {
      await page.goto(site.link(record, 'ann'));
      // Fits: nothing wider than the screen, so no sideways scrolling.
      expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(390);
      const approve = page.getByRole('button', { name: 'Approve' });
      const box = await approve.boundingBox();
      expect(box?.height ?? 0).toBeGreaterThanOrEqual(44);
      expect(box?.width ?? 0).toBeGreaterThanOrEqual(140);
      // The rule's description, display names, the agent's words.
      await expect.poll(() => page.textContent('body')).toContain('Finance exports leave the account only with a finance reviewer’s yes.');
      const body = (await page.textContent('body')) ?? '';
      expect(body).toContain('1 of Ann Lindqvist, Bob Okafor, Cat Moreau');
      expect(body).toContain('Exporting the Q3 revenue figures for the board deck');
      // Times in the reviewer's zone: the script rewrote the UTC text (the UTC stays in the title).
      const asked = page.locator('time').last();
      expect(await asked.textContent()).toMatch(/EST|EDT/);
      expect(await asked.getAttribute('title')).toContain('UTC+00:00');
      await screenshot(page, 'review-page-phone.png', true);

      await page.fill('#comment', 'Q3 is the one the board asked for');
      await Promise.all([page.waitForURL(/done=approved/), approve.click()]);
      expect(await page.textContent('#status')).toBe('Approved');
      expect(await page.textContent('#notice')).toContain('you approved');
      await screenshot(page, 'review-page-approved.png');
      // Reload twice: GETs of the page, never the form again.
      await page.reload();
      await page.reload();
      expect(posts()).toBe(1);
      const after = await site.store.get(record.id, Date.now());
      expect(after?.reviews.map((r) => [r.reviewer, r.comment])).toEqual([['ann', 'Q3 is the one the board asked for']]);
      expect(after?.status).toBe('approved');
    } finally {
      await close();
    }
  });

  it('deny on a phone, with the reason the agent will see', async () => {
    const record = await site.open();
    const { page, close } = await phone();
    try {
      await page.goto(site.link(record, 'bob'));
      await page.fill('#comment', 'wrong quarter: Q2 was asked for');
      await Promise.all([page.waitForURL(/done=denied/), page.getByRole('button', { name: 'Deny' }).click()]);
      expect(await page.textContent('#status')).toBe('Denied');
      expect(await page.textContent('body')).toContain('Bob Okafor denied: “wrong quarter: Q2 was asked for”');
      await page.reload();
      expect((await site.store.get(record.id, Date.now()))?.reviews).toHaveLength(1);
    } finally {
      await close();
    }
  });

  it('with JavaScript off the page works the same: approve for a while from the select, times in UTC', async () => {
    const record = await site.open();
    const { page, close } = await phone({ javaScriptEnabled: false });
    try {
      await page.goto(site.link(record, 'cat'));
      expect(await page.locator('time').last().textContent()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC\+00:00$/);
      await page.selectOption('#window', '30');
      await Promise.all([page.waitForURL(/done=approved-window/), page.getByRole('button', { name: 'Approve' }).click()]);
      expect(await page.textContent('#status')).toBe('Approved for 30 minutes');
      expect(await site.store.get(record.id, Date.now())).toMatchObject({ status: 'approved', windowMinutes: 30 });
    } finally {
      await close();
    }
  });

  it('agent text that tries to run (script, event handlers, markup) stays text in Chromium', async () => {
    const hostile = '<script>alert(1)</script><img src=x onerror=alert(2)><a href="javascript:alert(3)">click</a>';
    const base = (await site.open()).context;
    const record = await site.open({ context: { ...base, agentReason: hostile, agentContext: hostile, parametersPreview: hostile }, requirements: [{ rule: 'r', quorum: 1, eligible: ['ann'], description: hostile }] });
    const { page, close } = await phone();
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    try {
      await page.goto(site.link(record, 'ann'));
      expect(await page.locator('img, a[href^="javascript:"]').count()).toBe(0);
      expect(await page.locator('script').count()).toBe(1);
      expect(await page.textContent('.why')).toContain('<script>alert(1)</script>');
      expect(dialogs).toEqual([]);
    } finally {
      await close();
    }
  });
});
