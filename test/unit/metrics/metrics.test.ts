import { strict as assert } from 'node:assert';
import { PipelineSchema } from '../../../src/core/pipeline';
import { changeFacts, computeMetrics, dayKey, mergeEvents, quantile, weekKey, type ChangeFact } from '../../../src/core/metrics';
import { DAY, History, HOUR, MIN, T0 } from './history';

const pipeline = PipelineSchema.parse({
  version: 1,
  stages: [
    { id: 'plan', title: 'Plan', owner: { backend: 'claude-code' } },
    { id: 'implement', title: 'Implement', owner: { backend: 'codex' } },
    { id: 'test', title: 'Test', owner: { backend: 'claude-code' } },
  ],
});
const order = pipeline.stages.map((s) => s.id);
const facts = (h: History, options = {}): ChangeFact => changeFacts(h.changeId, pipeline, h.events, options);

describe('metrics: one change', () => {
  it('a clean run: kept the signal, every stage first pass, times from the record', () => {
    const h = new History('clean').created('Clean');
    h.cleanRun(order, { costUsd: 0.5 });
    const f = facts(h);
    assert.equal(f.signal.verdict, true);
    assert.deepEqual(f.signal.breaks, []);
    assert.equal(f.completed, true);
    assert.equal(f.doneAt, T0 + 30 * MIN);
    assert.equal(f.signal.decidedAt, T0 + 30 * MIN);
    assert.deepEqual(f.stages.map((s) => s.firstPass), [true, true, true]);
    assert.deepEqual(f.stages.map((s) => [s.startedAt, s.endedAt]), [[T0, T0 + 10 * MIN], [T0 + 10 * MIN, T0 + 20 * MIN], [T0 + 20 * MIN, T0 + 30 * MIN]]);
    assert.equal(f.costUsd, 1.5);
    assert.equal(f.stages[0]!.workMs, 10 * MIN);
    assert.equal(f.failures.length, 0);
  });

  it('a change with no stage done is incomplete, waits in its first stage, and has no first-pass verdict', () => {
    const h = new History('idle').created('Idle');
    const f = facts(h);
    assert.equal(f.signal.verdict, 'incomplete');
    assert.equal(f.completed, false);
    assert.equal(f.activeStageId, 'plan');
    assert.equal(f.waitingFor, 'start');
    assert.ok(f.stages.every((s) => s.firstPass === undefined && s.attempts === 0));
  });

  it('a retry: the failure is an agent error, the stage is not first pass, one retry', () => {
    const h = new History('retry').created();
    const p = h.attempt('plan', 'succeeded');
    h.handoff('plan', p);
    h.attempt('implement', 'failed', { reason: 'exit 1', backend: 'codex', model: 'gpt-5' });
    const a2 = h.attempt('implement', 'succeeded', { backend: 'codex', model: 'gpt-5' });
    h.handoff('implement', a2);
    const f = facts(h);
    const impl = f.stages[1]!;
    assert.equal(impl.firstPass, false);
    assert.equal(impl.retries, 1);
    assert.equal(impl.attempts, 2);
    assert.equal(impl.owner, 'codex/gpt-5');
    assert.deepEqual(f.failures.map((x) => [x.kind, x.stageId, x.reason]), [['agentError', 'implement', 'exit 1']]);
    assert.equal(f.stages[0]!.firstPass, true);
  });

  it('a verification failure after a succeeded attempt counts as verification failed, with the criterion message', () => {
    const h = new History('verify').created();
    h.attempt('plan', 'succeeded', { verify: 'failed', reason: 'PLAN.md missing' });
    const f = facts(h);
    assert.deepEqual(f.failures.map((x) => [x.kind, x.reason]), [['verificationFailed', 'PLAN.md missing']]);
    assert.equal(f.stages[0]!.firstPass, false);
  });

  it('a criterion that failed keeps its attempt failed when another criterion passes after it', () => {
    const h = new History('verify-then-pass').created();
    const a = h.attempt('plan', 'succeeded', { verify: 'failed', reason: 'PLAN.md missing' });
    h.wait(MIN).add('verification.recorded', { stageId: 'plan', criterionId: 'lint', attemptId: a, outcome: 'passed', required: true });
    const f = facts(h);
    assert.deepEqual(f.failures.map((x) => [x.kind, x.reason]), [['verificationFailed', 'PLAN.md missing']]);
    assert.equal(f.stages[0]!.firstPass, false);
  });

  it('timeouts and budgets are their own kinds', () => {
    const h = new History('kinds').created();
    h.attempt('plan', 'timedOut');
    h.attempt('plan', 'budgetExceeded');
    assert.deepEqual(facts(h).failures.map((x) => x.kind), ['timeout', 'budget']);
  });

  it('a rollback: counted against the stage, which is then not first pass even when the next attempt passes', () => {
    const h = new History('rollback').created();
    const a1 = h.attempt('plan', 'succeeded');
    h.rolledBack('plan', a1);
    const a2 = h.attempt('plan', 'succeeded');
    h.handoff('plan', a2);
    const plan = facts(h).stages[0]!;
    assert.equal(plan.rollbacks, 1);
    assert.equal(plan.firstPass, false);
    assert.equal(plan.status, 'passed');
    assert.ok(facts(h).failures.some((x) => x.kind === 'rolledBack' && x.attemptId === a1));
  });

  it('a send-back to an earlier stage: counted against the reopened stage; the superseded later stage is judged on its live attempts', () => {
    const h = new History('sendback').created();
    const p = h.attempt('plan', 'succeeded');
    h.handoff('plan', p);
    const i1 = h.attempt('implement', 'succeeded', { backend: 'codex' });
    h.handoff('implement', i1);
    const t1 = h.attempt('test', 'succeeded');
    h.sentBack('test', 'implement', 'no error handling', i1, [t1]);
    const i2 = h.attempt('implement', 'succeeded', { backend: 'codex' });
    h.handoff('implement', i2);
    const t2 = h.attempt('test', 'succeeded');
    h.handoff('test', t2);
    const f = facts(h);
    const [plan, impl, test] = f.stages;
    assert.equal(plan!.firstPass, true);
    assert.equal(impl!.sendBacks, 1);
    assert.equal(impl!.retries, 0, 'the attempt after a send-back is not a retry');
    assert.equal(impl!.firstPass, false);
    assert.equal(test!.attempts, 1, 'the superseded attempt no longer counts');
    assert.equal(test!.firstPass, true);
    assert.deepEqual(f.failures.filter((x) => x.kind === 'sentBack').map((x) => [x.stageId, x.reason, x.owner]), [['implement', 'no error handling', 'codex']]);
    assert.equal(f.signal.verdict, true, 'the reopened stage consumed what the send-back handed it');
  });

  it('re-created context breaks the signal at that stage, with the reason and when', () => {
    const h = new History('broken').created();
    const p = h.attempt('plan', 'succeeded');
    h.handoff('plan', p);
    h.wait(HOUR);
    const at = h.now;
    h.attempt('implement', 'succeeded', { consumes: 'something-else' });
    const f = facts(h);
    assert.equal(f.signal.verdict, false);
    assert.equal(f.signal.breaks.length, 1);
    assert.equal(f.signal.breaks[0]!.stageId, 'implement');
    assert.match(f.signal.breaks[0]!.reason, /consumed version something-e/);
    assert.equal(f.signal.decidedAt, at);
  });

  it('an attempt started with no handoff into its stage breaks the signal, as changeSignal says', async () => {
    const { changeSignal } = await import('../../../src/core/signal');
    const h = new History('no-handoff').created();
    h.attempt('plan', 'succeeded');
    const at = h.now;
    const a = h.attempt('implement', 'succeeded');
    const f = facts(h);
    const expected = changeSignal(h.changeId, pipeline, h.events);
    assert.equal(f.signal.verdict, false);
    assert.deepEqual(f.signal.breaks, [{ stageId: 'implement', attemptId: a, reason: expected.recreated[0]!.reason, at }]);
    assert.match(f.signal.breaks[0]!.reason, /plan had not handed off/);
  });

  it('a change through every stage on nothing but an agent\'s word is decided, not kept', () => {
    const h = new History('word').created();
    for (const stage of order) h.handoff(stage, h.attempt(stage, 'succeeded', { verify: null }));
    const f = facts(h);
    assert.equal(f.signal.verdict, 'unverified');
    assert.deepEqual(f.signal.breaks.map((b) => b.stageId), order);
    const m = computeMetrics([f, facts(new History('ok').created().cleanRun(order))], order, { now: h.now + DAY });
    assert.equal(m.signal.unverified, 1);
    assert.equal(m.signal.share, 0.5);
    assert.equal(m.rows.find((r) => r.id === 'word')!.signal, 'unverified');
  });

  it('time waiting for a person is apart from time working', () => {
    const h = new History('wait').created();
    const a = h.attempt('plan', 'succeeded', { ms: 20 * MIN });
    h.approvalRequested('plan', a);
    h.wait(2 * HOUR);
    h.approved('plan');
    h.handoff('plan', a);
    const plan = facts(h).stages[0]!;
    assert.equal(plan.workMs, 20 * MIN);
    assert.equal(plan.personWaitMs, 2 * HOUR);
  });

  it('clock skew between machines: durations come from the record, never negative; the signal holds', () => {
    const h = new History('skew').created();
    const p = h.attempt('plan', 'succeeded');
    h.handoff('plan', p);
    // The implementer's machine is two hours behind: its events sort before the handoff.
    const i = h.attempt('implement', 'succeeded', { skewMs: -2 * HOUR, ms: 15 * MIN });
    h.handoff('implement', i);
    const t = h.attempt('test', 'succeeded');
    h.handoff('test', t);
    const f = facts(h);
    assert.equal(f.stages[1]!.workMs, 15 * MIN);
    assert.ok(f.stages.every((s) => s.endedAt === undefined || s.startedAt === undefined || s.endedAt - s.startedAt >= -3 * HOUR));
    assert.equal(f.signal.verdict, true, 'a handoff recorded "later" by clock that carried the consumed version is accepted');
    const m = computeMetrics([f], order, { now: h.now });
    assert.ok(m.stages.every((s) => (s.timeInStage.median ?? 0) >= 0));
    assert.ok((m.flow.leadTime.median ?? 0) >= 0);
  });

  it('the same change on two merged branches is one change; events are the same by id', () => {
    const h = new History('merged').created();
    const p = h.attempt('plan', 'succeeded');
    h.handoff('plan', p);
    const shared = [...h.events];
    const i = h.attempt('implement', 'succeeded');
    h.handoff('implement', i);
    const onFeature = [...h.events];
    const onMain = [...shared];
    const merged = mergeEvents([onMain, onFeature]);
    assert.equal(merged.length, onFeature.length);
    const f = changeFacts('merged', pipeline, merged, { branches: ['refs/heads/main', 'refs/heads/feature'] });
    assert.deepEqual(f.branches, ['refs/heads/main', 'refs/heads/feature']);
    assert.equal(f.stages[1]!.status, 'passed');
    const m = computeMetrics([f], order, { now: h.now, filter: { branch: 'refs/heads/main' } });
    assert.equal(m.changes, 1);
  });

  it('an approval committed by someone else than the actor it names stands out', () => {
    const h = new History('forged').created();
    const a = h.attempt('plan', 'succeeded');
    const approval = h.add('review.decided', { stageId: 'plan', decision: 'approved' }, { by: { name: 'Lead', email: 'lead@example.com' } });
    h.handoff('plan', a);
    const f = facts(h, { committers: new Map([[approval.id, { name: 'Mallory', email: 'mallory@fork.example' }]]) });
    assert.deepEqual(f.actorMismatches.map((m) => [m.type, m.actor, m.committer]), [['review.decided', 'Lead', 'Mallory <mallory@fork.example>']]);
    const honest = facts(h, { committers: new Map([[approval.id, { name: 'L', email: 'LEAD@example.com' }]]) });
    assert.equal(honest.actorMismatches.length, 0);
  });
});

describe('metrics: many changes', () => {
  /** Three finished changes in week 1 and 2, one broken, one stuck, one running. */
  function team(): { all: ChangeFact[]; now: number } {
    const a = new History('a', T0).created('A');
    a.cleanRun(order, { backend: 'codex', model: 'm1' }); // lead 30 min, week of T0
    const b = new History('b', T0 + 7 * DAY).created('B');
    const bp = b.attempt('plan', 'succeeded', { backend: 'codex', model: 'm1' });
    b.handoff('plan', bp);
    b.attempt('implement', 'failed', { backend: 'codex', model: 'm1', reason: 'tests fail' });
    const bi = b.attempt('implement', 'succeeded', { backend: 'codex', model: 'm1' });
    b.handoff('implement', bi);
    const bt = b.attempt('test', 'succeeded', { backend: 'codex', model: 'm1' });
    b.handoff('test', bt); // lead 40 min, second week
    const c = new History('c', T0 + 8 * DAY).created('C');
    const cp = c.attempt('plan', 'succeeded', { backend: 'claude-code' });
    c.handoff('plan', cp);
    c.attempt('implement', 'succeeded', { consumes: 'wrong', backend: 'claude-code' }); // broken, open
    const d = new History('d', T0 + 1 * DAY).created('D'); // no event since, stuck
    const e = new History('e', T0 + 9 * DAY).created('E');
    e.attempt('plan', 'failed', { reason: 'tests fail' });
    const now = T0 + 10 * DAY;
    return { all: [a, b, c, d, e].map((h) => changeFacts(h.changeId, pipeline, h.events)), now };
  }

  it('the signal share over decided changes, and the changes that broke it', () => {
    const { all, now } = team();
    const m = computeMetrics(all, order, { now });
    assert.equal(m.signal.kept, 2);
    assert.equal(m.signal.recreated, 1);
    assert.equal(m.signal.incomplete, 2);
    assert.equal(m.signal.share, 2 / 3);
    assert.equal(m.headline.signalShare, 2 / 3);
    assert.deepEqual(m.signal.broken.map((x) => [x.changeId, x.stageId]), [['c', 'implement']]);
    assert.deepEqual(m.signal.byStage, [{ stageId: 'implement', count: 1 }]);
    // Weekly: a in the first week, b and c in the second.
    assert.deepEqual(m.signal.weekly.map((w) => [w.week, w.kept, w.recreated]), [['2026-11-02', 1, 0], ['2026-11-09', 1, 1]]);
  });

  it('a period keeps only what was decided in it', () => {
    const { all, now } = team();
    const m = computeMetrics(all, order, { now, filter: { since: T0 + 7 * DAY } });
    assert.equal(m.signal.kept, 1);
    assert.equal(m.signal.recreated, 1);
    assert.equal(m.flow.weekly.reduce((s, w) => s + w.done, 0), 1);
  });

  it('where work gets stuck: no event for N days, oldest first, and what each waits for', () => {
    const { all, now } = team();
    const m = computeMetrics(all, order, { now, stuckDays: 1 });
    assert.deepEqual(m.stuck.map((s) => [s.changeId, s.stageId, s.waitingFor, s.idleDays]), [
      ['d', 'plan', 'start', 9],
      ['c', 'implement', 'person', 1],
    ]);
    assert.equal(computeMetrics(all, order, { now, stuckDays: 5 }).stuck.length, 1);
    assert.equal(m.rows.find((r) => r.id === 'd')!.state, 'stuck');
  });

  it('per stage and per owner: first-pass rate, retries, time in stage, failures', () => {
    const { all, now } = team();
    const m = computeMetrics(all, order, { now });
    const impl = m.stages.find((s) => s.stageId === 'implement')!;
    // a: first pass; b: retried; c: succeeded, not handed off (undecided).
    assert.equal(impl.visits, 3);
    assert.equal(impl.decided, 2);
    assert.equal(impl.firstPass, 1);
    assert.equal(impl.firstPassRate, 0.5);
    assert.equal(impl.retries, 1);
    assert.equal(impl.timeInStage.median, 15 * MIN); // 10 and 20 minutes
    assert.equal(impl.timeInStage.p90, 19 * MIN);
    assert.equal(impl.failures.agentError, 1);
    const byOwner = m.stageOwners.filter((s) => s.stageId === 'implement').map((s) => [s.owner, s.visits, s.firstPassRate]);
    assert.deepEqual(byOwner, [['codex/m1', 2, 0.5], ['claude-code', 1, undefined]]);
    const plan = m.stages.find((s) => s.stageId === 'plan')!;
    assert.equal(plan.firstPassRate, 3 / 4);
    assert.deepEqual(m.hotspots.map((x) => [x.stageId, x.kind, x.count]), [['plan', 'agentError', 1], ['implement', 'agentError', 1]]);
  });

  it('filters by owner and stage narrow the rows', () => {
    const { all, now } = team();
    const m = computeMetrics(all, order, { now, filter: { owner: 'codex/m1', stage: 'implement' } });
    assert.deepEqual(m.stageOwners.map((s) => s.owner), ['codex/m1']);
    assert.deepEqual(m.rows.map((r) => r.id).sort(), ['a', 'b']);
    assert.ok(m.choices.owners.includes('claude-code'));
  });

  it('flow: throughput per week, lead time, work in progress, cumulative flow', () => {
    const { all, now } = team();
    const m = computeMetrics(all, order, { now });
    assert.deepEqual(m.flow.weekly.map((w) => [w.week, w.started, w.done]), [['2026-11-02', 2, 1], ['2026-11-09', 3, 1]]);
    assert.equal(m.flow.leadTime.median, 35 * MIN);
    assert.equal(m.flow.wip, 3);
    assert.equal(m.headline.throughputLastWeek, 1);
    const [w1, w2] = m.flow.cumulative;
    assert.deepEqual(w1!.counts, { plan: 1, implement: 0, test: 0, done: 1 });
    assert.deepEqual(w2!.counts, { plan: 2, implement: 1, test: 0, done: 2 });
  });
});

describe('metrics: numbers and calendars', () => {
  it('quantiles interpolate between ranks', () => {
    assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
    assert.equal(quantile([10, 20], 0.9), 19);
    assert.equal(quantile([], 0.5), undefined);
  });

  it('days and weeks are the user’s time zone', () => {
    const sundayEveningInLa = Date.parse('2026-11-02T02:00:00Z');
    assert.equal(dayKey(sundayEveningInLa, 'UTC'), '2026-11-02');
    assert.equal(dayKey(sundayEveningInLa, 'America/Los_Angeles'), '2026-11-01');
    assert.equal(weekKey(sundayEveningInLa, 'UTC'), '2026-11-02');
    assert.equal(weekKey(sundayEveningInLa, 'America/Los_Angeles'), '2026-10-26');
  });
});

describe('metrics: the signal as the signal module decides it', () => {
  it('every change of a generated history has the verdict and breaks changeSignal gives', async () => {
    const { planHistory } = await import('../../../scripts/sample-history');
    const { changeSignal } = await import('../../../src/core/signal');
    const { defaultPipeline } = await import('../../../src/core/pipeline');
    const { validateEvent } = await import('../../../src/core/events');
    const { ulid } = await import('ulid');
    const p = defaultPipeline();
    const byChange = new Map<string, import('../../../src/core/events').FactoryEvent[]>();
    for (const e of planHistory({ changes: 120, weeks: 8, now: T0, seed: 5 }).pending) {
      const r = validateEvent({ v: 1, id: ulid(e.t), change: e.changeId, type: e.draft.type, at: new Date(e.t).toISOString(), by: e.draft.by, data: e.draft.data });
      assert.ok(r.ok);
      byChange.set(e.changeId, [...(byChange.get(e.changeId) ?? []), r.event]);
    }
    const verdicts = new Set<unknown>();
    for (const [id, events] of byChange) {
      const expected = changeSignal(id, p, events);
      const f = changeFacts(id, p, events);
      verdicts.add(f.signal.verdict);
      assert.equal(f.signal.verdict, expected.verdict, id);
      if (expected.verdict === false) assert.deepEqual(f.signal.breaks.map((b) => [b.attemptId, b.reason]), expected.recreated.map((c) => [c.attemptId, c.reason]), id);
    }
    assert.ok(verdicts.has(true) && verdicts.has(false) && verdicts.has('incomplete'), [...verdicts].join());
  });
});
