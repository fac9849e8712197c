// Read-only access to files in git objects: another branch's `.factory/` without
// checking it out (changes side by side, each on its own branch or worktree). One
// `ls-tree` lists a folder of a ref, one `cat-file --batch` reads all its blobs.
import { runGit, splitNul, gitText } from './gitProcess';

export interface GitTreeEntry {
  mode: string;
  type: string;
  oid: string;
  /** Bytes, for blobs. */
  size?: number;
  /** Repository-relative, forward slashes. */
  path: string;
}

export class GitObjectReader {
  private topLevelPromise?: Promise<string>;

  constructor(readonly workspaceRoot: string) {}

  /** Local and remote-tracking branches (not the symbolic `origin/HEAD`), full ref names. */
  async listBranchRefs(): Promise<string[]> {
    const out = await gitText(['for-each-ref', '--format=%(refname)%00%(symref)', 'refs/heads', 'refs/remotes'], { cwd: await this.topLevel() });
    return out
      .split('\n')
      .map((line) => line.split('\0'))
      .filter(([ref, symref]) => ref && !symref)
      .map(([ref]) => ref!);
  }

  /** Every file under `dir` (repository-relative) in `ref`, recursively; empty when absent. */
  async listTree(ref: string, dir: string): Promise<GitTreeEntry[]> {
    if (ref.startsWith('-')) throw new Error(`"${ref}" is not a ref.`);
    const result = await runGit(['ls-tree', '-r', '-z', '-l', '--full-tree', ref, '--', `:(literal)${dir}`], { cwd: await this.topLevel() });
    return splitNul(result.stdout).map((line) => {
      const tab = line.indexOf('\t');
      const [mode = '', type = '', oid = '', size = '-'] = line.slice(0, tab).split(/ +/);
      return { mode, type, oid, ...(size !== '-' ? { size: Number(size) } : {}), path: line.slice(tab + 1) };
    });
  }

  /** The bytes of each blob; missing objects are left out of the map. */
  async readBlobs(oids: readonly string[]): Promise<Map<string, Buffer>> {
    const blobs = new Map<string, Buffer>();
    if (oids.length === 0) return blobs;
    const result = await runGit(['cat-file', '--batch'], { cwd: await this.topLevel(), input: oids.map((o) => `${o}\n`).join('') });
    const out = result.stdout;
    let at = 0;
    while (at < out.length) {
      const eol = out.indexOf(0x0a, at);
      if (eol < 0) break;
      const header = out.subarray(at, eol).toString('utf8').split(' ');
      at = eol + 1;
      if (header[1] === 'missing' || header.length < 3) continue;
      const size = Number(header[2]);
      blobs.set(header[0]!, out.subarray(at, at + size));
      at += size + 1; // content, then a newline
    }
    return blobs;
  }

  /** The workspace's path relative to the repository top (empty or ending in "/"). */
  async workspacePrefix(): Promise<string> {
    return gitText(['rev-parse', '--show-prefix'], { cwd: this.workspaceRoot });
  }

  private topLevel(): Promise<string> {
    this.topLevelPromise ??= gitText(['rev-parse', '--show-toplevel'], { cwd: this.workspaceRoot });
    return this.topLevelPromise;
  }
}
