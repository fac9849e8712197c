// `factory-cockpit status` only reads the record, and every Node builtin module it loads
// costs its start (bench/cli-startup.mjs): what only writing, evidence, the first run of
// a build or another command needs (zlib, worker_threads through write-file-atomic,
// perf_hooks, node:module and Node's ESM loader), and child_process where no git runs,
// is required where it is used.
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { buildCli, cli, CLI, sandbox } from './helpers';
import { keptPipelineIn, repositoryCacheDir } from '../../../src/store/cacheDir';

describe('cli: the builtins a status run loads', function () {
  this.timeout(120_000);
  before(() => buildCli());

  it('none that only writing, evidence, the first run or another command needs', () => {
    const b = sandbox();
    try {
      assert.equal(cli(b, ['init']).code, 0);
      assert.equal(cli(b, ['change', 'start', 'Add password reset', '--branch', 'none']).code, 0);
      // The change's events as an earlier day left them: a folder written within the index's
      // racy window is read again and the index rewritten (write-file-atomic), as it should be.
      const changes = join(b.dir, '.factory', 'changes');
      const earlier = new Date(Date.now() - 60_000);
      for (const id of readdirSync(changes)) utimesSync(join(changes, id, 'events'), earlier, earlier);
      // A later run, as users run it: the first one writes the index, and the first of a
      // build checks and decompresses the payload.
      assert.equal(cli(b, ['status', '--json']).code, 0);
      const preload = join(b.home, 'module-list.cjs');
      const list = join(b.home, 'modules.txt');
      writeFileSync(preload, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));\n`);
      const run = spawnSync(process.execPath, ['-r', preload, CLI, 'status', '--json'], { cwd: b.dir, env: b.env, encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(JSON.parse(run.stdout).change.title, 'Add password reset');
      const loaded = new Set(readFileSync(list, 'utf8').split('\n'));
      assert.ok(loaded.has('NativeModule vm'), 'the list is the run’s (the commands bundle needs vm)');
      // The repository's layout and branch come from its files: no git process, so no child_process.
      for (const builtin of ['child_process', 'zlib', 'worker_threads', 'perf_hooks', 'module', 'internal/modules/esm/loader']) assert.ok(!loaded.has(`NativeModule ${builtin}`), `status loaded ${builtin}`);
    } finally {
      b.cleanup();
    }
  });

  it('takes pipeline.json as an earlier run of this build validated it, from the per-user cache', () => {
    const b = sandbox();
    try {
      assert.equal(cli(b, ['init']).code, 0);
      assert.equal(cli(b, ['status', '--json']).code, 0);
      const text = readFileSync(join(b.dir, '.factory', 'pipeline.json'), 'utf8');
      const kept = JSON.parse(readFileSync(keptPipelineIn(repositoryCacheDir(b.dir, b.cache)), 'utf8')) as { build: string; text: string; pipeline: { stages: Array<{ id: string }> } };
      assert.equal(kept.text, text);
      assert.match(kept.build, /^\d+\.\d+\.\d+\S*\+[0-9a-f]{16}$/, 'the build esbuild.config.mjs names');
      // What the build kept is what a later run reads: a stage only the kept entry has shows.
      kept.pipeline.stages[0]!.id = 'kept-stage';
      writeFileSync(keptPipelineIn(repositoryCacheDir(b.dir, b.cache)), JSON.stringify(kept));
      assert.equal(cli(b, ['change', 'start', 'Add search', '--branch', 'none']).code, 0);
      const run = cli(b, ['status', '--json']);
      assert.equal(run.code, 0, run.stderr);
      assert.equal((JSON.parse(run.stdout) as { change: { stages: Array<{ id: string }> } }).change.stages[0]!.id, 'kept-stage');
    } finally {
      b.cleanup();
    }
  });
});
