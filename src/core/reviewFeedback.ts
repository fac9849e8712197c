// What a reviewer said about a change since their last decision, for the stage that
// runs next: the hunks rejected (reverted in the working tree) and kept, and the
// comments on steps and diff lines. The engine hands it on as one context pack item
// at a send-back or an approval, so the next run's pack (and the version the signal
// compares) carries it; a decision with nothing new leaves no stale feedback behind.
import { isEvent, type FactoryEvent } from './events';
import { compareEvents } from './fold';

/** The pack item kind; one such item per pack at most (core/contextPack.ts contextItemId). */
export const REVIEW_FEEDBACK_KIND = 'reviewFeedback';

export interface RejectedHunk {
  stageId: string;
  attemptId?: string;
  path: string;
  /** The hunk's first line in the attempt's version of the file (from its header). */
  line?: number;
  header?: string;
  note?: string;
}

export interface FeedbackComment {
  body: string;
  by?: string;
  stageId?: string;
  attemptId?: string;
  path?: string;
  line?: number;
}

export interface ReviewFeedback {
  rejected: RejectedHunk[];
  kept: number;
  comments: FeedbackComment[];
}

/** The decision that hands the feedback on. */
export interface FeedbackDecision {
  decision: 'sentBack' | 'approved';
  fromStage: string;
  /** The stage whose next run gets it: the reopened one, or the one after the approved stage. */
  toStage: string;
  by?: string;
  note?: string;
}

/**
 * Hunk decisions and comments recorded after the latest send-back or approval: what
 * no decision has handed on yet. The latest decision on a hunk wins (rejected, then
 * kept, counts as kept).
 */
export function pendingReviewFeedback(events: readonly FactoryEvent[]): ReviewFeedback {
  const ordered = [...events].sort(compareEvents);
  let since = -1;
  ordered.forEach((event, index) => {
    if (isEvent(event, 'stage.sentBack') || isEvent(event, 'review.decided')) since = index;
  });
  const hunks = new Map<string, { decision: string; hunk: RejectedHunk }>();
  const comments: FeedbackComment[] = [];
  for (const event of ordered.slice(since + 1)) {
    if (isEvent(event, 'review.hunkDecided')) {
      const d = event.data;
      const line = d.header ? Number(/\+(\d+)/.exec(d.header)?.[1]) : NaN;
      hunks.set(`${d.attemptId ?? ''}\n${d.path}\n${d.hunk}`, {
        decision: d.decision,
        hunk: { stageId: d.stageId, path: d.path, ...(d.attemptId ? { attemptId: d.attemptId } : {}), ...(Number.isFinite(line) ? { line } : {}), ...(d.header ? { header: d.header } : {}), ...(d.note ? { note: d.note } : {}) },
      });
    } else if (isEvent(event, 'review.commented') && event.data.body.trim()) {
      const d = event.data;
      comments.push({
        body: d.body.trim(),
        ...(event.by?.name ? { by: event.by.name } : {}),
        ...(d.stageId ? { stageId: d.stageId } : {}),
        ...(d.attemptId ? { attemptId: d.attemptId } : {}),
        ...(d.path ? { path: d.path } : {}),
        ...(d.line !== undefined ? { line: d.line } : {}),
      });
    }
  }
  const decided = [...hunks.values()];
  return { rejected: decided.filter((h) => h.decision === 'rejected').map((h) => h.hunk), kept: decided.filter((h) => h.decision === 'accepted').length, comments };
}

export function hasFeedback(feedback: ReviewFeedback): boolean {
  return feedback.rejected.length > 0 || feedback.kept > 0 || feedback.comments.length > 0;
}

/** How the text names attempts ("Implement attempt 2", see attemptLabels) and stages (their titles). */
export interface FeedbackNames {
  attempts?: ReadonlyMap<string, string>;
  stageTitle?: (stageId: string) => string;
}

/**
 * The feedback as the pack item's text (markdown): who decided what, the rejected
 * hunks by file:line, the comments by where they were made.
 */
export function renderReviewFeedback(feedback: ReviewFeedback, decision: FeedbackDecision, names: FeedbackNames = {}): string {
  const attempts = names.attempts ?? new Map<string, string>();
  const stage = names.stageTitle ?? ((id: string) => id);
  const who = decision.by ? ` (${decision.by})` : '';
  const lines = [
    decision.decision === 'sentBack'
      ? `The reviewer${who} sent the change back from ${decision.fromStage} to ${decision.toStage}${decision.note ? `: ${decision.note}` : '.'}`
      : `The reviewer${who} approved ${decision.fromStage}${decision.note ? ` with this note: ${decision.note}` : '.'}`,
  ];
  if (feedback.rejected.length) {
    lines.push('', 'Rejected hunks (the reviewer reverted them in the working tree; do not bring them back):');
    for (const h of feedback.rejected) lines.push(`- ${h.path}${h.line ? `:${h.line}` : ''}${h.header ? ` \`${h.header}\`` : ''} (${(h.attemptId && attempts.get(h.attemptId)) ?? stage(h.stageId)})${h.note ? `: ${h.note}` : ''}`);
  }
  if (feedback.kept) lines.push('', `Kept: ${feedback.kept} hunk${feedback.kept === 1 ? '' : 's'} the reviewer accepted as they are.`);
  if (feedback.comments.length) {
    lines.push('', 'Comments:');
    for (const c of feedback.comments) {
      const where = c.path ? `${c.path}${c.line ? `:${c.line}` : ''}` : c.attemptId && attempts.get(c.attemptId) ? attempts.get(c.attemptId)! : c.stageId ? `stage ${stage(c.stageId)}` : 'the change';
      lines.push(`- ${where}${c.by ? `, ${c.by}` : ''}: ${c.body.replace(/\n+/g, ' ')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** "Implement attempt 2" per attempt id, from the record's attempt.started events. */
export function attemptLabels(events: readonly FactoryEvent[], stageTitle: (stageId: string) => string): Map<string, string> {
  const labels = new Map<string, string>();
  for (const event of events) {
    if (isEvent(event, 'attempt.started')) labels.set(event.data.attemptId, `${stageTitle(event.data.stageId)} attempt ${event.data.number ?? '?'}`);
  }
  return labels;
}
