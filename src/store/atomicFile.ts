// How files of the record reach the disk.
//
// - A whole file that may be replaced (pipeline.json, the index) is written with
//   write-file-atomic: temp file in the same folder, fsync, rename. A process killed at
//   any instant leaves the old file or the new one, never a torn one.
// - A file that must never be replaced (an event, named by its id) is written to a
//   temp file in the same folder, fsynced, then hard-linked to its final name. link(2)
//   fails with EEXIST instead of overwriting, so two writers can never clobber one
//   another, and the final name appears with its full content at once. The temp name
//   is then unlinked; a process killed between the two leaves a stray temp file,
//   which readers ignore (isTempName) and .factory/.gitignore keeps out of git.
// - The folder is fsynced after the rename/link so the new name survives a power cut.
import { promises as fs, constants as fsConstants } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * write-file-atomic, required on the first write: its module loads worker_threads, which
 * a command that only reads the record (`factory-cockpit status`) would load for nothing.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- synchronous, on first use
export const writeFileAtomic = (): typeof import('write-file-atomic') => require('write-file-atomic');

/** Temp files of this module: `.<final name>.<pid>.<random>.tmp`, hidden and ignorable. */
export function tempNameFor(finalName: string): string {
  return `.${finalName}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

/** Temp files of any writer of the record: ours, and write-file-atomic's `<name>.<number>`. */
export function isTempName(name: string): boolean {
  return (name.startsWith('.') && name.endsWith('.tmp')) || /\.json\.\d+$/.test(name);
}

export class AlreadyExistsError extends Error {
  constructor(readonly file: string) {
    super(`${file} already exists; record files are never overwritten.`);
    this.name = 'AlreadyExistsError';
  }
}

/** Replaces `file` atomically (temp + fsync + rename), creating its folder. */
export async function writeFileReplacing(file: string, data: string | Buffer): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic()(file, data, { fsync: true });
  await fsyncDirectory(path.dirname(file));
}

/**
 * Creates `file` with `data` atomically and exclusively: throws AlreadyExistsError
 * (and writes nothing) when the name is taken. The folder must exist.
 */
export async function createFileExclusive(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(file);
  const temp = path.join(dir, tempNameFor(path.basename(file)));
  const handle = await fs.open(temp, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o644);
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.link(temp, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExistsError(file);
      throw error;
    }
  } finally {
    await fs.rm(temp, { force: true });
  }
  await fsyncDirectory(dir);
}

/** Makes a rename or link in `dir` durable. Some platforms cannot open a folder; that is fine. */
export async function fsyncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // Windows cannot fsync a directory; rename is already durable enough there.
  } finally {
    await handle?.close();
  }
}
