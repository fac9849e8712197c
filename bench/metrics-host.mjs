#!/usr/bin/env node
// The Flow Dashboard in a real VS Code (code-server + Chromium) on the sample workspace
// with a generated team history of N changes fetched as teammates' branches: time from
// the command to the drawn dashboard (first with no cached facts, then reopened with
// them), and the webview's own paint of the report (its first paint: the goal is
// well under a second at 10,000 changes). Numbers only; nothing fails on time.
//   node bench/metrics-host.mjs [changes] [branches] [weeks]     (default 10000 500 52)
// The generated history is cached (scripts/sample-history.ts cachedSampleHistory; the
// default is the one bench/history.ts uses). The extension is built for production into
// the run's own folder, never into the checkout's dist/, which other host runs may be using.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeSampleWorkspace, repo } from '../test/harness/common.mjs';
import { hostPaths, makeRunDir, removeDir } from '../test/harness/host.mjs';
import { buildExtensionIn } from './support/buildExtension.mjs';
import { openWorkbench } from './support/openWorkbench.mjs';

const [changes = 10_000, branches = 500, weeks = 52] = process.argv.slice(2).map(Number);
if (!hostPaths().complete) {
  console.error('The VS Code host is not installed: run `bash scripts/setup-host.sh`.');
  process.exit(1);
}
const history = JSON.parse(
  execFileSync(process.execPath, ['--import', 'tsx', '-e', `require('./scripts/sample-history').cachedSampleHistory({ changes: ${changes}, branches: ${branches}, weeks: ${weeks}, now: Date.parse('2026-12-01T00:00:00Z'), writer: 'files', uncommitted: 0, seed: 17 }).then((h) => console.log(JSON.stringify(h)))`], { cwd: repo, encoding: 'utf8', maxBuffer: 1 << 28 }),
);

async function inFrames(page, selector, timeout = 300_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      try {
        const loc = frame.locator(selector);
        if ((await loc.count()) > 0) return loc.first();
      } catch {
        /* detached */
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${selector}`);
}

const runDir = makeRunDir('fc-bench-dashboard-');
const cleanups = [() => removeDir(runDir)];
try {
  const extensionPath = buildExtensionIn(join(runDir, 'extension'));
  const workspace = join(runDir, 'workspace');
  makeSampleWorkspace(workspace);
  execFileSync('git', ['fetch', '-q', history.dir, '+refs/heads/*:refs/remotes/team/*', '+refs/remotes/origin/*:refs/remotes/team-origin/*'], { cwd: workspace });
  const page = await openWorkbench({ runDir, workspace, cleanups, extensionPath });
  const open = async () => {
    await page.keyboard.press('F1');
    await page.locator('.quick-input-widget .quick-input-box input').waitFor();
    await page.keyboard.type('Factory: Open Flow Dashboard');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Open Flow Dashboard' }).first().waitFor();
    const start = performance.now();
    await page.keyboard.press('Enter');
    const el = await inFrames(page, 'factory-dashboard[data-paint-ms]');
    const ms = performance.now() - start;
    return { ms, paint: Number(await el.getAttribute('data-paint-ms')), changes: Number(await el.getAttribute('data-changes')) };
  };
  const first = await open();
  console.log(`${first.changes} changes: command → drawn dashboard, no cached facts   ${first.ms.toFixed(0)} ms`);
  console.log(`${first.changes} changes: the dashboard's first paint (webview, report → drawn)  ${first.paint} ms (goal: well under a second)`);
  await page.keyboard.press('Control+W');
  const again = await open();
  console.log(`${again.changes} changes: command → drawn dashboard, cached facts      ${again.ms.toFixed(0)} ms (webview paint ${again.paint} ms)`);
} finally {
  for (const c of cleanups.reverse()) await c();
}
