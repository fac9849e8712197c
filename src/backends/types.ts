// The one interface every agent backend implements, and the ports it is given.
import type { AgentEvent, AttemptResult, BackendCapabilities } from '../core/agentEvents';
import type { Budget } from '../core/pipeline';

/** A backend's id: one of the table's (catalog.ts), or one a newer version knows. */
export type BackendId = string;

/** The rendered context pack handed to the stage (see core/contextPack.ts, core/contextRender.ts). */
export interface ContextPackInput {
  version: string;
  /** The pack rendered as text (markdown) for the agent. */
  text: string;
}

/** Where the raw transcript goes while the attempt runs (the engine keeps it as evidence). Lines are already redacted. */
export interface TranscriptSink {
  write(entry: TranscriptEntry): void;
  /**
   * The same as `write({ stream, line })` for a line received as bytes: `bytes[start, end)`
   * are its UTF-8 (valid only during the call), `line` their decoding. A sink that stores
   * bytes can copy them instead of re-encoding the string (issue #22); one without it gets `write`.
   * `json`: `line` is a JSON text (JSON.parse accepted it), which the sink may store as it
   * is instead of escaped (src/core/transcriptLines.ts); reading it back gives `line`.
   */
  writeUtf8?(stream: TranscriptEntry['stream'], bytes: Uint8Array, start: number, end: number, line: string, json?: boolean): void;
  /**
   * Back-pressure from the disk: true while more is waiting to be written than the sink
   * keeps; the producer then stops reading the agent's output (the agent blocks on a full
   * pipe) until `onceWritten` calls back, so a flood on a slow disk does not fill memory.
   */
  isBacklogged?(): boolean;
  /** Calls back once the backlog is written (or the stream failed: waiting longer would block the agent for good). */
  onceWritten?(callback: () => void): void;
}
export interface TranscriptEntry {
  /** `stdin`: what the cockpit sent (ACP requests). `meta`: what the runner itself recorded (the command line, truncation marker, stop reason). */
  stream: 'stdout' | 'stderr' | 'stdin' | 'meta';
  line: string;
}

export interface AttemptRequest {
  prompt: string;
  contextPack?: ContextPackInput;
  /** The workspace (or worktree) the agent works in; its file system access is confined here where the backend can enforce it. */
  cwd: string;
  /** The whole environment of the agent process: the caller passes API keys in (SecretStorage or the user's env); nothing is read from settings or .factory/. */
  env: Record<string, string | undefined>;
  budget?: Budget;
  signal?: AbortSignal;
  /** Model name for the backend (overrides the backend's configured default). */
  model?: string;
  /**
   * The stage owner's `args` from pipeline.json. The generic command backend takes them
   * as its argv template (first item = executable), instead of its setting; the engine
   * runs nothing in an untrusted workspace, so a cloned pipeline cannot run it unasked.
   */
  args?: readonly string[];
  /** Resume this agent session instead of starting a new one. */
  resumeSessionId?: string;
  /** Values to redact from transcripts and recorded commands besides the secret-looking variables of `env`. */
  secrets?: readonly string[];
  sink?: TranscriptSink;
  /**
   * The factory's MCP server for this run (src/mcp/), bound to the change and the
   * attempt. A backend that can take an MCP server per run (its flags, its own config
   * for the run, the run's `HOME`) passes it, unless its `mcp` setting is off; it never
   * edits the user's own agent configuration.
   */
  mcpServer?: McpServerSpec;
}

/** A stdio MCP server as agents' configurations describe it. */
export interface McpServerSpec {
  /** The server's name for the agent (tools are `mcp__<name>__<tool>` in Claude Code). */
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
}

/**
 * A running attempt. Iterate `events` (it ends when the attempt ends) and then read
 * `result`; or only await `result` — events that nobody iterates are buffered.
 */
export interface AgentRun extends AsyncIterable<AgentEvent> {
  readonly events: AsyncIterable<AgentEvent>;
  readonly result: Promise<AttemptResult>;
}

export interface AgentBackend {
  readonly id: string;
  readonly displayName: string;
  readonly capabilities: BackendCapabilities;
  /** True when, as configured, it passes `AttemptRequest.mcpServer` to its runs (#18): only then is the server offered and the prompt told. */
  readonly passesMcpServer?: boolean;
  start(attempt: AttemptRequest): AgentRun;
}

/** USD per million tokens; `cachedInput` for tokens read from a prompt cache (defaults to `input`). */
export interface ModelPrice {
  input: number;
  output: number;
  cachedInput?: number;
}
/** Keyed by model name; a key ending in `*` matches by prefix (longest wins). */
export type PriceTable = Readonly<Record<string, ModelPrice>>;
