// A run that "succeeded" while its tool calls were refused reads as such in the review:
// the attempt's heading counts them, the timeline names them, and the model shows the
// one asked for next to the one the agent reported.
import * as assert from 'node:assert/strict';
import { foldContextPack } from '../../../src/core/contextPack';
import type { FactoryEvent } from '../../../src/core/events';
import { foldChange } from '../../../src/core/fold';
import { defaultPipeline } from '../../../src/core/pipeline';
import { buildReview } from '../../../src/core/review';
import { checkAttemptsContext } from '../../../src/core/signal';

const at = '2026-11-30T10:00:00.000Z';
const ev = (id: string, type: string, data: Record<string, unknown>): FactoryEvent => ({ v: 1, id, change: 'c-1', type, at, by: { name: 'Dana' }, data });

describe('review: failed tool calls and the reported model', () => {
  it('counts and names the failed tool calls of an attempt that ended normally', () => {
    const A = '01JAAAAAAAAAAAAAAAAAAAAAA1';
    const events = [
      ev('01JAAAAAAAAAAAAAAAAAAAAA01', 'change.created', { title: 'T' }),
      ev('01JAAAAAAAAAAAAAAAAAAAAA02', 'attempt.started', { stageId: 'plan', attemptId: A, backend: 'claude-code', model: 'claude-sonnet-4-5' }),
      ev('01JAAAAAAAAAAAAAAAAAAAAA03', 'attempt.finished', {
        stageId: 'plan',
        attemptId: A,
        outcome: 'succeeded',
        reportedModel: 'claude-sonnet-4-5-20250929',
        failedToolCalls: [{ name: 'Write', reason: 'permission denied: ../outside.txt' }, { name: 'Bash' }],
      }),
    ];
    const pipeline = defaultPipeline();
    const change = foldChange('c-1', pipeline, events);
    const model = buildReview({ change, events, pack: foldContextPack(events), checks: checkAttemptsContext(events, pipeline.stages.map((s) => s.id)) });
    const step = model.steps.find((s) => s.kind === 'attempt')!;
    assert.equal(step.heading, 'Plan — attempt 1, 2 failed tool calls');
    assert.equal(step.kind === 'attempt' && step.model, 'claude-sonnet-4-5 → claude-sonnet-4-5-20250929');
    const finished = model.timeline.find((t) => t.kind === 'attempt' && /succeeded/.test(t.text))!;
    assert.match(finished.text, /\(2 failed tool calls: Write, Bash\)/);
  });
});
