#!/usr/bin/env node
// The shipped artifact, as a user gets it: installs dist/factory-cockpit.vsix (built by
// `npm run package`) into a fresh code-server, opens the generated sample repository
// in Chromium and checks what a person sees — the Factory view with the sample change
// and its stages, and the status bar item. Development-mode tests cannot catch a
// .vsix that leaves out a file or activates differently once installed (zod's
// `navigator` access once broke only the installed extension).
// Prints one line per check and `N passed, N failed`; exits non-zero on a failure.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { artifacts, makeSampleWorkspace, repo } from './common.mjs';
import { hostPaths, isolatedEnv, killGroup, launchChromium, makeRunDir, removeDir, startCodeServer, workbenchUrl } from './host.mjs';

const vsix = join(repo, 'dist', 'factory-cockpit.vsix');
const EXTENSION_ID = 'factory-cockpit.factory-cockpit';
const results = { passed: 0, failed: 0 };

async function check(name, fn) {
  try {
    await fn();
    results.passed++;
    console.log(`  ✓ [packaged] ${name}`);
  } catch (error) {
    results.failed++;
    console.log(`  ✗ [packaged] ${name}\n      ${String(error?.message ?? error).split('\n').join('\n      ')}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)));
}

async function main() {
  if (!existsSync(vsix)) throw new Error('dist/factory-cockpit.vsix is missing: run `npm run package` first.');
  if (!hostPaths().complete) throw new Error('The VS Code host is not installed: run `bash scripts/setup-host.sh`.');
  const runDir = makeRunDir('fc-packaged-');
  const cleanups = [() => removeDir(runDir)];
  const started = Date.now();
  try {
    const workspace = join(runDir, 'sample-app');
    makeSampleWorkspace(workspace);
    const extensionsDir = join(runDir, 'extensions');
    const { node, entry } = hostPaths();
    console.log(`packaged: installing ${relative(repo, vsix)} (${(statSync(vsix).size / 1024).toFixed(0)} KB) into a fresh code-server`);
    execFileSync(node, [entry, '--extensions-dir', extensionsDir, '--user-data-dir', join(runDir, 'user-data'), '--install-extension', vsix], {
      env: isolatedEnv(runDir),
      stdio: ['ignore', 'ignore', 'inherit'],
    });

    const installed = readdirSync(extensionsDir).find((d) => d.startsWith(`${EXTENSION_ID}-`));
    await check('the .vsix installs and holds only what runs', () => {
      assert(installed, `no ${EXTENSION_ID}-* folder in ${readdirSync(extensionsDir).join(', ')}`);
      const files = filesUnder(join(extensionsDir, installed));
      for (const needed of ['package.json', 'dist/extension.js', 'dist/cli.js', 'media/factory.svg']) assert(files.includes(needed), `${needed} is missing from the package`);
      assert(files.some((f) => f.startsWith('dist/webview/')), 'the webview bundles are missing');
      assert(files.some((f) => f.startsWith('schemas/')), 'the pipeline JSON schema is missing');
      const stray = files.filter((f) => /^(src|test|bench|node_modules|scripts)\//.test(f) || f.endsWith('.map') || f.endsWith('.ts'));
      assert(stray.length === 0, `files that do not run were packaged: ${stray.slice(0, 10).join(', ')}`);
    });

    const server = startCodeServer({ runDir, extensionsDir, logFile: join(runDir, 'code-server.log') });
    cleanups.push(() => killGroup(server.child));
    const port = await server.ready;
    const browser = await launchChromium(runDir);
    cleanups.push(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(workbenchUrl(port, workspace), { waitUntil: 'domcontentloaded', timeout: 120_000 });
    await page.locator('.monaco-workbench').waitFor({ timeout: 120_000 });

    await check('the Factory view shows the sample change and its stages', async () => {
      await page.locator('.activitybar [aria-label^="Factory"]').first().click({ timeout: 60_000 });
      const rows = page.locator('.part.sidebar .monaco-list-row');
      await rows.filter({ hasText: 'Add password reset' }).first().waitFor({ timeout: 60_000 });
      await rows.filter({ hasText: 'Implement' }).first().waitFor({ timeout: 30_000 });
      const labels = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
      assert(labels.some((l) => /^Plan, passed/.test(l)), `no passed Plan row in ${JSON.stringify(labels)}`);
      assert(labels.some((l) => /^Implement, running/.test(l)), `no running Implement row in ${JSON.stringify(labels)}`);
      mkdirSync(join(artifacts, 'screenshots'), { recursive: true });
      await page.screenshot({ path: join(artifacts, 'screenshots', 'packaged-stages-view.png') });
    });

    await check('the status bar shows the change and its active stage', async () => {
      const item = page.locator(`.statusbar-item[id="${EXTENSION_ID}.factory.status"]`);
      await item.waitFor({ timeout: 30_000 });
      const label = (await item.getAttribute('aria-label')) ?? '';
      assert(/Factory change Add password reset, stage Implement/.test(label), `status bar label: ${label}`);
    });

    await check('the extension host logged no activation error', () => {
      const logs = filesUnder(join(runDir, 'user-data', 'logs')).filter((f) => f.endsWith('exthost.log'));
      assert(logs.length > 0, 'no extension host log was written');
      const text = logs.map((f) => readFileSync(join(runDir, 'user-data', 'logs', f), 'utf8')).join('\n');
      mkdirSync(artifacts, { recursive: true });
      writeFileSync(join(artifacts, 'packaged-exthost.log'), text);
      const errors = text.split('\n').filter((l) => l.includes(EXTENSION_ID) && /\b(error|failed)\b/i.test(l));
      assert(errors.length === 0, errors.slice(0, 5).join('\n'));
      assert(text.includes(EXTENSION_ID), `the log never mentions ${EXTENSION_ID}: was it activated?`);
    });
  } finally {
    for (const fn of cleanups.reverse()) await Promise.resolve().then(fn).catch(() => undefined);
  }
  console.log(`packaged: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main()
  .catch((error) => {
    results.failed++;
    console.log(`  ✗ [packaged] harness error: ${error?.stack ?? error}`);
  })
  .finally(() => {
    console.log(`${results.passed} passed, ${results.failed} failed, 0 skipped`);
    process.exit(results.failed > 0 ? 1 : 0);
  });
