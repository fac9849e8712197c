// The on-disk record under .factory/. The layout is chosen so that hardening never
// changes callers and git merges never conflict:
//   .factory/pipeline.json                          the pipeline definition
//   .factory/changes/<change>/events/<ULID>.json    one immutable file per event
//   .factory/evidence/ab/cdef…                      evidence by sha256 (evidence.ts)
//   .factory/quarantine/…                           files that failed validation, set aside
//   .factory/.cache/index.json                      derived summary index (summaryIndex.ts)
//   .factory/.gitignore                             cache, locks and temp files stay out of git
//
// Why two writers at once never lose or duplicate an event:
// - Each event is its own file, named by its id, so writers never share a file: there is
//   no read-modify-write and nothing to lock.
// - The file is created exclusively (temp file, fsync, link(2) to the final name, which
//   fails rather than overwrite; see atomicFile.ts). An id is therefore never overwritten;
//   on the astronomically unlikely collision the writer takes a new id and retries.
// - Ids are ULIDs from one monotonic factory per process: strictly increasing within a
//   process even within one millisecond or when the clock steps back, and 80 random bits
//   apart between processes.
// - A reader lists the folder and takes only `<ULID>.json`: temp files (a writer midway, or
//   one killed midway) are ignored, and a final name only ever appears with its full
//   content. A process killed at any instant leaves the event whole or absent.
// Why git merges never conflict, and the merged history is totally ordered:
// - Two branches that extend one change add different files (different ids), which git
//   merges without a conflict. The fold orders events by id: ULIDs sort by time, then by
//   their random part, and file names make ids unique within a change, so the order is
//   total and the same on every machine. Clocks drift, so events that depend on another
//   name it (an attempt's finish names its attempt id) and the fold tolerates either order.
import { promises as fs, constants as fsConstants, statSync, openSync, fstatSync, readFileSync, closeSync, type Dirent } from 'node:fs';
import * as path from 'node:path';
import { monotonicFactory } from 'ulid';
import { defaultPipeline, PipelineSchema, type Pipeline } from '../core/pipeline';
import { ChangeIdSchema, EVENT_SCHEMA_VERSION, EventPayloads, firstIssue, type EventDraft, type FactoryEvent } from '../core/events';
import { parseJsonSafely, slugify } from '../core/json';
import { compareEvents, foldChange } from '../core/fold';
import { AlreadyExistsError, createFileExclusive, isTempName, writeFileReplacing } from './atomicFile';
import { checkEventFileName, checkEventFileSize, parseEventText, printable, type FileProblem } from './eventFile';
import { EVENT_MIGRATIONS, type MigrationRegistry } from './migrations';
import { FileEvidenceStore } from './evidence';
import { ensureFactoryGitignore } from './gitignorePolicy';
import { isWithin, OutsideWorkspaceError } from './paths';
import { decodeIndex, encodeIndex, isEntryFresh, pipelineHash, summarize, type ChangeSummary, type IndexEntry } from './summaryIndex';

export interface RecordProblem {
  /** Workspace-relative path of the file. */
  path: string;
  /** The failing field, dotted; empty when the file as a whole is unreadable. */
  field: string;
  message: string;
  /** Where the file was moved, workspace-relative, when it was set aside. */
  quarantinedTo?: string;
}

export interface ChangeRecord {
  changeId: string;
  events: FactoryEvent[];
  problems: RecordProblem[];
}

export interface PipelineLoad {
  pipeline?: Pipeline;
  problems: RecordProblem[];
  /** True when the file did not exist and the default was written. */
  created: boolean;
}

/** The record's interface; callers (engine, ui, cli) depend on this only. */
export interface RecordStore {
  readonly workspaceRoot: string;
  readonly factoryDir: string;
  readonly pipelinePath: string;
  /** Reads pipeline.json, writing the default pipeline first when there is none. */
  loadPipeline(options?: { createIfMissing?: boolean }): Promise<PipelineLoad>;
  listChangeIds(): Promise<string[]>;
  readChange(changeId: string): Promise<ChangeRecord>;
  append(changeId: string, draft: EventDraft): Promise<FactoryEvent>;
  newChangeId(title: string): string;
}

export interface SummaryLoad {
  summaries: ChangeSummary[];
  problems: RecordProblem[];
  /** How many changes were re-read and folded because their index entry was missing or stale. */
  refolded: number;
  /** The pipeline the statuses were folded with (absent when pipeline.json is invalid). */
  pipeline?: Pipeline;
}

/** The derived index: a summary per change without folding every event. */
export interface SummaryPort {
  summaries(): Promise<SummaryLoad>;
}

export interface FileRecordStoreOptions {
  now?: () => Date;
  /** Called once per problem found, e.g. to log it. */
  onProblem?: (problem: RecordProblem) => void;
  /** Migrations applied to event files of older versions on read. */
  migrations?: MigrationRegistry;
}

export class InvalidChangeIdError extends Error {
  constructor(readonly changeId: string) {
    super(`"${printable(changeId)}" is not a change id (lowercase letters, digits and dashes, at most 80).`);
    this.name = 'InvalidChangeIdError';
  }
}

// One factory per process, shared by every store: ids stay strictly increasing even
// when a window holds two stores of one workspace.
const nextUlid = monotonicFactory();

/** How many changes are summarised at once. */
const READ_CONCURRENCY = 16;
/** Event files read between two yields to the event loop (~ a few ms of work). */
const SYNC_READ_SLICE = 256;

export class FileRecordStore implements RecordStore, SummaryPort {
  readonly factoryDir: string;
  readonly pipelinePath: string;
  readonly indexPath: string;
  /** The decoded index and the identity of the file it came from (inode, size, mtime). */
  private lastIndex: { identity: string; hash: string; entries: ReadonlyMap<string, IndexEntry> } | undefined;
  readonly evidence: FileEvidenceStore;
  private readonly now: () => Date;
  private readonly onProblem: (problem: RecordProblem) => void;
  private readonly migrations: MigrationRegistry;
  private gitignoreEnsured = false;

  constructor(
    readonly workspaceRoot: string,
    options: FileRecordStoreOptions = {},
  ) {
    this.factoryDir = path.join(workspaceRoot, '.factory');
    this.pipelinePath = path.join(this.factoryDir, 'pipeline.json');
    this.indexPath = path.join(this.factoryDir, '.cache', 'index.json');
    this.evidence = new FileEvidenceStore(workspaceRoot, this.factoryDir);
    this.now = options.now ?? (() => new Date());
    this.onProblem = options.onProblem ?? (() => undefined);
    this.migrations = options.migrations ?? EVENT_MIGRATIONS;
  }

  async loadPipeline(options: { createIfMissing?: boolean } = {}): Promise<PipelineLoad> {
    let text: string;
    try {
      await this.assertFactoryInside();
      text = await fs.readFile(this.pipelinePath, 'utf8');
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const pipeline = defaultPipeline();
      if (options.createIfMissing === false) return { pipeline, problems: [], created: false };
      await this.prepareForWriting();
      await writeFileReplacing(this.pipelinePath, `${JSON.stringify(pipeline, null, 2)}\n`);
      return { pipeline, problems: [], created: true };
    }
    const rel = this.relative(this.pipelinePath);
    let parsed: ReturnType<typeof parseJsonSafely>;
    try {
      parsed = parseJsonSafely(text);
    } catch (error) {
      return { problems: [this.report({ path: rel, field: '', message: `is not valid JSON: ${(error as Error).message}` })], created: false };
    }
    // pipeline.json is the user's own file: it is reported, never moved aside.
    if (parsed.droppedKeys.length > 0) {
      return { problems: [this.report({ path: rel, field: parsed.droppedKeys[0]!, message: 'has a prototype-polluting key' })], created: false };
    }
    const result = PipelineSchema.safeParse(parsed.value);
    if (!result.success) {
      const issue = firstIssue(result.error);
      return { problems: [this.report({ path: rel, field: issue.field, message: issue.message })], created: false };
    }
    return { pipeline: result.data, problems: [], created: false };
  }

  async listChangeIds(): Promise<string[]> {
    await this.assertFactoryInside();
    let entries: Dirent[];
    try {
      entries = await fs.readdir(path.join(this.factoryDir, 'changes'), { withFileTypes: true });
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const ids: string[] = [];
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      if (entry.isDirectory() && ChangeIdSchema.safeParse(entry.name).success) ids.push(entry.name);
      else {
        const rel = this.relative(path.join(this.factoryDir, 'changes', entry.name));
        const why = entry.isSymbolicLink() ? 'is a symbolic link, not a change folder' : entry.isDirectory() ? 'is not a valid change id' : 'is not a change folder';
        const problem: RecordProblem = { path: rel, field: '', message: why };
        problem.quarantinedTo = await this.quarantine(rel);
        this.report(problem);
      }
    }
    return ids.sort();
  }

  async readChange(changeId: string): Promise<ChangeRecord> {
    const dir = this.eventsDir(changeId);
    await this.assertInsideWorkspace(dir);
    let entries: Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isNotFound(error)) return { changeId, events: [], problems: [] };
      throw error;
    }
    const found: Array<{ name: string; problem?: FileProblem }> = [];
    for (const entry of entries) {
      if (isTempName(entry.name)) continue;
      if (entry.isSymbolicLink()) found.push({ name: entry.name, problem: { field: '', message: 'is a symbolic link; event files must be regular files' } });
      else if (!entry.isFile()) found.push({ name: entry.name, problem: { field: '', message: 'is not a regular file' } });
      else found.push({ name: entry.name, problem: checkEventFileName(entry.name) });
    }
    const results: Array<{ name: string; event?: FactoryEvent; problem?: FileProblem } | undefined> = [];
    for (let i = 0; i < found.length; i++) {
      // Small files are read synchronously (a thread-pool round trip per file costs
      // several times the read itself), in slices that yield to the event loop.
      if (i > 0 && i % SYNC_READ_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
      const { name, problem } = found[i]!;
      if (problem) {
        results.push({ name, problem });
        continue;
      }
      const read = readSmallFileSync(path.join(dir, name));
      if (read === 'gone') continue; // moved away meanwhile (another reader quarantined it, a checkout)
      if (typeof read === 'number') results.push({ name, problem: checkEventFileSize(read)! });
      else results.push({ name, ...parseEventText(changeId, name, read, this.migrations) });
    }
    const events: FactoryEvent[] = [];
    const problems: RecordProblem[] = [];
    for (const result of results) {
      if (!result) continue;
      if ('event' in result && result.event) events.push(result.event);
      else if ('problem' in result && result.problem) problems.push({ path: this.relative(path.join(dir, result.name)), ...result.problem });
    }
    for (const problem of problems) {
      problem.quarantinedTo = await this.quarantine(problem.path);
      this.report(problem);
    }
    events.sort(compareEvents);
    return { changeId, events, problems };
  }

  async append(changeId: string, draft: EventDraft): Promise<FactoryEvent> {
    const dir = this.eventsDir(changeId);
    await this.prepareForWriting();
    await fs.mkdir(dir, { recursive: true });
    await this.assertInsideWorkspace(dir);
    const now = this.now();
    const data = EventPayloads[draft.type].parse(draft.data);
    for (let attempt = 0; ; attempt++) {
      const event = {
        v: EVENT_SCHEMA_VERSION,
        id: nextUlid(now.getTime()),
        change: changeId,
        type: draft.type,
        at: now.toISOString(),
        ...(draft.by ? { by: draft.by } : {}),
        data,
      } as FactoryEvent;
      try {
        await createFileExclusive(path.join(dir, `${event.id}.json`), `${JSON.stringify(event, null, 2)}\n`);
        return event;
      } catch (error) {
        // Only a colliding id (another process, same millisecond, same 80 random bits) retries.
        if (!(error instanceof AlreadyExistsError) || attempt >= 5) throw error;
      }
    }
  }

  newChangeId(title: string): string {
    // Readable in a file list, unique without coordination: slug + the ULID's random tail.
    return `${slugify(title)}-${nextUlid(this.now().getTime()).slice(-6).toLowerCase()}`;
  }

  /**
   * A summary per change from the index, re-reading and folding only changes whose
   * entry is missing or stale, then saving the index. Stage statuses are those of a
   * fold without the current tree (no staleness against the working tree); fold the
   * change itself for that.
   */
  async summaries(): Promise<SummaryLoad> {
    const { pipeline, problems } = await this.loadPipeline({ createIfMissing: false });
    if (!pipeline) return { summaries: [], problems, refolded: 0 };
    const hash = pipelineHash(pipeline);
    const previous = await this.readIndex(hash);
    const ids = await this.listChangeIds();
    let refolded = 0;
    let changed = previous.size !== ids.length;
    // Observed before reading, so a write during the read shows up next time.
    const mtimes = await mtimesOf(ids.map((id) => this.eventsDir(id)));
    const checkedAtMs = Date.now();
    const entries: Array<IndexEntry | undefined> = ids.map((id, i) => {
      const old = previous.get(id);
      return old && isEntryFresh(old, mtimes[i]!) ? old : undefined;
    });
    const stale = ids.map((_, i) => i).filter((i) => entries[i] === undefined);
    await mapLimit(stale, READ_CONCURRENCY, async (i) => {
      const id = ids[i]!;
      const old = previous.get(id);
      const dirMtimeMs = mtimes[i]!;
      changed = true;
      if (old && dirMtimeMs !== -1) {
        // The folder changed (or changed too recently to trust its mtime): same events?
        const names = (await fs.readdir(this.eventsDir(id))).filter((n) => checkEventFileName(n) === undefined);
        const last = names.reduce<string | undefined>((max, n) => (max === undefined || n > max ? n : max), undefined);
        if (names.length === old.summary.eventCount && last?.slice(0, -'.json'.length) === old.summary.lastEventId) {
          entries[i] = { ...old, dirMtimeMs, checkedAtMs };
          return;
        }
      }
      refolded++;
      const record = await this.readChange(id);
      problems.push(...record.problems);
      entries[i] = { summary: summarize(foldChange(id, pipeline, record.events), record.events, record.problems.length), dirMtimeMs, checkedAtMs };
    });
    const complete = entries as IndexEntry[];
    if (changed) await this.writeIndex(hash, pipeline, complete);
    return { summaries: complete.map((e) => e.summary), problems, refolded, pipeline };
  }

  /** Deletes nothing but the derived index: the next summaries() rebuilds it. */
  async dropIndex(): Promise<void> {
    await fs.rm(this.indexPath, { force: true });
  }

  /** Writes `.factory/.gitignore` if there is none (also done on the first write). */
  async ensureGitignore(): Promise<boolean> {
    return ensureFactoryGitignore(this.factoryDir);
  }

  /**
   * The summaries as the index has them, without checking them against the events:
   * for a first paint of a large record, followed by summaries(). Empty when there is
   * no valid index for this pipeline.
   */
  async indexedSummaries(): Promise<ChangeSummary[]> {
    const { pipeline } = await this.loadPipeline({ createIfMissing: false });
    if (!pipeline) return [];
    return [...(await this.readIndex(pipelineHash(pipeline))).values()].map((e) => e.summary);
  }

  private async readIndex(hash: string): Promise<Map<string, IndexEntry>> {
    try {
      // The index this store last read or wrote, while the file is still that one: a
      // refresh then costs one stat instead of reading and decoding every row again.
      const stat = await fs.stat(this.indexPath);
      const identity = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
      if (this.lastIndex?.identity === identity && this.lastIndex.hash === hash) return new Map(this.lastIndex.entries);
      const decoded = decodeIndex(JSON.parse(await fs.readFile(this.indexPath, 'utf8')));
      if (!decoded || decoded.pipelineHash !== hash) return new Map();
      const entries = new Map(decoded.entries.map((e) => [e.summary.id, e]));
      this.lastIndex = { identity, hash, entries };
      return new Map(entries);
    } catch {
      // Missing or corrupt: it is only a cache, rebuilt from the events.
      return new Map();
    }
  }

  private async writeIndex(hash: string, pipeline: Pipeline, entries: IndexEntry[]): Promise<void> {
    await this.prepareForWriting();
    await writeFileReplacing(this.indexPath, JSON.stringify(encodeIndex(hash, pipeline.stages.map((s) => s.id), entries)));
    const stat = await fs.stat(this.indexPath).catch(() => undefined);
    this.lastIndex = stat ? { identity: `${stat.ino}:${stat.size}:${stat.mtimeMs}`, hash, entries: new Map(entries.map((e) => [e.summary.id, e])) } : undefined;
  }

  /** Moves a bad file aside (never deletes it) so the rest of the record loads. */
  private async quarantine(relPath: string): Promise<string | undefined> {
    const from = path.join(this.workspaceRoot, relPath);
    let to = path.join(this.factoryDir, 'quarantine', path.relative(this.factoryDir, from));
    try {
      await fs.mkdir(path.dirname(to), { recursive: true });
      // Never replace an earlier quarantined file of the same name.
      if (await exists(to)) to = `${to}.${nextUlid()}`;
      await fs.rename(from, to);
      return this.relative(to);
    } catch {
      return undefined;
    }
  }

  private report(problem: RecordProblem): RecordProblem {
    this.onProblem(problem);
    return problem;
  }

  private eventsDir(changeId: string): string {
    if (typeof changeId !== 'string' || !ChangeIdSchema.safeParse(changeId).success) throw new InvalidChangeIdError(changeId);
    // Concatenated, not path.join: the id is checked above, and this runs once per change per refresh.
    return `${this.factoryDir}${path.sep}changes${path.sep}${changeId}${path.sep}events`;
  }

  private async prepareForWriting(): Promise<void> {
    await this.assertFactoryInside();
    if (this.gitignoreEnsured) return;
    await ensureFactoryGitignore(this.factoryDir);
    this.gitignoreEnsured = true;
  }

  /** `.factory` itself (or a folder in it) could be a symbolic link out of the workspace. */
  private async assertFactoryInside(): Promise<void> {
    await this.assertInsideWorkspace(this.factoryDir);
  }

  private async assertInsideWorkspace(dir: string): Promise<void> {
    const [realRoot, realDir] = await Promise.all([realpathOrSelf(this.workspaceRoot), realpathOfExisting(dir)]);
    if (!isWithin(realRoot, realDir)) throw new OutsideWorkspaceError(this.relative(dir), this.workspaceRoot, 'a symbolic link leads outside');
  }

  private relative(file: string): string {
    return path.relative(this.workspaceRoot, file).split(path.sep).join('/');
  }
}

/** Reads a file that must be small: its text, its size when too big, or 'gone'. Symbolic links are refused. */
function readSmallFileSync(file: string): string | number | 'gone' {
  let fd: number;
  try {
    fd = openSync(file, fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0));
  } catch (error) {
    if (isNotFound(error)) return 'gone';
    throw error;
  }
  try {
    const { size } = fstatSync(fd);
    if (checkEventFileSize(size)) return size;
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * The mtime of each folder (-1 when absent). One stat per change is the whole cost of
 * a staleness check, so it is done synchronously, which is several times quicker than
 * a round trip through the thread pool per folder, in slices that yield to the event
 * loop so a large record never blocks the editor for long.
 */
async function mtimesOf(dirs: readonly string[]): Promise<number[]> {
  const mtimes: number[] = [];
  for (let start = 0; start < dirs.length; start += 2000) {
    if (start > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const dir of dirs.slice(start, start + 2000)) mtimes.push(statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? -1);
  }
  return mtimes;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch {
    return false;
  }
}

async function realpathOrSelf(p: string): Promise<string> {
  try {
    return await fs.realpath(p);
  } catch {
    return path.resolve(p);
  }
}

/** The real path of `p`, resolving the deepest part of it that exists. */
async function realpathOfExisting(p: string): Promise<string> {
  let current = path.resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(await fs.realpath(current), ...rest);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const parent = path.dirname(current);
      if (parent === current) return path.join(current, ...rest);
      rest.unshift(path.basename(current));
      current = parent;
    }
  }
}

/** Maps with at most `limit` calls in flight, keeping the order of `items`. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}
