// Where derived, rebuildable data of a repository (the summary index) lives: in one
// per-user cache folder, never in the repository. So opening a repository, trusted or
// not, writes nothing into it, and a hostile repository cannot plant or point the
// cache anywhere. The extension and the CLI compute the same place for the same
// repository, so they share the index.
//
//   FACTORY_COCKPIT_CACHE_DIR, when set                    (tests, CI, a user's choice)
//   Linux and others: ${XDG_CACHE_HOME:-~/.cache}/factory-cockpit
//   macOS:            ~/Library/Caches/factory-cockpit
//   Windows:          %LOCALAPPDATA%\factory-cockpit\Cache
// and below it one folder per repository: the sha256 of the repository's real path,
// holding the summary index and the validated pipeline.json.
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const CACHE_DIR_ENV = 'FACTORY_COCKPIT_CACHE_DIR';

export interface CacheDirContext {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  homedir?: string;
}

/** The per-user folder that holds every repository's cache. */
export function userCacheRoot(context: CacheDirContext = {}): string {
  const env = context.env ?? process.env;
  const platform = context.platform ?? process.platform;
  const home = context.homedir ?? os.homedir();
  const override = env[CACHE_DIR_ENV];
  if (override) return path.resolve(override);
  if (platform === 'darwin') return path.join(home, 'Library', 'Caches', 'factory-cockpit');
  if (platform === 'win32') {
    const local = env.LOCALAPPDATA && path.win32.isAbsolute(env.LOCALAPPDATA) ? env.LOCALAPPDATA : path.win32.join(home, 'AppData', 'Local');
    return path.win32.join(local, 'factory-cockpit', 'Cache');
  }
  // XDG: a relative XDG_CACHE_HOME is invalid and must be ignored.
  const xdg = env.XDG_CACHE_HOME && path.posix.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(home, '.cache');
  return path.join(xdg, 'factory-cockpit');
}

/** The key of a repository: the sha256 of its real path (so a link to it shares the cache). */
export function repositoryKey(workspaceRoot: string): string {
  let real: string;
  try {
    real = realpathSync.native(workspaceRoot);
  } catch {
    real = path.resolve(workspaceRoot);
  }
  return createHash('sha256').update(real).digest('hex');
}

/** This repository's cache folder. `cacheRoot` defaults to userCacheRoot(). */
export function repositoryCacheDir(workspaceRoot: string, cacheRoot: string = userCacheRoot()): string {
  return path.join(cacheRoot, repositoryKey(workspaceRoot));
}

/** The summary index (store/summaryIndex.ts), in a repository's cache folder. */
export const summaryIndexIn = (repositoryCache: string): string => path.join(repositoryCache, 'index.json');

/** pipeline.json as the product last validated it (store/keptPipeline.ts), in a repository's cache folder. */
export const keptPipelineIn = (repositoryCache: string): string => path.join(repositoryCache, 'pipeline.json');
