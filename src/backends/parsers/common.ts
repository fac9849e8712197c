// What every output parser shares: the line → events contract, JSON line decoding
// that never throws, and small field readers for untyped JSON.
import type { AgentEvent, ToolKind } from '../../core/agentEvents';

/** A parser turns an agent's stdout, one line at a time, into typed events. Pure: no I/O. */
export interface LineParser {
  /**
   * `cut`: the line was longer than the runner's line limit and only its head is here.
   * `value`: the line already decoded by the runner (`jsonObjectOf(line)`), so it is not parsed twice.
   */
  parse(line: string, cut?: boolean, value?: Json): AgentEvent[];
  /** The stream ended: anything the parser still holds. */
  end(): AgentEvent[];
  /** A line the agent wrote on stderr (redacted), for the few facts an agent logs only there. */
  stderr?(line: string): AgentEvent[];
}
export interface ParserContext {
  /** The attempt's working directory, to resolve relative paths the agent reports. */
  cwd: string;
}
export type ParserFactory = (context: ParserContext) => LineParser;

export type Json = Record<string, unknown>;
export const EXCERPT_CHARS = 2000;

export function excerpt(text: string, max = EXCERPT_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}… [${text.length - max} more characters]`;
}

const LINE_PREVIEW = 300;

/** Decodes one JSON object line, or says (as a diagnostic event) why it could not. */
export function decodeJsonLine(line: string, cut = false): { ok: true; value: Json } | { ok: false; event: AgentEvent | undefined } {
  // Most lines are one clean object: no trim copy, and the preview is built only for a diagnostic.
  const trimmed = line.charCodeAt(0) === 0x7b && line.charCodeAt(line.length - 1) === 0x7d ? line : line.trim();
  if (!trimmed) return { ok: false, event: undefined };
  if (cut) return lineProblem(trimmed, 'a line longer than the line limit was cut; it was not parsed');
  if (trimmed[0] !== '{') return lineProblem(trimmed, 'not a JSON line');
  try {
    const value: unknown = JSON.parse(trimmed);
    if (!isJsonObject(value)) return lineProblem(trimmed, 'a JSON line that is not an object');
    return { ok: true, value };
  } catch (error) {
    return lineProblem(trimmed, `malformed JSON line: ${(error as Error).message}`);
  }
}

function lineProblem(trimmed: string, message: string): { ok: false; event: AgentEvent } {
  return { ok: false, event: { kind: 'diagnostic', level: 'warn', message, line: trimmed.length > LINE_PREVIEW ? `${trimmed.slice(0, LINE_PREVIEW)}…` : trimmed } };
}

function isJsonObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The `parse` of a JSON-lines agent: a line that is blank, cut or not a JSON object
 * becomes its diagnostic (or nothing), every decoded object goes to `onValue`.
 */
export function parseJsonLines(onValue: (value: Json, line: string) => AgentEvent[]): LineParser['parse'] {
  return (line, cut, value) => {
    // The usual line, one whole object, is parsed without a result wrapper (issue #22), or
    // comes parsed from the runner; anything else (or a parse error) takes
    // decodeJsonLine's way, which names the problem.
    const object = value ?? (cut ? undefined : jsonObjectOf(line));
    if (object) return onValue(object, line);
    const decoded = decodeJsonLine(line, cut);
    if (!decoded.ok) return decoded.event ? [decoded.event] : [];
    return onValue(decoded.value, line);
  };
}

/**
 * The line as a JSON object when it is one whole object (`{…}`, nothing around it), else
 * undefined; never throws. The runner calls it once per stdout line: a line it returns an
 * object for is a JSON text, which the transcript stores without escaping.
 */
export function jsonObjectOf(line: string): Json | undefined {
  if (line.charCodeAt(0) !== 0x7b || line.charCodeAt(line.length - 1) !== 0x7d) return undefined;
  try {
    return JSON.parse(line) as Json;
  } catch {
    return undefined;
  }
}

export function unknownEvent(agent: string, type: unknown, line: string): AgentEvent {
  return { kind: 'diagnostic', level: 'info', message: `${agent}: unknown event type ${JSON.stringify(type)} ignored`, line: line.length > LINE_PREVIEW ? `${line.slice(0, LINE_PREVIEW)}…` : line };
}

export const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
export const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
export const obj = (value: unknown): Json | undefined => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined);
export const arr = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** Text of a tool result that may be a string, content blocks or JSON. */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((block) => str(obj(block)?.text) ?? '').join('');
  if (value === undefined || value === null) return '';
  return JSON.stringify(value);
}

/** Tool kinds for the tool names of Claude Code, Droid and Gemini CLI. */
const TOOL_KINDS: Record<string, ToolKind> = {
  read: 'read', read_file: 'read', read_many_files: 'read', notebookread: 'read',
  write: 'edit', edit: 'edit', multiedit: 'edit', notebookedit: 'edit', create: 'edit', applypatch: 'edit', apply_patch: 'edit', write_file: 'edit', replace: 'edit',
  bash: 'execute', execute: 'execute', run_shell_command: 'execute', shell: 'execute',
  grep: 'search', glob: 'search', ls: 'search', search_file_content: 'search', list_directory: 'search',
  webfetch: 'fetch', websearch: 'fetch', fetchurl: 'fetch', web_fetch: 'fetch', google_web_search: 'fetch',
  todowrite: 'think', write_todos: 'think',
};
export function toolKindOf(name: string): ToolKind {
  return TOOL_KINDS[name.toLowerCase()] ?? 'other';
}

const PATH_KEYS = ['file_path', 'absolute_path', 'path', 'notebook_path'];
export function pathsOf(input: unknown): string[] {
  const record = obj(input);
  if (!record) return [];
  for (const key of PATH_KEYS) {
    const value = str(record[key]);
    if (value) return [value];
  }
  return arr(record.paths).filter((p): p is string => typeof p === 'string');
}

/** Builds the `toolStarted` event for a call, with the kind and paths the transcript and re-read figure need. */
export function toolStarted(id: string, name: string, input: unknown): AgentEvent {
  const paths = pathsOf(input);
  // Not spread: one comes with every tool call (issue #22).
  const event: Extract<AgentEvent, { kind: 'toolStarted' }> = { kind: 'toolStarted', id, name, input, toolKind: toolKindOf(name) };
  if (paths.length) event.paths = paths;
  return event;
}

/**
 * A set that remembers only the last `capacity` keys: parsers dedupe by message id, and
 * the lines of one message come together, so memory stays flat on any transcript length.
 */
export class RecentSet {
  private readonly keys = new Set<string>();
  /** Insertion order as a ring: the oldest key is evicted without iterating the set. */
  private readonly order: string[] = [];
  private next = 0;
  /** The key added last, still in the set: a message's lines add its id again and again. */
  private last: string | undefined;
  constructor(private readonly capacity = 256) {}
  has(key: string): boolean {
    return key === this.last || this.keys.has(key);
  }
  add(key: string): void {
    if (key === this.last) return;
    this.last = key;
    if (this.keys.has(key)) return;
    if (this.order.length < this.capacity) this.order.push(key);
    else {
      this.keys.delete(this.order[this.next] as string);
      this.order[this.next] = key;
      this.next = (this.next + 1) % this.capacity;
    }
    this.keys.add(key);
  }
}

/** A `session` event from a line carrying `session_id` (and maybe `model`, `agentVersion`), as Claude Code, Droid and Gemini print it. */
export function sessionEventOf(value: Json, agentVersion?: string): AgentEvent[] {
  const sessionId = str(value.session_id);
  const model = str(value.model);
  return sessionId ? [{ kind: 'session', sessionId, ...(model ? { model } : {}), ...(agentVersion ? { agentVersion } : {}) }] : [];
}

/**
 * The model that did most of the work in a per-model token breakdown (Claude's
 * `modelUsage`, Gemini's `stats.models`): models with no tokens are left out.
 */
export function busiestModel(models: Json | undefined, tokensOf: (entry: Json) => number): string | undefined {
  let best: { name: string; tokens: number } | undefined;
  for (const [name, raw] of Object.entries(models ?? {})) {
    const entry = obj(raw);
    const tokens = entry ? tokensOf(entry) : 0;
    if (tokens > 0 && (!best || tokens > best.tokens)) best = { name, tokens };
  }
  return best?.name;
}

/**
 * Counts model turns for agents that do not number them: the first text or tool
 * call after a tool result opens a new turn.
 */
export class TurnCounter {
  count = 0;
  private open = false;

  /** A `turn` event when this output opens a new turn, else nothing. */
  next(): AgentEvent[] {
    if (this.open) return [];
    this.open = true;
    return [{ kind: 'turn', index: ++this.count }];
  }

  /** A tool result came back: the model's next output is a new turn. */
  close(): void {
    this.open = false;
  }
}
