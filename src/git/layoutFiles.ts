// Where a workspace's repository is, read from the files git itself reads to find it,
// without starting git (a process costs a read-only command more than the few small
// files read here): what `git rev-parse --is-inside-work-tree --show-toplevel
// --absolute-git-dir --git-path index --show-prefix` answers in the usual layout, a
// `.git` folder above the workspace. Anything else is left to git (undefined): an
// environment that steers git (GIT_DIR, GIT_CEILING_DIRECTORIES…), a `.git` file
// (linked worktree, submodule) or symlink, a folder that is itself a git directory
// (bare, or inside .git), a mount point on the way up, a repository owned by another
// user (safe.directory), a config git reads more into (core.worktree, core.bare,
// extensions, includes), Windows, or no `git` on PATH (the answer is then git's failure).
import { accessSync, constants, lstatSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import * as path from 'node:path';

/** What the rev-parse prints, line by line. */
export interface RepoLayoutFromFiles {
  topLevel: string;
  gitDir: string;
  /** `--git-path index`: relative to the physical working directory, as git prints it. */
  index: string;
  /** The workspace relative to the top level, with a trailing slash ('' at the top). */
  prefix: string;
}

/**
 * GIT_ variables that do not change where git finds the repository or how it reads it.
 * Which system and global config files git reads does not either: discovery reads the
 * repository's own config, and theirs only for safe.directory, which can only allow a
 * repository another user owns (layoutFromFiles leaves those to git).
 */
const NEUTRAL_GIT_ENV = new Set([
  'GIT_ASKPASS', 'GIT_EDITOR', 'GIT_PAGER', 'GIT_SSH', 'GIT_SSH_COMMAND', 'GIT_TERMINAL_PROMPT', 'GIT_OPTIONAL_LOCKS',
  'GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_AUTHOR_DATE', 'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL', 'GIT_COMMITTER_DATE',
  'GIT_CONFIG_NOSYSTEM', 'GIT_CONFIG_SYSTEM', 'GIT_CONFIG_GLOBAL',
]);

/** A layout, 'none' when git would find no repository, undefined when only git can say. */
export function layoutFromFiles(workspaceRoot: string, env: NodeJS.ProcessEnv = process.env): RepoLayoutFromFiles | 'none' | undefined {
  if (process.platform === 'win32') return undefined;
  if (Object.keys(env).some((name) => name.startsWith('GIT_') && !NEUTRAL_GIT_ENV.has(name))) return undefined;
  let start: string;
  try {
    // git works from its physical working directory.
    start = realpathSync(workspaceRoot);
  } catch {
    return undefined;
  }
  if (!statOrUndefined(start)?.isDirectory()) return undefined;
  for (let dir = start; ; ) {
    const dotGit = lstatOrUndefined(path.join(dir, '.git'));
    if (dotGit) return dotGit.isDirectory() ? repository(dir, start, env) : undefined;
    // A folder that is a git directory itself: bare, or the workspace is inside .git.
    if (lstatOrUndefined(path.join(dir, 'HEAD'))) return undefined;
    const parent = path.dirname(dir);
    if (parent === dir) return 'none';
    // git stops at a mount point unless told otherwise: let it say so.
    if (statOrUndefined(parent)?.dev !== statOrUndefined(dir)?.dev) return undefined;
    dir = parent;
  }
}

function repository(topLevel: string, start: string, env: NodeJS.ProcessEnv): RepoLayoutFromFiles | undefined {
  const gitDir = path.join(topLevel, '.git');
  if (!isGitDirectory(gitDir) || !ownedByUs(topLevel, env) || !ownedByUs(gitDir, env) || !plainConfig(gitDir) || !gitOnPath(env)) return undefined;
  const relative = path.relative(topLevel, start);
  return { topLevel, gitDir, index: path.relative(start, path.join(gitDir, 'index')), prefix: relative ? `${relative}/` : '' };
}

/** What git's is_git_directory asks: a HEAD it accepts, objects/ and refs/. */
function isGitDirectory(gitDir: string): boolean {
  const head = lstatOrUndefined(path.join(gitDir, 'HEAD'));
  if (!head?.isFile()) return false;
  let text: string;
  try {
    text = readFileSync(path.join(gitDir, 'HEAD'), 'utf8');
  } catch {
    return false;
  }
  if (!/^ref: refs\/\S+\n?$/.test(text) && !/^[0-9a-f]{40}(?:[0-9a-f]{24})?\n?$/.test(text)) return false;
  return ['objects', 'refs'].every((name) => statOrUndefined(path.join(gitDir, name))?.isDirectory() && executable(path.join(gitDir, name)));
}

/** safe.directory: git refuses a repository another user owns (root under sudo is checked against SUDO_UID). */
function ownedByUs(file: string, env: NodeJS.ProcessEnv): boolean {
  const uid = process.geteuid?.();
  if (uid === undefined || (uid === 0 && env.SUDO_UID !== undefined)) return false;
  return statOrUndefined(file)?.uid === uid;
}

/**
 * A config whose every line is understood, with nothing that changes where the work
 * tree is or what git accepts: [core] with format version 0 or 1 and `bare = false`
 * at most, no core.worktree, no [extensions], no includes.
 */
function plainConfig(gitDir: string): boolean {
  let text: string;
  try {
    text = readFileSync(path.join(gitDir, 'config'), 'utf8');
  } catch {
    return false;
  }
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([A-Za-z0-9.-]+)(?:\s+"[^"\\]*")?\]$/.exec(line);
    if (header) {
      section = header[1]!.toLowerCase();
      if (section === 'extensions' || section === 'include' || section === 'includeif') return false;
      continue;
    }
    const entry = /^([A-Za-z][A-Za-z0-9-]*)\s*=\s*([^"\\;#]*?)\s*$/.exec(line);
    if (!entry) {
      // A quoted or continued value, or a key without a value: only outside [core].
      if (section === 'core' || section === '') return false;
      continue;
    }
    if (section !== 'core') continue;
    const key = entry[1]!.toLowerCase();
    const value = entry[2]!.toLowerCase();
    if (key === 'worktree') return false;
    if (key === 'bare' && value !== 'false') return false;
    if (key === 'repositoryformatversion' && value !== '0' && value !== '1') return false;
  }
  return true;
}

/** Where no git runs, git's answer is its failure to start: that is git's to give. */
function gitOnPath(env: NodeJS.ProcessEnv): boolean {
  const dirs = env.PATH?.split(path.delimiter) ?? [];
  // An empty or relative entry is looked up from the working directory: git decides.
  if (dirs.length === 0 || dirs.some((dir) => !path.isAbsolute(dir))) return false;
  return dirs.some((dir) => statOrUndefined(path.join(dir, 'git'))?.isFile() === true && executable(path.join(dir, 'git')));
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function lstatOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch {
    return undefined;
  }
}

function statOrUndefined(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}
