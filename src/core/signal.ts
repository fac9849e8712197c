// The seed's measurable signal: the share of changes that go through their stages
// without re-creating context. A stage's attempt re-created context when it did not
// consume the pack version that the handoff into its stage carried forward (or
// started with no handoff to consume, except the first stage, which consumes the
// pack as gathered). Agents legitimately re-read files before editing them, so those
// reads are an advisory figure per attempt and never count in the signal.
import type { EventOf, FactoryEvent } from './events';
import { isEvent } from './events';
import { foldChange, inIdOrder } from './fold';
import type { Pipeline } from './pipeline';
import { EMPTY_PACK_VERSION, foldContextPack, heldPaths, itemsAtVersion, knownVersions, normalizeWorkspacePath, type ContextPackState } from './contextPack';

export interface AttemptContextCheck {
  attemptId: string;
  stageId: string;
  /** The `attempt.started` event. */
  startEventId: string;
  consumedVersion?: string;
  /** What the attempt should have consumed: the version the handoff into its stage carried. */
  expectedVersion?: string;
  /** The `handoff.recorded` event that carried `expectedVersion`. */
  handoffEventId?: string;
  recreated: boolean;
  /** Why, in a sentence for the reviewer and the lead. */
  reason: string;
}

interface HandoffInto {
  eventId: string;
  fromStage: string;
  version?: string;
}

/** Which stage a handoff goes to: its `toStage`, else the stage after `fromStage` in the pipeline. */
function handoffTarget(fromStage: string, toStage: string | undefined, stageOrder: readonly string[]): string | undefined {
  if (toStage) return toStage;
  const at = stageOrder.indexOf(fromStage);
  return at >= 0 ? stageOrder[at + 1] : undefined;
}

/**
 * What hands a stage its context: a handoff into it, or a send-back to it, which hands
 * the reopened stage the pack as it was when the reviewer sent it back.
 */
function handoffInto(event: FactoryEvent, stageOrder: readonly string[]): { target: string; handoff: HandoffInto } | undefined {
  if (isEvent(event, 'handoff.recorded')) {
    const target = handoffTarget(event.data.fromStage, event.data.toStage, stageOrder);
    return target ? { target, handoff: { eventId: event.id, fromStage: event.data.fromStage, version: event.data.contextVersion } } : undefined;
  }
  if (isEvent(event, 'stage.sentBack') && stageOrder.includes(event.data.toStage)) {
    return { target: event.data.toStage, handoff: { eventId: event.id, fromStage: `${event.data.fromStage} (sent back)`, version: event.data.contextVersion } };
  }
  return undefined;
}

/**
 * Judges every attempt of the stages in `stageOrder` (the pipeline's order) against
 * the handoff into its stage. The latest handoff recorded before the attempt started
 * counts (a send-back recorded as a handoff to an earlier stage counts for that
 * stage); a handoff recorded later that carried exactly what the attempt consumed is
 * accepted too, since clocks drift between machines. `pack` (or a function giving it,
 * called only when an attempt needs the pack's history) is the change's context pack,
 * folded from the events when not given.
 */
export function checkAttemptsContext(events: readonly FactoryEvent[], stageOrder: readonly string[], pack?: ContextPackState | (() => ContextPackState)): AttemptContextCheck[] {
  return checkAttemptsContextInIdOrder(inIdOrder(events), stageOrder, pack);
}

/** checkAttemptsContext of events already in id order (as inIdOrder returns them); without `pack`, the pack is folded from these events. */
export function checkAttemptsContextInIdOrder(ordered: readonly FactoryEvent[], stageOrder: readonly string[], pack?: ContextPackState | (() => ContextPackState)): AttemptContextCheck[] {
  // Folded only when an attempt needs the pack's history (no closures per call: this runs for every change of the team's history).
  let packState = typeof pack === 'object' ? pack : undefined;
  const packFunction = typeof pack === 'function' ? pack : undefined;
  let versions: Set<string> | undefined;
  // The pack folds only context events: those, collected in the pass below, fold to the same pack as all of them.
  const contextEvents: FactoryEvent[] = [];

  // One pass: every handoff into each stage, every fetch, and each attempt with the latest handoff into its stage before it.
  const allHandoffs = new Map<string, HandoffInto[]>();
  const latestInto = new Map<string, HandoffInto>();
  // An attempt that fetched the pack (or the handoff) through the MCP server consumed that version too.
  const fetched = new Map<string, Set<string>>();
  const started: { event: EventOf<'attempt.started'>; before: HandoffInto | undefined }[] = [];
  const seenAttempts = new Set<string>();
  for (const event of ordered) {
    if (packState === undefined && event.type.startsWith('context.')) contextEvents.push(event);
    switch (event.type) {
      case 'handoff.recorded':
      case 'stage.sentBack': {
        const into = handoffInto(event, stageOrder);
        if (!into) break;
        const list = allHandoffs.get(into.target);
        if (list) list.push(into.handoff);
        else allHandoffs.set(into.target, [into.handoff]);
        latestInto.set(into.target, into.handoff);
        break;
      }
      case 'context.fetched': {
        if (!isEvent(event, 'context.fetched') || !event.data.attemptId) break;
        const set = fetched.get(event.data.attemptId) ?? new Set<string>();
        set.add(event.data.contextVersion);
        fetched.set(event.data.attemptId, set);
        break;
      }
      case 'attempt.started':
        if (!isEvent(event, 'attempt.started') || !stageOrder.includes(event.data.stageId) || seenAttempts.has(event.data.attemptId)) break;
        seenAttempts.add(event.data.attemptId);
        started.push({ event, before: latestInto.get(event.data.stageId) });
        break;
    }
  }

  const checks: AttemptContextCheck[] = [];
  for (const { event, before } of started) {
    const { stageId, attemptId, contextVersion: consumed } = event.data;
    let later: HandoffInto | undefined;
    if (before?.version && consumed === before.version) {
      checks.push(attemptCheck(event, false, sentence(consumedForward, before.fromStage), before));
    } else if (before?.version && fetched.get(attemptId)?.has(before.version)) {
      checks.push(attemptCheck(event, false, sentence(fetchedForward, before.fromStage), before));
    } else if (before?.version && consumed && conventionsRefreshedSince((packState ??= packFrom(packFunction, contextEvents)), before.version, consumed)) {
      checks.push(attemptCheck(event, false, sentence(consumedWithConventions, before.fromStage), before));
    } else if (consumed && (later = allHandoffs.get(stageId)?.find((h) => h.version === consumed && h.eventId > event.id))) {
      checks.push(attemptCheck(event, false, sentence(consumedLater, later.fromStage), later));
    } else if (before) {
      const reason = !before.version
        ? sentence(carriedNone, before.fromStage)
        : consumed
          ? sentence(consumedOther, before.fromStage, before.version, consumed)
          : sentence(startedWithoutVersion, before.fromStage, before.version);
      checks.push(attemptCheck(event, true, reason, before));
    } else if (stageId === stageOrder[0]) {
      if (!consumed) checks.push(attemptCheck(event, true, 'started without the context pack'));
      else if (consumed !== EMPTY_PACK_VERSION && !(versions ??= knownVersions((packState ??= packFrom(packFunction, contextEvents)))).has(consumed)) checks.push(attemptCheck(event, true, sentence(neverHad, consumed)));
      else checks.push(attemptCheck(event, false, 'the first stage consumed the pack as gathered'));
    } else {
      const previous = stageOrder[stageOrder.indexOf(stageId) - 1]!;
      checks.push(attemptCheck(event, true, sentence(noHandoff, previous)));
    }
  }
  return checks;
}

// The checks' reasons, each a sentence about a stage and versions.
const consumedForward = (from: string) => `consumed the pack version the handoff from ${from} carried forward`;
const fetchedForward = (from: string) => `fetched the pack version the handoff from ${from} carried forward through the factory's MCP server`;
const consumedWithConventions = (from: string) => `consumed the pack version the handoff from ${from} carried forward, with the project's conventions refreshed since`;
const consumedLater = (from: string) => `consumed the pack version the handoff from ${from} carried forward (recorded later; clocks differ)`;
const carriedNone = (from: string) => `the handoff from ${from} carried no context version`;
const consumedOther = (from: string, carried: string, consumed: string) => `consumed version ${short(consumed)}, but the handoff from ${from} carried ${short(carried)}`;
const startedWithoutVersion = (from: string, carried: string) => `started without a context version; the handoff from ${from} carried ${short(carried)}`;
const neverHad = (consumed: string) => `consumed version ${short(consumed)}, which this change's pack never had`;
const noHandoff = (previous: string) => `started with no handoff to consume: ${previous} had not handed off`;

type Sentence = (a: string, b: string, c: string) => string;
/** sentence → its first, second and third part → the text. */
const sentences = new Map<Sentence, Map<string, Map<string, Map<string, string>>>>();
let sentenceCount = 0;

/**
 * One string per distinct reason: a team's history repeats a few (the same stages and
 * versions) for every attempt, and the lead's facts keep them. Looked up by their parts,
 * so the text is neither built anew nor hashed per attempt.
 */
function sentence(of: Sentence, a: string, b = '', c = ''): string {
  let byA = sentences.get(of);
  if (!byA) sentences.set(of, (byA = new Map()));
  let byB = byA.get(a);
  if (!byB) byA.set(a, (byB = new Map()));
  let byC = byB.get(b);
  if (!byC) byB.set(b, (byC = new Map()));
  let text = byC.get(c);
  if (text === undefined) {
    if (++sentenceCount > 10_000) {
      sentences.clear();
      sentenceCount = 0;
    }
    byC.set(c, (text = of(a, b, c)));
  }
  return text;
}

/** The pack given (or what its function gives), else the fold of the change's context events. */
function packFrom(pack: (() => ContextPackState) | undefined, contextEvents: readonly FactoryEvent[]): ContextPackState {
  return pack ? pack() : foldContextPack(contextEvents);
}

function attemptCheck(started: EventOf<'attempt.started'>, recreated: boolean, reason: string, handoff?: HandoffInto): AttemptContextCheck {
  const check: AttemptContextCheck = { attemptId: started.data.attemptId, stageId: started.data.stageId, startEventId: started.id, recreated, reason };
  if (started.data.contextVersion) check.consumedVersion = started.data.contextVersion;
  if (handoff?.version) check.expectedVersion = handoff.version;
  if (handoff) check.handoffEventId = handoff.eventId;
  return check;
}

function short(version: string): string {
  return version.slice(0, 12);
}

/**
 * Whether the pack went from `from` to `to` only by adding or refreshing convention
 * items (e.g. a lesson the lead promoted while the change waited between stages): the
 * project's conventions are not the change's context, so taking them again is no
 * re-creation.
 */
function conventionsRefreshedSince(pack: ContextPackState, from: string, to: string): boolean {
  let end = pack.history.length - 1;
  while (end >= 0 && pack.history[end]!.version !== to) end--;
  if (end < 0) return false;
  let start = -1;
  for (let i = end - 1; i >= 0 && start < 0; i--) if (pack.history[i]!.version === from) start = i;
  if (start < 0 && from !== EMPTY_PACK_VERSION) return false;
  return pack.history.slice(start + 1, end + 1).every((entry) => {
    if (entry.removed.length + entry.pinned.length + entry.unpinned.length > 0 || entry.reordered) return false;
    return [...entry.added, ...entry.refreshed].every((id) => entry.items.find((item) => item.id === id)?.kind === 'convention');
  });
}

/**
 * true: went through every stage, each on positive evidence, without re-creating
 * context; false: some attempt re-created it; unverified: through without re-creating
 * context, but some stage passed on nothing but an agent's word; incomplete: not
 * through yet.
 */
export type SignalVerdict = true | false | 'unverified' | 'incomplete';

export interface StageSignal {
  stageId: string;
  /** The stage handed off, was approved or was completed by hand. */
  through: boolean;
  /** Through with no required criterion passed and no approval: passed, unverified. */
  unverified: boolean;
  attempts: AttemptContextCheck[];
}

export interface ChangeSignal {
  changeId: string;
  verdict: SignalVerdict;
  stages: StageSignal[];
  /** The attempts that re-created context (what makes the verdict false). */
  recreated: AttemptContextCheck[];
  /** Stages that passed with no positive evidence (what makes the verdict 'unverified'). */
  unverified: string[];
}

export interface ChangeSignalOptions {
  /** The stages the signal covers (plan, implement, test, evidence…); all of the pipeline's by default. */
  stages?: readonly string[];
}

export function changeSignal(changeId: string, pipeline: Pipeline, events: readonly FactoryEvent[], options: ChangeSignalOptions = {}): ChangeSignal {
  const stageOrder = pipeline.stages.map((stage) => stage.id);
  const covered = options.stages ?? stageOrder;
  const unknown = covered.filter((id) => !stageOrder.includes(id));
  if (unknown.length > 0) throw new Error(`The signal covers stages the pipeline does not have: ${unknown.join(', ')}.`);
  const state = foldChange(changeId, pipeline, events);
  const checks = checkAttemptsContext(events, stageOrder);
  const stages: StageSignal[] = covered.map((stageId) => {
    const stage = state.stages.find((s) => s.id === stageId);
    const through = stage?.status === 'passed' || stage?.status === 'stale';
    return { stageId, through, unverified: through && stage?.unverified === true, attempts: checks.filter((c) => c.stageId === stageId) };
  });
  const recreated = stages.flatMap((s) => s.attempts.filter((a) => a.recreated));
  const unverified = stages.filter((s) => s.unverified).map((s) => s.stageId);
  // Once an attempt re-created context the change cannot pass, whether or not it is done.
  const verdict: SignalVerdict = recreated.length > 0 ? false : !stages.every((s) => s.through) ? 'incomplete' : unverified.length > 0 ? 'unverified' : true;
  return { changeId, verdict, stages, recreated, unverified };
}

export interface SignalShare {
  kept: number;
  recreated: number;
  /** Through without re-creating context, but on an agent's word somewhere: not counted as kept. */
  unverified: number;
  incomplete: number;
  total: number;
  /** kept / (kept + recreated + unverified): decided changes only; undefined when none is decided. */
  share?: number;
}

/** The lead dashboard's figure over many changes. */
export function signalShare(signals: readonly { verdict: SignalVerdict }[]): SignalShare {
  const kept = signals.filter((s) => s.verdict === true).length;
  const recreated = signals.filter((s) => s.verdict === false).length;
  const unverified = signals.filter((s) => s.verdict === 'unverified').length;
  const incomplete = signals.length - kept - recreated - unverified;
  // An unverified change is decided, and did not keep the promise: it counts against the share.
  const decided = kept + recreated + unverified;
  return { kept, recreated, unverified, incomplete, total: signals.length, ...(decided > 0 ? { share: kept / decided } : {}) };
}

export interface ContextReread {
  attemptId: string;
  stageId?: string;
  consumedVersion?: string;
  /** False when the attempt named no version or one the record does not have (nothing counts as held then). */
  packKnown: boolean;
  /** Distinct files the agent read. */
  filesRead: number;
  /** Of those, the ones the consumed pack already held, sorted. */
  alreadyHeld: string[];
}

/**
 * The advisory "context re-read" figure: per attempt, the files the agent read
 * (workspace-relative paths, extracted from its transcript elsewhere) that the pack
 * version it consumed already held.
 */
export function contextRereads(
  events: readonly FactoryEvent[],
  readsByAttempt: ReadonlyMap<string, readonly string[]>,
  pack: ContextPackState = foldContextPack(events),
): ContextReread[] {
  const started = new Map<string, { stageId: string; version?: string }>();
  for (const event of inIdOrder(events)) {
    if (isEvent(event, 'attempt.started') && !started.has(event.data.attemptId)) {
      started.set(event.data.attemptId, { stageId: event.data.stageId, version: event.data.contextVersion });
    }
  }
  const result: ContextReread[] = [];
  for (const [attemptId, reads] of readsByAttempt) {
    const attempt = started.get(attemptId);
    const items = attempt?.version ? itemsAtVersion(pack, attempt.version) : undefined;
    const held = items ? heldPaths(items) : new Set<string>();
    const distinct = new Set(reads.map(normalizeWorkspacePath).filter((p) => p && p !== '.' && !p.startsWith('../') && !p.startsWith('/')));
    result.push({
      attemptId,
      ...(attempt ? { stageId: attempt.stageId } : {}),
      ...(attempt?.version ? { consumedVersion: attempt.version } : {}),
      packKnown: items !== undefined,
      filesRead: distinct.size,
      alreadyHeld: [...distinct].filter((p) => held.has(p)).sort(),
    });
  }
  return result;
}
