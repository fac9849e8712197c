// The on-disk record under .factory/. The layout is chosen so that hardening never
// changes callers and git merges never conflict:
//   .factory/pipeline.json                          the pipeline definition
//   .factory/changes/<change>/events/<ULID>.json    one immutable file per event
//   .factory/evidence/ab/cdef…                      evidence by sha256 (evidence.ts)
//   .factory/quarantine/…                           files that failed validation, set aside
//   .factory/.gitignore                             locks and temp files stay out of git
// and outside the repository, in the per-user cache (cacheDir.ts):
//   <cache>/factory-cockpit/<sha256 of the root>/index.json      derived summary index
//   <cache>/factory-cockpit/<sha256 of the root>/pipeline.json   pipeline.json validated (keptPipeline.ts)
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
import { promises as fs, lstatSync, statSync, type Dirent } from 'node:fs';
import * as path from 'node:path';
import { monotonicFactory } from 'ulid';
import { defaultPipeline, PipelineSchema, type Pipeline } from '../core/pipeline';
import { isChangeId, EVENT_SCHEMA_VERSION, EventPayloads, firstIssue, type EventDraft, type FactoryEvent } from '../core/events';
import { parseJsonSafely, slugify } from '../core/json';
import { compareEvents, foldChange } from '../core/fold';
import { AlreadyExistsError, createFileExclusive, isTempName, writeFileReplacing } from './atomicFile';
import { checkEventFileName, checkEventFileSize, jsonProblem, MAX_EVENT_FILE_BYTES, parseEventText, printable, type FileProblem } from './eventFile';
import { EVENT_MIGRATIONS, type MigrationRegistry } from './migrations';
import { FileEvidenceStore } from './evidence';
import { ensureFactoryGitignore } from './gitignorePolicy';
import { isWithin, realpathOrSelf } from './paths';
import { describeIoError, isMissing, LINK_REFUSED, RecordFs, RecordReadOnlyError, UnsafeRecordPathError } from './recordFs';
import { keptPipelineIn, repositoryCacheDir, summaryIndexIn, userCacheRoot } from './cacheDir';
import { keepPipeline, PRODUCT_BUILD, readKeptPipeline } from './keptPipeline';
import { adaptToStages, readIndexFile, encodeIndex, isEntryFresh, stageIdsOf, summarize, type ChangeSummary, type IndexEntry } from './summaryIndex';

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
  /** How many change folders were looked at (a stat, a listing or a read): every one on a full check, the named ones on a targeted one. */
  checked: number;
  /** The pipeline the statuses were folded with (absent when pipeline.json is invalid). */
  pipeline?: Pipeline;
}

export interface SummaryOptions {
  /**
   * What a file watcher saw change since this store's last summaries(): only these
   * change folders are looked at (and the changes folder listed, so a new or removed
   * change still shows); every other change is taken as this store last knew it.
   * Without it, or before this store has read the record once, every folder is checked.
   */
  changed?: readonly string[];
  /** Told as batches of changes are read and folded, when many are (the first read after a clone). */
  onProgress?: (progress: SummaryProgress) => void;
}

export interface SummaryProgress {
  pipeline: Pipeline;
  /** The changes summarised so far, in listing order. */
  summaries: ChangeSummary[];
  /** Changes summarised so far, of `total`. */
  done: number;
  total: number;
}

/** The derived index: a summary per change without folding every event. */
export interface SummaryPort {
  summaries(options?: SummaryOptions): Promise<SummaryLoad>;
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
  /**
   * The build whose validation of pipeline.json may be taken from the cache
   * (keptPipeline.ts). Default: the running product's (PRODUCT_BUILD); none when run
   * from source, which validates every time.
   */
  build?: string;
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
/** Fewer changes missing from the index than this are read without telling progress (an ordinary refresh). */
const PROGRESS_MIN_STALE = 64;
/** How often progress is told while changes are read. */
const PROGRESS_INTERVAL_MS = 150;

export class FileRecordStore implements RecordStore, SummaryPort {
  readonly factoryDir: string;
  readonly pipelinePath: string;
  /**
   * The index as this store last read or built it, by change id, with the identity
   * (inode, size, mtime) of the file it matches; `dirty` when newer than the file.
   */
  private memory: IndexMemory | undefined;
  /**
   * Every check of the index (full or targeted) runs after the one before it has ended: one
   * queue, so the index in memory is only ever replaced by a newer reading, and checks end
   * in the order they were asked for, each at least as new as the one before.
   */
  private checks: Promise<unknown> = Promise.resolve();
  /** The last full check asked for, queued or under way: a second caller (the cockpit and interrupted-attempt recovery at activation) joins it. */
  private fullCheck: FullCheck | undefined;
  /** Events this store appended: a full check that started before the latest is not joined. */
  private writes = 0;
  readonly evidence: FileEvidenceStore;
  private readonly now: () => Date;
  private readonly onProblem: (problem: RecordProblem) => void;
  private readonly migrations: MigrationRegistry;
  private readonly mayWrite: () => boolean;
  private readonly makeDefaultPipeline: () => Pipeline;
  private readonly cacheDir: string | undefined;
  private readonly build: string | undefined;
  private readonly fsx: RecordFs;
  private cachedRepositoryCache: string | undefined;
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
    this.build = 'build' in options ? options.build : PRODUCT_BUILD;
    this.fsx = new RecordFs(workspaceRoot);
  }

  /** Whether this store has read (or built) the summary index: a later read starts from it. */
  get hasIndex(): boolean {
    return this.memory !== undefined;
  }

  /** Whether the record may be written now (false in Restricted Mode). */
  isWritable(): boolean {
    return this.mayWrite();
  }

  /** This repository's folder in the per-user cache (computed on first use: it resolves the root's real path). */
  private get repositoryCache(): string {
    this.cachedRepositoryCache ??= repositoryCacheDir(this.workspaceRoot, this.cacheDir ?? userCacheRoot());
    return this.cachedRepositoryCache;
  }

  /** The summary index, in the per-user cache. */
  get indexPath(): string {
    return summaryIndexIn(this.repositoryCache);
  }

  /**
   * Whether a file of the per-user cache may be written: it is outside the repository, so
   * in Restricted Mode too, unless someone pointed the cache folder into the repository itself.
   */
  private mayWriteCache(file: string): boolean {
    return this.mayWrite() || !isWithin(realpathOrSelf(this.workspaceRoot), path.resolve(file));
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
    const text = read.toString('utf8');
    // Every refresh reads pipeline.json: the same text is not parsed and validated again
    // (and the same pipeline object lets readers cache what they derive from it).
    if (this.lastPipeline?.text === text) return { pipeline: this.lastPipeline.pipeline, problems: [], created: false };
    // Another process of this build validated this very text: zod is not run again.
    const slot = this.build === undefined ? undefined : { file: keptPipelineIn(this.repositoryCache), build: this.build };
    const kept = slot && readKeptPipeline(slot, text);
    if (kept) {
      this.lastPipeline = { text, pipeline: kept };
      return { pipeline: kept, problems: [], created: false };
    }
    let parsed: ReturnType<typeof parseJsonSafely>;
    try {
      parsed = parseJsonSafely(text);
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
    this.lastPipeline = { text, pipeline: result.data };
    if (slot && this.mayWriteCache(slot.file)) await keepPipeline(slot, text, result.data);
    return { pipeline: result.data, problems: [], created: false };
  }
  private lastPipeline: { text: string; pipeline: Pipeline } | undefined;

  async listChangeIds(): Promise<string[]> {
    return (await this.listing()).ids;
  }

  /**
   * The change ids, and the problems of entries that are not change folders (set aside,
   * or pending). `known`: ids already validated (the index's), not checked again.
   */
  private async listing(known?: ReadonlyMap<string, unknown>): Promise<{ ids: string[]; problems: RecordProblem[] }> {
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
      if (entry.isDirectory() && (known?.has(entry.name) || isChangeId(entry.name))) ids.push(entry.name);
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
        this.writes++;
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
   * change itself for that. See SummaryOptions for a targeted refresh and progress.
   */
  async summaries(options: SummaryOptions = {}): Promise<SummaryLoad> {
    const { changed, onProgress } = options;
    // A targeted check waits for the checks asked for before it: one of them may have
    // looked at the named folders before they changed, and the newer answer must be last.
    if (changed !== undefined && this.memory !== undefined) return this.queued(() => (this.memory ? this.checkNamed(changed, onProgress) : this.checkAll(onProgress)));
    // A full check is joined while it waits its turn (it will look after this call), or
    // while it runs if this store wrote nothing since it started (it may have looked at a
    // change folder before the write). Otherwise another one is queued after it. (Before
    // the first full check has ended there is nothing to target: a targeted call is full.)
    // A targeted caller (the watcher) knows of a write the store did not make: it joins
    // only a check that has not started looking yet.
    const joinable =
      this.fullCheck && (this.fullCheck.writesAtStart === undefined || (changed === undefined && this.fullCheck.writesAtStart === this.writes));
    if (!joinable) {
      const check: FullCheck = { listeners: new Set(), writesAtStart: undefined, done: Promise.resolve(undefined as unknown as SummaryLoad) };
      check.done = this.queued(() => {
        check.writesAtStart = this.writes;
        return this.checkAll((p) => check.listeners.forEach((l) => l(p)));
      }).finally(() => {
        if (this.fullCheck === check) this.fullCheck = undefined;
      });
      this.fullCheck = check;
    }
    const { done, listeners } = this.fullCheck!;
    if (!onProgress) return done;
    listeners.add(onProgress);
    return done.finally(() => listeners.delete(onProgress));
  }

  /** Runs `check` after every check asked for before it has ended (see `checks`). */
  private queued<T>(check: () => Promise<T>): Promise<T> {
    const result = this.checks.then(check);
    this.checks = result.catch(() => undefined);
    return result;
  }

  /** The full check: lists the changes folder and stats every change folder against the index. */
  private async checkAll(onProgress?: (progress: SummaryProgress) => void): Promise<SummaryLoad> {
    const { pipeline, problems } = await this.loadPipeline({ createIfMissing: false });
    if (!pipeline) return { summaries: [], problems, refolded: 0, checked: 0 };
    const stageIds = stageIdsOf(pipeline);
    const previous = await this.readIndex(stageIds);
    const listing = await this.listing(previous);
    problems.push(...listing.problems);
    const ids = listing.ids;
    // Observed before reading, so a write during the read shows up next time.
    const mtimes = await mtimesOf(ids.map((id) => this.eventsDir(id)));
    const checkedAtMs = Date.now();
    const entries: Array<IndexEntry | undefined> = ids.map((id, i) => {
      const old = previous.get(id);
      return old && isFresh(old, mtimes[i]!) ? old : undefined;
    });
    const stale = ids.flatMap((id, i) => (entries[i] ? [] : [{ id, i }]));
    const summariesSoFar = () => entries.flatMap((e) => (e ? [e.summary] : []));
    const progress = onProgress ? progressFor(onProgress, stale, previous, pipeline, ids.length, summariesSoFar) : undefined;
    const refolded = await this.readStale(stale, previous, mtimes, checkedAtMs, pipeline, problems, (i, entry) => (entries[i] = entry), progress);
    const changedAny = this.memory?.dirty === true || stale.length > 0 || previous.size !== ids.length || this.memory?.stageIds.join() !== stageIds.join();
    const complete = entries as IndexEntry[];
    this.memory = memoryOf(stageIds, new Map(complete.map((e) => [e.summary.id, e])), ids, this.memory?.fileIdentity, changedAny);
    // Those set aside are gone from the folder; the others (Restricted Mode, a move that failed) are still there.
    this.memory.listingProblems = listing.problems.filter((p) => p.quarantinedTo === undefined);
    if (changedAny) await this.writeIndex(stageIds, complete);
    return { summaries: complete.map((e) => e.summary), problems, refolded, checked: ids.length, pipeline };
  }

  /**
   * The targeted refresh: only the named change folders (and those with problems) are
   * looked at; the others are as this store last knew them. A named folder that is a
   * change now is added (the watcher names a new change's files too), one that is not
   * is dropped: listing 10,000 folders would cost more than the rest of the refresh. The
   * index file is left for the next full check: a stale row costs only a re-read.
   */
  private async checkNamed(named: readonly string[], onProgress: ((progress: SummaryProgress) => void) | undefined): Promise<SummaryLoad> {
    const memory = this.memory!;
    const { pipeline, problems } = await this.loadPipeline({ createIfMissing: false });
    if (!pipeline) return { summaries: [], problems, refolded: 0, checked: 0 };
    // Other stage ids: the rows must be adapted or refolded, which the full check does.
    if (memory.stageIds.join() !== stageIdsOf(pipeline).join()) return this.checkAll(onProgress);
    const { entries } = memory;
    // What the last listing found wrong in the changes folder still stands: this check does not list it.
    problems.push(...memory.listingProblems);
    const previous = new Map<string, IndexEntry>();
    let listChanged = false;
    const look: string[] = [];
    for (const id of new Set([...named, ...memory.withProblems])) {
      const isChange = isChangeId(id) && isRealDirectory(`${this.factoryDir}${path.sep}changes${path.sep}${id}`);
      const old = entries.get(id);
      if (!isChange) listChanged = entries.delete(id) || listChanged;
      else {
        if (old) previous.set(id, old);
        else listChanged = true;
        look.push(id);
      }
    }
    const mtimes = await mtimesOf(look.map((id) => this.eventsDir(id)));
    const checkedAtMs = Date.now();
    const stale = look.flatMap((id, i) => {
      const old = previous.get(id);
      return old && isFresh(old, mtimes[i]!) ? [] : [{ id, i }];
    });
    const summariesSoFar = () => [...entries.values()].map((e) => e.summary);
    const total = entries.size + look.length - previous.size;
    const progress = onProgress ? progressFor(onProgress, stale, previous, pipeline, total, summariesSoFar) : undefined;
    const refolded = await this.readStale(stale, previous, mtimes, checkedAtMs, pipeline, problems, (_i, entry) => entries.set(entry.summary.id, entry), progress);
    if (listChanged) memory.ids = [...entries.keys()].sort();
    for (const id of look) {
      if (entries.get(id)!.summary.problemCount > 0) memory.withProblems.add(id);
      else memory.withProblems.delete(id);
    }
    memory.dirty ||= listChanged || stale.length > 0;
    return { summaries: memory.ids.map((id) => entries.get(id)!.summary), problems, refolded, checked: look.length, pipeline };
  }

  /**
   * Summarises the stale changes (at most READ_CONCURRENCY at once): an entry whose
   * folder holds the same events is kept with the new mtime; the others are read and
   * folded. Returns how many were folded.
   */
  private async readStale(
    stale: ReadonlyArray<{ id: string; i: number }>,
    previous: ReadonlyMap<string, IndexEntry>,
    mtimes: readonly number[],
    checkedAtMs: number,
    pipeline: Pipeline,
    problems: RecordProblem[],
    put: (i: number, entry: IndexEntry) => void,
    progress: { tell(start: boolean): void } | undefined,
  ): Promise<number> {
    let refolded = 0;
    progress?.tell(true);
    await mapLimit(stale, READ_CONCURRENCY, async ({ id, i }) => {
      const old = previous.get(id);
      const dirMtimeMs = mtimes[i]!;
      if (old && dirMtimeMs !== -1 && old.summary.problemCount === 0) {
        // The folder changed (or changed too recently to trust its mtime): same events?
        const names = (await this.eventNames(id)).filter((n) => checkEventFileName(n) === undefined);
        const last = names.reduce<string | undefined>((max, n) => (max === undefined || n > max ? n : max), undefined);
        if (names.length === old.summary.eventCount && last?.slice(0, -'.json'.length) === old.summary.lastEventId) {
          put(i, { ...old, dirMtimeMs, checkedAtMs });
          progress?.tell(false);
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
      put(i, { summary: summarize(foldChange(id, pipeline, record.events), record.events, record.problems.length), dirMtimeMs, checkedAtMs });
      progress?.tell(false);
    });
    return refolded;
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
    this.memory = undefined;
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
   * The index entries for these stage ids: this store's own while the file is still the
   * one it read or wrote (a refresh then costs one stat), else the file's, adapted when
   * it was taken with other stage ids.
   */
  private async readIndex(stageIds: readonly string[]): Promise<ReadonlyMap<string, IndexEntry>> {
    const adapt = (from: readonly string[], entries: ReadonlyMap<string, IndexEntry>): ReadonlyMap<string, IndexEntry> =>
      from.join() === stageIds.join() ? entries : new Map(adaptToStages([...entries.values()], from, stageIds).map((e) => [e.summary.id, e]));
    try {
      const stat = statSync(this.indexPath);
      const identity = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
      if (this.memory && this.memory.fileIdentity === identity) return adapt(this.memory.stageIds, this.memory.entries);
      const decoded = readIndexFile(this.indexPath);
      if (!decoded) return new Map();
      this.memory = memoryOf(decoded.stageIds, decoded.entries, decoded.ids, identity, false);
      return adapt(decoded.stageIds, decoded.entries);
    } catch {
      // Missing or corrupt: it is only a cache, rebuilt from the events (or from what this store knows).
      return this.memory && !this.memory.fileIdentity ? adapt(this.memory.stageIds, this.memory.entries) : new Map();
    }
  }

  private async writeIndex(stageIds: readonly string[], entries: IndexEntry[]): Promise<void> {
    const memory = this.memory!;
    if (!this.mayWriteCache(this.indexPath)) return;
    try {
      await writeFileReplacing(this.indexPath, JSON.stringify(encodeIndex(stageIds, entries)));
      const stat = await fs.stat(this.indexPath);
      memory.fileIdentity = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
      memory.dirty = false;
    } catch {
      // An unwritable cache costs speed, never the list.
      delete memory.fileIdentity;
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
    if (typeof changeId !== 'string' || !isChangeId(changeId)) throw new InvalidChangeIdError(changeId);
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

function isRealDirectory(dir: string): boolean {
  try {
    return lstatSync(dir, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false;
  }
}

function folderMtime(dir: string): number {
  try {
    const stats = lstatSync(dir, { throwIfNoEntry: false });
    return stats?.isDirectory() ? stats.mtimeMs : -1;
  } catch {
    return -1; // EACCES, ENOTDIR: readChange says what is wrong
  }
}

/** A full check asked for: `writesAtStart` is undefined while it waits its turn. */
interface FullCheck {
  done: Promise<SummaryLoad>;
  listeners: Set<(progress: SummaryProgress) => void>;
  writesAtStart: number | undefined;
}

/** The index as a store holds it between reads. */
interface IndexMemory {
  stageIds: readonly string[];
  /** By change id; a targeted refresh updates it in place. */
  entries: Map<string, IndexEntry>;
  /** The change ids in listing order. */
  ids: string[];
  /** Changes read with problems: looked at on every refresh while they last. */
  withProblems: Set<string>;
  /** What the last full check's listing of the changes folder found wrong (a link, a file), which a targeted check does not list again. */
  listingProblems: RecordProblem[];
  /** The identity (inode, size, mtime) of the index file these entries match. */
  fileIdentity?: string;
  /** Newer than the file: the next full check writes it. */
  dirty: boolean;
}

function memoryOf(stageIds: readonly string[], entries: Map<string, IndexEntry>, ids: string[], fileIdentity: string | undefined, dirty: boolean): IndexMemory {
  const withProblems = new Set<string>();
  for (const [id, entry] of entries) if (entry.summary.problemCount > 0) withProblems.add(id);
  return { stageIds, entries, ids, withProblems, listingProblems: [], ...(fileIdentity ? { fileIdentity } : {}), dirty };
}

/**
 * Whether an entry still stands for its folder. A change that had problems never
 * does: read again, a problem not yet set aside (Restricted Mode, a refused link) is
 * reported on every refresh while it lasts.
 */
function isFresh(entry: IndexEntry, dirMtimeMs: number): boolean {
  return entry.summary.problemCount === 0 && isEntryFresh(entry, dirMtimeMs);
}

/** Progress for reading many changes the index does not have; none for re-listing folders touched recently. */
function progressFor(
  onProgress: (progress: SummaryProgress) => void,
  stale: ReadonlyArray<{ id: string }>,
  previous: ReadonlyMap<string, IndexEntry>,
  pipeline: Pipeline,
  total: number,
  summariesSoFar: () => ChangeSummary[],
) {
  const unknown = stale.filter(({ id }) => !previous.has(id)).length;
  return unknown >= PROGRESS_MIN_STALE ? progressTeller(onProgress, pipeline, total, total - stale.length, summariesSoFar) : undefined;
}

/**
 * Tells progress at the start, then every 5% of the changes or PROGRESS_INTERVAL_MS,
 * whichever comes first, with the summaries done so far.
 */
function progressTeller(onProgress: (progress: SummaryProgress) => void, pipeline: Pipeline, total: number, doneAtStart: number, summariesSoFar: () => ChangeSummary[]) {
  const step = Math.max(1, Math.ceil(total / 20));
  let told = 0;
  let done = doneAtStart;
  return {
    tell(start: boolean): void {
      if (!start) done++;
      // Node's global `performance`: importing node:perf_hooks would load it on every read, progress or not.
      const now = performance.now();
      if (!start && done % step !== 0 && now - told < PROGRESS_INTERVAL_MS) return;
      told = now;
      onProgress({ pipeline, summaries: summariesSoFar(), done, total });
    },
  };
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
