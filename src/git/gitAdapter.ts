// The git adapter: what the record binds itself to. Every call runs git with an
// argument array in the workspace: the plumbing a read needs through gitProcess.ts, the
// few porcelain commands a person's action runs (make a branch, read the identity)
// through simple-git, loaded on that first use (its module cost a command-line read
// more than the calls it made); nothing here touches the user's index
// or stash: tree hashes, diffs and checkpoints go through a private temporary index
// (GIT_INDEX_FILE), seeded from a copy of the real one so unchanged files are not
// hashed again.
//
// The record is outside what it measures: the workspace's `.factory/` is left out of
// every tree hash, diff and checkpoint, so writing an event never stales a result and
// rolling back an attempt never erases the record of it.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { SimpleGit } from 'simple-git';
import { gitText, runGit, splitNul, GitCommandError } from './gitProcess';
import { branchFromHeadFile } from './headFile';
import { layoutFromFiles } from './layoutFiles';
import { realpathOrSelf } from '../store/paths';

export { GitCommandError } from './gitProcess';

export interface GitIdentity {
  name: string;
  email?: string;
}

export interface GitPort {
  isRepository(): Promise<boolean>;
  /** The checked-out branch, or undefined on a detached HEAD or outside a repository. */
  currentBranch(): Promise<string | undefined>;
  createBranch(name: string): Promise<void>;
  identity(): Promise<GitIdentity>;
}

/** Where the working tree is: what a handoff or a verification is bound to. */
export interface TreeSnapshot {
  branch?: string;
  /** HEAD, or undefined in a repository with no commits yet. */
  commit?: string;
  /** The working tree (tracked, modified and untracked files, not ignored ones; without .factory/). */
  tree: string;
}

export type FileStatus = 'added' | 'modified' | 'deleted' | 'renamed' | 'copied' | 'typeChanged';

export interface ChangedFile {
  status: FileStatus;
  /** Repository-relative, forward slashes. */
  path: string;
  /** For renames and copies: the path before. */
  from?: string;
}

export interface TreeDiff {
  fromTree: string;
  toTree: string;
  files: ChangedFile[];
  /** Unified patch (binary files shown as "Binary files differ"). */
  patch: string;
}

export interface Checkpoint {
  id: string;
  ref: string;
  commit: string;
  tree: string;
}

/** What a rollback does to one path of the working tree. */
export interface RollbackChange {
  /** Repository-relative, forward slashes. */
  path: string;
  /** restore: the file comes back; revert: its content (or mode) goes back; remove: it was added since and goes away. */
  action: 'restore' | 'revert' | 'remove';
}

export interface RollbackResult {
  changed: RollbackChange[];
  /** Submodules (gitlinks) that differ: a rollback never moves or deletes a submodule. */
  skippedSubmodules: string[];
  /** True when the working tree hashes to the checkpoint's tree afterwards. */
  matches: boolean;
}

/** Tree hashes and diffs of the working tree. */
export interface GitTreePort {
  headCommit(): Promise<string | undefined>;
  workingTreeHash(): Promise<string>;
  snapshot(): Promise<TreeSnapshot>;
  /** From one tree to another (the working tree now when `toTree` is omitted). */
  diffTrees(fromTree: string, toTree?: string): Promise<TreeDiff>;
}

/** Checkpoints before an attempt and rollback to them. */
export interface CheckpointPort {
  createCheckpoint(id: string): Promise<Checkpoint>;
  getCheckpoint(id: string): Promise<Checkpoint | undefined>;
  listCheckpoints(): Promise<Checkpoint[]>;
  /** The files a rollback to `id` would change, for a confirmation dialog. */
  rollbackPreview(id: string): Promise<RollbackChange[]>;
  rollback(id: string): Promise<RollbackResult>;
  deleteCheckpoint(id: string): Promise<void>;
}

export class NotAGitRepositoryError extends Error {
  constructor(readonly workspaceRoot: string) {
    super(`${workspaceRoot} is not in a git repository: tree hashes, diffs and checkpoints need one (the record can still be read).`);
    this.name = 'NotAGitRepositoryError';
  }
}

export class CheckpointNotFoundError extends Error {
  constructor(readonly checkpointId: string) {
    super(`There is no checkpoint "${checkpointId}" (refs/factory/checkpoints/${checkpointId}).`);
    this.name = 'CheckpointNotFoundError';
  }
}

export const CHECKPOINT_REF_PREFIX = 'refs/factory/checkpoints/';
const CHECKPOINT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const GITLINK_MODE = '160000';
// Checkpoint commits are the cockpit's, not the user's: a fixed identity means they
// work where no user.name is configured (CI) and are recognisable in any listing.
const CHECKPOINT_IDENTITY = {
  GIT_AUTHOR_NAME: 'Factory Cockpit',
  GIT_AUTHOR_EMAIL: 'factory-cockpit@localhost',
  GIT_COMMITTER_NAME: 'Factory Cockpit',
  GIT_COMMITTER_EMAIL: 'factory-cockpit@localhost',
};

interface RepoLayout {
  topLevel: string;
  gitDir: string;
  indexFile: string;
  /** `.factory` of the workspace, relative to the top level (forward slashes). */
  recordPath: string;
}

export class GitAdapter implements GitPort, GitTreePort, CheckpointPort {
  private layoutPromise?: Promise<RepoLayout>;

  constructor(readonly workspaceRoot: string) {}

  private porcelainGit: SimpleGit | undefined;
  /** simple-git, for the porcelain commands: required on first use, so a read never evaluates it. */
  private porcelain(): SimpleGit {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- on first use (see the header)
    this.porcelainGit ??= (require('simple-git') as typeof import('simple-git')).simpleGit({ baseDir: this.workspaceRoot, trimmed: true });
    return this.porcelainGit;
  }

  /**
   * Asked afresh on every call (a folder can become a repository, or stop being one),
   * through the one `rev-parse` that also reads the layout: the calls that follow
   * (the branch, a tree hash) reuse its answer instead of starting git again.
   */
  async isRepository(): Promise<boolean> {
    this.layoutPromise = undefined;
    return this.layout().then(
      () => true,
      () => false,
    );
  }

  async currentBranch(): Promise<string | undefined> {
    // The HEAD file answers without a process where its layout is the usual one (headFile.ts).
    const gitDir = await this.layout().then((layout) => layout.gitDir, () => undefined);
    const fromFile = gitDir ? await branchFromHeadFile(gitDir) : undefined;
    if (fromFile) return fromFile;
    try {
      // symbolic-ref works on a repository with no commits yet, unlike rev-parse HEAD.
      return (await this.porcelain().raw(['symbolic-ref', '--quiet', '--short', 'HEAD'])).trim() || undefined;
    } catch {
      return undefined;
    }
  }

  async createBranch(name: string): Promise<void> {
    await this.porcelain().raw(['switch', '-c', name]);
  }

  async identity(): Promise<GitIdentity> {
    const read = async (key: string) => {
      try {
        return (await this.porcelain().raw(['config', '--get', key])).trim() || undefined;
      } catch {
        return undefined;
      }
    };
    const [name, email] = await Promise.all([read('user.name'), read('user.email')]);
    return { name: name ?? process.env.USER ?? 'unknown', ...(email ? { email } : {}) };
  }

  async headCommit(): Promise<string | undefined> {
    const layout = await this.layout();
    const result = await runGit(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], { cwd: layout.topLevel, okCodes: [0, 1, 128] });
    return result.exitCode === 0 ? result.stdout.toString('utf8').trim() : undefined;
  }

  async workingTreeHash(): Promise<string> {
    const layout = await this.layout();
    return this.withTempIndex(layout, true, async (env, seed) => {
      // Stage everything but the record (modified, deleted, untracked; ignored files stay out).
      await runGit(['add', '--all', '--', ':(top)', `:(top,exclude,literal)${layout.recordPath}`], { cwd: layout.topLevel, env });
      const tree = await gitText(['write-tree'], { cwd: layout.topLevel, env });
      // The copied index may still list .factory/ files the user committed. Cutting them
      // out of the written tree costs a few small trees; `git rm --cached` on the index
      // took seconds once the record held thousands of committed event files.
      return mayListPath(seed, layout.recordPath) ? treeWithout(tree, layout.recordPath.split('/'), layout.topLevel) : tree;
    });
  }

  async snapshot(): Promise<TreeSnapshot> {
    const [branch, commit, tree] = await Promise.all([this.currentBranch(), this.headCommit(), this.workingTreeHash()]);
    return { ...(branch ? { branch } : {}), ...(commit ? { commit } : {}), tree };
  }

  async diffTrees(fromTree: string, toTree?: string): Promise<TreeDiff> {
    const layout = await this.layout();
    const to = toTree ?? (await this.workingTreeHash());
    const scope = ['--', ':(top)', `:(top,exclude,literal)${layout.recordPath}`];
    const common = ['-r', '-M', '--no-ext-diff', '--no-textconv', '--no-color'];
    const [nameStatus, patch] = await Promise.all([
      runGit(['diff-tree', ...common, '-z', '--name-status', fromTree, to, ...scope], { cwd: layout.topLevel }),
      runGit(['diff-tree', ...common, '-p', fromTree, to, ...scope], { cwd: layout.topLevel }),
    ]);
    return { fromTree, toTree: to, files: parseNameStatus(nameStatus.stdout), patch: patch.stdout.toString('utf8') };
  }

  async createCheckpoint(id: string): Promise<Checkpoint> {
    checkCheckpointId(id);
    const layout = await this.layout();
    const [tree, parent] = await Promise.all([this.workingTreeHash(), this.headCommit()]);
    const commit = await gitText(['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-m', `Factory checkpoint ${id}`], {
      cwd: layout.topLevel,
      env: CHECKPOINT_IDENTITY,
    });
    const ref = `${CHECKPOINT_REF_PREFIX}${id}`;
    await runGit(['update-ref', '-m', `factory: checkpoint ${id}`, ref, commit], { cwd: layout.topLevel });
    return { id, ref, commit, tree };
  }

  async getCheckpoint(id: string): Promise<Checkpoint | undefined> {
    checkCheckpointId(id);
    return (await this.readCheckpoints(`${CHECKPOINT_REF_PREFIX}${id}`))[0];
  }

  /** Every checkpoint of the repository, oldest first. */
  async listCheckpoints(): Promise<Checkpoint[]> {
    return this.readCheckpoints(CHECKPOINT_REF_PREFIX.slice(0, -1));
  }

  private async readCheckpoints(pattern: string): Promise<Checkpoint[]> {
    const layout = await this.layout();
    const out = await gitText(['for-each-ref', '--sort=committerdate', '--format=%(refname)%00%(objectname)%00%(tree)', pattern], { cwd: layout.topLevel });
    return out
      .split('\n')
      .map((line) => line.split('\0'))
      .filter(([ref, commit, tree]) => ref?.startsWith(CHECKPOINT_REF_PREFIX) && commit && tree)
      .map(([ref, commit, tree]) => ({ id: ref!.slice(CHECKPOINT_REF_PREFIX.length), ref: ref!, commit: commit!, tree: tree! }));
  }

  async deleteCheckpoint(id: string): Promise<void> {
    checkCheckpointId(id);
    const layout = await this.layout();
    await runGit(['update-ref', '-d', `${CHECKPOINT_REF_PREFIX}${id}`], { cwd: layout.topLevel });
  }

  async rollbackPreview(id: string): Promise<RollbackChange[]> {
    return (await this.planRollback(id)).changes;
  }

  async rollback(id: string): Promise<RollbackResult> {
    const layout = await this.layout();
    const plan = await this.planRollback(id);
    // Removals first: a file added since may sit where the checkpoint has a folder.
    for (const change of plan.changes.filter((c) => c.action === 'remove')) {
      await removeInside(layout.topLevel, change.path);
    }
    const writes = plan.changes.filter((c) => c.action !== 'remove').map((c) => c.path);
    if (writes.length > 0) {
      // The checkpoint's files are written by git itself (modes, symlinks, filters,
      // line endings as configured) from a private index holding the checkpoint tree.
      await this.withTempIndex(layout, false, async (env) => {
        await runGit(['read-tree', plan.checkpoint.tree], { cwd: layout.topLevel, env });
        await runGit(['checkout-index', '--force', '-z', '--stdin'], { cwd: layout.topLevel, env, input: writes.map((p) => `${p}\0`).join('') });
      });
    }
    const after = await this.workingTreeHash();
    return { changed: plan.changes, skippedSubmodules: plan.skippedSubmodules, matches: after === plan.checkpoint.tree };
  }

  private async planRollback(id: string): Promise<{ checkpoint: Checkpoint; changes: RollbackChange[]; skippedSubmodules: string[] }> {
    const checkpoint = await this.getCheckpoint(id);
    if (!checkpoint) throw new CheckpointNotFoundError(id);
    const layout = await this.layout();
    const current = await this.workingTreeHash();
    const raw = await runGit(['diff-tree', '-r', '-z', '--raw', '--no-renames', current, checkpoint.tree, '--', ':(top)', `:(top,exclude,literal)${layout.recordPath}`], {
      cwd: layout.topLevel,
    });
    const changes: RollbackChange[] = [];
    const skippedSubmodules: string[] = [];
    for (const entry of parseRaw(raw.stdout)) {
      if (entry.srcMode === GITLINK_MODE || entry.dstMode === GITLINK_MODE) {
        skippedSubmodules.push(entry.path);
        continue;
      }
      const action = entry.status === 'A' ? 'restore' : entry.status === 'D' ? 'remove' : 'revert';
      changes.push({ path: entry.path, action });
    }
    return { checkpoint, changes, skippedSubmodules };
  }

  /** Runs `fn` with GIT_INDEX_FILE pointing at a private index, removed afterwards. */
  private async withTempIndex<T>(layout: RepoLayout, seedFromRealIndex: boolean, fn: (env: Record<string, string>, seed: Buffer | undefined) => Promise<T>): Promise<T> {
    const tempIndex = path.join(layout.gitDir, `factory-index-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      const seed = seedFromRealIndex ? await seedIndex(layout.indexFile, tempIndex) : undefined;
      return await fn({ GIT_INDEX_FILE: tempIndex }, seed);
    } finally {
      await Promise.all([fs.rm(tempIndex, { force: true }), fs.rm(`${tempIndex}.lock`, { force: true })]);
    }
  }

  private layout(): Promise<RepoLayout> {
    if (!this.layoutPromise) {
      const reading: Promise<RepoLayout> = this.readLayout().catch((error: unknown) => {
        // Asked again next time, unless a newer question (isRepository) already is.
        if (this.layoutPromise === reading) this.layoutPromise = undefined;
        throw error;
      });
      this.layoutPromise = reading;
    }
    return this.layoutPromise;
  }

  private async readLayout(): Promise<RepoLayout> {
    // The usual layout answers from its files (layoutFiles.ts); anything else asks git.
    const fromFiles = layoutFromFiles(this.workspaceRoot);
    if (fromFiles === 'none') throw new NotAGitRepositoryError(this.workspaceRoot);
    const lines = fromFiles ? ['true', fromFiles.topLevel, fromFiles.gitDir, fromFiles.index, fromFiles.prefix] : await this.revParseLayout();
    const [inside, topLevel, gitDir, index, prefix = ''] = lines;
    if (inside !== 'true' || !topLevel || !gitDir || !index) throw new NotAGitRepositoryError(this.workspaceRoot);
    return {
      topLevel,
      gitDir,
      // git prints the index relative to its physical working directory: a workspace
      // opened through a symlink resolves it from where the link points.
      indexFile: path.isAbsolute(index) ? index : path.resolve(realpathOrSelf(this.workspaceRoot), index),
      recordPath: `${prefix}.factory`,
    };
  }

  private async revParseLayout(): Promise<string[]> {
    try {
      const out = await gitText(['rev-parse', '--is-inside-work-tree', '--show-toplevel', '--absolute-git-dir', '--git-path', 'index', '--show-prefix'], {
        cwd: this.workspaceRoot,
      });
      return out.split('\n');
    } catch (error) {
      if (error instanceof GitCommandError || (error as NodeJS.ErrnoException).code === 'ENOENT') throw new NotAGitRepositoryError(this.workspaceRoot);
      throw error;
    }
  }
}

function checkCheckpointId(id: string): void {
  if (!CHECKPOINT_ID.test(id)) throw new Error(`"${String(id).slice(0, 80)}" cannot name a checkpoint: use letters, digits, "-" and "_" (at most 128).`);
}

/**
 * Copies the real index so that `git add` finds unchanged files by their stat data
 * instead of hashing them again. The copy keeps the original's mtime: git's check for
 * "racily clean" entries compares file times with the index file's own time.
 */
async function seedIndex(realIndex: string, tempIndex: string): Promise<Buffer | undefined> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(realIndex);
  } catch (error) {
    // No index yet (a repository with no commits and nothing staged): start empty.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  await fs.writeFile(tempIndex, bytes);
  const stat = await fs.stat(realIndex);
  await fs.utimes(tempIndex, stat.atime, stat.mtime);
  return bytes;
}

/**
 * Whether an index may have entries under `dir`, without running git: versions 2 and 3
 * store each path whole, so absent bytes mean no entry (a false positive only costs one
 * `git rm --cached`). Version 4 compresses paths, so it is always assumed.
 */
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

/**
 * `tree` with the entry at `parts` (a path of folder names) removed, rebuilt bottom-up
 * with mktree; a folder left empty is removed too, as write-tree would never write it.
 */
async function treeWithout(tree: string, parts: readonly string[], cwd: string): Promise<string> {
  const [name, ...rest] = parts;
  if (!name) return tree;
  // Each entry: "<mode> <type> <object>\t<name>", the form mktree reads back.
  const entries = splitNul((await runGit(['ls-tree', '-z', tree], { cwd })).stdout);
  const at = entries.findIndex((e) => e.slice(e.indexOf('\t') + 1) === name);
  if (at < 0) return tree;
  const entry = entries[at]!;
  if (rest.length === 0) {
    entries.splice(at, 1);
  } else {
    const [mode, type, object] = entry.slice(0, entry.indexOf('\t')).split(' ');
    if (type !== 'tree' || !object) return tree;
    const inner = await treeWithout(object, rest, cwd);
    if (inner === object) return tree;
    if (inner === EMPTY_TREE) entries.splice(at, 1);
    else entries[at] = `${mode} tree ${inner}\t${name}`;
  }
  return gitText(['mktree', '-z'], { cwd, input: entries.map((e) => `${e}\0`).join('') });
}

function mayListPath(index: Buffer | undefined, dir: string): boolean {
  if (!index || index.length < 12) return false;
  const version = index.readUInt32BE(4);
  return version >= 4 || index.includes(`${dir}/`);
}

/** Deletes a file of the working tree and the folders it leaves empty, never above `top`. */
async function removeInside(top: string, relPath: string): Promise<void> {
  const target = path.resolve(top, relPath);
  const parentReal = await fs.realpath(path.dirname(target)).catch(() => undefined);
  const topReal = await fs.realpath(top);
  // A folder on the way may have become a symbolic link out of the repository since.
  if (!parentReal || path.relative(topReal, parentReal).startsWith('..')) return;
  await fs.rm(target, { force: true });
  let dir = path.dirname(target);
  while (dir !== top && dir.startsWith(top + path.sep)) {
    try {
      await fs.rmdir(dir);
    } catch {
      break; // not empty (or gone): stop climbing
    }
    dir = path.dirname(dir);
  }
}

const STATUS: Record<string, FileStatus> = { A: 'added', M: 'modified', D: 'deleted', R: 'renamed', C: 'copied', T: 'typeChanged' };

function parseNameStatus(output: Buffer): ChangedFile[] {
  const fields = splitNul(output);
  const files: ChangedFile[] = [];
  for (let i = 0; i < fields.length; ) {
    const code = fields[i++]!;
    const status = STATUS[code.charAt(0)] ?? 'modified';
    if (status === 'renamed' || status === 'copied') {
      const from = fields[i++]!;
      files.push({ status, path: fields[i++]!, from });
    } else {
      files.push({ status, path: fields[i++]! });
    }
  }
  return files;
}

interface RawEntry {
  srcMode: string;
  dstMode: string;
  status: string;
  path: string;
}

function parseRaw(output: Buffer): RawEntry[] {
  const fields = splitNul(output);
  const entries: RawEntry[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    // ":<srcmode> <dstmode> <srcsha> <dstsha> <status>" then the path
    const [srcMode = '', dstMode = '', , , status = ''] = fields[i]!.slice(1).split(' ');
    entries.push({ srcMode, dstMode, status: status.charAt(0), path: fields[i + 1]! });
  }
  return entries;
}

/**
 * A three-way merge of file contents (`git merge-file`): what changed from `base` to
 * `theirs` applied onto `ours`. Runs in a private temporary folder; touches neither
 * the index nor the working tree. `conflicts` counts the conflict regions left marked
 * in `merged`. Used to undo one hunk of an attempt in a file edited since (a reverse
 * three-way apply).
 */
export async function mergeFileContents(cwd: string, input: { ours: string; base: string; theirs: string; labels?: [string, string, string] }): Promise<{ merged: string; conflicts: number }> {
  const os = await import('node:os');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'factory-merge-'));
  try {
    const files = ['ours', 'base', 'theirs'].map((name) => path.join(dir, name));
    await Promise.all([fs.writeFile(files[0]!, input.ours), fs.writeFile(files[1]!, input.base), fs.writeFile(files[2]!, input.theirs)]);
    const [l1, l2, l3] = input.labels ?? ['working file', 'attempt', 'hunk reverted'];
    // Exit code: the number of conflicts (capped at 127); negative (255 here) on error.
    const okCodes = Array.from({ length: 128 }, (_, i) => i);
    const result = await runGit(['merge-file', '-p', '-L', l1, '-L', l2, '-L', l3, files[0]!, files[1]!, files[2]!], { cwd, okCodes });
    return { merged: result.stdout.toString('utf8'), conflicts: result.exitCode };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
