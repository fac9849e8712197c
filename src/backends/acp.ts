// Agent Client Protocol client over stdio (@agentclientprotocol/sdk): initialize, a new
// session in the workspace, one prompt, the agent's session updates mapped to the typed
// events. Permission requests go to a policy callback; the agent's file system reads and
// writes are served only inside the workspace. Any ACP agent (gemini --acp,
// claude-code-acp, codex-acp, …) works unchanged.
//
// Protocol source: agentclientprotocol.com/protocol (v1: initialization, session setup,
// prompt turn, tool calls, file system, permissions) and the SDK 2.4 typings
// (dist/v1/schema/types.gen.d.ts: SessionUpdate variants agent_message_chunk,
// agent_thought_chunk, tool_call, tool_call_update, plan, usage_update, …; StopReason;
// dist/v1/unstable/schema: PromptResponse.usage {inputTokens, outputTokens,
// cachedReadTokens, …}, not in the stable schema yet).
//
// Observed with the real `gemini --acp` (Gemini CLI 0.61.0, against
// test/fixtures/agents/mock-model-server.mjs; replays in test/fixtures/agents/acp-gemini/):
// - Why "an ACP agent cannot create files with the default settings, and the run still
//   says succeeded" (issue #23): with `fs.readTextFile` advertised, Gemini's write_file
//   first reads the target through the client to see whether it exists. For a new file
//   the client rightly answers -32002 "Resource not found", but Gemini's own JSON-RPC
//   layer rejects with the bare error object, which its ENOENT check (it only looks at an
//   Error's message) does not recognise: the tool fails "Error checking existing file:
//   Resource not found: …" before asking any permission, the model still says "Done",
//   and the turn ends `end_turn`. So by default the client advertises writes only
//   (`clientFileReads` off): Gemini reads with its own file system (a missing file is a
//   real ENOENT), asks permission (options proceed_always / proceed_once / cancel, with a
//   diff whose `_meta.kind` is "add"), the default policy allows once, and the write
//   comes to fs/write_text_file, served inside the workspace only. A write outside the
//   workspace never reaches the client: Gemini routes paths outside its root to its own
//   file system and refuses them itself ("Path not in workspace: …", a
//   `tool_call_update` failed with no `tool_call` before it; the tool is named only in
//   the id, `write_file__…`). Any agent that does send one is refused here.
// - Tokens: Gemini puts them in the prompt response's `_meta.quota.token_count`
//   {input_tokens, output_tokens} with `model_usage[] {model, token_count}` (no cache
//   figure); the unstable `usage` field of the response is read as well. `usage_update`
//   carries only the context size and an optional cost.
// - The model: `session/new` answers `models.currentModelId` ("auto" by default, an
//   alias); the models that answered are in `_meta.quota.model_usage`. The version:
//   `initialize` → `agentInfo.version`.
// - Failed tool calls (`tool_call_update` status failed) and permissions not granted are
//   recorded as the attempt's failed tool calls; the outcome stays the agent's.
import { mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { AnyMessage, NewSessionRequest, ClientConnection, RequestPermissionRequest, SessionUpdate, Stream } from '@agentclientprotocol/sdk';

/** The SDK loads with the first ACP run, not with the editor (it is the largest part of the backends). */
const loadSdk = () => import('@agentclientprotocol/sdk');
import type { AgentEvent, AttemptResult, BackendCapabilities, ToolKind, UsageEvent } from '../core/agentEvents';
import type { AttemptOutcome } from '../core/events';
import { AttemptFacts } from './attemptFacts';
import { settingName } from './cliBackend';
import { runOnChannel, type EventChannel } from './eventChannel';
import { LineSplitter } from './lineSplitter';
import { killTree, resolveExecutable, spawnInGroup } from './processTree';
import { Redactor, secretsFromEnv } from './redact';
import { DEFAULT_KILL_GRACE_MS, DEFAULT_MAX_OUTPUT_BYTES, formatMs, truncationMarker, type StopRequest } from './runner';
import type { AgentBackend, AgentRun, AttemptRequest } from './types';

export interface PermissionRequestInfo {
  toolCallId: string;
  title: string;
  toolKind?: string;
  options: { optionId: string; name: string; kind: string }[];
}
/** The option to select, or `cancelled`. */
export type PermissionDecision = { optionId: string } | 'cancelled';
export type PermissionPolicy = (request: PermissionRequestInfo, signal: AbortSignal) => Promise<PermissionDecision> | PermissionDecision;

/** Allows once when the agent offers it, rejects otherwise: headless runs have no one to ask. */
export const allowOncePolicy: PermissionPolicy = (request) => {
  const allow = request.options.find((o) => o.kind === 'allow_once') ?? request.options.find((o) => o.kind === 'allow_always');
  return allow ? { optionId: allow.optionId } : 'cancelled';
};
export const rejectAllPolicy: PermissionPolicy = (request) => {
  const reject = request.options.find((o) => o.kind === 'reject_once') ?? request.options.find((o) => o.kind === 'reject_always');
  return reject ? { optionId: reject.optionId } : 'cancelled';
};

export interface AcpBackendConfig {
  /** Backend id (several ACP agents can be configured); default `acp`. */
  id?: string;
  displayName?: string;
  /** The agent executable (name on PATH or path) and its arguments, e.g. `gemini` + `["--acp"]`. */
  path?: string;
  args?: readonly string[];
  timeoutMs?: number;
  killGraceMs?: number;
  maxOutputBytes?: number;
  permissionPolicy?: PermissionPolicy;
  /**
   * Serve the agent's file writes through the client (confined to the workspace, each one
   * recorded as a file edit). Default true. Off, the agent writes with its own file system.
   */
  clientFileSystem?: boolean;
  /**
   * Also serve the agent's file reads (confined to the workspace). Default false: Gemini CLI
   * 0.61 cannot create a file when it reads through the client (see the header).
   */
  clientFileReads?: boolean;
}

const TOOL_KINDS = new Set<ToolKind>(['read', 'edit', 'delete', 'move', 'search', 'execute', 'fetch', 'think', 'other']);

export class AcpBackend implements AgentBackend {
  readonly id: string;
  readonly displayName: string;
  readonly capabilities: BackendCapabilities = {
    streamsText: true,
    reasoning: true,
    toolCalls: true,
    fileEdits: true,
    commands: true,
    // When the agent sends them: the prompt answer's `usage` (unstable ACP) or Gemini's `_meta.quota`.
    tokenUsage: true,
    cost: 'agent',
    turns: false,
    sessionResume: true,
    canEditFiles: true,
    canRunTools: true,
  };

  /** `mcpServers` in `session/new` unless `factory.backends.acp.mcp` is off (acpMcpServers). */
  readonly passesMcpServer: boolean;

  constructor(readonly config: AcpBackendConfig = {}) {
    this.passesMcpServer = (config as { mcp?: boolean }).mcp !== false;
    this.id = config.id ?? 'acp';
    this.displayName = config.displayName ?? 'ACP agent';
  }

  start(attempt: AttemptRequest): AgentRun {
    return runOnChannel((channel) => this.run(attempt, channel));
  }

  private async run(attempt: AttemptRequest, channel: EventChannel): Promise<AttemptResult> {
    const started = Date.now();
    const { client, methods, ndJsonStream, PROTOCOL_VERSION, RequestError } = await loadSdk();
    const redactor = new Redactor([...secretsFromEnv(attempt.env), ...(attempt.secrets ?? [])]);
    const sink = attempt.sink;
    const failed = (reason: string): AttemptResult => {
      channel.push({ kind: 'error', message: reason, fatal: true });
      return { outcome: 'failed', reason, usage: {}, durationMs: Date.now() - started };
    };
    const notStarted = (reason: string): AttemptResult => ({ ...failed(reason), agentNotStarted: true });
    if (!this.config.path) return notStarted(`${this.displayName} has no command: set ${settingName(this.id)} (and .args) to an ACP agent, e.g. "gemini" with ["--acp"].`);
    const executable = await resolveExecutable(this.config.path, attempt.env.PATH, attempt.cwd);
    if (!executable) return notStarted(`${this.displayName} is not available: "${this.config.path}" was not found. Install the agent or set ${settingName(this.id)} to its full path.`);
    const root = await realpath(attempt.cwd);

    const args = [...(this.config.args ?? [])];
    const clientFs = this.config.clientFileSystem ?? true;
    const clientReads = clientFs && (this.config.clientFileReads ?? false);
    sink?.write({ stream: 'meta', line: `$ ${redactor.redactArgv([executable, ...args]).join(' ')}` });
    const child = spawnInGroup(executable, args, { cwd: attempt.cwd, env: attempt.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const grace = this.config.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    const maxOutput = this.config.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    let recorded = 0;
    let truncated = false;
    const record = (stream: 'stdout' | 'stderr' | 'stdin', line: string) => {
      if (truncated) return;
      recorded += line.length + 1;
      if (recorded > maxOutput) {
        truncated = true;
        sink?.write({ stream: 'meta', line: truncationMarker(maxOutput) });
        return;
      }
      sink?.write({ stream, line: redactor.redact(line) });
    };
    const stderrLines = new LineSplitter({ maxLineBytes: 64 * 1024, onLine: (line) => record('stderr', line) });
    child.stderr?.on('data', (chunk: Buffer) => stderrLines.push(chunk));
    child.stdin?.on('error', () => undefined);

    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });

    // Tap the JSON-RPC messages both ways into the transcript.
    const raw = ndJsonStream(Writable.toWeb(child.stdin!) as WritableStream<Uint8Array>, Readable.toWeb(child.stdout!) as ReadableStream<Uint8Array>);
    // The prompt's answer as the agent sent it: the SDK's stable schema may drop fields it does not know yet (`usage`).
    let promptRequestId: unknown;
    let rawPromptResult: Record<string, unknown> | undefined;
    const tap = (stream: 'stdout' | 'stdin') =>
      new TransformStream<AnyMessage, AnyMessage>({
        transform(message, controller) {
          record(stream, JSON.stringify(message));
          const m = message as { id?: unknown; method?: unknown; result?: unknown };
          if (stream === 'stdin' && m.method === methods.agent.session.prompt) promptRequestId = m.id;
          else if (stream === 'stdout' && m.id !== undefined && m.id === promptRequestId && m.result && typeof m.result === 'object') rawPromptResult = m.result as Record<string, unknown>;
          controller.enqueue(message);
        },
      });
    const fromAgent = tap('stdout');
    const toAgent = tap('stdin');
    void raw.readable.pipeTo(fromAgent.writable).catch(() => undefined);
    void toAgent.readable.pipeTo(raw.writable).catch(() => undefined);
    const stream: Stream = { readable: fromAgent.readable, writable: toAgent.writable };

    let stopped: StopRequest | undefined;
    let sessionId: string | undefined;
    let cost: number | undefined;
    let tokens: UsageEvent | undefined;
    const facts = new AttemptFacts();
    const toolKinds = new Map<string, { kind?: string; input?: unknown; title?: string }>();
    const emit = (event: AgentEvent) => {
      facts.observe(event);
      if (event.kind === 'usage' && event.costUsd !== undefined) cost = event.costUsd;
      channel.push(event);
    };
    const policy = this.config.permissionPolicy ?? allowOncePolicy;
    const permissionAbort = new AbortController();

    const inWorkspace = async (requested: string, forWrite: boolean): Promise<string> => {
      if (!path.isAbsolute(requested)) throw RequestError.invalidParams({ path: requested }, 'paths must be absolute');
      const resolved = path.resolve(requested);
      // Resolve symlinks of the existing part, so a link cannot lead outside.
      let existing = forWrite ? path.dirname(resolved) : resolved;
      let suffix = forWrite ? path.basename(resolved) : '';
      for (;;) {
        try {
          existing = await realpath(existing);
          break;
        } catch {
          const parent = path.dirname(existing);
          if (parent === existing) break;
          suffix = path.join(path.basename(existing), suffix);
          existing = parent;
        }
      }
      const real = suffix ? path.join(existing, suffix) : existing;
      const rel = path.relative(root, real);
      if (rel.startsWith('..') || path.isAbsolute(rel)) {
        emit({ kind: 'diagnostic', level: 'warn', message: `refused an ACP ${forWrite ? 'write' : 'read'} outside the workspace: ${requested}` });
        throw RequestError.invalidParams({ path: requested }, `access outside the workspace is not allowed: ${requested}`);
      }
      return real;
    };

    const app = client({ name: 'factory-cockpit' })
      .onNotification(methods.client.session.update, ({ params }) => {
        for (const event of mapSessionUpdate(params.update, toolKinds)) emit(event);
      })
      .onRequest(methods.client.session.requestPermission, async ({ params }) => {
        const info = permissionInfo(params);
        let decision: PermissionDecision;
        try {
          decision = await policy(info, permissionAbort.signal);
        } catch {
          decision = 'cancelled';
        }
        const option = decision === 'cancelled' ? undefined : info.options.find((o) => o.optionId === decision.optionId);
        emit({ kind: 'permission', toolCallId: info.toolCallId, title: info.title, decision: !option ? 'cancelled' : option.kind.startsWith('allow') ? 'allowed' : 'rejected' });
        return { outcome: option ? { outcome: 'selected' as const, optionId: option.optionId } : { outcome: 'cancelled' as const } };
      })
      .onRequest(methods.client.fs.readTextFile, async ({ params }) => {
        const file = await inWorkspace(params.path, false);
        let content: string;
        try {
          content = await readFile(file, 'utf8');
        } catch (error) {
          // Agents ask for files that do not exist yet (before a write); "Resource not found" is how ACP says so.
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw RequestError.resourceNotFound(params.path);
          throw error;
        }
        if (params.line != null || params.limit != null) {
          const lines = content.split('\n');
          const from = Math.max(0, (params.line ?? 1) - 1);
          content = lines.slice(from, params.limit != null ? from + params.limit : undefined).join('\n');
        }
        return { content };
      })
      .onRequest(methods.client.fs.writeTextFile, async ({ params }) => {
        const file = await inWorkspace(params.path, true);
        let existed = true;
        await readFile(file).catch(() => (existed = false));
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, params.content);
        emit({ kind: 'fileEdited', path: file, change: existed ? 'update' : 'add' });
        return {};
      });

    const live: { connection?: ClientConnection } = {};
    const stop = (request: StopRequest) => {
      if (stopped) return;
      stopped = request;
      sink?.write({ stream: 'meta', line: `[factory: stopping the agent: ${request.reason}]` });
      permissionAbort.abort();
      // Ask politely first (session/cancel), then end the tree after the grace period.
      if (sessionId && live.connection) void live.connection.agent.notify(methods.agent.session.cancel, { sessionId }).catch(() => undefined);
      setTimeout(() => void killTree(child, grace), Math.min(grace, 500)).unref?.();
    };
    const onAbort = () => stop({ outcome: 'cancelled', reason: 'cancelled by the user' });
    if (attempt.signal?.aborted) queueMicrotask(onAbort);
    attempt.signal?.addEventListener('abort', onAbort, { once: true });
    const timers: NodeJS.Timeout[] = [];
    if (this.config.timeoutMs) timers.push(setTimeout(() => stop({ outcome: 'timedOut', reason: `timed out after ${formatMs(this.config.timeoutMs ?? 0)}` }), this.config.timeoutMs));
    if (attempt.budget?.wallTimeMs) timers.push(setTimeout(() => stop({ outcome: 'budgetExceeded', reason: `time budget exceeded: ${formatMs(attempt.budget?.wallTimeMs ?? 0)}` }), attempt.budget.wallTimeMs));

    const open = app.connect(stream);
    live.connection = open;
    let outcome: AttemptOutcome = 'failed';
    let reason: string | undefined;
    try {
      const died = exited.then((exit) => {
        throw new Error(exit.error ? `could not start ${executable}: ${exit.error.message}` : `the agent exited (${exit.signal ?? `code ${exit.code}`}) before the prompt finished`);
      });
      const work = (async () => {
        const init = await open.agent.request(methods.agent.initialize, {
          protocolVersion: PROTOCOL_VERSION,
          clientCapabilities: { fs: { readTextFile: clientReads, writeTextFile: clientFs }, terminal: false },
          clientInfo: { name: 'factory-cockpit', version: '0.1.0' },
        });
        sink?.write({ stream: 'meta', line: `[factory: ACP agent ${init.agentInfo?.name ?? '?'} ${init.agentInfo?.version ?? ''}, protocol ${init.protocolVersion}]` });
        let session: unknown;
        if (attempt.resumeSessionId && init.agentCapabilities?.loadSession) {
          session = await open.agent.request(methods.agent.session.load, { sessionId: attempt.resumeSessionId, cwd: root, mcpServers: acpMcpServers(attempt, this.config) });
          sessionId = attempt.resumeSessionId;
        } else {
          const created = await open.agent.request(methods.agent.session.new, { cwd: root, mcpServers: acpMcpServers(attempt, this.config) });
          session = created;
          sessionId = created.sessionId;
        }
        const model = attempt.model ? await this.chooseModel(open, sessionId, session, attempt.model, emit) : currentModelOf(session);
        const agentVersion = init.agentInfo?.version;
        emit({ kind: 'session', sessionId, ...(model ? { model } : {}), ...(agentVersion ? { agentVersion } : {}) });
        if (stopped) return { stopReason: 'cancelled' as const };
        // Exactly the attempt's prompt: the stage's template already holds the context pack.
        return open.agent.request(methods.agent.session.prompt, { sessionId, prompt: [{ type: 'text', text: attempt.prompt }] });
      })();
      const response = await Promise.race([work, died]);
      tokens = promptUsage(rawPromptResult ?? (response as unknown as Record<string, unknown>));
      if (tokens) emit(tokens);
      if (stopped) {
        outcome = stopped.outcome;
        reason = stopped.reason;
      } else if (response.stopReason === 'end_turn') {
        outcome = 'succeeded';
      } else if (response.stopReason === 'cancelled') {
        outcome = 'cancelled';
        reason = 'the agent cancelled the turn';
      } else {
        reason = `the agent stopped: ${response.stopReason}`;
      }
      emit({ kind: 'result', success: outcome === 'succeeded', ...(facts.lastMessage ? { text: facts.lastMessage } : {}) });
    } catch (error) {
      if (stopped) {
        outcome = stopped.outcome;
        reason = stopped.reason;
      } else {
        reason = redactor.redact(error instanceof Error ? error.message : String(error));
        emit({ kind: 'error', message: reason, fatal: true });
      }
    } finally {
      timers.forEach(clearTimeout);
      attempt.signal?.removeEventListener('abort', onAbort);
      open.close();
      child.stdin?.end();
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 200))]);
      await killTree(child, grace);
      stderrLines.end();
    }
    return {
      outcome,
      ...(reason ? { reason } : {}),
      ...facts.resultFields(attempt.model),
      ...(sessionId ? { sessionId } : {}),
      usage: {
        ...(tokens ? { inputTokens: tokens.inputTokens, outputTokens: tokens.outputTokens, cachedTokens: tokens.cachedTokens } : {}),
        ...(cost !== undefined ? { costUsd: cost, costSource: 'agent' as const } : {}),
      },
      durationMs: Date.now() - started,
      ...(truncated ? { outputTruncated: true } : {}),
    };
  }

  /**
   * Asks the agent for the attempt's model through a `model` session config option, when
   * it offers one; otherwise says that the request could not be passed on. Returns the
   * model the agent then reports.
   */
  private async chooseModel(open: ClientConnection, sessionId: string, session: unknown, wanted: string, emit: (event: AgentEvent) => void): Promise<string | undefined> {
    const { methods } = await loadSdk();
    const option = modelOption(session);
    if (option) {
      try {
        const answer = await open.agent.request(methods.agent.session.setConfigOption, { sessionId, configId: option.id, value: wanted });
        return currentModelOf(answer) ?? wanted;
      } catch (error) {
        emit({ kind: 'diagnostic', level: 'warn', message: `${this.displayName} refused the model "${wanted}": ${(error as Error).message}` });
        return currentModelOf(session);
      }
    }
    emit({ kind: 'diagnostic', level: 'warn', message: `${this.displayName} offers no model option over ACP; the requested model "${wanted}" was not passed on (set it in the agent's own settings)` });
    return currentModelOf(session);
  }
}

type Loose = Record<string, unknown>;
const looseObj = (value: unknown): Loose | undefined => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Loose) : undefined);
const looseNum = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const looseStr = (value: unknown): string | undefined => (typeof value === 'string' && value ? value : undefined);

/** The session's `model` config option (stable ACP: `configOptions[]` with category "model"). */
function modelOption(session: unknown): { id: string; currentValue?: string } | undefined {
  const options = looseObj(session)?.configOptions;
  if (!Array.isArray(options)) return undefined;
  for (const raw of options) {
    const option = looseObj(raw);
    const id = looseStr(option?.id);
    if (option?.category === 'model' && id) {
      const current = looseStr(option.currentValue);
      return { id, ...(current ? { currentValue: current } : {}) };
    }
  }
  return undefined;
}

/** The model a `session/new` (or set-config) answer names: the `model` config option, or the unstable `models.currentModelId` (Gemini). */
export function currentModelOf(answer: unknown): string | undefined {
  return modelOption(answer)?.currentValue ?? looseStr(looseObj(looseObj(answer)?.models)?.currentModelId);
}

/**
 * The tokens of a prompt turn: the unstable `usage` of the prompt response
 * ({inputTokens, outputTokens, cachedReadTokens}), else Gemini CLI's
 * `_meta.quota.token_count` ({input_tokens, output_tokens}) with its per-model breakdown.
 */
export function promptUsage(response: Loose | undefined): UsageEvent | undefined {
  const usage = looseObj(response?.usage);
  if (usage && (looseNum(usage.inputTokens) !== undefined || looseNum(usage.outputTokens) !== undefined)) {
    return { kind: 'usage', scope: 'total', inputTokens: looseNum(usage.inputTokens) ?? 0, outputTokens: looseNum(usage.outputTokens) ?? 0, cachedTokens: looseNum(usage.cachedReadTokens) ?? 0 };
  }
  const quota = looseObj(looseObj(response?._meta)?.quota);
  const count = looseObj(quota?.token_count);
  if (!count) return undefined;
  let model: { name: string; tokens: number } | undefined;
  for (const raw of Array.isArray(quota?.model_usage) ? quota.model_usage : []) {
    const entry = looseObj(raw);
    const name = looseStr(entry?.model);
    const perModel = looseObj(entry?.token_count);
    const total = (looseNum(perModel?.input_tokens) ?? 0) + (looseNum(perModel?.output_tokens) ?? 0);
    // "auto" is Gemini's routing alias, not a model.
    if (name && name !== 'auto' && total > 0 && (!model || total > model.tokens)) model = { name, tokens: total };
  }
  return { kind: 'usage', scope: 'total', inputTokens: looseNum(count.input_tokens) ?? 0, outputTokens: looseNum(count.output_tokens) ?? 0, cachedTokens: 0, ...(model ? { model: model.name } : {}) };
}

function permissionInfo(params: RequestPermissionRequest): PermissionRequestInfo {
  return {
    toolCallId: params.toolCall.toolCallId,
    title: params.toolCall.title ?? params.toolCall.toolCallId,
    ...(params.toolCall.kind ? { toolKind: params.toolCall.kind } : {}),
    options: params.options.map((o) => ({ optionId: o.optionId, name: o.name, kind: o.kind })),
  };
}

function contentText(content: unknown): string {
  const block = content as { type?: string; text?: string } | undefined;
  return block?.type === 'text' && typeof block.text === 'string' ? block.text : '';
}

/** One ACP session update → typed events. Pure; exported for tests. */
export function mapSessionUpdate(update: SessionUpdate, tools: Map<string, { kind?: string; input?: unknown; title?: string }>): AgentEvent[] {
  switch (update.sessionUpdate) {
    case 'agent_message_chunk': {
      const text = contentText(update.content);
      return text ? [{ kind: 'text', text, ...(update.messageId ? { messageId: update.messageId } : {}) }] : [];
    }
    case 'agent_thought_chunk': {
      const text = contentText(update.content);
      return text ? [{ kind: 'reasoning', text }] : [];
    }
    case 'tool_call': {
      const kind = update.kind && TOOL_KINDS.has(update.kind as ToolKind) ? (update.kind as ToolKind) : 'other';
      tools.set(update.toolCallId, { kind, input: update.rawInput, title: update.title });
      const paths = (update.locations ?? []).map((l) => l.path);
      const events: AgentEvent[] = [{ kind: 'toolStarted', id: update.toolCallId, name: update.title, input: update.rawInput, toolKind: kind, ...(paths.length ? { paths } : {}) }];
      if (update.status === 'completed' || update.status === 'failed') events.push(...finished(update.toolCallId, update.status, update.content ?? [], tools));
      return events;
    }
    case 'tool_call_update': {
      let known = tools.get(update.toolCallId);
      if (!known) {
        // Gemini reports a call it refused before running it only as a failed update, named in its id (`write_file__…`).
        known = { ...(update.kind ? { kind: update.kind } : {}), title: update.title ?? /^([A-Za-z][\w-]*?)__/.exec(update.toolCallId)?.[1] ?? update.kind ?? 'tool' };
        tools.set(update.toolCallId, known);
      } else if (update.title) known.title = update.title;
      if (update.rawInput !== undefined) known.input = update.rawInput;
      if (update.status === 'completed' || update.status === 'failed') return finished(update.toolCallId, update.status, update.content ?? [], tools);
      return [];
    }
    case 'plan':
      return [{ kind: 'plan', entries: update.entries.map((e) => ({ text: e.content, status: e.status === 'in_progress' ? 'inProgress' : e.status === 'completed' ? 'completed' : 'pending' })) }];
    case 'usage_update':
      if (update.cost && update.cost.currency.toUpperCase() === 'USD') return [{ kind: 'usage', scope: 'total', inputTokens: 0, outputTokens: 0, cachedTokens: 0, costUsd: update.cost.amount, costSource: 'agent' }];
      return [];
    case 'user_message_chunk':
    case 'available_commands_update':
    case 'current_mode_update':
    case 'config_option_update':
    case 'session_info_update':
    case 'compaction_update':
    case 'compaction_summary_chunk':
      return [];
    case 'notice':
      return [{ kind: 'diagnostic', level: 'info', message: JSON.stringify(update) }];
    default:
      return [{ kind: 'diagnostic', level: 'info', message: `acp: unknown session update ${JSON.stringify((update as { sessionUpdate?: unknown }).sessionUpdate)} ignored` }];
  }
}

function finished(id: string, status: 'completed' | 'failed', content: readonly unknown[], tools: Map<string, { kind?: string; input?: unknown; title?: string }>): AgentEvent[] {
  const tool = tools.get(id);
  const output = content.map((c) => {
    const item = c as { type?: string; content?: unknown; path?: string };
    return item.type === 'content' ? contentText(item.content) : item.type === 'diff' ? `diff ${item.path ?? ''}` : '';
  }).filter(Boolean).join('\n');
  const events: AgentEvent[] = [{ kind: 'toolFinished', id, ...(tool?.title ? { name: tool.title } : {}), status: status === 'completed' ? 'succeeded' : 'failed', output }];
  if (status !== 'completed') return events;
  for (const c of content) {
    const item = c as { type?: string; path?: string; oldText?: string | null; _meta?: { kind?: unknown } | null };
    // Gemini sends a new file's diff with oldText "" and `_meta.kind: "add"`.
    const added = item.oldText == null || item._meta?.kind === 'add';
    if (item.type === 'diff' && item.path) events.push({ kind: 'fileEdited', path: item.path, change: added ? 'add' : 'update', toolCallId: id });
  }
  const command = (tool?.input as { command?: unknown } | undefined)?.command;
  if (tool?.kind === 'execute' && (typeof command === 'string' || Array.isArray(command))) {
    events.push({ kind: 'commandRun', command: Array.isArray(command) ? command.join(' ') : command, ...(Array.isArray(command) ? { argv: command.map(String) } : {}), outputExcerpt: output, toolCallId: id });
  }
  return events;
}

/**
 * The factory's MCP server for this session (#18): ACP hands MCP servers to the agent in
 * `session/new` (and `session/load`), stdio servers as `{name, command, args, env: [{name,
 * value}]}`, for that session only. Off with `factory.backends.acp.mcp: false`.
 */
export function acpMcpServers(attempt: AttemptRequest, config: AcpBackendConfig): NewSessionRequest['mcpServers'] {
  const server = attempt.mcpServer;
  if (!server || (config as { mcp?: boolean }).mcp === false) return [];
  return [{ name: server.name, command: server.command, args: server.args, env: Object.entries(server.env ?? {}).map(([name, value]) => ({ name, value })) }];
}
