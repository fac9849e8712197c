// The factory's engine: run a stage with its owner's backend, stream what the agent
// does, record the attempt and — when the stage's outputs are present and its
// verification passes — the handoff the next stage consumes. It retries with the
// failure fed back, stops at autonomy gates and budgets, checkpoints the working
// tree before each attempt, and records who decided what. No `vscode` here: the
// editor and the CLI drive the same code.
import { createWriteStream, createReadStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ulid } from 'ulid';
import type { AgentEvent, AttemptResult } from '../core/agentEvents';
import { filesReadBy } from '../core/agentEvents';
import { addSpend, attemptBudget, NO_SPEND, type Spend } from '../core/budget';
import type { Actor, AttemptOutcome, EventDraft, EvidenceRef, FactoryEvent } from '../core/events';
import { isEvent } from '../core/events';
import { foldChange, OUTPUTS_CHECK, type ChangeState, type StageState } from '../core/fold';
import type { Owner, Pipeline, Stage } from '../core/pipeline';
import { renderPrompt } from '../core/prompt';
import type { AgentBackend } from '../backends/types';
import { jsonLinesSink } from '../backends/transcriptSink';
import { CUT_HEAD_MARKER } from '../backends/attemptFacts';
import type { ContextPackStore } from '../store/contextPackStore';
import { resolveInsideWorkspace } from '../store/paths';
import { PipelineInvalidError } from './changes';
import type { EngineDeps } from './ports';
import { factoryMcpServer, mcpPromptNote } from './mcpRun';
import { interruptedHere, type RunnerHost } from './interruption';

/** What verifying a stage tells the engine (see engine/verification.ts). */
export interface VerifyOutcome {
  passed: boolean;
  waitingForApproval: boolean;
  failureFeedback?: string;
}
export type StageVerifier = (input: { changeId: string; stageId: string; attemptId?: string; signal?: AbortSignal }) => Promise<VerifyOutcome>;

export interface RunnerDeps extends EngineDeps {
  backends: ReadonlyMap<string, AgentBackend>;
  context: ContextPackStore;
  verify: StageVerifier;
  /** The agent process environment: the user's env plus keys from SecretStorage, and the secret values to redact. */
  agentEnv(): Promise<{ env: Record<string, string | undefined>; secrets: string[] }>;
  /** The model a backend runs when the stage's owner names none (its setting), so the record says which was asked for. */
  modelFor?(backend: string): string | undefined;
  /** The agent's version (its `--version`), for attempts whose stream does not say it. */
  versionOf?(backend: string): Promise<string | undefined>;
  /** Tokens of context the backend takes when the stage sets no token budget (the backend table's figure). */
  contextTokensFor?(backend: string): number | undefined;
  /** A stage's effective autonomy for this change (the lead's grants within pipeline.json's limits and risk paths); the stage's own when absent. */
  autonomyOf?(stageId: string, changeId: string): Promise<'auto' | 'approve'>;
  /** This process, so an attempt another live window runs is not taken for interrupted. */
  host?: RunnerHost;
}

export interface AttemptInfo {
  changeId: string;
  stageId: string;
  attemptId: string;
  backend: string;
  number: number;
}

export type GateReason = 'approval' | 'budget' | 'failed' | 'retriesExhausted' | 'waitingForPerson';

export interface RunObserver {
  attemptStarted?(info: AttemptInfo & { prompt: string }): void;
  agentEvent?(info: AttemptInfo, event: AgentEvent): void;
  attemptFinished?(info: AttemptInfo, result: AttemptResult, verification?: VerifyOutcome): void;
  gate?(info: { changeId: string; stageId: string; reason: GateReason; detail: string }): void;
  changed?(changeId: string): void;
}

export interface RunOptions {
  changeId: string;
  /** The stage to run; the change's active stage when omitted. */
  stageId?: string;
  /** Go on to the next stages while their gates allow it (autonomy `auto`). Default true. */
  advance?: boolean;
  trigger?: 'run' | 'retry' | 'resume' | 'sentBack';
}

export interface RunReport {
  /** Why the run stopped. */
  stopped: 'completed' | 'handedOff' | GateReason | 'cancelled';
  stageId: string;
  attempts: string[];
  detail: string;
}

export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineError';
  }
}

const SUMMARY_MAX = 2_000;

export class StageRunner {
  private readonly running = new Map<string, { controller: AbortController; stageId: string; attemptId?: string; stoppedBy?: string }>();

  constructor(
    private readonly deps: RunnerDeps,
    private readonly observer: RunObserver = {},
  ) {}

  isRunning(changeId: string): boolean {
    return this.running.has(changeId);
  }

  runningStage(changeId: string): string | undefined {
    return this.running.get(changeId)?.stageId;
  }

  /** Stops the change's running attempt: the backend kills the agent's process tree. */
  stop(changeId: string, by?: string): boolean {
    const run = this.running.get(changeId);
    if (!run) return false;
    run.stoppedBy = by;
    run.controller.abort(new Error(by ? `stopped by ${by}` : 'stopped'));
    return true;
  }

  async run(options: RunOptions): Promise<RunReport> {
    if (this.running.has(options.changeId)) throw new EngineError(`A stage of this change is already running (${this.running.get(options.changeId)!.stageId}). Stop it first.`);
    const controller = new AbortController();
    const slot: { controller: AbortController; stageId: string; attemptId?: string; stoppedBy?: string } = { controller, stageId: options.stageId ?? '?' };
    this.running.set(options.changeId, slot);
    try {
      return await this.runLoop(options, slot);
    } finally {
      this.running.delete(options.changeId);
      this.observer.changed?.(options.changeId);
    }
  }

  private async runLoop(options: RunOptions, slot: { controller: AbortController; stageId: string; attemptId?: string; stoppedBy?: string }): Promise<RunReport> {
    const attempts: string[] = [];
    let stageId = options.stageId;
    let trigger = options.trigger ?? 'run';
    for (;;) {
      const { pipeline, state, events } = await this.load(options.changeId);
      stageId ??= state.activeStageId;
      if (!stageId) return { stopped: 'completed', stageId: pipeline.stages[pipeline.stages.length - 1]!.id, attempts, detail: 'every stage has passed' };
      const stage = stageDefinition(pipeline, stageId);
      const stageState = state.stages.find((s) => s.id === stageId)!;
      slot.stageId = stageId;
      const live = attemptsThisVisit(events, stageId, stageState.attempts.filter((a) => !a.rolledBack && !a.superseded));
      if (live.length >= stage.retry.maxAttempts) {
        const detail = `${stage.title} has used its ${stage.retry.maxAttempts} attempts; raise retry.maxAttempts in pipeline.json, roll an attempt back, or mark the stage done by hand.`;
        this.observer.gate?.({ changeId: options.changeId, stageId, reason: 'retriesExhausted', detail });
        return { stopped: 'retriesExhausted', stageId, attempts, detail };
      }
      const outcome = await this.runAttempt(pipeline, state, events, stage, stageState, trigger, slot);
      attempts.push(outcome.attemptId);
      const report = (stopped: RunReport['stopped'], detail: string): RunReport => ({ stopped, stageId: stage.id, attempts, detail });

      if (outcome.result.outcome === 'cancelled') return report('cancelled', outcome.result.reason ?? 'stopped');
      if (outcome.result.outcome === 'budgetExceeded') {
        const detail = `${stage.title} stopped: ${outcome.result.reason ?? 'over budget'}. Retry with a larger budget, change the owner, or mark it done by hand.`;
        this.observer.gate?.({ changeId: options.changeId, stageId: stage.id, reason: 'budget', detail });
        return report('budget', detail);
      }
      if (outcome.awaitingPerson) {
        const detail = `${stage.title} is waiting for ${stage.owner.person ?? 'a person'}: mark it done by hand when the work is done.`;
        this.observer.gate?.({ changeId: options.changeId, stageId: stage.id, reason: 'waitingForPerson', detail });
        return report('waitingForPerson', detail);
      }
      const verification = outcome.verification;
      if (verification?.passed && ((await this.deps.autonomyOf?.(stage.id, options.changeId)) ?? stage.autonomy) === 'auto') {
        await this.handOff(options.changeId, pipeline, stage, outcome.attemptId, outcome.summary, await this.actor());
        const next = nextStage(pipeline, stage.id);
        if (!next) return report('completed', 'every stage has passed');
        if (options.advance === false) return report('handedOff', `handed off to ${next.title}`);
        stageId = next.id;
        trigger = 'run';
        continue;
      }
      if (verification?.passed || verification?.waitingForApproval) {
        await this.append(options.changeId, { type: 'stage.approvalRequested', data: { stageId: stage.id, attemptId: outcome.attemptId } });
        const detail = `${stage.title} passed and waits for approval before handing off.`;
        this.observer.gate?.({ changeId: options.changeId, stageId: stage.id, reason: 'approval', detail });
        return report('approval', detail);
      }
      // Failed: retry with the failure fed back while attempts remain — unless the agent never
      // started (not installed, not configured): each retry would fail alike and use up the stage.
      if (live.length + 1 < stage.retry.maxAttempts && !outcome.result.agentNotStarted) {
        trigger = 'retry';
        continue;
      }
      const detail = `${stage.title} failed ${live.length + 1} time(s): ${verification?.failureFeedback ?? outcome.result.reason ?? 'see the transcript'}`;
      this.observer.gate?.({ changeId: options.changeId, stageId: stage.id, reason: 'failed', detail });
      return report('failed', detail);
    }
  }

  private async runAttempt(
    pipeline: Pipeline,
    state: ChangeState,
    events: readonly FactoryEvent[],
    stage: Stage,
    stageState: StageState,
    trigger: NonNullable<RunOptions['trigger']>,
    slot: { controller: AbortController; attemptId?: string; stoppedBy?: string },
  ): Promise<{ attemptId: string; result: AttemptResult; verification?: VerifyOutcome; summary?: string; awaitingPerson?: boolean }> {
    const { deps } = this;
    const changeId = state.id;
    const owner: Owner = stageState.owner;
    const backend = deps.backends.get(owner.backend);
    if (!backend) {
      throw new EngineError(
        `Stage "${stage.id}" is owned by backend "${owner.backend}", which does not exist. Fix stages.${pipeline.stages.indexOf(stage)}.owner.backend in .factory/pipeline.json (known: ${[...deps.backends.keys()].join(', ')}).`,
      );
    }
    const by = await this.actor();
    const attemptId = ulid(deps.clock.now().getTime());
    slot.attemptId = attemptId;
    const number = stageState.attempts.length + 1;
    const info: AttemptInfo = { changeId, stageId: stage.id, attemptId, backend: backend.id, number };

    // The context pack as it is now is what this attempt consumes.
    // Half the window for the pack, half for the agent's own work.
    const windowTokens = stage.budget.tokens ?? deps.contextTokensFor?.(owner.backend);
    const rendered = await deps.context.render(changeId, windowTokens ? { budgetTokens: Math.floor(windowTokens / 2) } : {});
    const previous = lastHandoffInto(events, pipeline, stage.id);
    const prompt = renderPrompt(stage.prompt, {
      change: { id: changeId, title: state.title, description: state.description, ticket: state.ticket, branch: state.branch },
      stage: { id: stage.id, title: stage.title, role: stage.role },
      context: rendered.text,
      previous: previous && { stageId: previous.fromStage, summary: previous.summary, outputs: previous.outputs },
      failures: trigger === 'run' ? undefined : failuresOf(events, stage.id, trigger),
      attempt: number,
    });
    // The factory's MCP server, bound to this attempt, for a backend that takes one per run; the prompt says the tools exist (#18).
    const mcpServer = factoryMcpServer({ root: deps.store.workspaceRoot, changeId, attemptId, backend });
    if (mcpServer) prompt.text = `${prompt.text}\n\n${mcpPromptNote(mcpServer)}`;

    const isHuman = backend.id === 'human';
    // The model asked for: the stage owner's, else the backend's setting; the agent's own report comes at the end.
    const requestedModel = isHuman ? undefined : (owner.model ?? deps.modelFor?.(backend.id));
    const checkpoint = await deps.git.createCheckpoint(attemptId);
    const start = await deps.git.snapshot();
    const startedAt = deps.clock.now().getTime();
    await this.append(changeId, {
      type: 'attempt.started',
      by,
      data: {
        stageId: stage.id,
        attemptId,
        backend: backend.id,
        ...(requestedModel ? { model: requestedModel } : {}),
        prompt: prompt.text,
        contextVersion: rendered.version,
        start: { ...(start.commit ? { commit: start.commit } : {}), tree: start.tree },
        checkpoint: checkpoint.ref,
        ...(deps.host ? { runner: { pid: deps.host.pid, host: deps.host.hostname } } : {}),
        number,
        trigger,
      },
    });
    this.observer.attemptStarted?.({ ...info, prompt: prompt.text });
    this.observer.changed?.(changeId);
    if (isHuman) {
      // A person's attempt stays open until they mark the stage done (completeByHand).
      return { attemptId, result: { outcome: 'succeeded', usage: {}, durationMs: 0 }, awaitingPerson: true };
    }

    const spend = changeSpend(state);
    const budget = attemptBudget(stage.budget, pipeline.budget, spend);
    const { env, secrets } = await deps.agentEnv();
    const transcriptFile = path.join(os.tmpdir(), `factory-transcript-${attemptId}.jsonl`);
    const transcript = jsonLinesSink(createWriteStream(transcriptFile));
    const agentEvents: AgentEvent[] = [];
    let result: AttemptResult;
    try {
      const run = backend.start({
        prompt: prompt.text,
        contextPack: { version: rendered.version, text: rendered.text },
        cwd: deps.store.workspaceRoot,
        env,
        budget,
        signal: slot.controller.signal,
        ...(requestedModel ? { model: requestedModel } : {}),
        // The stage's own argv for the command backend (owner.args in pipeline.json).
        ...(owner.args?.length ? { args: owner.args } : {}),
        secrets,
        sink: transcript,
        ...(mcpServer ? { mcpServer } : {}),
      });
      for await (const event of run.events) {
        // Only what the record needs is kept: tool calls (for re-read detection).
        if (event.kind === 'toolStarted') agentEvents.push(event);
        this.observer.agentEvent?.(info, event);
      }
      result = await run.result;
    } catch (error) {
      result = { outcome: 'failed', reason: error instanceof Error ? error.message : String(error), usage: {}, durationMs: deps.clock.now().getTime() - startedAt };
    } finally {
      await transcript.close();
    }
    const transcriptRef = await this.storeFile(transcriptFile, 'transcript.jsonl', 'application/x-ndjson');

    const end = await deps.git.snapshot();
    const diff = end.tree !== start.tree ? await deps.git.diffTrees(start.tree, end.tree) : undefined;
    const diffRef = diff?.patch ? await deps.evidence.put(diff.patch, { name: 'attempt.diff', mediaType: 'text/x-diff' }) : undefined;
    // The agent's final answer (its last assistant message) is the attempt's summary.
    const summary = bound(result.text ?? result.note ?? '', SUMMARY_MAX) || undefined;
    const agentVersion = result.agentVersion ?? (await deps.versionOf?.(backend.id).catch(() => undefined));
    const outcome: AttemptOutcome = result.outcome;
    await this.append(changeId, {
      type: 'attempt.finished',
      by,
      data: {
        stageId: stage.id,
        attemptId,
        outcome,
        ...(result.reason ? { reason: result.reason } : {}),
        ...(summary ? { summary } : {}),
        usage: result.usage,
        durationMs: result.durationMs,
        end: { ...(end.commit ? { commit: end.commit } : {}), tree: end.tree },
        ...(transcriptRef ? { transcript: transcriptRef } : {}),
        ...(result.sessionId ? { sessionId: result.sessionId } : {}),
        ...(diffRef ? { diff: diffRef } : {}),
        ...(diff ? { changedFiles: diff.files.map((f) => ({ status: f.status, path: f.path })) } : {}),
        filesRead: filesReadBy(agentEvents, deps.store.workspaceRoot),
        ...(slot.stoppedBy && outcome === 'cancelled' ? { stoppedBy: slot.stoppedBy } : {}),
        ...(result.reportedModel ? { reportedModel: result.reportedModel } : {}),
        ...(agentVersion ? { agentVersion } : {}),
        ...(result.failedToolCalls?.length ? { failedToolCalls: result.failedToolCalls.map((c) => ({ name: c.name, ...(c.id ? { id: c.id } : {}), ...(c.reason ? { reason: c.reason } : {}) })) } : {}),
        // #18: what the agent said about the server passed to it; `unknown` when its output does not say.
        ...(mcpServer ? { mcpStatus: result.mcpStatus ?? { status: 'unknown' } } : {}),
      },
    });
    this.observer.changed?.(changeId);

    let verification: VerifyOutcome | undefined;
    if (outcome === 'succeeded') {
      const missing = await missingOutputs(deps.store.workspaceRoot, stage.outputs);
      if (missing.length) {
        const failureFeedback = `The stage must produce ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} missing.`;
        // Recorded like any criterion, so the stage reads as failed (not waiting for approval) and the retry is fed why.
        await this.append(changeId, {
          type: 'verification.recorded',
          by: await this.actor(),
          data: { stageId: stage.id, criterionId: OUTPUTS_CHECK, attemptId, outcome: 'failed', required: true, kind: 'outputs', message: failureFeedback, failureFeedback, evidence: [] },
        });
        verification = { passed: false, waitingForApproval: false, failureFeedback };
      } else {
        verification = await deps.verify({ changeId, stageId: stage.id, attemptId, signal: slot.controller.signal });
      }
      this.observer.changed?.(changeId);
    }
    this.observer.attemptFinished?.(info, result, verification);
    return { attemptId, result, ...(verification ? { verification } : {}), ...(summary ? { summary } : {}) };
  }

  /** Records the handoff: the stage's outputs join the context pack, and the new pack version goes forward. */
  private async handOff(changeId: string, pipeline: Pipeline, stage: Stage, attemptId: string | undefined, summary: string | undefined, by: Actor): Promise<void> {
    // Its run had the reviewer's feedback for it (engine/reviewFeedback.ts): not handed further.
    await this.deps.context.dropReviewFeedback(changeId, stage.id);
    for (const output of stage.outputs) {
      await this.deps.context.addStageOutput(changeId, { stageId: stage.id, ...(attemptId ? { attemptId } : {}), path: output });
    }
    const pack = await this.deps.context.load(changeId);
    const at = await this.deps.git.snapshot();
    const next = nextStage(pipeline, stage.id);
    await this.append(changeId, {
      type: 'handoff.recorded',
      by,
      data: {
        fromStage: stage.id,
        ...(next ? { toStage: next.id } : {}),
        ...(attemptId ? { attemptId } : {}),
        contextVersion: pack.version,
        ...(summary ? { summary } : {}),
        outputs: stage.outputs,
        at: { ...(at.commit ? { commit: at.commit } : {}), tree: at.tree },
      },
    });
    this.observer.changed?.(changeId);
  }

  /** A reviewer approves a stage waiting for approval: it hands off. */
  async decide(input: { changeId: string; stageId: string; decision: 'approved'; note?: string }): Promise<void> {
    const { pipeline, state } = await this.load(input.changeId);
    const stage = stageDefinition(pipeline, input.stageId);
    const stageState = state.stages.find((s) => s.id === stage.id)!;
    const by = await this.actor();
    // Bound to the tree it was given on: an edit afterwards shows the approval stale.
    const at = await this.deps.git.snapshot().catch(() => undefined);
    const boundTo = at ? { at: { ...(at.commit ? { commit: at.commit } : {}), tree: at.tree } } : {};
    await this.append(input.changeId, { type: 'review.decided', by, data: { stageId: stage.id, decision: input.decision, ...(input.note ? { note: input.note } : {}), ...boundTo } });
    const lastAttempt = stageState.attempts.filter((a) => !a.rolledBack && !a.superseded && a.outcome === 'succeeded').pop();
    await this.handOff(input.changeId, pipeline, stage, lastAttempt?.id, lastAttempt?.summary, by);
    this.observer.changed?.(input.changeId);
  }

  /**
   * A reviewer sends the change back from `fromStage` to `toStage` (the same or an
   * earlier stage) with a note. `toStage` reopens and gets the note as its next run's
   * failure text; the stages after it go back to pending, their attempts kept and
   * shown as superseded. One event names what it reopens and supersedes, so every
   * reader folds it alike whatever the clocks.
   */
  async sendBack(input: { changeId: string; fromStage: string; toStage: string; note: string }): Promise<void> {
    const loaded = await this.load(input.changeId);
    const pipeline = loaded.pipeline;
    let state = loaded.state;
    const from = stageDefinition(pipeline, input.fromStage);
    stageDefinition(pipeline, input.toStage);
    // A person's stage waiting for them (a review) ends with their decision: their open
    // attempt is finished first, so the send-back reopens or supersedes a finished one.
    const open = this.openPersonAttempt(state.stages.find((s) => s.id === from.id)!, input.changeId);
    if (open) {
      await this.finishOpenAttemptByHand(input.changeId, from, open, input.note, await this.actor());
      ({ state } = await this.load(input.changeId));
    }
    const target = state.stages.findIndex((s) => s.id === input.toStage);
    const counts = (a: { superseded: boolean }) => !a.superseded;
    const reopens = state.stages[target]!.attempts.filter(counts).at(-1)?.id;
    const supersedes = state.stages.slice(target + 1).flatMap((s) => s.attempts.filter(counts).map((a) => a.id));
    const pack = await this.deps.context.load(input.changeId);
    await this.append(input.changeId, {
      type: 'stage.sentBack',
      by: await this.actor(),
      data: { fromStage: input.fromStage, toStage: input.toStage, note: input.note, ...(reopens ? { reopens } : {}), supersedes, contextVersion: pack.version },
    });
    this.observer.changed?.(input.changeId);
  }

  /** A person says the stage is done (a human owner's work, or a manual override). */
  async completeByHand(input: { changeId: string; stageId: string; note: string }): Promise<void> {
    const { pipeline, state } = await this.load(input.changeId);
    const stage = stageDefinition(pipeline, input.stageId);
    const stageState = state.stages.find((s) => s.id === stage.id)!;
    const by = await this.actor();
    const open = stageState.attempts.find((a) => a.startedAt && !a.outcome);
    if (open && this.running.get(input.changeId)?.attemptId !== open.id) await this.finishOpenAttemptByHand(input.changeId, stage, open, input.note, by);
    await this.append(input.changeId, { type: 'stage.completedByHand', by, data: { stageId: stage.id, note: input.note } });
    await this.handOff(input.changeId, pipeline, stage, open?.id, input.note, by);
  }

  /** The open attempt of a stage a person owns, waiting for them (no process of this runner works on it). */
  private openPersonAttempt(stage: StageState, changeId: string): StageState['attempts'][number] | undefined {
    const open = stage.attempts.find((a) => a.startedAt && !a.outcome && !a.superseded);
    return open && open.backend === 'human' && this.running.get(changeId)?.attemptId !== open.id ? open : undefined;
  }

  /** Ends an open attempt by a person's word (their turn is over: succeeded), with what they said and the diff of what changed meanwhile. */
  private async finishOpenAttemptByHand(changeId: string, stage: Stage, open: StageState['attempts'][number], note: string, by: Actor): Promise<void> {
    const end = await this.deps.git.snapshot();
    const diff = open.startTree && end.tree !== open.startTree ? await this.deps.git.diffTrees(open.startTree, end.tree) : undefined;
    const diffRef = diff?.patch ? await this.deps.evidence.put(diff.patch, { name: 'attempt.diff', mediaType: 'text/x-diff' }) : undefined;
    await this.append(changeId, {
      type: 'attempt.finished',
      by,
      data: {
        stageId: stage.id,
        attemptId: open.id,
        outcome: 'succeeded',
        summary: bound(note, SUMMARY_MAX),
        durationMs: this.deps.clock.now().getTime() - Date.parse(open.startedAt!),
        end: { ...(end.commit ? { commit: end.commit } : {}), tree: end.tree },
        ...(diffRef ? { diff: diffRef } : {}),
        ...(diff ? { changedFiles: diff.files.map((f) => ({ status: f.status, path: f.path })) } : {}),
      },
    });
  }

  async changeOwner(input: { changeId: string; stageId: string; owner: Owner }): Promise<void> {
    const { pipeline } = await this.load(input.changeId);
    stageDefinition(pipeline, input.stageId);
    if (!this.deps.backends.has(input.owner.backend)) throw new EngineError(`There is no backend "${input.owner.backend}".`);
    await this.append(input.changeId, { type: 'stage.ownerChanged', by: await this.actor(), data: { stageId: input.stageId, owner: input.owner } });
    this.observer.changed?.(input.changeId);
  }

  /** The files a rollback of the attempt would change, for the confirmation. */
  async rollbackPreview(changeId: string, attemptId: string) {
    const attempt = await this.attempt(changeId, attemptId);
    return this.deps.git.rollbackPreview(checkpointId(attempt.checkpoint, attemptId));
  }

  /** Restores the working tree to the checkpoint taken before the attempt, and records it. */
  async rollback(input: { changeId: string; attemptId: string; confirm: (files: { path: string; action: string }[]) => Promise<boolean> }): Promise<boolean> {
    if (this.running.has(input.changeId)) throw new EngineError('Stop the running stage before rolling back.');
    const attempt = await this.attempt(input.changeId, input.attemptId);
    const id = checkpointId(attempt.checkpoint, input.attemptId);
    const files = await this.deps.git.rollbackPreview(id);
    if (!(await input.confirm(files))) return false;
    const result = await this.deps.git.rollback(id);
    await this.append(input.changeId, {
      type: 'attempt.rolledBack',
      by: await this.actor(),
      data: {
        stageId: attempt.stageId,
        attemptId: attempt.id,
        ...(attempt.checkpoint ? { checkpoint: attempt.checkpoint } : {}),
        files: result.changed.map((f) => ({ path: f.path, action: f.action })),
        ...(result.skippedSubmodules.length ? { skippedSubmodules: result.skippedSubmodules } : {}),
      },
    });
    this.observer.changed?.(input.changeId);
    return true;
  }

  /**
   * Attempts that started and never finished, run by a process that is gone (a window
   * reload ends the extension host and its agents), are recorded as interrupted.
   */
  async recoverInterrupted(changeIds: readonly string[]): Promise<{ changeId: string; attemptId: string; stageId: string; sessionId?: string }[]> {
    const host = this.deps.host;
    const recovered: { changeId: string; attemptId: string; stageId: string }[] = [];
    for (const changeId of changeIds) {
      if (this.running.has(changeId)) continue;
      const { state } = await this.load(changeId).catch(() => ({ state: undefined }));
      for (const stage of state?.stages ?? []) {
        for (const attempt of stage.attempts) {
          if (!host || !interruptedHere(attempt, host)) continue;
          const runner = attempt.runner;
          await this.append(changeId, {
            type: 'attempt.finished',
            data: {
              stageId: stage.id,
              attemptId: attempt.id,
              outcome: 'interrupted',
              reason: runner
                ? 'the process running it ended (window closed or reloaded) before the attempt finished; retry the stage'
                : 'the attempt was recorded as started with no process running it, and it never finished; retry the stage',
            },
          });
          recovered.push({ changeId, attemptId: attempt.id, stageId: stage.id });
        }
      }
    }
    return recovered;
  }

  private async attempt(changeId: string, attemptId: string) {
    const { state } = await this.load(changeId);
    const attempt = state.stages.flatMap((s) => s.attempts).find((a) => a.id === attemptId);
    if (!attempt) throw new EngineError(`There is no attempt ${attemptId} in change ${changeId}.`);
    return attempt;
  }

  private async load(changeId: string): Promise<{ pipeline: Pipeline; state: ChangeState; events: FactoryEvent[] }> {
    const { pipeline, problems } = await this.deps.store.loadPipeline({ createIfMissing: false });
    if (!pipeline) throw new PipelineInvalidError(problems);
    const record = await this.deps.store.readChange(changeId);
    if (record.events.length === 0) throw new EngineError(`There is no change "${changeId}".`);
    return { pipeline, state: foldChange(changeId, pipeline, record.events), events: record.events };
  }

  private async append(changeId: string, draft: EventDraft): Promise<FactoryEvent> {
    return this.deps.store.append(changeId, draft);
  }

  private async actor(): Promise<Actor> {
    return { ...(await this.deps.git.identity()) };
  }

  private async storeFile(file: string, name: string, mediaType: string): Promise<EvidenceRef | undefined> {
    try {
      const stat = await fs.stat(file);
      if (stat.size === 0) return undefined;
      return await this.deps.evidence.put(createReadStream(file), { name, mediaType });
    } finally {
      await fs.rm(file, { force: true });
    }
  }
}

function stageDefinition(pipeline: Pipeline, stageId: string): Stage {
  const stage = pipeline.stages.find((s) => s.id === stageId);
  if (!stage) throw new EngineError(`There is no stage "${stageId}" in .factory/pipeline.json (stages: ${pipeline.stages.map((s) => s.id).join(', ')}).`);
  return stage;
}

function nextStage(pipeline: Pipeline, stageId: string): Stage | undefined {
  return pipeline.stages[pipeline.stages.findIndex((s) => s.id === stageId) + 1];
}

/** The latest handoff into `stageId` (its `toStage`, or the stage before it). */
function lastHandoffInto(events: readonly FactoryEvent[], pipeline: Pipeline, stageId: string) {
  const index = pipeline.stages.findIndex((s) => s.id === stageId);
  const before = pipeline.stages[index - 1]?.id;
  let found: { fromStage: string; summary?: string; outputs: string[] } | undefined;
  for (const event of events) {
    if (!isEvent(event, 'handoff.recorded')) continue;
    const to = event.data.toStage ?? nextStage(pipeline, event.data.fromStage)?.id;
    if (to === stageId || (!event.data.toStage && event.data.fromStage === before)) found = event.data;
  }
  return found;
}

/**
 * What the stage's next attempt is asked to fix: what went wrong in its last attempt
 * (the agent's reason, failed criteria) and the reviewer's note of a send-back to it
 * since that attempt started (or, re-run after a send-back, the note that reopened it).
 */
export function failuresOf(events: readonly FactoryEvent[], stageId: string, trigger?: string): string | undefined {
  let lastAttempt: string | undefined;
  let lastStart = '';
  for (const event of events) {
    if (isEvent(event, 'attempt.started') && event.data.stageId === stageId && event.id > lastStart) {
      lastAttempt = event.data.attemptId;
      lastStart = event.id;
    }
  }
  const lines: string[] = [];
  const notes: string[] = [];
  for (const event of events) {
    if (isEvent(event, 'attempt.finished') && event.data.attemptId === lastAttempt && event.data.outcome !== 'succeeded') {
      lines.push(`- The agent's attempt ${event.data.outcome}: ${event.data.reason ?? 'no reason given'}`);
    }
    if (isEvent(event, 'verification.recorded') && event.data.stageId === stageId && event.data.attemptId === lastAttempt && event.data.outcome !== 'passed' && event.data.outcome !== 'skipped') {
      lines.push(`- Verification "${event.data.criterionId}" ${event.data.outcome}: ${event.data.failureFeedback ?? event.data.message ?? ''}`);
    }
    const sentBack = isEvent(event, 'stage.sentBack') && event.data.toStage === stageId
      ? { note: event.data.note, reopens: event.data.reopens, from: event.data.fromStage }
      : isEvent(event, 'review.decided') && event.data.stageId === stageId && event.data.decision === 'sentBack'
        ? { note: event.data.note, reopens: undefined, from: stageId }
        : undefined;
    if (sentBack && (event.id > lastStart || (trigger === 'sentBack' && sentBack.reopens === lastAttempt))) {
      notes.push(`- A reviewer sent it back${sentBack.from !== stageId ? ` from ${sentBack.from}` : ''}: ${sentBack.note ?? 'no note'}`);
    }
  }
  const all = [...notes, ...lines];
  return all.length ? all.join('\n') : undefined;
}

function changeSpend(state: ChangeState): Spend {
  return state.stages
    .flatMap((s) => s.attempts)
    .reduce((total, a) => addSpend(total, { wallTimeMs: a.durationMs ?? 0, turns: a.turns ?? 0, tokens: a.tokens ?? 0, costUsd: a.costUsd ?? 0 }), NO_SPEND);
}

async function missingOutputs(root: string, outputs: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const output of outputs) {
    const file = resolveInsideWorkspace(root, output);
    if (!(await fs.stat(file).then(() => true, () => false))) missing.push(output);
  }
  return missing;
}

function checkpointId(ref: string | undefined, attemptId: string): string {
  return ref ? ref.split('/').pop()! : attemptId;
}

function bound(text: string, max: number): string {
  if (text.length <= max) return text;
  // A final answer that already lost its head keeps its end here too (a plain-text agent's
  // whole output is its answer: its last lines say how it ended). Cut at the head again, it
  // was a window from the middle of the output, neither its start nor its end.
  if (text.startsWith(CUT_HEAD_MARKER)) {
    const end = text.slice(text.length - (max - CUT_HEAD_MARKER.length));
    // Never half a surrogate pair at the cut.
    return `${CUT_HEAD_MARKER}${/^[\udc00-\udfff]/.test(end) ? end.slice(1) : end}`;
  }
  return `${text.slice(0, max - 1)}…`;
}

/**
 * The attempts that count against `retry.maxAttempts`: those since the stage was last
 * sent back to. A send-back asks for a new run with the reviewer's note, so it opens a
 * new visit with the whole retry budget, instead of finding the budget spent by the
 * attempts the reviewer sent back. Ordered by event id, as the fold orders them.
 */
function attemptsThisVisit<A extends { id: string }>(events: readonly FactoryEvent[], stageId: string, attempts: A[]): A[] {
  const sentBack = events.filter((e) => isEvent(e, 'stage.sentBack') && e.data.toStage === stageId).at(-1);
  if (!sentBack) return attempts;
  const since = new Set<string>();
  for (const e of events) if (isEvent(e, 'attempt.started') && e.data.stageId === stageId && e.id > sentBack.id) since.add(e.data.attemptId);
  return attempts.filter((a) => since.has(a.id));
}
