// Where the derived index lives: one per-user cache folder, keyed by the repository's
// real path, never inside the repository.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CACHE_DIR_ENV, repositoryCacheDir, repositoryKey, summaryIndexIn, userCacheRoot } from '../../../src/store/cacheDir';
import { FileRecordStore } from '../../../src/store/recordStore';

describe('store: the per-user cache folder', () => {
  it('follows each platform’s convention, and the override wins everywhere', () => {
    const home = '/home/ada';
    assert.equal(userCacheRoot({ env: {}, platform: 'linux', homedir: home }), '/home/ada/.cache/factory-cockpit');
    assert.equal(userCacheRoot({ env: { XDG_CACHE_HOME: '/var/cache/ada' }, platform: 'linux', homedir: home }), '/var/cache/ada/factory-cockpit');
    assert.equal(userCacheRoot({ env: { XDG_CACHE_HOME: 'relative/ignored' }, platform: 'linux', homedir: home }), '/home/ada/.cache/factory-cockpit', 'a relative XDG_CACHE_HOME is invalid');
    assert.equal(userCacheRoot({ env: {}, platform: 'darwin', homedir: '/Users/ada' }), '/Users/ada/Library/Caches/factory-cockpit');
    assert.equal(userCacheRoot({ env: { LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local' }, platform: 'win32', homedir: 'C:\\Users\\ada' }), 'C:\\Users\\ada\\AppData\\Local\\factory-cockpit\\Cache');
    assert.equal(userCacheRoot({ env: {}, platform: 'win32', homedir: 'C:\\Users\\ada' }), 'C:\\Users\\ada\\AppData\\Local\\factory-cockpit\\Cache');
    for (const platform of ['linux', 'darwin', 'win32'] as const) {
      assert.equal(userCacheRoot({ env: { [CACHE_DIR_ENV]: '/tmp/fc-cache' }, platform, homedir: home }), path.resolve('/tmp/fc-cache'));
    }
  });

  it('keys a repository by the sha256 of its real path, so a link to it shares its index', () => {
    const base = realpathSync(mkdtempSync(path.join(tmpdir(), 'fc-key-')));
    try {
      const repo = path.join(base, 'repo');
      mkdirSync(repo);
      symlinkSync(repo, path.join(base, 'alias'));
      assert.equal(repositoryKey(repo), createHash('sha256').update(repo).digest('hex'));
      assert.equal(repositoryKey(path.join(base, 'alias')), repositoryKey(repo));
      assert.equal(summaryIndexIn(repositoryCacheDir(repo, '/c')), path.join('/c', repositoryKey(repo), 'index.json'));
      // The store puts its index there: outside the repository, by option or by environment.
      assert.equal(new FileRecordStore(repo, { cacheDir: '/c' }).indexPath, path.join('/c', repositoryKey(repo), 'index.json'));
      const before = process.env[CACHE_DIR_ENV];
      process.env[CACHE_DIR_ENV] = path.join(base, 'env-cache');
      try {
        assert.equal(new FileRecordStore(repo).indexPath, path.join(base, 'env-cache', repositoryKey(repo), 'index.json'));
      } finally {
        if (before === undefined) delete process.env[CACHE_DIR_ENV];
        else process.env[CACHE_DIR_ENV] = before;
      }
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
