// What a read of the factory asks git: one `rev-parse` for the repository, its layout and
// the branch; the working tree is hashed (two more processes) only when the current
// change has a result or an approval bound to a tree, and then the fold is the one an
// explicit tree gives. Counted through a logging `git` first on PATH, as the CLI bench does.
import * as assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createFactory, type Factory } from '../../../src/engine/factory';
import { git, initRepo, tempWorkspace } from '../store/helpers';
import { writeChange, writeEvents } from '../store/plainRecord';

describe('engine: what a read asks git', () => {
  let ws: ReturnType<typeof tempWorkspace>;
  let log: string;
  const path = process.env.PATH;
  const newFactory = (): Factory => createFactory({ root: join(ws.dir, 'repo'), settings: { get: () => undefined }, secrets: { get: async () => undefined }, trust: { isTrusted: () => true } });
  const gitCalls = (): string[] => {
    let text = '';
    try {
      text = readFileSync(log, 'utf8');
    } catch {
      /* no call */
    }
    writeFileSync(log, '');
    return text.split('\n').filter(Boolean);
  };

  beforeEach(async () => {
    ws = tempWorkspace('read-git');
    const repo = join(ws.dir, 'repo');
    mkdirSync(repo);
    initRepo(repo);
    writeFileSync(join(repo, 'app.js'), 'x\n');
    git(repo, 'add', '.');
    git(repo, 'commit', '-qm', 'first');
    await newFactory().store.loadPipeline();
    writeChange(repo, 'add-login', 'Add login', [{ type: 'attempt.started', data: { stageId: 'plan', attemptId: '01JB0000000000000000000000', backend: 'human' } }]);
    const shim = join(ws.dir, 'shim');
    mkdirSync(shim);
    log = join(ws.dir, 'git.log');
    const realGit = git(repo, '--exec-path').trim();
    writeFileSync(join(shim, 'git'), `#!/bin/sh\necho "$1" >> '${log}'\nexec '${join(realGit, 'git')}' "$@"\n`);
    chmodSync(join(shim, 'git'), 0o755);
    process.env.PATH = `${shim}${delimiter}${path}`;
  });
  afterEach(() => {
    process.env.PATH = path;
    ws.cleanup();
  });

  it('starts one git process when nothing of the current change is bound to a tree', async () => {
    const state = await newFactory().readState();
    assert.equal(state.isRepository, true);
    assert.equal(state.branch, 'main');
    assert.equal(state.current?.id, 'add-login');
    assert.equal(state.currentTree, undefined, 'no tree was needed');
    assert.deepEqual(gitCalls(), ['rev-parse']);
  });

  it('hashes the working tree once a result is bound to a tree, and folds it as an explicit tree would', async () => {
    const repo = join(ws.dir, 'repo');
    writeEvents(repo, 'add-login', [
      { type: 'attempt.finished', data: { stageId: 'plan', attemptId: '01JB0000000000000000000000', outcome: 'succeeded' } },
      { type: 'verification.recorded', data: { stageId: 'plan', criterionId: 'plan-written', outcome: 'passed', verified: { tree: '0'.repeat(40) } } },
      { type: 'handoff.recorded', data: { fromStage: 'plan' } },
    ]);
    gitCalls();
    const state = await newFactory().readState();
    const calls = gitCalls();
    assert.deepEqual(calls.filter((c) => c === 'rev-parse'), ['rev-parse'], 'the layout is read once');
    assert.ok(calls.includes('write-tree'), `the tree was hashed: ${calls.join(', ')}`);
    const tree = await newFactory().git.workingTreeHash();
    assert.equal(state.currentTree, tree);
    assert.equal(state.current?.stages[0]?.status, 'stale', 'verified at another tree');
    const explicit = await newFactory().readState({ currentTree: tree });
    assert.deepEqual(state.current, explicit.current);
    // Verified at the tree of now: passed.
    writeEvents(repo, 'add-login', [{ type: 'verification.recorded', data: { stageId: 'plan', criterionId: 'plan-written', outcome: 'passed', verified: { tree } } }]);
    assert.equal((await newFactory().readState()).current?.stages[0]?.status, 'passed');
  });

  it('asks git afresh whether the folder is a repository', async () => {
    const factory = newFactory();
    assert.equal(await factory.git.isRepository(), true);
    await factory.git.currentBranch();
    assert.deepEqual(gitCalls(), ['rev-parse'], 'the branch reuses the answer');
    // A folder that stops being a repository is seen at the next question.
    git(join(ws.dir, 'repo'), 'config', 'core.bare', 'true');
    assert.equal(await factory.git.isRepository(), false);
  });
});
