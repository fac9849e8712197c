// The review export (engine/reviewExport.ts): Markdown that renders no markup from the
// record, and one self-contained HTML file that, opened in Chromium, makes no network
// request and runs no script, with the screenshot embedded and every hash listed.
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createFactory } from '../../../src/engine/factory';
import { exportReview } from '../../../src/engine/reviewExport';
import { makeReviewHistory, type ReviewHistory } from '../../support/reviewHistory';

const HOSTILE = '<img src=https://example.com/x.png onerror=alert(1)> [link](https://example.com) <script>alert(2)</script>';

describe('review: export', function () {
  this.timeout(120_000);
  let history: ReviewHistory;
  let md: string;
  let html: string;

  before(async () => {
    const dir = join(realpathSync(mkdtempSync(join(tmpdir(), 'fc-review-export-'))), 'repo');
    history = await makeReviewHistory(dir, { otherBranch: false });
    const factory = createFactory({ root: dir, settings: { get: () => undefined }, secrets: { get: async () => undefined }, trust: { isTrusted: () => true } });
    await factory.review.comment({ changeId: history.changeId, body: HOSTILE, stageId: 'plan' });
    const session = await factory.review.open(history.changeId);
    md = await exportReview(factory.review, session, 'md', { now: new Date('2026-12-01T00:00:00Z') });
    html = await exportReview(factory.review, session, 'html', { now: new Date('2026-12-01T00:00:00Z') });
  });

  it('writes Markdown with the stages, timeline, steps, decisions, comments and evidence hashes; record text stays text', () => {
    for (const section of ['# Review: Harden login', '## Stages', '## Timeline', '## Steps', '## Decisions', '## Comments', '## Evidence']) assert.ok(md.includes(section), section);
    assert.ok(md.includes(history.screenshotSha) && md.includes('✔ verified'));
    assert.ok(md.includes("started without the handoff's pack \\(v3\\): context re\\-created"));
    assert.ok(md.includes('\\<img src=https://example\\.com/x\\.png'), 'the comment, escaped');
    assert.ok(!/(^|[^\\])<(img|script)/.test(md) && !/[^\\]\]\(https/.test(md), 'no markup from the record');
  });

  it('writes one HTML file that a browser shows with no network request and no script', async function () {
    const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
    if (!chromium) this.skip();
    const file = join(history.dir, '..', 'review.html');
    writeFileSync(file, html);
    const { chromium: launcher } = await import('playwright-core');
    const browser = await launcher.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
      });
      const refused: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) refused.push(m.text());
      });
      const dialogs: string[] = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      await page.goto(pathToFileURL(file).href);
      await page.waitForLoadState('load');
      assert.deepEqual(requests, []);
      assert.deepEqual(dialogs, []);
      assert.deepEqual(refused, [], 'the style block is allowed by its hash, nothing else was refused');
      assert.equal(await page.locator('th').first().evaluate((th) => (globalThis as unknown as { getComputedStyle(e: unknown): { getPropertyValue(p: string): string } }).getComputedStyle(th).getPropertyValue('border-top-style')), 'solid', 'the page\'s own style applies');
      assert.match(await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content') ?? '', /style-src 'sha256-[A-Za-z0-9+/]+=*'$/, 'no unsafe-inline');
      assert.equal(await page.locator('script').count(), 0);
      assert.equal(await page.locator('img').count(), 1, 'the screenshot, embedded');
      assert.ok(Number(await page.locator('img').first().evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)) > 0);
      assert.ok((await page.textContent('body'))!.includes(HOSTILE), 'hostile text shown as text');
    } finally {
      await browser.close();
    }
  });
});
