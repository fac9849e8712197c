// The lead's numbers, computed from the record alone (pure: no clock, no file system).
// Two steps: `changeFacts` turns one change's events into the facts the dashboard needs
// (each stage's start and end, waits, attempts, outcome, cost, owner, backend and model,
// the signal), small enough to cache per change; `computeMetrics` aggregates the facts
// of many changes under a filter: the signal share, where work gets stuck, per stage and
// owner, failure hotspots and flow. Times are epoch milliseconds; weeks and days are in
// the time zone the caller names (the user's).
import type { AttemptOutcome, FactoryEvent } from './events';
import { isEvent } from './events';
import { foldInIdOrder, inIdOrder, type AttemptState, type ChangeState, type StageState } from './fold';
import type { Pipeline } from './pipeline';
import { checkAttemptsContextInIdOrder } from './signal';
import type { SignalVerdict, FailureKind, FailureFact, StageFact, SignalBreak, ActorMismatch, ChangeFact, Actorish, ChangeFactsOptions, Spread, MetricsFilter, MetricsOptions, SignalMetrics, StuckChange, StageOwnerRow, Hotspot, FlowMetrics, ChangeRow, Metrics } from './metricsTypes';
export type { FailureKind, FailureFact, StageFact, SignalBreak, ActorMismatch, ChangeFact, Actorish, ChangeFactsOptions, Spread, MetricsFilter, MetricsOptions, SignalMetrics, StuckChange, StageOwnerRow, Hotspot, FlowMetrics, ChangeRow, Metrics } from './metricsTypes';

/** The facts' shape: cached facts (engine/teamHistory.ts) of another version are computed anew. */
export const FACTS_VERSION = 3;

export const FAILURE_KINDS: readonly FailureKind[] = ['timeout', 'budget', 'agentError', 'verificationFailed', 'sentBack', 'rolledBack', 'interrupted', 'cancelled'];
export const FAILURE_LABELS: Record<FailureKind, string> = {
  timeout: 'timeout',
  budget: 'budget',
  agentError: 'agent error',
  verificationFailed: 'verification failed',
  sentBack: 'sent back',
  rolledBack: 'rolled back',
  interrupted: 'interrupted',
  cancelled: 'cancelled',
};









const modelLabels = new Map<string, Map<string, string>>();

export function ownerLabel(owner: { backend: string; model?: string; person?: string }, personFallback?: string): string {
  if (owner.backend === 'human') return `person:${owner.person ?? personFallback ?? 'someone'}`;
  if (!owner.model) return owner.backend;
  // One string per backend and model, shared by every fact: the metrics' lookups by owner
  // then compare the same string, not equal ones character by character.
  let models = modelLabels.get(owner.backend);
  if (!models) {
    if (modelLabels.size > 1000) modelLabels.clear();
    modelLabels.set(owner.backend, (models = new Map()));
  }
  let label = models.get(owner.model);
  if (label === undefined) {
    if (models.size > 1000) models.clear();
    models.set(owner.model, (label = `${owner.backend}/${owner.model}`));
  }
  return label;
}

/** Epoch ms of an event's time, undefined when it is not one. */
export function isoTime(iso: string | undefined): number | undefined {
  if (!iso) return undefined;
  // What the store writes is read digit by digit (Date.parse, the general reader, was a
  // tenth of the facts' cost); every other form, and any field out of the plain range, as before.
  const ms = isCanonicalIso(iso) ? canonicalTime(iso) : undefined;
  if (ms !== undefined) return ms;
  const parsed = Date.parse(iso);
  return Number.isFinite(parsed) ? parsed : undefined;
}
const time = isoTime;

/** `YYYY-MM-DDTHH:MM:SS.sssZ` → epoch ms, or undefined when a field is not plainly in range (left to Date.parse). */
function canonicalTime(iso: string): number | undefined {
  if (iso.charCodeAt(7) !== 45 /* - */ || iso.charCodeAt(13) !== 58 /* : */ || iso.charCodeAt(16) !== 58 || iso.charCodeAt(19) !== 46 /* . */) return undefined;
  const year = digits(iso, 0, 4);
  const month = digits(iso, 5, 2);
  const day = digits(iso, 8, 2);
  const hour = digits(iso, 11, 2);
  const minute = digits(iso, 14, 2);
  const second = digits(iso, 17, 2);
  const milli = digits(iso, 20, 3);
  // Days up to 31 in any month roll over in Date.parse as in Date.UTC (a test holds them equal); years below 100 do not.
  if (year < 100 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || milli < 0) return undefined;
  return daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + milli;
}

/**
 * Days since 1970-01-01 of a proleptic Gregorian date (year ≥ 1), by arithmetic: what
 * Date.UTC computes, without its call (a third of the reader's cost). Counted from March
 * so the leap day ends the year: a day past its month's end rolls over as in Date.UTC.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** The decimal number in `count` characters from `at`, or -1 when one is not a digit. */
function digits(text: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** `YYYY-MM-DDTHH:MM:SS.sssZ`: fixed width, so two of them compare as strings as their times do. */
function isCanonicalIso(iso: string): boolean {
  return iso.length === 24 && iso.charCodeAt(23) === 90 /* Z */ && iso.charCodeAt(10) === 84 /* T */ && iso.charCodeAt(4) === 45 /* - */;
}

/** Event types that decide something a forger would want: shown when git says someone else committed them. */
const DECISIONS = new Set(['review.decided', 'stage.completedByHand', 'autonomy.granted', 'autonomy.revoked', 'lesson.promoted', 'stage.sentBack', 'change.completed']);

/** What one pass over a change's events finds that the fold does not keep. */
interface EventScan {
  /** Who started each attempt, and when (attempt.started's time, which the fold takes startedAt from). */
  startBy: Map<string, string | undefined>;
  startAt: Map<string, number | undefined>;
  /** Required criteria bound to each attempt: all passed, or the latest failure's text. */
  verifiedBy: Map<string, boolean>;
  verifyFailure: Map<string, string | undefined>;
  /** Each stage's latest handoff time, send-backs into it, and time its approval requests waited. */
  handoffAt: Map<string, number>;
  reopened: Map<string, number>;
  approvalWaits: Map<string, number>;
  failures: FailureFact[];
  actorMismatches: ActorMismatch[];
  completedAt: number | undefined;
  lastEventAt: number | undefined;
  /** Owners named by stage.ownerChanged events (rare: made only when there is one). */
  ownerAt: Map<string, StageState['owner']> | undefined;
}

/**
 * The pass over a change's events (in id order) for what the fold does not keep. The
 * facts are built by a few separate functions rather than one long one: each compiles
 * once and quickly, where the long one cost V8 more to optimize on every computation.
 */
function scanEvents(ordered: readonly FactoryEvent[], state: ChangeState, options: ChangeFactsOptions): EventScan {
  const startBy = new Map<string, string | undefined>();
  const startAt = new Map<string, number | undefined>();
  const verifiedBy = new Map<string, boolean>();
  const verifyFailure = new Map<string, string | undefined>();
  const handoffAt = new Map<string, number>();
  const reopened = new Map<string, number>();
  const approvalWaits = new Map<string, number>();
  const openRequest = new Map<string, number>();
  const failures: FailureFact[] = [];
  const actorMismatches: ActorMismatch[] = [];
  let completedAt: number | undefined;
  let lastEventAt: number | undefined;
  let ownerAt: Map<string, StageState['owner']> | undefined;

  // The latest canonical timestamp (`toISOString()`, what the store writes) is found by
  // comparing strings, which order as times do; only other forms are parsed one by one.
  let latestCanonical = '';
  for (const event of ordered) {
    if (isCanonicalIso(event.at)) {
      if (event.at > latestCanonical) latestCanonical = event.at;
    } else {
      const parsed = time(event.at);
      if (parsed !== undefined && (lastEventAt === undefined || parsed > lastEventAt)) lastEventAt = parsed;
    }
    const committer = options.committers?.get(event.id);
    if (committer && DECISIONS.has(event.type) && !sameActor(event.by, committer)) {
      actorMismatches.push({ eventId: event.id, type: event.type, ...(event.by?.name ? { actor: event.by.name } : {}), committer: committer.email ? `${committer.name} <${committer.email}>` : committer.name });
    }
    // One switch on the type, one isEvent per event (this runs over the team's whole history).
    switch (event.type) {
      case 'attempt.started':
        if (!isEvent(event, 'attempt.started')) break;
        startBy.set(event.data.attemptId, event.by?.name);
        startAt.set(event.data.attemptId, time(event.at));
        break;
      case 'verification.recorded': {
        if (!isEvent(event, 'verification.recorded')) break;
        if (!event.data.required || !event.data.attemptId || event.data.outcome === 'skipped') break;
        // The latest result of each criterion decides; any failed criterion fails the attempt.
        const key = event.data.attemptId;
        if (event.data.outcome !== 'passed') {
          verifiedBy.set(key, false);
          verifyFailure.set(key, event.data.failureFeedback ?? event.data.message ?? `${event.data.criterionId} ${event.data.outcome}`);
        } else if (!verifiedBy.has(key)) verifiedBy.set(key, true);
        break;
      }
      case 'stage.approvalRequested': {
        if (!isEvent(event, 'stage.approvalRequested')) break;
        const at = time(event.at);
        if (at !== undefined && !openRequest.has(event.data.stageId)) openRequest.set(event.data.stageId, at);
        break;
      }
      case 'review.decided': {
        if (!isEvent(event, 'review.decided')) break;
        const at = time(event.at);
        closeRequest(openRequest, approvalWaits, event.data.stageId, at);
        if (event.data.decision === 'sentBack') {
          reopened.set(event.data.stageId, (reopened.get(event.data.stageId) ?? 0) + 1);
          const stage = state.stages.find((s) => s.id === event.data.stageId);
          failures.push({ kind: 'sentBack', stageId: event.data.stageId, owner: stage ? ownerLabel(stage.owner) : 'unknown', ...(event.data.note ? { reason: event.data.note } : {}), ...(at !== undefined ? { at } : {}) });
        }
        break;
      }
      case 'stage.sentBack': {
        if (!isEvent(event, 'stage.sentBack')) break;
        const at = time(event.at);
        closeRequest(openRequest, approvalWaits, event.data.fromStage, at);
        reopened.set(event.data.toStage, (reopened.get(event.data.toStage) ?? 0) + 1);
        const target = state.stages.find((s) => s.id === event.data.toStage);
        const owner = attemptOwner(state, startBy, event.data.reopens) ?? (target ? ownerLabel(target.owner) : 'unknown');
        failures.push({ kind: 'sentBack', stageId: event.data.toStage, owner, ...(event.data.reopens ? { attemptId: event.data.reopens } : {}), ...(event.data.note ? { reason: event.data.note } : {}), ...(at !== undefined ? { at } : {}) });
        break;
      }
      case 'handoff.recorded': {
        if (!isEvent(event, 'handoff.recorded') || event.data.toStage === event.data.fromStage) break;
        const at = time(event.at);
        closeRequest(openRequest, approvalWaits, event.data.fromStage, at);
        if (at !== undefined) handoffAt.set(event.data.fromStage, at);
        break;
      }
      case 'change.completed':
        if (isEvent(event, 'change.completed')) completedAt = time(event.at);
        break;
      case 'stage.ownerChanged':
        if (isEvent(event, 'stage.ownerChanged')) (ownerAt ??= new Map()).set(event.data.stageId, event.data.owner);
        break;
    }
  }
  const latest = time(latestCanonical);
  if (latest !== undefined && (lastEventAt === undefined || latest > lastEventAt)) lastEventAt = latest;

  return { startBy, startAt, verifiedBy, verifyFailure, handoffAt, reopened, approvalWaits, failures, actorMismatches, completedAt, lastEventAt, ownerAt };
}

/** The owner label of the attempt a send-back reopens. */
function attemptOwner(state: ChangeState, startBy: ReadonlyMap<string, string | undefined>, attemptId: string | undefined): string | undefined {
  if (!attemptId) return undefined;
  for (const stage of state.stages) {
    const a = stage.attempts.find((x) => x.id === attemptId);
    if (a) return attemptOwnerLabel(a, stage, startBy.get(a.id));
  }
  return undefined;
}

/** A decision closes its stage's open approval request: the wait is added to the stage's. */
function closeRequest(openRequest: Map<string, number>, approvalWaits: Map<string, number>, stageId: string, at: number | undefined): void {
  const from = openRequest.get(stageId);
  if (from === undefined || at === undefined) return;
  approvalWaits.set(stageId, (approvalWaits.get(stageId) ?? 0) + Math.max(0, at - from));
  openRequest.delete(stageId);
}

/** A stage's fact; its attempts' failures are added to the scan's. */
function stageFact(stage: StageState, scan: EventScan): StageFact {
  const { startBy, startAt, verifiedBy, verifyFailure, handoffAt, reopened, approvalWaits, failures, ownerAt } = scan;
  let workMs = 0;
  let personWaitMs = approvalWaits.get(stage.id) ?? 0;
  let costUsd = 0;
  let tokens = 0;
  let rollbacks = 0;
  let firstStart: number | undefined;
  let first: AttemptState | undefined;
  let liveCount = 0;
  let liveRollbacks = 0;
  let liveFailed = false;
  for (const a of stage.attempts) {
    // attempt.started's time, parsed in the pass above (the fold takes startedAt from the same event).
    const startedAt = startAt.has(a.id) ? startAt.get(a.id) : time(a.startedAt);
    if (startedAt !== undefined && (firstStart === undefined || startedAt < firstStart)) firstStart = startedAt;
    // Durations come from one machine's clock; differences of two machines' clocks may be negative.
    // The finish is read only when the attempt recorded no duration or the failure needs its time.
    let finishedAt = a.durationMs === undefined ? time(a.finishedAt) : undefined;
    const durationMs = a.durationMs ?? (startedAt !== undefined && finishedAt !== undefined ? Math.max(0, finishedAt - startedAt) : undefined);
    const verified = verifiedBy.get(a.id);
    if (a.backend === 'human') personWaitMs += durationMs ?? 0;
    else workMs += durationMs ?? 0;
    costUsd += a.costUsd ?? 0;
    tokens += a.tokens ?? 0;
    const kind = failureKindOf(a.outcome, verified);
    if (!a.superseded) {
      first ??= a;
      liveCount++;
      if (a.rolledBack) liveRollbacks++;
      if (kind) liveFailed = true;
    }
    if (!kind && !a.rolledBack) continue;
    if (a.durationMs !== undefined) finishedAt = time(a.finishedAt);
    const owner = attemptOwnerLabel(a, stage, startBy.get(a.id));
    const at = finishedAt ?? startedAt;
    const base = { stageId: stage.id, owner, attemptId: a.id, ...(at !== undefined ? { at } : {}) };
    if (kind) {
      const reason = kind === 'verificationFailed' ? (verifyFailure.get(a.id) ?? a.reason) : a.reason;
      failures.push({ kind, ...base, ...(reason ? { reason } : {}) });
    }
    if (a.rolledBack) {
      rollbacks++;
      failures.push({ kind: 'rolledBack', ...base, ...(a.reason ? { reason: a.reason } : {}) });
    }
  }
  const owner = first ? attemptOwnerLabel(first, stage, startBy.get(first.id)) : ownerLabel(ownerAt?.get(stage.id) ?? stage.owner);
  const through = stage.status === 'passed' || stage.status === 'stale';
  const reopenCount = reopened.get(stage.id) ?? 0;
  const failedAny = liveFailed || reopenCount > 0 || liveRollbacks > 0;
  const firstPass = through ? liveCount === 1 && reopenCount === 0 && liveRollbacks === 0 : failedAny ? false : undefined;
  const endedAt = through ? handoffAt.get(stage.id) : undefined;
  const fact: StageFact = {
    stageId: stage.id,
    status: stage.status,
    owner,
    backend: first?.backend ?? (ownerAt?.get(stage.id) ?? stage.owner).backend,
    attempts: liveCount,
    retries: Math.max(0, liveCount - 1 - reopenCount),
    sendBacks: reopenCount,
    rollbacks,
    workMs,
    personWaitMs,
    costUsd,
    tokens,
  };
  if (firstStart !== undefined) fact.startedAt = firstStart;
  if (endedAt !== undefined) fact.endedAt = endedAt;
  if (firstPass !== undefined) fact.firstPass = firstPass;
  return fact;
}

export function changeFacts(changeId: string, pipeline: Pipeline, events: readonly FactoryEvent[], options: ChangeFactsOptions = {}): ChangeFact {
  // Put in id order once, for the fold, this pass and the signal's.
  const ordered = inIdOrder(events);
  const state: ChangeState = foldInIdOrder(changeId, pipeline, ordered);

  const scan = scanEvents(ordered, state, options);
  const { startAt, failures, actorMismatches, completedAt, lastEventAt } = scan;
  const stages: StageFact[] = [];
  for (const stage of state.stages) stages.push(stageFact(stage, scan));

  // The signal, decided as signal.ts's changeSignal decides it (a test holds them equal),
  // from the fold already made rather than a second one.
  const stageOrder = pipeline.stages.map((s) => s.id);
  const recreated = checkAttemptsContextInIdOrder(ordered, stageOrder).filter((c) => c.recreated);
  const unverifiedStages = state.stages.filter((s) => (s.status === 'passed' || s.status === 'stale') && (s as { unverified?: boolean }).unverified === true).map((s) => s.id);
  const throughAll = state.stages.every((s) => s.status === 'passed' || s.status === 'stale');
  const signal = {
    verdict: (recreated.length > 0 ? false : !throughAll ? 'incomplete' : unverifiedStages.length > 0 ? 'unverified' : true) as SignalVerdict,
    recreated,
  };
  const allThrough = stages.every((s) => s.status === 'passed' || s.status === 'stale');
  const lastEnd = allThrough ? max(stages.map((s) => s.endedAt)) : undefined;
  const verdict: SignalVerdict = signal.verdict;
  const breaks: SignalBreak[] =
    verdict === false
      ? signal.recreated.map((c) => {
          const at = startAt.get(c.attemptId);
          // The signal's reasons are one string per distinct sentence: the facts hold one copy of each.
          return at !== undefined ? { stageId: c.stageId, attemptId: c.attemptId, reason: c.reason, at } : { stageId: c.stageId, attemptId: c.attemptId, reason: c.reason };
        })
      : verdict !== true && verdict !== 'incomplete'
        ? unverifiedStages.map((stageId) => {
            const at = stages.find((s) => s.stageId === stageId)?.endedAt;
            return { stageId, attemptId: '', reason: 'passed on the agent\'s word: no required criterion passed and nobody approved it', ...(at !== undefined ? { at } : {}) };
          })
        : [];
  const decidedAt = verdict === false ? min(breaks.map((b) => b.at)) : verdict === 'incomplete' ? undefined : lastEnd;
  const completed = state.completed || allThrough;
  const doneAt = state.completed ? (completedAt ?? lastEnd) : lastEnd;

  const active = state.stages.find((s) => s.id === state.activeStageId);
  const waitingFor: ChangeFact['waitingFor'] = completed || !active
    ? undefined
    : active.status === 'needsApproval' || active.owner.backend === 'human' || active.status === 'stale'
      ? 'person'
      : active.status === 'running'
        ? 'agent'
        : 'start';
  const createdAt = time(state.createdAt);
  let costUsd = 0;
  let tokens = 0;
  for (const x of stages) {
    costUsd += x.costUsd;
    tokens += x.tokens;
  }
  // Optional fields assigned, not spread: one fact per change of the team's history.
  const signalFact: ChangeFact['signal'] = { verdict, breaks };
  if (decidedAt !== undefined) signalFact.decidedAt = decidedAt;
  const fact: ChangeFact = { id: changeId, title: state.title, branches: [...(options.branches ?? [])], eventCount: events.length, completed, stages, failures, signal: signalFact, costUsd, tokens, actorMismatches };
  if (state.ticket) fact.ticket = state.ticket;
  if (state.branch) fact.branch = state.branch;
  if (state.createdBy) fact.author = state.createdBy;
  if (createdAt !== undefined) fact.createdAt = createdAt;
  if (lastEventAt !== undefined) fact.lastEventAt = lastEventAt;
  if (ordered.length) fact.lastEventId = ordered[ordered.length - 1]!.id;
  if (doneAt !== undefined && completed) fact.doneAt = doneAt;
  if (!completed && state.activeStageId) {
    fact.activeStageId = state.activeStageId;
    fact.activeStatus = active?.status;
  }
  if (waitingFor) fact.waitingFor = waitingFor;
  return fact;
}

/** An attempt's owner: its backend and model, or for a person's attempt who (the stage's person, else who started it). */
function attemptOwnerLabel(a: { backend: string; model?: string }, stage: { owner: { person?: string } }, startedBy: string | undefined): string {
  return ownerLabel({ backend: a.backend, model: a.model, person: stage.owner.person }, startedBy);
}

function sameActor(by: { name: string; email?: string } | undefined, committer: Actorish): boolean {
  if (!by) return false;
  if (by.email && committer.email) return by.email.toLowerCase() === committer.email.toLowerCase();
  return by.name === committer.name;
}

export function failureKindOf(outcome: AttemptOutcome | undefined, verified: boolean | undefined): FailureKind | undefined {
  switch (outcome) {
    case 'timedOut':
      return 'timeout';
    case 'budgetExceeded':
      return 'budget';
    case 'interrupted':
      return 'interrupted';
    case 'cancelled':
      return 'cancelled';
    case 'failed':
      return verified === false ? 'verificationFailed' : 'agentError';
    case 'succeeded':
      return verified === false ? 'verificationFailed' : undefined;
    default:
      return undefined;
  }
}

function max(values: readonly (number | undefined)[]): number | undefined {
  let m: number | undefined;
  for (const v of values) if (v !== undefined && (m === undefined || v > m)) m = v;
  return m;
}
function min(values: readonly (number | undefined)[]): number | undefined {
  let m: number | undefined;
  for (const v of values) if (v !== undefined && (m === undefined || v < m)) m = v;
  return m;
}

/**
 * The same change read from several places (branches, the working folder): one change,
 * events the same event by id. Returns the union, ordered by id, and for each event the
 * first source it was read from.
 */
export function mergeEvents<E extends { id: string }>(sources: readonly (readonly E[])[]): E[] {
  const byId = new Map<string, E>();
  for (const events of sources) for (const e of events) if (!byId.has(e.id)) byId.set(e.id, e);
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

// ---------------------------------------------------------------------------------
// Statistics

/** The q-quantile (0..1) by linear interpolation between closest ranks (R-7, as spreadsheets). */
export function quantile(values: readonly number[], q: number): number | undefined {
  return quantileOfSorted(new Float64Array(values).sort(), q);
}

function quantileOfSorted(sorted: ArrayLike<number>, q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function spread(values: readonly number[]): Spread {
  // Sorted once for both (a typed array sorts numbers without a comparator; made by copying
  // the array, where Float64Array.from walks it through its iterator).
  const sorted = new Float64Array(values).sort();
  const median = quantileOfSorted(sorted, 0.5);
  const p90 = quantileOfSorted(sorted, 0.9);
  return { n: values.length, ...(median !== undefined ? { median } : {}), ...(p90 !== undefined ? { p90 } : {}) };
}

// ---------------------------------------------------------------------------------
// Calendar in the user's time zone

const formatters = new Map<string, Intl.DateTimeFormat>();
const QUARTER_HOUR = 900_000;
const MEMO_LIMIT = 200_000;

/**
 * `compute` memoized per quarter hour (every zone's offset is a multiple of 15 minutes),
 * keyed by the quarter's number: no string built per call. Quarters beyond a small
 * integer (a bogus year) are computed, not kept.
 */
function byQuarterHour(compute: (ms: number) => string): (ms: number) => string {
  const memo = new Map<number, string>();
  return (ms) => {
    const quarter = Math.floor(ms / QUARTER_HOUR);
    if ((quarter | 0) !== quarter) return compute(ms);
    let known = memo.get(quarter);
    if (known === undefined) {
      if (memo.size > MEMO_LIMIT) memo.clear();
      memo.set(quarter, (known = compute(ms)));
    }
    return known;
  };
}

const dayKeyers = new Map<string, (ms: number) => string>();
const weekKeyers = new Map<string, (ms: number) => string>();
const zoneCalendars = new Map<string, ZoneCalendar>();

/**
 * Local day numbers in one zone, from its UTC offset found once per UTC day (at the day's
 * first and last millisecond: equal, the offset holds all day) rather than formatting
 * every quarter hour: a dashboard opened once formats a few hundred days, not tens of
 * thousands of quarters. A day whose offset changes (a transition) and instants outside
 * the plain range are left to the exact per-quarter-hour path (undefined).
 */
class ZoneCalendar {
  private readonly offsets = new Map<number, number | null>();
  private readonly format: Intl.DateTimeFormat;

  constructor(timeZone: string) {
    this.format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  }

  /** The local day number (days since 1970-01-01 in the zone) holding `ms`, or undefined on a transition day. */
  localDay(ms: number): number | undefined {
    if (!(ms >= PLAIN_FROM && ms < PLAIN_UNTIL)) return undefined;
    const utcDay = Math.floor(ms / DAY);
    let offset = this.offsets.get(utcDay);
    if (offset === undefined) {
      const start = this.offsetAt(utcDay * DAY);
      offset = start === this.offsetAt(utcDay * DAY + DAY - 1) ? start : null;
      if (this.offsets.size > MEMO_LIMIT) this.offsets.clear();
      this.offsets.set(utcDay, offset);
    }
    return offset === null ? undefined : Math.floor((ms + offset) / DAY);
  }

  /** The zone's offset from UTC at `ms` (whole seconds: what the format shows). */
  private offsetAt(ms: number): number {
    const parts = this.format.formatToParts(new Date(ms));
    const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
    const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
    return local - (ms - (((ms % 1000) + 1000) % 1000));
  }
}

/** Instants the per-day offsets cover (four-digit years, well clear of Date.UTC's two-digit ones). */
const PLAIN_FROM = Date.UTC(1971, 0, 1);
const PLAIN_UNTIL = Date.UTC(2200, 0, 1);

function zoneCalendar(tz: string): ZoneCalendar {
  let calendar = zoneCalendars.get(tz);
  if (!calendar) zoneCalendars.set(tz, (calendar = new ZoneCalendar(tz)));
  return calendar;
}

/** `YYYY-MM-DD` of a day number (days since 1970-01-01), one string per day. */
const dayNames = new Map<number, string>();
function dayName(day: number): string {
  let name = dayNames.get(day);
  if (name === undefined) {
    if (dayNames.size > MEMO_LIMIT) dayNames.clear();
    dayNames.set(day, (name = new Date(day * DAY).toISOString().slice(0, 10)));
  }
  return name;
}

/** dayKey bound to one zone (found once per computation, not per call). */
function dayKeys(tz: string): (ms: number) => string {
  let keyer = dayKeyers.get(tz);
  if (!keyer) {
    const calendar = zoneCalendar(tz);
    const exact = byQuarterHour((ms) => formatDay(ms, tz));
    dayKeyers.set(tz, (keyer = (ms) => {
      const day = calendar.localDay(ms);
      return day === undefined ? exact(ms) : dayName(day);
    }));
  }
  return keyer;
}

/** weekKey bound to one zone (found once per computation, not per call). */
function weekKeys(tz: string): (ms: number) => string {
  let keyer = weekKeyers.get(tz);
  if (!keyer) {
    const day = dayKeys(tz);
    const calendar = zoneCalendar(tz);
    const exact = byQuarterHour((ms) => {
      const [y, m, d] = day(ms).split('-').map(Number) as [number, number, number];
      const utc = Date.UTC(y, m - 1, d);
      const weekday = (new Date(utc).getUTCDay() + 6) % 7; // Monday 0
      return new Date(utc - weekday * 86_400_000).toISOString().slice(0, 10);
    });
    weekKeyers.set(
      tz,
      (keyer = (ms) => {
        const local = calendar.localDay(ms);
        // Day 0 (1970-01-01) was a Thursday: Monday-based weekday is (day + 3) mod 7.
        return local === undefined ? exact(ms) : dayName(local - ((((local + 3) % 7) + 7) % 7));
      }),
    );
  }
  return keyer;
}

/** `YYYY-MM-DD` of `ms` in `timeZone` (an IANA name; undefined = UTC). */
export function dayKey(ms: number, timeZone?: string): string {
  return dayKeys(timeZone ?? 'UTC')(ms);
}

function formatDay(ms: number, tz: string): string {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(tz, f);
  }
  const parts = f.formatToParts(new Date(ms));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '00';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** The Monday (`YYYY-MM-DD`) of the week holding `ms` in `timeZone`. */
export function weekKey(ms: number, timeZone?: string): string {
  return weekKeys(timeZone ?? 'UTC')(ms);
}

/** Consecutive week keys from `from` to `to` (both week keys). */
export function weeksBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`), end = Date.parse(`${to}T00:00:00Z`); t <= end && out.length < 1000; t += 7 * 86_400_000) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Aggregation










const DAY = 86_400_000;

function inPeriod(t: number | undefined, f: MetricsFilter): boolean {
  if (t === undefined) return f.since === undefined && f.until === undefined;
  return (f.since === undefined || t >= f.since) && (f.until === undefined || t < f.until);
}

/** Whether the change is in view under the change-level filters (branch, author, owner, backend, period overlap). */
export function changeMatches(c: ChangeFact, f: MetricsFilter): boolean {
  if (f.branch && !c.branches.includes(f.branch) && c.branch !== f.branch) return false;
  if (f.author && c.author !== f.author) return false;
  if (f.owner && !c.stages.some((s) => s.owner === f.owner && (!f.stage || s.stageId === f.stage))) return false;
  if (f.backend && !c.stages.some((s) => s.backend === f.backend && (!f.stage || s.stageId === f.stage))) return false;
  if (f.since !== undefined || f.until !== undefined) {
    const start = c.createdAt ?? c.lastEventAt;
    const end = c.doneAt ?? c.lastEventAt ?? start;
    if (start === undefined) return false;
    if (f.until !== undefined && start >= f.until) return false;
    if (f.since !== undefined && end !== undefined && end < f.since && c.completed) return false;
  }
  return true;
}

function stageMatches(s: StageFact, f: MetricsFilter): boolean {
  return (!f.stage || s.stageId === f.stage) && (!f.owner || s.owner === f.owner) && (!f.backend || s.backend === f.backend);
}

type Row = StageOwnerRow & { times: number[] };

function emptyRow(stageId: string, owner: string, backend: string): Row {
  return { stageId, owner, backend, visits: 0, attempts: 0, decided: 0, firstPass: 0, retries: 0, sendBacks: 0, rollbacks: 0, timeInStage: { n: 0 }, workMs: 0, personWaitMs: 0, costUsd: 0, tokens: 0, failures: {}, times: [] };
}

/**
 * What one pass over the changes collects for every metric. A class of small methods
 * rather than one long function: the pass runs once per computation, and V8 compiled
 * the long function's loop anew on every call (on-stack replacement of ~300 lines cost
 * more CPU than the loop itself); small methods called per change compile once, cheaply.
 */
class MetricsPass {
  /** The changes in view, in the order of the facts. */
  readonly facts: ChangeFact[] = [];
  readonly owners = new Set<string>();
  readonly backends = new Set<string>();
  readonly branches = new Set<string>();
  readonly authors = new Set<string>();

  readonly weeklySignal = new Map<string, { kept: number; recreated: number }>();
  kept = 0;
  recreated = 0;
  unverified = 0;
  incomplete = 0;
  readonly broken: SignalMetrics['broken'] = [];
  readonly breaksByStage = new Map<string, number>();

  readonly stuck: StuckChange[] = [];
  readonly byStage = new Map<string, Row>();
  /** stage → owner → row (nested: no key string built per visit); `ownerRows` keeps their first-seen order. */
  readonly byOwner = new Map<string, Map<string, Row>>();
  readonly ownerRows: Row[] = [];
  /** stage → failure kind → hotspot; `hotspotList` keeps their first-seen order. */
  readonly hotspotIndex = new Map<string, Map<FailureKind, Hotspot>>();
  readonly hotspotList: Hotspot[] = [];
  /** First-pass decisions per week of the stage's start, for the headline's trend. */
  readonly firstPassWeekly = new Map<string, { decided: number; passed: number }>();

  readonly weekly = new Map<string, { done: number; started: number; leads: number[] }>();
  readonly leads: number[] = [];
  wip = 0;
  firstWeek: string | undefined;
  readonly rows: ChangeRow[] = [];
  readonly actorMismatches: Metrics['actorMismatches'] = [];
  costUsd = 0;

  constructor(
    private readonly f: MetricsFilter,
    private readonly now: number,
    private readonly stuckMs: number,
    private readonly weekOf: (ms: number) => string,
  ) {}

  add(c: ChangeFact): void {
    this.addChoices(c);
    if (!changeMatches(c, this.f)) return;
    this.facts.push(c);
    this.addSignal(c);
    const isStuck = this.addStuck(c);
    const attempts = this.addStages(c);
    this.addFailures(c);
    this.addFlow(c);
    this.addRow(c, isStuck, attempts);
  }

  /** The filter's choices, from every change whether in view or not. */
  private addChoices(c: ChangeFact): void {
    for (const s of c.stages) {
      if (s.attempts === 0) continue;
      this.owners.add(s.owner);
      this.backends.add(s.backend);
    }
    if (c.branch) this.branches.add(c.branch);
    for (const b of c.branches) this.branches.add(b);
    if (c.author) this.authors.add(c.author);
  }

  private addSignal(c: ChangeFact): void {
    const v = c.signal.verdict;
    if (v === 'incomplete') {
      this.incomplete++;
      return;
    }
    if (!inPeriod(c.signal.decidedAt, this.f)) return;
    if (v === true) this.kept++;
    else if (v === false) this.recreated++;
    else this.unverified++;
    if (c.signal.decidedAt !== undefined) {
      const w = this.weekOf(c.signal.decidedAt);
      let entry = this.weeklySignal.get(w);
      if (!entry) this.weeklySignal.set(w, (entry = { kept: 0, recreated: 0 }));
      // An unverified change did not keep the promise either (as signalShare counts it).
      if (v === true) entry.kept++;
      else entry.recreated++;
    }
    if (v !== true && c.signal.breaks.length > 0) {
      const b = c.signal.breaks[0]!;
      this.broken.push({ changeId: c.id, title: c.title, stageId: b.stageId, reason: b.reason, ...(b.at !== undefined ? { at: b.at } : {}) });
      this.breaksByStage.set(b.stageId, (this.breaksByStage.get(b.stageId) ?? 0) + 1);
    }
  }

  private addStuck(c: ChangeFact): boolean {
    const isStuck = !c.completed && c.lastEventAt !== undefined && this.now - c.lastEventAt >= this.stuckMs;
    if (isStuck) {
      this.stuck.push({
        changeId: c.id,
        title: c.title,
        ...(c.activeStageId ? { stageId: c.activeStageId } : {}),
        ...(c.waitingFor ? { waitingFor: c.waitingFor } : {}),
        ...(c.lastEventAt !== undefined ? { lastEventAt: c.lastEventAt } : {}),
        idleDays: Math.floor((this.now - (c.lastEventAt ?? this.now)) / DAY),
      });
    }
    return isStuck;
  }

  /** Per stage and per owner; returns the change's attempts (every stage's, filtered or not). */
  private addStages(c: ChangeFact): number {
    const f = this.f;
    let attempts = 0;
    for (const s of c.stages) {
      attempts += s.attempts;
      if (!stageMatches(s, f)) continue;
      if (s.firstPass !== undefined && s.startedAt !== undefined) {
        const w = this.weekOf(s.startedAt);
        let entry = this.firstPassWeekly.get(w);
        if (!entry) this.firstPassWeekly.set(w, (entry = { decided: 0, passed: 0 }));
        entry.decided++;
        if (s.firstPass) entry.passed++;
      }
      if (s.attempts === 0 && s.sendBacks === 0) continue;
      if (!inPeriod(s.startedAt ?? c.createdAt, f)) continue;
      let stageRow = this.byStage.get(s.stageId);
      if (!stageRow) this.byStage.set(s.stageId, (stageRow = emptyRow(s.stageId, '*', '*')));
      let owners = this.byOwner.get(s.stageId);
      if (!owners) this.byOwner.set(s.stageId, (owners = new Map()));
      let ownerRow = owners.get(s.owner);
      if (!ownerRow) {
        owners.set(s.owner, (ownerRow = emptyRow(s.stageId, s.owner, s.backend)));
        this.ownerRows.push(ownerRow);
      }
      addVisit(stageRow, s);
      addVisit(ownerRow, s);
    }
    return attempts;
  }

  private addFailures(c: ChangeFact): void {
    const f = this.f;
    for (const failure of c.failures) {
      if (f.stage && failure.stageId !== f.stage) continue;
      if (f.owner && failure.owner !== f.owner) continue;
      if (!inPeriod(failure.at, f)) continue;
      const stageRow = this.byStage.get(failure.stageId);
      if (stageRow) stageRow.failures[failure.kind] = (stageRow.failures[failure.kind] ?? 0) + 1;
      const ownerRow = this.byOwner.get(failure.stageId)?.get(failure.owner);
      if (ownerRow) ownerRow.failures[failure.kind] = (ownerRow.failures[failure.kind] ?? 0) + 1;
      let kinds = this.hotspotIndex.get(failure.stageId);
      if (!kinds) this.hotspotIndex.set(failure.stageId, (kinds = new Map()));
      let h = kinds.get(failure.kind);
      if (!h) {
        kinds.set(failure.kind, (h = { stageId: failure.stageId, kind: failure.kind, count: 0, examples: [] }));
        this.hotspotList.push(h);
      }
      h.count++;
      if (h.examples.length < 3) h.examples.push({ changeId: c.id, owner: failure.owner, ...(failure.reason ? { reason: failure.reason } : {}) });
    }
  }

  private bucket(w: string): { done: number; started: number; leads: number[] } {
    let b = this.weekly.get(w);
    if (!b) this.weekly.set(w, (b = { done: 0, started: 0, leads: [] }));
    return b;
  }

  private addFlow(c: ChangeFact): void {
    const f = this.f;
    if (c.createdAt !== undefined && inPeriod(c.createdAt, f)) {
      const w = this.weekOf(c.createdAt);
      this.bucket(w).started++;
      if (!this.firstWeek || w < this.firstWeek) this.firstWeek = w;
    }
    if (c.completed && c.doneAt !== undefined && inPeriod(c.doneAt, f)) {
      const w = this.weekOf(c.doneAt);
      const b = this.bucket(w);
      b.done++;
      if (!this.firstWeek || w < this.firstWeek) this.firstWeek = w;
      if (c.createdAt !== undefined) {
        const lead = Math.max(0, c.doneAt - c.createdAt);
        b.leads.push(lead);
        this.leads.push(lead);
      }
    }
    if (!c.completed && c.eventCount > 0) this.wip++;
  }

  /** The table's row (optional fields assigned, not spread: one row per change of the team's history). */
  private addRow(c: ChangeFact, isStuck: boolean, attempts: number): void {
    const v = c.signal.verdict;
    const row: ChangeRow = {
      id: c.id,
      title: c.title,
      branches: c.branches,
      state: c.completed ? 'done' : isStuck ? 'stuck' : 'open',
      attempts,
      costUsd: c.costUsd,
      signal: v === true ? 'kept' : v === false ? 'recreated' : v === 'incomplete' ? 'incomplete' : 'unverified',
      mismatches: c.actorMismatches.length,
    };
    if (c.ticket) row.ticket = c.ticket;
    if (c.branch) row.branch = c.branch;
    if (c.author) row.author = c.author;
    if (c.activeStageId) row.stage = c.activeStageId;
    if (c.waitingFor) row.waitingFor = c.waitingFor;
    if (c.createdAt !== undefined) row.createdAt = c.createdAt;
    if (c.lastEventAt !== undefined) row.lastEventAt = c.lastEventAt;
    if (c.completed && c.doneAt !== undefined && c.createdAt !== undefined) row.leadTimeMs = Math.max(0, c.doneAt - c.createdAt);
    if (c.local) row.local = true;
    this.rows.push(row);
    for (const m of c.actorMismatches) this.actorMismatches.push({ ...m, changeId: c.id });
    this.costUsd += c.costUsd;
  }
}

export function computeMetrics(all: readonly ChangeFact[], stageOrder: readonly string[], options: MetricsOptions): Metrics {
  const f = options.filter ?? {};
  const tz = options.timeZone ?? 'UTC';
  const now = options.now;
  const weekOf = weekKeys(tz);
  const share = (k: number, r: number) => (k + r > 0 ? k / (k + r) : undefined);

  // One pass over every change collects what every metric needs (the filter's choices
  // from all of them, the rest from those in view), in the order of the facts.
  const pass = new MetricsPass(f, now, (options.stuckDays ?? 3) * DAY, weekOf);
  for (const c of all) pass.add(c);
  const { facts, kept, recreated, unverified, incomplete, broken, stuck, weeklySignal, firstPassWeekly, weekly, leads, wip } = pass;
  let firstWeek = pass.firstWeek;
  let lastWeek = weekOf(f.until !== undefined ? Math.min(now, f.until - 1) : now);

  broken.sort((a, b) => (b.at ?? 0) - (a.at ?? 0));
  const signalShare = share(kept, recreated + unverified);
  stuck.sort((a, b) => (a.lastEventAt ?? 0) - (b.lastEventAt ?? 0));

  const finish = (row: Row): StageOwnerRow => {
    const { times, ...rest } = row;
    return { ...rest, timeInStage: spread(times), ...(row.decided > 0 ? { firstPassRate: row.firstPass / row.decided } : {}) };
  };
  const order = (id: string) => {
    const i = stageOrder.indexOf(id);
    return i < 0 ? stageOrder.length : i;
  };
  const stages = [...pass.byStage.values()].map(finish).sort((a, b) => order(a.stageId) - order(b.stageId));
  const stageOwners = pass.ownerRows.map(finish).sort((a, b) => order(a.stageId) - order(b.stageId) || (b.firstPassRate ?? -1) - (a.firstPassRate ?? -1) || a.owner.localeCompare(b.owner));
  const hotspots = pass.hotspotList.filter((h) => h.kind !== 'cancelled').sort((a, b) => b.count - a.count || order(a.stageId) - order(b.stageId));

  if (f.since !== undefined) firstWeek = weekOf(f.since);
  if (firstWeek && firstWeek > lastWeek) lastWeek = firstWeek;
  const weeks = firstWeek ? weeksBetween(firstWeek, lastWeek) : [];
  const flowWeekly = weeks.map((week) => {
    const b = weekly.get(week);
    const median = b ? quantile(b.leads, 0.5) : undefined;
    return { week, done: b?.done ?? 0, started: b?.started ?? 0, ...(median !== undefined ? { leadTimeMedianMs: median } : {}) };
  });
  const cumulative = cumulativeFlow(facts, stageOrder, weeks);

  // --- headline trend: the last four weeks against the four before
  const before = weeks.slice(-8, -4);
  let keptBefore = 0;
  let recreatedBefore = 0;
  let decidedBefore = 0;
  let passedBefore = 0;
  for (const w of before) {
    keptBefore += weeklySignal.get(w)?.kept ?? 0;
    recreatedBefore += weeklySignal.get(w)?.recreated ?? 0;
    decidedBefore += firstPassWeekly.get(w)?.decided ?? 0;
    passedBefore += firstPassWeekly.get(w)?.passed ?? 0;
  }
  const totalDecided = stages.reduce((s, r) => s + r.decided, 0);
  const totalFirst = stages.reduce((s, r) => s + r.firstPass, 0);
  const sharePrev = share(keptBefore, recreatedBefore);
  const fpBefore = decidedBefore > 0 ? passedBefore / decidedBefore : undefined;
  const leadMedian = quantile(leads, 0.5);

  const sorted = (xs: Set<string>) => [...xs].filter(Boolean).sort();
  return {
    generatedAt: now,
    timeZone: tz,
    filter: f,
    changes: facts.length,
    headline: {
      ...(signalShare !== undefined ? { signalShare } : {}),
      ...(sharePrev !== undefined ? { signalShareBefore: sharePrev } : {}),
      ...(totalDecided > 0 ? { firstPassRate: totalFirst / totalDecided } : {}),
      ...(fpBefore !== undefined ? { firstPassRateBefore: fpBefore } : {}),
      throughputLastWeek: flowWeekly.at(-1)?.done ?? 0,
      throughputWeekBefore: flowWeekly.at(-2)?.done ?? 0,
      ...(leadMedian !== undefined ? { leadTimeMedianMs: leadMedian } : {}),
      wip,
      stuck: stuck.length,
      costUsd: pass.costUsd,
    },
    signal: {
      kept,
      recreated,
      unverified,
      incomplete,
      ...(signalShare !== undefined ? { share: signalShare } : {}),
      weekly: weeks.map((week) => {
        const e = weeklySignal.get(week) ?? { kept: 0, recreated: 0 };
        const s = share(e.kept, e.recreated);
        return { week, ...e, ...(s !== undefined ? { share: s } : {}) };
      }),
      broken,
      byStage: [...pass.breaksByStage].map(([stageId, count]) => ({ stageId, count })).sort((a, b) => order(a.stageId) - order(b.stageId)),
    },
    stuck,
    stages,
    stageOwners,
    hotspots,
    flow: { weekly: flowWeekly, leadTime: spread(leads), wip, cumulative },
    rows: pass.rows,
    choices: {
      stages: [...stageOrder],
      owners: sorted(pass.owners),
      backends: sorted(pass.backends),
      branches: sorted(pass.branches),
      authors: sorted(pass.authors),
    },
    actorMismatches: pass.actorMismatches,
  };
}


function addVisit(row: Row, s: StageFact): void {
  row.visits++;
  row.attempts += s.attempts;
  if (s.firstPass !== undefined) {
    row.decided++;
    if (s.firstPass) row.firstPass++;
  }
  row.retries += s.retries;
  row.sendBacks += s.sendBacks;
  row.rollbacks += s.rollbacks;
  row.workMs += s.workMs;
  row.personWaitMs += s.personWaitMs;
  row.costUsd += s.costUsd;
  row.tokens += s.tokens;
  if (s.startedAt !== undefined && s.endedAt !== undefined) row.times.push(Math.max(0, s.endedAt - s.startedAt));
}

/**
 * At the end of each week, which stage each change was in: not yet created (left out),
 * done, or the first stage not handed off by then (using each stage's standing handoff
 * time; a send-back moves a change back only from the moment it is recorded again).
 */
export function cumulativeFlow(facts: readonly ChangeFact[], stageOrder: readonly string[], weeks: readonly string[]): FlowMetrics['cumulative'] {
  const ends = weeks.map((week) => Date.parse(`${week}T00:00:00Z`) + 7 * DAY);
  // Counted by position (the pipeline's stages, then done) in one array per week; a stage
  // the pipeline no longer names is counted by name beside them.
  const columns = [...stageOrder, 'done'];
  const column = new Map(columns.map((id, i) => [id, i] as const));
  const done = stageOrder.length;
  const counts = weeks.map(() => new Float64Array(columns.length));
  const others: Map<string, number>[] = weeks.map(() => new Map());
  // A change done by a week's end is done at every later week's end: counted once, summed after.
  const doneFrom = new Float64Array(weeks.length + 1);
  for (const c of facts) {
    if (c.createdAt === undefined) continue;
    // The change is in the first stage whose standing handoff is not before the week's
    // end: with each stage's latest handoff taken as the running maximum, that stage only
    // moves forward as weeks pass, so one pointer walks the stages once per change.
    let stage = 0;
    let placed = -1;
    let id = '';
    let at: number | undefined;
    let reached = c.stages[0]?.endedAt ?? Infinity;
    let w = 0;
    while (w < weeks.length && c.createdAt >= ends[w]!) w++;
    for (; w < weeks.length; w++) {
      const end = ends[w]!;
      if (c.completed && c.doneAt !== undefined && c.doneAt < end) {
        doneFrom[w]!++;
        break;
      }
      while (stage < c.stages.length && reached < end) {
        stage++;
        const next = c.stages[stage]?.endedAt;
        reached = next === undefined ? Infinity : Math.max(reached, next);
      }
      // The stage's column, looked up when the pointer moves rather than every week.
      if (stage !== placed) {
        placed = stage;
        id = c.stages[stage]?.stageId ?? 'done';
        at = column.get(id);
      }
      if (at !== undefined) counts[w]![at]!++;
      else others[w]!.set(id, (others[w]!.get(id) ?? 0) + 1);
    }
  }
  let doneSoFar = 0;
  return weeks.map((week, w) => {
    doneSoFar += doneFrom[w]!;
    const row = counts[w]!;
    row[done]! += doneSoFar;
    const out: Record<string, number> = {};
    for (let i = 0; i < columns.length; i++) out[columns[i]!] = row[i]!;
    for (const [id, n] of others[w]!) out[id] = n;
    return { week, counts: out };
  });
}
