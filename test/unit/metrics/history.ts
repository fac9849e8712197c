// Hand-built histories for the metrics tests: a change written event by event with a
// clock the test moves, each event validated like a file read from disk.
import { ulid } from 'ulid';
import { validateEvent, type FactoryEvent } from '../../../src/core/events';
import { EMPTY_PACK_VERSION } from '../../../src/core/contextPack';

export const T0 = Date.parse('2026-11-02T09:00:00Z'); // a Monday
export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

export class History {
  readonly events: FactoryEvent[] = [];
  private version = EMPTY_PACK_VERSION;
  private n = 0;
  constructor(
    readonly changeId: string,
    public now = T0,
    public by: { name: string; email?: string } = { name: 'Dana', email: 'dana@example.com' },
  ) {}

  /** Moves the clock. */
  wait(ms: number): this {
    this.now += ms;
    return this;
  }

  /** `skewMs`: the machine that wrote it has a clock that far off (the `at` and the ULID time both). */
  add(type: string, data: Record<string, unknown>, options: { skewMs?: number; by?: { name: string; email?: string } } = {}): FactoryEvent {
    const t = this.now + (options.skewMs ?? 0);
    const id = ulid(t);
    const by = options.by ?? this.by;
    const result = validateEvent({ v: 1, id, change: this.changeId, type, at: new Date(t).toISOString(), by, data });
    if (!result.ok) throw new Error(`${type}: ${result.issue.field}: ${result.issue.message}`);
    this.events.push(result.event);
    return result.event;
  }

  created(title = this.changeId, extra: Record<string, unknown> = {}): this {
    this.add('change.created', { title, ...extra });
    return this;
  }

  /**
   * One attempt: started, finished after `ms`. `consumes`: the context version (default
   * the one the last handoff carried, so no re-creation); `verify`: a required criterion.
   */
  attempt(
    stageId: string,
    outcome: 'succeeded' | 'failed' | 'timedOut' | 'budgetExceeded' | 'cancelled' | 'interrupted',
    options: { ms?: number; backend?: string; model?: string; costUsd?: number; tokens?: number; consumes?: string | null; verify?: 'passed' | 'failed' | null; reason?: string; skewMs?: number } = {},
  ): string {
    const attemptId = ulid(this.now + (options.skewMs ?? 0));
    const consumed = options.consumes === null ? undefined : (options.consumes ?? this.version);
    this.add('attempt.started', { stageId, attemptId, backend: options.backend ?? 'claude-code', ...(options.model ? { model: options.model } : {}), ...(consumed ? { contextVersion: consumed } : {}) }, { skewMs: options.skewMs });
    const ms = options.ms ?? 10 * MIN;
    this.wait(ms);
    this.add(
      'attempt.finished',
      {
        stageId,
        attemptId,
        outcome,
        durationMs: ms,
        ...(options.reason ? { reason: options.reason } : {}),
        ...(options.costUsd !== undefined || options.tokens !== undefined ? { usage: { ...(options.costUsd !== undefined ? { costUsd: options.costUsd } : {}), ...(options.tokens !== undefined ? { inputTokens: options.tokens } : {}) } } : {}),
      },
      { skewMs: options.skewMs },
    );
    const verify = options.verify === undefined ? (outcome === 'succeeded' ? 'passed' : undefined) : (options.verify ?? undefined);
    if (verify) this.add('verification.recorded', { stageId, criterionId: 'check', attemptId, outcome: verify, required: true, ...(verify === 'failed' ? { message: options.reason ?? 'check failed' } : {}) });
    return attemptId;
  }

  handoff(fromStage: string, attemptId?: string): this {
    this.version = `v-${this.changeId}-${++this.n}`;
    this.add('handoff.recorded', { fromStage, ...(attemptId ? { attemptId } : {}), contextVersion: this.version });
    return this;
  }

  approvalRequested(stageId: string, attemptId?: string): this {
    this.add('stage.approvalRequested', { stageId, ...(attemptId ? { attemptId } : {}) });
    return this;
  }

  approved(stageId: string, by?: { name: string; email?: string }): this {
    this.add('review.decided', { stageId, decision: 'approved' }, by ? { by } : {});
    return this;
  }

  sentBack(fromStage: string, toStage: string, note: string, reopens?: string, supersedes: string[] = []): this {
    this.add('stage.sentBack', { fromStage, toStage, note, ...(reopens ? { reopens } : {}), supersedes, contextVersion: this.version });
    return this;
  }

  rolledBack(stageId: string, attemptId: string): this {
    this.add('attempt.rolledBack', { stageId, attemptId });
    return this;
  }

  completed(): this {
    this.add('change.completed', {});
    return this;
  }

  /** Every stage passes on its first attempt (agent stages 10 min; each handoff right after). */
  cleanRun(stages: readonly string[], options: { backend?: string; model?: string; costUsd?: number } = {}): this {
    for (const stage of stages) {
      const a = this.attempt(stage, 'succeeded', { ...options, verify: 'passed' });
      this.handoff(stage, a);
    }
    return this;
  }
}
