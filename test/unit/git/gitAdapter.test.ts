// The git adapter against real repositories: tree hashes, diffs, and no repository at all.
import * as assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GitAdapter, NotAGitRepositoryError } from '../../../src/git/gitAdapter';
import { git, initRepo, tempWorkspace, userState } from '../store/helpers';

describe('git adapter: tree hashes and diffs', () => {
  let ws: ReturnType<typeof tempWorkspace>;
  let adapter: GitAdapter;
  beforeEach(() => {
    ws = tempWorkspace('git');
    adapter = new GitAdapter(ws.dir);
  });
  afterEach(() => ws.cleanup());

  it('is not a repository: a typed error, never a crash', async () => {
    assert.equal(await adapter.isRepository(), false);
    assert.equal(await adapter.currentBranch(), undefined);
    await assert.rejects(adapter.workingTreeHash(), NotAGitRepositoryError);
    await assert.rejects(adapter.headCommit(), NotAGitRepositoryError);
    await assert.rejects(adapter.createCheckpoint('x'), NotAGitRepositoryError);
  });

  it('hashes the working tree with uncommitted and untracked files, without .factory/ or ignored files, leaving the index alone', async () => {
    initRepo(ws.dir);
    writeFileSync(join(ws.dir, '.gitignore'), 'build/\n');
    writeFileSync(join(ws.dir, 'a.txt'), 'a\n');
    git(ws.dir, 'add', '.');
    git(ws.dir, 'commit', '-qm', 'first');
    const head = git(ws.dir, 'rev-parse', 'HEAD').trim();
    assert.equal(await adapter.headCommit(), head);
    const committed = await adapter.workingTreeHash();
    assert.equal(committed, git(ws.dir, 'rev-parse', 'HEAD^{tree}').trim(), 'a clean tree hashes like HEAD');

    // Staged and unstaged edits plus an untracked file, and a record that is committed too.
    writeFileSync(join(ws.dir, 'a.txt'), 'a staged\n');
    git(ws.dir, 'add', 'a.txt');
    writeFileSync(join(ws.dir, 'a.txt'), 'a worktree\n');
    writeFileSync(join(ws.dir, 'new.txt'), 'new\n');
    const before = userState(ws.dir);
    const edited = await adapter.workingTreeHash();
    assert.notEqual(edited, committed);
    assert.equal(git(ws.dir, 'cat-file', '-p', `${edited}:a.txt`), 'a worktree\n');
    assert.equal(git(ws.dir, 'cat-file', '-p', `${edited}:new.txt`), 'new\n');
    assert.equal(userState(ws.dir), before, 'index untouched');

    mkdirSync(join(ws.dir, '.factory', 'changes'), { recursive: true });
    writeFileSync(join(ws.dir, '.factory', 'pipeline.json'), '{}');
    mkdirSync(join(ws.dir, 'build'));
    writeFileSync(join(ws.dir, 'build', 'out.js'), 'x');
    assert.equal(await adapter.workingTreeHash(), edited, 'the record and ignored files are outside the hash');
    git(ws.dir, 'add', '.factory/pipeline.json');
    assert.equal(await adapter.workingTreeHash(), edited, 'even when the record is in the index');
    rmSync(join(ws.dir, 'new.txt'));
    assert.notEqual(await adapter.workingTreeHash(), edited);

    const snapshot = await adapter.snapshot();
    assert.deepEqual({ branch: snapshot.branch, commit: snapshot.commit }, { branch: 'main', commit: head });
  });

  it('diffs an attempt from its start tree to its end tree, untracked files included, .factory/ excluded', async () => {
    initRepo(ws.dir);
    writeFileSync(join(ws.dir, 'keep.txt'), 'one\ntwo\n');
    writeFileSync(join(ws.dir, 'gone.txt'), 'bye\n');
    writeFileSync(join(ws.dir, 'moved.txt'), 'a long enough line to be detected as a rename\n'.repeat(5));
    const start = await adapter.workingTreeHash(); // no commit needed
    writeFileSync(join(ws.dir, 'keep.txt'), 'one\nTWO\n');
    rmSync(join(ws.dir, 'gone.txt'));
    writeFileSync(join(ws.dir, 'added.txt'), 'hello\n');
    writeFileSync(join(ws.dir, 'renamed.txt'), readFileSync(join(ws.dir, 'moved.txt')));
    rmSync(join(ws.dir, 'moved.txt'));
    mkdirSync(join(ws.dir, '.factory'));
    writeFileSync(join(ws.dir, '.factory', 'x.json'), '{}');
    const diff = await adapter.diffTrees(start);
    assert.deepEqual(
      diff.files.sort((a, b) => a.path.localeCompare(b.path)),
      [
        { status: 'added', path: 'added.txt' },
        { status: 'deleted', path: 'gone.txt' },
        { status: 'modified', path: 'keep.txt' },
        { status: 'renamed', path: 'renamed.txt', from: 'moved.txt' },
      ],
    );
    assert.match(diff.patch, /^-two$/m);
    assert.match(diff.patch, /^\+TWO$/m);
    assert.match(diff.patch, /^\+hello$/m);
    assert.doesNotMatch(diff.patch, /\.factory/);
    const between = await adapter.diffTrees(start, diff.toTree);
    assert.deepEqual(between.files.length, 4);
  });

  it('measures a workspace that is a sub-folder of the repository, excluding its own .factory/', async () => {
    initRepo(ws.dir);
    const sub = join(ws.dir, 'packages', 'app');
    mkdirSync(join(sub, '.factory'), { recursive: true });
    writeFileSync(join(sub, 'index.ts'), 'x');
    const inner = new GitAdapter(sub);
    const tree = await inner.workingTreeHash();
    writeFileSync(join(sub, '.factory', 'e.json'), '{}');
    assert.equal(await inner.workingTreeHash(), tree);
    assert.equal(git(ws.dir, 'cat-file', '-p', `${tree}:packages/app/index.ts`), 'x');
    // Committed, the record is in the index the hash starts from: it is cut out of the tree.
    mkdirSync(join(ws.dir, 'packages', 'only-record', '.factory'), { recursive: true });
    writeFileSync(join(ws.dir, 'packages', 'only-record', '.factory', 'e.json'), '{}');
    git(ws.dir, 'add', '-A');
    git(ws.dir, 'commit', '-qm', 'with records');
    const committed = await inner.workingTreeHash();
    const paths = git(ws.dir, 'ls-tree', '-r', '--name-only', committed).split('\n').filter(Boolean);
    // Its own record is cut out; another folder's record is just files to this workspace.
    assert.deepEqual(paths.filter((p) => p.startsWith('packages/')), ['packages/app/index.ts', 'packages/only-record/.factory/e.json']);
    // A folder that holds nothing but its record disappears from that folder's own hash, as write-tree would leave it out.
    const onlyRecord = new GitAdapter(join(ws.dir, 'packages', 'only-record'));
    const hashed = await onlyRecord.workingTreeHash();
    assert.deepEqual(git(ws.dir, 'ls-tree', '--name-only', hashed, 'packages/').split('\n').filter(Boolean).sort(), ['packages/app']);
  });
});
