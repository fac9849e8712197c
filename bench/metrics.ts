// The lead's metrics at scale. Prints numbers side by side; never fails on time.
// Goal: every metric over 10,000 changes / 500,000 events ≤ 1.5× the raw fold of the same record.
//   node --expose-gc --import tsx bench/metrics.ts [changes] [weeks]
// Two records, each held in memory and validated like files read from disk (this
// measures the computation, not the disk; bench/history.ts measures reading from git):
// - the sample-history generator's plan (the events the generator writes: retries,
//   failures, send-backs, people approving; ~28 events a change);
// - bench/support/benchRecord.ts's record (50 events a change: 500,000 at 10,000 changes).
// The measured code runs bundled by esbuild as the extension ships it (in a child
// process, bundle in a temp file): under tsx every closure created goes through its
// keep-names wrapper, which charges the closure-heavy metrics more than the fold.
// BENCH_PROFILE=<dir> writes a CPU profile of the child there, with the bundle it ran.
import { spawnSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { encodeTime } from 'ulid';
import { validateEvent, type FactoryEvent } from '../src/core/events';
import { foldChange } from '../src/core/fold';
import { changeFacts, computeMetrics, type ChangeFact } from '../src/core/metrics';
import { autonomyEvidence, effectiveAutonomy, recommendations } from '../src/core/autonomy';
import { proposeLessons } from '../src/core/lessons';
import { defaultPipeline } from '../src/core/pipeline';
import { planHistory } from '../scripts/sample-history';
import { eventsFor } from './support/benchRecord';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

function line(label: string, ms: number, extra = ''): void {
  console.log(`${label.padEnd(62)} ${ms.toFixed(1).padStart(9)} ms${extra ? `  ${extra}` : ''}`);
}
/**
 * One run after a full collection, in CPU milliseconds of this process: on a shared
 * machine wall time mostly measures the neighbours, CPU time what the code costs.
 */
function timed<T>(fn: () => T): { ms: number; result: T } {
  gc();
  // V8 sweeps after a full collection on helper threads, which counts as this process's
  // CPU time: let that finish so the phase measured is not charged for the last one's garbage.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
  const start = process.cpuUsage();
  const result = fn();
  const used = process.cpuUsage(start);
  return { ms: (used.user + used.system) / 1000, result };
}

/** Validated like events read from disk (parsed from their JSON), grouped by change in id order as the store returns them. */
function recordOf(raw: Iterable<object>): Map<string, FactoryEvent[]> {
  const byChange = new Map<string, FactoryEvent[]>();
  for (const event of raw) {
    const r = validateEvent(JSON.parse(JSON.stringify(event)));
    if (!r.ok) throw new Error(r.issue.message);
    const list = byChange.get(r.event.change) ?? [];
    list.push(r.event);
    byChange.set(r.event.change, list);
  }
  return byChange;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/**
 * Increasing ULIDs for events made in time order: the time, then a counter where
 * ulid's monotonic factory would draw randomness (it draws it a character at a time
 * from crypto, which took most of the bench's minutes).
 */
function increasingIds(): (t: number) => string {
  let n = 0;
  return (t) => {
    let rest = '';
    for (let k = n++, i = 0; i < 16; i++, k = Math.floor(k / 32)) rest = CROCKFORD[k % 32]! + rest;
    return encodeTime(t, 10) + rest;
  };
}

function* sampleEvents(changes: number, weeks: number, now: number): Iterable<object> {
  const plan = planHistory({ changes, weeks, now, seed: 11 });
  // Increasing over the plan, which is in time order, as the generator's writer makes them.
  const ids = increasingIds();
  for (const p of plan.pending) yield { v: 1, id: ids(p.t), change: p.changeId, type: p.draft.type, at: new Date(p.t).toISOString(), by: p.draft.by, data: p.draft.data };
}

function* uniformEvents(changes: number, perChange: number): Iterable<object> {
  const ids = increasingIds();
  const start = Date.parse('2026-01-01T00:00:00Z');
  for (let c = 0; c < changes; c++) yield* eventsFor(`change-${String(c).padStart(5, '0')}`, perChange, ids, start + c * 60_000);
}

function measure(title: string, byChange: Map<string, FactoryEvent[]>, now: number): void {
  const pipeline = defaultPipeline();
  const order = pipeline.stages.map((s) => s.id);
  let events = 0;
  for (const list of byChange.values()) events += list.length;
  console.log(`\n== ${title}: ${byChange.size} changes, ${events} events`);
  // The phases run in ROUNDS interleaved rounds and each keeps its fastest: on a shared
  // machine a burst of load then hits one round, not one phase's only measurement.
  const phases = {
    fold: () => {
      let n = 0;
      for (const [id, list] of byChange) n += foldChange(id, pipeline, list).stages.length;
      return n;
    },
    facts: () => {
      const out: ChangeFact[] = [];
      for (const [id, list] of byChange) out.push(changeFacts(id, pipeline, list));
      return out;
    },
    metrics: (facts: ChangeFact[]) => computeMetrics(facts, order, { now, timeZone: 'Europe/Berlin' }),
    extras: (facts: ChangeFact[]) => {
      const stages = effectiveAutonomy(pipeline, []);
      const evidence = autonomyEvidence(facts, pipeline);
      return [recommendations(evidence, stages, pipeline).length, proposeLessons(facts).length];
    },
    filtered: (facts: ChangeFact[]) => computeMetrics(facts, order, { now, filter: { since: now - 84 * 86_400_000, owner: 'codex/gpt-5-codex' } }),
  };
  const best = { fold: Infinity, facts: Infinity, metrics: Infinity, extras: Infinity, filtered: Infinity };
  let facts: ChangeFact[] = [];
  let metrics: ReturnType<typeof computeMetrics> | undefined;
  for (let round = 0; round < ROUNDS; round++) {
    best.fold = Math.min(best.fold, timed(phases.fold).ms);
    const f = timed(phases.facts);
    best.facts = Math.min(best.facts, f.ms);
    facts = f.result;
    const m = timed(() => phases.metrics(facts));
    best.metrics = Math.min(best.metrics, m.ms);
    metrics = m.result;
    best.extras = Math.min(best.extras, timed(() => phases.extras(facts)).ms);
    best.filtered = Math.min(best.filtered, timed(() => phases.filtered(facts)).ms);
  }
  console.log(`(CPU time, fastest of ${ROUNDS} interleaved rounds)`);
  line('raw fold of every change (foldChange)', best.fold);
  line('facts of every change (fold, signal, waits, failures)', best.facts);
  line('every metric from the facts (signal, stuck, stage/owner, flow)', best.metrics);
  line('autonomy evidence and recommendations, lessons', best.extras);
  line('every metric again under a filter (owner, 12 weeks)', best.filtered);
  const fromScratch = best.facts + best.metrics + best.extras;
  console.log(`all metrics from the record: ${(fromScratch / best.fold).toFixed(2)}× the raw fold (goal ≤ 1.5×)`);
  console.log(`all metrics from cached facts (a refresh that found nothing moved): ${((best.metrics + best.extras) / best.fold).toFixed(2)}× the raw fold`);
  console.log(`a filter change: ${(best.filtered / best.fold).toFixed(2)}× the raw fold`);
  console.log(`dashboard payload: ${(JSON.stringify(metrics).length / 1024).toFixed(0)} KB for ${metrics!.rows.length} rows`);
}

function worker(args: string[]): void {
  const changes = Number(args[0] ?? 10_000);
  const weeks = Number(args[1] ?? 52);
  const now = Date.parse('2026-12-01T00:00:00Z');
  measure(`sample history over ${weeks} weeks`, recordOf(sampleEvents(changes, weeks, now)), now);
  measure('benchRecord, 50 events a change', recordOf(uniformEvents(changes, 50)), now);
}

/** This file bundled as the product's Node code is (esbuild, node20, no keep-names), into a temp file. */
function bundle(): string {
  const out = path.join(os.tmpdir(), `factory-bench-metrics-${process.pid}.mjs`);
  buildSync({
    entryPoints: [fileURLToPath(import.meta.url)],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['playwright-core'],
    logLevel: 'error',
    // CommonJS dependencies bundled into ESM still call require.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  return out;
}

const args = process.argv.slice(2);
if (args[0] === '--worker') worker(args.slice(1));
else {
  const file = bundle();
  try {
    const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
    const child = spawnSync(process.execPath, ['--expose-gc', ...profile, file, '--worker', ...args], { stdio: 'inherit' });
    process.exitCode = child.status ?? 1;
    if (process.env.BENCH_PROFILE) copyFileSync(file, path.join(process.env.BENCH_PROFILE, 'bench-metrics.mjs'));
  } finally {
    rmSync(file, { force: true });
  }
}
