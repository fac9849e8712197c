// The context pack of a change: an ordered set of items (ticket, files, selections,
// folders, notes, conventions, stage outputs, lessons) handed from stage to stage.
// Its state is a pure fold over the `context.*` events; every edit that changes what
// an agent would get makes a new version, a content hash of the pack, so an attempt
// and a handoff can name exactly the pack they consumed or carried forward.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { z } from 'zod';
import type { ContextItemSchema, ContextRangeSchema, ContextSourceSchema, FactoryEvent } from './events';
import { isEvent } from './events';
import { inIdOrder } from './fold';

export type ContextItem = z.infer<typeof ContextItemSchema>;
export type ContextSource = z.infer<typeof ContextSourceSchema>;
export type ContextRange = z.infer<typeof ContextRangeSchema>;

export const CONTEXT_ITEM_KINDS = ['ticket', 'convention', 'file', 'selection', 'folder', 'stageOutput', 'note', 'lesson', 'reviewFeedback'] as const;
export type ContextItemKind = (typeof CONTEXT_ITEM_KINDS)[number];

/** Kinds whose content is read from a workspace path, and so can go stale. */
const DISK_BACKED_KINDS = new Set<string>(['file', 'selection', 'folder', 'convention', 'stageOutput']);

export function sha256Hex(content: string | Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}

/**
 * Token estimate: ceil(characters / 4), the usual rule of thumb for English text and
 * code. Deliberately not a real tokenizer: the stages run different models (Claude,
 * GPT, Gemini) whose tokenizers disagree, so an exact count for one would be falsely
 * precise for the others, and a BPE table adds megabytes to the bundle. It runs low
 * for CJK text (about one token per character); budgets should keep a margin.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** `L3-L9`, or `L3:5-L9:12` with characters, for ids and display. */
export function formatRange(range: ContextRange): string {
  const start = range.startCharacter !== undefined ? `L${range.startLine}:${range.startCharacter}` : `L${range.startLine}`;
  const end = range.endCharacter !== undefined ? `L${range.endLine}:${range.endCharacter}` : `L${range.endLine}`;
  return `${start}-${end}`;
}

/**
 * Item ids are derived from what the item is (kind + source; text items from their
 * content), never random: the same file added twice is the same item, and two packs
 * with the same items in the same order have the same version.
 */
export function contextItemId(kind: string, source: ContextSource, contentHash: string): string {
  let key: string;
  switch (kind) {
    case 'ticket':
    case 'reviewFeedback':
      // One per pack: adding it again replaces it (the reviewer's latest feedback).
      key = kind;
      break;
    case 'note':
    case 'lesson':
      key = contentHash;
      break;
    case 'stageOutput':
      key = `${source.stageId ?? ''}\n${source.path ?? source.origin ?? contentHash}`;
      break;
    default:
      key = `${source.path ?? contentHash}${source.range ? `#${formatRange(source.range)}` : ''}`;
  }
  return `${kind}-${sha256Hex(`${kind}\n${key}`).slice(0, 16)}`;
}

/** The version of a pack: sha256 over the ordered item ids, their content hashes and pins. */
export function packVersion(items: readonly Pick<ContextItem, 'id' | 'contentHash' | 'pinned'>[]): string {
  return sha256Hex(JSON.stringify(items.map((item) => [item.id, item.contentHash, item.pinned === true])));
}

export const EMPTY_PACK_VERSION = packVersion([]);

export interface ContextVersionEntry {
  version: string;
  /** The id of the event that made this version. */
  byEvent: string;
  type: string;
  at: string;
  by?: string;
  stageId?: string;
  added: string[];
  removed: string[];
  refreshed: string[];
  pinned: string[];
  unpinned: string[];
  reordered: boolean;
  /** The pack as it was at this version (items are immutable, so shared between entries). */
  items: readonly ContextItem[];
}

export interface ContextPackState {
  version: string;
  items: readonly ContextItem[];
  /** One entry per version change, oldest first; the empty pack has none. */
  history: ContextVersionEntry[];
  /** Events that changed nothing (e.g. removing an item that is not there), with why. */
  ignored: { eventId: string; reason: string }[];
}

/** Folds a change's events (any order; put in ULID order here, without a copy when they already are) into its context pack. */
export function foldContextPack(events: readonly FactoryEvent[]): ContextPackState {
  let items: ContextItem[] = [];
  let version = EMPTY_PACK_VERSION;
  const history: ContextVersionEntry[] = [];
  const ignored: ContextPackState['ignored'] = [];

  for (const event of inIdOrder(events)) {
    if (!event.type.startsWith('context.')) continue;
    const change: Pick<ContextVersionEntry, 'added' | 'removed' | 'refreshed' | 'pinned' | 'unpinned' | 'reordered'> = {
      added: [],
      removed: [],
      refreshed: [],
      pinned: [],
      unpinned: [],
      reordered: false,
    };
    let stageId: string | undefined;
    const indexOf = (id: string) => items.findIndex((item) => item.id === id);

    if (isEvent(event, 'context.itemAdded')) {
      stageId = event.data.stageId;
      const added = event.data.item;
      const at = indexOf(added.id);
      if (at >= 0) {
        // Two windows or two merged branches added the same item: the later content wins, in place.
        const existing = items[at]!;
        items = replaceAt(items, at, { ...added, pinned: existing.pinned });
        if (existing.contentHash !== added.contentHash) change.refreshed.push(added.id);
      } else {
        const position = Math.min(event.data.position ?? items.length, items.length);
        items = [...items.slice(0, position), added, ...items.slice(position)];
        change.added.push(added.id);
      }
    } else if (isEvent(event, 'context.itemRemoved')) {
      stageId = event.data.stageId;
      if (indexOf(event.data.itemId) < 0) {
        ignored.push({ eventId: event.id, reason: `removes item ${event.data.itemId}, which is not in the pack` });
        continue;
      }
      items = items.filter((item) => item.id !== event.data.itemId);
      change.removed.push(event.data.itemId);
    } else if (isEvent(event, 'context.itemsReordered')) {
      stageId = event.data.stageId;
      // Ids named first, in the given order; items the order does not know (added
      // concurrently) keep their relative order after them.
      const byId = new Map(items.map((item) => [item.id, item]));
      const named = [...new Set(event.data.order)].filter((id) => byId.has(id));
      const namedSet = new Set(named);
      const next = [...named.map((id) => byId.get(id)!), ...items.filter((item) => !namedSet.has(item.id))];
      change.reordered = next.some((item, i) => item.id !== items[i]?.id);
      items = next;
    } else if (isEvent(event, 'context.itemPinned')) {
      stageId = event.data.stageId;
      const at = indexOf(event.data.itemId);
      if (at < 0) {
        ignored.push({ eventId: event.id, reason: `pins item ${event.data.itemId}, which is not in the pack` });
        continue;
      }
      items = replaceAt(items, at, { ...items[at]!, pinned: event.data.pinned });
      (event.data.pinned ? change.pinned : change.unpinned).push(event.data.itemId);
    } else if (isEvent(event, 'context.itemRefreshed')) {
      stageId = event.data.stageId;
      const at = indexOf(event.data.itemId);
      if (at < 0) {
        ignored.push({ eventId: event.id, reason: `refreshes item ${event.data.itemId}, which is not in the pack` });
        continue;
      }
      const existing = items[at]!;
      items = replaceAt(items, at, {
        ...existing,
        contentHash: event.data.contentHash,
        tokens: event.data.tokens,
        content: event.data.content,
        ...(event.data.title !== undefined ? { title: event.data.title } : {}),
        ...(event.data.source !== undefined ? { source: event.data.source } : {}),
      });
      change.refreshed.push(event.data.itemId);
    } else {
      continue; // a context event of a newer version: not folded
    }

    const next = packVersion(items);
    if (next === version) {
      ignored.push({ eventId: event.id, reason: 'did not change the pack' });
      continue;
    }
    version = next;
    history.push({
      version,
      byEvent: event.id,
      type: event.type,
      at: event.at,
      ...(event.by?.name ? { by: event.by.name } : {}),
      ...(stageId ? { stageId } : {}),
      ...change,
      items,
    });
  }
  return { version, items, history, ignored };
}

function replaceAt<T>(list: readonly T[], index: number, value: T): T[] {
  const copy = [...list];
  copy[index] = value;
  return copy;
}

/** Every version the pack has had, the empty pack included. */
export function knownVersions(pack: ContextPackState): Set<string> {
  return new Set([EMPTY_PACK_VERSION, ...pack.history.map((entry) => entry.version)]);
}

/** The items of the pack at a version, or undefined when the record never had it. */
export function itemsAtVersion(pack: ContextPackState, version: string): readonly ContextItem[] | undefined {
  if (version === EMPTY_PACK_VERSION) return [];
  for (let i = pack.history.length - 1; i >= 0; i--) {
    const entry = pack.history[i]!;
    if (entry.version === version) return entry.items;
  }
  return undefined;
}

export interface ContextDiff {
  from: string;
  to: string;
  added: ContextItem[];
  removed: ContextItem[];
  /** Same item, other content (a refresh). */
  changed: { before: ContextItem; after: ContextItem }[];
  pinned: string[];
  unpinned: string[];
  /** True when the items both versions hold are in another order. */
  reordered: boolean;
}

export function diffItems(before: readonly ContextItem[], after: readonly ContextItem[], from = packVersion(before), to = packVersion(after)): ContextDiff {
  const beforeById = new Map(before.map((item) => [item.id, item]));
  const afterById = new Map(after.map((item) => [item.id, item]));
  const diff: ContextDiff = { from, to, added: [], removed: [], changed: [], pinned: [], unpinned: [], reordered: false };
  for (const item of after) {
    const old = beforeById.get(item.id);
    if (!old) diff.added.push(item);
    else {
      if (old.contentHash !== item.contentHash) diff.changed.push({ before: old, after: item });
      if (!old.pinned && item.pinned) diff.pinned.push(item.id);
      if (old.pinned && !item.pinned) diff.unpinned.push(item.id);
    }
  }
  for (const item of before) if (!afterById.has(item.id)) diff.removed.push(item);
  const commonBefore = before.filter((item) => afterById.has(item.id)).map((item) => item.id);
  const commonAfter = after.filter((item) => beforeById.has(item.id)).map((item) => item.id);
  diff.reordered = commonBefore.some((id, i) => id !== commonAfter[i]);
  return diff;
}

/** What changed between two versions of a pack; throws when the record never had one of them. */
export function diffContextVersions(pack: ContextPackState, from: string, to: string): ContextDiff {
  const before = itemsAtVersion(pack, from);
  if (!before) throw new Error(`Context version ${from} is not in this change's record.`);
  const after = itemsAtVersion(pack, to);
  if (!after) throw new Error(`Context version ${to} is not in this change's record.`);
  return diffItems(before, after, from, to);
}

/** True for items whose content comes from a workspace path, and so can go stale. */
export function isDiskBacked(item: ContextItem): item is ContextItem & { source: { path: string } } {
  return DISK_BACKED_KINDS.has(item.kind) && typeof item.source.path === 'string';
}

export interface StaleItem {
  itemId: string;
  /** changed: the content on disk hashes differently; missing: it cannot be read any more. */
  reason: 'changed' | 'missing';
}

export interface Staleness {
  stale: boolean;
  items: StaleItem[];
}

/**
 * Given the current hash of each disk-backed item's content (null when it is missing
 * or unreadable), which items no longer match what the pack holds. Items absent from
 * the map were not checked and are not stale.
 */
export function assessStaleness(items: readonly ContextItem[], currentHashes: ReadonlyMap<string, string | null>): Staleness {
  const stale: StaleItem[] = [];
  for (const item of items) {
    if (!currentHashes.has(item.id)) continue;
    const current = currentHashes.get(item.id);
    if (current === null || current === undefined) stale.push({ itemId: item.id, reason: 'missing' });
    else if (current !== item.contentHash) stale.push({ itemId: item.id, reason: 'changed' });
  }
  return { stale: stale.length > 0, items: stale };
}

/** Normalizes a workspace-relative path for comparison: forward slashes, no `./`. */
export function normalizeWorkspacePath(relPath: string): string {
  const normalized = posix.normalize(relPath.replace(/\\/g, '/'));
  return normalized.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}

/** The workspace files whose content (whole or in part) the items hold; folders are listings, not contents. */
export function heldPaths(items: readonly ContextItem[]): Set<string> {
  const paths = new Set<string>();
  for (const item of items) {
    if (item.kind !== 'folder' && isDiskBacked(item)) paths.add(normalizeWorkspacePath(item.source.path));
  }
  return paths;
}

/** A short, single-line label for an item: its title, else its path and range. */
export function itemLabel(item: ContextItem): string {
  const fallback = item.source.path ? `${item.source.path}${item.source.range ? `#${formatRange(item.source.range)}` : ''}` : item.kind;
  return (item.title || fallback).replace(/\s+/g, ' ').trim();
}
