// Paths named by a pipeline (cwd, reports, outputs, evidence globs) come from the
// repository, i.e. from whoever wrote the pipeline: each must resolve inside the
// workspace, symlinks included, or the criterion is refused.
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { glob } from 'tinyglobby';

export class PathOutsideWorkspaceError extends Error {
  constructor(
    readonly given: string,
    readonly what: string,
  ) {
    super(`${what} "${given}" resolves outside the workspace`);
    this.name = 'PathOutsideWorkspaceError';
  }
}

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** Absolute path of `given` (relative to the workspace root), refused if it leaves the workspace lexically or through a symlink. */
export async function resolveInside(workspaceRoot: string, given: string, what: string): Promise<string> {
  const root = path.resolve(workspaceRoot);
  const absolute = path.resolve(root, given);
  if (!isInside(root, absolute)) throw new PathOutsideWorkspaceError(given, what);
  const realRoot = await realpath(root);
  const real = await realpathOfExistingPrefix(absolute);
  if (!isInside(realRoot, real)) throw new PathOutsideWorkspaceError(given, what);
  return absolute;
}

/** realpath of the longest existing prefix, with the missing rest appended (the path may not exist yet). */
async function realpathOfExistingPrefix(absolute: string): Promise<string> {
  let current = absolute;
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(await realpath(current), ...rest);
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return absolute;
      rest.unshift(path.basename(current));
      current = parent;
    }
  }
}

export function toWorkspaceRelative(workspaceRoot: string, absolute: string): string {
  return path.relative(path.resolve(workspaceRoot), absolute).split(path.sep).join('/');
}

const GLOB_CHARS = /[*?[\]{}()!]/;

/** A pattern that names one path (no glob characters), relative and without `..`: the only kind whose folder can be known before anything matches. */
export function isPlainRelativePath(pattern: string): boolean {
  return !GLOB_CHARS.test(pattern) && !path.isAbsolute(pattern) && !pattern.replace(/\\/g, '/').split('/').includes('..');
}

/**
 * Files matching a path or glob (relative to the workspace root). Patterns that are
 * absolute or climb out with `..` are refused; matches reached through a symlink that
 * leaves the workspace are refused too.
 */
export async function matchWorkspaceFiles(workspaceRoot: string, pattern: string, what: string): Promise<string[]> {
  const normalized = pattern.replace(/\\/g, '/');
  if (path.isAbsolute(pattern) || normalized.split('/').includes('..')) {
    // A plain path may still be inside (e.g. an absolute path under the root): resolve it.
    if (GLOB_CHARS.test(pattern)) throw new PathOutsideWorkspaceError(pattern, what);
    const absolute = await resolveInside(workspaceRoot, pattern, what);
    return (await isFile(absolute)) ? [absolute] : [];
  }
  if (!GLOB_CHARS.test(pattern)) {
    const absolute = await resolveInside(workspaceRoot, pattern, what);
    return (await isFile(absolute)) ? [absolute] : [];
  }
  const root = path.resolve(workspaceRoot);
  const matches = await glob(normalized, { cwd: root, absolute: true, dot: true, onlyFiles: true, followSymbolicLinks: false, expandDirectories: false });
  const inside: string[] = [];
  for (const match of matches.sort()) {
    inside.push(await resolveInside(root, path.relative(root, match), what));
  }
  return inside;
}

async function isFile(absolute: string): Promise<boolean> {
  try {
    return (await stat(absolute)).isFile();
  } catch {
    return false;
  }
}

/** A media type for evidence from a file name. */
export function mediaTypeFor(name: string): string {
  const ext = path.extname(name).toLowerCase();
  const known: Record<string, string> = {
    '.xml': 'application/xml',
    '.tap': 'text/x-tap',
    '.json': 'application/json',
    '.png': 'image/png',
    '.jpg': 'image/jpeg',
    '.jpeg': 'image/jpeg',
    '.svg': 'image/svg+xml',
    '.html': 'text/html',
    '.md': 'text/markdown',
    '.txt': 'text/plain',
    '.log': 'text/plain',
  };
  return known[ext] ?? 'application/octet-stream';
}
