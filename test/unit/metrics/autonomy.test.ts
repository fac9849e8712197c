import { strict as assert } from 'node:assert';
import { PipelineSchema } from '../../../src/core/pipeline';
import { autonomyEvidence, effectiveAutonomy, globMatch, mayAutoAdvance, recommendations, wilson } from '../../../src/core/autonomy';
import { proposeLessons, normaliseReason } from '../../../src/core/lessons';
import { changeFacts, type ChangeFact } from '../../../src/core/metrics';
import { validateEvent, type FactoryEvent } from '../../../src/core/events';
import { ulid } from 'ulid';
import { DAY, History, T0 } from './history';

const pipeline = PipelineSchema.parse({
  version: 1,
  autonomyPolicy: { minSample: 5, threshold: 0.6, window: 10, revokeSendBacks: 2, revokeWindow: 5 },
  stages: [
    { id: 'plan', title: 'Plan', owner: { backend: 'claude-code', model: 'sonnet' }, autonomy: 'approve' },
    { id: 'implement', title: 'Implement', owner: { backend: 'codex', model: 'gpt-5' }, autonomy: 'auto' },
    { id: 'qa', title: 'QA', owner: { backend: 'codex', model: 'gpt-5' }, autonomy: 'auto', maxAutonomy: 'approve', neverAutoWhenTouching: ['src/billing/**'] },
  ],
});

function decision(type: string, data: Record<string, unknown>, at = T0): FactoryEvent {
  const r = validateEvent({ v: 1, id: ulid(at), change: 'factory', type, at: new Date(at).toISOString(), by: { name: 'Lee Lead' }, data });
  if (!r.ok) throw new Error(r.issue.message);
  return r.event;
}

/** n changes whose plan passes first time (`fails` of them retried), implement sent back `sentBack` times among the last ones. */
function history(n: number, fails: number, sentBack: number): ChangeFact[] {
  const facts: ChangeFact[] = [];
  for (let i = 0; i < n; i++) {
    const h = new History(`c${i}`, T0 + i * DAY).created();
    if (i < fails) h.attempt('plan', 'failed', { backend: 'claude-code', model: 'sonnet' });
    const p = h.attempt('plan', 'succeeded', { backend: 'claude-code', model: 'sonnet' });
    h.handoff('plan', p);
    const a = h.attempt('implement', 'succeeded', { backend: 'codex', model: 'gpt-5' });
    h.handoff('implement', a);
    if (i >= n - sentBack) {
      h.sentBack('qa', 'implement', 'missing error handling', a);
      const b = h.attempt('implement', 'succeeded', { backend: 'codex', model: 'gpt-5' });
      h.handoff('implement', b);
    }
    facts.push(changeFacts(h.changeId, pipeline, h.events));
  }
  return facts;
}

describe('autonomy earned from evidence', () => {
  it('the Wilson interval has the textbook values', () => {
    const w = wilson(8, 10);
    assert.equal(w.low.toFixed(4), '0.4902');
    assert.equal(w.high.toFixed(4), '0.9433');
    assert.deepEqual(wilson(0, 0), { low: 0, high: 1 });
    assert.equal(wilson(10, 10).high, 1);
  });

  it('recommends a grant when the lower bound over enough visits passes the threshold', () => {
    const facts = history(10, 0, 0);
    const evidence = autonomyEvidence(facts, pipeline);
    const plan = evidence.find((e) => e.stageId === 'plan')!;
    assert.equal(plan.n, 10);
    assert.equal(plan.firstPass, 10);
    assert.ok(plan.interval.low > 0.6);
    const recs = recommendations(evidence, effectiveAutonomy(pipeline, []), pipeline);
    assert.deepEqual(recs.map((r) => [r.stageId, r.owner, r.action]), [['plan', 'claude-code/sonnet', 'grant']]);
  });

  it('no grant below the minimum sample or with a weak interval', () => {
    assert.equal(recommendations(autonomyEvidence(history(4, 0, 0), pipeline), effectiveAutonomy(pipeline, []), pipeline).length, 0);
    assert.equal(recommendations(autonomyEvidence(history(10, 5, 0), pipeline), effectiveAutonomy(pipeline, []), pipeline).filter((r) => r.action === 'grant').length, 0);
  });

  it('recommends revoking after two send-backs in the last five', () => {
    const recs = recommendations(autonomyEvidence(history(8, 0, 2), pipeline), effectiveAutonomy(pipeline, []), pipeline);
    assert.deepEqual(recs.filter((r) => r.action === 'revoke').map((r) => [r.stageId, r.evidence.recentFailures]), [['implement', 2]]);
    assert.equal(recommendations(autonomyEvidence(history(8, 0, 1), pipeline), effectiveAutonomy(pipeline, []), pipeline).filter((r) => r.action === 'revoke').length, 0);
  });

  it('grants and revocations set the effective autonomy within the pipeline’s limit, saying why', () => {
    const granted = effectiveAutonomy(pipeline, [decision('autonomy.granted', { stageId: 'plan', note: 'earned' })]);
    assert.equal(granted.find((s) => s.stageId === 'plan')!.effective, 'auto');
    assert.match(granted.find((s) => s.stageId === 'plan')!.why, /granted by Lee Lead.*earned/);
    const revoked = effectiveAutonomy(pipeline, [decision('autonomy.granted', { stageId: 'plan' }, T0), decision('autonomy.revoked', { stageId: 'plan' }, T0 + DAY)]);
    assert.equal(revoked.find((s) => s.stageId === 'plan')!.effective, 'approve');
    // QA is capped at approve whatever pipeline.json's autonomy or a grant says.
    const qa = effectiveAutonomy(pipeline, [decision('autonomy.granted', { stageId: 'qa' })]).find((s) => s.stageId === 'qa')!;
    assert.equal(qa.effective, 'approve');
    assert.match(qa.why, /maxAutonomy/);
  });

  it('a risk path stops auto-advance for a change that touches it', () => {
    const implement = { ...effectiveAutonomy(pipeline, []).find((s) => s.stageId === 'implement')!, riskPaths: ['src/billing/**', '*.sql'] };
    assert.equal(mayAutoAdvance(implement, ['src/app.ts']).allowed, true);
    assert.equal(mayAutoAdvance(implement, ['src/billing/invoice.ts']).allowed, false);
    assert.equal(mayAutoAdvance(implement, ['migrate.sql']).allowed, false);
    assert.ok(globMatch('src/*/x.ts', 'src/a/x.ts') && !globMatch('src/*/x.ts', 'src/a/b/x.ts'));
  });
});

describe('lessons from recorded failures', () => {
  it('groups recurring reasons per stage with examples, and counts failures of a promoted kind before and after', () => {
    const facts = history(8, 0, 3);
    assert.equal(normaliseReason('3 tests failed in a1b2c3d4e5'), normaliseReason('12 tests failed in ffee001122'));
    const lessons = proposeLessons(facts);
    assert.equal(lessons[0]!.stageId, 'implement');
    assert.equal(lessons[0]!.kind, 'sentBack');
    assert.equal(lessons[0]!.count, 3);
    assert.equal(lessons[0]!.examples.length, 3);
    const promotedAt = T0 + 6.5 * DAY;
    const promoted = proposeLessons(facts, [decision('lesson.promoted', { lessonId: lessons[0]!.id, stageId: 'implement', kind: 'sentBack', text: 'Handle errors.', target: '.factory/conventions.md' }, promotedAt)]);
    const lesson = promoted.find((l) => l.id === lessons[0]!.id)!;
    assert.deepEqual([lesson.promoted!.before, lesson.promoted!.after], [2, 1]); // sent back on days 5 and 6, then 7
  });
});
