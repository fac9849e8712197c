// Checkpoints and rollback on real repositories: every kind of file change, no commits
// yet, detached HEAD, a submodule; the user's index, stash and the record untouched.
import * as assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointNotFoundError, GitAdapter } from '../../../src/git/gitAdapter';
import { git, initRepo, tempWorkspace, userState } from '../store/helpers';

describe('git adapter: checkpoints and rollback', () => {
  let ws: ReturnType<typeof tempWorkspace>;
  let adapter: GitAdapter;
  beforeEach(() => {
    ws = tempWorkspace('checkpoint');
    initRepo(ws.dir);
    adapter = new GitAdapter(ws.dir);
  });
  afterEach(() => ws.cleanup());

  const write = (rel: string, text: string) => {
    mkdirSync(join(ws.dir, rel, '..'), { recursive: true });
    writeFileSync(join(ws.dir, rel), text);
  };
  const read = (rel: string) => readFileSync(join(ws.dir, rel), 'utf8');

  function seedCommittedProject(): void {
    write('.gitignore', 'node_modules/\n');
    write('src/keep.ts', 'keep\n');
    write('src/edit.ts', 'before\n');
    write('src/remove.ts', 'remove me\n');
    write('run.sh', '#!/bin/sh\n');
    git(ws.dir, 'add', '.');
    git(ws.dir, 'commit', '-qm', 'project');
  }

  /** Changes of every kind an attempt makes; returns nothing, checked by roundTrip. */
  function attemptMakesChanges(): void {
    write('src/edit.ts', 'after\n');
    rmSync(join(ws.dir, 'src', 'remove.ts'));
    write('src/added/deep/new.ts', 'new\n');
    write('notes-untracked.txt', 'changed by the attempt\n');
    rmSync(join(ws.dir, 'scratch.txt'));
    chmodSync(join(ws.dir, 'run.sh'), 0o755);
    write('node_modules/pkg/index.js', 'ignored, never touched');
  }

  async function roundTrip(id: string): Promise<void> {
    // The user's own state: something staged, something stashed, an untracked file.
    write('src/keep.ts', 'staged by the user\n');
    git(ws.dir, 'add', 'src/keep.ts');
    write('scratch.txt', 'untracked before the attempt\n');
    write('notes-untracked.txt', 'untracked original\n');
    const user = userState(ws.dir);
    const checkpoint = await adapter.createCheckpoint(id);
    assert.equal(git(ws.dir, 'rev-parse', checkpoint.ref).trim(), checkpoint.commit);
    assert.equal(userState(ws.dir), user, 'creating a checkpoint leaves index and stash alone');
    assert.deepEqual(await adapter.rollbackPreview(id), [], 'nothing to roll back yet');

    attemptMakesChanges();
    write('.factory/changes/c/events/01JD0000000000000000000000.json', '{"the record":"stays"}');
    const preview = await adapter.rollbackPreview(id);
    assert.deepEqual(
      preview.sort((a, b) => a.path.localeCompare(b.path)),
      [
        { path: 'notes-untracked.txt', action: 'revert' },
        { path: 'run.sh', action: 'revert' },
        { path: 'scratch.txt', action: 'restore' },
        { path: 'src/added/deep/new.ts', action: 'remove' },
        { path: 'src/edit.ts', action: 'revert' },
        { path: 'src/remove.ts', action: 'restore' },
      ],
    );
    const result = await adapter.rollback(id);
    assert.equal(result.matches, true, 'the working tree hashes to the checkpoint again');
    assert.deepEqual(result.changed, preview);
    assert.equal(read('src/edit.ts'), 'before\n');
    assert.equal(read('src/remove.ts'), 'remove me\n');
    assert.equal(read('src/keep.ts'), 'staged by the user\n');
    assert.equal(read('scratch.txt'), 'untracked before the attempt\n');
    assert.equal(read('notes-untracked.txt'), 'untracked original\n');
    assert.ok(!existsSync(join(ws.dir, 'src', 'added')), 'added files and their empty folders are gone');
    assert.equal(statSync(join(ws.dir, 'run.sh')).mode & 0o111, 0, 'the mode is back');
    assert.equal(read('node_modules/pkg/index.js'), 'ignored, never touched');
    assert.equal(read('.factory/changes/c/events/01JD0000000000000000000000.json'), '{"the record":"stays"}');
    assert.equal(userState(ws.dir), user, 'rollback leaves the index and stash alone');
    assert.deepEqual(await adapter.rollbackPreview(id), []);
  }

  it('round-trips modified, added, deleted and untracked files with a stash and a staged change present', async () => {
    seedCommittedProject();
    write('src/keep.ts', 'stashed\n');
    git(ws.dir, 'stash', 'push', '-q', '-m', 'user stash');
    await roundTrip('attempt-1');
    assert.match(git(ws.dir, 'stash', 'list'), /user stash/);
    assert.equal(git(ws.dir, 'branch', '--list').trim(), '* main', 'no branch was created');
  });

  it('works on a repository with no commits yet', async () => {
    write('.gitignore', 'node_modules/\n');
    write('src/keep.ts', 'keep\n');
    write('src/edit.ts', 'before\n');
    write('src/remove.ts', 'remove me\n');
    write('run.sh', '#!/bin/sh\n');
    git(ws.dir, 'add', 'src/keep.ts');
    assert.equal(await adapter.headCommit(), undefined);
    await roundTrip('empty-repo');
    const checkpoint = await adapter.getCheckpoint('empty-repo');
    assert.equal(git(ws.dir, 'rev-list', '--count', checkpoint!.commit).trim(), '1', 'a root commit, no parent');
  });

  it('works on a detached HEAD', async () => {
    seedCommittedProject();
    write('later.txt', 'later\n');
    git(ws.dir, 'add', 'later.txt');
    git(ws.dir, 'commit', '-qm', 'later');
    git(ws.dir, 'checkout', '-q', '--detach', 'HEAD~1');
    assert.equal(await adapter.currentBranch(), undefined);
    await roundTrip('detached');
    const checkpoint = await adapter.getCheckpoint('detached');
    assert.equal(git(ws.dir, 'rev-parse', `${checkpoint!.commit}^`).trim(), git(ws.dir, 'rev-parse', 'HEAD').trim());
  });

  it('works with a submodule present, and never moves or deletes the submodule', async () => {
    const lib = tempWorkspace('sublib');
    initRepo(lib.dir);
    writeFileSync(join(lib.dir, 'lib.txt'), 'lib\n');
    git(lib.dir, 'add', '.');
    git(lib.dir, 'commit', '-qm', 'lib');
    seedCommittedProject();
    git(ws.dir, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', lib.dir, 'vendor/lib');
    git(ws.dir, 'commit', '-qm', 'submodule');
    await roundTrip('with-submodule');
    // An attempt that commits inside the submodule: reported, not undone.
    const checkpoint = await adapter.createCheckpoint('sub-moved');
    writeFileSync(join(ws.dir, 'vendor', 'lib', 'lib.txt'), 'changed\n');
    git(join(ws.dir, 'vendor', 'lib'), 'commit', '-qam', 'inside');
    write('src/edit.ts', 'again\n');
    const result = await adapter.rollback(checkpoint.id);
    assert.deepEqual(result.skippedSubmodules, ['vendor/lib']);
    assert.deepEqual(result.changed, [{ path: 'src/edit.ts', action: 'revert' }]);
    assert.equal(read('vendor/lib/lib.txt'), 'changed\n');
    lib.cleanup();
  });

  it('lists, refuses unknown and malformed checkpoint ids, and deletes', async () => {
    seedCommittedProject();
    await assert.rejects(adapter.rollback('nope'), CheckpointNotFoundError);
    await assert.rejects(adapter.createCheckpoint('../../heads/main'), /cannot name a checkpoint/);
    const checkpoint = await adapter.createCheckpoint('to-delete');
    assert.deepEqual(await adapter.getCheckpoint('to-delete'), checkpoint);
    assert.equal(git(ws.dir, 'for-each-ref', 'refs/heads').trim().split('\n').length, 1, 'not a branch');
    await adapter.deleteCheckpoint('to-delete');
    assert.equal(await adapter.getCheckpoint('to-delete'), undefined);
  });
});
