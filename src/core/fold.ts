// A change's state is a fold over its events, ordered by id (ULID). Clocks drift
// between machines, so everything that depends on another event names it (an
// attempt's finish names its attempt id) and the fold tolerates reading a finish
// before its start.
import type { AttemptOutcome, FactoryEvent, EvidenceRef } from './events';
import { EVENT_SCHEMA_VERSION, isEvent, isKnownType } from './events';
import type { Owner, Pipeline, Stage } from './pipeline';

export type StageStatus = 'pending' | 'running' | 'passed' | 'failed' | 'needsApproval' | 'stale';

export interface AttemptState {
  id: string;
  stageId: string;
  backend: string;
  model?: string;
  startedAt?: string;
  finishedAt?: string;
  outcome?: AttemptOutcome;
  reason?: string;
  summary?: string;
  contextVersion?: string;
  costUsd?: number;
  tokens?: number;
  turns?: number;
  durationMs?: number;
  transcript?: EvidenceRef;
  diff?: EvidenceRef;
  prompt?: string;
  checkpoint?: string;
  number?: number;
  runner?: { pid: number; host: string };
  startTree?: string;
  endTree?: string;
  rolledBack: boolean;
}

export interface CriterionResult {
  criterionId: string;
  attemptId?: string;
  outcome: 'passed' | 'failed' | 'error' | 'skipped';
  required: boolean;
  message?: string;
  verifiedTree?: string;
  at: string;
}

export type VerificationState = 'none' | 'passed' | 'failed' | 'stale' | 'running';

export interface StageState {
  id: string;
  title: string;
  role: string;
  owner: Owner;
  status: StageStatus;
  attempts: AttemptState[];
  results: CriterionResult[];
  handedOff: boolean;
  approved: boolean;
}

export interface ChangeState {
  id: string;
  title: string;
  description?: string;
  ticket?: string;
  branch?: string;
  createdAt?: string;
  createdBy?: string;
  completed: boolean;
  stages: StageState[];
  /** The first stage that has not passed, or undefined when every stage has. */
  activeStageId?: string;
  verification: { state: VerificationState; passed: number; failed: number; stale: number; total: number };
  /** Events of types this version does not know, kept for display. */
  unknownEvents: number;
}

export interface FoldOptions {
  /** The working tree hash now; results verified at another tree are stale. */
  currentTree?: string;
}

export function compareEvents(a: FactoryEvent, b: FactoryEvent): number {
  // ULIDs sort by time then randomness: a total order that needs no coordination.
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function foldChange(changeId: string, pipeline: Pipeline, events: readonly FactoryEvent[], options: FoldOptions = {}): ChangeState {
  const ordered = [...events].sort(compareEvents);
  const state: ChangeState = {
    id: changeId,
    title: changeId,
    completed: false,
    stages: pipeline.stages.map(initialStage),
    verification: { state: 'none', passed: 0, failed: 0, stale: 0, total: 0 },
    unknownEvents: 0,
  };
  const stageById = new Map(state.stages.map((s) => [s.id, s]));
  const attempts = new Map<string, AttemptState>();
  const approvalRequested = new Set<string>();

  const attemptFor = (stage: StageState, attemptId: string, backend = stage.owner.backend): AttemptState => {
    let attempt = attempts.get(attemptId);
    if (!attempt) {
      attempt = { id: attemptId, stageId: stage.id, backend, rolledBack: false };
      attempts.set(attemptId, attempt);
      stage.attempts.push(attempt);
    }
    return attempt;
  };

  for (const event of ordered) {
    if (isEvent(event, 'change.created')) {
      state.title = event.data.title;
      state.description = event.data.description;
      state.ticket = event.data.ticket;
      state.branch = event.data.branch;
      state.createdAt = event.at;
      state.createdBy = event.by?.name;
    } else if (isEvent(event, 'change.completed')) {
      state.completed = true;
    } else if (isEvent(event, 'stage.ownerChanged')) {
      const stage = stageById.get(event.data.stageId);
      if (stage) stage.owner = event.data.owner;
    } else if (isEvent(event, 'attempt.started')) {
      const stage = stageById.get(event.data.stageId);
      if (!stage) continue;
      const attempt = attemptFor(stage, event.data.attemptId, event.data.backend);
      attempt.backend = event.data.backend;
      attempt.model = event.data.model;
      attempt.startedAt = event.at;
      attempt.contextVersion = event.data.contextVersion;
      attempt.prompt = event.data.prompt;
      attempt.checkpoint = event.data.checkpoint;
      attempt.number = event.data.number;
      attempt.runner = event.data.runner;
      attempt.startTree = event.data.start?.tree;
    } else if (isEvent(event, 'attempt.finished')) {
      const stage = stageById.get(event.data.stageId);
      if (!stage) continue;
      const attempt = attemptFor(stage, event.data.attemptId);
      attempt.finishedAt = event.at;
      attempt.outcome = event.data.outcome;
      attempt.reason = event.data.reason;
      attempt.summary = event.data.summary;
      attempt.costUsd = event.data.usage?.costUsd;
      attempt.tokens = (event.data.usage?.inputTokens ?? 0) + (event.data.usage?.outputTokens ?? 0) || undefined;
      attempt.turns = event.data.usage?.turns;
      attempt.durationMs = event.data.durationMs;
      attempt.transcript = event.data.transcript;
      attempt.diff = event.data.diff;
      attempt.endTree = event.data.end?.tree;
    } else if (isEvent(event, 'attempt.rolledBack')) {
      const stage = stageById.get(event.data.stageId);
      if (!stage) continue;
      attemptFor(stage, event.data.attemptId).rolledBack = true;
      // What the rolled-back attempt produced no longer stands: its results and the approval it asked for.
      stage.results = stage.results.filter((r) => r.attemptId !== event.data.attemptId);
      approvalRequested.delete(stage.id);
    } else if (isEvent(event, 'verification.recorded')) {
      const stage = stageById.get(event.data.stageId);
      if (!stage) continue;
      const result: CriterionResult = {
        criterionId: event.data.criterionId,
        attemptId: event.data.attemptId,
        outcome: event.data.outcome,
        required: event.data.required,
        message: event.data.message,
        verifiedTree: event.data.verified?.tree,
        at: event.at,
      };
      // Latest result per criterion wins.
      stage.results = [...stage.results.filter((r) => r.criterionId !== result.criterionId), result];
    } else if (isEvent(event, 'stage.approvalRequested')) {
      approvalRequested.add(event.data.stageId);
    } else if (isEvent(event, 'review.decided')) {
      const stage = stageById.get(event.data.stageId);
      if (!stage) continue;
      stage.approved = event.data.decision === 'approved';
      if (event.data.decision === 'sentBack') stage.handedOff = false;
      approvalRequested.delete(event.data.stageId);
    } else if (isEvent(event, 'stage.completedByHand')) {
      const stage = stageById.get(event.data.stageId);
      if (stage) stage.handedOff = true;
    } else if (isEvent(event, 'handoff.recorded')) {
      const stage = stageById.get(event.data.fromStage);
      if (stage) stage.handedOff = true;
    } else if (!isKnownType(event.type) || event.v > EVENT_SCHEMA_VERSION) {
      // Known types folded elsewhere (the context pack's) are not "unknown".
      state.unknownEvents++;
    }
  }

  state.stages.forEach((stage, i) => {
    // Later stages' own work changes the tree on purpose: a handed-off stage turns stale
    // only from edits made while no later stage has started.
    const laterStarted = state.stages.slice(i + 1).some((s) => s.attempts.length > 0);
    stage.status = stageStatus(stage, approvalRequested.has(stage.id), laterStarted ? {} : options);
  });
  state.activeStageId = state.stages.find((s) => s.status !== 'passed')?.id;
  state.verification = summarizeVerification(state, options);
  return state;
}

function initialStage(stage: Stage): StageState {
  return { id: stage.id, title: stage.title, role: stage.role, owner: stage.owner, status: 'pending', attempts: [], results: [], handedOff: false, approved: false };
}

function isStale(result: CriterionResult, options: FoldOptions): boolean {
  return options.currentTree !== undefined && result.verifiedTree !== undefined && result.verifiedTree !== options.currentTree;
}

function stageStatus(stage: StageState, approvalRequested: boolean, options: FoldOptions): StageStatus {
  const live = stage.attempts.filter((a) => !a.rolledBack);
  const last = live[live.length - 1];
  if (last && last.startedAt && !last.outcome) return 'running';
  const required = stage.results.filter((r) => r.required);
  if (stage.handedOff || stage.approved) {
    return required.some((r) => r.outcome === 'passed' && isStale(r, options)) ? 'stale' : 'passed';
  }
  if (approvalRequested) return 'needsApproval';
  if (required.some((r) => r.outcome === 'failed' || r.outcome === 'error')) return 'failed';
  if (last?.outcome && last.outcome !== 'succeeded') return 'failed';
  if (last?.outcome === 'succeeded') return 'needsApproval';
  return 'pending';
}

function summarizeVerification(state: ChangeState, options: FoldOptions): ChangeState['verification'] {
  // The verification shown for a change is that of the stage being worked on, or of
  // the last stage once every stage has passed.
  const stage = state.stages.find((s) => s.id === state.activeStageId) ?? state.stages[state.stages.length - 1];
  const results = stage?.results ?? [];
  const stale = results.filter((r) => isStale(r, options)).length;
  const passed = results.filter((r) => r.outcome === 'passed' && !isStale(r, options)).length;
  const failed = results.filter((r) => r.outcome === 'failed' || r.outcome === 'error').length;
  const summaryState: VerificationState =
    results.length === 0
      ? 'none'
      : failed > 0
        ? 'failed'
        : stale > 0
          ? 'stale'
          : 'passed';
  return { state: summaryState, passed, failed, stale, total: results.length };
}
