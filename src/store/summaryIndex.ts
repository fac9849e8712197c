// The summary index: one row of facts per change, in the per-user cache (cacheDir.ts),
// so opening the tree does not fold every event of every change. It is derived and
// rebuildable: deleting it loses nothing, a corrupt one is ignored. Each entry remembers
// what it summarised (event count, last event id) and the mtime of the change's events
// folder when it was taken; adding or removing an event file changes that folder's
// mtime, so a stale entry is found with one stat, and an entry whose folder changed is
// re-checked by listing the folder.
//
// A summary depends on the pipeline only through the order of its stage ids (titles,
// prompts, owners and criteria are not folded into statuses), and on a stage only when
// the change's events name it: so an edit of pipeline.json that keeps the stage ids
// keeps every row, and adding, removing or moving a stage refolds only the changes
// whose events name a stage whose place changed (adaptToStages).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ChangeState, StageStatus } from '../core/fold';
import type { FactoryEvent } from '../core/events';
import type { Pipeline } from '../core/pipeline';

// 2: rows carry the ticket (the change pickers show it). 3: the `sentBack` status, and
// statuses decided by the latest attempt. 4: passed-unverified. 5: keyed by the stage
// ids, not the whole pipeline; stages the events name; smaller rows. 6: columns, not
// rows; each distinct status string and branch prefix once; other stages only where
// there are some. An index of another version is rebuilt.
export const INDEX_SCHEMA_VERSION = 6;

export interface StageSummary {
  id: string;
  status: StageStatus;
  /** Passed with no positive evidence (see StageState.unverified). */
  unverified?: boolean;
  /** Some event of the change names this stage: its status depends on where the stage sits in the pipeline. */
  named?: boolean;
}

export interface ChangeSummary {
  id: string;
  title: string;
  ticket?: string;
  branch?: string;
  createdAt?: string;
  completed: boolean;
  activeStageId?: string;
  /** Shared between summaries with the same statuses, and frozen: read, never change. */
  stages: readonly StageSummary[];
  /** Stage ids the events name that the pipeline does not have (comma-separated): a pipeline that adds one refolds the change. */
  otherStages?: string;
  eventCount: number;
  lastEventId?: string;
  /** Files of this change that failed validation when it was last read. */
  problemCount: number;
}

const STATUS_CODES: Record<StageStatus, string> = { pending: 'p', running: 'r', passed: 'v', failed: 'f', needsApproval: 'a', stale: 's', sentBack: 'b' };
const STATUS_BY_CODE = new Map(Object.entries(STATUS_CODES).map(([status, code]) => [code, status as StageStatus]));
/** Passed, unverified: a stage status of its own in the index, so lists show it as the fold does. */
const PASSED_UNVERIFIED = 'u';
/** A status letter in upper case: the change's events name the stage. */
const codeOf = (s: StageSummary | undefined): string => {
  const code = s?.status === 'passed' && s.unverified ? PASSED_UNVERIFIED : STATUS_CODES[s?.status ?? 'pending'];
  return s?.named ? code.toUpperCase() : code;
};
const summaryOf = (id: string, code: string | undefined): StageSummary => {
  const lower = code?.toLowerCase();
  const stage: StageSummary = lower === PASSED_UNVERIFIED ? { id, status: 'passed', unverified: true } : { id, status: STATUS_BY_CODE.get(lower ?? 'p') ?? 'pending' };
  if (code !== undefined && code !== lower) stage.named = true;
  return stage;
};

export interface IndexEntry {
  summary: ChangeSummary;
  /** mtime of `changes/<id>/events/` observed before the events were read; -1 when absent; NaN when unknown (re-listed before trusted). */
  dirMtimeMs: number;
  /** Wall-clock time of that observation (compared with file-system times, so not the injected clock). */
  checkedAtMs: number;
}

// On disk the entries are columns, one array per field, in the same order (so JSON.parse
// makes a dozen arrays, not an array per change), in as few bytes as the views allow:
// - the stage statuses of a change are one letter per stage, in the order of the file's
//   `stageIds`, and each distinct status string is stored once: a row names it by its
//   place (most changes share a handful);
// - a branch named after its change (`factory/<id>`) is stored as the place of its
//   prefix, each distinct prefix once;
// - the stage ids that are not the pipeline's are stored only for the few changes that
//   have some;
// - what a view can derive is not stored (the active stage is the first not passed; an
//   entry taken too close to its folder's last change stores no mtime instead of the
//   time it was checked).
// Values are checked by hand as they are decoded, not by a zod schema: 10,000 rows are
// the whole cost of opening the tree, and a value that fails only costs a rebuild.
export interface IndexFile {
  v: typeof INDEX_SCHEMA_VERSION;
  /** The pipeline's stage ids in order, when the index was written: the one thing of the pipeline a summary depends on. */
  stageIds: string[];
  /** Each distinct stage-status string once: a letter per stage, upper case when the change's events name the stage. */
  statuses: string[];
  /** Each distinct prefix of a branch named after its change once. */
  branchPrefixes: string[];
  ids: string[];
  titles: string[];
  tickets: Array<string | null>;
  /** The branch, or the place in `branchPrefixes` of its prefix when it is that prefix and the change id. */
  branches: Array<string | number | null>;
  createdAt: Array<string | null>;
  completed: Array<0 | 1>;
  /** The place in `statuses` of each change's stage statuses. */
  status: number[];
  eventCounts: number[];
  lastEventIds: Array<string | null>;
  problemCounts: number[];
  /** null: taken within RACY_WINDOW_MS of the folder's change, so never trusted by mtime alone. */
  dirMtimesMs: Array<number | null>;
  /** By change id, for the changes whose events name stages the pipeline does not have. */
  otherStages: Record<string, string>;
}

/** The columns of an index file: arrays with one value per change. */
const COLUMNS = ['ids', 'titles', 'tickets', 'branches', 'createdAt', 'completed', 'status', 'eventCounts', 'lastEventIds', 'problemCounts', 'dirMtimesMs'] as const;

const STATUS_CODES_PATTERN = /^[prvfasbuPRVFASBU]*$/;

const isStringArray = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');

/** The header is checked, and that every column is an array of one value per change: each value is checked as it is decoded. */
type IndexHeader = Pick<IndexFile, 'stageIds' | 'statuses' | 'branchPrefixes' | 'ids'> & Record<(typeof COLUMNS)[number], unknown[]> & { otherStages: object };
const isIndexHeader = (x: unknown): x is IndexHeader => {
  const file = x as Partial<Record<keyof IndexFile, unknown>> | null;
  if (typeof file !== 'object' || file === null || file.v !== INDEX_SCHEMA_VERSION) return false;
  if (!isStringArray(file.stageIds) || !isStringArray(file.branchPrefixes)) return false;
  if (!isStringArray(file.statuses) || !file.statuses.every((codes) => STATUS_CODES_PATTERN.test(codes))) return false;
  if (typeof file.otherStages !== 'object' || file.otherStages === null) return false;
  const { ids } = file;
  return Array.isArray(ids) && COLUMNS.every((column) => Array.isArray(file[column]) && (file[column] as unknown[]).length === ids.length);
};

/**
 * A folder's mtime only moves in ticks (a few ms, a second on some file systems): a
 * change made within the same tick right after we looked would leave it unchanged.
 * Entries taken that close to the folder's last change are trusted only after a listing.
 */
export const RACY_WINDOW_MS = 2000;

const isSettled = (e: IndexEntry): boolean => e.dirMtimeMs >= 0 && e.checkedAtMs - e.dirMtimeMs > RACY_WINDOW_MS;

export function isEntryFresh(entry: IndexEntry, dirMtimeMs: number): boolean {
  return entry.dirMtimeMs === dirMtimeMs && entry.checkedAtMs - dirMtimeMs > RACY_WINDOW_MS;
}

export function encodeIndex(stageIds: readonly string[], entries: readonly IndexEntry[]): IndexFile {
  const file: IndexFile = {
    v: INDEX_SCHEMA_VERSION, stageIds: [...stageIds], statuses: [], branchPrefixes: [],
    ids: [], titles: [], tickets: [], branches: [], createdAt: [], completed: [], status: [], eventCounts: [], lastEventIds: [], problemCounts: [], dirMtimesMs: [], otherStages: {},
  };
  const placeOf = (values: string[], places: Map<string, number>, value: string): number => {
    let place = places.get(value);
    if (place === undefined) {
      place = values.push(value) - 1;
      places.set(value, place);
    }
    return place;
  };
  const statusPlaces = new Map<string, number>();
  const prefixPlaces = new Map<string, number>();
  for (const entry of entries) {
    const s = entry.summary;
    const namedAfterChange = s.branch !== undefined && s.branch.length > s.id.length && s.branch.endsWith(s.id);
    file.ids.push(s.id);
    file.titles.push(s.title);
    file.tickets.push(s.ticket ?? null);
    file.branches.push(namedAfterChange ? placeOf(file.branchPrefixes, prefixPlaces, s.branch!.slice(0, -s.id.length)) : (s.branch ?? null));
    file.createdAt.push(s.createdAt ?? null);
    file.completed.push(s.completed ? 1 : 0);
    file.status.push(placeOf(file.statuses, statusPlaces, stageIds.map((id, i) => codeOf(stageSummaryAt(s.stages, id, i))).join('')));
    file.eventCounts.push(s.eventCount);
    file.lastEventIds.push(s.lastEventId ?? null);
    file.problemCounts.push(s.problemCount);
    file.dirMtimesMs.push(isSettled(entry) ? entry.dirMtimeMs : entry.dirMtimeMs === -1 ? -1 : null);
    if (s.otherStages !== undefined) file.otherStages[s.id] = s.otherStages;
  }
  return file;
}

/**
 * The summary of stage `id`, which is usually at the pipeline's position `i`; else found
 * by id (a map per stages array, which summaries share). A search per stage made a
 * hostile pipeline of 10,000 stages take seconds per read.
 */
const byIdOf = new WeakMap<readonly StageSummary[], Map<string, StageSummary>>();
export function stageSummaryAt(stages: readonly StageSummary[], id: string, i: number): StageSummary | undefined {
  if (stages[i]?.id === id) return stages[i];
  let byId = byIdOf.get(stages);
  if (!byId) {
    byId = new Map();
    // The first of a repeated id, as a search finds it.
    for (const st of stages) if (!byId.has(st.id)) byId.set(st.id, st);
    byIdOf.set(stages, byId);
  }
  return byId.get(id);
}

const activeStageOf = (stages: readonly StageSummary[]): string | undefined => stages.find((s) => s.status !== 'passed')?.id;

/** What a parsed index file holds; undefined when any of it is malformed. */
export interface DecodedIndex {
  /** The stage ids the entries were taken with. */
  stageIds: string[];
  /** The change ids, in the file's order (the listing order when it was written). */
  ids: string[];
  entries: Map<string, IndexEntry>;
}

/**
 * Opens an index file: read, parse, check and decode every row. Synchronous, like the
 * small event files: one file of a couple of MB reads in about a millisecond, less than
 * two round trips through the thread pool on a busy machine. Throws when the file is
 * missing or not JSON; undefined when it is not an index this version wrote.
 */
export function readIndexFile(file: string): DecodedIndex | undefined {
  return decodeIndex(JSON.parse(readFileSync(file, 'utf8')));
}

export function decodeIndex(raw: unknown): DecodedIndex | undefined {
  if (!isIndexHeader(raw)) return undefined;
  const { stageIds, ids } = raw;
  // One frozen stages array (and its active stage) per distinct status string, shared by the summaries.
  const made = raw.statuses.map((codes) => {
    const stages = Object.freeze(stageIds.map((id, i) => Object.freeze(summaryOf(id, codes[i]))));
    return { stages, active: activeStageOf(stages) };
  });
  const entries = decodeRows(raw, made);
  // The same id twice: not a file this store wrote.
  if (!entries || entries.size !== ids.length) return undefined;
  for (const [id, others] of Object.entries(raw.otherStages)) {
    const entry = entries.get(id);
    if (!entry || typeof others !== 'string') return undefined;
    entry.summary.otherStages = others;
  }
  return { stageIds, ids, entries };
}

/**
 * Checks each row as it decodes it, in one pass with indexed reads and plain assignments
 * straight into the map. A function of its own, as small as it can be: this loop runs
 * 10,000 times in a fresh process, where V8 compiles it while it runs (on-stack
 * replacement), and that compilation costs in proportion to the function, the header
 * checks and the shared statuses included when they were in it. A malformed row only
 * costs a rebuild.
 */
function decodeRows(file: IndexHeader, made: ReadonlyArray<{ stages: readonly StageSummary[]; active: string | undefined }>): Map<string, IndexEntry> | undefined {
  const { branchPrefixes, ids, titles, tickets, branches, createdAt: createdAts, completed: completes, status, eventCounts, lastEventIds, problemCounts, dirMtimesMs } = file;
  const entries = new Map<string, IndexEntry>();
  for (let i = 0; i < ids.length; i++) {
    // Checked inline, not through helpers: in a fresh process this loop runs before the
    // JIT has compiled anything, where every call costs.
    const id = ids[i], title = titles[i], ticket = tickets[i], createdAt = createdAts[i], completed = completes[i];
    const eventCount = eventCounts[i], lastEventId = lastEventIds[i], problemCount = problemCounts[i], dirMtimeMs = dirMtimesMs[i];
    if (typeof id !== 'string' || typeof title !== 'string' || (completed !== 0 && completed !== 1)) return undefined;
    if ((ticket !== null && typeof ticket !== 'string') || (createdAt !== null && typeof createdAt !== 'string') || (lastEventId !== null && typeof lastEventId !== 'string')) return undefined;
    // Counts are whole and not negative (below 2^32); JSON has no NaN or Infinity, so a number is finite.
    if ((eventCount as number) >>> 0 !== eventCount || (problemCount as number) >>> 0 !== problemCount || (dirMtimeMs !== null && typeof dirMtimeMs !== 'number')) return undefined;
    const place = status[i];
    const statuses = typeof place === 'number' ? made[place] : undefined;
    if (!statuses) return undefined;
    const stored = branches[i];
    let branch: string | null;
    if (typeof stored === 'number') {
      const prefix = branchPrefixes[stored];
      if (prefix === undefined) return undefined;
      branch = prefix + id;
    } else if (stored === null || typeof stored === 'string') branch = stored;
    else return undefined;
    const summary: ChangeSummary = { id, title, completed: completed === 1, stages: statuses.stages, eventCount: eventCount as number, problemCount: problemCount as number };
    if (ticket !== null) summary.ticket = ticket;
    if (branch !== null) summary.branch = branch;
    if (createdAt !== null) summary.createdAt = createdAt;
    if (statuses.active !== undefined) summary.activeStageId = statuses.active;
    if (lastEventId !== null) summary.lastEventId = lastEventId;
    // A settled entry stays settled: only its mtime is compared from now on.
    entries.set(id, { summary, dirMtimeMs: (dirMtimeMs as number | null) ?? Number.NaN, checkedAtMs: Number.POSITIVE_INFINITY });
  }
  return entries;
}

/**
 * The entries for a pipeline with other stage ids, without folding: a change whose
 * events name no stage that was added, removed or moved relative to the others it
 * names keeps its statuses (a stage no event names is pending wherever it sits; a
 * send-back resets the stages after its target, so only the order of named stages
 * matters). The others are left out, to be refolded.
 */
export function adaptToStages(entries: readonly IndexEntry[], from: readonly string[], to: readonly string[]): IndexEntry[] {
  const position = new Map(to.map((id, i) => [id, i]));
  const target = new Set(to);
  const adapted = new Map<string, readonly StageSummary[]>();
  const kept: IndexEntry[] = [];
  for (const entry of entries) {
    const s = entry.summary;
    if (s.otherStages?.split(',').some((id) => target.has(id))) continue;
    const named = s.stages.filter((st) => st.named);
    let last = -1;
    let inOrder = true;
    for (const st of named) {
      const at = position.get(st.id);
      if (at === undefined || at < last) {
        inOrder = false;
        break;
      }
      last = at;
    }
    if (!inOrder) continue;
    const codes = from.map((id) => codeOf(s.stages.find((st) => st.id === id))).join('');
    let stages = adapted.get(codes);
    if (!stages) {
      const byId = new Map(s.stages.map((st) => [st.id, st]));
      stages = Object.freeze(to.map((id) => byId.get(id) ?? Object.freeze<StageSummary>({ id, status: 'pending' })));
      adapted.set(codes, stages);
    }
    const summary: ChangeSummary = { ...s, stages };
    const active = activeStageOf(stages);
    if (active !== undefined) summary.activeStageId = active;
    else delete summary.activeStageId;
    kept.push({ ...entry, summary });
  }
  return kept;
}

const STAGE_FIELDS = ['stageId', 'fromStage', 'toStage'] as const;

export function summarize(state: ChangeState, events: readonly FactoryEvent[], problemCount: number): ChangeSummary {
  let last: string | undefined;
  const named = new Set<string>();
  for (const e of events) {
    if (last === undefined || e.id > last) last = e.id;
    const data = e.data as Record<string, unknown> | undefined;
    for (const field of STAGE_FIELDS) {
      const id = data?.[field];
      if (typeof id === 'string') named.add(id);
    }
  }
  const inPipeline = new Set(state.stages.map((s) => s.id));
  const others = [...named].filter((id) => !inPipeline.has(id)).sort();
  return {
    id: state.id,
    title: state.title,
    ...(state.ticket ? { ticket: state.ticket } : {}),
    ...(state.branch ? { branch: state.branch } : {}),
    ...(state.createdAt ? { createdAt: state.createdAt } : {}),
    completed: state.completed,
    ...(state.activeStageId ? { activeStageId: state.activeStageId } : {}),
    stages: state.stages.map((s) => ({ id: s.id, status: s.status, ...(s.unverified ? { unverified: true } : {}), ...(named.has(s.id) ? { named: true } : {}) })),
    ...(others.length > 0 ? { otherStages: others.join(',') } : {}),
    eventCount: events.length,
    ...(last ? { lastEventId: last } : {}),
    problemCount,
  };
}

/** What a summary depends on of the pipeline: the stage ids in order. */
export function stageIdsOf(pipeline: Pipeline): string[] {
  return pipeline.stages.map((s) => s.id);
}

export function pipelineHash(pipeline: Pipeline): string {
  return createHash('sha256').update(JSON.stringify(pipeline)).digest('hex');
}
