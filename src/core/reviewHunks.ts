// The hunks of an attempt's diff, each with an identity that survives later edits:
// the sha256 of its path and its lines (not its line numbers), so a decision recorded
// on a hunk ("kept", "rejected") still names the same change when lines moved. And
// the pure half of rejecting one: the file as the attempt left it with that one hunk
// undone, which the engine then merges three-way into the working file.
import { sha256Hex } from './contextPack';

export interface DiffHunk {
  /** sha256 of the path and the hunk's lines. */
  id: string;
  /** `@@ -a,b +c,d @@ context`. */
  header: string;
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  /** The hunk's body lines with their ' ', '-', '+' or '\' prefix. */
  lines: string[];
}

export interface DiffFile {
  /** The path after (workspace-relative as the diff names it); the path before for a deletion. */
  path: string;
  oldPath?: string;
  status: 'added' | 'deleted' | 'modified' | 'renamed';
  binary: boolean;
  hunks: DiffHunk[];
}

const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$/;

function unquote(name: string): string {
  if (!name.startsWith('"')) return name;
  try {
    return JSON.parse(name) as string;
  } catch {
    return name.slice(1, -1);
  }
}

function stripPrefix(name: string): string | undefined {
  const n = unquote(name.trim());
  if (n === '/dev/null') return undefined;
  return n.replace(/^[ab]\//, '');
}

/** Parses a unified diff (as `git diff` writes it) into files and hunks. */
export function parseUnifiedDiff(patch: string): DiffFile[] {
  const files: DiffFile[] = [];
  let file: DiffFile | undefined;
  let hunk: DiffHunk | undefined;
  let remainingOld = 0;
  let remainingNew = 0;
  const finishHunk = () => {
    if (hunk && file) {
      hunk.id = hunkId(file.path, hunk.lines);
      file.hunks.push(hunk);
    }
    hunk = undefined;
  };
  for (const line of patch.split('\n')) {
    if (hunk && (remainingOld > 0 || remainingNew > 0 || line.startsWith('\\'))) {
      const c = line[0];
      if (c === ' ' || c === '-' || c === '+' || c === '\\' || line === '') {
        hunk.lines.push(line === '' ? ' ' : line);
        if (c === ' ' || line === '') {
          remainingOld--;
          remainingNew--;
        } else if (c === '-') remainingOld--;
        else if (c === '+') remainingNew--;
        continue;
      }
    }
    if (line.startsWith('diff --git ')) {
      finishHunk();
      const m = /^diff --git (?:"?a\/)(.+?)"? (?:"?b\/)(.+?)"?$/.exec(line);
      file = { path: m ? m[2]! : line.slice('diff --git '.length), status: 'modified', binary: false, hunks: [] };
      if (m && m[1] !== m[2]) file.oldPath = m[1]!;
      files.push(file);
      continue;
    }
    if (!file) continue;
    const header = HUNK_HEADER.exec(line);
    if (header) {
      finishHunk();
      const [, os, ol, ns, nl] = header;
      hunk = { id: '', header: line, oldStart: Number(os), oldLines: ol === undefined ? 1 : Number(ol), newStart: Number(ns), newLines: nl === undefined ? 1 : Number(nl), lines: [] };
      remainingOld = hunk.oldLines;
      remainingNew = hunk.newLines;
      continue;
    }
    if (line.startsWith('new file mode')) file.status = 'added';
    else if (line.startsWith('deleted file mode')) file.status = 'deleted';
    else if (line.startsWith('rename from ')) {
      file.status = 'renamed';
      file.oldPath = line.slice('rename from '.length);
    } else if (line.startsWith('rename to ')) file.path = line.slice('rename to '.length);
    else if (line.startsWith('Binary files ') || line.startsWith('GIT binary patch')) file.binary = true;
    else if (line.startsWith('--- ')) {
      const from = stripPrefix(line.slice(4));
      if (from === undefined) file.status = 'added';
      else if (!file.oldPath && from !== file.path) file.oldPath = from;
    } else if (line.startsWith('+++ ')) {
      const to = stripPrefix(line.slice(4));
      if (to === undefined) file.status = 'deleted';
      else file.path = to;
    }
  }
  finishHunk();
  return files;
}

export function hunkId(path: string, lines: readonly string[]): string {
  return sha256Hex(`${path}\n${lines.join('\n')}`);
}

/** Splits text into lines, remembering whether it ended with a newline. */
function splitLines(text: string): { lines: string[]; finalNewline: boolean } {
  if (text === '') return { lines: [], finalNewline: false };
  const finalNewline = text.endsWith('\n');
  const lines = (finalNewline ? text.slice(0, -1) : text).split('\n');
  return { lines, finalNewline };
}

export class HunkDoesNotApplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HunkDoesNotApplyError';
  }
}

/**
 * The file as the attempt left it (`after`) with one hunk undone: its '+' lines go,
 * its '-' lines come back. Checks that the lines are where the hunk says.
 */
export function revertHunk(after: string, hunk: DiffHunk): string {
  const { lines, finalNewline } = splitLines(after);
  const newSide: string[] = [];
  const oldSide: string[] = [];
  let oldNoNewline = false;
  let previous = '';
  for (const line of hunk.lines) {
    const c = line[0];
    const text = line.slice(1);
    if (c === '\\') {
      // "\ No newline at end of file" after a '-' or ' ' line: the old side had none.
      if (previous !== '+') oldNoNewline = true;
      continue;
    }
    previous = c ?? '';
    if (c === ' ') {
      newSide.push(text);
      oldSide.push(text);
    } else if (c === '+') newSide.push(text);
    else if (c === '-') oldSide.push(text);
  }
  const start = hunk.newLines === 0 ? hunk.newStart : hunk.newStart - 1;
  const found = lines.slice(start, start + newSide.length);
  if (found.length !== newSide.length || found.some((l, i) => l !== newSide[i])) {
    throw new HunkDoesNotApplyError(`the file no longer has the hunk's lines at ${hunk.newStart}–${hunk.newStart + Math.max(0, newSide.length - 1)}`);
  }
  const result = [...lines.slice(0, start), ...oldSide, ...lines.slice(start + newSide.length)];
  // Whether the result ends with a newline: the hunk's old side decides when the hunk reaches the end.
  const newline = start + newSide.length >= lines.length ? !oldNoNewline : finalNewline;
  if (result.length === 0) return '';
  return result.join('\n') + (newline ? '\n' : '');
}

/** Conflict regions of a `git merge-file` result, as 1-based line ranges of the merged text. */
export function conflictRegions(merged: string): { from: number; to: number }[] {
  const regions: { from: number; to: number }[] = [];
  let start: number | undefined;
  merged.split('\n').forEach((line, i) => {
    if (line.startsWith('<<<<<<< ')) start = i + 1;
    else if (line.startsWith('>>>>>>> ') && start !== undefined) {
      regions.push({ from: start, to: i + 1 });
      start = undefined;
    }
  });
  return regions;
}
