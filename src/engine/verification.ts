// Verification use cases: run a stage's criteria against the working tree and record
// one `verification.recorded` event per criterion, bound to the tree it verified; and
// check that stored evidence still matches its hash. The editor (Testing view, Verify
// commands), the stage engine and the CLI all call these, so they verify alike.
import { createReadStream } from 'node:fs';
import type { Actor, EvidenceRef, FactoryEvent } from '../core/events';
import { isEvent } from '../core/events';
import type { Criterion, Pipeline, Stage } from '../core/pipeline';
import type { EvidenceMismatch, EvidencePort } from '../store/evidence';
import type { Approval, ApprovalSource, CriterionResult, EvidenceSink, StageVerification, TreeHasher, VerifyProgress } from '../verify/ports';
import { PipelineInvalidError } from './changes';
import type { EngineDeps } from './ports';

export type { CriterionResult } from '../verify/ports';
export type { TestCase, TestProblem } from '../verify/report';

export interface VerifyStageInput {
  changeId: string;
  stageId: string;
  /** The attempt whose work is verified, when an attempt asked for it. */
  attemptId?: string;
  /** Cancels the run; a running command is stopped with its whole process tree. */
  signal?: AbortSignal;
  progress?: VerifyProgress;
  /** Who approved what; default the record's `review.decided` events for the stage. */
  approvals?: ApprovalSource;
  /** Only these criteria (by id); default every criterion of the stage. */
  criterionIds?: readonly string[];
  /** Only the required criteria (advisory ones are left out). */
  requiredOnly?: boolean;
  /** Stop at the first required criterion that does not pass. Default false. */
  stopOnFailure?: boolean;
  /** A browser for screenshot criteria (the `factory.verify.browserPath` setting). */
  browserExecutablePath?: string;
  /** Environment the commands start from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Told after each result is in the record (e.g. so a view does not show it twice). */
  onRecorded?: (event: FactoryEvent, result: CriterionResult) => void;
}

export interface StageVerificationRun extends StageVerification {
  changeId: string;
  stageId: string;
  /** The criteria this run was asked to check, in pipeline order. */
  criteria: Criterion[];
  /** The `verification.recorded` events appended, one per criterion that was checked. */
  events: FactoryEvent[];
  /** The working-tree hash when the run started. */
  tree: string;
}

export class UnknownStageError extends Error {
  constructor(
    readonly stageId: string,
    known: readonly string[],
  ) {
    super(`The pipeline has no stage "${stageId}" (stages: ${known.join(', ')}).`);
    this.name = 'UnknownStageError';
  }
}

export class UnknownCriterionError extends Error {
  constructor(
    readonly stageId: string,
    readonly criterionIds: readonly string[],
    known: readonly string[],
  ) {
    super(`Stage "${stageId}" has no verification criterion ${criterionIds.map((id) => `"${id}"`).join(', ')} (criteria: ${known.join(', ') || 'none'}).`);
    this.name = 'UnknownCriterionError';
  }
}

/** Verification binds every result to a tree hash: without one (not a repository, untrusted workspace) nothing runs. */
export class CannotVerifyError extends Error {
  constructor(readonly reason: string) {
    super(`Cannot verify: ${reason}`);
    this.name = 'CannotVerifyError';
  }
}

/** The criteria of `stage` a run with these options checks, in pipeline order. */
export function criteriaToRun(stage: Pick<Stage, 'id' | 'verification'>, options: Pick<VerifyStageInput, 'criterionIds' | 'requiredOnly'> = {}): Criterion[] {
  let criteria = stage.verification;
  if (options.criterionIds) {
    const wanted = new Set(options.criterionIds);
    const known = new Set(criteria.map((c) => c.id));
    const unknown = [...wanted].filter((id) => !known.has(id));
    if (unknown.length > 0) throw new UnknownCriterionError(stage.id, unknown, [...known]);
    criteria = criteria.filter((c) => wanted.has(c.id));
  }
  if (options.requiredOnly) criteria = criteria.filter((c) => c.required);
  return criteria;
}

export function stageOf(pipeline: Pipeline, stageId: string): Stage {
  const stage = pipeline.stages.find((s) => s.id === stageId);
  if (!stage) throw new UnknownStageError(stageId, pipeline.stages.map((s) => s.id));
  return stage;
}

/**
 * Runs a stage's criteria (or some of them) and records each result as it comes.
 * A stage with nothing to check passes vacuously: `results` is empty.
 */
export async function verifyStage(deps: EngineDeps, input: VerifyStageInput): Promise<StageVerificationRun> {
  const { pipeline, problems } = await deps.store.loadPipeline({ createIfMissing: false });
  if (!pipeline) throw new PipelineInvalidError(problems);
  const stage = stageOf(pipeline, input.stageId);
  const criteria = criteriaToRun(stage, input);
  const record = await deps.store.readChange(input.changeId);
  if (record.events.length === 0) throw new Error(`There is no change "${input.changeId}" in .factory/changes.`);

  // Before anything runs: a result must be bound to a tree, and the git port refuses in
  // an untrusted workspace, so this also keeps workspace commands from starting there.
  let tree: string;
  try {
    tree = await deps.git.workingTreeHash();
  } catch (error) {
    throw new CannotVerifyError(error instanceof Error ? error.message : String(error));
  }
  const by = await deps.git.identity().catch((): Actor => ({ name: 'unknown' }));

  // The criteria runners and report parsers load with the first verification, not with the editor.
  const { runCriteria, verificationRecordedData } = await import('../verify/runner');
  const events: FactoryEvent[] = [];
  let appending: Promise<void> = Promise.resolve();
  let appendError: unknown;
  const recordResult = (result: CriterionResult) => {
    // Appended as each criterion finishes, so a crash later keeps the results so far.
    appending = appending.then(async () => {
      try {
        const event = await deps.store.append(input.changeId, { type: 'verification.recorded', by, data: verificationRecordedData(stage.id, result, input.attemptId) });
        events.push(event);
        input.onRecorded?.(event, result);
      } catch (error) {
        appendError ??= error;
      }
    });
  };

  const verification = await runCriteria(
    criteria,
    {
      workspaceRoot: deps.store.workspaceRoot,
      stageId: stage.id,
      evidence: evidenceSinkOver(deps.evidence),
      tree: treeHasherOver(deps.git),
      clock: deps.clock,
      approvals: input.approvals ?? approvalsFromRecord(record.events, stage.id),
      ...(input.signal ? { signal: input.signal } : {}),
      ...(input.env ? { env: input.env } : {}),
      ...(input.browserExecutablePath ? { browserExecutablePath: input.browserExecutablePath } : {}),
      progress: {
        criterionStarted: (c) => input.progress?.criterionStarted?.(c),
        output: (c, stream, text) => input.progress?.output?.(c, stream, text),
        criterionFinished: (c, result) => {
          // Only criteria that were checked are recorded: one skipped because the run was
          // cancelled or stopped says nothing, and must not replace an earlier result.
          recordResult(result);
          input.progress?.criterionFinished?.(c, result);
        },
      },
    },
    { stopOnFailure: input.stopOnFailure ?? false },
  );
  await appending;
  if (appendError) {
    throw new Error(`Verification ran, but recording its results failed: ${appendError instanceof Error ? appendError.message : String(appendError)}`, { cause: appendError });
  }
  return { ...verification, changeId: input.changeId, stageId: stage.id, criteria, events, tree };
}

/** The record's review decisions on a stage, as approvals: the latest decision counts. */
export function approvalsFromRecord(events: readonly FactoryEvent[], stageId: string): ApprovalSource {
  let latest: Approval | undefined;
  for (const event of [...events].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    if (!isEvent(event, 'review.decided') || event.data.stageId !== stageId) continue;
    const data = event.data as typeof event.data & { roles?: unknown; role?: unknown; tree?: unknown; verified?: { tree?: unknown } };
    const roles = [...(Array.isArray(data.roles) ? data.roles : []), data.role].filter((r): r is string => typeof r === 'string' && r.length > 0);
    const tree = typeof data.tree === 'string' ? data.tree : typeof data.verified?.tree === 'string' ? data.verified.tree : undefined;
    latest = {
      by: event.by?.name ?? 'unknown',
      ...(roles.length ? { roles } : {}),
      at: event.at,
      decision: event.data.decision === 'approved' ? 'approved' : 'rejected',
      ...(event.data.note ? { note: event.data.note } : {}),
      ...(tree ? { tree } : {}),
    };
  }
  return { approvalFor: async () => latest };
}

/** The runner's evidence sink over the record's content-addressed store (files are streamed, never read whole). */
export function evidenceSinkOver(evidence: EvidencePort): EvidenceSink {
  return {
    putFile: (file, name, mediaType) => evidence.put(createReadStream(file), { name, ...(mediaType ? { mediaType } : {}) }),
    putBytes: (bytes, name, mediaType) => evidence.put(bytes, { name, ...(mediaType ? { mediaType } : {}) }),
  };
}

function treeHasherOver(git: EngineDeps['git']): TreeHasher {
  return { headCommit: () => git.headCommit(), workingTreeHash: () => git.workingTreeHash() };
}

// ---- evidence integrity --------------------------------------------------------------

export interface EvidenceProblem extends EvidenceMismatch {
  /** The names the record gives these bytes (e.g. `unit.stdout.log`), and the changes that refer to them. */
  names: string[];
  changes: string[];
}

export interface EvidenceCheck {
  /** How many evidence files were checked. */
  checked: number;
  /** Files whose bytes no longer match their hash, or that are missing or misnamed. */
  mismatches: EvidenceProblem[];
}

/**
 * Checks evidence against its sha256: with `changeId`, every file that change's events
 * refer to (a missing one is a mismatch); without, every file in the evidence store.
 */
export async function verifyEvidence(deps: EngineDeps, changeId?: string): Promise<EvidenceCheck> {
  const ids = changeId ? [changeId] : await deps.store.listChangeIds();
  const records = await Promise.all(ids.map((id) => deps.store.readChange(id)));
  const referrers = new Map<string, { names: Set<string>; changes: Set<string> }>();
  for (const record of records) {
    for (const event of record.events) {
      for (const ref of evidenceRefsIn(event.data)) {
        const entry = referrers.get(ref.sha256) ?? { names: new Set(), changes: new Set() };
        entry.names.add(ref.name);
        entry.changes.add(record.changeId);
        referrers.set(ref.sha256, entry);
      }
    }
  }
  const hashes = changeId ? [...referrers.keys()].sort() : await deps.evidence.list();
  // Every stored file: verify() with no refs scans the store itself and also reports what
  // the listing refused (a fan-out folder that is a link out, an evidence/ that is a
  // file), which a check of the listed names alone would pass as "all match".
  const mismatches = changeId ? await deps.evidence.verify(hashes.map((sha256) => ({ sha256 }))) : await deps.evidence.verify();
  return {
    checked: hashes.length,
    mismatches: mismatches.map((m) => {
      const entry = referrers.get(m.sha256);
      return { ...m, names: [...(entry?.names ?? [])].sort(), changes: [...(entry?.changes ?? [])].sort() };
    }),
  };
}

const SHA256 = /^[0-9a-f]{64}$/;

/** Every evidence reference anywhere in an event's payload (logs, reports, transcripts, diffs, context items). */
export function evidenceRefsIn(value: unknown, out: EvidenceRef[] = [], depth = 0): EvidenceRef[] {
  if (depth > 12 || value === null || typeof value !== 'object') return out;
  if (Array.isArray(value)) {
    for (const item of value) evidenceRefsIn(item, out, depth + 1);
    return out;
  }
  const record = value as Record<string, unknown>;
  if (typeof record.sha256 === 'string' && SHA256.test(record.sha256) && typeof record.name === 'string') {
    out.push(record as unknown as EvidenceRef);
    return out;
  }
  for (const key of Object.keys(record)) evidenceRefsIn(record[key], out, depth + 1);
  return out;
}
