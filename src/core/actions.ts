// What a person (or an agent, or CI) may do to a stage in the state it is in, and why
// not. Every surface asks these rules — the tree's menus, the palette, the CLI, the MCP
// server — so all refuse alike and say the same sentence. Pure: the engine passes in
// what only it can know (trust, whether the folder is a git repository).
import type { AttemptState, ChangeState, StageState, StageStatus } from './fold';

export const STAGE_ACTIONS = ['run', 'retry', 'stop', 'approve', 'sendBack', 'completeByHand', 'changeOwner', 'verify'] as const;
export type StageAction = (typeof STAGE_ACTIONS)[number];

export interface ActionContext {
  /** Workspace Trust: nothing from the workspace runs before it. */
  trusted: boolean;
  /** Stages are checkpointed and verified against git trees. */
  isRepository: boolean;
}

export type Verdict = { allowed: true } | { allowed: false; reason: string };

const ALLOWED: Verdict = { allowed: true };
const refuse = (reason: string): Verdict => ({ allowed: false, reason });

const STATUS_WORDS: Record<StageStatus, string> = {
  pending: 'pending',
  running: 'running',
  passed: 'passed',
  failed: 'failed',
  needsApproval: 'waiting for approval',
  stale: 'stale',
  sentBack: 'sent back',
};

export function statusWords(status: StageStatus): string {
  return STATUS_WORDS[status];
}

/** The attempts that still count: not superseded by a send-back to an earlier stage. */
export function liveAttempts(stage: StageState): AttemptState[] {
  return stage.attempts.filter((a) => !a.superseded);
}

/** The open attempt of a stage owned by a person: it waits for them to mark it done. */
export function waitsForPerson(stage: StageState): boolean {
  const last = liveAttempts(stage).at(-1);
  return stage.status === 'running' && last !== undefined && last.backend === 'human' && !last.outcome;
}

/** A stage an agent (or a command) is working on right now. */
function agentRunning(stage: StageState): boolean {
  return stage.status === 'running' && !waitsForPerson(stage);
}

function canRunHere(context: ActionContext): Verdict {
  if (!context.trusted) return refuse('this workspace is not trusted, so no agent, command or git operation runs here; trust the folder (Manage Workspace Trust) first');
  if (!context.isRepository) return refuse('this folder is not a git repository, so the cockpit is read-only: stages are checkpointed and verified against git trees; run "git init" to run stages here');
  return ALLOWED;
}

/** A decision is a record: in Restricted Mode nothing is written until the folder is trusted. */
function canRecordHere(context: ActionContext): Verdict {
  return context.trusted ? ALLOWED : refuse('this workspace is not trusted: decisions are recorded once the folder is trusted (Manage Workspace Trust)');
}

/**
 * Where each stage sits and which stages an agent runs, worked out once per folded
 * change: every surface asks about each stage, and a search per question made a
 * hostile pipeline of 10,000 stages take seconds (quadratic). A folded ChangeState is
 * not changed afterwards (fold.ts builds a new one per read), so its stages array is the key.
 */
interface StagesIndex {
  position: Map<string, number>;
  running: StageState[];
}
const stagesIndexes = new WeakMap<readonly StageState[], StagesIndex>();

function stagesIndex(change: ChangeState): StagesIndex {
  let index = stagesIndexes.get(change.stages);
  if (!index) {
    const position = new Map<string, number>();
    // The first of a repeated id, as findIndex found it.
    change.stages.forEach((s, i) => position.has(s.id) || position.set(s.id, i));
    index = { position, running: change.stages.filter(agentRunning) };
    stagesIndexes.set(change.stages, index);
  }
  return index;
}

function otherRunning(change: ChangeState, stage: StageState): Verdict {
  const other = stagesIndex(change).running.find((s) => s.id !== stage.id);
  return other ? refuse(`"${other.title}" of this change is running; stop it first`) : ALLOWED;
}

function first(...verdicts: (() => Verdict)[]): Verdict {
  for (const verdict of verdicts) {
    const v = verdict();
    if (!v.allowed) return v;
  }
  return ALLOWED;
}

export interface RunRequest {
  /** Run a stage whose predecessor has not handed off, knowingly. */
  outOfOrder?: boolean;
}

/** Whether `action` may be taken on `stage` of `change` now; the refusal says why, as a sentence a person can act on. */
export function decide(action: StageAction, change: ChangeState, stage: StageState, context: ActionContext, request: RunRequest & { toStage?: string } = {}): Verdict {
  const title = `"${stage.title}"`;
  const index = stagesIndex(change).position.get(stage.id) ?? -1;
  const completed = (): Verdict => (change.completed ? refuse(`the change "${change.title}" is completed`) : ALLOWED);
  const notRunning = (): Verdict => (agentRunning(stage) ? refuse(`${title} is running; stop it first`) : ALLOWED);
  switch (action) {
    case 'run':
      return first(completed, () => canRunHere(context), notRunning, () => otherRunning(change, stage), () => {
        if (waitsForPerson(stage)) return refuse(`${title} is waiting for ${stage.owner.person ?? 'a person'}; mark it done by hand when the work is done`);
        const previous = change.stages[index - 1];
        if (previous && !request.outOfOrder && previous.status !== 'passed' && previous.status !== 'stale') {
          return refuse(`${title} comes after "${previous.title}", which has not handed off (it is ${statusWords(previous.status)}); finish it first, or run this stage out of order on purpose`);
        }
        return ALLOWED;
      });
    case 'retry':
      return first(completed, () => canRunHere(context), notRunning, () => otherRunning(change, stage), () => {
        if (waitsForPerson(stage)) return refuse(`${title} is waiting for ${stage.owner.person ?? 'a person'}; mark it done by hand when the work is done`);
        return liveAttempts(stage).length === 0 ? refuse(`${title} has no attempt to retry; run it`) : ALLOWED;
      });
    case 'stop':
      if (waitsForPerson(stage)) return refuse(`${title} is waiting for ${stage.owner.person ?? 'a person'}, not running an agent; mark it done by hand instead`);
      return agentRunning(stage) ? ALLOWED : refuse(`${title} is not running (it is ${statusWords(stage.status)})`);
    case 'approve':
      if (!context.trusted) return canRecordHere(context);
      return stage.status === 'needsApproval' ? ALLOWED : refuse(`${title} has not asked for approval (it is ${statusWords(stage.status)})`);
    case 'sendBack': {
      if (!context.trusted) return canRecordHere(context);
      // A stage waiting for a person (a review) is theirs to send back: that ends their turn.
      if (stage.status === 'pending' || stage.status === 'sentBack' || agentRunning(stage)) {
        return refuse(`${title} has nothing to send back (it is ${statusWords(stage.status)})`);
      }
      const running = stagesIndex(change).running[0];
      if (running) return refuse(`"${running.title}" of this change is running; stop it first`);
      if (request.toStage !== undefined) {
        const target = stagesIndex(change).position.get(request.toStage) ?? -1;
        if (target < 0) return refuse(`there is no stage "${request.toStage}" to send ${title} back to`);
        if (target > index) return refuse(`"${change.stages[target]!.title}" comes after ${title}: a send-back goes to the same or an earlier stage`);
      }
      return ALLOWED;
    }
    case 'completeByHand':
      if (!context.trusted) return canRecordHere(context);
      if (stage.status === 'passed') return refuse(`${title} has already passed`);
      return first(completed, notRunning);
    case 'changeOwner':
      return first(() => canRecordHere(context), notRunning);
    case 'verify':
      // Allowed while a stage runs (here or on a teammate's machine): every result is
      // bound to the tree it checked, so a check of a tree in motion shows as stale.
      return canRunHere(context);
  }
}

/** Every action and whether it is allowed: what a tree row offers, and what a CLI's `status` prints. */
export function allowedActions(change: ChangeState, stage: StageState, context: ActionContext): StageAction[] {
  return STAGE_ACTIONS.filter((action) => decide(action, change, stage, context).allowed);
}

/** The one action a row offers first (its inline button): what the stage's state calls for, when allowed. */
export function primaryAction(change: ChangeState, stage: StageState, context: ActionContext): StageAction | undefined {
  const wanted: StageAction | undefined =
    stage.status === 'running' ? (waitsForPerson(stage) ? 'completeByHand' : 'stop')
    : stage.status === 'needsApproval' ? 'approve'
    : stage.status === 'failed' ? 'retry'
    : stage.status === 'passed' ? undefined
    : 'run';
  return wanted && decide(wanted, change, stage, context).allowed ? wanted : undefined;
}

export type AttemptAction = 'rollback' | 'showTranscript';

export function decideAttempt(action: AttemptAction, change: ChangeState, attempt: AttemptState, context: ActionContext): Verdict {
  const name = `attempt ${attempt.number ?? ''} of ${attempt.stageId}`.replace('  ', ' ');
  switch (action) {
    case 'showTranscript':
      return attempt.backend === 'human' ? refuse(`${name} was a person's work: it has no agent transcript`) : ALLOWED;
    case 'rollback': {
      const can = canRunHere(context);
      if (!can.allowed) return can;
      if (!attempt.outcome) return refuse(`${name} is still running; stop it first`);
      if (attempt.rolledBack) return refuse(`${name} is already rolled back`);
      if (!attempt.checkpoint) return refuse(`${name} has no checkpoint to roll back to`);
      const running = change.stages.find(agentRunning);
      return running ? refuse(`"${running.title}" of this change is running; stop it first`) : ALLOWED;
    }
  }
}

export type NextRun = { stageId: string; trigger: 'run' | 'retry' | 'sentBack' } | { stageId?: string; reason: string };

/**
 * What "run next" means: the change's active stage, run for the first time, retried
 * after a failure (with the failure fed back), or re-run after a send-back (with the
 * reviewer's note fed back) — or why there is nothing to run.
 */
export function nextRun(change: ChangeState, context: ActionContext): NextRun {
  const stage = change.stages.find((s) => s.id === change.activeStageId);
  if (!stage) return { reason: `every stage of "${change.title}" has passed` };
  if (stage.status === 'needsApproval') return { stageId: stage.id, reason: `"${stage.title}" is waiting for approval: approve it or send it back` };
  // A retry feeds the last attempt's failure back; a stage whose verification failed before it ever ran is run.
  const trigger = stage.status === 'sentBack' ? 'sentBack' : stage.status === 'failed' && liveAttempts(stage).length > 0 ? 'retry' : 'run';
  const verdict = decide(trigger === 'retry' ? 'retry' : 'run', change, stage, context);
  if (!verdict.allowed) return { stageId: stage.id, reason: verdict.reason };
  return { stageId: stage.id, trigger };
}

/** The stage "verify change" checks: the active one, or the last once every stage has passed. */
export function stageToVerify(change: ChangeState): StageState | undefined {
  return change.stages.find((s) => s.id === change.activeStageId) ?? change.stages.at(-1);
}

/** A ticket id typed where a ticket or a description may go (APP-42, #123, GH-7). */
export function parseTicketOrDescription(text: string): { ticket?: string; description?: string } {
  const value = text.trim();
  if (!value) return {};
  if (/^[A-Z][A-Z0-9]+-\d+$/.test(value) || /^#\d+$/.test(value)) return { ticket: value };
  return { description: value };
}
