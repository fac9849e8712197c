#!/usr/bin/env node
// The cockpit in a real VS Code (code-server + Chromium) on the sample repository
// with N generated changes added to its record: time from opening the Factory view to
// the Stages rows (first with no summary index, as after a clone, then after a window
// reload), and from Switch Change to its list, side by side for N = 0 and larger N.
// Numbers only; nothing fails on time.
//   node bench/host-large-record.mjs [N ...]      (default: 0 2000)
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeSampleWorkspace, repo } from '../test/harness/common.mjs';
import { hostPaths, makeRunDir, removeDir } from '../test/harness/host.mjs';
import { openWorkbench } from './support/openWorkbench.mjs';

const sizes = process.argv.slice(2).map(Number).filter((n) => Number.isFinite(n));
if (sizes.length === 0) sizes.push(0, 2000);
if (!hostPaths().complete) {
  console.error('The VS Code host is not installed: run `bash scripts/setup-host.sh`.');
  process.exit(1);
}
execFileSync(process.execPath, [join(repo, 'esbuild.config.mjs'), '--production'], { cwd: repo, stdio: 'inherit' });

async function measure(extra) {
  const runDir = makeRunDir('fc-bench-large-');
  const cleanups = [() => removeDir(runDir)];
  try {
    const workspace = join(runDir, 'workspace');
    makeSampleWorkspace(workspace);
    if (extra > 0) {
      execFileSync(process.execPath, ['--import', 'tsx', join(repo, 'bench', 'support', 'addChanges.ts'), workspace, String(extra)], { cwd: repo });
      // Committed, as a record that arrived with a clone or a pull is.
      execFileSync('git', ['add', '-A'], { cwd: workspace });
      execFileSync('git', ['commit', '-qm', `${extra} generated changes`], { cwd: workspace });
    }
    const page = await openWorkbench({ runDir, workspace, cleanups });
    // The record is read on activation (workspaceContains:.factory); the view shows it.
    // First with no summary index (as after a clone), then after a reload, with it.
    const openStages = async () => {
      const start = performance.now();
      await page.locator('.activitybar [aria-label^="Factory"]').first().click();
      await page.locator('.part.sidebar .monaco-list-row', { hasText: 'Implement' }).first().waitFor({ timeout: 180_000 });
      return performance.now() - start;
    };
    const firstMs = await openStages();
    await page.reload({ waitUntil: 'domcontentloaded' });
    await page.locator('.activitybar [aria-label^="Factory"]').first().waitFor({ timeout: 120_000 });
    const stagesMs = await openStages();
    // Switch Change lists every open change, newest first, from the index.
    await page.keyboard.press('F1');
    await page.locator('.quick-input-widget .quick-input-box input').waitFor();
    await page.keyboard.type('Factory: Switch Change');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Switch Change' }).first().waitFor();
    const start = performance.now();
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: extra > 0 ? 'Generated change' : 'Fix login redirect' }).first().waitFor({ timeout: 120_000 });
    const switchMs = performance.now() - start;
    await page.keyboard.press('Escape');
    // What the extension itself logged for its first read of the record, per window.
    const logged = readdirSync(join(runDir, 'user-data', 'logs'), { recursive: true })
      .filter((f) => String(f).endsWith('Factory Cockpit.log'))
      .map((f) => readFileSync(join(runDir, 'user-data', 'logs', String(f)), 'utf8'))
      .map((text) => Number(/Read the record: \d+ changes in (\d+) ms/.exec(text)?.[1] ?? NaN));
    return { firstMs, stagesMs, switchMs, loads: logged };
  } finally {
    for (const fn of cleanups.reverse()) await Promise.resolve().then(fn).catch(() => undefined);
  }
}

const columns = ['changes in the record', 'first open → stage rows', 'reopen → stage rows', 'Switch Change → its list', 'record read (logged)'];
console.log(columns.map((c, i) => (i === 0 ? c.padEnd(24) : c.padStart(27))).join(''));
for (const extra of sizes) {
  const { firstMs, stagesMs, switchMs, loads } = await measure(extra);
  const logged = loads.length ? loads.map((ms) => `${ms} ms`).join(' / ') : 'not found';
  console.log([String(extra + 2).padEnd(24), ...[firstMs, stagesMs, switchMs].map((ms) => `${ms.toFixed(0)} ms`.padStart(27)), logged.padStart(27)].join(''));
}
console.log('(open times include the extension host starting; "record read" is the extension\'s own first read in each window: first open / reopen)');
