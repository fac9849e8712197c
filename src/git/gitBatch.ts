// Reading many git objects with one process: `git cat-file --batch` takes object names
// (`<oid>`, `<commit>:<path>`) on stdin and answers in the same order, so the record of
// hundreds of branches is read in a handful of calls. Trees are parsed here (binary
// entries: `<mode> <name>\0<raw oid>`). Read-only; never runs a command a repository
// configures beyond git itself.
import { gitText, runGit } from './gitProcess';

export interface BatchObject {
  /** The name asked for. */
  name: string;
  oid?: string;
  type?: string;
  content?: Buffer;
}

export interface TreeEntry {
  mode: string;
  name: string;
  oid: string;
}

export async function catFileBatch(cwd: string, names: readonly string[]): Promise<BatchObject[]> {
  if (names.length === 0) return [];
  for (const n of names) if (n.includes('\n')) throw new Error('an object name cannot hold a newline');
  const result = await runGit(['cat-file', '--batch'], { cwd, input: names.map((n) => `${n}\n`).join('') });
  const out = result.stdout;
  const objects: BatchObject[] = [];
  let at = 0;
  for (const name of names) {
    const eol = out.indexOf(0x0a, at);
    if (eol < 0) break;
    const header = out.subarray(at, eol).toString('utf8').split(' ');
    at = eol + 1;
    if (header.length < 3 || header[1] === 'missing' || header[1] === 'ambiguous') {
      objects.push({ name });
      continue;
    }
    const size = Number(header[2]);
    objects.push({ name, oid: header[0]!, type: header[1]!, content: out.subarray(at, at + size) });
    at += size + 1;
  }
  return objects;
}

/**
 * The size of each named object (`git cat-file --batch-check`), without reading its
 * content: what a reader checks before it asks for blobs a repository may have made huge.
 * Missing objects are left out.
 */
export async function catFileSizes(cwd: string, names: readonly string[]): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  if (names.length === 0) return sizes;
  for (const n of names) if (n.includes('\n')) throw new Error('an object name cannot hold a newline');
  const result = await runGit(['cat-file', '--batch-check=%(objectsize)'], { cwd, input: names.map((n) => `${n}\n`).join('') });
  const lines = result.stdout.toString('utf8').split('\n');
  names.forEach((name, i) => {
    const size = Number(lines[i]);
    if (lines[i] !== undefined && /^\d+$/.test(lines[i]!)) sizes.set(name, size);
  });
  return sizes;
}

/** The entries of a raw tree object; `oidBytes` 20 (sha1) or 32 (sha256). */
export function parseTree(content: Buffer, oidBytes = 20): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let at = 0;
  while (at < content.length) {
    const space = content.indexOf(0x20, at);
    const nul = content.indexOf(0x00, space);
    if (space < 0 || nul < 0) break;
    const mode = content.subarray(at, space).toString('utf8');
    const name = content.subarray(space + 1, nul).toString('utf8');
    const oid = content.subarray(nul + 1, nul + 1 + oidBytes).toString('hex');
    entries.push({ mode, name, oid });
    at = nul + 1 + oidBytes;
  }
  return entries;
}

/** Local and remote-tracking branches with the commit each points at (symbolic refs left out). */
export async function branchTips(cwd: string): Promise<{ ref: string; commit: string }[]> {
  const out = await gitText(['for-each-ref', '--format=%(refname)%00%(objectname)%00%(symref)', 'refs/heads', 'refs/remotes'], { cwd });
  return out
    .split('\n')
    .map((line) => line.split('\0'))
    .filter(([ref, commit, symref]) => ref && commit && !symref)
    .map(([ref, commit]) => ({ ref: ref!, commit: commit! }));
}

/**
 * Who added each file under `paths` in the history reachable from `commits`: the author
 * of the oldest commit that added it, by file name (event files are named by their id).
 */
export async function fileAuthors(cwd: string, commits: readonly string[], paths: readonly string[]): Promise<Map<string, { name: string; email: string }>> {
  const authors = new Map<string, { name: string; email: string }>();
  if (commits.length === 0) return authors;
  const out = await runGit(['log', '--no-renames', '--diff-filter=A', '--name-only', '--format=%x01%an%x00%ae', ...commits, '--', ...paths.map((p) => `:(literal)${p}`)], { cwd });
  let current: { name: string; email: string } | undefined;
  for (const line of out.stdout.toString('utf8').split('\n')) {
    if (line.startsWith('\x01')) {
      const [name = '', email = ''] = line.slice(1).split('\0');
      current = { name, email };
    } else if (line && current) {
      const slash = line.lastIndexOf('/');
      // Newest first: the oldest commit that added it is seen last and wins.
      authors.set(line.slice(slash + 1).replace(/\.json$/, ''), current);
    }
  }
  return authors;
}

export function repositoryTop(cwd: string): Promise<string> {
  return gitText(['rev-parse', '--show-toplevel'], { cwd });
}

export function repositoryPrefix(cwd: string): Promise<string> {
  return gitText(['rev-parse', '--show-prefix'], { cwd });
}
