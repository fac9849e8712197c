// A backend that runs an agent CLI as a process and parses its output. The presets
// (presets.ts) say how to call each CLI and which parser reads it; this class does
// the rest the same way for all: find the binary, write prompt/context files, run,
// parse, meter usage and cost, enforce the budget, and decide the outcome.
// The agent receives `AttemptRequest.prompt` byte for byte: the stage's prompt template
// already holds the context pack, so nothing is added to it here (issue #23).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AgentEvent, AttemptResult, BackendCapabilities, UsageEvent } from '../core/agentEvents';
import { AttemptFacts } from './attemptFacts';
import type { AttemptOutcome } from '../core/events';
import { EventChannel } from './eventChannel';
import type { LineParser, ParserFactory } from './parsers/common';
import { resolveExecutable } from './processTree';
import { Redactor, secretsFromEnv } from './redact';
import { formatMs, runProcess, type ProcessExit, type RunningProcess, type StopRequest } from './runner';
import type { AgentBackend, AgentRun, AttemptRequest, PriceTable } from './types';
import { DEFAULT_PRICES, UsageMeter } from './usageMeter';

/** Settings of one CLI backend (`factory.backends.<id>.*`). */
export interface CliBackendConfig {
  /** Executable name or path; found on PATH when it is a bare name. */
  path?: string;
  model?: string;
  extraArgs?: readonly string[];
  /** Wall-clock limit of one attempt (besides the stage's time budget). */
  timeoutMs?: number;
  killGraceMs?: number;
  maxOutputBytes?: number;
  maxLineBytes?: number;
  /** Claude Code `--permission-mode` (default acceptEdits). */
  permissionMode?: string;
  /** Claude Code `--allowedTools`. */
  allowedTools?: readonly string[];
  /** Codex `--sandbox` (default workspace-write). */
  sandbox?: string;
  /** Droid `--auto` (default low). */
  autonomy?: 'low' | 'medium' | 'high';
  /** Gemini CLI `--approval-mode` (default yolo: headless runs cannot answer prompts). */
  approvalMode?: string;
  /**
   * `command`/`aider`: argv template; `{prompt}`, `{promptFile}`, `{contextFile}`, `{model}`, `{cwd}` are replaced per argument.
   * `{prompt}`/`{promptFile}` are the attempt's prompt exactly (it already holds the context pack);
   * `{contextFile}` is the pack alone, for a command that wants it separately.
   */
  argv?: readonly string[];
  /** Pass the factory's MCP server to each run (#18; default on where the preset can). */
  mcp?: boolean;
}

export interface InvocationInput {
  attempt: AttemptRequest;
  config: CliBackendConfig;
  model: string | undefined;
  /** `AttemptRequest.prompt`, byte for byte (the stage's template already holds the context pack). */
  prompt: string;
  promptFile: string;
  contextFile: string;
}
export interface Invocation {
  args: string[];
  stdin?: string;
  /** Replaces the executable (the generic command takes it from its argv template). */
  executable?: string;
  /** Variables this run adds to the agent's environment (Gemini's own home for the run, #18). */
  env?: Record<string, string>;
  /** Said in the run's transcript before the agent starts (why the MCP server was not passed). */
  warning?: string;
}

export interface CliPreset {
  id: string;
  displayName: string;
  /** Default executable name on PATH. */
  executable: string;
  installHint: string;
  capabilities: BackendCapabilities;
  createParser: ParserFactory;
  /** Exit code decides success; output is plain text (Aider, generic command). */
  plainText?: boolean;
  /** Arguments that print the version (default `--version`). */
  versionArgs?: readonly string[];
  /** Its invocation passes `AttemptRequest.mcpServer` to the agent, per run (#18). */
  passesMcpServer?: boolean;
  buildInvocation(input: InvocationInput): Invocation;
}

export interface CliBackendDeps {
  prices?: PriceTable;
  killGraceMs?: number;
}

/** Past the output cap only what decides the outcome still flows: how the run ended and what it cost. */
const KEPT_OVER_CAP = new Set<AgentEvent['kind']>(['result', 'usage', 'session', 'turn', 'error']);

/** True when `file` (absolute, or relative to `cwd`) lies outside `cwd`. */
export function outsideWorkspace(cwd: string, file: string): boolean {
  const rel = path.relative(path.resolve(cwd), path.resolve(cwd, file));
  return rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);
}

export function settingName(id: string, key = 'path'): string {
  return `factory.backends.${id}.${key}`;
}

export function missingBinaryMessage(preset: Pick<CliPreset, 'id' | 'displayName' | 'installHint'>, wanted: string, configured: boolean): string {
  const where = configured ? `the configured path "${wanted}" is not an executable file` : `"${wanted}" was not found on PATH`;
  return `${preset.displayName} is not available: ${where}. Install it (${preset.installHint}) or set ${settingName(preset.id)} to the full path of its executable.`;
}

export class CliBackend implements AgentBackend {
  readonly id: string;
  readonly displayName: string;
  readonly capabilities: BackendCapabilities;
  readonly passesMcpServer: boolean;

  constructor(
    readonly preset: CliPreset,
    readonly config: CliBackendConfig = {},
    private readonly deps: CliBackendDeps = {},
  ) {
    this.id = preset.id;
    this.displayName = preset.displayName;
    this.capabilities = preset.capabilities;
    this.passesMcpServer = preset.passesMcpServer === true && config.mcp !== false;
  }

  start(attempt: AttemptRequest): AgentRun {
    const flow = { pause: () => undefined as void, resume: () => undefined as void };
    const channel = new EventChannel(flow);
    const result = this.run(attempt, channel, flow).finally(() => channel.close());
    return { events: channel, result, [Symbol.asyncIterator]: () => channel[Symbol.asyncIterator]() };
  }

  private async run(attempt: AttemptRequest, channel: EventChannel, flow: { pause(): void; resume(): void }): Promise<AttemptResult> {
    const started = Date.now();
    const model = attempt.model ?? this.config.model;
    const meter = new UsageMeter(this.deps.prices ?? DEFAULT_PRICES, model);
    const redactor = new Redactor([...secretsFromEnv(attempt.env), ...(attempt.secrets ?? [])]);
    const budget = attempt.budget ?? {};

    const fail = (reason: string): AttemptResult => {
      channel.push({ kind: 'error', message: reason, fatal: true });
      return { outcome: 'failed', reason, usage: {}, durationMs: Date.now() - started };
    };

    // The generic command names its executable in its argv template.
    // The command backend takes a stage's own argv (owner.args) before its setting.
    const stageArgv = this.preset.id === 'command' && attempt.args?.length ? attempt.args : undefined;
    const wanted = stageArgv?.[0] ?? (this.preset.plainText ? this.config.argv?.[0] : undefined) ?? this.config.path ?? (this.preset.executable || undefined);
    const notStarted = (reason: string): AttemptResult => ({ ...fail(reason), agentNotStarted: true });
    if (!wanted) return notStarted(`${this.displayName} has no command: set ${settingName(this.id, 'argv')} to the command and its arguments.`);
    const executable = await resolveExecutable(wanted, attempt.env.PATH, attempt.cwd);
    if (!executable) return notStarted(missingBinaryMessage(this.preset, wanted, wanted.includes('/')));

    const tempDir = await mkdtemp(path.join(os.tmpdir(), 'factory-attempt-'));
    try {
      const prompt = attempt.prompt;
      const promptFile = path.join(tempDir, 'prompt.md');
      const contextFile = path.join(tempDir, 'context.md');
      await writeFile(promptFile, prompt, { mode: 0o600 });
      await writeFile(contextFile, attempt.contextPack?.text ?? '', { mode: 0o600 });
      const invocation = this.preset.buildInvocation({ attempt, config: this.config, model, prompt, promptFile, contextFile });

      if (invocation.warning) channel.push({ kind: 'diagnostic', level: 'warn', message: invocation.warning });
      const parser: LineParser = this.preset.createParser({ cwd: attempt.cwd });
      const facts = new AttemptFacts();
      const state = { turns: 0, sessionId: undefined as string | undefined, result: undefined as AgentEvent | undefined, lastError: undefined as string | undefined, fatal: false, usage: undefined as UsageEvent | undefined };
      const stderrTail: string[] = [];
      const live: { proc?: RunningProcess } = {};
      let pendingStop: StopRequest | undefined;
      const stop = (request: StopRequest) => {
        if (live.proc) live.proc.stop(request);
        else pendingStop ??= request;
      };

      let unpublishedUsage = false;
      // `quiet`: past the output cap, usage and turns still count (budget, result) but are not streamed one by one.
      const emit = (event: AgentEvent, quiet = false) => {
        facts.observe(event);
        if (event.kind === 'usage') {
          state.usage = meter.add(event);
          if (quiet) unpublishedUsage = true;
          else channel.push(state.usage);
          checkBudget();
          return;
        }
        if (quiet && event.kind === 'turn') {
          state.turns = Math.max(state.turns, event.index);
          checkBudget();
          return;
        }
        if (event.kind === 'fileEdited' && outsideWorkspace(attempt.cwd, event.path)) {
          // Not every agent confines its edits (Droid 0.225 at --auto low writes outside the cwd): say so in the record.
          channel.push({ kind: 'diagnostic', level: 'warn', message: `${this.displayName} edited a file outside the workspace: ${event.path}` });
        }
        if (event.kind === 'session') {
          state.sessionId = event.sessionId;
          meter.setModel(event.model);
        } else if (event.kind === 'turn') {
          state.turns = Math.max(state.turns, event.index);
          checkBudget();
        } else if (event.kind === 'result') {
          state.result = event;
          if (event.turns !== undefined) state.turns = Math.max(state.turns, event.turns);
        } else if (event.kind === 'error') {
          state.lastError = event.message;
          if (event.fatal) state.fatal = true;
        }
        channel.push(event);
      };
      const checkBudget = () => {
        if (budget.turns !== undefined && state.turns > budget.turns) stop({ outcome: 'budgetExceeded', reason: `turn budget exceeded: turn ${state.turns} of at most ${budget.turns}` });
        const usage = state.usage;
        if (!usage) return;
        const tokens = usage.inputTokens + usage.outputTokens;
        if (budget.tokens !== undefined && tokens > budget.tokens) stop({ outcome: 'budgetExceeded', reason: `token budget exceeded: ${tokens} tokens, budget ${budget.tokens}` });
        if (budget.costUsd !== undefined && usage.costUsd !== undefined && usage.costUsd > budget.costUsd) {
          stop({ outcome: 'budgetExceeded', reason: `cost budget exceeded: $${usage.costUsd.toFixed(4)} (${usage.costSource}), budget $${budget.costUsd}` });
        }
      };

      const proc = runProcess({
        command: executable,
        args: invocation.args,
        cwd: attempt.cwd,
        env: invocation.env ? { ...attempt.env, ...invocation.env } : attempt.env,
        ...(invocation.stdin !== undefined ? { stdin: invocation.stdin } : {}),
        ...(attempt.signal ? { signal: attempt.signal } : {}),
        ...(this.config.timeoutMs !== undefined ? { timeoutMs: this.config.timeoutMs } : {}),
        killGraceMs: this.config.killGraceMs ?? this.deps.killGraceMs,
        ...(this.config.maxOutputBytes !== undefined ? { maxOutputBytes: this.config.maxOutputBytes } : {}),
        ...(this.config.maxLineBytes !== undefined ? { maxLineBytes: this.config.maxLineBytes } : {}),
        redactor,
        ...(attempt.sink ? { sink: attempt.sink } : {}),
        onStdoutLine: (line, cut, overCap, value) => {
          for (const event of parser.parse(line, cut, value)) {
            if (!overCap || KEPT_OVER_CAP.has(event.kind)) emit(event, overCap);
            else facts.observe(event);
          }
        },
        onStderrLine: (line) => {
          if (!line.trim()) return;
          // Some facts only reach stderr (Codex logs a refused patch there and nowhere else).
          for (const event of parser.stderr?.(line) ?? []) emit(event);
          stderrTail.push(line);
          if (stderrTail.length > 20) stderrTail.shift();
        },
      });
      live.proc = proc;
      flow.pause = () => proc.pauseOutput();
      flow.resume = () => proc.resumeOutput();
      if (pendingStop) proc.stop(pendingStop);
      let budgetTimer: NodeJS.Timeout | undefined;
      if (budget.wallTimeMs !== undefined) {
        const limit = budget.wallTimeMs;
        budgetTimer = setTimeout(() => stop({ outcome: 'budgetExceeded', reason: `time budget exceeded: ${formatMs(limit)}` }), limit);
      }
      const exit = await proc.exit;
      if (budgetTimer) clearTimeout(budgetTimer);
      for (const event of parser.end()) emit(event);
      if (unpublishedUsage && state.usage) channel.push(state.usage);

      const { outcome, reason } = this.decide(exit, state, stderrTail, executable);
      if (outcome === 'failed' && !state.fatal && reason) channel.push({ kind: 'error', message: reason, fatal: true });
      const usage = state.usage ?? (meter.hasUsage ? meter.total() : undefined);
      const resultEvent = state.result?.kind === 'result' ? state.result : undefined;
      // The final answer: the agent's own final text when it succeeded (Claude's `result`), else its last message.
      const finalText = resultEvent?.success ? resultEvent.text : undefined;
      return {
        outcome,
        ...(reason ? { reason } : {}),
        ...facts.resultFields(model, finalText, this.passesMcpServer ? attempt.mcpServer?.name : undefined),
        ...(state.sessionId ? { sessionId: state.sessionId } : {}),
        usage: {
          ...(usage ? { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, cachedTokens: usage.cachedTokens } : {}),
          ...(usage?.costUsd !== undefined ? { costUsd: usage.costUsd, costSource: usage.costSource } : {}),
          ...(state.turns ? { turns: state.turns } : {}),
        },
        durationMs: Date.now() - started,
        exitCode: exit.exitCode,
        signal: exit.signal,
        ...(exit.outputTruncated ? { outputTruncated: true } : {}),
      };
    } finally {
      await rm(tempDir, { recursive: true, force: true });
    }
  }

  private decide(
    exit: ProcessExit,
    state: { result: AgentEvent | undefined; lastError: string | undefined; fatal: boolean },
    stderrTail: string[],
    executable: string,
  ): { outcome: AttemptOutcome; reason?: string } {
    if (exit.spawnError) {
      const code = (exit.spawnError as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { outcome: 'failed', reason: missingBinaryMessage(this.preset, executable, true) };
      return { outcome: 'failed', reason: `could not start ${this.displayName} (${executable}): ${exit.spawnError.message}` };
    }
    if (exit.stopped) return { outcome: exit.stopped.outcome, reason: exit.stopped.reason };
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
    const stderrHint = stderrTail.length ? `: ${stderrTail[stderrTail.length - 1]}` : '';
    const result = state.result?.kind === 'result' ? state.result : undefined;
    if (this.preset.plainText) {
      return exit.exitCode === 0 ? { outcome: 'succeeded' } : { outcome: 'failed', reason: `${this.displayName} ${how}${stderrHint}` };
    }
    if (result && !result.success) return { outcome: 'failed', reason: state.lastError ?? result.text ?? `${this.displayName} reported a failure` };
    if (state.fatal) return { outcome: 'failed', reason: state.lastError ?? `${this.displayName} reported an error` };
    if (exit.exitCode !== 0) return { outcome: 'failed', reason: `${this.displayName} ${how}${state.lastError ? `: ${state.lastError}` : stderrHint}` };
    if (!result) return { outcome: 'failed', reason: `${this.displayName} ended without a final result${stderrHint}` };
    return { outcome: 'succeeded' };
  }
}
