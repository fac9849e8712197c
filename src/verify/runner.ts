// Runs a stage's verification criteria: binds each result to the commit and working
// tree it verified, times it, records the environment and turns a failure into bounded
// feedback for the next attempt. Criteria run one after another (they share the tree).
import type { EventPayloads } from '../core/events';
import type { Criterion } from '../core/pipeline';
import type { z } from 'zod';
import { check } from './criteria';
import type { CriterionResult, StageVerification, VerifiedTree, VerifyContext, VerifyEnvironment } from './ports';
import { limitsOf, type CheckResult } from './support';

export interface RunCriteriaOptions {
  /** Stop at the first required criterion that does not pass; the rest are skipped. Default false: run all, so a reviewer sees everything. */
  stopOnFailure?: boolean;
}

export async function runCriterion(criterion: Criterion, ctx: VerifyContext): Promise<CriterionResult> {
  const before = await treeNow(ctx);
  return runBound(criterion, ctx, before);
}

export async function runCriteria(criteria: readonly Criterion[], ctx: VerifyContext, options: RunCriteriaOptions = {}): Promise<StageVerification> {
  const results: CriterionResult[] = [];
  let tree = await treeNow(ctx);
  let stop: string | undefined;
  for (const criterion of criteria) {
    if (ctx.signal?.aborted) stop ??= 'not run: verification was cancelled';
    if (stop) {
      results.push(skipped(criterion, ctx, tree, stop));
      continue;
    }
    const result = await runBound(criterion, ctx, tree);
    results.push(result);
    // The tree after one criterion is the tree the next one verifies.
    if (result.treeChangedDuringRun) tree = await treeNow(ctx);
    if (options.stopOnFailure && result.required && result.outcome !== 'passed' && !result.waitingForApproval) {
      stop = `not run: required criterion "${criterion.id}" did not pass`;
    }
  }
  return summarize(results, ctx);
}

export function summarize(results: CriterionResult[], ctx: Pick<VerifyContext, 'limits' | 'signal'>): StageVerification {
  const required = results.filter((r) => r.required);
  const passed = required.every((r) => r.outcome === 'passed');
  const notPassing = required.filter((r) => r.outcome !== 'passed');
  const waitingForApproval = notPassing.length > 0 && notPassing.every((r) => r.waitingForApproval);
  const feedback = notPassing
    .filter((r) => r.failureFeedback)
    .map((r) => r.failureFeedback!)
    .join('\n\n');
  return {
    results,
    passed,
    waitingForApproval,
    cancelled: ctx.signal?.aborted ?? false,
    ...(feedback ? { failureFeedback: bound(feedback, limitsOf(ctx).feedbackChars) } : {}),
  };
}

async function runBound(criterion: Criterion, ctx: VerifyContext, before: VerifiedTree): Promise<CriterionResult> {
  const started = ctx.clock.now();
  ctx.progress?.criterionStarted?.(criterion);
  const found = await check(criterion, ctx, before.tree);
  const after = await treeNow(ctx);
  const result = toResult(criterion, ctx, found, started, before, after);
  ctx.progress?.criterionFinished?.(criterion, result);
  return result;
}

function toResult(criterion: Criterion, ctx: VerifyContext, found: CheckResult, started: Date, before: VerifiedTree, after: VerifiedTree): CriterionResult {
  const { feedback, browser, ...rest } = found;
  const changed = before.tree !== undefined && after.tree !== undefined && before.tree !== after.tree;
  const result: CriterionResult = {
    ...rest,
    criterionId: criterion.id,
    kind: criterion.kind,
    ...(criterion.title ? { title: criterion.title } : {}),
    required: criterion.required,
    startedAt: started.toISOString(),
    durationMs: Math.max(0, ctx.clock.now().getTime() - started.getTime()),
    verified: before,
    ...(changed ? { treeChangedDuringRun: true } : {}),
    environment: environment(browser),
  };
  if (changed) result.message += ' (the working tree changed while it ran, so the result is already stale)';
  if (result.outcome === 'failed' || result.outcome === 'error') {
    result.failureFeedback = bound(
      [`Verification "${criterion.title ?? criterion.id}" (${criterion.kind}) ${result.outcome === 'error' ? 'could not be run' : 'failed'}: ${result.message}`, feedback?.trim()]
        .filter(Boolean)
        .join('\n'),
      limitsOf(ctx).feedbackChars,
    );
  }
  return result;
}

function skipped(criterion: Criterion, ctx: VerifyContext, tree: VerifiedTree, message: string): CriterionResult {
  return {
    criterionId: criterion.id,
    kind: criterion.kind,
    ...(criterion.title ? { title: criterion.title } : {}),
    required: criterion.required,
    outcome: 'skipped',
    message,
    startedAt: ctx.clock.now().toISOString(),
    durationMs: 0,
    evidence: [],
    verified: tree,
    environment: environment(undefined),
  };
}

async function treeNow(ctx: VerifyContext): Promise<VerifiedTree> {
  // A hasher failure must not pass as "verified nothing in particular": the result then has no tree and is never fresh.
  const [commit, tree] = await Promise.all([ctx.tree.headCommit().catch(() => undefined), ctx.tree.workingTreeHash().catch(() => undefined)]);
  return { ...(commit ? { commit } : {}), ...(tree ? { tree } : {}) };
}

function environment(browser: string | undefined): VerifyEnvironment {
  return { node: process.version, platform: process.platform, arch: process.arch, ...(browser ? { browser } : {}) };
}

/** Keeps the head and the end of a text within `max` characters (the end of a log says the most). */
export function bound(text: string, max: number): string {
  if (text.length <= max) return text;
  const marker = '\n…[cut]…\n';
  const head = Math.floor((max - marker.length) * 0.6);
  const tail = max - marker.length - head;
  return text.slice(0, head) + marker + text.slice(text.length - tail);
}

/** The record's `verification.recorded` payload for a result (the engine appends it). */
export function verificationRecordedData(
  stageId: string,
  result: CriterionResult,
  attemptId?: string,
): z.input<(typeof EventPayloads)['verification.recorded']> {
  return {
    stageId,
    criterionId: result.criterionId,
    ...(attemptId ? { attemptId } : {}),
    outcome: result.outcome,
    required: result.required,
    message: result.message,
    durationMs: result.durationMs,
    evidence: result.evidence,
    verified: { ...result.verified },
    // Kept as extra fields (the payload is a loose object): what a reviewer needs to read the result.
    kind: result.kind,
    startedAt: result.startedAt,
    environment: result.environment,
    ...(result.treeChangedDuringRun ? { treeChangedDuringRun: true } : {}),
    ...(result.tests ? { totals: result.tests.totals, notes: result.tests.notes } : {}),
    ...(result.command ? { command: result.command } : {}),
    ...(result.approval ? { approval: result.approval } : {}),
    ...(result.waitingForApproval ? { waitingForApproval: true } : {}),
    ...(result.failureFeedback ? { failureFeedback: result.failureFeedback } : {}),
  };
}
