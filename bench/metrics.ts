// The lead's metrics at scale. Prints numbers side by side; never fails on time.
// Goal: every metric over N changes ≤ 1.5× the raw fold of the same record.
//   node --expose-gc --import tsx bench/metrics.ts [changes] [weeks]
// The history is the sample-history generator's plan (the same events the generator
// writes), validated like files read from disk, held in memory: this measures the
// computation, not the disk (bench/history.ts measures reading from git).
import { performance } from 'node:perf_hooks';
import { ulid } from 'ulid';
import { validateEvent, type FactoryEvent } from '../src/core/events';
import { foldChange } from '../src/core/fold';
import { changeFacts, computeMetrics } from '../src/core/metrics';
import { autonomyEvidence, effectiveAutonomy, recommendations } from '../src/core/autonomy';
import { proposeLessons } from '../src/core/lessons';
import { defaultPipeline } from '../src/core/pipeline';
import { planHistory } from '../scripts/sample-history';

const CHANGES = Number(process.argv[2] ?? 10_000);
const WEEKS = Number(process.argv[3] ?? 52);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

function line(label: string, ms: number, extra = ''): void {
  console.log(`${label.padEnd(62)} ${ms.toFixed(1).padStart(9)} ms${extra ? `  ${extra}` : ''}`);
}
function time<T>(label: string, fn: () => T, extra?: (r: T) => string): { ms: number; result: T } {
  gc();
  const start = performance.now();
  const result = fn();
  const ms = performance.now() - start;
  line(label, ms, extra?.(result));
  return { ms, result };
}

const now = Date.parse('2026-12-01T00:00:00Z');
const plan = planHistory({ changes: CHANGES, weeks: WEEKS, now, seed: 11 });
const byChange = new Map<string, FactoryEvent[]>();
for (const p of plan.pending) {
  const raw = { v: 1, id: ulid(p.t), change: p.changeId, type: p.draft.type, at: new Date(p.t).toISOString(), by: p.draft.by, data: p.draft.data };
  const r = validateEvent(JSON.parse(JSON.stringify(raw)));
  if (!r.ok) throw new Error(r.issue.message);
  const list = byChange.get(p.changeId) ?? [];
  list.push(r.event);
  byChange.set(p.changeId, list);
}
const pipeline = defaultPipeline();
const order = pipeline.stages.map((s) => s.id);
console.log(`${CHANGES} changes, ${plan.pending.length} events over ${WEEKS} weeks`);

const fold = time('raw fold of every change (foldChange)', () => {
  let n = 0;
  for (const [id, events] of byChange) n += foldChange(id, pipeline, events).stages.length;
  return n;
});
const facts = time('facts of every change (fold, signal, waits, failures)', () => [...byChange].map(([id, events]) => changeFacts(id, pipeline, events)));
const metrics = time('every metric from the facts (signal, stuck, stage/owner, flow)', () => computeMetrics(facts.result, order, { now, timeZone: 'Europe/Berlin' }));
const extras = time('autonomy evidence and recommendations, lessons', () => {
  const stages = effectiveAutonomy(pipeline, []);
  const evidence = autonomyEvidence(facts.result, pipeline);
  return [recommendations(evidence, stages, pipeline).length, proposeLessons(facts.result).length];
});
const filtered = time('every metric again under a filter (owner, 12 weeks)', () => computeMetrics(facts.result, order, { now, filter: { since: now - 84 * 86_400_000, owner: 'codex/gpt-5-codex' } }));
const fromScratch = facts.ms + metrics.ms + extras.ms;
console.log(`\nall metrics from the record: ${(fromScratch / fold.ms).toFixed(2)}× the raw fold (goal ≤ 1.5×)`);
console.log(`all metrics from cached facts (a refresh that found nothing moved): ${((metrics.ms + extras.ms) / fold.ms).toFixed(2)}× the raw fold`);
console.log(`a filter change: ${(filtered.ms / fold.ms).toFixed(2)}× the raw fold`);
console.log(`dashboard payload: ${(JSON.stringify(metrics.result).length / 1024).toFixed(0)} KB for ${metrics.result.rows.length} rows`);
