// File access under .factory/ that never leads outside the repository.
//
// The record comes from a repository anyone could have pushed, so every folder and file
// of it may be a symbolic link (or, on Windows, a junction, which lstat also reports as
// a link) planted to make the extension read or write somewhere else: `.factory`
// itself, `changes`, a change's folder, its `events`, one event file, `quarantine`,
// `evidence` and its fan-out folders, `pipeline.json`, `.gitignore`. So:
// - every part of a path below the workspace root is lstat-ed before use, and a link
//   anywhere is refused (never followed, whether it points inside or out: a link inside
//   could still make a quarantine move the user's own files);
// - files are opened with O_NOFOLLOW (where the platform has it) and O_NONBLOCK (a FIFO
//   can never hang a read), and the opened file must be the regular file lstat saw;
// - folders are created one level at a time, each checked after creation, and files are
//   created exclusively (O_EXCL, link(2)) or renamed into place, which replaces a name
//   rather than writing through it.
// A refusal is an UnsafeRecordPathError naming the workspace-relative path, which the
// store reports as a RecordProblem. The threat is a hostile repository's content; a
// process racing to swap folders while we read already has the user's disk.
import { promises as fs, constants as fsConstants, lstatSync, openSync, fstatSync, readFileSync, readSync, readdirSync, closeSync, type Dirent, type Stats } from 'node:fs';
import * as path from 'node:path';
import { AlreadyExistsError, createFileExclusive, fsyncDirectory, tempNameFor } from './atomicFile';

export const O_NOFOLLOW = fsConstants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = fsConstants.O_NONBLOCK ?? 0;
const READ_FLAGS = fsConstants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;

export const LINK_REFUSED = 'is a symbolic link (or junction): the record never follows a link, wherever it points';

/** A path of the record that is not what the record allows there. */
export class UnsafeRecordPathError extends Error {
  readonly code = 'EUNSAFEPATH';
  constructor(
    /** Workspace-relative, with `/`. */
    readonly relPath: string,
    readonly reason: string,
  ) {
    super(`${relPath} ${reason}.`);
    this.name = 'UnsafeRecordPathError';
  }
}

/** A write to the record while it may not be written (Restricted Mode: the folder is not trusted). */
export class RecordReadOnlyError extends Error {
  readonly code = 'ERECORDREADONLY';
  constructor(readonly action: string) {
    super(`Cannot ${action}: the workspace is in Restricted Mode, and the record (.factory/) is not written until the folder is trusted.`);
    this.name = 'RecordReadOnlyError';
  }
}

export type Expect = 'dir' | 'file' | 'any';

export class RecordFs {
  readonly root: string;

  constructor(workspaceRoot: string) {
    this.root = path.resolve(workspaceRoot);
  }

  relative(abs: string): string {
    return path.relative(this.root, abs).split(path.sep).join('/');
  }

  /** The names from the root down to `abs`; throws when `abs` is not below the root. */
  private parts(abs: string): string[] {
    const rel = path.relative(this.root, path.resolve(abs));
    if (rel === '') return [];
    if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) throw new UnsafeRecordPathError(this.relative(abs), 'is outside the workspace');
    return rel.split(path.sep);
  }

  /**
   * lstat-s every part of `abs` below the root: each must be a real folder (the last one
   * as `expect` says), none a link. Returns the last one's Stats, or undefined when a
   * part is missing. Throws UnsafeRecordPathError naming the first part that is wrong.
   */
  async inspect(abs: string, expect: Expect = 'any'): Promise<Stats | undefined> {
    const parts = this.parts(abs);
    let current = this.root;
    let stats: Stats | undefined;
    for (let i = 0; i < parts.length; i++) {
      current = path.join(current, parts[i]!);
      try {
        stats = await fs.lstat(current);
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
      this.check(current, stats, i === parts.length - 1 ? expect : 'dir');
    }
    return stats;
  }

  /** inspect, synchronously (a handful of lstat calls: cheaper than a thread-pool round trip each). */
  inspectSync(abs: string, expect: Expect = 'any'): Stats | undefined {
    const parts = this.parts(abs);
    let current = this.root;
    let stats: Stats | undefined;
    for (let i = 0; i < parts.length; i++) {
      current = path.join(current, parts[i]!);
      try {
        stats = lstatSync(current);
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
      this.check(current, stats, i === parts.length - 1 ? expect : 'dir');
    }
    return stats;
  }

  private check(abs: string, stats: Stats, expect: Expect): void {
    if (stats.isSymbolicLink()) throw new UnsafeRecordPathError(this.relative(abs), LINK_REFUSED);
    if (expect === 'dir' && !stats.isDirectory()) throw new UnsafeRecordPathError(this.relative(abs), 'is not a folder');
    if (expect === 'file' && !stats.isFile()) throw new UnsafeRecordPathError(this.relative(abs), 'is not a regular file');
  }

  /** The entries of a checked folder, or undefined when it does not exist. */
  async listDir(abs: string): Promise<Dirent[] | undefined> {
    if (!(await this.inspect(abs, 'dir'))) return undefined;
    try {
      return await fs.readdir(abs, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** listDir, synchronously. */
  listDirSync(abs: string): Dirent[] | undefined {
    if (!this.inspectSync(abs, 'dir')) return undefined;
    try {
      return readdirSync(abs, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /**
   * Opens a regular file of the record for reading: the path checked part by part, the
   * file opened without following a link, and the opened file the one lstat saw.
   * Undefined when it does not exist.
   */
  async open(abs: string): Promise<fs.FileHandle | undefined> {
    const seen = await this.inspect(abs, 'file');
    if (!seen) return undefined;
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(abs, READ_FLAGS);
    } catch (error) {
      if (isMissing(error)) return undefined;
      if (isLinkOpenError(error)) throw new UnsafeRecordPathError(this.relative(abs), LINK_REFUSED);
      throw error;
    }
    try {
      const opened = await handle.stat();
      if (!opened.isFile() || opened.ino !== seen.ino || opened.dev !== seen.dev) throw new UnsafeRecordPathError(this.relative(abs), 'changed while it was being opened');
      return handle;
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** The bytes of a checked file, or its size when over `maxBytes`, or undefined when missing. */
  async readFile(abs: string, maxBytes: number): Promise<Buffer | number | undefined> {
    const handle = await this.open(abs);
    if (!handle) return undefined;
    try {
      const { size } = await handle.stat();
      if (size > maxBytes) return size;
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  /**
   * Opens a file in a folder already checked (listDir), without following a link, and
   * reads it when it is a regular file of at most `maxBytes`: its text, its size when
   * larger, or 'gone' when it disappeared meanwhile.
   */
  readSmallFileSync(abs: string, maxBytes: number): string | number | 'gone' {
    let fd: number;
    try {
      fd = openSync(abs, READ_FLAGS);
    } catch (error) {
      if (isMissing(error)) return 'gone';
      if (isLinkOpenError(error)) throw new UnsafeRecordPathError(this.relative(abs), LINK_REFUSED);
      throw error;
    }
    try {
      const stats = fstatSync(fd);
      if (!stats.isFile()) throw new UnsafeRecordPathError(this.relative(abs), 'is not a regular file');
      if (stats.size > maxBytes) return stats.size;
      return readToEnd(fd, stats.size);
    } finally {
      closeSync(fd);
    }
  }

  /** Creates `abs` and the folders above it, one level at a time; none may be a link or a file. */
  async ensureDir(abs: string): Promise<void> {
    const parts = this.parts(abs);
    let current = this.root;
    for (const part of parts) {
      current = path.join(current, part);
      let stats: Stats | undefined;
      try {
        stats = await fs.lstat(current);
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
      if (!stats) {
        try {
          await fs.mkdir(current);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        // Whatever is there now (ours, or another writer's) must be a real folder.
        stats = await fs.lstat(current);
      }
      this.check(current, stats, 'dir');
    }
  }

  /** Creates `abs` exclusively (AlreadyExistsError when the name is taken, even by a link). */
  async createExclusive(abs: string, data: string | Uint8Array): Promise<void> {
    await this.ensureDir(path.dirname(abs));
    await createFileExclusive(abs, data);
  }

  /**
   * Replaces `abs` atomically (temp file, fsync, rename). The temp file is created
   * exclusively without following a link; a link or a folder at `abs` is refused, never
   * written through.
   */
  async writeReplacing(abs: string, data: string | Uint8Array): Promise<void> {
    const dir = path.dirname(abs);
    await this.ensureDir(dir);
    await this.inspect(abs, 'file'); // a link or a folder there is refused
    const temp = path.join(dir, tempNameFor(path.basename(abs)));
    const handle = await fs.open(temp, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY | O_NOFOLLOW, 0o644);
    try {
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(temp, abs);
    } finally {
      await fs.rm(temp, { force: true });
    }
    await fsyncDirectory(dir);
  }

  /**
   * Moves `from` (a file, a folder or a link itself, never what a link points to) to
   * `to`, or to `to.<suffix>` when `to` is taken. The folder of `from` is checked; the
   * folders of `to` are created and checked. Returns where it went.
   */
  async moveAside(from: string, to: string, suffix: () => string): Promise<string> {
    await this.inspect(path.dirname(from), 'dir');
    await this.ensureDir(path.dirname(to));
    let target = to;
    if (await lexists(target)) target = `${to}.${suffix()}`;
    if (await lexists(target)) throw new AlreadyExistsError(target);
    await fs.rename(from, target);
    await fsyncDirectory(path.dirname(target));
    return target;
  }
}

async function lexists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

export function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT';
}

/** What open(O_NOFOLLOW) says about a link: ELOOP on Linux, EMLINK on FreeBSD, EFTYPE on some BSDs. */
function isLinkOpenError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code;
  return code === 'ELOOP' || code === 'EMLINK' || code === 'EFTYPE';
}

/** A short, truthful sentence for an I/O error while reading the record. */
export function describeIoError(error: unknown): string {
  if (error instanceof UnsafeRecordPathError) return error.message;
  const e = error as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'EACCES':
    case 'EPERM':
      return `cannot be read: permission denied (${e.code})`;
    case 'ENOTDIR':
      return 'cannot be read: a part of its path is a file, not a folder (ENOTDIR)';
    case 'EISDIR':
      return 'is a folder where a file was expected (EISDIR)';
    case 'ELOOP':
      return 'cannot be read: too many levels of symbolic links (ELOOP)';
    case 'EIO':
      return 'cannot be read: input/output error (EIO)';
    default:
      return `cannot be read: ${e?.code ? `${e.code}: ` : ''}${e?.message ?? String(error)}`;
  }
}

/** Reused by every small read: a record's files are read one after another, synchronously. */
const scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * The rest of an open file as UTF-8, whose size fstat gave: one read into a reused buffer
 * for a small file (readFileSync(fd) would fstat again and allocate a buffer per file,
 * which half a million event files feel), and whatever it grew by since, read too.
 */
function readToEnd(fd: number, size: number): string {
  const buffer = size < scratch.length ? scratch : Buffer.allocUnsafe(size + 1);
  let length = 0;
  for (let n = -1; n !== 0 && length < buffer.length; length += n) n = readSync(fd, buffer, length, buffer.length - length, null);
  if (length < buffer.length) return buffer.toString('utf8', 0, length);
  // Full: the file grew after fstat. Read the rest the ordinary way.
  return Buffer.concat([buffer, readFileSync(fd)]).toString('utf8');
}
