// A change's state is a fold over its events, ordered by id (ULID). Clocks drift
// between machines, so everything that depends on another event names it (an
// attempt's finish names its attempt id) and the fold tolerates reading a finish
// before its start.
import type { AttemptOutcome, FactoryEvent, EvidenceRef } from './events';
import { isEvent, isFromNewerVersion } from './events';
import { mcpStatusOf, mcpToolCall } from './mcpSummary';
import type { Owner, Pipeline, Stage } from './pipeline';

/**
 * `sentBack`: a reviewer reopened the stage; it waits for a new run, which gets the
 * reviewer's note as its failure text.
 */
export type StageStatus = 'pending' | 'running' | 'passed' | 'failed' | 'needsApproval' | 'stale' | 'sentBack';

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
  /** A reviewer sent the change back to an earlier stage after this attempt: kept for the record, no longer counted. */
  superseded: boolean;
  /** What made it run (run, retry, resume, sentBack). */
  trigger?: string;
  /** The model the agent said answered, when it differs from or adds to `model` (the one asked for). */
  reportedModel?: string;
  agentVersion?: string;
  /** Tool calls that failed or were refused (a refused write in a turn that ended normally). */
  failedToolCalls?: { name: string; reason?: string }[];
  /** The factory's MCP server passed to the run: what the agent reported about it (#18). */
  mcpStatus?: { status: 'connected' | 'failed' | 'unknown'; detail?: string };
  /** The factory's MCP tools the attempt's agent called, in first-call order (#18). */
  mcpTools?: string[];
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
  /** The working tree the standing approval was given on (recorded by versions that bind approvals). */
  approvedTree?: string;
  /** The tree changed since the approval was given (same rule as a stale verification result). */
  approvalStale?: boolean;
  /** The reviewer's send-back that reopened this stage, while no new attempt has started. */
  sentBack?: { note?: string; by?: string; at: string; fromStage: string };
  /**
   * Passed with no positive evidence: no required criterion passed and nobody approved
   * it (a stage with no criteria, or marked done by hand past failing ones). Shown as
   * "passed, unverified" everywhere, and the signal counts it as such.
   */
  unverified?: boolean;
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
  const marks = new Map(state.stages.map((s) => [s.id, emptyMarks()]));
  const attempts = new Map<string, AttemptState>();
  // Ids named by a send-back; applied after the loop, so the order of clocks does not matter.
  const superseded = new Set<string>();
  const rolledBack = new Set<string>();
  const mcpTools = new Map<string, Set<string>>();

  const attemptFor = (stage: StageState, attemptId: string, backend = stage.owner.backend): AttemptState => {
    let attempt = attempts.get(attemptId);
    if (!attempt) {
      attempt = { id: attemptId, stageId: stage.id, backend, rolledBack: false, superseded: false };
      attempts.set(attemptId, attempt);
      stage.attempts.push(attempt);
    }
    return attempt;
  };
  /** The latest attempt of a stage started before `eventId` (for records that name none). */
  const latestBefore = (stage: StageState, eventId: string): string | undefined =>
    stage.attempts.filter((a) => (marks.get(stage.id)!.started.get(a.id) ?? '') < eventId).map((a) => a.id).sort().pop();
  const sendBack = (event: FactoryEvent, input: { fromStage: string; toStage: string; note?: string; reopens?: string; supersedes: readonly string[] }) => {
    const target = stageById.get(input.toStage);
    if (!target) return;
    const reopens = input.reopens ?? latestBefore(target, event.id);
    marks.get(target.id)!.sentBack.push({ eventId: event.id, reopens, info: { ...(input.note ? { note: input.note } : {}), ...(event.by?.name ? { by: event.by.name } : {}), at: event.at, fromStage: input.fromStage } });
    input.supersedes.forEach((id) => superseded.add(id));
    // What names no attempt in the later stages (a result, a stage marked done by hand) is undone by order.
    const from = pipeline.stages.findIndex((s) => s.id === target.id);
    for (const later of state.stages.slice(from + 1)) {
      marks.get(later.id)!.resetAt = maxId(marks.get(later.id)!.resetAt, event.id);
    }
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
      marks.get(stage.id)!.started.set(attempt.id, event.id);
      attempt.backend = event.data.backend;
      attempt.model = event.data.model;
      attempt.startedAt = event.at;
      attempt.contextVersion = event.data.contextVersion;
      attempt.prompt = event.data.prompt;
      attempt.checkpoint = event.data.checkpoint;
      attempt.number = event.data.number;
      attempt.runner = event.data.runner;
      attempt.startTree = event.data.start?.tree;
      attempt.trigger = event.data.trigger;
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
      attempt.reportedModel = event.data.reportedModel;
      attempt.agentVersion = event.data.agentVersion;
      attempt.failedToolCalls = event.data.failedToolCalls?.map((c) => ({ name: c.name, ...(c.reason ? { reason: c.reason } : {}) }));
      attempt.mcpStatus = mcpStatusOf(event.data.mcpStatus);
    } else if (isEvent(event, 'attempt.rolledBack')) {
      const stage = stageById.get(event.data.stageId);
      if (!stage) continue;
      attemptFor(stage, event.data.attemptId);
      rolledBack.add(event.data.attemptId);
    } else if (isEvent(event, 'verification.recorded')) {
      const stage = stageById.get(event.data.stageId);
      if (!stage) continue;
      marks.get(stage.id)!.results.push({
        eventId: event.id,
        result: {
          criterionId: event.data.criterionId,
          attemptId: event.data.attemptId,
          outcome: event.data.outcome,
          required: event.data.required,
          message: event.data.message,
          verifiedTree: event.data.verified?.tree,
          at: event.at,
        },
      });
    } else if (isEvent(event, 'stage.approvalRequested')) {
      const stage = stageById.get(event.data.stageId);
      if (stage) marks.get(stage.id)!.approvalRequests.push({ eventId: event.id, attemptId: event.data.attemptId ?? latestBefore(stage, event.id) });
    } else if (isEvent(event, 'review.decided')) {
      const stage = stageById.get(event.data.stageId);
      if (!stage) continue;
      if (event.data.decision === 'approved') {
        marks.get(stage.id)!.approvals.push(event.id);
        if (event.data.at?.tree) marks.get(stage.id)!.approvalTrees.set(event.id, event.data.at.tree);
      }
      // How older versions recorded a send-back: to the same stage.
      else sendBack(event, { fromStage: stage.id, toStage: stage.id, ...(event.data.note ? { note: event.data.note } : {}), supersedes: [] });
    } else if (isEvent(event, 'stage.sentBack')) {
      sendBack(event, event.data);
    } else if (isEvent(event, 'stage.completedByHand')) {
      // Its handoff follows; nothing to fold on its own.
    } else if (isEvent(event, 'handoff.recorded')) {
      const stage = stageById.get(event.data.fromStage);
      // A handoff from a stage to itself is how older versions recorded a send-back (with review.decided).
      if (!stage || event.data.toStage === event.data.fromStage) continue;
      marks.get(stage.id)!.handoffs.push({ eventId: event.id, attemptId: event.data.attemptId });
    } else if (mcpToolCall(event)) {
      // What the attempt's agent did through the factory's MCP server.
      const { attemptId, tool } = mcpToolCall(event)!;
      mcpTools.set(attemptId, (mcpTools.get(attemptId) ?? new Set()).add(tool));
    } else if (isFromNewerVersion(event)) {
      // Known types folded elsewhere (the context pack's) are not "unknown".
      state.unknownEvents++;
    }
  }

  for (const attempt of attempts.values()) {
    attempt.rolledBack = rolledBack.has(attempt.id);
    // Only by name: an attempt started elsewhere with a clock behind this send-back's is not superseded by it.
    attempt.superseded = superseded.has(attempt.id);
    const tools = mcpTools.get(attempt.id);
    if (tools) attempt.mcpTools = [...tools];
  }
  state.stages.forEach((stage) => settleStage(stage, marks.get(stage.id)!));
  state.stages.forEach((stage, i) => {
    // Later stages' own work changes the tree on purpose: a handed-off stage turns stale
    // only from edits made while no later stage has started.
    const laterStarted = state.stages.slice(i + 1).some((s) => s.attempts.some((a) => !a.superseded));
    stage.status = stageStatus(stage, marks.get(stage.id)!, laterStarted ? {} : options);
  });
  state.activeStageId = state.stages.find((s) => s.status !== 'passed')?.id;
  state.verification = summarizeVerification(state, options);
  return state;
}

/** What the fold collects per stage before deciding its state. */
interface StageMarks {
  /** attempt id → id of its `attempt.started` event. */
  started: Map<string, string>;
  handoffs: { eventId: string; attemptId?: string }[];
  approvals: string[];
  /** approval event id → the tree it was given on. */
  approvalTrees: Map<string, string>;
  approvalRequests: { eventId: string; attemptId?: string }[];
  sentBack: { eventId: string; reopens?: string; info: NonNullable<StageState['sentBack']> }[];
  results: { eventId: string; result: CriterionResult }[];
  /** Work recorded before this event id was undone by a send-back to an earlier stage. */
  resetAt: string;
}

function emptyMarks(): StageMarks {
  return { started: new Map(), handoffs: [], approvals: [], approvalTrees: new Map(), approvalRequests: [], sentBack: [], results: [], resetAt: '' };
}

function maxId(a: string, b: string): string {
  return a > b ? a : b;
}

/** The stage's attempts in the order they started, and what still counts. */
function settleStage(stage: StageState, marks: StageMarks): void {
  const startOf = (a: AttemptState) => marks.started.get(a.id) ?? a.id;
  stage.attempts.sort((a, b) => (startOf(a) < startOf(b) ? -1 : startOf(a) > startOf(b) ? 1 : 0));
  const undone = new Set(stage.attempts.filter((a) => a.rolledBack || a.superseded).map((a) => a.id));
  // Latest result per criterion wins; what a rolled-back or superseded attempt produced no longer stands.
  const latest = new Map<string, CriterionResult>();
  for (const { eventId, result } of marks.results.sort((a, b) => (a.eventId < b.eventId ? -1 : 1))) {
    if (result.attemptId ? undone.has(result.attemptId) : eventId < marks.resetAt) continue;
    latest.delete(result.criterionId);
    latest.set(result.criterionId, result);
  }
  stage.results = [...latest.values()];
}

/**
 * A stage's state is the truth about its latest work: the latest attempt that still
 * counts decides, and a handoff stands only for the attempt it names. An attempt
 * started after a handoff reopens the stage; a send-back reopens it until the next
 * attempt starts.
 */
function stageStatus(stage: StageState, marks: StageMarks, options: FoldOptions): StageStatus {
  const live = stage.attempts.filter((a) => !a.superseded);
  const last = live[live.length - 1];
  const lastStart = last ? (marks.started.get(last.id) ?? last.id) : '';
  const lastSentBack = marks.sentBack[marks.sentBack.length - 1];
  const reopened = new Set(marks.sentBack.map((s) => s.reopens).filter((id): id is string => id !== undefined));
  // Work that names no attempt (a stage marked done by hand before any attempt) counts when it came after the latest attempt and send-back.
  const floor = maxId(maxId(lastStart, lastSentBack?.eventId ?? ''), marks.resetAt);
  const standsFor = (mark: { eventId: string; attemptId?: string }) =>
    mark.attemptId && last && !last.rolledBack ? mark.attemptId === last.id && !reopened.has(last.id) : !mark.attemptId && mark.eventId > floor;

  if (last && !last.rolledBack && last.startedAt && !last.outcome) return 'running';
  const required = stage.results.filter((r) => r.required);
  stage.handedOff = marks.handoffs.some(standsFor);
  stage.approved = stage.handedOff && marks.approvals.some((id) => id > lastStart && id > (lastSentBack?.eventId ?? '') && id > marks.resetAt);
  // An approval is bound to the tree it was given on: the latest standing one's tree decides.
  const approvedTree = stage.approved ? marks.approvalTrees.get(marks.approvals.filter((id) => id > lastStart && id > (lastSentBack?.eventId ?? '') && id > marks.resetAt).sort().at(-1) ?? '') : undefined;
  if (approvedTree) stage.approvedTree = approvedTree;
  if (approvedTree !== undefined && options.currentTree !== undefined && approvedTree !== options.currentTree) stage.approvalStale = true;
  if (stage.handedOff) {
    const evidence = stage.approved || (required.length > 0 && required.every((r) => r.outcome === 'passed'));
    if (!evidence) stage.unverified = true;
    return stage.approvalStale || required.some((r) => r.outcome === 'passed' && isStale(r, options)) ? 'stale' : 'passed';
  }
  const sentBackNow = lastSentBack && (last ? reopened.has(last.id) || lastSentBack.eventId > lastStart : true);
  if (sentBackNow) {
    stage.sentBack = lastSentBack.info;
    return 'sentBack';
  }
  if (marks.approvalRequests.some(standsFor)) return 'needsApproval';
  if (required.some((r) => r.outcome === 'failed' || r.outcome === 'error')) return 'failed';
  if (!last || last.rolledBack) return 'pending';
  if (last.outcome && last.outcome !== 'succeeded') return 'failed';
  if (last.outcome === 'succeeded') return 'needsApproval';
  return 'pending';
}

function initialStage(stage: Stage): StageState {
  return { id: stage.id, title: stage.title, role: stage.role, owner: stage.owner, status: 'pending', attempts: [], results: [], handedOff: false, approved: false };
}

function isStale(result: CriterionResult, options: FoldOptions): boolean {
  return options.currentTree !== undefined && result.verifiedTree !== undefined && result.verifiedTree !== options.currentTree;
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
    results.length === 0 && !stage?.approvalStale
      ? 'none'
      : failed > 0
        ? 'failed'
        : stale > 0 || stage?.approvalStale
          ? 'stale'
          : 'passed';
  return { state: summaryState, passed, failed, stale, total: results.length };
}
