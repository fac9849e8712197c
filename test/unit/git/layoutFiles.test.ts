// layoutFromFiles answers what `git rev-parse --is-inside-work-tree --show-toplevel
// --absolute-git-dir --git-path index --show-prefix` prints, or that git finds no
// repository, or nothing (the caller asks git) wherever the files do not settle it.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { layoutFromFiles } from '../../../src/git/layoutFiles';
import { GitAdapter } from '../../../src/git/gitAdapter';

const env = { PATH: process.env.PATH, HOME: process.env.HOME };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', env });
/** git's own answer: its lines, or 'none' when it finds no repository. */
const revParse = (cwd: string, extra: NodeJS.ProcessEnv = {}) => {
  const run = spawnSync('git', ['rev-parse', '--is-inside-work-tree', '--show-toplevel', '--absolute-git-dir', '--git-path', 'index', '--show-prefix'], { cwd, encoding: 'utf8', env: { ...env, ...extra } });
  return run.status === 0 ? run.stdout.trim().split('\n') : 'none';
};
const fromFiles = (cwd: string, extra: NodeJS.ProcessEnv = {}) => {
  const layout = layoutFromFiles(cwd, { ...env, ...extra });
  return layout && layout !== 'none' ? ['true', layout.topLevel, layout.gitDir, layout.index, layout.prefix].filter((line, i) => i < 4 || line !== '') : layout;
};

describe('git: the repository layout from its files', () => {
  let base: string;
  let repo: string;
  beforeEach(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'fc-layout-')));
    repo = join(base, 'repo');
    git(base, 'init', '-q', '-b', 'main', repo);
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('answers as git at the top level, in a folder below it, through a symlink and in a nested repository', () => {
    mkdirSync(join(repo, 'a', 'b'), { recursive: true });
    symlinkSync(join(repo, 'a'), join(base, 'link'));
    const inner = join(repo, 'a', 'inner');
    git(base, 'init', '-q', inner);
    mkdirSync(join(inner, 'deep'));
    for (const cwd of [repo, join(repo, 'a'), join(repo, 'a', 'b'), join(base, 'link'), join(base, 'link', 'b'), inner, join(inner, 'deep')]) {
      const answer = fromFiles(cwd);
      assert.ok(Array.isArray(answer), `answered from the files in ${cwd}`);
      assert.deepEqual(answer, revParse(cwd), cwd);
    }
    // Which system and global config git reads does not move the repository.
    assert.deepEqual(fromFiles(repo, { GIT_CONFIG_NOSYSTEM: '1' }), revParse(repo, { GIT_CONFIG_NOSYSTEM: '1' }));
  });

  it('says "no repository" where git finds none', () => {
    const outside = join(base, 'plain');
    mkdirSync(outside);
    assert.equal(revParse(outside), 'none');
    // Up to the root, unless a mount point on the way leaves it to git.
    const crossesMount = (dir: string): boolean => dirname(dir) !== dir && (statSync(dir).dev !== statSync(dirname(dir)).dev || crossesMount(dirname(dir)));
    assert.equal(fromFiles(outside), crossesMount(outside) ? undefined : 'none');
  });

  it('leaves it to git for every layout or environment the files do not settle', () => {
    const linked = join(base, 'linked');
    git(repo, '-c', 'user.name=T', '-c', 'user.email=t@example.com', '-c', 'commit.gpgsign=false', 'commit', '-q', '--allow-empty', '-m', 'x');
    git(repo, 'worktree', 'add', '-q', '-b', 'side', linked);
    const bare = join(base, 'bare.git');
    git(base, 'init', '-q', '--bare', bare);
    const fakeGitDir = join(base, 'fake');
    mkdirSync(join(fakeGitDir, '.git'), { recursive: true });
    const cases: Array<[string, string, NodeJS.ProcessEnv?]> = [
      ['a linked worktree (.git is a file)', linked],
      ['inside .git', join(repo, '.git')],
      ['inside .git, further down', join(repo, '.git', 'refs')],
      ['a bare repository', bare],
      ['a .git folder git does not accept', fakeGitDir],
      ['GIT_DIR', repo, { GIT_DIR: join(repo, '.git') }],
      ['GIT_CEILING_DIRECTORIES', repo, { GIT_CEILING_DIRECTORIES: base }],
      ['no git on PATH', repo, { PATH: join(base, 'nowhere') }],
      ['a relative PATH entry', repo, { PATH: `.:${env.PATH}` }],
      ['a file, not a folder', join(repo, '.git', 'HEAD')],
    ];
    for (const [what, cwd, extra] of cases) assert.equal(fromFiles(cwd, extra), undefined, what);
    for (const [what, line] of [['core.worktree', '[core]\n\tworktree = /elsewhere\n'], ['core.bare', '[core]\n\tbare = true\n'], ['extensions', '[extensions]\n\tobjectFormat = sha1\n'], ['an include', '[include]\n\tpath = other\n']] as const) {
      const config = join(base, `cfg-${what.replace(/\W/g, '')}`);
      git(base, 'init', '-q', config);
      appendFileSync(join(config, '.git', 'config'), line);
      assert.equal(fromFiles(config), undefined, what);
    }
  });

  it('reads a config git wrote with its usual settings and sections', () => {
    git(repo, 'config', 'user.name', 'Layout Test');
    git(repo, 'config', 'remote.origin.url', 'https://example.com/x.git');
    git(repo, 'config', 'remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*');
    git(repo, 'config', 'branch.main.remote', 'origin');
    writeFileSync(join(repo, 'a.txt'), 'a\n');
    assert.deepEqual(fromFiles(repo), revParse(repo));
  });

  it('GitAdapter finds the same repository with and without the files answering', async () => {
    mkdirSync(join(repo, 'sub'));
    const adapter = new GitAdapter(join(repo, 'sub'));
    assert.equal(await adapter.isRepository(), true);
    assert.equal(await adapter.currentBranch(), 'main');
    assert.equal(await new GitAdapter(join(base)).isRepository(), false);
  });
});
