#!/usr/bin/env node
// Runs the integration suite inside a real VS Code extension host, offline:
// code-server + Debian Chromium via playwright-core (../shared/VSCODE-TESTING.md).
// For each suite it generates a fresh sample workspace (a real git repository),
// starts code-server, opens the workbench with the extension under development and
// the test module, and serves a small "driver" on 127.0.0.1 through which tests ask
// for what only the browser can do: screenshots and checks of what a person sees.
// Prints one line per test and closes with `N passed, N failed, N skipped`; exits
// non-zero on a failure, a missing result or a timeout; always cleans up.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDriver, makeSampleWorkspace, suitesFor, testsDir, artifacts, repo } from './common.mjs';
import { hostPaths, killGroup, launchChromium, makeRunDir, remoteUri, removeDir, startCodeServer, workbenchUrl } from './host.mjs';
import { endRunners } from './runners.mjs';

const SUITE_TIMEOUT_MS = Number(process.env.FACTORY_SUITE_TIMEOUT_MS ?? 20 * 60_000);
const onlyFiles = process.argv.slice(2);

const suites = suitesFor(onlyFiles);

const cleanups = [];
let cleaningUp = false;
async function cleanup() {
  if (cleaningUp) return;
  cleaningUp = true;
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch {
      /* keep cleaning */
    }
  }
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, async () => {
    console.error(`\n${signal}: cleaning up`);
    await cleanup();
    process.exit(130);
  });
}

async function runSuite(suite, totals) {
  const runDir = makeRunDir('fc-test-');
  cleanups.push(() => removeDir(runDir));
  const workspace = join(runDir, 'workspace');
  const made = makeSampleWorkspace(workspace, { fresh: suite.fresh, demo: suite.demo });
  const resultsFile = join(runDir, 'results.json');
  const state = { suite: suite.name, page: undefined, dialogs: [] };
  const driver = await startDriver(state);
  cleanups.push(() => new Promise((r) => driver.close(() => r())));
  const runConfig = {
    resultsFile,
    files: suite.files.map((f) => join(testsDir, f)),
    driverUrl: `http://127.0.0.1:${driver.address().port}/`,
    workspace,
    sample: made,
    artifacts,
    repo,
  };
  writeFileSync(join(runDir, 'run.json'), JSON.stringify(runConfig, null, 2));

  const server = startCodeServer({ runDir, workspaceTrust: suite.trust, env: { FACTORY_TEST_RUN: join(runDir, 'run.json') } });
  cleanups.push(() => killGroup(server.child));
  // Runs outlive the window in detached runners: end those this suite caused.
  cleanups.push(() => endRunners(runDir));
  const port = await server.ready;
  const browser = await launchChromium(runDir);
  cleanups.push(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  state.page = page;
  page.on('dialog', (d) => {
    state.dialogs.push(d.message());
    d.dismiss().catch(() => undefined);
  });
  const exitCode = new Promise((resolveExit) => page.exposeFunction('codeAutomationExit', (code) => resolveExit(code)));
  const payload = [
    ['extensionDevelopmentPath', remoteUri(port, repo)],
    ['extensionTestsPath', remoteUri(port, join(testsDir, 'index.js'))],
  ];
  console.log(`suite ${suite.name}: ${suite.files.length} file(s), workspace trust ${suite.trust ? 'on' : 'off'}${suite.fresh ? ', no record yet' : ''}`);
  await page.goto(workbenchUrl(port, workspace, payload), { waitUntil: 'domcontentloaded', timeout: 120_000 });
  let timer;
  const timeout = new Promise((resolveTimeout) => {
    timer = setTimeout(() => resolveTimeout('timeout'), SUITE_TIMEOUT_MS);
  });
  const outcome = await Promise.race([exitCode, timeout]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    mkdirSync(join(artifacts, 'screenshots'), { recursive: true });
    await page.screenshot({ path: join(artifacts, 'screenshots', `timeout-${suite.name}.png`) }).catch(() => undefined);
    console.log(`  ✗ [${suite.name}] timed out after ${SUITE_TIMEOUT_MS / 1000} s (screenshot in test-artifacts/screenshots)`);
    totals.failed++;
    totals.broken = true;
  }
  if (!existsSync(resultsFile)) {
    if (outcome !== 'timeout') {
      console.log(`  ✗ [${suite.name}] no results file: the test module did not run (exit code ${outcome}); see ${join(artifacts, `code-server-${suite.name}.log`)}`);
      totals.failed++;
    }
    totals.broken = true;
  } else {
    const results = JSON.parse(readFileSync(resultsFile, 'utf8'));
    totals.passed += results.passed;
    totals.failed += results.failed;
    totals.skipped += results.skipped;
    if (results.passed + results.failed === 0) totals.broken = true;
  }
  mkdirSync(artifacts, { recursive: true });
  try {
    writeFileSync(join(artifacts, `code-server-${suite.name}.log`), readFileSync(join(runDir, 'code-server.log')));
  } catch {
    /* no log */
  }
}

async function main() {
  if (!hostPaths().complete) {
    console.error('The VS Code host is not installed: run `bash scripts/setup-host.sh` (CI does it in .ci/run).');
    process.exit(1);
  }
  if (!existsSync(join(testsDir, 'index.js'))) {
    console.error('The integration suite is not built: run `node esbuild.config.mjs --tests` first.');
    process.exit(1);
  }
  const totals = { passed: 0, failed: 0, skipped: 0, broken: false };
  const started = Date.now();
  try {
    for (const suite of suites) {
      await runSuite(suite, totals);
      await cleanup();
      cleaningUp = false;
      cleanups.length = 0;
    }
  } catch (error) {
    console.error(`harness error: ${error?.stack ?? error}`);
    totals.broken = true;
    totals.failed++;
  } finally {
    await cleanup();
  }
  console.log(`integration: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  process.exit(totals.failed > 0 || totals.broken ? 1 : 0);
}

main();
