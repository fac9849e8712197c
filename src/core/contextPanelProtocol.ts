// The message protocol between the context panel's webview and the extension host.
// Both sides import these schemas and parse every message they receive: a message
// that is not exactly one of these (unknown type, extra or missing field, wrong
// shape) is rejected. Pure: zod only, so the browser bundle can import it.
// A namespace import lets the bundler drop the parts of zod the schemas do not use (580 → 219 KB minified).
import * as z from 'zod';
import { parseMessageWith, type ParseResult } from './messageParse';

/** Item ids are derived hashes (contextPack.contextItemId); the bound keeps hostile ids short. */
const ItemId = z.string().min(1).max(200);
/** A pack version: sha256 hex. */
const Version = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 hex digest');
/** Display text from the record, files or agents: bounded, always rendered as text. */
const Text = z.string().max(20_000);
const Count = z.number().int().nonnegative();

export const MAX_NOTE_CHARS = 100_000;
export const MAX_DROPPED_URIS = 200;

// ---------------------------------------------------------------------------------
// Webview → host

export const WebviewMessageSchema = z.discriminatedUnion('type', [
  /** The webview is loaded and listening: the host sends nothing before this. */
  z.strictObject({ type: z.literal('ready') }),
  /** Opens the host's file picker. */
  z.strictObject({ type: z.literal('addFile') }),
  z.strictObject({ type: z.literal('addNote'), text: z.string().min(1).max(MAX_NOTE_CHARS) }),
  /** Detected convention files or folders to add; all detected ones when empty. */
  z.strictObject({ type: z.literal('addConventions'), paths: z.array(z.string().min(1).max(1000)).max(100) }),
  z.strictObject({ type: z.literal('removeItem'), itemId: ItemId }),
  /** Moves an item before or after its neighbour of the same kind (the panel groups by kind). */
  z.strictObject({ type: z.literal('moveItem'), itemId: ItemId, direction: z.enum(['up', 'down']) }),
  z.strictObject({ type: z.literal('pinItem'), itemId: ItemId, pinned: z.boolean() }),
  z.strictObject({ type: z.literal('refreshItem'), itemId: ItemId }),
  z.strictObject({ type: z.literal('refreshStale') }),
  z.strictObject({ type: z.literal('openItem'), itemId: ItemId }),
  /** Files or folders dropped onto the panel, as the URIs of a `text/uri-list`. */
  z.strictObject({ type: z.literal('dropUris'), uris: z.array(z.string().min(1).max(4000)).min(1).max(MAX_DROPPED_URIS) }),
  z.strictObject({ type: z.literal('requestDiff'), from: Version, to: Version }),
  z.strictObject({ type: z.literal('startChange') }),
]);
export type WebviewMessage = z.infer<typeof WebviewMessageSchema>;

// ---------------------------------------------------------------------------------
// Host → webview

export const PanelRangeSchema = z.strictObject({
  startLine: Count,
  endLine: Count,
  startCharacter: Count.optional(),
  endCharacter: Count.optional(),
});

export const PanelItemSchema = z.strictObject({
  id: ItemId,
  kind: z.string().min(1).max(100),
  title: Text,
  /** Workspace-relative path of the source, when it has one. */
  path: Text.optional(),
  range: PanelRangeSchema.optional(),
  /** user, editor, convention, handoff… */
  origin: Text.optional(),
  /** The stage whose output this is. */
  stageId: Text.optional(),
  bytes: Count.optional(),
  tokens: Count,
  pinned: z.boolean(),
  /** Set when the item's source on disk no longer matches the pack. */
  stale: z.enum(['changed', 'missing']).optional(),
  /** Stages whose attempts consumed a pack version that held this item. */
  consumedBy: z.array(
    z.strictObject({
      stageId: Text,
      stageTitle: Text,
      attempts: Count,
      /** False when they consumed other content of the item (before a refresh). */
      sameContent: z.boolean(),
    }),
  ),
  addedAt: Text.optional(),
  addedBy: Text.optional(),
  /** The start of a text item (note, ticket, lesson), for reading in the panel. */
  preview: Text.optional(),
  /** Read from the workspace, so it can be refreshed and opened at its source. */
  diskBacked: z.boolean(),
});
export type PanelItem = z.infer<typeof PanelItemSchema>;

export const PanelVersionSchema = z.strictObject({
  version: Version,
  at: Text,
  by: Text.optional(),
  stageId: Text.optional(),
  /** The context event that made this version. */
  eventType: Text,
  /** Labels of the items the edit touched. */
  added: z.array(Text),
  removed: z.array(Text),
  refreshed: z.array(Text),
  pinned: z.array(Text),
  unpinned: z.array(Text),
  reordered: z.boolean(),
  itemCount: Count,
  tokens: Count,
  /** Attempts that started with this version (the engine records `contextVersion`). */
  consumedBy: z.array(z.strictObject({ stageId: Text, attempt: Count })),
  /** Handoffs that carried this version forward. */
  carriedBy: z.array(z.strictObject({ fromStage: Text, toStage: Text.optional() })),
});
export type PanelVersion = z.infer<typeof PanelVersionSchema>;

export const TokenBudgetSchema = z.strictObject({
  /** undefined: no token budget applies (e.g. the next stage is done by a person). */
  tokens: Count.optional(),
  source: z.enum(['stage', 'backendDefault', 'none']),
  stageId: Text.optional(),
  stageTitle: Text.optional(),
  backend: Text.optional(),
  /** Says where the figure comes from, for the person reading the gauge. */
  explanation: Text,
});
export type TokenBudget = z.infer<typeof TokenBudgetSchema>;

export const PanelConventionSchema = z.strictObject({
  path: Text,
  tool: Text,
  kind: z.enum(['file', 'folder']),
  bytes: Count,
  files: Count,
  /** Every file of it is already in the pack. */
  inPack: z.boolean(),
  problem: Text.optional(),
});
export type PanelConvention = z.infer<typeof PanelConventionSchema>;

export const PanelStateSchema = z.strictObject({
  /** No current change: the panel offers to start one. */
  change: z.strictObject({ id: Text, title: Text }).optional(),
  version: Version,
  items: z.array(PanelItemSchema),
  totalTokens: Count,
  budget: TokenBudgetSchema,
  /** Oldest first. */
  history: z.array(PanelVersionSchema),
  conventions: z.array(PanelConventionSchema),
  staleCount: Count,
  /** When staleness was last checked (ISO time). */
  checkedAt: Text.optional(),
});
export type PanelState = z.infer<typeof PanelStateSchema>;

const DiffItemSchema = z.strictObject({ id: ItemId, kind: Text, label: Text, tokens: Count });

export const PanelDiffSchema = z.strictObject({
  from: Version,
  to: Version,
  added: z.array(DiffItemSchema),
  removed: z.array(DiffItemSchema),
  changed: z.array(z.strictObject({ id: ItemId, kind: Text, label: Text, tokensBefore: Count, tokensAfter: Count })),
  pinned: z.array(Text),
  unpinned: z.array(Text),
  reordered: z.boolean(),
});
export type PanelDiff = z.infer<typeof PanelDiffSchema>;

export const HostMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('state'), state: PanelStateSchema }),
  z.strictObject({ type: z.literal('diff'), diff: PanelDiffSchema }),
  /** The outcome of a request, shown in the panel (errors name what and where). */
  z.strictObject({ type: z.literal('notice'), level: z.enum(['info', 'warning', 'error']), text: Text }),
]);
export type HostMessage = z.infer<typeof HostMessageSchema>;

export type { ParseResult };

const parseWith = <T>(schema: z.ZodType<T>, raw: unknown): ParseResult<T> => parseMessageWith(schema, raw);

/** What the host accepts from the webview. */
export function parseWebviewMessage(raw: unknown): ParseResult<WebviewMessage> {
  return parseWith(WebviewMessageSchema, raw);
}

/** What the webview accepts from the host. */
export function parseHostMessage(raw: unknown): ParseResult<HostMessage> {
  return parseWith(HostMessageSchema, raw);
}

/** Section titles of the panel, in the order it shows them (the order the rendered pack uses). */
export const PANEL_SECTIONS: readonly { kind: string; title: string; icon: string }[] = [
  { kind: 'ticket', title: 'Ticket', icon: 'issues' },
  { kind: 'reviewFeedback', title: 'Review feedback', icon: 'comment-discussion' },
  { kind: 'convention', title: 'Conventions', icon: 'law' },
  { kind: 'file', title: 'Files', icon: 'file' },
  { kind: 'selection', title: 'Selections', icon: 'selection' },
  { kind: 'folder', title: 'Folders', icon: 'folder' },
  { kind: 'stageOutput', title: 'Stage outputs', icon: 'output' },
  { kind: 'note', title: 'Notes', icon: 'note' },
  { kind: 'lesson', title: 'Lessons', icon: 'lightbulb' },
];
