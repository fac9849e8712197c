// The reviewer's use cases: list every change a reviewer can open (this folder's and
// those on other branches, local and remote-tracking, read through git objects
// without checking anything out), build a change's review (core/review.ts: timeline
// and steps from events, the fold and the signal), load a step's transcript and
// evidence on demand with every piece re-hashed against its recorded sha256, the
// attempt's diff as hunks, and record what the reviewer decided: a stage or the whole
// change approved, a send-back, a hunk kept or rejected (rejected = reverted in the
// working tree by a reverse three-way apply), a comment.
//
// No `vscode` here: the editor's review panel and the CLI's `review export` call it.
import { promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import type { Actor, EvidenceRef, FactoryEvent } from '../core/events';
import { foldChange, type ChangeState } from '../core/fold';
import { foldContextPack } from '../core/contextPack';
import type { Pipeline } from '../core/pipeline';
import { applyIntegrity, attemptStepId, buildReview, reviewEvidence, type AttemptStep, type ReviewEvidence, type ReviewModel } from '../core/review';
import { conflictRegions, HunkDoesNotApplyError, parseUnifiedDiff, revertHunk, type DiffFile } from '../core/reviewHunks';
import { checkAttemptsContext } from '../core/signal';
import type { TranscriptEntry, TranscriptHeader } from '../core/transcriptProtocol';
import { TranscriptModel } from '../core/transcriptModel';
import type { AttemptResult } from '../core/agentEvents';
import { GitObjectReader } from '../git/gitObjects';
import { mergeFileContents } from '../git/gitAdapter';
import { runGit } from '../git/gitProcess';
import { writeFileReplacing } from '../store/atomicFile';
import { EvidenceAlteredError, evidenceContent, type EvidencePort } from '../store/evidence';
import { GitTreeRecordReader } from '../store/gitTreeRecord';
import type { RecordStore } from '../store/recordStore';
import { listChangeSummaries } from './changes';
import { readTeamHistory, shortRef } from './teamHistory';
import type { ChangeFact } from '../core/metricsTypes';
import type { EngineGit } from './ports';
import { replayTranscript } from './transcriptReplay';
import { WorkspaceNotTrustedError } from './trust';

/** What the review needs of the factory (engine/factory.ts passes itself). */
export interface ReviewHost {
  readonly root: string;
  readonly store: RecordStore;
  readonly evidence: EvidencePort;
  readonly git: EngineGit;
  isTrusted(): boolean;
  approve(input: { changeId: string; stageId: string; note?: string }): Promise<void>;
  sendBack(input: { changeId: string; stageId: string; toStage?: string; note: string }): Promise<void>;
  resolvePath(relativePath: string): string;
  readBlob(tree: string, relativePath: string): Promise<Buffer | undefined>;
}

/** A change a reviewer can open: from this folder's record or a branch's (`ref`). */
export interface ReviewableChange {
  id: string;
  title: string;
  ticket?: string;
  branch?: string;
  /** undefined: this folder's record; else the full ref it was read from (refs/remotes/origin/x). */
  ref?: string;
  completed: boolean;
  activeStage?: string;
  createdAt?: string;
}

export type Integrity = ReviewEvidence['integrity'];

/** A change's record, wherever it was read from. */
export interface ReviewRecord {
  changeId: string;
  ref?: string;
  pipeline: Pipeline;
  events: FactoryEvent[];
  state: ChangeState;
  committers?: Map<string, Actor>;
  /** The stored bytes, re-hashed against their recorded sha256 (EvidenceAlteredError otherwise). */
  read(ref: Pick<EvidenceRef, 'sha256'>): Promise<Buffer>;
  open(ref: Pick<EvidenceRef, 'sha256'>): Readable;
  check(refs: readonly Pick<EvidenceRef, 'sha256'>[]): Promise<Map<string, Integrity>>;
}

export interface ReviewSession {
  record: ReviewRecord;
  model: ReviewModel;
  /** The working tree the review was folded against (undefined when git may not run). */
  currentTree?: string;
}

export interface StepTranscript {
  header: TranscriptHeader;
  entries: TranscriptEntry[];
  dropped: { entries: number; events: number };
  integrity: Integrity;
}

export interface HunkDecisionInput {
  changeId: string;
  attemptId: string;
  path: string;
  hunk: string;
  decision: 'accepted' | 'rejected';
  note?: string;
}

export interface CommentInput {
  changeId: string;
  body: string;
  stageId?: string;
  attemptId?: string;
  path?: string;
  line?: number;
  side?: 'start' | 'end';
  tree?: string;
}

export class ReviewRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReviewRefusal';
  }
}

/** A hunk could not be reverted: the working file changed there since. Names the lines. */
export class HunkConflictError extends Error {
  constructor(
    readonly path: string,
    readonly lines: { from: number; to: number }[],
    detail?: string,
  ) {
    super(
      detail ??
        `Rejecting this hunk conflicts with later edits of ${path} at line${lines.length === 1 && lines[0]!.from === lines[0]!.to ? '' : 's'} ${lines.map((l) => (l.from === l.to ? `${l.from}` : `${l.from}–${l.to}`)).join(', ')}: nothing was changed. Revert it by hand, or keep it.`,
    );
    this.name = 'HunkConflictError';
  }
}

/** Entries of a transcript a review step draws (the latest). */
const REVIEW_TRANSCRIPT_ENTRIES = 500;

/** Transcripts larger than this are replayed from their last this-many bytes in the review. */
const TRANSCRIPT_TAIL_BYTES = 1024 * 1024;

function countLines(bytes: Buffer, end: number): number {
  let count = 0;
  for (let at = bytes.indexOf(0x0a); at >= 0 && at < end; at = bytes.indexOf(0x0a, at + 1)) count++;
  return count;
}

export class ReviewService {
  private objects: GitObjectReader | undefined;

  constructor(private readonly host: ReviewHost) {}

  private requireTrust(what: string): void {
    if (!this.host.isTrusted()) throw new WorkspaceNotTrustedError(what);
  }

  private reader(): GitObjectReader {
    this.objects ??= new GitObjectReader(this.host.root);
    return this.objects;
  }

  // ---------------------------------------------------------------------------------
  // Which changes

  /**
   * Every change a reviewer can open: this folder's, then those that only other
   * branches (local and remote-tracking) hold, read through git objects. In an
   * untrusted workspace git does not run, so only this folder's are listed.
   */
  async listChanges(): Promise<ReviewableChange[]> {
    const local = await listChangeSummaries({ store: this.host.store, git: this.host.git, evidence: this.host.evidence, clock: { now: () => new Date() } });
    const listed: ReviewableChange[] = local.changes.map((c) => summaryOf(c));
    if (!this.host.isTrusted() || !(await this.host.git.isRepository().catch(() => false))) return listed;
    // The other branches' changes come from the team history (the dashboard's): cached
    // by git tree id outside the repository, so a second pick reads only what moved
    // instead of every branch's record again (seconds at a hundred branches).
    const { pipeline } = await this.host.store.loadPipeline({ createIfMissing: false });
    if (!pipeline) return listed;
    let facts: ChangeFact[];
    let fullRefs: Map<string, string>;
    try {
      [facts, fullRefs] = await Promise.all([
        readTeamHistory({ root: this.host.root, pipeline, store: this.host.store, useGit: true }).then((h) => h.facts),
        this.reader().listBranchRefs().then((refs) => new Map(refs.map((ref) => [shortRef(ref), ref]))),
      ]);
    } catch {
      return listed;
    }
    const current = await this.host.git.currentBranch().catch(() => undefined);
    const seen = new Set(listed.map((c) => c.id));
    const stageTitles = new Map(pipeline.stages.map((s) => [s.id, s.title]));
    for (const fact of facts) {
      if (seen.has(fact.id) || fact.local) continue;
      // The checked-out branch's record is the folder's own: a change only there was removed here.
      const ref = fact.branches.filter((b) => b !== current).map((b) => fullRefs.get(b)).find((r) => r !== undefined);
      if (!ref) continue;
      listed.push({
        id: fact.id,
        title: fact.title,
        ...(fact.ticket ? { ticket: fact.ticket } : {}),
        ...(fact.branch ? { branch: fact.branch } : {}),
        ref,
        completed: fact.completed,
        ...(fact.activeStageId ? { activeStage: stageTitles.get(fact.activeStageId) ?? fact.activeStageId } : {}),
        ...(fact.createdAt !== undefined ? { createdAt: new Date(fact.createdAt).toISOString() } : {}),
      });
    }
    return listed;
  }

  // ---------------------------------------------------------------------------------
  // One change's review

  async open(changeId: string, options: { ref?: string; currentTree?: string } = {}): Promise<ReviewSession> {
    const currentTree = options.currentTree ?? (this.host.isTrusted() ? await this.host.git.workingTreeHash().catch(() => undefined) : undefined);
    const record = options.ref ? await this.readFromGit(changeId, options.ref) : await this.readFromFolder(changeId, currentTree);
    const pack = foldContextPack(record.events);
    const checks = checkAttemptsContext(record.events, record.pipeline.stages.map((s) => s.id), pack);
    const model = buildReview({
      change: record.state,
      events: record.events,
      pack,
      checks,
      source: options.ref ? `git ${options.ref.replace(/^refs\/(heads|remotes)\//, '')}` : 'working folder',
      ...(record.committers ? { committers: record.committers } : {}),
    });
    return { record, model, ...(currentTree ? { currentTree } : {}) };
  }

  private async readFromFolder(changeId: string, currentTree: string | undefined): Promise<ReviewRecord> {
    const { pipeline, problems } = await this.host.store.loadPipeline();
    if (!pipeline) throw new ReviewRefusal(`The pipeline cannot be read: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ') || 'no .factory/pipeline.json'}.`);
    const { events } = await this.host.store.readChange(changeId);
    if (events.length === 0) throw new ReviewRefusal(`There is no change "${changeId}" in .factory/changes.`);
    const evidence = this.host.evidence;
    return {
      changeId,
      pipeline,
      events,
      state: foldChange(changeId, pipeline, events, currentTree ? { currentTree } : {}),
      read: (ref) => evidence.read(ref),
      open: (ref) => evidence.open(ref),
      check: async (refs) => {
        const status = new Map<string, Integrity>(refs.map((r) => [r.sha256, 'verified']));
        for (const m of await evidence.verify(refs)) status.set(m.sha256, m.problem === 'missing' ? 'missing' : 'altered');
        return status;
      },
    };
  }

  private async readFromGit(changeId: string, ref: string): Promise<ReviewRecord> {
    // Git can run what a repository configures: nothing is read from git before trust.
    this.requireTrust('read other branches');
    const objects = this.reader();
    const prefix = await objects.workspacePrefix();
    const recordPath = `${prefix}.factory`;
    const reader = new GitTreeRecordReader(objects, ref, { recordPath });
    const { pipeline, problems } = await reader.loadPipeline();
    if (!pipeline) throw new ReviewRefusal(`${ref} has no readable pipeline${problems[0] ? `: ${problems[0].path}: ${problems[0].message}` : ''}.`);
    const { events } = await reader.readChange(changeId);
    if (events.length === 0) throw new ReviewRefusal(`${ref} has no change "${changeId}".`);
    const blob = async (sha: string): Promise<Buffer | undefined> => {
      if (!/^[0-9a-f]{64}$/.test(sha)) throw new Error(`Evidence hash "${sha.slice(0, 80)}" is not 64 lowercase hex digits.`);
      const path = `${recordPath}/evidence/${sha.slice(0, 2)}/${sha.slice(2)}`;
      const entry = (await objects.listTree(ref, path)).find((e) => e.path === path && e.type === 'blob');
      if (!entry) return undefined;
      return (await objects.readBlobs([entry.oid])).get(entry.oid);
    };
    const read = async (r: Pick<EvidenceRef, 'sha256'>): Promise<Buffer> => {
      const bytes = await blob(r.sha256);
      const where = `${ref}:${recordPath}/evidence/${r.sha256.slice(0, 2)}/${r.sha256.slice(2)}`;
      if (!bytes) throw Object.assign(new Error(`${where}: evidence ${r.sha256} is missing`), { code: 'ENOENT' });
      // Stored compressed (or, before that, as it is): the store's own decoding checks the content hash.
      return evidenceContent(bytes, r.sha256, where);
    };
    return {
      changeId,
      ref,
      pipeline,
      events,
      // Another branch's tree is not this working tree: nothing there is stale against it.
      state: foldChange(changeId, pipeline, events),
      committers: await this.committers(ref, `${recordPath}/changes/${changeId}/events`),
      read,
      open: (r) => Readable.from(streamOnce(() => read(r))),
      check: async (refs) => {
        const status = new Map<string, Integrity>();
        for (const r of refs) {
          const bytes = await blob(r.sha256).catch(() => undefined);
          const intact = bytes ? await evidenceContent(bytes, r.sha256, r.sha256).then(() => true, () => false) : false;
          status.set(r.sha256, !bytes ? 'missing' : intact ? 'verified' : 'altered');
        }
        return status;
      },
    };
  }

  /** Who committed each event file of a folder in `ref` (the commit that added it). */
  private async committers(ref: string, folder: string): Promise<Map<string, Actor>> {
    const map = new Map<string, Actor>();
    try {
      const top = (await runGit(['rev-parse', '--show-toplevel'], { cwd: this.host.root })).stdout.toString('utf8').trim();
      const out = (await runGit(['log', '--diff-filter=A', '--format=%x01%cn%x02%ce', '--name-only', ref, '--', folder], { cwd: top })).stdout.toString('utf8');
      for (const block of out.split('\x01').slice(1)) {
        const [who = '', ...files] = block.split('\n');
        const [name = '', email = ''] = who.split('\x02');
        for (const file of files) {
          const m = /([0-9A-HJKMNP-TV-Z]{26})\.json$/.exec(file.trim());
          if (m && !map.has(m[1]!)) map.set(m[1]!, { name, ...(email ? { email } : {}) });
        }
      }
    } catch {
      // Unknown committers are simply not shown.
    }
    return map;
  }

  // ---------------------------------------------------------------------------------
  // Per step, on demand

  /** Re-hashes the evidence of the given steps (all when omitted) against the record and marks the model. */
  async checkIntegrity(session: ReviewSession, stepIds?: readonly string[]): Promise<Map<string, Integrity>> {
    const steps = stepIds ? session.model.steps.filter((s) => stepIds.includes(s.id)) : session.model.steps;
    // Every time, not once: evidence altered while the review is open shows as altered on the next look.
    const refs = steps.flatMap((s) => [...(s.kind === 'attempt' ? [s.transcript, s.diff] : []), ...s.verifications.flatMap((v) => v.evidence)]).filter((e): e is ReviewEvidence => e !== undefined);
    const status = await session.record.check(refs.map((e) => e.ref));
    applyIntegrity(session.model, status);
    return status;
  }

  /**
   * The failed and errored test cases of the test reports among the steps' evidence
   * (JUnit, TAP), read re-hashed and parsed as the verification read them, added to
   * each run's failures. A report is content-addressed, so what it says is kept.
   */
  async reportFailures(session: ReviewSession, stepIds?: readonly string[]): Promise<void> {
    const steps = stepIds ? session.model.steps.filter((s) => stepIds.includes(s.id)) : session.model.steps;
    for (const run of steps.flatMap((s) => s.verifications)) {
      for (const e of run.evidence) {
        const format = /\.xml$/i.test(e.ref.name) || /xml/.test(e.ref.mediaType ?? '') ? 'junit' : /\.tap$/i.test(e.ref.name) ? 'tap' : undefined;
        if (!format) continue;
        let failures = this.failuresBySha.get(e.ref.sha256);
        if (!failures) {
          try {
            const bytes = await session.record.read(e.ref);
            // The report parsers (and the XML and YAML libraries under them) load with the first report shown.
            const report = format === 'junit' ? (await import('../verify/junit')).parseJUnit(bytes, e.ref.name) : (await import('../verify/tap')).parseTap(bytes, e.ref.name);
            failures = report.cases
              .filter((c) => c.status === 'failed' || c.status === 'error')
              .slice(0, 50)
              .map((c) => `${[...c.suite, c.name].join(' › ')}${c.problems[0]?.message ? `: ${c.problems[0].message}` : ''}`);
          } catch {
            failures = [];
          }
          this.failuresBySha.set(e.ref.sha256, failures);
        }
        if (failures.length) run.failures = [...new Set([...(run.failures ?? []), ...failures])];
      }
    }
  }
  private readonly failuresBySha = new Map<string, string[]>();

  /** The attempt's transcript, replayed through its backend's parser (the live view's model). */
  async transcript(session: ReviewSession, attemptId: string, options: { maxEntries?: number } = {}): Promise<StepTranscript> {
    const step = this.attemptStep(session, attemptId);
    const header: TranscriptHeader = {
      changeTitle: session.model.title,
      stageTitle: step.stageTitle,
      attemptNumber: step.number,
      backend: step.backend,
      ...(step.model ? { model: step.model } : {}),
      ...(step.prompt !== undefined ? { prompt: step.prompt } : {}),
      source: 'recorded',
      status: step.outcome ? 'finished' : 'running',
    };
    // A step shows the latest entries; Show Transcript has them all (up to its own bound).
    const model = new TranscriptModel(header, { workspaceRoot: this.host.root, maxEntries: options.maxEntries ?? REVIEW_TRANSCRIPT_ENTRIES });
    let integrity: Integrity = 'unchecked';
    let skippedLines = 0;
    if (!step.transcript) {
      model.setHeader({ notice: step.outcome ? 'No transcript was recorded for this attempt.' : 'This attempt has not finished: its transcript is stored when it ends.' });
    } else {
      try {
        // Re-hashed whole first; a long transcript is replayed from its tail only: the
        // panel keeps the latest entries anyway, and parsing all of a 50 MB transcript
        // would hold the step for seconds. The skipped lines are counted as not shown.
        const bytes = await session.record.read(step.transcript.ref);
        const start = bytes.length > TRANSCRIPT_TAIL_BYTES ? bytes.indexOf(0x0a, bytes.length - TRANSCRIPT_TAIL_BYTES) + 1 : 0;
        skippedLines = start > 0 ? countLines(bytes, start) : 0;
        const lines = bytes.subarray(start).toString('utf8').split('\n');
        for await (const item of replayTranscript(lines, { backend: step.backend, cwd: this.host.root, ...(step.model ? { model: step.model } : {}) })) {
          if (item.kind === 'event') model.apply(item.event);
          else model.log(item.stream, item.line);
        }
        integrity = 'verified';
      } catch (error) {
        integrity = error instanceof EvidenceAlteredError ? 'altered' : (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unchecked';
        model.setHeader({ notice: `The transcript ${step.transcript.ref.name} (${step.transcript.ref.sha256.slice(0, 12)}) is not shown: ${error instanceof Error ? error.message : String(error)}` });
      }
      step.transcript.integrity = integrity === 'unchecked' ? step.transcript.integrity : integrity;
    }
    if (step.outcome) {
      model.finish({ outcome: step.outcome as AttemptResult['outcome'], ...(step.reason ? { reason: step.reason } : {}), durationMs: step.durationMs ?? 0, usage: step.costUsd !== undefined ? { costUsd: step.costUsd } : {} });
    }
    if (skippedLines > 0) model.setHeader({ notice: `A long transcript: its first ${skippedLines} lines are not replayed here (the stored transcript keeps them all; Show Transcript replays it whole).` });
    return { header: model.header, entries: [...model.entries], dropped: { entries: model.state.dropped.entries, events: model.state.dropped.events + skippedLines }, integrity };
  }

  /** Evidence bytes (a screenshot, a log), re-hashed first; altered or missing is an error naming it. */
  async evidenceBytes(session: ReviewSession, sha: string): Promise<{ ref: EvidenceRef; bytes: Buffer }> {
    const ref = reviewEvidence(session.model).find((e) => e.ref.sha256 === sha)?.ref;
    if (!ref) throw new ReviewRefusal(`Evidence ${sha.slice(0, 12)} is not part of this review.`);
    try {
      const bytes = await session.record.read(ref);
      applyIntegrity(session.model, new Map([[sha, 'verified']]));
      return { ref, bytes };
    } catch (error) {
      applyIntegrity(session.model, new Map([[sha, error instanceof EvidenceAlteredError ? 'altered' : 'missing']]));
      throw error;
    }
  }

  /** The attempt's diff as files and hunks: its recorded diff evidence, else git's diff of its trees. */
  async diffFiles(session: ReviewSession, attemptId: string): Promise<DiffFile[]> {
    const step = this.attemptStep(session, attemptId);
    if (step.diff) {
      try {
        return parseUnifiedDiff((await session.record.read(step.diff.ref)).toString('utf8'));
      } catch (error) {
        if (error instanceof EvidenceAlteredError) step.diff.integrity = 'altered';
        if (!step.startTree || !step.endTree) throw error;
      }
    }
    if (!step.startTree || !step.endTree) return [];
    this.requireTrust('run git');
    return parseUnifiedDiff((await this.host.git.diffTrees(step.startTree, step.endTree)).patch);
  }

  attemptStep(session: ReviewSession, attemptId: string): AttemptStep {
    const step = session.model.steps.find((s) => s.id === attemptStepId(attemptId));
    if (!step || step.kind !== 'attempt') throw new ReviewRefusal(`There is no attempt ${attemptId.slice(0, 40)} in "${session.model.title}".`);
    return step;
  }

  // ---------------------------------------------------------------------------------
  // Decisions

  /** Approves every stage of the change that waits for approval, in order. */
  async approveChange(changeId: string, note?: string): Promise<string[]> {
    if (!this.host.isTrusted()) throw new ReviewRefusal('This workspace is not trusted: decisions are recorded once the folder is trusted (Manage Workspace Trust).');
    const approved: string[] = [];
    for (;;) {
      const { pipeline } = await this.host.store.loadPipeline();
      if (!pipeline) throw new ReviewRefusal('The pipeline cannot be read.');
      const state = foldChange(changeId, pipeline, (await this.host.store.readChange(changeId)).events);
      const waiting = state.stages.find((s) => s.status === 'needsApproval' && !approved.includes(s.id));
      if (!waiting) break;
      await this.host.approve({ changeId, stageId: waiting.id, ...(note ? { note } : {}) });
      approved.push(waiting.id);
    }
    if (approved.length === 0) throw new ReviewRefusal('No stage of this change waits for approval.');
    return approved;
  }

  /**
   * Keeps or rejects one hunk of an attempt's diff, and records it with the hunk's
   * identity. Rejecting reverts it in the working file by a reverse three-way apply
   * (the attempt's version, that version with the hunk undone, and the working file
   * now), so it works after later edits elsewhere in the file; a conflict changes
   * nothing and names the lines.
   */
  async decideHunk(session: ReviewSession, input: HunkDecisionInput): Promise<{ path: string; decision: string; tree?: string }> {
    if (session.record.ref) throw new ReviewRefusal(`This change was read from ${session.record.ref}: decide on hunks in a checkout of that branch.`);
    this.requireTrust('change files or run git');
    const step = this.attemptStep(session, input.attemptId);
    const file = (await this.diffFiles(session, input.attemptId)).find((f) => f.path === input.path);
    const hunk = file?.hunks.find((h) => h.id === input.hunk);
    if (!file || !hunk) throw new ReviewRefusal(`The attempt's diff has no such hunk in ${input.path.slice(0, 200)}.`);
    if (input.decision === 'rejected') {
      if (!step.endTree) throw new ReviewRefusal('This attempt recorded no end tree: its hunks cannot be reverted.');
      if (file.binary) throw new ReviewRefusal(`${file.path} is binary: its changes cannot be reverted hunk by hunk.`);
      const absolute = this.host.resolvePath(file.path);
      const base = ((await this.host.readBlob(step.endTree, file.path)) ?? Buffer.alloc(0)).toString('utf8');
      const ours = await fs.readFile(absolute, 'utf8').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') throw new ReviewRefusal(`${file.path} is no longer in the working tree: there is nothing to revert.`);
        throw e;
      });
      let theirs: string;
      try {
        theirs = revertHunk(base, hunk);
      } catch (error) {
        if (error instanceof HunkDoesNotApplyError) throw new HunkConflictError(file.path, [{ from: hunk.newStart, to: hunk.newStart + hunk.newLines - 1 }], `${file.path}: ${error.message}; nothing was changed.`);
        throw error;
      }
      const merged = await mergeFileContents(this.host.root, { ours, base, theirs });
      if (merged.conflicts > 0) throw new HunkConflictError(file.path, conflictRegions(merged.merged));
      if (merged.merged === '' && file.status === 'added') await fs.rm(absolute, { force: true });
      // Whole or not at all, mode kept: an editor or a watcher never reads half a revert.
      else await writeFileReplacing(absolute, merged.merged);
    }
    const at = await this.host.git.snapshot().catch(() => undefined);
    await this.host.store.append(input.changeId, {
      type: 'review.hunkDecided',
      by: await this.host.git.identity(),
      data: {
        stageId: step.stageId,
        attemptId: step.attemptId,
        path: file.path,
        hunk: hunk.id,
        header: hunk.header,
        decision: input.decision,
        ...(input.note ? { note: input.note } : {}),
        ...(at ? { at: { ...(at.commit ? { commit: at.commit } : {}), tree: at.tree } } : {}),
      },
    });
    return { path: file.path, decision: input.decision, ...(at ? { tree: at.tree } : {}) };
  }

  /** Records a comment on a step or on a line of a diff. */
  async comment(input: CommentInput): Promise<void> {
    if (!input.body.trim()) throw new ReviewRefusal('A comment needs some text.');
    if (!this.host.isTrusted()) throw new ReviewRefusal('This workspace is not trusted: comments are recorded once the folder is trusted (Manage Workspace Trust).');
    await this.host.store.append(input.changeId, {
      type: 'review.commented',
      by: await this.host.git.identity(),
      data: {
        body: input.body,
        ...(input.stageId ? { stageId: input.stageId } : {}),
        ...(input.attemptId ? { attemptId: input.attemptId } : {}),
        ...(input.path ? { path: input.path } : {}),
        ...(input.line !== undefined ? { line: input.line } : {}),
        ...(input.side ? { side: input.side } : {}),
        ...(input.tree ? { tree: input.tree } : {}),
      },
    });
  }
}

function summaryOf(c: ChangeState, ref?: string): ReviewableChange {
  return {
    id: c.id,
    title: c.title,
    ...(c.ticket ? { ticket: c.ticket } : {}),
    ...(c.branch ? { branch: c.branch } : {}),
    ...(ref ? { ref } : {}),
    completed: c.completed,
    ...(c.activeStageId ? { activeStage: c.stages.find((s) => s.id === c.activeStageId)?.title ?? c.activeStageId } : {}),
    ...(c.createdAt ? { createdAt: c.createdAt } : {}),
  };
}

async function* streamOnce(read: () => Promise<Buffer>): AsyncGenerator<Buffer> {
  yield await read();
}
