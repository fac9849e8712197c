#!/usr/bin/env node
// The review panel in a real VS Code (code-server + Chromium) on a change with 200
// attempts and a 50 MB transcript (built by bench/review.ts --build): the time from
// picking the change in Factory: Review Change to its first step's heading drawn in
// the webview, then to the 50 MB transcript's step drawn, beside reading the same
// record's event files. Numbers only; nothing fails on time. Goal: first step < 1 s.
//   node bench/review-host.mjs [attempts] [transcriptMB]
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeSampleWorkspace, repo } from '../test/harness/common.mjs';
import { hostPaths, makeRunDir, removeDir } from '../test/harness/host.mjs';
import { openWorkbench } from './support/openWorkbench.mjs';

const attempts = process.argv[2] ?? '200';
const megabytes = process.argv[3] ?? '50';
if (!hostPaths().complete) {
  console.error('The VS Code host is not installed: run `bash scripts/setup-host.sh`.');
  process.exit(1);
}
// A development build: a production one empties dist/, which other runs on this machine may be using.
execFileSync(process.execPath, [join(repo, 'esbuild.config.mjs')], { cwd: repo, stdio: 'inherit' });

/** The first frame (webviews live in nested iframes) where `selector` has text matching `match`. */
async function frameText(page, selector, match, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) {
      try {
        const texts = await frame.locator(selector).allInnerTexts();
        if (texts.some((t) => match(t))) return texts;
      } catch {
        /* detached frame */
      }
    }
    if (Date.now() > deadline) throw new Error(`no frame shows ${selector}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const runDir = makeRunDir('fc-bench-review-');
const cleanups = [() => removeDir(runDir)];
try {
  const workspace = join(runDir, 'workspace');
  makeSampleWorkspace(workspace);
  const built = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', join(repo, 'bench', 'review.ts'), '--build', workspace, attempts, megabytes], { cwd: repo, encoding: 'utf8' }).trim().split('\n').pop());
  const eventsDir = join(workspace, '.factory', 'changes', built.changeId, 'events');
  const readStart = performance.now();
  const names = readdirSync(eventsDir);
  for (const name of names) JSON.parse(readFileSync(join(eventsDir, name), 'utf8'));
  const readMs = performance.now() - readStart;

  const page = await openWorkbench({ runDir, workspace, cleanups });
  await page.locator('.activitybar [aria-label^="Factory"]').first().click();
  await page.locator('.part.sidebar .monaco-list-row').first().waitFor({ timeout: 180_000 });

  const review = async () => {
    await page.keyboard.press('F1');
    await page.locator('.quick-input-widget .quick-input-box input').waitFor();
    await page.keyboard.type('Factory: Review Change');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Review Change' }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Large review' }).first().waitFor({ timeout: 120_000 });
    await page.keyboard.type('Large review');
    const start = performance.now();
    await page.keyboard.press('Enter');
    await frameText(page, 'factory-review #rv-step-heading', (t) => t.startsWith('Stage 1 of'), 120_000);
    const firstMs = performance.now() - start;
    // The first attempt carries the 50 MB transcript: one step on, drawn on demand.
    await page.keyboard.press('F1');
    await page.keyboard.type('Factory: Review: Next Step');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Next Step' }).first().waitFor();
    const next = performance.now();
    await page.keyboard.press('Enter');
    await frameText(page, 'factory-review factory-review-transcript .entry', () => true, 300_000);
    const bigMs = performance.now() - next;
    return { firstMs, bigMs };
  };
  const cold = await review();
  await page.keyboard.press('ControlOrMeta+k');
  await page.keyboard.press('w');
  const warm = await review();
  const row = (label, ms, extra = '') => console.log(`${label.padEnd(64)} ${ms.toFixed(0).padStart(7)} ms${extra ? `  ${extra}` : ''}`);
  row(`read the change's ${names.length} event files + JSON.parse`, readMs);
  const logged = readdirSync(join(runDir, 'user-data', 'logs'), { recursive: true })
    .filter((f) => String(f).endsWith('Factory Cockpit.log'))
    .flatMap((f) => readFileSync(join(runDir, 'user-data', 'logs', String(f)), 'utf8').split('\n').filter((l) => l.includes('Review of')));
  for (const l of logged) console.log(`  (logged) ${l.replace(/^.*Review of/, 'Review of')}`);
  row('Review Change → first step drawn (first open)', cold.firstMs, `goal < 1000 ms: ${cold.firstMs < 1000 ? 'met' : 'NOT met'}`);
  row(`next step → the ${megabytes} MB transcript drawn (first open)`, cold.bigMs);
  row('Review Change → first step drawn (reopened)', warm.firstMs, `goal < 1000 ms: ${warm.firstMs < 1000 ? 'met' : 'NOT met'}`);
  row(`next step → the ${megabytes} MB transcript drawn (reopened)`, warm.bigMs);
} finally {
  for (const fn of cleanups.reverse()) await Promise.resolve().then(fn).catch(() => undefined);
}
