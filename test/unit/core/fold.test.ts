import * as assert from 'node:assert/strict';
import { defaultPipeline } from '../../../src/core/pipeline';
import { foldChange } from '../../../src/core/fold';
import { isEvent, isFromNewerVersion, validateEvent, type FactoryEvent } from '../../../src/core/events';
import { parseJsonSafely } from '../../../src/core/json';

let seq = 0;
const ids = () => `01JAAAAAAAAAAAAAAAAAAAA${String(seq++).padStart(3, '0')}`.replace(/[ILOU]/g, 'A');
function ev(type: string, data: Record<string, unknown>, id = ids()): FactoryEvent {
  const result = validateEvent({ v: 1, id, change: 'c-1', type, at: '2026-11-20T09:00:00.000Z', data });
  if (!result.ok) throw new Error(`${result.issue.field}: ${result.issue.message}`);
  return result.event;
}
const A1 = '01JAAAAAAAAAAAAAAAAAAAAZZ1';
const A2 = '01JAAAAAAAAAAAAAAAAAAAAZZ2';

describe('change fold', () => {
  beforeEach(() => {
    seq = 100;
  });

  it('starts with every stage pending and the first one active', () => {
    const s = foldChange('c-1', defaultPipeline(), [ev('change.created', { title: 'T', branch: 'main' })]);
    assert.equal(s.title, 'T');
    assert.equal(s.branch, 'main');
    assert.ok(s.stages.every((st) => st.status === 'pending'));
    assert.equal(s.activeStageId, 'plan');
    assert.equal(s.verification.state, 'none');
  });

  it('derives running, failed, needs approval and passed from attempts, reviews and handoffs', () => {
    const p = defaultPipeline();
    const created = ev('change.created', { title: 'T' });
    const started = ev('attempt.started', { stageId: 'plan', attemptId: A1, backend: 'claude-code' });
    assert.equal(foldChange('c-1', p, [created, started]).stages[0]!.status, 'running');
    const failed = ev('attempt.finished', { stageId: 'plan', attemptId: A1, outcome: 'failed', reason: 'exit 1' });
    const afterFail = foldChange('c-1', p, [created, started, failed]);
    assert.equal(afterFail.stages[0]!.status, 'failed');
    assert.equal(afterFail.stages[0]!.attempts[0]!.reason, 'exit 1');
    const retry = ev('attempt.started', { stageId: 'plan', attemptId: A2, backend: 'codex' });
    const ok = ev('attempt.finished', { stageId: 'plan', attemptId: A2, outcome: 'succeeded' });
    assert.equal(foldChange('c-1', p, [created, started, failed, retry, ok]).stages[0]!.status, 'needsApproval');
    const handoff = ev('handoff.recorded', { fromStage: 'plan', toStage: 'implement' });
    const done = foldChange('c-1', p, [created, started, failed, retry, ok, handoff]);
    assert.equal(done.stages[0]!.status, 'passed');
    assert.equal(done.stages[0]!.attempts.length, 2);
    assert.equal(done.activeStageId, 'implement');
  });

  it('tolerates a finish read before its start (clock drift between machines)', () => {
    const finish = ev('attempt.finished', { stageId: 'plan', attemptId: A1, outcome: 'succeeded' }, '01JAAAAAAAAAAAAAAAAAAAA001');
    const start = ev('attempt.started', { stageId: 'plan', attemptId: A1, backend: 'codex', model: 'm' }, '01JAAAAAAAAAAAAAAAAAAAA002');
    const s = foldChange('c-1', defaultPipeline(), [start, finish]);
    assert.equal(s.stages[0]!.attempts.length, 1);
    assert.equal(s.stages[0]!.attempts[0]!.outcome, 'succeeded');
    assert.equal(s.stages[0]!.attempts[0]!.backend, 'codex');
    assert.equal(s.stages[0]!.status, 'needsApproval');
  });

  it('marks a verified stage stale when the working tree moved on', () => {
    const events = [
      ev('verification.recorded', { stageId: 'plan', criterionId: 'plan-written', outcome: 'passed', verified: { tree: 'aaa' } }),
      ev('handoff.recorded', { fromStage: 'plan' }),
    ];
    assert.equal(foldChange('c-1', defaultPipeline(), events, { currentTree: 'aaa' }).stages[0]!.status, 'passed');
    const moved = foldChange('c-1', defaultPipeline(), events, { currentTree: 'bbb' });
    assert.equal(moved.stages[0]!.status, 'stale');
  });

  it('summarizes the active stage verification with counts', () => {
    const events = [
      ev('verification.recorded', { stageId: 'plan', criterionId: 'a', outcome: 'passed', verified: { tree: 't1' } }),
      ev('verification.recorded', { stageId: 'plan', criterionId: 'b', outcome: 'failed', verified: { tree: 't1' } }),
    ];
    assert.deepEqual(foldChange('c-1', defaultPipeline(), events, { currentTree: 't1' }).verification, { state: 'failed', passed: 1, failed: 1, stale: 0, total: 2 });
    const rerun = [...events, ev('verification.recorded', { stageId: 'plan', criterionId: 'b', outcome: 'passed', verified: { tree: 't1' } })];
    assert.equal(foldChange('c-1', defaultPipeline(), rerun, { currentTree: 't1' }).verification.state, 'passed');
    assert.equal(foldChange('c-1', defaultPipeline(), rerun, { currentTree: 't2' }).verification.state, 'stale');
  });

  it('counts events of unknown types without folding them', () => {
    const future = validateEvent({ v: 1, id: '01JAAAAAAAAAAAAAAAAAAAA009', change: 'c-1', type: 'mystery.happened', at: '2026-11-20T09:00:00Z', data: { x: 1 } });
    assert.ok(future.ok);
    const newer = validateEvent({ v: 9, id: '01JAAAAAAAAAAAAAAAAAAAA010', change: 'c-1', type: 'change.created', at: '2026-11-20T09:00:00Z', data: { whatever: true } });
    assert.ok(newer.ok, 'a newer version is kept, not rejected');
    const s = foldChange('c-1', defaultPipeline(), [ev('change.created', { title: 'T' }), future.event, newer.event]);
    assert.equal(s.unknownEvents, 2);
    assert.equal(s.title, 'T');
  });

  it('reports the failing field of a malformed event', () => {
    const bad = validateEvent({ v: 1, id: '01JAAAAAAAAAAAAAAAAAAAA011', change: 'c-1', type: 'attempt.finished', at: '2026-11-20T09:00:00Z', data: { stageId: 'plan', attemptId: A1, outcome: 42 } });
    assert.equal(bad.ok, false);
    assert.equal(!bad.ok && bad.issue.field, 'data.outcome');
    const missing = validateEvent({ v: 1, id: '01JAAAAAAAAAAAAAAAAAAAA012', change: 'c-1', type: 'attempt.finished', at: '2026-11-20T09:00:00Z', data: { attemptId: A1, outcome: 'failed' } });
    assert.equal(!missing.ok && missing.issue.field, 'data.stageId');
  });

  it('keeps, shows and never folds an event carrying a value only a newer version knows', () => {
    // A newer teammate's outcome and decision: an older version must not set these aside (the move would be committed).
    const outcome = validateEvent({ v: 1, id: '01JAAAAAAAAAAAAAAAAAAAA013', change: 'c-1', type: 'attempt.finished', at: '2026-11-20T09:00:00Z', data: { stageId: 'plan', attemptId: A1, outcome: 'handedToHuman' } });
    const decision = validateEvent({ v: 1, id: '01JAAAAAAAAAAAAAAAAAAAA014', change: 'c-1', type: 'review.decided', at: '2026-11-20T09:00:00Z', data: { stageId: 'plan', decision: 'escalated' } });
    assert.ok(outcome.ok && decision.ok);
    assert.ok(isFromNewerVersion(outcome.event) && isFromNewerVersion(decision.event));
    assert.equal(isEvent(outcome.event, 'attempt.finished'), false);
    const s = foldChange('c-1', defaultPipeline(), [ev('change.created', { title: 'T' }), ev('attempt.started', { stageId: 'plan', attemptId: A1, backend: 'claude-code' }), outcome.event, decision.event]);
    assert.equal(s.unknownEvents, 2);
    assert.equal(s.stages[0]!.status, 'running', 'the finish this version cannot read is not folded as a finish');
  });

  it('drops prototype-polluting keys and says where', () => {
    const { value, droppedKeys } = parseJsonSafely('{"a":{"__proto__":{"polluted":true},"b":1},"constructor":{"prototype":{}}}');
    assert.deepEqual(droppedKeys.sort(), ['a.__proto__', 'constructor']);
    assert.deepEqual(value, { a: { b: 1 } });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
