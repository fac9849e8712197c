// branchFromHeadFile answers what `git symbolic-ref --quiet --short HEAD` prints, or
// nothing (the caller asks git) wherever the answer is not certain from the files.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { branchFromHeadFile } from '../../../src/git/headFile';
import { GitAdapter } from '../../../src/git/gitAdapter';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } });
const gitDirOf = (cwd: string) => git(cwd, 'rev-parse', '--absolute-git-dir').trim();
const symbolicRef = (cwd: string) => {
  const result = spawnSync('git', ['symbolic-ref', '--quiet', '--short', 'HEAD'], { cwd, encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
};

describe('git: the branch from the HEAD file', () => {
  let base: string;
  let dir: string;
  beforeEach(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'fc-head-')));
    dir = join(base, 'repo');
    git(base, 'init', '-q', '-b', 'main', dir);
    git(dir, 'config', 'user.name', 'Head Test');
    git(dir, 'config', 'user.email', 'head@example.com');
    git(dir, 'config', 'commit.gpgsign', 'false');
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  const commit = () => {
    writeFileSync(join(dir, 'a.txt'), `${Math.random()}\n`);
    git(dir, 'add', '-A');
    git(dir, 'commit', '-qm', 'x');
  };

  it('names the branch of an unborn and of a committed HEAD, with slashes, as git does', async () => {
    assert.equal(await branchFromHeadFile(gitDirOf(dir)), 'main');
    assert.equal(symbolicRef(dir), 'main');
    commit();
    git(dir, 'switch', '-q', '-c', 'feature/login-form');
    assert.equal(await branchFromHeadFile(gitDirOf(dir)), 'feature/login-form');
    assert.equal(symbolicRef(dir), 'feature/login-form');
    git(dir, 'pack-refs', '--all');
    assert.equal(await branchFromHeadFile(gitDirOf(dir)), 'feature/login-form', 'packed branches are still named from HEAD');
  });

  it('leaves it to git when HEAD is detached, when a tag (loose or packed) shadows the short name, and in a linked worktree', async () => {
    commit();
    git(dir, 'switch', '-q', '--detach');
    assert.equal(await branchFromHeadFile(gitDirOf(dir)), undefined);
    assert.equal(symbolicRef(dir), undefined);

    git(dir, 'switch', '-q', 'main');
    git(dir, 'tag', 'main');
    assert.equal(symbolicRef(dir), 'heads/main', 'git prints the longer name');
    assert.equal(await branchFromHeadFile(gitDirOf(dir)), undefined);
    git(dir, 'pack-refs', '--all');
    assert.equal(await branchFromHeadFile(gitDirOf(dir)), undefined, 'a packed tag shadows it too');
    git(dir, 'tag', '-d', 'main');
    assert.equal(await branchFromHeadFile(gitDirOf(dir)), 'main');

    const linked = join(base, 'linked');
    git(dir, 'worktree', 'add', '-q', '-b', 'side', linked);
    assert.equal(await branchFromHeadFile(gitDirOf(linked)), undefined);
    assert.equal(symbolicRef(linked), 'side');
  });

  it('GitAdapter.currentBranch gives git’s answer in every one of these layouts', async () => {
    commit();
    assert.equal(await new GitAdapter(dir).currentBranch(), 'main');
    git(dir, 'tag', 'main');
    assert.equal(await new GitAdapter(dir).currentBranch(), 'heads/main');
    const linked = join(base, 'linked');
    git(dir, 'worktree', 'add', '-q', '-b', 'side', linked);
    assert.equal(await new GitAdapter(linked).currentBranch(), 'side');
    git(dir, 'switch', '-q', '--detach');
    assert.equal(await new GitAdapter(dir).currentBranch(), undefined);
    assert.equal(await new GitAdapter(base).currentBranch(), undefined, 'not a repository');
  });
});
