// The record bench/firstPaint.ts reads: <changes> changes of <events> events each,
// written once as plain files and kept (keyed by this generator's version and the
// sizes) under the temp folder, so a run does not spend minutes writing it first.
// Kept apart from the bench so the shared generated-record cache can replace it.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monotonicFactory } from 'ulid';
import { defaultPipeline } from '../src/core/pipeline';

const GENERATOR_VERSION = 1;

export function generatedRecord(changes: number, eventsPerChange: number): { root: string; ids: string[] } {
  const ids = Array.from({ length: changes }, (_, c) => `change-${String(c).padStart(5, '0')}`);
  const root = path.join(process.env.FACTORY_BENCH_CACHE ?? os.tmpdir(), `factory-first-paint-v${GENERATOR_VERSION}-${changes}x${eventsPerChange}`);
  if (existsSync(path.join(root, '.factory', 'pipeline.json'))) return { root, ids };
  const building = `${root}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(path.join(building, '.factory'), { recursive: true });
  const stages = defaultPipeline().stages.map((s) => s.id);
  const nextId = monotonicFactory();
  const by = { name: 'Bench', email: 'bench@example.com' };
  let t = Date.parse('2026-01-01T00:00:00Z');
  for (const change of ids) {
    const dir = path.join(building, '.factory', 'changes', change, 'events');
    mkdirSync(dir, { recursive: true });
    const write = (type: string, data: object) => {
      t += 1000;
      const id = nextId(t);
      writeFileSync(path.join(dir, `${id}.json`), `${JSON.stringify({ v: 1, id, change, type, at: new Date(t).toISOString(), by, data }, null, 2)}\n`);
    };
    write('change.created', { title: `Change ${change}`, branch: `factory/${change}`, ticket: 'APP-1', description: 'Generated for the benchmark.' });
    for (let n = 1, stage = 0; n < eventsPerChange; stage++) {
      const stageId = stages[stage % stages.length]!;
      const attemptId = nextId(t);
      const steps: Array<[string, object]> = [
        ['attempt.started', { stageId, attemptId, backend: 'claude-code', model: 'sonnet', start: { commit: 'a'.repeat(40), tree: 'b'.repeat(40) } }],
        ['attempt.finished', { stageId, attemptId, outcome: 'succeeded', summary: 'Did the thing.', usage: { inputTokens: 12000, outputTokens: 900, costUsd: 0.12 }, durationMs: 42000, end: { tree: 'c'.repeat(40) } }],
        ['handoff.recorded', { fromStage: stageId, attemptId, summary: 'Handing off.', outputs: [] }],
      ];
      for (const [type, data] of steps) if (n++ < eventsPerChange) write(type, data);
    }
  }
  // The pipeline last: a half-written record (a killed run) is never taken for a whole one.
  writeFileSync(path.join(building, '.factory', 'pipeline.json'), JSON.stringify(defaultPipeline(), null, 2));
  rmSync(root, { recursive: true, force: true });
  renameSync(building, root);
  return { root, ids };
}
