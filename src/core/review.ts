// The reviewer's walk through a change, built from the record alone: a timeline of
// everything that happened (attempts, verification runs, handoffs, decisions,
// rollbacks, comments) with who or what did it, and the steps a reviewer goes
// through — each stage, then each of its attempts — with what the stage was handed,
// what it consumed, the signal's verdict on it, and what it produced. Pure: the
// engine (engine/review.ts) reads events, evidence and git, and fills in what only
// it can know (integrity of evidence, who committed an event file).
import type { Actor, EvidenceRef, FactoryEvent } from './events';
import { isEvent, isFromNewerVersion } from './events';
import { compareEvents, type AttemptState, type ChangeState, type StageState } from './fold';
import { diffItems, EMPTY_PACK_VERSION, itemLabel, itemsAtVersion, type ContextPackState } from './contextPack';
import type { AttemptContextCheck } from './signal';

export type TimelineKind =
  | 'change'
  | 'attempt'
  | 'verification'
  | 'handoff'
  | 'decision'
  | 'sentBack'
  | 'rollback'
  | 'context'
  | 'comment'
  | 'hunk'
  | 'owner'
  | 'other';

export interface TimelineEntry {
  /** The event's id (ULID). */
  id: string;
  kind: TimelineKind;
  at: string;
  /** What happened, as a sentence (untrusted parts included as text). */
  text: string;
  /** Who or what acted: the agent (backend and model) for an attempt, else the person the event names. */
  actor: string;
  /** The person the event file says wrote it. */
  by?: Actor;
  /** Who committed the event file, when the record was read from git. */
  committedBy?: Actor;
  stageId?: string;
  attemptId?: string;
  /** The step this entry belongs to. */
  stepId?: string;
  durationMs?: number;
  costUsd?: number;
  commit?: string;
  tree?: string;
  /** passed / failed / succeeded… where it has one. */
  outcome?: string;
}

export interface ReviewEvidence {
  ref: EvidenceRef;
  /** verified / altered / missing; unchecked until the engine re-hashed it. */
  integrity: 'verified' | 'altered' | 'missing' | 'unchecked';
}

export interface ReviewVerification {
  eventId: string;
  criterionId: string;
  kind?: string;
  outcome: string;
  required: boolean;
  message?: string;
  at: string;
  durationMs?: number;
  tree?: string;
  totals?: { passed?: number; failed?: number; skipped?: number; errors?: number; total?: number };
  failures?: string[];
  command?: string;
  exitCode?: number;
  evidence: ReviewEvidence[];
  /** Results of a rolled-back or superseded attempt, or older runs of the criterion. */
  current: boolean;
}

export interface ReviewComment {
  id: string;
  at: string;
  by?: Actor;
  committedBy?: Actor;
  body: string;
  stageId?: string;
  attemptId?: string;
  path?: string;
  line?: number;
  side?: string;
  tree?: string;
}

export interface ReviewHunkDecision {
  id: string;
  at: string;
  by?: Actor;
  attemptId?: string;
  stageId: string;
  path: string;
  hunk: string;
  header?: string;
  decision: string;
  note?: string;
}

export interface ReviewDecision {
  id: string;
  at: string;
  by?: Actor;
  committedBy?: Actor;
  stageId: string;
  kind: 'approved' | 'sentBack';
  toStage?: string;
  note?: string;
  tree?: string;
}

export interface ContextVerdict {
  consumed?: { version: string; number?: number };
  handedForward?: { version: string; number?: number; from?: string };
  recreated: boolean;
  /** "consumed v4 as handed forward" / "started without the handoff's pack: context re-created". */
  sentence: string;
  /** The signal's reason, as it says it. */
  reason: string;
}

export interface PackChange {
  from?: number;
  to?: number;
  added: string[];
  removed: string[];
  changed: string[];
}

export interface AttemptStep {
  kind: 'attempt';
  id: string;
  index: number;
  stageId: string;
  stageTitle: string;
  attemptId: string;
  /** "Implement — attempt 2 (retry)". */
  heading: string;
  number: number;
  backend: string;
  model?: string;
  actor: string;
  by?: Actor;
  committedBy?: Actor;
  trigger?: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  costUsd?: number;
  tokens?: number;
  outcome?: string;
  reason?: string;
  summary?: string;
  rolledBack: boolean;
  superseded: boolean;
  startCommit?: string;
  startTree?: string;
  endTree?: string;
  context: ContextVerdict;
  packChange?: PackChange;
  prompt?: string;
  transcript?: ReviewEvidence;
  diff?: ReviewEvidence;
  changedFiles: { status: string; path: string }[];
  filesRead: string[];
  verifications: ReviewVerification[];
  comments: ReviewComment[];
  hunks: ReviewHunkDecision[];
}

export interface StageStep {
  kind: 'stage';
  id: string;
  index: number;
  stageId: string;
  stageTitle: string;
  heading: string;
  role: string;
  owner: string;
  status: string;
  attempts: string[];
  /** The handoff (or send-back) that handed this stage its pack, and the one it handed on. */
  handedIn?: { from: string; version?: string; number?: number; at: string };
  handedOn?: { to?: string; version?: string; number?: number; at: string; commit?: string; tree?: string; summary?: string };
  /** The signal's verdict for the stage: its latest attempt that still counts. */
  context?: ContextVerdict;
  verifications: ReviewVerification[];
  decisions: ReviewDecision[];
  approved: boolean;
  approvedTree?: string;
  approvalStale: boolean;
  comments: ReviewComment[];
}

export type ReviewStep = StageStep | AttemptStep;

export interface ReviewModel {
  changeId: string;
  title: string;
  ticket?: string;
  branch?: string;
  description?: string;
  /** Where the record was read: the working folder, or a git ref. */
  source: string;
  createdAt?: string;
  createdBy?: string;
  completed: boolean;
  timeline: TimelineEntry[];
  steps: ReviewStep[];
  comments: ReviewComment[];
  hunks: ReviewHunkDecision[];
  totals: { attempts: number; costUsd?: number; durationMs: number; verifications: number; failedVerifications: number };
  /** Events of a newer version this one keeps and shows but cannot fold. */
  newerEvents: number;
}

export interface ReviewInput {
  change: ChangeState;
  events: readonly FactoryEvent[];
  pack: ContextPackState;
  checks: readonly AttemptContextCheck[];
  /** Where the record was read from (shown), default "working folder". */
  source?: string;
  /** Event id → who committed its file (records read from git). */
  committers?: ReadonlyMap<string, Actor>;
}

export function stageStepId(stageId: string): string {
  return `stage:${stageId}`;
}

export function attemptStepId(attemptId: string): string {
  return `attempt:${attemptId}`;
}

/** Pack version → its number: v0 is the empty pack, v1 the first version recorded… */
export function versionNumbers(pack: ContextPackState): Map<string, number> {
  const numbers = new Map<string, number>([[EMPTY_PACK_VERSION, 0]]);
  pack.history.forEach((entry, i) => {
    if (!numbers.has(entry.version)) numbers.set(entry.version, i + 1);
  });
  return numbers;
}

export function buildReview(input: ReviewInput): ReviewModel {
  const { change, pack } = input;
  const events = [...input.events].sort(compareEvents);
  const numbers = versionNumbers(pack);
  const v = (version: string | undefined) => (version === undefined ? undefined : { version, ...(numbers.has(version) ? { number: numbers.get(version)! } : {}) });
  const committer = (id: string) => input.committers?.get(id);
  const stageTitle = (id: string | undefined) => (id === undefined ? '' : (change.stages.find((s) => s.id === id)?.title ?? id));
  const attempts = new Map<string, AttemptState>();
  for (const stage of change.stages) for (const a of stage.attempts) attempts.set(a.id, a);
  const attemptNumber = (a: AttemptState) => a.number ?? (change.stages.find((s) => s.id === a.stageId)?.attempts.indexOf(a) ?? 0) + 1;
  const agentOf = (a: { backend: string; model?: string }, by?: Actor) => (a.backend === 'human' ? (by?.name ?? 'a person') : `${a.backend}${a.model ? ` (${a.model})` : ''}`);
  const startEvents = new Map<string, FactoryEvent>();
  const finishEvents = new Map<string, FactoryEvent>();

  // --- comments, hunk decisions, decisions, verification runs: collected once
  const comments: ReviewComment[] = [];
  const hunks: ReviewHunkDecision[] = [];
  const decisions: ReviewDecision[] = [];
  const verifications: (ReviewVerification & { stageId: string; attemptId?: string })[] = [];
  const handoffs: { eventId: string; at: string; fromStage: string; toStage?: string; version?: string; commit?: string; tree?: string; summary?: string; attemptId?: string }[] = [];
  const sentBacks: { eventId: string; at: string; fromStage: string; toStage: string; version?: string }[] = [];
  const timeline: TimelineEntry[] = [];
  let newerEvents = 0;

  for (const event of events) {
    const base = { id: event.id, at: event.at, ...(event.by ? { by: event.by } : {}), ...(committer(event.id) ? { committedBy: committer(event.id)! } : {}) };
    const person = event.by?.name ?? 'unknown';
    if (isEvent(event, 'change.created')) {
      timeline.push({ ...base, kind: 'change', text: `Change created: ${event.data.title}${event.data.ticket ? ` (${event.data.ticket})` : ''}`, actor: person });
    } else if (isEvent(event, 'change.completed')) {
      timeline.push({ ...base, kind: 'change', text: `Change completed${event.data.note ? `: ${event.data.note}` : ''}`, actor: person });
    } else if (isEvent(event, 'stage.ownerChanged')) {
      const o = event.data.owner;
      timeline.push({ ...base, kind: 'owner', stageId: event.data.stageId, stepId: stageStepId(event.data.stageId), text: `${stageTitle(event.data.stageId)}: owner changed to ${o.backend === 'human' ? (o.person ?? 'a person') : `${o.backend}${o.model ? ` (${o.model})` : ''}`}`, actor: person });
    } else if (isEvent(event, 'attempt.started')) {
      startEvents.set(event.data.attemptId, event);
      const a = attempts.get(event.data.attemptId);
      const n = a ? attemptNumber(a) : event.data.number;
      timeline.push({
        ...base,
        kind: 'attempt',
        stageId: event.data.stageId,
        attemptId: event.data.attemptId,
        stepId: attemptStepId(event.data.attemptId),
        text: `${stageTitle(event.data.stageId)} attempt${n ? ` #${n}` : ''} started${event.data.trigger && event.data.trigger !== 'run' ? ` (${event.data.trigger})` : ''}${event.data.contextVersion ? ` with context v${numbers.get(event.data.contextVersion) ?? '?'}` : ' without a context version'}`,
        actor: agentOf(event.data, event.by),
        ...(event.data.start?.commit ? { commit: event.data.start.commit } : {}),
        ...(event.data.start?.tree ? { tree: event.data.start.tree } : {}),
      });
    } else if (isEvent(event, 'attempt.finished')) {
      finishEvents.set(event.data.attemptId, event);
      const a = attempts.get(event.data.attemptId);
      const n = a ? attemptNumber(a) : undefined;
      timeline.push({
        ...base,
        kind: 'attempt',
        stageId: event.data.stageId,
        attemptId: event.data.attemptId,
        stepId: attemptStepId(event.data.attemptId),
        text: `${stageTitle(event.data.stageId)} attempt${n ? ` #${n}` : ''} ${outcomeWords(event.data.outcome)}${event.data.reason ? `: ${event.data.reason}` : ''}${failedCallsWords(event.data.failedToolCalls, true)}`,
        actor: a ? agentOf(a, event.by) : person,
        outcome: event.data.outcome,
        ...(event.data.durationMs !== undefined ? { durationMs: event.data.durationMs } : {}),
        ...(event.data.usage?.costUsd !== undefined ? { costUsd: event.data.usage.costUsd } : {}),
        ...(event.data.end?.commit ? { commit: event.data.end.commit } : {}),
        ...(event.data.end?.tree ? { tree: event.data.end.tree } : {}),
      });
    } else if (isEvent(event, 'attempt.rolledBack')) {
      const a = attempts.get(event.data.attemptId);
      timeline.push({
        ...base,
        kind: 'rollback',
        stageId: event.data.stageId,
        attemptId: event.data.attemptId,
        stepId: attemptStepId(event.data.attemptId),
        text: `${stageTitle(event.data.stageId)} attempt${a ? ` #${attemptNumber(a)}` : ''} rolled back${event.data.files?.length ? ` (${event.data.files.length} file${event.data.files.length === 1 ? '' : 's'})` : ''}`,
        actor: person,
      });
    } else if (isEvent(event, 'verification.recorded')) {
      const d = event.data;
      const totals = readTotals(d.totals);
      const command = readCommand(d.command);
      const run: ReviewVerification & { stageId: string; attemptId?: string } = {
        eventId: event.id,
        stageId: d.stageId,
        ...(d.attemptId ? { attemptId: d.attemptId } : {}),
        criterionId: d.criterionId,
        ...(d.kind ? { kind: d.kind } : {}),
        outcome: d.outcome,
        required: d.required,
        ...(d.message ? { message: d.message } : {}),
        at: event.at,
        ...(d.durationMs !== undefined ? { durationMs: d.durationMs } : {}),
        ...(d.verified?.tree ? { tree: d.verified.tree } : {}),
        ...(totals ? { totals } : {}),
        ...(readFailures(d.totals, d.notes).length ? { failures: readFailures(d.totals, d.notes) } : {}),
        ...(command?.command ? { command: command.command } : {}),
        ...(command?.exitCode !== undefined ? { exitCode: command.exitCode } : {}),
        evidence: d.evidence.map((ref) => ({ ref, integrity: 'unchecked' as const })),
        current: false,
      };
      verifications.push(run);
      timeline.push({
        ...base,
        kind: 'verification',
        stageId: d.stageId,
        ...(d.attemptId ? { attemptId: d.attemptId } : {}),
        stepId: d.attemptId ? attemptStepId(d.attemptId) : stageStepId(d.stageId),
        text: `${stageTitle(d.stageId)}: ${d.criterionId} ${d.outcome}${totals ? ` (${totalsWords(totals)})` : ''}${d.message && d.outcome !== 'passed' ? `: ${d.message}` : ''}`,
        actor: person,
        outcome: d.outcome,
        ...(d.durationMs !== undefined ? { durationMs: d.durationMs } : {}),
        ...(d.verified?.commit ? { commit: d.verified.commit } : {}),
        ...(d.verified?.tree ? { tree: d.verified.tree } : {}),
      });
    } else if (isEvent(event, 'stage.approvalRequested')) {
      timeline.push({ ...base, kind: 'decision', stageId: event.data.stageId, stepId: stageStepId(event.data.stageId), text: `${stageTitle(event.data.stageId)} asks for approval`, actor: person });
    } else if (isEvent(event, 'review.decided')) {
      const d = event.data;
      const decision: ReviewDecision = {
        ...base,
        stageId: d.stageId,
        kind: d.decision,
        ...(d.decision === 'sentBack' ? { toStage: d.stageId } : {}),
        ...(d.note ? { note: d.note } : {}),
        ...(d.at?.tree ? { tree: d.at.tree } : {}),
      };
      decisions.push(decision);
      timeline.push({
        ...base,
        kind: d.decision === 'approved' ? 'decision' : 'sentBack',
        stageId: d.stageId,
        stepId: stageStepId(d.stageId),
        text: `${d.decision === 'approved' ? 'Approved' : 'Sent back'} ${stageTitle(d.stageId)}${d.note ? `: ${d.note}` : ''}`,
        actor: person,
        ...(d.at?.commit ? { commit: d.at.commit } : {}),
        ...(d.at?.tree ? { tree: d.at.tree } : {}),
      });
    } else if (isEvent(event, 'stage.sentBack')) {
      const d = event.data;
      decisions.push({ ...base, stageId: d.fromStage, kind: 'sentBack', toStage: d.toStage, ...(d.note ? { note: d.note } : {}) });
      sentBacks.push({ eventId: event.id, at: event.at, fromStage: d.fromStage, toStage: d.toStage, ...(d.contextVersion ? { version: d.contextVersion } : {}) });
      timeline.push({
        ...base,
        kind: 'sentBack',
        stageId: d.fromStage,
        stepId: stageStepId(d.fromStage),
        text: `Sent back from ${stageTitle(d.fromStage)} to ${stageTitle(d.toStage)}${d.note ? `: ${d.note}` : ''}${d.supersedes.length ? ` (${d.supersedes.length} later attempt${d.supersedes.length === 1 ? '' : 's'} superseded)` : ''}`,
        actor: person,
      });
    } else if (isEvent(event, 'stage.completedByHand')) {
      timeline.push({ ...base, kind: 'decision', stageId: event.data.stageId, stepId: stageStepId(event.data.stageId), text: `${stageTitle(event.data.stageId)} marked done by hand${event.data.note ? `: ${event.data.note}` : ''}`, actor: person });
    } else if (isEvent(event, 'handoff.recorded')) {
      const d = event.data;
      if (d.toStage === d.fromStage) continue;
      handoffs.push({ eventId: event.id, at: event.at, fromStage: d.fromStage, ...(d.toStage ? { toStage: d.toStage } : {}), ...(d.contextVersion ? { version: d.contextVersion } : {}), ...(d.at?.commit ? { commit: d.at.commit } : {}), ...(d.at?.tree ? { tree: d.at.tree } : {}), ...(d.summary ? { summary: d.summary } : {}), ...(d.attemptId ? { attemptId: d.attemptId } : {}) });
      timeline.push({
        ...base,
        kind: 'handoff',
        stageId: d.fromStage,
        stepId: stageStepId(d.fromStage),
        text: `Handoff from ${stageTitle(d.fromStage)}${d.toStage ? ` to ${stageTitle(d.toStage)}` : ' (last stage)'}${d.contextVersion ? ` with context v${numbers.get(d.contextVersion) ?? '?'}` : ''}`,
        actor: person,
        ...(d.at?.commit ? { commit: d.at.commit } : {}),
        ...(d.at?.tree ? { tree: d.at.tree } : {}),
      });
    } else if (isEvent(event, 'review.hunkDecided')) {
      const d = event.data;
      hunks.push({ id: event.id, at: event.at, ...(event.by ? { by: event.by } : {}), stageId: d.stageId, ...(d.attemptId ? { attemptId: d.attemptId } : {}), path: d.path, hunk: d.hunk, ...(d.header ? { header: d.header } : {}), decision: d.decision, ...(d.note ? { note: d.note } : {}) });
      timeline.push({
        ...base,
        kind: 'hunk',
        stageId: d.stageId,
        ...(d.attemptId ? { attemptId: d.attemptId, stepId: attemptStepId(d.attemptId) } : { stepId: stageStepId(d.stageId) }),
        text: `Hunk ${d.decision} in ${d.path}${d.header ? ` ${d.header}` : ''}`,
        actor: person,
        ...(d.at?.tree ? { tree: d.at.tree } : {}),
      });
    } else if (isEvent(event, 'review.commented')) {
      const d = event.data;
      const comment: ReviewComment = {
        ...base,
        body: d.body,
        ...(d.stageId ? { stageId: d.stageId } : {}),
        ...(d.attemptId ? { attemptId: d.attemptId } : {}),
        ...(d.path ? { path: d.path } : {}),
        ...(d.line !== undefined ? { line: d.line } : {}),
        ...(d.side ? { side: d.side } : {}),
        ...(d.tree ? { tree: d.tree } : {}),
      };
      comments.push(comment);
      timeline.push({
        ...base,
        kind: 'comment',
        ...(d.stageId ? { stageId: d.stageId } : {}),
        ...(d.attemptId ? { attemptId: d.attemptId } : {}),
        ...(d.attemptId ? { stepId: attemptStepId(d.attemptId) } : d.stageId ? { stepId: stageStepId(d.stageId) } : {}),
        text: `Comment${d.path ? ` on ${d.path}${d.line ? `:${d.line}` : ''}` : ''}: ${firstLine(d.body)}`,
        actor: person,
      });
    } else if (event.type.startsWith('context.') && !isFromNewerVersion(event)) {
      const stageId = typeof event.data.stageId === 'string' ? event.data.stageId : undefined;
      const item = (event.data as { item?: { title?: unknown } }).item;
      const words: Record<string, string> = { itemAdded: 'added', itemRemoved: 'removed', itemsReordered: 'reordered', itemPinned: 'pinned/unpinned', itemRefreshed: 'refreshed' };
      timeline.push({ ...base, kind: 'context', ...(stageId ? { stageId } : {}), text: `Context ${words[event.type.slice('context.'.length)] ?? event.type}${typeof item?.title === 'string' ? `: ${item.title}` : ''}`, actor: person });
    } else {
      newerEvents++;
      timeline.push({ ...base, kind: 'other', text: `An event this version does not know (${event.type}); kept as it is`, actor: person });
    }
  }

  // --- steps
  const checkOf = new Map(input.checks.map((c) => [c.attemptId, c]));
  const steps: ReviewStep[] = [];
  // "What changed in the pack since the previous stage": against what the previous stage consumed.
  let previousStageConsumed: string | undefined;
  const stageOrder = change.stages.map((s) => s.id);
  for (const stage of change.stages) {
    let consumedHere: string | undefined;
    const stageVerifications = verifications.filter((r) => r.stageId === stage.id);
    markCurrent(stage, stageVerifications, attempts);
    const into = [...handoffs.filter((h) => (h.toStage ?? stageOrder[stageOrder.indexOf(h.fromStage) + 1]) === stage.id).map((h) => ({ from: stageTitle(h.fromStage), version: h.version, at: h.at, eventId: h.eventId })), ...sentBacks.filter((s) => s.toStage === stage.id).map((s) => ({ from: `${stageTitle(s.fromStage)} (sent back)`, version: s.version, at: s.at, eventId: s.eventId }))].sort((a, b) => (a.eventId < b.eventId ? -1 : 1)).at(-1);
    const out = handoffs.filter((h) => h.fromStage === stage.id).at(-1);
    const live = stage.attempts.filter((a) => !a.superseded);
    const latest = (live.at(-1) ?? stage.attempts.at(-1));
    const latestCheck = latest ? checkOf.get(latest.id) : undefined;
    const stageStep: StageStep = {
      kind: 'stage',
      id: stageStepId(stage.id),
      index: steps.length,
      stageId: stage.id,
      stageTitle: stage.title,
      heading: `Stage ${change.stages.indexOf(stage) + 1} of ${change.stages.length}: ${stage.title}`,
      role: stage.role,
      owner: stage.owner.backend === 'human' ? (stage.owner.person ?? 'a person') : `${stage.owner.backend}${stage.owner.model ? ` (${stage.owner.model})` : ''}`,
      status: stage.status,
      attempts: stage.attempts.map((a) => attemptStepId(a.id)),
      ...(into ? { handedIn: { from: into.from, ...(into.version ? { version: into.version } : {}), ...(into.version && numbers.has(into.version) ? { number: numbers.get(into.version)! } : {}), at: into.at } } : {}),
      ...(out
        ? {
            handedOn: {
              ...(out.toStage ? { to: stageTitle(out.toStage) } : {}),
              ...(out.version ? { version: out.version } : {}),
              ...(out.version && numbers.has(out.version) ? { number: numbers.get(out.version)! } : {}),
              at: out.at,
              ...(out.commit ? { commit: out.commit } : {}),
              ...(out.tree ? { tree: out.tree } : {}),
              ...(out.summary ? { summary: out.summary } : {}),
            },
          }
        : {}),
      ...(latestCheck ? { context: contextVerdict(latestCheck, v, stage.id === stageOrder[0]) } : {}),
      verifications: stageVerifications.map(stripStage),
      decisions: decisions.filter((d) => d.stageId === stage.id || d.toStage === stage.id),
      approved: stage.approved,
      ...(stage.approvedTree ? { approvedTree: stage.approvedTree } : {}),
      approvalStale: stage.approvalStale === true,
      comments: comments.filter((c) => c.stageId === stage.id && !c.attemptId),
    };
    steps.push(stageStep);
    for (const a of stage.attempts) {
      const start = startEvents.get(a.id);
      const finish = finishEvents.get(a.id);
      const check = checkOf.get(a.id);
      const finishData = finish && isEvent(finish, 'attempt.finished') ? finish.data : undefined;
      const startData = start && isEvent(start, 'attempt.started') ? start.data : undefined;
      const n = attemptNumber(a);
      const packChange = packChangeBetween(pack, previousStageConsumed, a.contextVersion, numbers);
      if (a.contextVersion && !a.superseded && !a.rolledBack) consumedHere = a.contextVersion;
      steps.push({
        kind: 'attempt',
        id: attemptStepId(a.id),
        index: steps.length,
        stageId: stage.id,
        stageTitle: stage.title,
        attemptId: a.id,
        heading: `${stage.title} — attempt ${n}${a.trigger && a.trigger !== 'run' ? ` (${a.trigger})` : ''}${a.superseded ? ', superseded' : ''}${a.rolledBack ? ', rolled back' : ''}${failedCallsWords(a.failedToolCalls)}`,
        number: n,
        backend: a.backend,
        // The model asked for, and the one the agent said answered when it differs.
        ...(a.model || a.reportedModel ? { model: a.reportedModel && a.reportedModel !== a.model ? `${a.model ?? 'not named'} → ${a.reportedModel}` : (a.model ?? a.reportedModel)! } : {}),
        actor: agentOf(a, start?.by),
        ...(start?.by ? { by: start.by } : {}),
        ...(start && committer(start.id) ? { committedBy: committer(start.id)! } : {}),
        ...(a.trigger ? { trigger: a.trigger } : {}),
        ...(a.startedAt ? { startedAt: a.startedAt } : {}),
        ...(a.finishedAt ? { finishedAt: a.finishedAt } : {}),
        ...(a.durationMs !== undefined ? { durationMs: a.durationMs } : {}),
        ...(a.costUsd !== undefined ? { costUsd: a.costUsd } : {}),
        ...(a.tokens !== undefined ? { tokens: a.tokens } : {}),
        ...(a.outcome ? { outcome: a.outcome } : {}),
        ...(a.reason ? { reason: a.reason } : {}),
        ...(a.summary ? { summary: a.summary } : {}),
        rolledBack: a.rolledBack,
        superseded: a.superseded,
        ...(startData?.start?.commit ? { startCommit: startData.start.commit } : {}),
        ...(a.startTree ? { startTree: a.startTree } : {}),
        ...(a.endTree ? { endTree: a.endTree } : {}),
        context: check ? contextVerdict(check, v, stage.id === stageOrder[0]) : { recreated: false, sentence: 'not judged: the stage is not in the pipeline', reason: '' },
        ...(packChange ? { packChange } : {}),
        ...(a.prompt !== undefined ? { prompt: a.prompt } : {}),
        ...(a.transcript ? { transcript: { ref: a.transcript, integrity: 'unchecked' as const } } : {}),
        ...(a.diff ? { diff: { ref: a.diff, integrity: 'unchecked' as const } } : {}),
        changedFiles: finishData?.changedFiles?.map((f) => ({ status: f.status, path: f.path })) ?? [],
        filesRead: finishData?.filesRead ?? [],
        verifications: stageVerifications.filter((r) => r.attemptId === a.id).map(stripStage),
        comments: comments.filter((c) => c.attemptId === a.id),
        hunks: hunks.filter((h) => h.attemptId === a.id),
      });
    }
    if (consumedHere) previousStageConsumed = consumedHere;
  }

  const all = [...attempts.values()];
  const costs = all.map((a) => a.costUsd).filter((c): c is number => c !== undefined);
  return {
    changeId: change.id,
    title: change.title,
    ...(change.ticket ? { ticket: change.ticket } : {}),
    ...(change.branch ? { branch: change.branch } : {}),
    ...(change.description ? { description: change.description } : {}),
    source: input.source ?? 'working folder',
    ...(change.createdAt ? { createdAt: change.createdAt } : {}),
    ...(change.createdBy ? { createdBy: change.createdBy } : {}),
    completed: change.completed,
    timeline,
    steps,
    comments,
    hunks,
    totals: {
      attempts: all.length,
      ...(costs.length ? { costUsd: costs.reduce((s, c) => s + c, 0) } : {}),
      durationMs: all.reduce((s, a) => s + (a.durationMs ?? 0), 0),
      verifications: verifications.length,
      failedVerifications: verifications.filter((r) => r.outcome === 'failed' || r.outcome === 'error').length,
    },
    newerEvents,
  };
}

function stripStage(run: ReviewVerification & { stageId: string; attemptId?: string }): ReviewVerification {
  const { stageId: _s, attemptId: _a, ...rest } = run;
  return rest;
}

/** A run is current when it is the latest of its criterion in the stage and its attempt still counts. */
function markCurrent(stage: StageState, runs: ReviewVerification[], attempts: Map<string, AttemptState>): void {
  const latest = new Map<string, ReviewVerification & { attemptId?: string }>();
  for (const run of runs as (ReviewVerification & { attemptId?: string })[]) {
    const a = run.attemptId ? attempts.get(run.attemptId) : undefined;
    if (a && (a.rolledBack || a.superseded)) continue;
    latest.set(run.criterionId, run);
  }
  for (const run of latest.values()) run.current = stage.results.some((r) => r.criterionId === run.criterionId);
}

export function contextVerdict(check: AttemptContextCheck, v: (version: string | undefined) => { version: string; number?: number } | undefined, firstStage: boolean): ContextVerdict {
  const consumed = v(check.consumedVersion);
  const handed = v(check.expectedVersion);
  const name = (x: { version: string; number?: number } | undefined) => (x ? (x.number !== undefined ? `v${x.number}` : `version ${x.version.slice(0, 12)}`) : '');
  let sentence: string;
  if (!check.recreated) {
    sentence = handed ? `consumed ${name(consumed)} as handed forward` : firstStage ? `consumed ${name(consumed)}, the pack as gathered` : `consumed ${name(consumed)}`;
  } else if (!consumed) {
    sentence = handed ? `started without the handoff's pack (${name(handed)}): context re-created` : `started without the handoff's pack: context re-created`;
  } else if (handed) {
    sentence = `consumed ${name(consumed)}, not the ${name(handed)} handed forward: context re-created`;
  } else {
    sentence = `consumed ${name(consumed)} with no handoff to consume: context re-created`;
  }
  return {
    ...(consumed ? { consumed } : {}),
    ...(handed ? { handedForward: handed } : {}),
    recreated: check.recreated,
    sentence,
    reason: check.reason,
  };
}

function packChangeBetween(pack: ContextPackState, from: string | undefined, to: string | undefined, numbers: Map<string, number>): PackChange | undefined {
  if (!to) return undefined;
  const after = itemsAtVersion(pack, to);
  if (!after) return undefined;
  const before = from ? itemsAtVersion(pack, from) : [];
  if (!before) return undefined;
  const diff = diffItems(before, after);
  return {
    ...(from && numbers.has(from) ? { from: numbers.get(from)! } : from ? {} : { from: 0 }),
    ...(numbers.has(to) ? { to: numbers.get(to)! } : {}),
    added: diff.added.map(itemLabel),
    removed: diff.removed.map(itemLabel),
    changed: diff.changed.map((c) => itemLabel(c.after)),
  };
}

/** ", 2 failed tool calls" — named in the timeline — so a run that "succeeded" past refused writes reads as such. */
function failedCallsWords(calls: readonly { name: string }[] | undefined, named = false): string {
  if (!calls?.length) return '';
  const count = `${calls.length} failed tool call${calls.length === 1 ? '' : 's'}`;
  return named ? ` (${count}: ${calls.map((c) => c.name).join(', ')})` : `, ${count}`;
}

export function outcomeWords(outcome: string): string {
  const words: Record<string, string> = { succeeded: 'succeeded', failed: 'failed', cancelled: 'was cancelled', timedOut: 'timed out', budgetExceeded: 'went over budget', interrupted: 'was interrupted' };
  return words[outcome] ?? outcome;
}

function readTotals(raw: unknown): ReviewVerification['totals'] | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  const num = (...keys: string[]) => {
    for (const k of keys) if (typeof r[k] === 'number' && Number.isFinite(r[k])) return r[k] as number;
    return undefined;
  };
  // The verify runner records {tests, passed, failures, errors, skipped}; older or other writers may say failed/total.
  const totals = { passed: num('passed'), failed: num('failures', 'failed'), skipped: num('skipped'), errors: num('errors'), total: num('tests', 'total') };
  const present = Object.fromEntries(Object.entries(totals).filter(([, value]) => value !== undefined)) as NonNullable<ReviewVerification['totals']>;
  return Object.keys(present).length ? present : undefined;
}

function readFailures(totals: unknown, notes: unknown): string[] {
  const out: string[] = [];
  const collect = (list: unknown) => {
    if (!Array.isArray(list)) return;
    for (const f of list.slice(0, 50)) {
      if (typeof f === 'string') out.push(f);
      else if (f && typeof f === 'object') {
        const o = f as Record<string, unknown>;
        const name = [o.suite, o.classname, o.name].filter((x) => typeof x === 'string').join(' › ');
        const message = typeof o.message === 'string' ? o.message : '';
        if (name || message) out.push(message ? `${name}: ${message}` : name);
      }
    }
  };
  if (totals && typeof totals === 'object') collect((totals as Record<string, unknown>).failures);
  collect(notes);
  return out;
}

function readCommand(raw: unknown): { command?: string; exitCode?: number } | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  const command = Array.isArray(r.argv) ? r.argv.filter((a) => typeof a === 'string').join(' ') : typeof r.command === 'string' ? r.command : undefined;
  const exitCode = typeof r.exitCode === 'number' ? r.exitCode : undefined;
  return { ...(command ? { command } : {}), ...(exitCode !== undefined ? { exitCode } : {}) };
}

export function totalsWords(t: NonNullable<ReviewVerification['totals']>): string {
  return [t.passed !== undefined ? `${t.passed} passed` : '', t.failed !== undefined ? `${t.failed} failed` : '', t.errors ? `${t.errors} errors` : '', t.skipped ? `${t.skipped} skipped` : ''].filter(Boolean).join(', ');
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

/** Every evidence ref a review shows, once each. */
export function reviewEvidence(model: ReviewModel): ReviewEvidence[] {
  const all: ReviewEvidence[] = [];
  for (const step of model.steps) {
    if (step.kind === 'attempt') {
      if (step.transcript) all.push(step.transcript);
      if (step.diff) all.push(step.diff);
    }
    for (const run of step.verifications) all.push(...run.evidence);
  }
  return all;
}

/** Applies integrity results (sha256 → status) to every evidence entry of the model, in place. */
export function applyIntegrity(model: ReviewModel, status: ReadonlyMap<string, ReviewEvidence['integrity']>): void {
  for (const e of reviewEvidence(model)) e.integrity = status.get(e.ref.sha256) ?? e.integrity;
}
