// The summary index: `.factory/.cache/index.json`, one line of facts per change, so
// opening the tree does not fold every event of every change. It is derived and
// rebuildable: deleting it loses nothing, a corrupt one is ignored, and it is ignored
// by git. Each entry remembers what it summarised (event count, last event id) and the
// mtime of the change's events folder when it was taken; adding or removing an event
// file changes that folder's mtime, so a stale entry is found with one stat, and an
// entry whose folder changed is re-checked by listing the folder.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ChangeState, StageStatus } from '../core/fold';
import type { FactoryEvent } from '../core/events';
import type { Pipeline } from '../core/pipeline';

export const INDEX_SCHEMA_VERSION = 1;

export interface StageSummary {
  id: string;
  status: StageStatus;
}

export interface ChangeSummary {
  id: string;
  title: string;
  branch?: string;
  createdAt?: string;
  completed: boolean;
  activeStageId?: string;
  stages: StageSummary[];
  eventCount: number;
  lastEventId?: string;
  /** Files of this change that failed validation when it was last read. */
  problemCount: number;
}

const StageStatusSchema = z.enum(['pending', 'running', 'passed', 'failed', 'needsApproval', 'stale']);

export const ChangeSummarySchema = z.object({
  id: z.string(),
  title: z.string(),
  branch: z.string().optional(),
  createdAt: z.string().optional(),
  completed: z.boolean(),
  activeStageId: z.string().optional(),
  stages: z.array(z.object({ id: z.string(), status: StageStatusSchema })),
  eventCount: z.number().int().nonnegative(),
  lastEventId: z.string().optional(),
  problemCount: z.number().int().nonnegative(),
});

export const IndexEntrySchema = z.object({
  summary: ChangeSummarySchema,
  /** mtime of `changes/<id>/events/` observed before the events were read; -1 when absent. */
  dirMtimeMs: z.number(),
  /** Wall-clock time of that observation (compared with file-system times, so not the injected clock). */
  checkedAtMs: z.number(),
});
export type IndexEntry = z.infer<typeof IndexEntrySchema>;

export const IndexFileSchema = z.object({
  v: z.literal(INDEX_SCHEMA_VERSION),
  /** Stage statuses depend on the pipeline: a different pipeline invalidates every entry. */
  pipelineHash: z.string(),
  entries: z.array(IndexEntrySchema),
});
export type IndexFile = z.infer<typeof IndexFileSchema>;

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
    ...(state.branch ? { branch: state.branch } : {}),
    ...(state.createdAt ? { createdAt: state.createdAt } : {}),
    completed: state.completed,
    ...(state.activeStageId ? { activeStageId: state.activeStageId } : {}),
    stages: state.stages.map((s) => ({ id: s.id, status: s.status })),
    eventCount: events.length,
    ...(last ? { lastEventId: last } : {}),
    problemCount,
  };
}

export function pipelineHash(pipeline: Pipeline): string {
  return createHash('sha256').update(JSON.stringify(pipeline)).digest('hex');
}
