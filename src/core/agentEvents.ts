// The typed events an agent backend streams while an attempt runs, and the outcome it
// ends with. Every backend (Claude Code, Codex, Droid, Gemini, Aider/command, ACP,
// vscode.lm, human) maps its own output onto these, so the engine, the transcript
// view and the context "re-read" figure read one shape. Loose objects: a newer
// backend may add fields, an older reader keeps them.
import { posix } from 'node:path';
import * as z from 'zod';
import { AttemptOutcomeSchema, compileFastCheck, defOf, UsageSchema, type FastCheck } from './events';

/** What a tool call did, as far as the agent says; drives re-read detection and the transcript icons. */
export const ToolKindSchema = z.enum(['read', 'edit', 'delete', 'move', 'search', 'execute', 'fetch', 'think', 'other']);
export type ToolKind = z.infer<typeof ToolKindSchema>;

const base = { kind: z.string() };

export const AgentTextEventSchema = z.looseObject({
  ...base,
  kind: z.literal('text'),
  /** Incremental: append to the previous text of the same message. */
  text: z.string(),
  messageId: z.string().optional(),
});
export const AgentReasoningEventSchema = z.looseObject({ ...base, kind: z.literal('reasoning'), text: z.string(), messageId: z.string().optional() });
export const ToolStartedEventSchema = z.looseObject({
  ...base,
  kind: z.literal('toolStarted'),
  id: z.string(),
  name: z.string(),
  input: z.unknown().optional(),
  toolKind: ToolKindSchema.optional(),
  /** Paths the call touches, as the agent gave them (absolute or relative to the attempt's cwd). */
  paths: z.array(z.string()).optional(),
});
export const ToolFinishedEventSchema = z.looseObject({
  ...base,
  kind: z.literal('toolFinished'),
  id: z.string(),
  name: z.string().optional(),
  status: z.enum(['succeeded', 'failed']),
  /** An excerpt: long outputs are cut, the transcript keeps the whole. */
  output: z.string().optional(),
});
export const FileEditedEventSchema = z.looseObject({
  ...base,
  kind: z.literal('fileEdited'),
  path: z.string(),
  change: z.enum(['add', 'update', 'delete', 'unknown']).default('unknown'),
  toolCallId: z.string().optional(),
});
export const CommandRunEventSchema = z.looseObject({
  ...base,
  kind: z.literal('commandRun'),
  /** The command as the agent reported it (a shell line for most agents). */
  command: z.string(),
  argv: z.array(z.string()).optional(),
  exitCode: z.number().int().nullable().optional(),
  outputExcerpt: z.string().optional(),
  toolCallId: z.string().optional(),
});
export const UsageEventSchema = z.looseObject({
  ...base,
  kind: z.literal('usage'),
  /**
   * `total`: running totals for the whole attempt (what backends emit to callers);
   * `delta`: tokens of one model call (what parsers emit; the backend sums them).
   */
  scope: z.enum(['total', 'delta']).default('total'),
  inputTokens: z.number().nonnegative().default(0),
  outputTokens: z.number().nonnegative().default(0),
  cachedTokens: z.number().nonnegative().default(0),
  /** Absent when unknown: the UI shows "cost unknown", never 0. */
  costUsd: z.number().nonnegative().optional(),
  costSource: z.enum(['agent', 'estimate']).optional(),
  model: z.string().optional(),
});
/**
 * What an agent says about one of its MCP servers (#18): agents do not always fail when a
 * server does not start, so the run records it. `status` in the agent's words
 * (`connected`, `failed`, `pending`…); `name` absent when the agent does not name it.
 */
export const McpServerReportSchema = z.looseObject({ name: z.string().optional(), status: z.string(), detail: z.string().optional() });
export type McpServerReport = z.infer<typeof McpServerReportSchema>;

export const SessionEventSchema = z.looseObject({
  ...base,
  kind: z.literal('session'),
  sessionId: z.string(),
  /** The model the agent says it runs (Claude `system/init`, Droid/Gemini `init`, …). */
  model: z.string().optional(),
  /** The agent CLI's own version, when its stream says it (Claude `claude_code_version`, ACP `agentInfo.version`). */
  agentVersion: z.string().optional(),
  /** The MCP servers the agent says it started, with their status (Claude `system/init` `mcp_servers`). */
  mcpServers: z.array(McpServerReportSchema).optional(),
});
export const TurnEventSchema = z.looseObject({ ...base, kind: z.literal('turn'), index: z.number().int().positive() });
export const PlanEventSchema = z.looseObject({
  ...base,
  kind: z.literal('plan'),
  entries: z.array(z.looseObject({ text: z.string(), status: z.enum(['pending', 'inProgress', 'completed']).default('pending') })),
});
export const PermissionEventSchema = z.looseObject({
  ...base,
  kind: z.literal('permission'),
  toolCallId: z.string().optional(),
  title: z.string(),
  decision: z.enum(['allowed', 'rejected', 'cancelled']),
});
export const AgentErrorEventSchema = z.looseObject({
  ...base,
  kind: z.literal('error'),
  message: z.string(),
  /** A fatal error ends the attempt; others (a retried API call, a warning) do not. */
  fatal: z.boolean().default(false),
  /** Set when the error says an MCP server did not start (the attempt records it). */
  mcpServer: McpServerReportSchema.optional(),
});
/** A line the parser could not use: malformed, or an event type it does not know. Kept for the transcript. */
export const DiagnosticEventSchema = z.looseObject({
  ...base,
  kind: z.literal('diagnostic'),
  level: z.enum(['info', 'warn']),
  message: z.string(),
  line: z.string().optional(),
});
export const ResultEventSchema = z.looseObject({
  ...base,
  kind: z.literal('result'),
  success: z.boolean(),
  text: z.string().optional(),
  turns: z.number().int().nonnegative().optional(),
  durationMs: z.number().nonnegative().optional(),
});
/** A human stage: the attempt is open and waits for the person to close it. */
export const AwaitingHumanEventSchema = z.looseObject({ ...base, kind: z.literal('awaitingHuman'), instructions: z.string().optional() });

export const AgentEventSchema = z.discriminatedUnion('kind', [
  AgentTextEventSchema,
  AgentReasoningEventSchema,
  ToolStartedEventSchema,
  ToolFinishedEventSchema,
  FileEditedEventSchema,
  CommandRunEventSchema,
  UsageEventSchema,
  SessionEventSchema,
  TurnEventSchema,
  PlanEventSchema,
  PermissionEventSchema,
  AgentErrorEventSchema,
  DiagnosticEventSchema,
  ResultEventSchema,
  AwaitingHumanEventSchema,
]);
export type AgentEvent = z.infer<typeof AgentEventSchema>;
export type AgentEventKind = AgentEvent['kind'];
export type AgentEventOf<K extends AgentEventKind> = Extract<AgentEvent, { kind: K }>;
export type UsageEvent = AgentEventOf<'usage'>;

/** Token and cost totals of an attempt: what `attempt.finished` records as `usage`. */
export const AttemptUsageSchema = UsageSchema;
export type AttemptUsage = z.infer<typeof AttemptUsageSchema>;

/**
 * A tool call that did not do what it was asked: it failed, or its permission was
 * refused (Claude's `permission_denials`, an ACP permission rejected, a sandbox refusal).
 * The attempt can still have ended normally: the engine's verification decides.
 */
export const FailedToolCallSchema = z.looseObject({
  /** The tool's name as the agent gave it (`Write`, `apply_patch`, `write_file`, an ACP title…). */
  name: z.string(),
  id: z.string().optional(),
  /** Why, in the agent's words (an excerpt). */
  reason: z.string().optional(),
});
export type FailedToolCall = z.infer<typeof FailedToolCallSchema>;

/** How an attempt ended. `outcome` is the record's `AttemptOutcome`; `reason` says why in words. */
export const AttemptResultSchema = z.looseObject({
  outcome: AttemptOutcomeSchema,
  reason: z.string().optional(),
  /**
   * The agent's final answer: its last assistant message only (for Claude Code the
   * `result` event's `result`), never the texts of earlier messages joined.
   */
  text: z.string().optional(),
  /** Tool calls that failed or were refused, in the order they ended; absent when none did. */
  failedToolCalls: z.array(FailedToolCallSchema).optional(),
  /** The model asked for (the attempt's model, else the backend's configured one); absent when none was named. */
  requestedModel: z.string().optional(),
  /** The model the agent itself says answered (from its own stream); absent when it does not say. */
  reportedModel: z.string().optional(),
  /** The agent's version when its stream says it (else see checkBackends' `--version`). */
  agentVersion: z.string().optional(),
  sessionId: z.string().optional(),
  usage: AttemptUsageSchema,
  durationMs: z.number().nonnegative(),
  exitCode: z.number().int().nullable().optional(),
  signal: z.string().nullable().optional(),
  /** True when the output cap was reached and the rest of the transcript was dropped. */
  outputTruncated: z.boolean().optional(),
  /** A human stage's closing note. */
  note: z.string().optional(),
  /** The agent was never started (not installed, not configured): a retry would fail alike, so the runner does not retry. */
  agentNotStarted: z.boolean().optional(),
  /** What the agent reported about the factory's MCP server passed to this run (absent: it said nothing). */
  mcpStatus: z.looseObject({ status: z.enum(['connected', 'failed']), detail: z.string().optional() }).optional(),
});
export type AttemptResult = z.infer<typeof AttemptResultSchema>;

/** What a backend can report, so the UI says "cost unknown" instead of showing 0. */
export const BackendCapabilitiesSchema = z.looseObject({
  streamsText: z.boolean(),
  reasoning: z.boolean(),
  toolCalls: z.boolean(),
  fileEdits: z.boolean(),
  commands: z.boolean(),
  tokenUsage: z.boolean(),
  /** `agent`: the agent reports its cost; `estimate`: only from tokens × price table; `none`: unknown. */
  cost: z.enum(['agent', 'estimate', 'none']),
  turns: z.boolean(),
  sessionResume: z.boolean(),
  /** Whether the backend can change the workspace at all (vscode.lm cannot). */
  canEditFiles: z.boolean(),
  canRunTools: z.boolean(),
});
export type BackendCapabilities = z.infer<typeof BackendCapabilitiesSchema>;

/**
 * Validates an agent event. One that zod would accept and return unchanged is returned
 * as the very object given, vouched for by a check compiled from its kind's schema (as
 * validateEvent does for the record, issue #22); anything else zod decides and words.
 */
export function parseAgentEvent(raw: unknown): { ok: true; event: AgentEvent } | { ok: false; message: string } {
  if (fastAgentEventCheck(raw)) return { ok: true, event: raw as AgentEvent };
  return parseAgentEventWithSchema(raw);
}

/** parseAgentEvent through zod alone: the reference the fast check is tested against. */
export function parseAgentEventWithSchema(raw: unknown): { ok: true; event: AgentEvent } | { ok: false; message: string } {
  const parsed = AgentEventSchema.safeParse(raw);
  if (parsed.success) return { ok: true, event: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, message: issue ? `${issue.path.map(String).join('.') || 'event'}: ${issue.message}` : 'invalid agent event' };
}

const agentEventSchemas = new Map<string, z.ZodObject>(AgentEventSchema.options.map((schema) => [schema.shape.kind.value, schema]));
const fastAgentChecks = new Map<string, FastCheck>();

/** True only when zod would accept the event and return an equal object; false means "ask zod". */
export function fastAgentEventCheck(raw: unknown): boolean {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return false;
  const kind = (raw as { kind?: unknown }).kind;
  if (typeof kind !== 'string') return false;
  let check = fastAgentChecks.get(kind);
  if (!check) {
    const schema = agentEventSchemas.get(kind);
    if (!schema) return false;
    // The kind is the key it was found by: the rest of its schema is compiled (on first use).
    check = compileFastCheck(defOf(schema.omit({ kind: true })));
    fastAgentChecks.set(kind, check);
  }
  return check(raw);
}

/** Tool names that read a file, per agent: Claude Code/Droid `Read`, Gemini `read_file`/`read_many_files`, ACP `read`, editors' `view`. */
const READ_TOOL_NAMES = new Set(['read', 'read_file', 'readfile', 'read_many_files', 'view', 'view_file', 'open_file', 'cat', 'notebookread']);
/** Shell commands whose operands are files being read (Codex reads through its shell tool). */
const READ_COMMANDS = new Set(['cat', 'head', 'tail', 'less', 'more', 'nl', 'bat', 'sed', 'wc']);
const PATH_KEYS = ['file_path', 'absolute_path', 'path', 'filePath', 'filename', 'notebook_path'];

/**
 * The workspace-relative paths an attempt's tool calls read (Read / read_file / view…,
 * and `cat`-like shell commands), in first-read order, without duplicates. Paths
 * outside the workspace are left out. `workspaceRoot` is the attempt's cwd (POSIX).
 */
export function filesReadBy(events: readonly AgentEvent[], workspaceRoot: string): string[] {
  const seen = new Set<string>();
  const add = (raw: string) => {
    const rel = toWorkspaceRelative(raw, workspaceRoot);
    if (rel !== undefined) seen.add(rel);
  };
  for (const event of events) {
    if (event.kind === 'toolStarted') {
      const isRead = event.toolKind === 'read' || READ_TOOL_NAMES.has(event.name.toLowerCase());
      if (!isRead) continue;
      if (event.paths?.length) event.paths.forEach(add);
      else pathsFromInput(event.input).forEach(add);
    } else if (event.kind === 'commandRun') {
      readOperands(commandWords(event.argv, event.command)).forEach(add);
    }
  }
  return [...seen];
}

function pathsFromInput(input: unknown): string[] {
  if (input === null || typeof input !== 'object') return [];
  const record = input as Record<string, unknown>;
  for (const key of PATH_KEYS) {
    const value = record[key];
    if (typeof value === 'string' && value) return [value];
  }
  const many = record.paths ?? record.file_paths;
  return Array.isArray(many) ? many.filter((p): p is string => typeof p === 'string') : [];
}

/** The words of a command, looking inside `bash -lc '…'` (how Codex reports its commands). */
function commandWords(argv: readonly string[] | undefined, command: string): string[] {
  const words = argv?.length ? [...argv] : splitShellWords(command);
  const [shell, flag, script] = words;
  if (shell && /(^|\/)(ba|z|da)?sh$/.test(shell) && flag && /^-l?c$/.test(flag) && script !== undefined) return splitShellWords(script);
  return words;
}

/** Minimal POSIX word splitting (quotes and backslashes); enough to find file operands. */
export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) current += line[++i];
      else current += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      current += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}

function readOperands(argv: readonly string[]): string[] {
  const paths: string[] = [];
  let command: string | undefined;
  let operandsOfSed = 0;
  for (const word of argv) {
    if (['|', '&&', '||', ';'].includes(word)) {
      command = undefined;
      continue;
    }
    if (command === undefined) {
      command = posix.basename(word);
      operandsOfSed = 0;
      continue;
    }
    if (!READ_COMMANDS.has(command) || word.startsWith('-') || /^[<>]/.test(word)) continue;
    // sed's first operand is its script, not a file.
    if (command === 'sed' && operandsOfSed++ === 0) continue;
    paths.push(word);
  }
  return paths;
}

function toWorkspaceRelative(raw: string, workspaceRoot: string): string | undefined {
  const root = posix.normalize(workspaceRoot).replace(/\/+$/, '');
  const absolute = posix.isAbsolute(raw) ? posix.normalize(raw) : posix.join(root, raw);
  const rel = posix.relative(root, absolute);
  if (!rel || rel.startsWith('..') || posix.isAbsolute(rel)) return undefined;
  return rel;
}
