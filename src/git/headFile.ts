// The checked-out branch read from the repository's HEAD file: what `git symbolic-ref
// --quiet --short HEAD` prints, without starting git (a process costs more than the
// few small files read here). It answers only where the answer is certain and returns
// undefined for everything else, and the caller then asks git: a linked worktree, the
// reftable format, a detached or symlinked HEAD, and a branch name git would print
// longer because a ref of the same short name exists (`heads/main` next to a tag `main`).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';

const SYMBOLIC_BRANCH = /^ref:\s*refs\/heads\/(\S+)\s*$/;
/** What HEAD names in a reftable repository, whose real HEAD lives in the tables. */
const REFTABLE_PLACEHOLDER = '.invalid';

/** `gitDir`: the absolute git directory (`git rev-parse --absolute-git-dir`). */
export async function branchFromHeadFile(gitDir: string): Promise<string | undefined> {
  // Linked worktrees keep their refs in the common directory: git knows the layout.
  if (existsSync(path.join(gitDir, 'commondir'))) return undefined;
  let head: string;
  try {
    head = await readFile(path.join(gitDir, 'HEAD'), 'utf8');
  } catch {
    return undefined;
  }
  const name = SYMBOLIC_BRANCH.exec(head)?.[1];
  if (!name || name === REFTABLE_PLACEHOLDER) return undefined;
  return (await shortNameIsAmbiguous(gitDir, name)) ? undefined : name;
}

/**
 * Whether `name` also resolves through a rule git tries before refs/heads/ (the ref
 * itself, refs/<name>, refs/tags/<name>): then `--short` prints `heads/<name>`. Any
 * loose file or packed entry there counts, so a doubt always goes to git.
 */
async function shortNameIsAmbiguous(gitDir: string, name: string): Promise<boolean> {
  const shadows = [name, `refs/${name}`, `refs/tags/${name}`];
  if (shadows.some((ref) => existsSync(path.join(gitDir, ref)))) return true;
  let packed: string;
  try {
    packed = await readFile(path.join(gitDir, 'packed-refs'), 'utf8');
  } catch {
    return false;
  }
  return shadows.some((ref) => packed.includes(` ${ref}\n`) || packed.endsWith(` ${ref}`));
}
