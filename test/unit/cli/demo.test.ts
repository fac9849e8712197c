// The demo's sample workspace (`make-sample-workspace --demo`, what `npm run demo`
// opens) runs implement → test → handoff with nothing installed: the offline demo
// agent committed in the sample, run through the command backend with the stage's
// argv from pipeline.json, edits files and makes the sample's tests pass.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunOutputSchema, StatusOutputSchema } from '../../../src/cli/schemas';
import { buildCli, cli, json, REPO } from './helpers';

describe('cli: the demo workspace runs its stages with the offline demo agent', function () {
  this.timeout(240_000);
  let base: string;
  before(() => {
    buildCli();
    base = realpathSync(mkdtempSync(join(tmpdir(), 'fc-demo-')));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('Run Next Stage retries implement with the demo agent, which makes the tests pass; test hands off to review', () => {
    const dir = join(base, 'sample-app');
    execFileSync(process.execPath, ['--import', 'tsx', join(REPO, 'scripts', 'make-sample-workspace.ts'), dir, '--demo'], { cwd: REPO, stdio: 'pipe' });
    const pipeline = JSON.parse(readFileSync(join(dir, '.factory', 'pipeline.json'), 'utf8')) as { stages: { id: string; owner: { backend: string; args?: string[] } }[] };
    assert.deepEqual(pipeline.stages.find((s) => s.id === 'implement')!.owner.args?.slice(0, 2), ['node', 'tools/demo-agent.mjs']);
    assert.notEqual(spawnSync(process.execPath, ['--test'], { cwd: dir }).status, 0, "the sample's spec fails before the change");
    // Nothing configured and nothing installed: no agent setting, a PATH with node only.
    const box = { dir, env: { PATH: process.env.PATH, HOME: join(base, 'home'), FACTORY_COCKPIT_CACHE_DIR: join(base, 'cache'), FACTORY_COCKPIT_CONFIG: join(base, 'none.json') } };
    const run = cli(box, ['run', '--auto', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const report = RunOutputSchema.parse(json(run));
    assert.equal(report.stopped, 'waitingForPerson');
    assert.equal(report.stageId, 'review');
    assert.match(run.stderr, /\[demo agent\] implement/);
    assert.match(run.stderr, /All tests pass/);
    assert.ok(existsSync(join(dir, 'src', 'reset.js')));
    assert.ok(existsSync(join(dir, 'test', 'reset-expiry.test.js')));
    assert.equal(spawnSync(process.execPath, ['--test'], { cwd: dir }).status, 0, 'the tests pass after the change');
    const status = StatusOutputSchema.parse(json(cli(box, ['status', '--json'])));
    const stages = Object.fromEntries(status.change!.stages.map((s) => [s.id, s]));
    assert.equal(stages.implement!.status, 'passed');
    assert.equal(stages.test!.status, 'passed');
    assert.equal(stages.implement!.attempts.at(-1)!.backend, 'command');
    assert.ok(stages.implement!.attempts.at(-1)!.transcript, 'the transcript is evidence');
    assert.ok(stages.implement!.results.some((r) => r.criterionId === 'unit-tests' && r.outcome === 'passed'));
  });
});
