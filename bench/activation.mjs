#!/usr/bin/env node
// Prints, side by side: what loads at activation (the shell) and every lazily loaded
// chunk with its five largest modules; the activation time of Factory Cockpit vs an
// empty extension in the same VS Code host (code-server); and, so that work moved out of
// activate() is still counted, the time from activation to the Stages rows drawn in the
// browser (the workbench loads on that first use). Median of a few fresh hosts.
// Numbers only; nothing fails on time.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printBundleReport, staticClosureBytes } from './support/bundleReport.mjs';
import { killGroup, launchChromium, makeRunDir, remoteUri, removeDir, startCodeServer, workbenchUrl } from '../test/harness/host.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Each activate() shares the host's event loop with the other extensions starting up: a
// run is noisy, so several are taken and the fastest are compared too.
const runs = Number(process.env.BENCH_RUNS ?? 5);
execFileSync(process.execPath, [join(repo, 'esbuild.config.mjs'), '--production'], { cwd: repo, stdio: 'inherit' });
const bundle = join(repo, 'dist', 'extension.js');
const bytes = statSync(bundle).size;
const gz = gzipSync(readFileSync(bundle)).length;

async function once() {
  const runDir = makeRunDir('fc-bench-');
  // The empty extension is installed in the host's extensions folder (the workbench
  // takes one development path only).
  // Two empty extensions: one that never asks for the vscode API, and one that does, as
  // the 'yo code' template starts (the extension host builds the API object for each
  // extension on its first require('vscode'), which any real extension pays).
  for (const [name, code] of [['empty-extension', 'exports.activate = () => undefined;\n'], ['empty-api-extension', "const vscode = require('vscode');\nexports.activate = () => undefined;\n"]]) {
    const dir = join(runDir, 'extensions', `factory-bench.${name}-0.0.1`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, publisher: 'factory-bench', version: '0.0.1', engines: { vscode: '^1.138.0' }, main: './extension.js', activationEvents: [] }));
    writeFileSync(join(dir, 'extension.js'), code);
  }
  // A repository without .factory/, so neither extension is activated at startup by
  // `workspaceContains` and the probe times both activations itself.
  const workspace = join(runDir, 'workspace');
  mkdirSync(workspace);
  execFileSync('git', ['init', '-q'], { cwd: workspace });
  const out = join(runDir, 'bench.json');
  const server = startCodeServer({ runDir, env: { FACTORY_BENCH_OUT: out } });
  let browser;
  try {
    const port = await server.ready;
    browser = await launchChromium(runDir);
    const page = await browser.newPage();
    const done = new Promise((r) => page.exposeFunction('codeAutomationExit', r));
    const payload = [
      ['extensionDevelopmentPath', remoteUri(port, repo)],
      ['extensionTestsPath', remoteUri(port, join(repo, 'bench', 'activation-probe.cjs'))],
    ];
    await page.goto(workbenchUrl(port, workspace, payload));
    // When the first stage row of the bench change is drawn in the Stages view (browser clock = host clock here).
    const rowsDrawn = page
      .waitForFunction(() => ([...document.querySelectorAll('.part.sidebar .monaco-list-row')].some((row) => (row.getAttribute('aria-label') ?? '').startsWith('Plan')) ? Date.now() : false), null, { polling: 'raf', timeout: 120_000 })
      .then((handle) => handle.jsonValue(), () => NaN)
      .finally(() => writeFileSync(`${out}.rows-seen`, ''));
    await Promise.race([done, new Promise((r) => setTimeout(r, 120_000))]);
    const rowsEpoch = await rowsDrawn;
    if (!existsSync(out)) console.error(`no result from this host; its log:\n${readFileSync(join(runDir, "code-server.log"), "utf8").split("\n").filter((l) => /error|fail/i.test(l)).slice(-15).join("\n")}`);
    if (!existsSync(out)) return undefined;
    const results = JSON.parse(readFileSync(out, 'utf8'));
    results[2].rowsAfterActivation = rowsEpoch - results[2].activatedEpoch;
    return results;
  } finally {
    await browser?.close();
    await killGroup(server.child);
    removeDir(runDir);
  }
}

const samples = { empty: [], emptyApi: [], cockpit: [], rows: [] };
const loads = [];
for (let i = 0; i < runs; i++) {
  const r = await once();
  if (!r) continue;
  samples.empty.push(r[0].ms ?? NaN);
  samples.emptyApi.push(r[1].ms ?? NaN);
  samples.cockpit.push(r[2].ms ?? NaN);
  samples.rows.push(r[2].rowsAfterActivation ?? NaN);
  loads.push(r[2].loadedAtActivation ? 'loaded at activation' : `not loaded at activation; loaded for: ${r[2].loadReason ?? '?'}`);
}
const median = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN);
console.log('activation benchmark (VS Code 1.139.1 via code-server, production bundle)');
console.log(`  loaded at activation: dist/extension.js ${(bytes / 1024).toFixed(1)} KiB (${(gz / 1024).toFixed(1)} KiB gzipped; goal ≤ 150 KB)`);
printBundleReport(join(repo, 'dist', 'meta', 'extension.json'), { label: '  the activation shell:' });
const lazyBytes = printBundleReport(join(repo, 'dist', 'meta', 'lazy.json'), { label: '  loaded on first use (dist/lazy: the workbench and its chunks):' });
const firstUse = staticClosureBytes(join(repo, 'dist', 'meta', 'lazy.json'), 'dist/lazy/workbench.mjs');
const allLazy = Object.values(lazyBytes).reduce((a, b) => a + b, 0);
console.log(`  the first use (the Stages view) loads workbench.mjs and the ${firstUse.files.length - 1} chunks it imports statically: ${(firstUse.bytes / 1024).toFixed(1)} KiB of ${(allLazy / 1024).toFixed(1)} KiB`);
const fmt = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
console.log(`  activate() empty extension   ${fmt(median(samples.empty))} ms  (median of ${samples.empty.length}: ${samples.empty.map(fmt).join(', ')}; never asks for the vscode API)`);
console.log(`  activate() empty + API       ${fmt(median(samples.emptyApi))} ms  (median of ${samples.emptyApi.length}: ${samples.emptyApi.map(fmt).join(', ')}; require('vscode') and nothing else)`);
console.log(`  activate() Factory Cockpit   ${fmt(median(samples.cockpit))} ms  (median of ${samples.cockpit.length}: ${samples.cockpit.map(fmt).join(', ')})`);
console.log(`  ratio                        ${fmt(median(samples.cockpit) / median(samples.emptyApi))}× the empty extension that asks for the API (goal ≤ 1.5×); ${fmt(median(samples.cockpit) / median(samples.empty))}× the one that never does`);
const fastest = (xs) => Math.min(...xs.filter(Number.isFinite));
console.log(`  ratio of the fastest runs     ${fmt(fastest(samples.cockpit) / fastest(samples.emptyApi))}× the empty extension that asks for the API (${fmt(fastest(samples.cockpit))} against ${fmt(fastest(samples.emptyApi))} ms: the least disturbed run of each)`);
console.log(`  activation → Stages rows     ${fmt(median(samples.rows))} ms  (median of ${samples.rows.length}: ${samples.rows.map(fmt).join(', ')}; ${[...new Set(loads)].join('; ')})`);
