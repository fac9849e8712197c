// A lesson promoted into the project's conventions reaches the work in flight: its line
// goes into the conventions file through the record's filesystem layer (atomic, never
// through a link), and every open change's context pack takes that file again, so the
// next stage's prompt carries the lesson. The signal counts such a refresh as handed
// off, not re-created (core/signal.ts).
import * as path from 'node:path';
import { normalizeWorkspacePath } from '../core/contextPack';
import { CONVENTION_LOCATIONS, PROMOTED_LESSONS_FILE, type ContextPackStore } from '../store/contextPackStore';
import { RecordFs } from '../store/recordFs';
import { resolveInsideWorkspace } from '../store/paths';

const HEADER = '# Project conventions\n\nLessons the team promoted from its own failures (Factory Cockpit).\n\n';
const MAX_CONVENTIONS_BYTES = 1024 * 1024;

export { PROMOTED_LESSONS_FILE };

/** Adds the lesson as a line of `target` unless it is there already; true when the file changed. */
export async function writeLessonLine(root: string, target: string, text: string): Promise<boolean> {
  const file = resolveInsideWorkspace(root, target);
  const fsx = new RecordFs(root);
  const bytes = await fsx.readFile(file, MAX_CONVENTIONS_BYTES);
  if (typeof bytes === 'number') throw new Error(`${target} is ${bytes} bytes; a conventions file is limited to ${MAX_CONVENTIONS_BYTES} bytes.`);
  const existing = bytes?.toString('utf8');
  const line = `- ${text.replace(/\s+/g, ' ').trim()}\n`;
  if (existing?.split(/(?<=\n)/).includes(line)) return false;
  const base = existing === undefined ? HEADER : existing.endsWith('\n') || existing === '' ? existing : `${existing}\n`;
  await fsx.writeReplacing(file, `${base}${line}`);
  return true;
}

/** Whether `target` is a file the context pack takes as a convention (a listed file, or one inside a listed folder). */
export function isConventionFile(target: string): boolean {
  const rel = normalizeWorkspacePath(target);
  return CONVENTION_LOCATIONS.some((l) => (l.kind === 'file' ? l.path === rel : rel.startsWith(`${l.path}/`)));
}

/**
 * Each open change's pack takes `target` again (added, or refreshed when it holds an
 * older text). Returns the changes whose pack changed, and those that could not be
 * updated with why (one broken record does not stop the others).
 */
export async function carryIntoOpenPacks(
  context: ContextPackStore,
  openChangeIds: readonly string[],
  target: string,
): Promise<{ refreshed: string[]; failed: { changeId: string; message: string }[]; }> {
  const refreshed: string[] = [];
  const failed: { changeId: string; message: string }[] = [];
  if (!isConventionFile(target)) return { refreshed, failed };
  const rel = normalizeWorkspacePath(target);
  for (const changeId of openChangeIds) {
    try {
      const edit = await context.addConventionItems(changeId, { paths: [rel], pinned: true });
      if (edit.changed) refreshed.push(changeId);
    } catch (error) {
      failed.push({ changeId, message: error instanceof Error ? error.message : String(error) });
    }
  }
  return { refreshed, failed };
}

/** The promoted text never changes the tree when it stays in `.factory/`. */
export function changesTree(target: string): boolean {
  return !normalizeWorkspacePath(target).startsWith(`${path.posix.dirname(PROMOTED_LESSONS_FILE)}/`);
}
