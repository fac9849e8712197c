// The on-disk record under .factory/. The layout is chosen so that hardening never
// changes callers and git merges never conflict:
//   .factory/pipeline.json                          the pipeline definition
//   .factory/changes/<change>/events/<ULID>.json    one immutable file per event
//   .factory/evidence/ab/cdef…                      evidence by sha256 (evidence.ts)
//   .factory/quarantine/…                           files that failed validation, set aside
//   .factory/.gitignore                             locks and temp files stay out of git
// and outside the repository, in the per-user cache (cacheDir.ts):
//   <cache>/factory-cockpit/<sha256 of the root>/index.json   derived summary index
//
// A hostile repository: every folder and file under .factory/ is reached through
// RecordFs (recordFs.ts), which refuses a symbolic link or junction at any level and
// never follows or writes through one; what it refuses is a RecordProblem naming the
// path, and one unreadable change (a link, a file where a folder belongs, EACCES)
// never keeps the others from listing. With mayWrite false (Restricted Mode) nothing
// at all is written to the repository: problems are reported and set aside later
// (setAsidePending), append refuses; the index still works, being outside.
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
import { promises as fs, lstatSync, realpathSync, type Dirent } from 'node:fs';
import * as path from 'node:path';
import { monotonicFactory } from 'ulid';
import { defaultPipeline, PipelineSchema, type Pipeline } from '../core/pipeline';
import { ChangeIdSchema, EVENT_SCHEMA_VERSION, EventPayloads, firstIssue, type EventDraft, type FactoryEvent } from '../core/events';
import { parseJsonSafely, slugify } from '../core/json';
import { compareEvents, foldChange } from '../core/fold';
import { AlreadyExistsError, createFileExclusive, isTempName, writeFileReplacing } from './atomicFile';
import { checkEventFileName, checkEventFileSize, jsonProblem, MAX_EVENT_FILE_BYTES, parseEventText, printable, type FileProblem } from './eventFile';
import { EVENT_MIGRATIONS, type MigrationRegistry } from './migrations';
import { FileEvidenceStore } from './evidence';
import { ensureFactoryGitignore } from './gitignorePolicy';
import { isWithin } from './paths';
import { describeIoError, isMissing, LINK_REFUSED, RecordFs, RecordReadOnlyError, UnsafeRecordPathError } from './recordFs';
import { summaryIndexPath, userCacheRoot } from './cacheDir';
import { decodeIndex, encodeIndex, isEntryFresh, pipelineHash, summarize, type ChangeSummary, type IndexEntry } from './summaryIndex';

export { RecordReadOnlyError, UnsafeRecordPathError } from './recordFs';

export interface RecordProblem {
  /** Workspace-relative path of the file. */
  path: string;
  /** The failing field, dotted; empty when the file as a whole is unreadable. */
  field: string;
  message: string;
  /** Where the file was moved, workspace-relative, when it was set aside. */
  quarantinedTo?: string;
  /**
   * True when it would have been set aside but the record may not be written yet
   * (Restricted Mode): setAsidePending() moves it once the folder is trusted.
   */
  pending?: boolean;
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
  /**
   * Whether the record may be written now; asked before every write. False in
   * Restricted Mode (wire it to Workspace Trust): nothing at all is written to the
   * repository (no event, evidence, quarantine move, pipeline or .gitignore); append
   * and evidence put throw RecordReadOnlyError. Default: always true.
   */
  mayWrite?: () => boolean;
  /** The pipeline written (or used) when there is no pipeline.json; default: defaultPipeline(). */
  defaultPipeline?: () => Pipeline;
  /**
   * The per-user cache folder that holds one folder per repository (the summary index
   * lives there, never in the repository). Default: userCacheRoot() in cacheDir.ts
   * (FACTORY_COCKPIT_CACHE_DIR, else the platform's per-user cache folder).
   */
  cacheDir?: string;
}

/** pipeline.json is a small file a person edits. */
export const MAX_PIPELINE_BYTES = 1024 * 1024;

const PENDING_NOTE = 'it will be set aside once the folder is trusted';

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
  /** The decoded index and the identity of the file it came from (inode, size, mtime). */
  private lastIndex: { identity: string; hash: string; entries: ReadonlyMap<string, IndexEntry> } | undefined;
  readonly evidence: FileEvidenceStore;
  private readonly now: () => Date;
  private readonly onProblem: (problem: RecordProblem) => void;
  private readonly migrations: MigrationRegistry;
  private readonly mayWrite: () => boolean;
  private readonly makeDefaultPipeline: () => Pipeline;
  private readonly cacheDir: string | undefined;
  private readonly fsx: RecordFs;
  private cachedIndexPath: string | undefined;
  private gitignoreEnsured = false;
  /** Problems that wait for the record to become writable, by path: the change to re-read, or undefined for the change list. */
  private readonly pending = new Map<string, { changeId?: string; problem: RecordProblem }>();

  constructor(
    readonly workspaceRoot: string,
    options: FileRecordStoreOptions = {},
  ) {
    this.factoryDir = path.join(workspaceRoot, '.factory');
    this.pipelinePath = path.join(this.factoryDir, 'pipeline.json');
    this.mayWrite = options.mayWrite ?? (() => true);
    this.makeDefaultPipeline = options.defaultPipeline ?? (() => defaultPipeline());
    this.evidence = new FileEvidenceStore(workspaceRoot, this.factoryDir, { mayWrite: this.mayWrite });
    this.now = options.now ?? (() => new Date());
    this.onProblem = options.onProblem ?? (() => undefined);
    this.migrations = options.migrations ?? EVENT_MIGRATIONS;
    this.cacheDir = options.cacheDir;
    this.fsx = new RecordFs(workspaceRoot);
  }

  /** Whether the record may be written now (false in Restricted Mode). */
  isWritable(): boolean {
    return this.mayWrite();
  }

  /** The summary index, in the per-user cache (computed on first use: it resolves the root's real path). */
  get indexPath(): string {
    this.cachedIndexPath ??= summaryIndexPath(this.workspaceRoot, this.cacheDir ?? userCacheRoot());
    return this.cachedIndexPath;
  }

  async loadPipeline(options: { createIfMissing?: boolean } = {}): Promise<PipelineLoad> {
    const rel = this.relative(this.pipelinePath);
    let read: Buffer | number | undefined;
    try {
      read = await this.fsx.readFile(this.pipelinePath, MAX_PIPELINE_BYTES);
    } catch (error) {
      // A link (at .factory or at pipeline.json), a folder, EACCES: reported, never followed.
      return { problems: [this.report(this.problemFor(error, this.pipelinePath))], created: false };
    }
    if (read === undefined) {
      const pipeline = this.makeDefaultPipeline();
      // Restricted Mode: the default is used, not written.
      if (options.createIfMissing === false || !this.mayWrite()) return { pipeline, problems: [], created: false };
      await this.prepareForWriting();
      try {
        await this.fsx.createExclusive(this.pipelinePath, `${JSON.stringify(pipeline, null, 2)}\n`);
      } catch (error) {
        // Another writer made one meanwhile (or a link was planted): read what is there.
        if (error instanceof AlreadyExistsError) return this.loadPipeline({ createIfMissing: false });
        throw error;
      }
      return { pipeline, problems: [], created: true };
    }
    if (typeof read === 'number') {
      return { problems: [this.report({ path: rel, field: '', message: `is ${read} bytes, over the ${MAX_PIPELINE_BYTES}-byte limit for pipeline.json` })], created: false };
    }
    let parsed: ReturnType<typeof parseJsonSafely>;
    try {
      parsed = parseJsonSafely(read.toString('utf8'));
    } catch (error) {
      return { problems: [this.report({ path: rel, ...jsonProblem(error) })], created: false };
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
    return (await this.listing()).ids;
  }

  /** The change ids, and the problems of entries that are not change folders (set aside, or pending). */
  private async listing(): Promise<{ ids: string[]; problems: RecordProblem[] }> {
    const changesDir = path.join(this.factoryDir, 'changes');
    let entries: Dirent[] | undefined;
    try {
      entries = await this.fsx.listDir(changesDir);
    } catch (error) {
      // `.factory` or `changes` is a link, a file, unreadable: nothing behind it is read.
      return { ids: [], problems: [this.report(this.problemFor(error, changesDir))] };
    }
    const ids: string[] = [];
    const problems: RecordProblem[] = [];
    for (const entry of entries ?? []) {
      if (entry.name.startsWith('.')) continue;
      if (entry.isDirectory() && ChangeIdSchema.safeParse(entry.name).success) ids.push(entry.name);
      else {
        const why = entry.isSymbolicLink() ? LINK_REFUSED : entry.isDirectory() ? 'is not a valid change id' : 'is not a change folder';
        const problem: RecordProblem = { path: this.relative(path.join(changesDir, entry.name)), field: '', message: why };
        await this.setAside(problem, undefined);
        problems.push(this.report(problem));
      }
    }
    return { ids: ids.sort(), problems };
  }

  async readChange(changeId: string): Promise<ChangeRecord> {
    const dir = this.eventsDir(changeId);
    let entries: Dirent[];
    try {
      // The path from the root down to events/ is checked once (lstat, no link); each file is then opened without following one.
      if (!this.fsx.inspectSync(dir, 'dir')) return { changeId, events: [], problems: [] };
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return { changeId, events: [], problems: [] };
      // One unreadable change is a problem of that change, never an exception that empties the list.
      const problem = this.problemFor(error, dir);
      if (error instanceof UnsafeRecordPathError && this.belongsToChange(problem.path, changeId)) await this.setAside(problem, changeId);
      return { changeId, events: [], problems: [this.report(problem)] };
    }
    const found: Array<{ name: string; problem?: FileProblem }> = [];
    for (const entry of entries) {
      if (isTempName(entry.name)) continue;
      if (entry.isSymbolicLink()) found.push({ name: entry.name, problem: { field: '', message: `${LINK_REFUSED}; event files must be regular files` } });
      else if (!entry.isFile()) found.push({ name: entry.name, problem: { field: '', message: 'is not a regular file' } });
      else found.push({ name: entry.name, problem: checkEventFileName(entry.name) });
    }
    const results: Array<{ name: string; event?: FactoryEvent; problem?: FileProblem; keep?: boolean }> = [];
    for (let i = 0; i < found.length; i++) {
      // Small files are read synchronously (a thread-pool round trip per file costs
      // several times the read itself), in slices that yield to the event loop.
      if (i > 0 && i % SYNC_READ_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
      const { name, problem } = found[i]!;
      if (problem) {
        results.push({ name, problem });
        continue;
      }
      let read: string | number | 'gone';
      try {
        read = this.fsx.readSmallFileSync(path.join(dir, name), MAX_EVENT_FILE_BYTES);
      } catch (error) {
        // A link swapped in since the listing is set aside; an I/O error (EACCES) is only reported: the file may be fine.
        const refused = error instanceof UnsafeRecordPathError;
        results.push({ name, problem: { field: '', message: refused ? error.reason : describeIoError(error) }, keep: !refused });
        continue;
      }
      if (read === 'gone') continue; // moved away meanwhile (another reader quarantined it, a checkout)
      if (typeof read === 'number') results.push({ name, problem: checkEventFileSize(read)! });
      else results.push({ name, ...parseEventText(changeId, name, read, this.migrations) });
    }
    const events: FactoryEvent[] = [];
    const problems: RecordProblem[] = [];
    for (const result of results) {
      if (result.event) {
        events.push(result.event);
        continue;
      }
      if (!result.problem) continue;
      const problem: RecordProblem = { path: this.relative(path.join(dir, result.name)), ...result.problem };
      if (!result.keep) await this.setAside(problem, changeId);
      problems.push(this.report(problem));
    }
    events.sort(compareEvents);
    return { changeId, events, problems };
  }

  async append(changeId: string, draft: EventDraft): Promise<FactoryEvent> {
    const dir = this.eventsDir(changeId);
    if (!this.mayWrite()) throw new RecordReadOnlyError(`record a ${draft.type} event in change "${changeId}"`);
    await this.prepareForWriting();
    await this.fsx.ensureDir(dir);
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
    const listing = await this.listing();
    problems.push(...listing.problems);
    const ids = listing.ids;
    let refolded = 0;
    let changed = previous.size !== ids.length;
    // Observed before reading, so a write during the read shows up next time.
    const mtimes = await mtimesOf(ids.map((id) => this.eventsDir(id)));
    const checkedAtMs = Date.now();
    const entries: Array<IndexEntry | undefined> = ids.map((id, i) => {
      const old = previous.get(id);
      // A change that had problems is never fresh: read again, a problem not yet set aside
      // (Restricted Mode, a refused link) is reported on every refresh while it lasts.
      return old && old.summary.problemCount === 0 && isEntryFresh(old, mtimes[i]!) ? old : undefined;
    });
    const stale = ids.map((_, i) => i).filter((i) => entries[i] === undefined);
    await mapLimit(stale, READ_CONCURRENCY, async (i) => {
      const id = ids[i]!;
      const old = previous.get(id);
      const dirMtimeMs = mtimes[i]!;
      changed = true;
      if (old && dirMtimeMs !== -1 && old.summary.problemCount === 0) {
        // The folder changed (or changed too recently to trust its mtime): same events?
        const names = (await this.eventNames(id)).filter((n) => checkEventFileName(n) === undefined);
        const last = names.reduce<string | undefined>((max, n) => (max === undefined || n > max ? n : max), undefined);
        if (names.length === old.summary.eventCount && last?.slice(0, -'.json'.length) === old.summary.lastEventId) {
          entries[i] = { ...old, dirMtimeMs, checkedAtMs };
          return;
        }
      }
      refolded++;
      let record: ChangeRecord;
      try {
        record = await this.readChange(id);
      } catch (error) {
        // Whatever went wrong with this change stays with it.
        record = { changeId: id, events: [], problems: [this.report(this.problemFor(error, path.dirname(this.eventsDir(id))))] };
      }
      problems.push(...record.problems);
      entries[i] = { summary: summarize(foldChange(id, pipeline, record.events), record.events, record.problems.length), dirMtimeMs, checkedAtMs };
    });
    const complete = entries as IndexEntry[];
    if (changed) await this.writeIndex(hash, pipeline, complete);
    return { summaries: complete.map((e) => e.summary), problems, refolded, pipeline };
  }

  /** The names in a change's events folder, or none when it cannot be listed (readChange then says why). */
  private async eventNames(changeId: string): Promise<string[]> {
    try {
      return ((await this.fsx.listDir(this.eventsDir(changeId))) ?? []).map((d) => d.name);
    } catch {
      return [];
    }
  }

  /** Deletes nothing but the derived index: the next summaries() rebuilds it. */
  async dropIndex(): Promise<void> {
    await fs.rm(this.indexPath, { force: true });
    this.lastIndex = undefined;
  }

  /** Writes `.factory/.gitignore` if there is none (also done on the first write); never in Restricted Mode. */
  async ensureGitignore(): Promise<boolean> {
    if (!this.mayWrite()) return false;
    await this.fsx.ensureDir(this.factoryDir);
    return ensureFactoryGitignore(this.factoryDir, this.fsx);
  }

  /**
   * Once the record may be written (the folder was trusted), sets aside the files that
   * were only reported while it could not be: re-reads the change list and each change
   * concerned, which validates them again (a file fixed meanwhile stays), and returns
   * the problems found, now with quarantinedTo. While the record still may not be
   * written, returns the pending problems as they are and moves nothing.
   */
  async setAsidePending(): Promise<RecordProblem[]> {
    if (!this.mayWrite()) return [...this.pending.values()].map((p) => ({ ...p.problem }));
    const waiting = [...this.pending.values()];
    this.pending.clear();
    const problems: RecordProblem[] = [];
    if (waiting.some((w) => w.changeId === undefined)) problems.push(...(await this.listing()).problems);
    const changes = [...new Set(waiting.flatMap((w) => (w.changeId === undefined ? [] : [w.changeId])))].sort();
    for (const id of changes) problems.push(...(await this.readChange(id)).problems);
    return problems;
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
    // The cache is outside the repository, so it is written in Restricted Mode too,
    // unless someone pointed the cache folder into the repository itself.
    if (!this.mayWrite() && isWithin(realpathOrSelf(this.workspaceRoot), path.resolve(this.indexPath))) return;
    try {
      await writeFileReplacing(this.indexPath, JSON.stringify(encodeIndex(hash, pipeline.stages.map((s) => s.id), entries)));
      const stat = await fs.stat(this.indexPath).catch(() => undefined);
      this.lastIndex = stat ? { identity: `${stat.ino}:${stat.size}:${stat.mtimeMs}`, hash, entries: new Map(entries.map((e) => [e.summary.id, e])) } : undefined;
    } catch {
      // An unwritable cache costs speed, never the list.
      this.lastIndex = undefined;
    }
  }

  /**
   * Moves a bad file (or a link itself, never what it points to) aside, never deleting
   * it, so the rest of the record loads; or, while the record may not be written,
   * notes it for setAsidePending(). Records the outcome on the problem.
   */
  private async setAside(problem: RecordProblem, changeId: string | undefined): Promise<void> {
    if (!this.mayWrite()) {
      problem.pending = true;
      problem.message = `${problem.message}; ${PENDING_NOTE}`;
      this.pending.set(problem.path, { ...(changeId !== undefined ? { changeId } : {}), problem: { ...problem } });
      return;
    }
    const from = path.join(this.workspaceRoot, ...problem.path.split('/'));
    const to = path.join(this.factoryDir, 'quarantine', path.relative(this.factoryDir, from));
    try {
      problem.quarantinedTo = this.relative(await this.fsx.moveAside(from, to, () => nextUlid()));
    } catch (error) {
      // Gone meanwhile: another reader set it aside. Anything else (a link at quarantine/) is said.
      if (!isMissing(error)) problem.message = `${problem.message}; it could not be set aside: ${describeIoError(error)}`;
    }
  }

  private report(problem: RecordProblem): RecordProblem {
    this.onProblem(problem);
    return problem;
  }

  /** A refusal or an I/O error as a problem of the path it concerns. */
  private problemFor(error: unknown, abs: string): RecordProblem {
    if (error instanceof UnsafeRecordPathError) return { path: error.relPath, field: '', message: error.reason };
    return { path: this.relative(abs), field: '', message: describeIoError(error) };
  }

  /** True for the change's own folder and anything in it (what may be set aside), not `.factory` or `changes`. */
  private belongsToChange(relPath: string, changeId: string): boolean {
    const folder = `${this.relative(this.factoryDir)}/changes/${changeId}`;
    return relPath === folder || relPath.startsWith(`${folder}/`);
  }

  private eventsDir(changeId: string): string {
    if (typeof changeId !== 'string' || !ChangeIdSchema.safeParse(changeId).success) throw new InvalidChangeIdError(changeId);
    // Concatenated, not path.join: the id is checked above, and this runs once per change per refresh.
    return `${this.factoryDir}${path.sep}changes${path.sep}${changeId}${path.sep}events`;
  }

  private async prepareForWriting(): Promise<void> {
    if (!this.mayWrite()) throw new RecordReadOnlyError('write the record');
    await this.fsx.ensureDir(this.factoryDir);
    if (this.gitignoreEnsured) return;
    await ensureFactoryGitignore(this.factoryDir, this.fsx);
    this.gitignoreEnsured = true;
    // A .gitignore that is a link is left alone (nothing is written through it), and said.
    try {
      await this.fsx.inspect(path.join(this.factoryDir, '.gitignore'), 'file');
    } catch (error) {
      this.report(this.problemFor(error, path.join(this.factoryDir, '.gitignore')));
    }
  }

  private relative(file: string): string {
    return path.relative(this.workspaceRoot, file).split(path.sep).join('/');
  }
}

/**
 * The mtime of each folder (-1 when absent, or not a real folder: a link is never
 * followed, and readChange reports it). One stat per change is the whole cost of
 * a staleness check, so it is done synchronously, which is several times quicker than
 * a round trip through the thread pool per folder, in slices that yield to the event
 * loop so a large record never blocks the editor for long.
 */
async function mtimesOf(dirs: readonly string[]): Promise<number[]> {
  const mtimes: number[] = [];
  for (let start = 0; start < dirs.length; start += 2000) {
    if (start > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const dir of dirs.slice(start, start + 2000)) mtimes.push(folderMtime(dir));
  }
  return mtimes;
}

function folderMtime(dir: string): number {
  try {
    const stats = lstatSync(dir, { throwIfNoEntry: false });
    return stats?.isDirectory() ? stats.mtimeMs : -1;
  } catch {
    return -1; // EACCES, ENOTDIR: readChange says what is wrong
  }
}

function realpathOrSelf(p: string): string {
  try {
    return realpathSync.native(p);
  } catch {
    return path.resolve(p);
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
