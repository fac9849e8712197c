// Hands a reviewer's feedback on at a decision (core/reviewFeedback.ts): the factory's
// sendBack and approve call it before recording the decision, so the pack version the
// send-back or handoff names already holds it and the signal sees the next run consume
// it. The run that had it drops it at its own handoff (stageRunner's handOff).
import type { ChangeState } from '../core/fold';
import { attemptLabels, hasFeedback, pendingReviewFeedback, renderReviewFeedback } from '../core/reviewFeedback';
import type { ContextPackStore } from '../store/contextPackStore';
import type { RecordStore } from '../store/recordStore';

export interface FeedbackInput {
  decision: 'sentBack' | 'approved';
  fromStage: string;
  /** The reopened stage; for an approval, the stage after `fromStage`. */
  toStage?: string;
  note?: string;
  by?: string;
}

/** Puts the feedback not yet handed on into the pack for the stage that runs next; false when there is none (or no next stage). */
export async function handOnReviewFeedback(deps: { store: Pick<RecordStore, 'readChange'>; context: ContextPackStore }, change: ChangeState, input: FeedbackInput): Promise<boolean> {
  const index = change.stages.findIndex((s) => s.id === input.fromStage);
  const toStage = input.decision === 'sentBack' ? input.toStage : change.stages[index + 1]?.id;
  if (!toStage) return false;
  const { events } = await deps.store.readChange(change.id);
  const feedback = pendingReviewFeedback(events);
  if (!hasFeedback(feedback) && !input.note?.trim()) return false;
  const title = (id: string) => change.stages.find((s) => s.id === id)?.title ?? id;
  const text = renderReviewFeedback(
    feedback,
    { decision: input.decision, fromStage: title(input.fromStage), toStage: title(toStage), ...(input.by ? { by: input.by } : {}), ...(input.note?.trim() ? { note: input.note.trim() } : {}) },
    { attempts: attemptLabels(events, title), stageTitle: title },
  );
  await deps.context.setReviewFeedback(change.id, { stageId: toStage, text });
  return true;
}
