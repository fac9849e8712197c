#!/usr/bin/env node
// The same integration suite on desktop VS Code through @vscode/test-electron, for
// machines with internet (it downloads VS Code; offline it fails with ENOTFOUND, so
// `npm test` uses run-host-tests.mjs instead). @vscode/test-electron 2.5.x is the line
// that runs on Node 20 (3.x needs Node 22). The browser-level checks attach
// playwright-core to the VS Code window over the Chrome DevTools Protocol.
import { createServer } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';
import { artifacts, makeSampleWorkspace, repo, startDriver, suitesFor, testsDir } from './common.mjs';

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

async function attachPage(cdpPort, state) {
  const { chromium } = await import('playwright-core');
  for (let i = 0; i < 120 && !state.page; i++) {
    try {
      const browser = await chromium.connectOverCDP(`http://127.0.0.1:${cdpPort}`);
      state.browser = browser;
      state.page = browser.contexts()[0]?.pages().find((p) => p.url().includes('workbench')) ?? browser.contexts()[0]?.pages()[0];
    } catch {
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

const totals = { passed: 0, failed: 0, skipped: 0 };
for (const suite of suitesFor(process.argv.slice(2))) {
  const runDir = mkdtempSync(join(tmpdir(), 'fc-electron-'));
  const workspace = join(runDir, 'workspace');
  const sample = makeSampleWorkspace(workspace);
  const state = { suite: suite.name, page: undefined, dialogs: [] };
  const driver = await startDriver(state);
  const resultsFile = join(runDir, 'results.json');
  writeFileSync(
    join(runDir, 'run.json'),
    JSON.stringify({ resultsFile, files: suite.files.map((f) => join(testsDir, f)), driverUrl: `http://127.0.0.1:${driver.address().port}/`, workspace, sample, artifacts, repo }),
  );
  const cdpPort = await freePort();
  void attachPage(cdpPort, state);
  try {
    await runTests({
      version: process.env.FACTORY_VSCODE_VERSION ?? 'stable',
      extensionDevelopmentPath: repo,
      extensionTestsPath: join(testsDir, 'index.js'),
      extensionTestsEnv: { FACTORY_TEST_RUN: join(runDir, 'run.json') },
      launchArgs: [workspace, '--disable-extensions', `--remote-debugging-port=${cdpPort}`, `--user-data-dir=${join(runDir, 'user-data')}`, ...(suite.trust ? [] : ['--disable-workspace-trust'])],
    });
  } catch (error) {
    console.error(`suite ${suite.name}: ${error?.message ?? error}`);
  } finally {
    await state.browser?.close().catch(() => undefined);
    driver.close();
  }
  if (existsSync(resultsFile)) {
    const r = JSON.parse(readFileSync(resultsFile, 'utf8'));
    totals.passed += r.passed;
    totals.failed += r.failed;
    totals.skipped += r.skipped;
  } else {
    totals.failed++;
    console.log(`  ✗ [${suite.name}] no results file`);
  }
}
mkdirSync(artifacts, { recursive: true });
console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed > 0 ? 1 : 0);
