// What the review panel shows, shaped for its protocol (core/reviewProtocol.ts): the
// overview (the steps) sent with the first step, then the timeline, a step's detail,
// transcript, evidence and diff per step on request. ui/ hosts the panel and asks these.
import type { ReviewModel } from '../core/review';
import type { EvidenceContent, Overview, ReviewHostMessage } from '../core/reviewProtocol';
import type { DiffFile } from '../core/reviewHunks';
import { EvidenceAlteredError } from '../store/evidence';
import type { ReviewService, ReviewSession } from './review';

export { parseReviewHostMessage, parseReviewWebviewMessage } from '../core/reviewProtocol';
export { attemptStepId, stageStepId } from '../core/review';

/** Text evidence shown inline is cut here; the full file opens in an editor. */
const MAX_INLINE_TEXT = 150_000;
/** Images larger than this are not inlined (open them full size). */
const MAX_INLINE_IMAGE = 8 * 1024 * 1024;

export function overviewOf(model: ReviewModel, options: { trusted: boolean; readOnly: boolean }, stages: { id: string; title: string; status: string }[]): Overview {
  return {
    changeId: model.changeId,
    title: model.title,
    ...(model.ticket ? { ticket: model.ticket } : {}),
    ...(model.branch ? { branch: model.branch } : {}),
    ...(model.description ? { description: model.description } : {}),
    source: model.source,
    trusted: options.trusted,
    readOnly: options.readOnly,
    stages,
    steps: model.steps.map((s) =>
      s.kind === 'stage'
        ? { id: s.id, kind: 'stage' as const, heading: s.heading, stageId: s.stageId, state: s.approvalStale ? 'stale approval' : s.status, ...(s.context?.recreated ? { recreated: true } : {}) }
        : { id: s.id, kind: 'attempt' as const, heading: s.heading, stageId: s.stageId, ...(s.outcome ? { state: s.outcome } : { state: 'running' }), ...(s.context.recreated ? { recreated: true } : {}), ...(s.superseded || s.rolledBack ? { muted: true } : {}) },
    ),
    timelineRows: model.timeline.length,
    totals: model.totals,
    newerEvents: model.newerEvents,
  };
}

/**
 * The messages that draw a review, its first step first: the overview with the step
 * to show as the record has it (its evidence "not checked yet": nothing is read, no
 * transcript decompressed, nothing hashed before it is drawn), then the same step once
 * its evidence is re-hashed against the record (altered and missing flagged) and its
 * test reports read. The timeline is not here: the panel asks for it once the step is
 * drawn. Each message is yielded before the next one is worked on, so a consumer that
 * sends one on receipt sends the unchecked step before the check begins.
 */
export async function* reviewMessages(
  review: Pick<ReviewService, 'checkIntegrity' | 'reportFailures'>,
  session: ReviewSession,
  options: { trusted: boolean; readOnly: boolean; stepId?: string | undefined },
  stages: { id: string; title: string; status: string }[],
): AsyncGenerator<Extract<ReviewHostMessage, { type: 'overview' | 'step' }>> {
  const step = session.model.steps.find((s) => s.id === options.stepId) ?? session.model.steps[0];
  yield { type: 'overview', overview: overviewOf(session.model, options, stages), ...(step ? { stepId: step.id, step } : {}) };
  if (!step) return;
  // Failing to check is not failing to show: the step stays "not checked yet".
  await review.checkIntegrity(session, [step.id]).catch(() => undefined);
  await review.reportFailures(session, [step.id]).catch(() => undefined);
  yield { type: 'step', step };
}

/** A piece of evidence for the panel: text inline (bounded), images as a data: URI, re-hashed first. */
export async function evidenceContent(review: ReviewService, session: ReviewSession, sha256: string): Promise<EvidenceContent> {
  try {
    const { ref, bytes } = await review.evidenceBytes(session, sha256);
    const type = ref.mediaType ?? guessType(ref.name);
    const base = { sha256, name: ref.name, ...(ref.mediaType ? { mediaType: ref.mediaType } : {}), integrity: 'verified' as const };
    if (/^image\/(png|jpeg|gif|webp)$/.test(type)) {
      if (bytes.length > MAX_INLINE_IMAGE) return { ...base, error: `The image is ${bytes.length} bytes: open it full size.` };
      return { ...base, dataUri: `data:${type};base64,${bytes.toString('base64')}` };
    }
    const text = bytes.toString('utf8');
    return { ...base, text: text.slice(0, MAX_INLINE_TEXT), ...(text.length > MAX_INLINE_TEXT ? { truncated: true } : {}) };
  } catch (error) {
    const altered = error instanceof EvidenceAlteredError;
    return { sha256, name: sha256.slice(0, 12), integrity: altered ? 'altered' : 'missing', error: error instanceof Error ? error.message : String(error) };
  }
}

function guessType(name: string): string {
  if (/\.png$/i.test(name)) return 'image/png';
  if (/\.jpe?g$/i.test(name)) return 'image/jpeg';
  return 'text/plain';
}

/** The diff's hunks with the decision recorded on each (by hunk identity). */
export type DecidedFile = Omit<DiffFile, 'hunks'> & { hunks: (DiffFile['hunks'][number] & { decision?: string })[] };

export function diffWithDecisions(files: DiffFile[], model: ReviewModel, attemptId: string): DecidedFile[] {
  const decided = new Map(model.hunks.filter((h) => h.attemptId === attemptId).map((h) => [`${h.path}\n${h.hunk}`, h.decision]));
  return files.map((f) => ({ ...f, hunks: f.hunks.map((h) => ({ ...h, ...(decided.has(`${f.path}\n${h.id}`) ? { decision: decided.get(`${f.path}\n${h.id}`)! } : {}) })) }));
}

// Untrusted text on VS Code surfaces (quick picks, notifications): one helper, reached through engine/.
export { plainDetail, plainLabel, plainMessage } from '../core/safeText';
