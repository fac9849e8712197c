// Loaded into the VS Code host as the "test module" by bench/activation.mjs:
// activates the empty extension, then Factory Cockpit, timing each activate() call
// (module load + activate function), and writes the numbers for the runner.
const vscode = require('vscode');
const { writeFileSync } = require('node:fs');

async function time(id) {
  const extension = vscode.extensions.getExtension(id);
  if (!extension) return { id, ms: NaN, note: 'not installed' };
  if (extension.isActive) return { id, ms: NaN, note: 'already active' };
  const start = performance.now();
  await extension.activate();
  return { id, ms: performance.now() - start };
}

exports.run = async function run() {
  const out = process.env.FACTORY_BENCH_OUT;
  const results = [await time('factory-bench.empty-extension'), await time('factory-cockpit.factory-cockpit')];
  writeFileSync(out, JSON.stringify(results));
};
