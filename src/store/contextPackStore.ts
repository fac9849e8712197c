// The context pack's engine-free API for ui/ and engine/: read workspace files,
// hash them, keep their content in the content store and append `context.*` events
// through the RecordStore. The pack itself is core's fold over those events.
//
// Every path comes through resolveInsideWorkspace: an item (or a record pushed by
// anyone) cannot make the extension read outside the workspace.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Actor, EventDraft, FactoryEvent } from '../core/events';
import {
  assessStaleness,
  contextItemId,
  estimateTokens,
  foldContextPack,
  formatRange,
  isDiskBacked,
  normalizeWorkspacePath,
  sha256Hex,
  type ContextItem,
  type ContextPackState,
  type ContextRange,
  type ContextSource,
  type Staleness,
} from '../core/contextPack';
import { renderContextPack, type RenderedContext, type RenderOptions } from '../core/contextRender';
import { REVIEW_FEEDBACK_KIND } from '../core/reviewFeedback';
import type { RecordStore } from './recordStore';
import { resolveInsideWorkspace } from './paths';
import { RecordFs, RecordReadOnlyError } from './recordFs';
import { isChangeId } from '../core/events';
import { getText, type ContentStore } from './contextContent';
import ignore, { type Ignore } from 'ignore';

/** Larger files are refused: a context item is something an agent should read whole. */
export const MAX_ITEM_BYTES = 2 * 1024 * 1024;
const FOLDER_DEFAULTS = { depth: 3, maxEntries: 300 };
/** Never listed in a folder item: version control, dependencies and the record itself. */
const UNLISTED = new Set(['.git', 'node_modules', '.factory']);

/** Bad input from the user or the record: the message names what and where. */
export class ContextInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContextInputError';
  }
}

// ---------------------------------------------------------------------------------
// Reading the workspace

function decodeText(bytes: Uint8Array, rel: string): string {
  if (bytes.subarray(0, 8000).includes(0)) throw new ContextInputError(`${rel} looks binary (it contains NUL bytes); context items hold text.`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ContextInputError(`${rel} is not UTF-8 text; context items hold text.`);
  }
}

/**
 * A path inside the workspace, absolute and as the record keeps it: relative to the
 * root, taken from where it resolves and not from how it was spelled, so that
 * `src/../../<workspace folder>/a.ts` is recorded as `a.ts`, never as a path that climbs
 * out (it would name a file outside in any clone in a folder of another name).
 */
function insideWorkspace(root: string, relPath: string): { absolute: string; rel: string } {
  const absolute = resolveInsideWorkspace(root, relPath);
  return { absolute, rel: path.relative(path.resolve(root), absolute).split(path.sep).join('/') };
}

/** A workspace file's text. Throws ContextInputError (or OutsideWorkspaceError) naming the path. */
export async function readWorkspaceText(root: string, relPath: string): Promise<{ path: string; text: string }> {
  const { absolute, rel } = insideWorkspace(root, relPath);
  let stat;
  try {
    stat = await fs.stat(absolute);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ContextInputError(`${rel}: no such file in the workspace.`);
    throw error;
  }
  if (stat.isDirectory()) throw new ContextInputError(`${rel} is a folder; add it as a folder item.`);
  if (!stat.isFile()) throw new ContextInputError(`${rel} is not a regular file.`);
  if (stat.size > MAX_ITEM_BYTES) throw new ContextInputError(`${rel} is ${stat.size} bytes; context items are limited to ${MAX_ITEM_BYTES} bytes (add a line range instead).`);
  return { path: rel, text: decodeText(await fs.readFile(absolute), rel) };
}

/**
 * The text of a range. Lines are 1-based and inclusive; characters (when given) are
 * 0-based UTF-16 offsets, the end exclusive, as in VS Code. With `strict`, a range
 * past the end of the text is an error; otherwise it yields what is there.
 */
export function sliceRange(text: string, range: ContextRange, where: string, strict = true): string {
  if (range.endLine < range.startLine) throw new ContextInputError(`${where}: range ${formatRange(range)} ends before it starts.`);
  const lines = text.split('\n');
  const lineCount = text.endsWith('\n') ? lines.length - 1 : lines.length;
  if (strict && range.endLine > lineCount) throw new ContextInputError(`${where}: range ${formatRange(range)} is past the end of the file (${lineCount} lines).`);
  const selected = lines.slice(range.startLine - 1, range.endLine);
  if (selected.length === 0) return '';
  const last = selected.length - 1;
  if (range.endCharacter !== undefined) selected[last] = selected[last]!.slice(0, range.endCharacter);
  if (range.startCharacter !== undefined) selected[0] = selected[0]!.slice(range.startCharacter);
  return selected.join('\n');
}

/** One `.gitignore` (or `.git/info/exclude`) and the folder its patterns are relative to. */
interface IgnoreFile {
  base: string;
  rules: Ignore;
}

async function readIgnoreFile(base: string, file: string): Promise<IgnoreFile | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : { base, rules: ignore().add(text) };
}

/**
 * Whether git would ignore `absolute`: the deepest file with a rule about it decides,
 * so a nested `.gitignore` can re-include (`!pattern`) what a parent excluded.
 */
function isGitIgnored(files: readonly IgnoreFile[], absolute: string, isDirectory: boolean): boolean {
  for (let i = files.length - 1; i >= 0; i--) {
    const { base, rules } = files[i]!;
    const rel = path.relative(base, absolute).split(path.sep).join('/');
    if (!rel || rel.startsWith('..')) continue;
    const verdict = rules.test(isDirectory ? `${rel}/` : rel);
    if (verdict.ignored) return true;
    if (verdict.unignored) return false;
  }
  return false;
}

/**
 * A folder's listing as text: paths relative to the folder, folders with a trailing `/`,
 * symbolic links with `@`. What git ignores (`.gitignore` files from the workspace root
 * down, and `.git/info/exclude`) is left out, as are `.git`, `node_modules` and `.factory`:
 * an agent should see the project, not its build output.
 */
export async function listFolder(root: string, relPath: string, options: { depth?: number; maxEntries?: number } = {}): Promise<{ path: string; text: string }> {
  const depth = options.depth ?? FOLDER_DEFAULTS.depth;
  const maxEntries = options.maxEntries ?? FOLDER_DEFAULTS.maxEntries;
  const { absolute, rel: inside } = insideWorkspace(root, relPath);
  const rel = inside || '.';
  const stat = await fs.stat(absolute).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new ContextInputError(`${rel}: no such folder in the workspace.`);
    throw error;
  });
  if (!stat.isDirectory()) throw new ContextInputError(`${rel} is a file; add it as a file item.`);
  // The rules that apply above the listed folder: the repository's exclude file and
  // each .gitignore from the workspace root down to the folder's parent.
  const workspace = path.resolve(root);
  const inherited: IgnoreFile[] = [];
  const exclude = await readIgnoreFile(workspace, path.join(workspace, '.git', 'info', 'exclude'));
  if (exclude) inherited.push(exclude);
  const ancestors = path.relative(workspace, absolute).split(path.sep).filter(Boolean);
  for (let i = 0; i < ancestors.length; i++) {
    const dir = path.join(workspace, ...ancestors.slice(0, i));
    const file = await readIgnoreFile(dir, path.join(dir, '.gitignore'));
    if (file) inherited.push(file);
  }
  const lines: string[] = [];
  const skipped = new Set<string>();
  let ignoredCount = 0;
  let full = false;
  const walk = async (dir: string, prefix: string, level: number, rules: readonly IgnoreFile[]): Promise<void> => {
    const own = await readIgnoreFile(dir, path.join(dir, '.gitignore'));
    const here = own ? [...rules, own] : rules;
    const entries = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (UNLISTED.has(entry.name)) {
        skipped.add(entry.name);
        continue;
      }
      const entryPath = path.join(dir, entry.name);
      if (isGitIgnored(here, entryPath, entry.isDirectory())) {
        ignoredCount++;
        continue;
      }
      if (lines.length >= maxEntries) {
        full = true;
        return;
      }
      // Dirents do not follow links, so a linked folder is listed, never entered.
      const suffix = entry.isDirectory() ? '/' : entry.isSymbolicLink() ? '@' : '';
      lines.push(`${prefix}${entry.name}${suffix}`);
      if (entry.isDirectory() && level + 1 < depth) await walk(entryPath, `${prefix}${entry.name}/`, level + 1, here);
    }
  };
  await walk(absolute, '', 0, inherited);
  if (full) lines.push(`… (listing stopped at ${maxEntries} entries)`);
  if (skipped.size > 0) lines.push(`(not listed: ${[...skipped].sort().join(', ')})`);
  if (ignoredCount > 0) lines.push(`(${ignoredCount} ignored by .gitignore)`);
  return { path: rel, text: `${lines.join('\n')}\n` };
}

/** The content an item would have if it were taken from the workspace now. */
async function currentContent(root: string, item: ContextItem): Promise<string> {
  const source = item.source;
  if (!source.path) throw new ContextInputError(`Item ${item.id} (${item.kind}) has no workspace path.`);
  if (item.kind === 'folder') return (await listFolder(root, source.path, folderOptions(source))).text;
  const { text } = await readWorkspaceText(root, source.path);
  return source.range ? sliceRange(text, source.range, source.path, false) : text;
}

function folderOptions(source: ContextSource): { depth?: number; maxEntries?: number } {
  return {
    ...(typeof source.depth === 'number' ? { depth: source.depth } : {}),
    ...(typeof source.maxEntries === 'number' ? { maxEntries: source.maxEntries } : {}),
  };
}

/**
 * The current content hash of each disk-backed item, or null when it can no longer be
 * read (deleted, unreadable, escapes the workspace). Other items are not in the map.
 */
export async function currentHashes(root: string, items: readonly ContextItem[]): Promise<Map<string, string | null>> {
  const hashes = new Map<string, string | null>();
  await Promise.all(
    items.filter(isDiskBacked).map(async (item) => {
      try {
        hashes.set(item.id, sha256Hex(await currentContent(root, item)));
      } catch {
        hashes.set(item.id, null);
      }
    }),
  );
  return hashes;
}

/** Ids of the items whose content on disk no longer matches the pack (changed or gone). */
export async function checkStaleness(root: string, pack: Pick<ContextPackState, 'items'>): Promise<string[]> {
  return assessStaleness(pack.items, await currentHashes(root, pack.items)).items.map((s) => s.itemId);
}

// ---------------------------------------------------------------------------------
// Project conventions

export interface ConventionFile {
  path: string;
  bytes: number;
}

export interface DetectedConvention {
  /** The file or folder, workspace-relative. */
  path: string;
  /** The tool that reads it. */
  tool: string;
  kind: 'file' | 'folder';
  /** Total size of its files. */
  bytes: number;
  /** The file itself, or the folder's files (recursively), sorted. */
  files: ConventionFile[];
  /** Set when it exists but cannot be offered, e.g. a link leading outside the workspace. */
  problem?: string;
}

export const PROMOTED_LESSONS_FILE = '.factory/conventions.md';

export const CONVENTION_LOCATIONS: readonly { path: string; tool: string; kind: 'file' | 'folder' }[] = [
  { path: 'AGENTS.md', tool: 'AGENTS.md (many agents)', kind: 'file' },
  { path: 'CLAUDE.md', tool: 'Claude Code', kind: 'file' },
  { path: '.github/copilot-instructions.md', tool: 'GitHub Copilot', kind: 'file' },
  { path: '.cursorrules', tool: 'Cursor (legacy rules file)', kind: 'file' },
  { path: '.cursor/rules', tool: 'Cursor', kind: 'folder' },
  { path: '.kiro/steering', tool: 'Kiro', kind: 'folder' },
  // Where the lead's promoted lessons go by default (in .factory/: no verified result goes stale).
  { path: PROMOTED_LESSONS_FILE, tool: 'Factory Cockpit (promoted lessons)', kind: 'file' },
];

/** Which convention files and folders exist in the workspace, for the UI to offer. */
export async function detectConventions(root: string): Promise<DetectedConvention[]> {
  const found: DetectedConvention[] = [];
  for (const location of CONVENTION_LOCATIONS) {
    const base = { path: location.path, tool: location.tool, kind: location.kind };
    let stat;
    try {
      stat = await fs.stat(resolveInsideWorkspace(root, location.path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      found.push({ ...base, bytes: 0, files: [], problem: (error as Error).message });
      continue;
    }
    if (location.kind === 'file') {
      if (stat.isFile()) found.push({ ...base, bytes: stat.size, files: [{ path: location.path, bytes: stat.size }] });
      continue;
    }
    if (!stat.isDirectory()) continue;
    const files = await filesUnder(root, location.path, 4);
    found.push({ ...base, bytes: files.reduce((sum, f) => sum + f.bytes, 0), files });
  }
  return found;
}

async function filesUnder(root: string, relDir: string, depth: number): Promise<ConventionFile[]> {
  const files: ConventionFile[] = [];
  const entries = await fs.readdir(resolveInsideWorkspace(root, relDir), { withFileTypes: true });
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = `${relDir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (depth > 1) files.push(...(await filesUnder(root, rel, depth - 1)));
      continue;
    }
    try {
      // A linked rule file is offered only when it stays inside the workspace.
      const stat = await fs.stat(resolveInsideWorkspace(root, rel));
      if (stat.isFile()) files.push({ path: rel, bytes: stat.size });
    } catch {
      // Unreadable or leading outside: not offered.
    }
  }
  return files;
}

// ---------------------------------------------------------------------------------
// The API

export interface ContextPackStoreDeps {
  records: RecordStore;
  content: ContentStore;
  /** Who makes the edits (e.g. the git identity); recorded as each event's `by`. */
  actor?: Actor;
}

export interface PackEdit {
  /** The pack after the edit. */
  pack: ContextPackState;
  /** False when the edit changed nothing (e.g. the same file added again unchanged); no event was written then. */
  changed: boolean;
  /** The item added, refreshed or otherwise touched. */
  itemIds: string[];
  events: FactoryEvent[];
}

interface Snapshot {
  events: FactoryEvent[];
  pack: ContextPackState;
}

interface NewItem {
  kind: string;
  title: string;
  source: ContextSource;
  content: string;
  pinned?: boolean;
  mediaType?: string;
  name: string;
}

export interface AddOptions {
  title?: string;
  pinned?: boolean;
  /** The stage the edit is made for, kept in the pack's history. */
  stageId?: string;
}

export class ContextPackStore {
  constructor(private readonly deps: ContextPackStoreDeps) {}

  get workspaceRoot(): string {
    return this.deps.records.workspaceRoot;
  }

  async load(changeId: string): Promise<ContextPackState> {
    return (await this.snapshot(changeId)).pack;
  }

  /** The change's events and their pack; each edit reads the record once. */
  private async snapshot(changeId: string): Promise<Snapshot> {
    const { events } = await this.deps.records.readChange(changeId);
    return { events, pack: foldContextPack(events) };
  }

  /** A whole file, or a line range of it (1-based, inclusive). */
  async addFileItem(changeId: string, input: AddOptions & { path: string; range?: { startLine: number; endLine: number } }): Promise<PackEdit> {
    const { path: rel, text } = await readWorkspaceText(this.workspaceRoot, input.path);
    const range = input.range ? { startLine: input.range.startLine, endLine: input.range.endLine } : undefined;
    const content = range ? sliceRange(text, checkedRange(range, rel), rel) : text;
    return this.addItem(changeId, input, {
      kind: 'file',
      title: input.title ?? (range ? `${rel}#${formatRange(range)}` : rel),
      source: { path: rel, ...(range ? { range } : {}), origin: 'user' },
      content,
      name: path.posix.basename(rel),
    });
  }

  /**
   * The editor selection: its text as the editor has it (possibly unsaved), kept
   * verbatim. Staleness compares it with the same range on disk.
   */
  async addSelectionItem(changeId: string, input: AddOptions & { path: string; range: ContextRange; text: string }): Promise<PackEdit> {
    const { rel } = insideWorkspace(this.workspaceRoot, input.path);
    const range = checkedRange(input.range, rel);
    return this.addItem(changeId, input, {
      kind: 'selection',
      title: input.title ?? `${rel}#${formatRange(range)}`,
      source: { path: rel, range, origin: 'editor' },
      content: input.text,
      name: path.posix.basename(rel),
    });
  }

  async addFolderItem(changeId: string, input: AddOptions & { path: string; depth?: number; maxEntries?: number }): Promise<PackEdit> {
    const listing = await listFolder(this.workspaceRoot, input.path, input);
    return this.addItem(changeId, input, {
      kind: 'folder',
      title: input.title ?? `${listing.path === '.' ? '(workspace)' : listing.path}/`,
      source: {
        path: listing.path,
        origin: 'user',
        depth: input.depth ?? FOLDER_DEFAULTS.depth,
        maxEntries: input.maxEntries ?? FOLDER_DEFAULTS.maxEntries,
      },
      content: listing.text,
      name: 'listing.txt',
    });
  }

  async addNote(changeId: string, input: AddOptions & { text: string }): Promise<PackEdit> {
    return this.addText(changeId, 'note', input, 'note.md');
  }

  /** The ticket or description of the change; a pack has one, adding it again replaces it. */
  async addTicket(changeId: string, input: AddOptions & { text: string }): Promise<PackEdit> {
    return this.addText(changeId, 'ticket', { ...input, title: input.title ?? 'Ticket' }, 'ticket.md');
  }

  async addLesson(changeId: string, input: AddOptions & { text: string }): Promise<PackEdit> {
    return this.addText(changeId, 'lesson', input, 'lesson.md');
  }

  /**
   * A reviewer's feedback for `stageId`'s next run (core/reviewFeedback.ts): one pinned
   * item per pack, replaced by the next feedback, removed once that stage hands off.
   */
  async setReviewFeedback(changeId: string, input: { stageId: string; text: string }): Promise<PackEdit> {
    return this.addItem(changeId, { pinned: true, stageId: input.stageId }, {
      kind: REVIEW_FEEDBACK_KIND,
      title: `Review feedback for ${input.stageId}`,
      source: { stageId: input.stageId, origin: 'review' },
      content: input.text,
      name: 'review-feedback.md',
      mediaType: 'text/markdown',
    });
  }

  /** Removes the review feedback addressed to `stageId` (its run had it), if there is any. */
  async dropReviewFeedback(changeId: string, stageId: string): Promise<PackEdit | undefined> {
    const before = await this.snapshot(changeId);
    const item = before.pack.items.find((i) => i.kind === REVIEW_FEEDBACK_KIND && i.source.stageId === stageId);
    if (!item) return undefined;
    return this.appendAll(changeId, [{ type: 'context.itemRemoved', data: { itemId: item.id, stageId } }], [item.id], before);
  }

  /**
   * Convention files as items, one per file (a rules folder gives one item per rule
   * file). `paths` names detected files or folders; all detected ones when absent.
   */
  async addConventionItems(changeId: string, input: AddOptions & { paths?: readonly string[] } = {}): Promise<PackEdit> {
    const detected = await detectConventions(this.workspaceRoot);
    const wanted = input.paths?.map(normalizeWorkspacePath);
    const unknown = wanted?.filter((p) => !detected.some((d) => d.path === p || d.files.some((f) => f.path === p)));
    if (unknown && unknown.length > 0) throw new ContextInputError(`Not a detected convention file or folder: ${unknown.join(', ')}.`);
    const files = detected
      .filter((d) => !d.problem)
      .flatMap((d) => (wanted && !wanted.includes(d.path) ? d.files.filter((f) => wanted.includes(f.path)) : d.files));
    let current = await this.snapshot(changeId);
    const result: PackEdit = { pack: current.pack, changed: false, itemIds: [], events: [] };
    for (const file of files) {
      const { path: rel, text } = await readWorkspaceText(this.workspaceRoot, file.path);
      const edit = await this.addItem(changeId, { pinned: input.pinned, stageId: input.stageId }, {
        kind: 'convention',
        title: rel,
        source: { path: rel, origin: 'convention' },
        content: text,
        name: path.posix.basename(rel),
      }, current);
      current = { events: [...current.events, ...edit.events], pack: edit.pack };
      result.pack = edit.pack;
      result.changed ||= edit.changed;
      result.itemIds.push(...edit.itemIds);
      result.events.push(...edit.events);
    }
    return result;
  }

  /**
   * A stage's output (plan, test report…), added at its handoff: a workspace file
   * (`path`) or text the stage produced (`text` + `name`). The same output of a later
   * attempt of the stage refreshes the item.
   */
  async addStageOutput(
    changeId: string,
    input: AddOptions & { stageId: string; attemptId?: string } & ({ path: string; text?: undefined; name?: string } | { text: string; name: string; path?: undefined }),
  ): Promise<PackEdit> {
    const options = { ...input, pinned: input.pinned };
    if (input.path !== undefined) {
      const { path: rel, text } = await readWorkspaceText(this.workspaceRoot, input.path);
      return this.addItem(changeId, options, {
        kind: 'stageOutput',
        title: input.title ?? `${input.stageId}: ${input.name ?? rel}`,
        source: { path: rel, stageId: input.stageId, ...(input.attemptId ? { attemptId: input.attemptId } : {}), origin: 'handoff' },
        content: text,
        name: input.name ?? path.posix.basename(rel),
      });
    }
    if (!input.name?.trim()) throw new ContextInputError(`A stage output given as text needs a name (stage ${input.stageId}).`);
    return this.addItem(changeId, options, {
      kind: 'stageOutput',
      title: input.title ?? `${input.stageId}: ${input.name}`,
      // The name makes the item: the same output of a later attempt refreshes it.
      source: { stageId: input.stageId, ...(input.attemptId ? { attemptId: input.attemptId } : {}), origin: input.name },
      content: input.text,
      name: input.name,
    });
  }

  async removeItem(changeId: string, itemId: string, options: { stageId?: string } = {}): Promise<PackEdit> {
    const before = await this.snapshot(changeId);
    requireItem(before.pack, changeId, itemId);
    return this.appendAll(changeId, [{ type: 'context.itemRemoved', data: { itemId, ...stage(options) } }], [itemId], before);
  }

  /** `order`: item ids, most important first. Ids left out keep their relative order after the named ones. */
  async reorder(changeId: string, order: readonly string[], options: { stageId?: string } = {}): Promise<PackEdit> {
    const before = await this.snapshot(changeId);
    const unknown = order.filter((id) => !before.pack.items.some((item) => item.id === id));
    if (unknown.length > 0) throw new ContextInputError(`Cannot reorder: no item ${unknown.join(', ')} in the context pack of ${changeId}.`);
    return this.appendAll(changeId, [{ type: 'context.itemsReordered', data: { order: [...order], ...stage(options) } }], [...order], before);
  }

  /** Pinned items are cut last when the pack is rendered within a budget. */
  async pin(changeId: string, itemId: string, pinned = true, options: { stageId?: string } = {}): Promise<PackEdit> {
    const before = await this.snapshot(changeId);
    const item = requireItem(before.pack, changeId, itemId);
    if (item.pinned === pinned) return { pack: before.pack, changed: false, itemIds: [itemId], events: [] };
    return this.appendAll(changeId, [{ type: 'context.itemPinned', data: { itemId, pinned, ...stage(options) } }], [itemId], before);
  }

  /** Takes a disk-backed item's content from the workspace again (a new version when it changed). */
  async refreshItem(changeId: string, itemId: string, options: { stageId?: string } = {}): Promise<PackEdit> {
    const before = await this.snapshot(changeId);
    const pack = before.pack;
    const item = requireItem(pack, changeId, itemId);
    if (!isDiskBacked(item)) throw new ContextInputError(`Item "${item.title}" is a ${item.kind} with no workspace file; only items read from the workspace can be refreshed.`);
    let content: string;
    if (item.kind === 'folder') content = (await listFolder(this.workspaceRoot, item.source.path, folderOptions(item.source))).text;
    else {
      const { text } = await readWorkspaceText(this.workspaceRoot, item.source.path);
      content = item.source.range ? sliceRange(text, item.source.range, item.source.path) : text;
    }
    const hash = sha256Hex(content);
    if (hash === item.contentHash) return { pack, changed: false, itemIds: [itemId], events: [] };
    const ref = await this.store(content, item.content.name, item.content.mediaType);
    return this.appendAll(
      changeId,
      [{ type: 'context.itemRefreshed', data: { itemId, contentHash: hash, tokens: estimateTokens(content), content: ref, ...stage(options) } }],
      [itemId],
      before,
    );
  }

  /** Staleness of the pack as it is now. */
  async checkStaleness(changeId: string): Promise<Staleness & { pack: ContextPackState }> {
    const pack = await this.load(changeId);
    return { pack, ...assessStaleness(pack.items, await currentHashes(this.workspaceRoot, pack.items)) };
  }

  /** Each item's stored content; an item whose content is missing or altered is left out of the map (and so cut, with that reason, when rendered). */
  async loadContents(items: readonly ContextItem[]): Promise<{ contents: Map<string, string>; problems: { itemId: string; message: string }[] }> {
    const contents = new Map<string, string>();
    const problems: { itemId: string; message: string }[] = [];
    await Promise.all(
      items.map(async (item) => {
        try {
          contents.set(item.id, await getText(this.deps.content, item.content));
        } catch (error) {
          problems.push({ itemId: item.id, message: (error as Error).message });
        }
      }),
    );
    return { contents, problems };
  }

  /** Renders the pack (or the given items, e.g. those of an earlier version) for an agent. */
  async render(changeId: string, options: RenderOptions & { items?: readonly ContextItem[] } = {}): Promise<RenderedContext & { version: string }> {
    const pack = options.items ? undefined : await this.load(changeId);
    const items = options.items ?? pack!.items;
    const { contents } = await this.loadContents(items);
    const rendered = renderContextPack(items, contents, { ...options, ...(pack ? { version: options.version ?? pack.version } : {}) });
    return { ...rendered, version: options.version ?? pack?.version ?? '' };
  }

  /**
   * Writes rendered context as a file the agent can read:
   * `.factory/changes/<change>/context/<sha256 of the text, 16 hex>.md`, write-once
   * (the same text is the same file). Returns its workspace-relative path.
   */
  async writeContextFile(changeId: string, text: string): Promise<string> {
    if (!isChangeId(changeId)) throw new ContextInputError(`"${String(changeId).slice(0, 80)}" is not a change id.`);
    const records = this.deps.records as RecordStore & { isWritable?: () => boolean };
    if (records.isWritable && !records.isWritable()) throw new RecordReadOnlyError(`write the context file of change "${changeId}"`);
    const rel = `${this.relativeFactoryDir()}/changes/${changeId}/context/${sha256Hex(text).slice(0, 16)}.md`;
    const file = resolveInsideWorkspace(this.workspaceRoot, rel);
    // Every part of the path is checked: a link at any level (the file included) is
    // refused with UnsafeRecordPathError, never followed (see recordFs.ts). A file
    // already there is kept only when it holds this very text: an agent is never handed
    // a context file someone altered; an altered one is replaced atomically.
    const fsx = new RecordFs(this.workspaceRoot);
    const current = await fsx.readFile(file, Buffer.byteLength(text) + 1);
    if (Buffer.isBuffer(current) && current.toString('utf8') === text) return rel;
    await fsx.writeReplacing(file, text);
    return rel;
  }

  private relativeFactoryDir(): string {
    return path.relative(this.workspaceRoot, this.deps.records.factoryDir).split(path.sep).join('/');
  }

  private async addText(changeId: string, kind: 'note' | 'ticket' | 'lesson', input: AddOptions & { text: string }, name: string): Promise<PackEdit> {
    if (!input.text.trim()) throw new ContextInputError(`A ${kind} needs some text.`);
    const firstLine = input.text.trim().split('\n')[0]!.trim();
    return this.addItem(changeId, input, {
      kind,
      title: input.title ?? (firstLine.length > 60 ? `${firstLine.slice(0, 59)}…` : firstLine),
      source: { origin: 'user' },
      content: input.text,
      name,
      mediaType: 'text/markdown',
    });
  }

  /** Stores the content, then appends itemAdded, or itemRefreshed when the item is there with other content. */
  private async addItem(changeId: string, options: AddOptions, input: NewItem, current?: Snapshot): Promise<PackEdit> {
    const contentHash = sha256Hex(input.content);
    const id = contextItemId(input.kind, input.source, contentHash);
    const before = current ?? (await this.snapshot(changeId));
    const pack = before.pack;
    const existing = pack.items.find((item) => item.id === id);
    if (existing && existing.contentHash === contentHash) return { pack, changed: false, itemIds: [id], events: [] };
    // Content first, so an event never names content the store does not have.
    const ref = await this.store(input.content, input.name, input.mediaType);
    const tokens = estimateTokens(input.content);
    if (existing) {
      return this.appendAll(
        changeId,
        [{ type: 'context.itemRefreshed', data: { itemId: id, contentHash, tokens, content: ref, title: input.title, source: input.source, ...stage(options) } }],
        [id],
        before,
      );
    }
    const item: ContextItem = { id, kind: input.kind, title: input.title, source: input.source, contentHash, tokens, content: ref, pinned: options.pinned === true };
    return this.appendAll(changeId, [{ type: 'context.itemAdded', data: { item, ...stage(options) } }], [id], before);
  }

  private async store(content: string, name: string, mediaType = 'text/plain; charset=utf-8') {
    const ref = await this.deps.content.put(content, { name, mediaType });
    const expected = sha256Hex(content);
    if (ref.sha256 !== expected) throw new Error(`The content store returned hash ${ref.sha256} for content that hashes to ${expected}.`);
    return ref;
  }

  private async appendAll(changeId: string, drafts: EventDraft[], itemIds: string[], before: Snapshot): Promise<PackEdit> {
    const events: FactoryEvent[] = [];
    for (const draft of drafts) events.push(await this.deps.records.append(changeId, { ...draft, ...(this.deps.actor ? { by: this.deps.actor } : {}) } as EventDraft));
    // The events read before plus ours: an edit another window made meanwhile shows at the next load.
    return { pack: foldContextPack([...before.events, ...events]), changed: true, itemIds, events };
  }
}

function requireItem(pack: ContextPackState, changeId: string, itemId: string): ContextItem {
  const item = pack.items.find((i) => i.id === itemId);
  if (!item) throw new ContextInputError(`No item ${itemId} in the context pack of ${changeId}.`);
  return item;
}

function stage(options: { stageId?: string }): { stageId?: string } {
  return options.stageId ? { stageId: options.stageId } : {};
}

function checkedRange<R extends { startLine: number; endLine: number }>(range: R, where: string): R {
  const ok = Number.isInteger(range.startLine) && Number.isInteger(range.endLine) && range.startLine >= 1 && range.endLine >= range.startLine;
  if (!ok) throw new ContextInputError(`${where}: lines ${range.startLine}–${range.endLine} are not a range (lines are 1-based, the end not before the start).`);
  return range;
}
