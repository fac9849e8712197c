// Paths read from the record (an evidence name, a report path, a file in a context
// pack) come from files anyone could have pushed. Every such path goes through
// resolveInsideWorkspace, so a record can never make the extension read or write
// outside the workspace: not with `..`, not with an absolute path, not through a
// symbolic link that points elsewhere.
import * as fs from 'node:fs';
import * as path from 'node:path';

export class OutsideWorkspaceError extends Error {
  constructor(
    readonly relPath: string,
    readonly workspaceRoot: string,
    readonly reason: string,
  ) {
    super(`Path "${relPath}" is not inside the workspace ${workspaceRoot}: ${reason}.`);
    this.name = 'OutsideWorkspaceError';
  }
}

/**
 * Resolves `relPath` against `root` and returns the absolute path, or throws
 * OutsideWorkspaceError when it is absolute, climbs out with `..`, contains a NUL
 * byte, or when an existing part of it is a symbolic link leading outside `root`.
 * The path need not exist (it may be about to be written).
 */
export function resolveInsideWorkspace(root: string, relPath: string): string {
  if (typeof relPath !== 'string' || relPath.length === 0) throw new OutsideWorkspaceError(String(relPath), root, 'the path is empty');
  if (relPath.includes('\0')) throw new OutsideWorkspaceError(relPath, root, 'the path contains a NUL byte');
  // Both separators count: a record written on Windows must not climb out on Linux either.
  const normalized = relPath.replace(/\\/g, '/');
  if (path.posix.isAbsolute(normalized) || path.win32.isAbsolute(relPath) || /^[a-zA-Z]:/.test(normalized)) {
    throw new OutsideWorkspaceError(relPath, root, 'absolute paths are not allowed');
  }
  const absoluteRoot = path.resolve(root);
  const resolved = path.resolve(absoluteRoot, ...normalized.split('/'));
  if (!isWithin(absoluteRoot, resolved)) throw new OutsideWorkspaceError(relPath, root, 'it climbs out with ".."');

  // Symbolic links: the deepest part that exists must really live under the real root.
  const realRoot = realpathOrSelf(absoluteRoot);
  let existing = resolved;
  while (!lexists(existing) && existing !== absoluteRoot) existing = path.dirname(existing);
  let realExisting: string;
  try {
    realExisting = fs.realpathSync.native(existing);
  } catch {
    // lstat saw it but it cannot be resolved: a dangling link, whose target could be anywhere.
    throw new OutsideWorkspaceError(relPath, root, 'a symbolic link leads nowhere');
  }
  if (!isWithin(realRoot, realExisting)) throw new OutsideWorkspaceError(relPath, root, 'a symbolic link leads outside');
  return resolved;
}

/** True when `candidate` is `parent` or below it (both absolute, normalized). */
export function isWithin(parent: string, candidate: string): boolean {
  const rel = path.relative(parent, candidate);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

function lexists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Where `p` really is (symbolic links resolved), or `p` made absolute when it cannot be resolved. */
export function realpathOrSelf(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return path.resolve(p);
  }
}
