// A change's state is a fold over its events, ordered by id (ULID). Clocks drift
// between machines, so everything that depends on another event names it (an
// attempt's finish names its attempt id) and the fold tolerates reading a finish
// before its start.
import type { AttemptOutcome, FactoryEvent, EvidenceRef, KnownEvent } from './events';
import { carriesNewerValue, EVENT_SCHEMA_VERSION, isKnownType } from './events';
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

/** The events in id order: as given when they already are (the store returns them sorted), else a sorted copy. */
export function inIdOrder(events: readonly FactoryEvent[]): readonly FactoryEvent[] {
  for (let i = 1; i < events.length; i++) {
    if (events[i - 1]!.id > events[i]!.id) return [...events].sort(compareEvents);
  }
  return events;
}

/** A stage's state and what the fold collects for it, found with one lookup per event. */
interface StageSlot {
  state: StageState;
  marks: StageMarks;
  /** Its position in the pipeline. */
  index: number;
}

/**
 * One fold's working state. A class rather than closures inside foldChange: a record
 * of 10,000 changes folds 10,000 times, and the closures were made anew every time.
 */
class Fold {
  readonly state: ChangeState;
  readonly slots = new Map<string, StageSlot>();
  readonly attempts = new Map<string, AttemptState>();
  // Ids named by a send-back; applied after the loop, so the order of clocks does not matter.
  readonly superseded = new Set<string>();
  readonly rolledBack = new Set<string>();
  /** attempt id → the factory MCP tools its agent called. */
  readonly mcpTools = new Map<string, Set<string>>();

  constructor(changeId: string, pipeline: Pipeline) {
    this.state = {
      id: changeId,
      title: changeId,
      completed: false,
      stages: pipeline.stages.map(initialStage),
      verification: { state: 'none', passed: 0, failed: 0, stale: 0, total: 0 },
      unknownEvents: 0,
    };
    this.state.stages.forEach((state, index) => this.slots.set(state.id, { state, marks: emptyMarks(), index }));
  }

  attemptFor(slot: StageSlot, attemptId: string, backend = slot.state.owner.backend): AttemptState {
    let attempt = this.attempts.get(attemptId);
    if (!attempt) {
      attempt = { id: attemptId, stageId: slot.state.id, backend, rolledBack: false, superseded: false };
      this.attempts.set(attemptId, attempt);
      slot.state.attempts.push(attempt);
    }
    return attempt;
  }

  /** The latest attempt of a stage started before `eventId` (for records that name none). */
  latestBefore(slot: StageSlot, eventId: string): string | undefined {
    let latest: string | undefined;
    for (const attempt of slot.state.attempts) {
      if ((slot.marks.started.get(attempt.id) ?? '') < eventId && (latest === undefined || attempt.id > latest)) latest = attempt.id;
    }
    return latest;
  }

  sendBack(event: FactoryEvent, input: { fromStage: string; toStage: string; note?: string; reopens?: string; supersedes: readonly string[] }): void {
    const target = this.slots.get(input.toStage);
    if (!target) return;
    const reopens = input.reopens ?? this.latestBefore(target, event.id);
    target.marks.sentBack.push({ eventId: event.id, reopens, info: { ...(input.note ? { note: input.note } : {}), ...(event.by?.name ? { by: event.by.name } : {}), at: event.at, fromStage: input.fromStage } });
    for (const id of input.supersedes) this.superseded.add(id);
    // What names no attempt in the later stages (a result, a stage marked done by hand) is undone by order.
    for (const later of this.slots.values()) {
      if (later.index > target.index) later.marks.resetAt = maxId(later.marks.resetAt, event.id);
    }
  }

  apply(event: FactoryEvent): void {
    // A newer writer's event is kept and counted, never folded (isFromNewerVersion, in the order cheapest first).
    if (event.v > EVENT_SCHEMA_VERSION || carriesNewerValue(event)) {
      this.state.unknownEvents++;
      return;
    }
    const known = event as KnownEvent;
    const state = this.state;
    switch (known.type) {
      case 'change.created':
        state.title = known.data.title;
        state.description = known.data.description;
        state.ticket = known.data.ticket;
        state.branch = known.data.branch;
        state.createdAt = known.at;
        state.createdBy = known.by?.name;
        return;
      case 'change.completed':
        state.completed = true;
        return;
      case 'stage.ownerChanged': {
        const slot = this.slots.get(known.data.stageId);
        if (slot) slot.state.owner = known.data.owner;
        return;
      }
      case 'attempt.started': {
        const slot = this.slots.get(known.data.stageId);
        if (!slot) return;
        const { data } = known;
        const attempt = this.attemptFor(slot, data.attemptId, data.backend);
        slot.marks.started.set(attempt.id, known.id);
        attempt.backend = data.backend;
        attempt.model = data.model;
        attempt.startedAt = known.at;
        attempt.contextVersion = data.contextVersion;
        attempt.prompt = data.prompt;
        attempt.checkpoint = data.checkpoint;
        attempt.number = data.number;
        attempt.runner = data.runner;
        attempt.startTree = data.start?.tree;
        attempt.trigger = data.trigger;
        return;
      }
      case 'attempt.finished': {
        const slot = this.slots.get(known.data.stageId);
        if (!slot) return;
        const { data } = known;
        const attempt = this.attemptFor(slot, data.attemptId);
        attempt.finishedAt = known.at;
        attempt.outcome = data.outcome;
        attempt.reason = data.reason;
        attempt.summary = data.summary;
        attempt.costUsd = data.usage?.costUsd;
        attempt.tokens = (data.usage?.inputTokens ?? 0) + (data.usage?.outputTokens ?? 0) || undefined;
        attempt.turns = data.usage?.turns;
        attempt.durationMs = data.durationMs;
        attempt.transcript = data.transcript;
        attempt.diff = data.diff;
        attempt.endTree = data.end?.tree;
        attempt.reportedModel = data.reportedModel;
        attempt.agentVersion = data.agentVersion;
        attempt.failedToolCalls = data.failedToolCalls?.map((c) => ({ name: c.name, ...(c.reason ? { reason: c.reason } : {}) }));
        attempt.mcpStatus = mcpStatusOf(data.mcpStatus);
        return;
      }
      case 'attempt.rolledBack': {
        const slot = this.slots.get(known.data.stageId);
        if (!slot) return;
        this.attemptFor(slot, known.data.attemptId);
        this.rolledBack.add(known.data.attemptId);
        return;
      }
      case 'verification.recorded': {
        const slot = this.slots.get(known.data.stageId);
        if (!slot) return;
        const { data } = known;
        slot.marks.results.push({
          eventId: known.id,
          result: {
            criterionId: data.criterionId,
            attemptId: data.attemptId,
            outcome: data.outcome,
            required: data.required,
            message: data.message,
            verifiedTree: data.verified?.tree,
            at: known.at,
          },
        });
        return;
      }
      case 'stage.approvalRequested': {
        const slot = this.slots.get(known.data.stageId);
        if (slot) slot.marks.approvalRequests.push({ eventId: known.id, attemptId: known.data.attemptId ?? this.latestBefore(slot, known.id) });
        return;
      }
      case 'review.decided': {
        const slot = this.slots.get(known.data.stageId);
        if (!slot) return;
        if (known.data.decision === 'approved') {
          slot.marks.approvals.push(known.id);
          if (known.data.at?.tree) slot.marks.approvalTrees.set(known.id, known.data.at.tree);
        }
        // How older versions recorded a send-back: to the same stage.
        else this.sendBack(known, { fromStage: slot.state.id, toStage: slot.state.id, ...(known.data.note ? { note: known.data.note } : {}), supersedes: [] });
        return;
      }
      case 'stage.sentBack':
        this.sendBack(known, known.data);
        return;
      case 'handoff.recorded': {
        const slot = this.slots.get(known.data.fromStage);
        // A handoff from a stage to itself is how older versions recorded a send-back (with review.decided).
        if (!slot || known.data.toStage === known.data.fromStage) return;
        slot.marks.handoffs.push({ eventId: known.id, attemptId: known.data.attemptId });
        return;
      }
      default: {
        // What the attempt's agent did through the factory's MCP server.
        const call = mcpToolCall(event);
        if (call) {
          this.mcpTools.set(call.attemptId, (this.mcpTools.get(call.attemptId) ?? new Set()).add(call.tool));
          return;
        }
        // stage.completedByHand: its handoff follows. The context pack's and the lead's
        // events are folded elsewhere (contextPack.ts, autonomy.ts); a type this version
        // does not know is counted.
        if (!isKnownType(event.type)) this.state.unknownEvents++;
      }
    }
  }
}

export function foldChange(changeId: string, pipeline: Pipeline, events: readonly FactoryEvent[], options: FoldOptions = {}): ChangeState {
  return foldInIdOrder(changeId, pipeline, inIdOrder(events), options);
}

/** foldChange of events already in id order (as inIdOrder returns them): for a caller that walks them in that order too. */
export function foldInIdOrder(changeId: string, pipeline: Pipeline, ordered: readonly FactoryEvent[], options: FoldOptions = {}): ChangeState {
  const fold = new Fold(changeId, pipeline);
  for (const event of ordered) fold.apply(event);

  const { state } = fold;
  for (const attempt of fold.attempts.values()) {
    attempt.rolledBack = fold.rolledBack.has(attempt.id);
    // Only by name: an attempt started elsewhere with a clock behind this send-back's is not superseded by it.
    attempt.superseded = fold.superseded.has(attempt.id);
    const tools = fold.mcpTools.get(attempt.id);
    if (tools) attempt.mcpTools = [...tools];
  }
  for (const slot of fold.slots.values()) settleStage(slot.state, slot.marks);
  // Later stages' own work changes the tree on purpose: a handed-off stage turns stale
  // only from edits made while no later stage has started.
  let laterStarted = false;
  for (let i = state.stages.length - 1; i >= 0; i--) {
    const stage = state.stages[i]!;
    stage.status = stageStatus(stage, fold.slots.get(stage.id)!.marks, laterStarted ? {} : options);
    laterStarted ||= stage.attempts.some((a) => !a.superseded);
  }
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

const NO_IDS: ReadonlySet<string> = new Set();

/**
 * The criterion id under which the engine records a succeeded attempt that left a
 * declared output missing (a colon: no pipeline criterion can take it).
 */
export const OUTPUTS_CHECK = 'stage:outputs';

function isUndone(attempt: AttemptState): boolean {
  return attempt.rolledBack || attempt.superseded;
}

/** The stage's attempts in the order they started, and what still counts. */
function settleStage(stage: StageState, marks: StageMarks): void {
  const startOf = (a: AttemptState) => marks.started.get(a.id) ?? a.id;
  stage.attempts.sort((a, b) => (startOf(a) < startOf(b) ? -1 : startOf(a) > startOf(b) ? 1 : 0));
  const undone = stage.attempts.some(isUndone) ? new Set(stage.attempts.filter(isUndone).map((a) => a.id)) : NO_IDS;
  // Latest result per criterion wins; what a rolled-back or superseded attempt produced no
  // longer stands. The results were collected in event-id order (the fold's order).
  const latest = new Map<string, CriterionResult>();
  for (const { eventId, result } of marks.results) {
    if (result.attemptId ? undone.has(result.attemptId) : eventId < marks.resetAt) continue;
    latest.delete(result.criterionId);
    latest.set(result.criterionId, result);
  }
  // The declared-outputs check speaks of its own attempt only: a later attempt is checked anew.
  const outputs = latest.get(OUTPUTS_CHECK);
  if (outputs && outputs.attemptId !== stage.attempts.filter((a) => !isUndone(a)).at(-1)?.id) latest.delete(OUTPUTS_CHECK);
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
