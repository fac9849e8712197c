// Loaded into the VS Code host as the "test module" by bench/activation.mjs: activates
// the two empty extensions, then Factory Cockpit, timing each activate() call (module load
// + activate function); then opens the Factory view and notes when, so the runner can
// time activation → stage rows drawn in the browser (the workbench loads on that first
// use). The record is created with the CLI before Factory Cockpit activates, so its
// `workspaceContains` activation event cannot fire first.
const vscode = require('vscode');
const { execFileSync } = require('node:child_process');
const { existsSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

async function time(id) {
  const extension = vscode.extensions.getExtension(id);
  if (!extension) return { id, ms: NaN, note: 'not installed' };
  if (extension.isActive) return { id, ms: NaN, note: 'already active' };
  const epoch = Date.now();
  const start = performance.now();
  await extension.activate();
  return { id, ms: performance.now() - start, epoch, extension };
}

exports.run = async function run() {
  const out = process.env.FACTORY_BENCH_OUT;
  const empty = await time('factory-bench.empty-extension');
  const emptyApi = await time('factory-bench.empty-api-extension');
  const cockpitExtension = vscode.extensions.getExtension('factory-cockpit.factory-cockpit');
  const root = vscode.workspace.workspaceFolders[0].uri.fsPath;
  execFileSync(process.execPath, [join(cockpitExtension.extensionPath, 'dist', 'cli.js'), '--root', root, 'change', 'start', 'Bench change', '--branch', 'none'], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, stdio: 'ignore' });
  const cockpit = await time('factory-cockpit.factory-cockpit');
  const activated = Date.now();
  const api = cockpit.extension.exports;
  const loadedAtActivation = api.loaded().loaded;
  await vscode.commands.executeCommand('factory.showStages');
  const results = [
    { id: empty.id, ms: empty.ms },
    { id: emptyApi.id, ms: emptyApi.ms },
    { id: cockpit.id, ms: cockpit.ms, activationStartEpoch: cockpit.epoch, activatedEpoch: activated, loadedAtActivation, loadReason: api.loaded().reason },
  ];
  writeFileSync(out, JSON.stringify(results));
  // The host stays up until the runner saw the rows (or gave up), then the bench ends it.
  const seen = `${out}.rows-seen`;
  for (let waited = 0; waited < 60_000 && !existsSync(seen); waited += 50) await new Promise((r) => setTimeout(r, 50));
};
