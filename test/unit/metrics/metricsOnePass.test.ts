// computeMetrics collects every metric in one pass over the changes, and the facts read
// the store's timestamps digit by digit: both held equal here to the plain definitions
// (one pass per metric, Date.parse) on a generated history.
import { strict as assert } from 'node:assert';
import { changeFacts, computeMetrics, dayKey, isoTime, weekKey, type ChangeFact, type MetricsFilter } from '../../../src/core/metrics';
import { defaultPipeline } from '../../../src/core/pipeline';
import { validateEvent, type FactoryEvent } from '../../../src/core/events';
import { planHistory } from '../../../scripts/sample-history';
import { ulid } from 'ulid';
import { DAY, T0 } from './history';

const pipeline = defaultPipeline();
const order = pipeline.stages.map((s) => s.id);

function generatedRecord(now: number): Map<string, FactoryEvent[]> {
  const byChange = new Map<string, FactoryEvent[]>();
  for (const e of planHistory({ changes: 240, weeks: 12, now, seed: 7 }).pending) {
    const r = validateEvent({ v: 1, id: ulid(e.t), change: e.changeId, type: e.draft.type, at: new Date(e.t).toISOString(), by: e.draft.by, data: e.draft.data });
    assert.ok(r.ok);
    byChange.set(e.changeId, [...(byChange.get(e.changeId) ?? []), r.event]);
  }
  return byChange;
}

function generatedFacts(): { facts: ChangeFact[]; now: number } {
  const now = T0 + 20 * DAY;
  return { facts: [...generatedRecord(now)].map(([id, events]) => changeFacts(id, pipeline, events)), now };
}

/** Each metric computed on its own, the plain way: what the one pass must equal. */
function reference(all: readonly ChangeFact[], m: ReturnType<typeof computeMetrics>, now: number, f: MetricsFilter, tz: string, stuckDays: number) {
  const inPeriod = (t: number | undefined) => (t === undefined ? f.since === undefined && f.until === undefined : (f.since === undefined || t >= f.since) && (f.until === undefined || t < f.until));
  const facts = all.filter((c) => m.rows.some((r) => r.id === c.id));
  const stuck = new Set(facts.filter((c) => !c.completed && c.lastEventAt !== undefined && now - c.lastEventAt >= stuckDays * DAY).map((c) => c.id));
  const cumulative = m.flow.weekly.map(({ week }) => {
    const end = Date.parse(`${week}T00:00:00Z`) + 7 * DAY;
    const counts: Record<string, number> = Object.fromEntries([...order, 'done'].map((s) => [s, 0]));
    for (const c of facts) {
      if (c.createdAt === undefined || c.createdAt >= end) continue;
      if (c.completed && c.doneAt !== undefined && c.doneAt < end) {
        counts.done!++;
        continue;
      }
      // The first stage not handed off by the week's end (a later stage's earlier handoff does not count before it).
      let reached = -Infinity;
      const at = c.stages.find((s) => (reached = Math.max(reached, s.endedAt ?? Infinity)) >= end);
      counts[at?.stageId ?? 'done']!++;
    }
    return { week, counts };
  });
  const before = new Set(m.flow.weekly.slice(-8, -4).map((w) => w.week));
  let decided = 0;
  let passed = 0;
  for (const c of facts)
    for (const s of c.stages) {
      const matches = (!f.stage || s.stageId === f.stage) && (!f.owner || s.owner === f.owner) && (!f.backend || s.backend === f.backend);
      if (s.firstPass === undefined || s.startedAt === undefined || !matches || !before.has(weekKey(s.startedAt, tz))) continue;
      decided++;
      if (s.firstPass) passed++;
    }
  const signalIn = facts.filter((c) => c.signal.verdict !== 'incomplete' && inPeriod(c.signal.decidedAt));
  return {
    rowStates: facts.map((c) => [c.id, c.completed ? 'done' : stuck.has(c.id) ? 'stuck' : 'open', c.stages.reduce((n, s) => n + s.attempts, 0)]),
    stuck: [...stuck].sort(),
    cumulative,
    firstPassRateBefore: before.size && decided > 0 ? passed / decided : undefined,
    kept: signalIn.filter((c) => c.signal.verdict === true).length,
    incomplete: facts.filter((c) => c.signal.verdict === 'incomplete').length,
    costUsd: facts.reduce((s, c) => s + c.costUsd, 0),
    owners: [...new Set(all.flatMap((c) => c.stages.filter((s) => s.attempts > 0).map((s) => s.owner)))].filter(Boolean).sort(),
    branches: [...new Set(all.flatMap((c) => [...(c.branch ? [c.branch] : []), ...c.branches]))].filter(Boolean).sort(),
    wip: facts.filter((c) => !c.completed && c.eventCount > 0).length,
  };
}

describe('metrics: one pass over the changes', () => {
  const { facts, now } = generatedFacts();
  const cases: { filter: MetricsFilter; timeZone: string; stuckDays: number }[] = [
    { filter: {}, timeZone: 'UTC', stuckDays: 3 },
    { filter: { since: now - 6 * 7 * DAY }, timeZone: 'Europe/Berlin', stuckDays: 1 },
    { filter: { stage: 'implement', owner: 'codex/gpt-5-codex', until: now - 10 * DAY }, timeZone: 'America/Los_Angeles', stuckDays: 5 },
  ];
  for (const { filter, timeZone, stuckDays } of cases) {
    it(`equals each metric computed on its own (${JSON.stringify(filter)}, ${timeZone})`, () => {
      const m = computeMetrics(facts, order, { now, filter, timeZone, stuckDays });
      const ref = reference(facts, m, now, filter, timeZone, stuckDays);
      assert.ok(m.rows.length > 20, `${m.rows.length} changes in view`);
      assert.deepEqual(m.rows.map((r) => [r.id, r.state, r.attempts]), ref.rowStates);
      assert.deepEqual(m.stuck.map((s) => s.changeId).sort(), ref.stuck);
      assert.deepEqual(m.flow.cumulative, ref.cumulative);
      assert.equal(m.headline.firstPassRateBefore, ref.firstPassRateBefore);
      assert.equal(m.signal.kept, ref.kept);
      assert.equal(m.signal.incomplete, ref.incomplete);
      assert.equal(m.headline.costUsd, ref.costUsd);
      assert.equal(m.headline.wip, ref.wip);
      assert.deepEqual(m.choices.owners, ref.owners);
      assert.deepEqual(m.choices.branches, ref.branches);
    });
  }

  it('the cumulative flow holds changes in several stages and done (the history exercises it)', () => {
    const m = computeMetrics(facts, order, { now });
    const last = m.flow.cumulative.at(-1)!.counts;
    assert.ok(last.done! > 0 && order.filter((s) => last[s]! > 0).length >= 2, JSON.stringify(last));
  });
});

describe('metrics: event times', () => {
  it('reads what the store writes as Date.parse does, and anything else with Date.parse', () => {
    const random = (() => {
      let a = 9;
      return () => ((a = (a * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    })();
    for (let i = 0; i < 5000; i++) {
      const iso = new Date(Date.UTC(1970, 0, 1) + random() * (Date.UTC(2200, 0, 1) - Date.UTC(1970, 0, 1))).toISOString();
      assert.equal(isoTime(iso), Date.parse(iso), iso);
    }
    const odd = [
      '2026-02-30T00:00:00.000Z', // rolls over in both
      '2024-02-29T23:59:59.999Z',
      '2026-04-31T12:00:00.000Z',
      '2026-01-01T24:00:00.000Z',
      '2026-01-01T23:59:60.000Z',
      '2026-13-01T00:00:00.000Z',
      '2026-00-10T00:00:00.000Z',
      '0050-01-01T00:00:00.000Z',
      '2026-1a-01T00:00:00.000Z',
      '2026-11-02T10:00:00Z',
      '2026-11-02T10:00:00.000+01:00',
      '2026-11-02',
      'not a time at all, 24 ch',
    ];
    for (const iso of odd) {
      const parsed = Date.parse(iso);
      assert.equal(isoTime(iso), Number.isFinite(parsed) ? parsed : undefined, iso);
    }
    assert.equal(isoTime(undefined), undefined);
    assert.equal(isoTime(''), undefined);
  });
});

describe('metrics: days and weeks in a time zone', () => {
  const formats = new Map<string, Intl.DateTimeFormat>();
  /** The plain definition: format each instant in the zone, then step back to its Monday. */
  function reference(ms: number, timeZone: string): { day: string; week: string } {
    if (!formats.has(timeZone)) formats.set(timeZone, new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }));
    const parts = formats.get(timeZone)!.formatToParts(new Date(ms));
    const get = (type: string) => parts.find((p) => p.type === type)!.value;
    const day = `${get('year')}-${get('month')}-${get('day')}`;
    const utc = Date.parse(`${day}T00:00:00Z`);
    const monday = utc - ((new Date(utc).getUTCDay() + 6) % 7) * DAY;
    return { day, week: new Date(monday).toISOString().slice(0, 10) };
  }

  it('equal the plain definition around every offset change, in zones with odd offsets and a skipped day', () => {
    const zones = ['UTC', 'Europe/Berlin', 'America/Los_Angeles', 'Asia/Kathmandu', 'Australia/Lord_Howe', 'America/St_Johns', 'Pacific/Apia', 'Pacific/Kiritimati', 'Asia/Tehran'];
    let a = 3;
    const random = () => (a = (a * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const instants: number[] = [Date.UTC(1960, 5, 1), Date.UTC(2300, 0, 1, 12), Date.UTC(2011, 11, 29, 9, 59, 59, 999), Date.UTC(2011, 11, 30, 10)];
    // Every quarter hour of 2026's March and October weekends (the transitions) and of Apia's skipped day.
    for (const [from, days] of [[Date.UTC(2026, 2, 26), 12], [Date.UTC(2026, 9, 22), 14], [Date.UTC(2026, 3, 2), 6], [Date.UTC(2011, 11, 28), 4]] as const) {
      for (let t = from; t < from + days * DAY; t += 900_000) instants.push(t, t + 1 + Math.floor(random() * 899_998));
    }
    for (let i = 0; i < 3000; i++) instants.push(Date.UTC(1972, 0, 1) + Math.floor(random() * (Date.UTC(2100, 0, 1) - Date.UTC(1972, 0, 1))));
    for (const zone of zones) {
      for (const ms of instants) {
        const want = reference(ms, zone);
        assert.equal(dayKey(ms, zone), want.day, `${new Date(ms).toISOString()} in ${zone}`);
        assert.equal(weekKey(ms, zone), want.week, `${new Date(ms).toISOString()} in ${zone}`);
      }
    }
  });
});
