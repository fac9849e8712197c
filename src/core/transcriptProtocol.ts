// The message protocol between the transcript panel's webview and the extension host,
// and the shapes it carries: a header (who, what, status, usage) and a list of
// entries (text, reasoning, tool calls, commands, file edits…) changed by small ops.
// Both sides parse every message they receive against these schemas: a message that
// is not exactly one of them (unknown type, extra or missing field, wrong shape) is
// rejected. Pure: zod only, so the browser bundle imports it too.
import * as z from 'zod';

/** Agent output per entry is bounded (the transcript evidence keeps the whole). */
export const MAX_ENTRY_TEXT = 200_000;
/** A hard ceiling for one message; the host keeps far fewer entries per panel. */
export const MAX_ENTRIES_PER_MESSAGE = 20_000;
const MAX_FIELD = 20_000;
/** The prompt can hold a whole rendered context pack. */
const MAX_PROMPT = 1_000_000;

/** Text from agents, files or the record: bounded, always rendered as text. */
const Field = z.string().max(MAX_FIELD);
/** Long text keeps its tail; `cut` on the entry counts the characters left out before it. */
const EntryText = z.string().max(MAX_ENTRY_TEXT);
const EntryId = z.string().min(1).max(100);
const Count = z.number().int().nonnegative();

const common = {
  id: EntryId,
  /** How many agent events this entry stands for (text streamed in many pieces is one entry). */
  events: Count,
};

export const CommandInfoSchema = z.strictObject({
  command: Field,
  argv: z.array(Field).max(200).optional(),
  exitCode: z.number().int().nullable().optional(),
  output: Field.optional(),
});
export type CommandInfo = z.infer<typeof CommandInfoSchema>;

export const TranscriptEntrySchema = z.discriminatedUnion('kind', [
  z.strictObject({ ...common, kind: z.literal('text'), text: EntryText, messageId: Field.optional(), cut: Count.optional() }),
  z.strictObject({ ...common, kind: z.literal('reasoning'), text: EntryText, messageId: Field.optional(), cut: Count.optional() }),
  z.strictObject({
    ...common,
    kind: z.literal('tool'),
    toolId: Field,
    name: Field,
    toolKind: z.string().max(40).optional(),
    /** The call's input as pretty JSON (cut when long). */
    input: Field.optional(),
    paths: z.array(Field).max(100).optional(),
    status: z.enum(['running', 'succeeded', 'failed']),
    output: Field.optional(),
    /** The shell command this call ran, when the agent reported one. */
    command: CommandInfoSchema.optional(),
  }),
  z.strictObject({ ...common, kind: z.literal('command'), ...CommandInfoSchema.shape }),
  z.strictObject({
    ...common,
    kind: z.literal('file'),
    /** As the agent reported it. */
    path: Field,
    /** Workspace-relative, when the file is inside the workspace: then it can be diffed. */
    relativePath: Field.optional(),
    change: z.enum(['add', 'update', 'delete', 'unknown']),
  }),
  z.strictObject({ ...common, kind: z.literal('error'), message: Field, fatal: z.boolean() }),
  z.strictObject({ ...common, kind: z.literal('diagnostic'), level: z.enum(['info', 'warn']), message: Field, line: Field.optional() }),
  z.strictObject({
    ...common,
    kind: z.literal('plan'),
    entries: z.array(z.strictObject({ text: Field, status: z.enum(['pending', 'inProgress', 'completed']) })).max(500),
  }),
  z.strictObject({ ...common, kind: z.literal('permission'), title: Field, decision: z.enum(['allowed', 'rejected', 'cancelled']) }),
  z.strictObject({
    ...common,
    kind: z.literal('result'),
    success: z.boolean(),
    text: EntryText.optional(),
    turns: Count.optional(),
    durationMs: z.number().nonnegative().optional(),
  }),
  z.strictObject({ ...common, kind: z.literal('awaitingHuman'), instructions: Field.optional() }),
  /** What the runner recorded (`meta`: the command line, stop reasons) or the agent printed on stderr. */
  z.strictObject({ ...common, kind: z.literal('log'), stream: z.enum(['meta', 'stderr']), text: EntryText, cut: Count.optional() }),
]);
export type TranscriptEntry = z.infer<typeof TranscriptEntrySchema>;
export type TranscriptEntryKind = TranscriptEntry['kind'];

export const UsageSummarySchema = z.strictObject({
  inputTokens: z.number().nonnegative(),
  outputTokens: z.number().nonnegative(),
  cachedTokens: z.number().nonnegative(),
  /** Absent when unknown: the panel says "cost unknown", never $0. */
  costUsd: z.number().nonnegative().optional(),
  costSource: z.enum(['agent', 'estimate']).optional(),
});
export type UsageSummary = z.infer<typeof UsageSummarySchema>;

export const TranscriptHeaderSchema = z.strictObject({
  changeTitle: Field,
  stageTitle: Field,
  attemptNumber: z.number().int().positive().optional(),
  backend: Field,
  model: Field.optional(),
  sessionId: Field.optional(),
  prompt: z.string().max(MAX_PROMPT).optional(),
  /** `live`: streamed as it runs; `recorded`: replayed from the stored transcript. */
  source: z.enum(['live', 'recorded']),
  status: z.enum(['running', 'finished']),
  /** Time since the attempt started, when the host sent this header (the webview counts on). */
  elapsedMs: z.number().nonnegative().optional(),
  durationMs: z.number().nonnegative().optional(),
  outcome: z.enum(['succeeded', 'failed', 'cancelled', 'timedOut', 'budgetExceeded', 'interrupted']).optional(),
  reason: Field.optional(),
  usage: UsageSummarySchema.optional(),
  turns: Count.optional(),
  /** Something the reader should know about this transcript (missing, cut, unreadable lines). */
  notice: Field.optional(),
});
export type TranscriptHeader = z.infer<typeof TranscriptHeaderSchema>;

export const TranscriptOpSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('add'), entry: TranscriptEntrySchema }),
  /** Appends to a text, reasoning or log entry. */
  z.strictObject({ op: z.literal('append'), id: EntryId, text: EntryText, events: Count }),
  z.strictObject({ op: z.literal('replace'), entry: TranscriptEntrySchema }),
  /** Drops the `count` oldest entries, which stood for `events` agent events (bounded memory). */
  z.strictObject({ op: z.literal('trim'), count: Count, events: Count }),
]);
export type TranscriptOp = z.infer<typeof TranscriptOpSchema>;

export const DroppedSchema = z.strictObject({ entries: Count, events: Count });

// ---------------------------------------------------------------------------------
// Host → webview

const AttemptKey = z.string().min(1).max(200);

export const TranscriptHostMessageSchema = z.discriminatedUnion('type', [
  /** Everything the panel shows; sent after each `ready` and when the panel turns to another attempt. */
  z.strictObject({
    type: z.literal('snapshot'),
    /** Which attempt this is: updates name it too, so one for another attempt is never applied. */
    attempt: AttemptKey,
    header: TranscriptHeaderSchema,
    entries: z.array(TranscriptEntrySchema).max(MAX_ENTRIES_PER_MESSAGE),
    dropped: DroppedSchema,
  }),
  /** What changed since the last message (batched: at most one every ~50 ms). */
  z.strictObject({ type: z.literal('update'), attempt: AttemptKey, ops: z.array(TranscriptOpSchema).max(MAX_ENTRIES_PER_MESSAGE), header: TranscriptHeaderSchema.optional() }),
]);
export type TranscriptHostMessage = z.infer<typeof TranscriptHostMessageSchema>;

// ---------------------------------------------------------------------------------
// Webview → host

export const TranscriptWebviewMessageSchema = z.discriminatedUnion('type', [
  /** The webview is loaded and listening: the host sends nothing before this. */
  z.strictObject({ type: z.literal('ready') }),
  /** Opens the diff of a file the attempt edited (start tree ↔ working file); the host checks the path is one of the panel's. */
  z.strictObject({ type: z.literal('openDiff'), path: z.string().min(1).max(4000) }),
]);
export type TranscriptWebviewMessage = z.infer<typeof TranscriptWebviewMessageSchema>;

export type Parsed<T> = { ok: true; message: T } | { ok: false; error: string };

function describe(error: z.ZodError, raw: unknown): string {
  const type = raw !== null && typeof raw === 'object' && typeof (raw as { type?: unknown }).type === 'string' ? (raw as { type: string }).type.slice(0, 60) : undefined;
  const issue = error.issues[0];
  const where = issue?.path.length ? issue.path.map(String).join('.') : 'message';
  return `rejected ${type ? `"${type}" ` : ''}message: ${where}: ${issue?.message ?? 'invalid'}`;
}

export function parseTranscriptHostMessage(raw: unknown): Parsed<TranscriptHostMessage> {
  const parsed = TranscriptHostMessageSchema.safeParse(raw);
  return parsed.success ? { ok: true, message: parsed.data } : { ok: false, error: describe(parsed.error, raw) };
}

export function parseTranscriptWebviewMessage(raw: unknown): Parsed<TranscriptWebviewMessage> {
  const parsed = TranscriptWebviewMessageSchema.safeParse(raw);
  return parsed.success ? { ok: true, message: parsed.data } : { ok: false, error: describe(parsed.error, raw) };
}
