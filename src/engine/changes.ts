// Use cases around changes: start one, list them, load one's state, find the one
// bound to a branch. Called by ui/ and cli/ alike.
import { CHANGE_ID_PATTERN } from '../core/events';
import { foldChange, type ChangeState, type FoldOptions, type StageState, type StageStatus } from '../core/fold';
import type { Pipeline } from '../core/pipeline';
import type { RecordProblem, RecordStore, SummaryOptions, SummaryPort } from '../store/recordStore';
import { stageSummaryAt, type ChangeSummary } from '../store/summaryIndex';
import type { EngineDeps } from './ports';

export type BranchMode = 'bindCurrent' | 'createBranch' | 'none';

export interface StartChangeInput {
  title: string;
  description?: string;
  ticket?: string;
  branchMode: BranchMode;
}

export interface LoadedChange {
  state: ChangeState;
  problems: RecordProblem[];
  /** How many valid events the change has (0: there is no such change). */
  eventCount: number;
}

export interface ChangeList {
  pipeline?: Pipeline;
  changes: ChangeState[];
  problems: RecordProblem[];
  /** From the summary index: how many changes had to be read and folded (their entry was missing or stale). */
  refolded?: number;
  /** From the summary index: how many change folders were looked at (all of them on a full check). */
  checked?: number;
}

export interface ListOptions {
  /** Only these change folders changed since the last list (a file watcher said so): see SummaryOptions.changed. */
  changed?: readonly string[];
  /** The list as it fills in while many changes are indexed, with how far indexing is. */
  onProgress?: (list: ChangeList & { pipeline: Pipeline; indexing: { done: number; total: number } }) => void;
}

export class PipelineInvalidError extends Error {
  constructor(readonly problems: RecordProblem[]) {
    super(problems.map((p) => `${p.path}${p.field ? ` (${p.field})` : ''}: ${p.message}`).join('; '));
    this.name = 'PipelineInvalidError';
  }
}

async function requirePipeline(deps: EngineDeps, createIfMissing: boolean): Promise<Pipeline> {
  const { pipeline, problems } = await deps.store.loadPipeline({ createIfMissing });
  if (!pipeline) throw new PipelineInvalidError(problems);
  return pipeline;
}

export async function startChange(deps: EngineDeps, input: StartChangeInput): Promise<ChangeState> {
  const title = input.title.trim();
  if (!title) throw new Error('A change needs a title.');
  const pipeline = await requirePipeline(deps, true);
  const changeId = deps.store.newChangeId(title);
  let branch: string | undefined;
  if (input.branchMode === 'createBranch') {
    branch = changeBranchName(changeId);
    await deps.git.createBranch(branch);
  } else if (input.branchMode === 'bindCurrent') {
    branch = await deps.git.currentBranch();
  }
  const by = await deps.git.identity();
  const event = await deps.store.append(changeId, {
    type: 'change.created',
    by,
    data: {
      title,
      ...(input.description?.trim() ? { description: input.description.trim() } : {}),
      ...(input.ticket?.trim() ? { ticket: input.ticket.trim() } : {}),
      ...(branch ? { branch } : {}),
    },
  });
  return foldChange(changeId, pipeline, [event]);
}

/** `options.currentTree`: the working-tree hash now, so results verified at another tree fold as stale. */
export async function listChanges(deps: EngineDeps, options: FoldOptions = {}): Promise<ChangeList> {
  const { pipeline, problems } = await deps.store.loadPipeline({ createIfMissing: false });
  if (!pipeline) return { changes: [], problems };
  const ids = await deps.store.listChangeIds();
  const records = await Promise.all(ids.map((id) => deps.store.readChange(id)));
  const changes = byCreation(records.filter((r) => r.events.length > 0).map((r) => foldChange(r.changeId, pipeline, r.events, options)));
  return { pipeline, changes, problems: [...problems, ...records.flatMap((r) => r.problems)] };
}

/**
 * The changes for lists and pickers, from the store's summary index when it has one:
 * one small file instead of folding every event of every change. A summary-backed
 * state has stage statuses but no attempts or results; `loadChange` gives the rest.
 */
export async function listChangeSummaries(deps: EngineDeps, options: ListOptions = {}): Promise<ChangeList> {
  const store = deps.store as RecordStore & Partial<SummaryPort>;
  if (typeof store.summaries !== 'function') return listChanges(deps);
  const { onProgress } = options;
  const summaryOptions: SummaryOptions = {
    ...(options.changed ? { changed: options.changed } : {}),
    ...(onProgress
      ? { onProgress: (p) => onProgress({ pipeline: p.pipeline, changes: statesOf(p.summaries, p.pipeline), problems: [], indexing: { done: p.done, total: p.total } }) }
      : {}),
  };
  // One read of pipeline.json: the store's summaries() reads it and hands it back.
  const load = await store.summaries(summaryOptions);
  const pipeline = load.pipeline;
  if (!pipeline) return { changes: [], problems: load.problems };
  return { pipeline, changes: statesOf(load.summaries, pipeline), problems: load.problems, refolded: load.refolded, checked: load.checked };
}

/**
 * The states of summaries, oldest first. A refresh hands back the same summary objects
 * for the changes that did not move (and the store the same pipeline object while the
 * file is unchanged), so their states are made once and reused, and when the changes
 * are those of the last list with a few replaced in place, the last order is kept
 * without sorting again: a refresh after one event costs what changed.
 */
function statesOf(summaries: readonly ChangeSummary[], pipeline: Pipeline): ChangeState[] {
  let made = statesByPipeline.get(pipeline);
  if (!made) {
    made = { stageOf: sharedStages(pipeline), states: new WeakMap() };
    statesByPipeline.set(pipeline, made);
  }
  const { stageOf, states } = made;
  const list: ChangeState[] = [];
  for (const summary of summaries) {
    if (summary.eventCount === 0) continue;
    let state = states.get(summary);
    if (!state) {
      state = stateFromSummary(summary, pipeline, stageOf);
      states.set(summary, state);
    }
    list.push(state);
  }
  const sorted = made.last ? sameOrder(made.last, list) : undefined;
  made.last = { list, sorted: sorted ?? byCreation(list) };
  return [...made.last.sorted];
}

interface MadeStates {
  stageOf: SharedStage;
  states: WeakMap<ChangeSummary, ChangeState>;
  /** The last list made and its order by creation. */
  last?: { list: ChangeState[]; sorted: ChangeState[] };
}
const statesByPipeline = new WeakMap<Pipeline, MadeStates>();

/** The last order with the states replaced in place, when `list` differs from the last list only by such replacements. */
function sameOrder(last: { list: ChangeState[]; sorted: ChangeState[] }, list: ChangeState[]): ChangeState[] | undefined {
  if (last.list.length !== list.length) return undefined;
  const replaced = new Map<ChangeState, ChangeState>();
  for (let i = 0; i < list.length; i++) {
    const before = last.list[i]!;
    const now = list[i]!;
    if (before === now) continue;
    if (before.id !== now.id || before.createdAt !== now.createdAt) return undefined;
    replaced.set(before, now);
  }
  return replaced.size === 0 ? last.sorted : last.sorted.map((s) => replaced.get(s) ?? s);
}

type SharedStage = (stageId: string, status: StageStatus, unverified?: boolean) => StageState;

/**
 * A summary-backed stage (no attempts, no results) depends only on its id and status,
 * so one frozen object per pair serves every change: 10,000 changes then cost 10,000
 * small objects per refresh, not 50,000 stages with two arrays each.
 */
function sharedStages(pipeline: Pipeline): SharedStage {
  const cache = new Map<string, StageState>();
  const none = Object.freeze([]) as unknown as never[];
  // By id, not a search per miss: a pipeline of 10,000 stages made every refresh quadratic.
  const definitions = new Map(pipeline.stages.map((s) => [s.id, s]));
  return (stageId, status, unverified) => {
    const key = `${stageId}\u0000${status}\u0000${unverified ? 'u' : ''}`;
    let stage = cache.get(key);
    if (!stage) {
      const def = definitions.get(stageId)!;
      stage = Object.freeze({ id: def.id, title: def.title, role: def.role, owner: def.owner, status, attempts: none, results: none, handedOff: false, approved: false, ...(unverified ? { unverified } : {}) });
      cache.set(key, stage);
    }
    return stage;
  };
}

const NO_VERIFICATION = Object.freeze({ state: 'none', passed: 0, failed: 0, stale: 0, total: 0 } as const);

function stateFromSummary(summary: ChangeSummary, pipeline: Pipeline, stageOf: SharedStage): ChangeState {
  const state: ChangeState = {
    id: summary.id,
    title: summary.title,
    completed: summary.completed,
    stages: stagesFromSummary(summary, pipeline, stageOf),
    verification: NO_VERIFICATION,
    unknownEvents: 0,
  };
  if (summary.ticket) state.ticket = summary.ticket;
  if (summary.branch) state.branch = summary.branch;
  if (summary.createdAt) state.createdAt = summary.createdAt;
  if (summary.activeStageId) state.activeStageId = summary.activeStageId;
  return state;
}

/** The pipeline's stages with the summary's statuses (each found where it usually is, else by id: a search per stage was quadratic in the stage count). */
function stagesFromSummary(summary: ChangeSummary, pipeline: Pipeline, stageOf: SharedStage): StageState[] {
  return pipeline.stages.map((stage, i) => {
    const found = stageSummaryAt(summary.stages, stage.id, i);
    return stageOf(stage.id, found?.status ?? 'pending', found?.unverified);
  });
}

/** Oldest first, so "the newest change bound to a branch" is the last one. */
export function byCreation(changes: ChangeState[]): ChangeState[] {
  // Code-unit order, not localeCompare: ISO times and ids are ASCII, and 10,000 changes
  // sort in a few ms instead of tens.
  const key = (c: ChangeState) => `${c.createdAt ?? ''}\u0000${c.id}`;
  return changes.map((c) => ({ c, k: key(c) })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0)).map((x) => x.c);
}

export interface LoadOptions extends FoldOptions {
  /**
   * The working-tree hash when `currentTree` is not known: asked only if the change has
   * a result or an approval bound to a tree (dependsOnTree), as hashing the tree costs
   * git processes and, without such a result, the fold is the same with or without it.
   */
  treeWhenNeeded?: () => Promise<string | undefined>;
}

/** `pipeline`: when the caller has just read it (a refresh), it is not read again. */
export async function loadChange(deps: EngineDeps, changeId: string, options: LoadOptions = {}, pipeline?: Pipeline): Promise<LoadedChange & { pipeline: Pipeline }> {
  pipeline ??= await requirePipeline(deps, false);
  const record = await deps.store.readChange(changeId);
  const { treeWhenNeeded, ...fold } = options;
  let state = foldChange(changeId, pipeline, record.events, fold);
  if (fold.currentTree === undefined && treeWhenNeeded && dependsOnTree(state)) {
    const currentTree = await treeWhenNeeded();
    if (currentTree !== undefined) state = foldChange(changeId, pipeline, record.events, { currentTree });
  }
  return { pipeline, state, problems: record.problems, eventCount: record.events.length };
}

/**
 * Whether a change's state depends on the working tree now: a result verified at a
 * tree, or an approval given on one (core/fold.ts stales those against it). Nothing
 * else of a fold reads the current tree.
 */
export function dependsOnTree(state: ChangeState): boolean {
  return state.stages.some((s) => s.approvedTree !== undefined || s.results.some((r) => r.verifiedTree !== undefined));
}

/** The open change bound to `branch`, newest first, if any. */
const CHANGE_BRANCH_PREFIX = 'factory/';

/** The branch `change start --branch createBranch` makes for a change. */
export function changeBranchName(changeId: string): string {
  return `${CHANGE_BRANCH_PREFIX}${changeId}`;
}

/** The change a branch made by changeBranchName is named after, if it is one. */
export function changeIdOfBranch(branch: string | undefined): string | undefined {
  const named = branch?.startsWith(CHANGE_BRANCH_PREFIX) ? branch.slice(CHANGE_BRANCH_PREFIX.length) : undefined;
  return named && CHANGE_ID_PATTERN.test(named) ? named : undefined;
}

/** `.factory/changes/<id>/…`, relative to the workspace. */
const CHANGE_RECORD_PATH = /^\.factory\/changes\/([^/]+)(\/|$)/;

/** The change a workspace-relative path of the record belongs to (a watcher's file, a problem's path), if any. */
export function changeIdOfRecordPath(relative: string): string | undefined {
  return CHANGE_RECORD_PATH.exec(relative.replace(/\\/g, '/'))?.[1];
}

export function changeForBranch(changes: readonly ChangeState[], branch: string | undefined): ChangeState | undefined {
  if (!branch) return undefined;
  return [...changes].reverse().find((c) => c.branch === branch && !c.completed);
}
