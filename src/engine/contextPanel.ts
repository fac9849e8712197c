// What the context panel shows, computed from the record: the pack's items with the
// stages that consumed them, its version history with who and which stage changed
// what, and the token budget of the stage that gets the pack next. Pure (no I/O):
// the UI reads the record and the workspace, and hands the results in.
import { diffContextVersions, foldContextPack, isDiskBacked, itemLabel, itemsAtVersion, type ContextItem, type ContextPackState, type StaleItem } from '../core/contextPack';
import { compareEvents, type ChangeState } from '../core/fold';
import { isEvent, type FactoryEvent } from '../core/events';
import type { Pipeline } from '../core/pipeline';
import type { DetectedConvention } from '../store/contextPackStore';
import { backendEntry, FALLBACK_CONTEXT_TOKENS } from '../backends/catalog';
import type { PanelConvention, PanelDiff, PanelItem, PanelState, PanelVersion, TokenBudget } from '../core/contextPanelProtocol';

/** The budget the gauge measures the pack against: the next (active) stage's. */
export function tokenBudgetFor(pipeline: Pipeline | undefined, change: ChangeState | undefined): TokenBudget {
  const stageId = change?.activeStageId;
  if (!pipeline || !change) return { source: 'none', explanation: 'No current change: no stage to measure the pack against.' };
  if (!stageId) return { source: 'none', explanation: 'Every stage has passed: no stage gets this pack next.' };
  const stage = pipeline.stages.find((s) => s.id === stageId);
  if (!stage) return { source: 'none', stageId: clip(stageId), explanation: `Stage ${clip(stageId)} is not in the pipeline.` };
  const title = clip(stage.title, 200);
  const base = { stageId: clip(stageId), stageTitle: title, backend: clip(stage.owner.backend, 200) };
  if (stage.budget.tokens !== undefined) {
    return { ...base, tokens: stage.budget.tokens, source: 'stage', explanation: `${title} · budget.tokens in .factory/pipeline.json` };
  }
  if (stage.owner.backend === 'human') {
    return { ...base, source: 'none', explanation: `${title} is done by a person: no token budget applies.` };
  }
  const known = backendEntry(stage.owner.backend)?.contextTokens;
  return {
    ...base,
    tokens: known ?? FALLBACK_CONTEXT_TOKENS,
    source: 'backendDefault',
    explanation: known ? `${title} · default for ${base.backend}` : `${title} · default for an unknown backend (${base.backend})`,
  };
}

export interface PanelInput {
  change?: ChangeState;
  pipeline?: Pipeline;
  /** The change's events (all of them: the pack, attempts and handoffs come from them). */
  events: readonly FactoryEvent[];
  stale?: readonly StaleItem[];
  conventions?: readonly DetectedConvention[];
  /** Text of note-like items, for reading in the panel. */
  previews?: ReadonlyMap<string, string>;
  checkedAt?: string;
}

const PREVIEW_CHARS = 2_000;
/** Record strings (titles, paths, names) are anyone's: bounded before they reach the view. */
const LABEL_CHARS = 1_000;
function clip(text: string, max = LABEL_CHARS): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

interface StartedAttempt {
  stageId: string;
  number: number;
  version?: string;
}

function startedAttempts(events: readonly FactoryEvent[]): StartedAttempt[] {
  const perStage = new Map<string, number>();
  const seen = new Set<string>();
  const attempts: StartedAttempt[] = [];
  for (const event of [...events].sort(compareEvents)) {
    if (!isEvent(event, 'attempt.started') || seen.has(event.data.attemptId)) continue;
    seen.add(event.data.attemptId);
    const number = (perStage.get(event.data.stageId) ?? 0) + 1;
    perStage.set(event.data.stageId, number);
    attempts.push({ stageId: event.data.stageId, number, ...(event.data.contextVersion ? { version: event.data.contextVersion } : {}) });
  }
  return attempts;
}

export function buildPanelState(input: PanelInput): PanelState {
  const pack = foldContextPack(input.events);
  const stageTitle = (id: string) => input.pipeline?.stages.find((s) => s.id === id)?.title ?? id;
  const attempts = startedAttempts(input.events);
  const staleById = new Map((input.stale ?? []).map((s) => [s.itemId, s.reason]));

  const items: PanelItem[] = pack.items.map((item) => {
    const consumed = new Map<string, { attempts: number; sameContent: boolean }>();
    for (const attempt of attempts) {
      const held = attempt.version ? itemsAtVersion(pack, attempt.version)?.find((i) => i.id === item.id) : undefined;
      if (!held) continue;
      const entry = consumed.get(attempt.stageId) ?? { attempts: 0, sameContent: true };
      entry.attempts++;
      // The stage's latest attempt decides whether it saw the content the pack holds now.
      entry.sameContent = held.contentHash === item.contentHash;
      consumed.set(attempt.stageId, entry);
    }
    const added = [...pack.history].reverse().find((h) => h.added.includes(item.id));
    const preview = input.previews?.get(item.id);
    const stale = staleById.get(item.id);
    return {
      id: item.id,
      kind: clip(item.kind, 100),
      title: clip(itemLabel(item)),
      ...(item.source.path ? { path: clip(item.source.path) } : {}),
      ...(item.source.range ? { range: panelRange(item.source.range) } : {}),
      ...(item.source.origin ? { origin: clip(item.source.origin) } : {}),
      ...(item.source.stageId ? { stageId: clip(item.source.stageId) } : {}),
      ...(item.content.bytes !== undefined ? { bytes: item.content.bytes } : {}),
      tokens: item.tokens,
      pinned: item.pinned === true,
      ...(stale ? { stale } : {}),
      consumedBy: [...consumed].map(([stageId, c]) => ({ stageId: clip(stageId), stageTitle: clip(stageTitle(stageId)), attempts: c.attempts, sameContent: c.sameContent })),
      ...(added ? { addedAt: added.at, ...(added.by ? { addedBy: clip(added.by) } : {}) } : {}),
      ...(preview !== undefined ? { preview: preview.length > PREVIEW_CHARS ? `${preview.slice(0, PREVIEW_CHARS)}…` : preview } : {}),
      diskBacked: isDiskBacked(item),
    };
  });

  return {
    ...(input.change ? { change: { id: input.change.id, title: clip(input.change.title) } } : {}),
    version: pack.version,
    items,
    totalTokens: items.reduce((sum, item) => sum + item.tokens, 0),
    budget: tokenBudgetFor(input.pipeline, input.change),
    history: panelHistory(pack, input.events, attempts),
    conventions: (input.conventions ?? []).map((c) => panelConvention(c, pack.items)),
    staleCount: items.filter((i) => i.stale).length,
    ...(input.checkedAt ? { checkedAt: input.checkedAt } : {}),
  };
}

function panelRange(range: NonNullable<ContextItem['source']['range']>): NonNullable<PanelItem['range']> {
  return {
    startLine: range.startLine,
    endLine: range.endLine,
    ...(range.startCharacter !== undefined ? { startCharacter: range.startCharacter } : {}),
    ...(range.endCharacter !== undefined ? { endCharacter: range.endCharacter } : {}),
  };
}

function panelHistory(pack: ContextPackState, events: readonly FactoryEvent[], attempts: readonly StartedAttempt[]): PanelVersion[] {
  // An item's latest label, for naming removed items too.
  const labels = new Map<string, string>();
  for (const entry of pack.history) for (const item of entry.items) labels.set(item.id, clip(itemLabel(item)));
  const label = (id: string) => labels.get(id) ?? id;
  const handoffs = [...events].sort(compareEvents).filter((e) => isEvent(e, 'handoff.recorded'));
  return pack.history.map((entry) => ({
    version: entry.version,
    at: entry.at,
    ...(entry.by ? { by: clip(entry.by) } : {}),
    ...(entry.stageId ? { stageId: clip(entry.stageId) } : {}),
    eventType: entry.type,
    added: entry.added.map(label),
    removed: entry.removed.map(label),
    refreshed: entry.refreshed.map(label),
    pinned: entry.pinned.map(label),
    unpinned: entry.unpinned.map(label),
    reordered: entry.reordered,
    itemCount: entry.items.length,
    tokens: entry.items.reduce((sum, item) => sum + item.tokens, 0),
    consumedBy: attempts.filter((a) => a.version === entry.version).map((a) => ({ stageId: clip(a.stageId), attempt: a.number })),
    carriedBy: handoffs.flatMap((h) =>
      isEvent(h, 'handoff.recorded') && h.data.contextVersion === entry.version ? [{ fromStage: clip(h.data.fromStage), ...(h.data.toStage ? { toStage: clip(h.data.toStage) } : {}) }] : [],
    ),
  }));
}

function panelConvention(convention: DetectedConvention, items: readonly ContextItem[]): PanelConvention {
  const held = new Set(items.filter((i) => i.kind === 'convention').map((i) => i.source.path));
  return {
    path: clip(convention.path),
    tool: clip(convention.tool),
    kind: convention.kind,
    bytes: convention.bytes,
    files: convention.files.length,
    inPack: convention.files.length > 0 && convention.files.every((f) => held.has(f.path)),
    ...(convention.problem ? { problem: clip(convention.problem) } : {}),
  };
}

/** The diff between two versions of the pack, labelled for the panel; throws when the record never had one. */
export function panelDiff(pack: ContextPackState, from: string, to: string): PanelDiff {
  const diff = diffContextVersions(pack, from, to);
  const brief = (item: ContextItem) => ({ id: item.id, kind: clip(item.kind, 100), label: clip(itemLabel(item)), tokens: item.tokens });
  const labelOf = (id: string) => {
    const item = itemsAtVersion(pack, to)?.find((i) => i.id === id);
    return clip(item ? itemLabel(item) : id);
  };
  return {
    from,
    to,
    added: diff.added.map(brief),
    removed: diff.removed.map(brief),
    changed: diff.changed.map(({ before, after }) => ({ id: after.id, kind: clip(after.kind, 100), label: clip(itemLabel(after)), tokensBefore: before.tokens, tokensAfter: after.tokens })),
    pinned: diff.pinned.map(labelOf),
    unpinned: diff.unpinned.map(labelOf),
    reordered: diff.reordered,
  };
}

/**
 * The pack's order after moving an item past its neighbour of the same kind (the
 * panel and the rendered pack group items by kind, so only that order shows).
 * undefined when there is no such neighbour or no such item.
 */
export function orderAfterMove(items: readonly Pick<ContextItem, 'id' | 'kind'>[], itemId: string, direction: 'up' | 'down'): string[] | undefined {
  const at = items.findIndex((i) => i.id === itemId);
  if (at < 0) return undefined;
  const kind = items[at]!.kind;
  const step = direction === 'up' ? -1 : 1;
  let other = at + step;
  while (other >= 0 && other < items.length && items[other]!.kind !== kind) other += step;
  if (other < 0 || other >= items.length) return undefined;
  const ids = items.map((i) => i.id);
  [ids[at], ids[other]] = [ids[other]!, ids[at]!];
  return ids;
}
