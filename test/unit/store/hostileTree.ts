// Tools for the hostile-repository tests: a fingerprint of a folder tree that sees every
// change (names, types, modes, sizes, mtimes, contents, link targets), and a way to see
// reads: every atime set far in the past, so that any read of a file or listing of a
// folder moves it (Linux relatime updates an atime older than the mtime).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * One line per entry under `dir` (links are described, never followed), with mtimes to
 * the nanosecond unless `mtimes` is false. Reads files: take it before atimes are aged.
 */
export function fingerprint(dir: string, mtimes = true): string {
  const lines: string[] = [];
  const walk = (abs: string, rel: string) => {
    const st = lstatSync(abs);
    const kind = st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
    let detail = '';
    if (kind === 'link') detail = readlinkSync(abs);
    else if (kind === 'file') detail = createHash('sha256').update(readFileSync(abs)).digest('hex');
    // A folder's mtime moves when a name is created or removed in it, even a temp file removed at once.
    const mtime = mtimes ? String(lstatSync(abs, { bigint: true }).mtimeNs) : '';
    lines.push(`${rel || '.'}\t${kind}\t${(st.mode & 0o7777).toString(8)}\t${kind === 'dir' ? '' : st.size}\t${mtime}\t${detail}`);
    if (kind === 'dir') for (const name of readdirSync(abs).sort()) walk(join(abs, name), rel ? `${rel}/${name}` : name);
  };
  walk(dir, '');
  return lines.join('\n');
}

const PAST = new Date('2000-01-01T00:00:00Z');

/** Every entry's mtime to the nanosecond, by lstat only (reads nothing, moves no atime). */
export function mtimesOf(dir: string): string {
  const lines: string[] = [];
  const walk = (abs: string, rel: string) => {
    const st = lstatSync(abs, { bigint: true });
    lines.push(`${rel || '.'}\t${st.mtimeNs}`);
    if (st.isDirectory()) for (const name of readdirSync(abs).sort()) walk(join(abs, name), rel ? `${rel}/${name}` : name);
  };
  walk(dir, '');
  return lines.join('\n');
}

/**
 * Sets every file's and folder's atime under `dir` to 2000-01-01 (links untouched) and
 * leaves mtimes exactly as they are: `touch -a` changes the atime alone (utimensat with
 * UTIME_OMIT), which Node's utimes, taking both as doubles, cannot.
 */
export function ageAtimes(dir: string): void {
  const paths: string[] = [];
  const walk = (abs: string) => {
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) for (const name of readdirSync(abs)) walk(join(abs, name));
    paths.push(abs); // children first: touching a folder's atime after listing it
  };
  walk(dir);
  for (let i = 0; i < paths.length; i += 200) execFileSync('touch', ['-a', '-t', '200001010000.00', ...paths.slice(i, i + 200)]);
  agedAtimeMs = lstatSync(dir).atimeMs;
}

let agedAtimeMs = PAST.getTime();

/**
 * Entries under `dir` whose atime moved since ageAtimes: what was read or listed. Each
 * entry is lstat-ed before its folder is listed (listing moves the folder's atime).
 */
export function readSinceAged(dir: string): string[] {
  const read: string[] = [];
  const walk = (abs: string, rel: string) => {
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) return;
    if (st.atimeMs !== agedAtimeMs) read.push(rel || '.');
    if (st.isDirectory()) for (const name of readdirSorted(abs)) walk(join(abs, name), rel ? `${rel}/${name}` : name);
  };
  walk(dir, '');
  return read;
}

function readdirSorted(abs: string): string[] {
  return readdirSync(abs).sort();
}

/**
 * Whether this file system records reads in atimes (not mounted noatime): probed once.
 * Without it the "nothing read through a link" checks rest on content alone.
 */
export function atimesWork(): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'fc-atime-'));
  try {
    const file = join(dir, 'probe');
    writeFileSync(file, 'x');
    ageAtimes(dir);
    readFileSync(file);
    return lstatSync(file).atimeMs !== agedAtimeMs;
  } catch {
    return false; // no touch(1) here
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
