// The message protocol between the review panel's webview and the extension host.
// Both sides parse every message they receive against these schemas. Requests carry
// an id and a kind; the reply names the same id and carries the result of that kind
// (or an error), so a late reply to an earlier step never lands on the step shown
// now. Pure: zod only, so the browser bundle can import it.
import * as z from 'zod';
import { parseMessageWith, type ParseResult } from './messageParse';
import { TranscriptEntrySchema, TranscriptHeaderSchema } from './transcriptProtocol';

/** Display text from the record, agents or files: bounded, always rendered as text. */
const Text = z.string().max(200_000);
const Short = z.string().max(2_000);
const Id = z.string().min(1).max(200);
const Count = z.number().int().nonnegative();
const Num = z.number().finite();
const Sha = z.string().regex(/^[0-9a-f]{64}$/);
const Actor = z.object({ name: Short, email: Short.optional() });

export const IntegritySchema = z.enum(['verified', 'altered', 'missing', 'unchecked']);

const EvidenceSchema = z.object({
  ref: z.object({ sha256: Sha, name: Short, mediaType: Short.optional(), bytes: Count.optional() }),
  integrity: IntegritySchema,
});

export const TimelineEntrySchema = z.object({
  id: Id,
  kind: z.string().max(40),
  at: Short,
  text: Text,
  actor: Short,
  by: Actor.optional(),
  committedBy: Actor.optional(),
  stageId: Short.optional(),
  attemptId: Short.optional(),
  stepId: Short.optional(),
  durationMs: Num.optional(),
  costUsd: Num.optional(),
  commit: Short.optional(),
  tree: Short.optional(),
  outcome: Short.optional(),
});
export type TimelineRow = z.infer<typeof TimelineEntrySchema>;

const VerificationSchema = z.object({
  eventId: Id,
  criterionId: Short,
  kind: Short.optional(),
  outcome: Short,
  required: z.boolean(),
  message: Text.optional(),
  at: Short,
  durationMs: Num.optional(),
  tree: Short.optional(),
  totals: z.object({ passed: Num.optional(), failed: Num.optional(), skipped: Num.optional(), errors: Num.optional(), total: Num.optional() }).optional(),
  failures: z.array(Text).optional(),
  command: Text.optional(),
  exitCode: Num.optional(),
  evidence: z.array(EvidenceSchema),
  current: z.boolean(),
});

const CommentSchema = z.object({
  id: Id,
  at: Short,
  by: Actor.optional(),
  committedBy: Actor.optional(),
  body: Text,
  stageId: Short.optional(),
  attemptId: Short.optional(),
  path: Short.optional(),
  line: Count.optional(),
  side: Short.optional(),
  tree: Short.optional(),
});

const HunkDecisionSchema = z.object({
  id: Id,
  at: Short,
  by: Actor.optional(),
  attemptId: Short.optional(),
  stageId: Short,
  path: Short,
  hunk: Short,
  header: Text.optional(),
  decision: Short,
  note: Text.optional(),
});

const DecisionSchema = z.object({
  id: Id,
  at: Short,
  by: Actor.optional(),
  committedBy: Actor.optional(),
  stageId: Short,
  kind: z.enum(['approved', 'sentBack']),
  toStage: Short.optional(),
  note: Text.optional(),
  tree: Short.optional(),
});

const VersionRef = z.object({ version: Short, number: Count.optional() });
const ContextVerdictSchema = z.object({
  consumed: VersionRef.optional(),
  handedForward: VersionRef.extend({ from: Short.optional() }).optional(),
  recreated: z.boolean(),
  sentence: Text,
  reason: Text,
});

export const StageStepSchema = z.object({
  kind: z.literal('stage'),
  id: Id,
  index: Count,
  stageId: Short,
  stageTitle: Short,
  heading: Short,
  role: Short,
  owner: Short,
  status: Short,
  attempts: z.array(Id),
  handedIn: z.object({ from: Short, version: Short.optional(), number: Count.optional(), at: Short }).optional(),
  handedOn: z.object({ to: Short.optional(), version: Short.optional(), number: Count.optional(), at: Short, commit: Short.optional(), tree: Short.optional(), summary: Text.optional() }).optional(),
  context: ContextVerdictSchema.optional(),
  verifications: z.array(VerificationSchema),
  decisions: z.array(DecisionSchema),
  approved: z.boolean(),
  approvedTree: Short.optional(),
  approvalStale: z.boolean(),
  comments: z.array(CommentSchema),
});

export const AttemptStepSchema = z.object({
  kind: z.literal('attempt'),
  id: Id,
  index: Count,
  stageId: Short,
  stageTitle: Short,
  attemptId: Short,
  heading: Short,
  number: Count,
  backend: Short,
  model: Short.optional(),
  actor: Short,
  by: Actor.optional(),
  committedBy: Actor.optional(),
  trigger: Short.optional(),
  startedAt: Short.optional(),
  finishedAt: Short.optional(),
  durationMs: Num.optional(),
  costUsd: Num.optional(),
  tokens: Num.optional(),
  outcome: Short.optional(),
  reason: Text.optional(),
  summary: Text.optional(),
  rolledBack: z.boolean(),
  superseded: z.boolean(),
  startCommit: Short.optional(),
  startTree: Short.optional(),
  endTree: Short.optional(),
  context: ContextVerdictSchema,
  packChange: z.object({ from: Count.optional(), to: Count.optional(), added: z.array(Text), removed: z.array(Text), changed: z.array(Text) }).optional(),
  prompt: Text.optional(),
  transcript: EvidenceSchema.optional(),
  diff: EvidenceSchema.optional(),
  changedFiles: z.array(z.object({ status: Short, path: Short })),
  filesRead: z.array(Short),
  verifications: z.array(VerificationSchema),
  comments: z.array(CommentSchema),
  hunks: z.array(HunkDecisionSchema),
});

export const StepSchema = z.discriminatedUnion('kind', [StageStepSchema, AttemptStepSchema]);
export type StepDetail = z.infer<typeof StepSchema>;

/** What the step list shows of each step; the rest comes per step, on demand. */
export const StepSummarySchema = z.object({
  id: Id,
  kind: z.enum(['stage', 'attempt']),
  heading: Short,
  stageId: Short,
  /** Stage status, or attempt outcome. */
  state: Short.optional(),
  recreated: z.boolean().optional(),
  muted: z.boolean().optional(),
});
export type StepSummary = z.infer<typeof StepSummarySchema>;

export const OverviewSchema = z.object({
  changeId: Id,
  title: Short,
  ticket: Short.optional(),
  branch: Short.optional(),
  description: Text.optional(),
  source: Short,
  /** Git may run here: diffs and hunk actions work. */
  trusted: z.boolean(),
  /** Read from another branch: decisions are made in its checkout. */
  readOnly: z.boolean(),
  stages: z.array(z.object({ id: Short, title: Short, status: Short })),
  steps: z.array(StepSummarySchema),
  /** How many timeline rows there are; the rows themselves are asked for once the first step is drawn. */
  timelineRows: Count,
  totals: z.object({ attempts: Count, costUsd: Num.optional(), durationMs: Num, verifications: Count, failedVerifications: Count }),
  newerEvents: Count,
});
export type Overview = z.infer<typeof OverviewSchema>;

const DiffHunkSchema = z.object({ id: Short, header: Text, oldStart: Count, oldLines: Count, newStart: Count, newLines: Count, lines: z.array(Text), decision: Short.optional() });
const DiffFileSchema = z.object({ path: Short, oldPath: Short.optional(), status: Short, binary: z.boolean(), hunks: z.array(DiffHunkSchema) });

export const EvidenceContentSchema = z.object({
  sha256: Sha,
  name: Short,
  mediaType: Short.optional(),
  integrity: IntegritySchema,
  /** Text evidence (logs, reports), bounded. */
  text: Text.optional(),
  truncated: z.boolean().optional(),
  /** Images as a data: URI (the CSP allows data: images only). */
  dataUri: z.string().max(20_000_000).optional(),
  error: Text.optional(),
});
export type EvidenceContent = z.infer<typeof EvidenceContentSchema>;

// ---------------------------------------------------------------------------------
// Webview → host

export const ReviewRequestSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('step'), stepId: Id }),
  z.strictObject({ kind: z.literal('transcript'), attemptId: Id }),
  z.strictObject({ kind: z.literal('evidence'), sha256: Sha }),
  z.strictObject({ kind: z.literal('diffFiles'), attemptId: Id }),
  z.strictObject({ kind: z.literal('timeline') }),
]);
export type ReviewRequest = z.infer<typeof ReviewRequestSchema>;

const RequestId = z.number().int().nonnegative();

export const ReviewWebviewMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ready') }),
  z.strictObject({ type: z.literal('request'), id: RequestId, request: ReviewRequestSchema }),
  /** The step shown now (the host's commands and comments act on it). */
  z.strictObject({ type: z.literal('selected'), stepId: Id }),
  /** A file of an attempt in VS Code's diff editor; the attempt of the step shown when omitted (the transcript's file links). */
  z.strictObject({ type: z.literal('openDiff'), path: z.string().min(1).max(4000), attemptId: Id.optional() }),
  z.strictObject({ type: z.literal('openDiffSet'), scope: z.enum(['attempt', 'stage', 'change']), id: Id.optional() }),
  z.strictObject({ type: z.literal('openEvidence'), sha256: Sha }),
  z.strictObject({ type: z.literal('hunk'), attemptId: Id, path: Short, hunk: Short, decision: z.enum(['accepted', 'rejected']) }),
  z.strictObject({ type: z.literal('decide'), action: z.enum(['approve', 'approveChange', 'sendBack']), stageId: Id.optional(), toStage: Id.optional(), note: z.string().max(100_000).optional() }),
  z.strictObject({ type: z.literal('comment'), stepId: Id, body: z.string().min(1).max(100_000) }),
  z.strictObject({ type: z.literal('export'), format: z.enum(['md', 'html']) }),
]);
export type ReviewWebviewMessage = z.infer<typeof ReviewWebviewMessageSchema>;

// ---------------------------------------------------------------------------------
// Host → webview

export const ReviewReplyResultSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('step'), step: StepSchema }),
  z.strictObject({ kind: z.literal('transcript'), attemptId: Id, header: TranscriptHeaderSchema, entries: z.array(TranscriptEntrySchema), dropped: z.strictObject({ entries: Count, events: Count }), integrity: IntegritySchema }),
  z.strictObject({ kind: z.literal('evidence'), evidence: EvidenceContentSchema }),
  z.strictObject({ kind: z.literal('diffFiles'), attemptId: Id, files: z.array(DiffFileSchema) }),
  z.strictObject({ kind: z.literal('timeline'), rows: z.array(TimelineEntrySchema) }),
]);
export type ReviewReplyResult = z.infer<typeof ReviewReplyResultSchema>;

export const ReviewHostMessageSchema = z.discriminatedUnion('type', [
  /** The step to show (kept across refreshes), with its detail so the first step is drawn without a second round trip. */
  z.strictObject({ type: z.literal('overview'), overview: OverviewSchema, stepId: Id.optional(), step: StepSchema.optional() }),
  z.strictObject({ type: z.literal('reply'), id: RequestId, result: ReviewReplyResultSchema.optional(), error: Text.optional() }),
  /** A step's detail again: the first step is sent before its evidence is re-hashed, then with what the re-hash found. */
  z.strictObject({ type: z.literal('step'), step: StepSchema }),
  /** Move by steps (the next/previous commands) or go to one. */
  z.strictObject({ type: z.literal('move'), delta: z.number().int().optional(), stepId: Id.optional() }),
  z.strictObject({ type: z.literal('notice'), level: z.enum(['info', 'warning', 'error']), text: Text }),
]);
export type ReviewHostMessage = z.infer<typeof ReviewHostMessageSchema>;

/** Which result kind answers which request kind. */
export type ResultFor<K extends ReviewRequest['kind']> = Extract<ReviewReplyResult, { kind: K }>;

export type { ParseResult };

const parseWith = <T>(schema: z.ZodType<T>, raw: unknown): ParseResult<T> => parseMessageWith(schema, raw, 'a review message');

export function parseReviewWebviewMessage(raw: unknown): ParseResult<ReviewWebviewMessage> {
  return parseWith(ReviewWebviewMessageSchema, raw);
}

export function parseReviewHostMessage(raw: unknown): ParseResult<ReviewHostMessage> {
  return parseWith(ReviewHostMessageSchema, raw);
}
