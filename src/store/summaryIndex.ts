// The summary index: `.factory/.cache/index.json`, one line of facts per change, so
// opening the tree does not fold every event of every change. It is derived and
// rebuildable: deleting it loses nothing, a corrupt one is ignored, and it is ignored
// by git. Each entry remembers what it summarised (event count, last event id) and the
// mtime of the change's events folder when it was taken; adding or removing an event
// file changes that folder's mtime, so a stale entry is found with one stat, and an
// entry whose folder changed is re-checked by listing the folder.
import { createHash } from 'node:crypto';
import * as z from 'zod';
import type { ChangeState, StageStatus } from '../core/fold';
import type { FactoryEvent } from '../core/events';
import type { Pipeline } from '../core/pipeline';

// 2: rows carry the ticket (the change pickers show it). 3: the `sentBack` status, and
// statuses decided by the latest attempt. 4: passed-unverified. An index of another
// version is rebuilt.
export const INDEX_SCHEMA_VERSION = 4;

export interface StageSummary {
  id: string;
  status: StageStatus;
  /** Passed with no positive evidence (see StageState.unverified). */
  unverified?: boolean;
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
  eventCount: number;
  lastEventId?: string;
  /** Files of this change that failed validation when it was last read. */
  problemCount: number;
}

const STATUS_CODES: Record<StageStatus, string> = { pending: 'p', running: 'r', passed: 'v', failed: 'f', needsApproval: 'a', stale: 's', sentBack: 'b' };
const STATUS_BY_CODE = new Map(Object.entries(STATUS_CODES).map(([status, code]) => [code, status as StageStatus]));
/** Passed, unverified: a stage status of its own in the index, so lists show it as the fold does. */
const PASSED_UNVERIFIED = 'u';
const codeOf = (s: StageSummary | undefined): string => (s?.status === 'passed' && s.unverified ? PASSED_UNVERIFIED : STATUS_CODES[s?.status ?? 'pending']);
const summaryOf = (id: string, code: string | undefined): StageSummary =>
  code === PASSED_UNVERIFIED ? { id, status: 'passed', unverified: true } : { id, status: STATUS_BY_CODE.get(code ?? 'p') ?? 'pending' };

export interface IndexEntry {
  summary: ChangeSummary;
  /** mtime of `changes/<id>/events/` observed before the events were read; -1 when absent. */
  dirMtimeMs: number;
  /** Wall-clock time of that observation (compared with file-system times, so not the injected clock). */
  checkedAtMs: number;
}

// On disk each entry is a flat row and stage statuses one letter each, in the order of
// the file's `stageIds`: a tenth of the bytes of objects. Rows are checked by hand, not
// by a zod tuple: 10,000 of them are the whole cost of opening the tree (zod took
// 30–90 ms, this check takes about 1), and a row that fails only costs a rebuild.
type Row = [
  id: string,
  title: string,
  ticket: string | null,
  branch: string | null,
  createdAt: string | null,
  completed: boolean,
  activeStageId: string | null,
  statusCodes: string,
  eventCount: number,
  lastEventId: string | null,
  problemCount: number,
  dirMtimeMs: number,
  checkedAtMs: number,
];

const STATUS_CODES_PATTERN = /^[prvfasbu]*$/;
const isCount = (x: unknown): boolean => Number.isInteger(x) && (x as number) >= 0;
const isStringOrNull = (x: unknown): boolean => x === null || typeof x === 'string';

export function isIndexRow(x: unknown): x is Row {
  if (!Array.isArray(x) || x.length !== 13) return false;
  const [id, title, ticket, branch, createdAt, completed, activeStageId, codes, eventCount, lastEventId, problemCount, dirMtimeMs, checkedAtMs] = x as unknown[];
  return (
    typeof id === 'string' &&
    typeof title === 'string' &&
    isStringOrNull(ticket) &&
    isStringOrNull(branch) &&
    isStringOrNull(createdAt) &&
    typeof completed === 'boolean' &&
    isStringOrNull(activeStageId) &&
    typeof codes === 'string' &&
    STATUS_CODES_PATTERN.test(codes) &&
    isCount(eventCount) &&
    isStringOrNull(lastEventId) &&
    isCount(problemCount) &&
    Number.isFinite(dirMtimeMs) &&
    Number.isFinite(checkedAtMs)
  );
}

export const IndexFileSchema = z.object({
  v: z.literal(INDEX_SCHEMA_VERSION),
  /** Stage statuses depend on the pipeline: a different pipeline invalidates every entry. */
  pipelineHash: z.string(),
  stageIds: z.array(z.string()),
  rows: z.custom<Row[]>((rows) => Array.isArray(rows) && rows.every(isIndexRow), 'a row of the index is malformed'),
});
export type IndexFile = z.infer<typeof IndexFileSchema>;

export function encodeIndex(pipelineHash: string, stageIds: readonly string[], entries: readonly IndexEntry[]): IndexFile {
  const rows = entries.map(({ summary: s, dirMtimeMs, checkedAtMs }): Row => [
    s.id,
    s.title,
    s.ticket ?? null,
    s.branch ?? null,
    s.createdAt ?? null,
    s.completed,
    s.activeStageId ?? null,
    stageIds.map((id) => codeOf(s.stages.find((st) => st.id === id))).join(''),
    s.eventCount,
    s.lastEventId ?? null,
    s.problemCount,
    dirMtimeMs,
    checkedAtMs,
  ]);
  return { v: INDEX_SCHEMA_VERSION, pipelineHash, stageIds: [...stageIds], rows };
}

/** The entries of a parsed index file, or undefined when it does not validate. */
export function decodeIndex(raw: unknown): { pipelineHash: string; entries: IndexEntry[] } | undefined {
  const parsed = IndexFileSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const { stageIds, rows, pipelineHash } = parsed.data;
  // Plain assignments rather than conditional spreads, and one frozen stages array per
  // distinct status string (a handful), shared: this runs 10,000 times per open.
  const stagesByCodes = new Map<string, readonly StageSummary[]>();
  const stagesFor = (codes: string): readonly StageSummary[] => {
    let stages = stagesByCodes.get(codes);
    if (!stages) {
      stages = Object.freeze(stageIds.map((id, i) => Object.freeze(summaryOf(id, codes[i]))));
      stagesByCodes.set(codes, stages);
    }
    return stages;
  };
  const entries = rows.map(([id, title, ticket, branch, createdAt, completed, activeStageId, codes, eventCount, lastEventId, problemCount, dirMtimeMs, checkedAtMs]): IndexEntry => {
    const summary: ChangeSummary = { id, title, completed, stages: stagesFor(codes), eventCount, problemCount };
    if (ticket !== null) summary.ticket = ticket;
    if (branch !== null) summary.branch = branch;
    if (createdAt !== null) summary.createdAt = createdAt;
    if (activeStageId !== null) summary.activeStageId = activeStageId;
    if (lastEventId !== null) summary.lastEventId = lastEventId;
    return { summary, dirMtimeMs, checkedAtMs };
  });
  return { pipelineHash, entries };
}

/**
 * A folder's mtime only moves in ticks (a few ms, a second on some file systems): a
 * change made within the same tick right after we looked would leave it unchanged.
 * Entries taken that close to the folder's last change are trusted only after a listing.
 */
export const RACY_WINDOW_MS = 2000;

export function isEntryFresh(entry: IndexEntry, dirMtimeMs: number): boolean {
  return entry.dirMtimeMs === dirMtimeMs && entry.checkedAtMs - dirMtimeMs > RACY_WINDOW_MS;
}

export function summarize(state: ChangeState, events: readonly FactoryEvent[], problemCount: number): ChangeSummary {
  const last = events.reduce<string | undefined>((max, e) => (max === undefined || e.id > max ? e.id : max), undefined);
  return {
    id: state.id,
    title: state.title,
    ...(state.ticket ? { ticket: state.ticket } : {}),
    ...(state.branch ? { branch: state.branch } : {}),
    ...(state.createdAt ? { createdAt: state.createdAt } : {}),
    completed: state.completed,
    ...(state.activeStageId ? { activeStageId: state.activeStageId } : {}),
    stages: state.stages.map((s) => ({ id: s.id, status: s.status, ...(s.unverified ? { unverified: true } : {}) })),
    eventCount: events.length,
    ...(last ? { lastEventId: last } : {}),
    problemCount,
  };
}

export function pipelineHash(pipeline: Pipeline): string {
  return createHash('sha256').update(JSON.stringify(pipeline)).digest('hex');
}
