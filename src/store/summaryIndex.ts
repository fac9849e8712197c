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
import type { ChangeState, StageStatus } from '../core/fold';
import type { FactoryEvent } from '../core/events';
import type { Pipeline } from '../core/pipeline';

// 2: rows carry the ticket (the change pickers show it). 3: the `sentBack` status, and
// statuses decided by the latest attempt. 4: passed-unverified. 5: keyed by the stage
// ids, not the whole pipeline; stages the events name; smaller rows. An index of
// another version is rebuilt.
export const INDEX_SCHEMA_VERSION = 5;

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

// On disk each entry is a flat row and stage statuses one letter each, in the order of
// the file's `stageIds`: a tenth of the bytes of objects. What a view can derive is not
// stored (the active stage is the first not passed; an entry taken too close to its
// folder's last change stores no mtime instead of the time it was checked). Rows are
// checked by hand, not by a zod tuple: 10,000 of them are the whole cost of opening the
// tree (zod took 30–90 ms, this check takes about 1), and a row that fails only costs a
// rebuild.
type Row = [
  id: string,
  title: string,
  ticket: string | null,
  branch: string | null,
  createdAt: string | null,
  completed: 0 | 1,
  statusCodes: string,
  eventCount: number,
  lastEventId: string | null,
  problemCount: number,
  /** null: taken within RACY_WINDOW_MS of the folder's change, so never trusted by mtime alone. */
  dirMtimeMs: number | null,
  otherStages: string | null,
];

const STATUS_CODES_PATTERN = /^[prvfasbuPRVFASBU]*$/;
export interface IndexFile {
  v: typeof INDEX_SCHEMA_VERSION;
  /** The pipeline's stage ids in order, when the index was written: the one thing of the pipeline a summary depends on. */
  stageIds: string[];
  rows: Row[];
}

const isIndexHeader = (x: unknown): x is { v: number; stageIds: string[]; rows: unknown[] } => {
  const file = x as Partial<IndexFile> | null;
  return (
    typeof file === 'object' && file !== null && file.v === INDEX_SCHEMA_VERSION &&
    Array.isArray(file.stageIds) && file.stageIds.every((id) => typeof id === 'string') && Array.isArray(file.rows)
  );
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
  const rows = entries.map((entry): Row => {
    const s = entry.summary;
    return [
      s.id,
      s.title,
      s.ticket ?? null,
      s.branch ?? null,
      s.createdAt ?? null,
      s.completed ? 1 : 0,
      stageIds.map((id) => codeOf(s.stages.find((st) => st.id === id))).join(''),
      s.eventCount,
      s.lastEventId ?? null,
      s.problemCount,
      isSettled(entry) ? entry.dirMtimeMs : entry.dirMtimeMs === -1 ? -1 : null,
      s.otherStages ?? null,
    ];
  });
  return { v: INDEX_SCHEMA_VERSION, stageIds: [...stageIds], rows };
}

/** Shares one frozen stages array (and its active stage) per distinct status string (a handful) between summaries. */
function stagesCache(stageIds: readonly string[]): (codes: string) => { stages: readonly StageSummary[]; active: string | undefined } | undefined {
  const byCodes = new Map<string, { stages: readonly StageSummary[]; active: string | undefined }>();
  return (codes) => {
    let made = byCodes.get(codes);
    if (!made) {
      if (!STATUS_CODES_PATTERN.test(codes)) return undefined;
      const stages = Object.freeze(stageIds.map((id, i) => Object.freeze(summaryOf(id, codes[i]))));
      made = { stages, active: activeStageOf(stages) };
      byCodes.set(codes, made);
    }
    return made;
  };
}

const activeStageOf = (stages: readonly StageSummary[]): string | undefined => stages.find((s) => s.status !== 'passed')?.id;

/** The entries of a parsed index file by change id, and the stage ids they were taken with; undefined when any of it is malformed. */
export function decodeIndex(raw: unknown): { stageIds: string[]; entries: Map<string, IndexEntry> } | undefined {
  if (!isIndexHeader(raw)) return undefined;
  const { stageIds, rows } = raw;
  const stagesFor = stagesCache(stageIds);
  // One pass that checks each row as it decodes it, with indexed reads and plain
  // assignments straight into the map: this runs 10,000 times per open, and opening
  // the index should cost little more than parsing it (a separate zod pass over the
  // rows cost more than the decoding). A malformed row only costs a rebuild.
  const entries = new Map<string, IndexEntry>();
  // Rows in a row often share their statuses (most changes are done).
  let lastCodes: string | undefined;
  let made: ReturnType<typeof stagesFor> = undefined;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Row;
    // Checked inline, not through helpers: in a fresh process this loop runs before the
    // JIT has compiled anything, where every call costs.
    if (!Array.isArray(row) || row.length !== 12) return undefined;
    const id = row[0], title = row[1], ticket = row[2], branch = row[3], createdAt = row[4], completed = row[5];
    const eventCount = row[7], lastEventId = row[8], problemCount = row[9], dirMtimeMs = row[10], otherStages = row[11];
    if (typeof id !== 'string' || typeof title !== 'string' || (completed !== 0 && completed !== 1)) return undefined;
    if ((ticket !== null && typeof ticket !== 'string') || (branch !== null && typeof branch !== 'string') || (createdAt !== null && typeof createdAt !== 'string')) return undefined;
    if ((lastEventId !== null && typeof lastEventId !== 'string') || (otherStages !== null && typeof otherStages !== 'string')) return undefined;
    // Counts are whole and not negative (below 2^32); JSON has no NaN or Infinity, so a number is finite.
    if (eventCount >>> 0 !== eventCount || problemCount >>> 0 !== problemCount || (dirMtimeMs !== null && typeof dirMtimeMs !== 'number')) return undefined;
    const codes = row[6];
    if (codes !== lastCodes) {
      made = typeof codes === 'string' ? stagesFor(codes) : undefined;
      if (!made) return undefined;
      lastCodes = codes;
    }
    const summary: ChangeSummary = { id, title, completed: completed === 1, stages: made!.stages, eventCount, problemCount };
    if (ticket !== null) summary.ticket = ticket;
    if (branch !== null) summary.branch = branch;
    if (createdAt !== null) summary.createdAt = createdAt;
    if (made!.active !== undefined) summary.activeStageId = made!.active;
    if (lastEventId !== null) summary.lastEventId = lastEventId;
    if (otherStages !== null) summary.otherStages = otherStages;
    // A settled entry stays settled: only its mtime is compared from now on.
    entries.set(id, { summary, dirMtimeMs: dirMtimeMs ?? Number.NaN, checkedAtMs: Number.POSITIVE_INFINITY });
  }
  return { stageIds, entries };
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
