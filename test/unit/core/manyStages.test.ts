// A hostile pipeline.json of thousands of stages (10,000 fit under its 1 MB limit) must
// cost what its size does, not its square: `status` took 19 s of CPU at 10,000 stages,
// from a search by stage id per stage in the actions' rules, the summary index and the
// states built from it. Counted in reads of the stages arrays, not in time, so the
// check does not depend on the machine: linear is a few reads per stage, the searches
// were thousands.
import * as assert from 'node:assert/strict';
import { allowedActions, decide } from '../../../src/core/actions';
import type { ChangeState, StageState } from '../../../src/core/fold';
import type { Pipeline } from '../../../src/core/pipeline';
import { defaultPipeline } from '../../../src/core/pipeline';
import { listChangeSummaries } from '../../../src/engine/changes';
import type { EngineDeps } from '../../../src/engine/ports';
import { encodeIndex, type ChangeSummary, type StageSummary } from '../../../src/store/summaryIndex';

const STAGES = 2000;
/** Reads per stage that still count as linear (each structure reads every stage a few times). */
const PER_STAGE = 20;

/** An array whose element reads are counted. */
function counted<T>(items: T[]): { array: T[]; reads: () => number } {
  let reads = 0;
  const array = new Proxy(items, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && /^\d+$/.test(prop)) reads++;
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  return { array, reads: () => reads };
}

function stageState(id: string, status: StageState['status']): StageState {
  return { id, title: id, role: '', owner: { backend: 'claude-code' }, status, attempts: [], results: [], handedOff: false, approved: false };
}

function manyStagePipeline(): Pipeline {
  const base = defaultPipeline().stages[1]!;
  return { ...defaultPipeline(), stages: Array.from({ length: STAGES }, (_, i) => ({ ...base, id: `s${i}`, title: `S${i}` })) };
}

describe('a pipeline of thousands of stages costs linear work', () => {
  it('the rules: every stage of a change asked for its allowed actions', () => {
    const stages = counted(Array.from({ length: STAGES }, (_, i) => stageState(`s${i}`, i < STAGES / 2 ? 'passed' : 'pending')));
    const change: ChangeState = { id: 'c', title: 'C', completed: false, stages: stages.array, activeStageId: `s${STAGES / 2}`, verification: { state: 'none', passed: 0, failed: 0, stale: 0, total: 0 }, unknownEvents: 0 };
    const context = { trusted: true, isRepository: true };
    const allowed = change.stages.map((s) => allowedActions(change, s, context));
    assert.ok(stages.reads() < STAGES * PER_STAGE, `${stages.reads()} reads of ${STAGES} stages`);
    // The same verdicts as before: the first pending stage runs, the one after it waits for it.
    assert.ok(allowed[STAGES / 2]!.includes('run'));
    assert.ok(!allowed[STAGES / 2 + 1]!.includes('run'));
    assert.equal(decide('sendBack', change, change.stages[STAGES / 2 - 1]!, context, { toStage: 's0' }).allowed, true);
    assert.match((decide('sendBack', change, change.stages[10]!, context, { toStage: `s${STAGES - 1}` }) as { reason: string }).reason, /comes after/);
  });

  it('the rules: a running stage is still seen from every other stage', () => {
    const stages = Array.from({ length: 50 }, (_, i) => stageState(`s${i}`, i === 40 ? 'running' : 'pending'));
    const change: ChangeState = { id: 'c', title: 'C', completed: false, stages, activeStageId: 's0', verification: { state: 'none', passed: 0, failed: 0, stale: 0, total: 0 }, unknownEvents: 0 };
    const verdict = decide('run', change, stages[0]!, { trusted: true, isRepository: true });
    assert.equal(verdict.allowed, false);
    assert.match((verdict as { reason: string }).reason, /"s40" of this change is running/);
  });

  it('the summary index: a change whose stages are listed in another order than the pipeline', () => {
    const ids = Array.from({ length: STAGES }, (_, i) => `s${i}`);
    // Reversed: no stage is where the pipeline has it, so each is looked up by id.
    const stages = counted<StageSummary>(ids.map((id, i) => ({ id, status: i % 2 ? 'passed' : 'pending' }) as StageSummary).reverse());
    const summary: ChangeSummary = { id: 'c', title: 'C', completed: false, stages: stages.array, eventCount: 1, problemCount: 0 };
    const file = encodeIndex(ids, [{ summary, dirMtimeMs: 1, checkedAtMs: 2 }]);
    assert.ok(stages.reads() < STAGES * PER_STAGE, `${stages.reads()} reads of ${STAGES} stages`);
    assert.equal(file.statuses[0], ids.map((_, i) => (i % 2 ? 'v' : 'p')).join(''));
  });

  it('the states built from summaries for lists', async () => {
    const pipeline = manyStagePipeline();
    const pipelineStages = counted(pipeline.stages);
    const shown = { ...pipeline, stages: pipelineStages.array };
    const summaries: ChangeSummary[] = [];
    const summaryStages: Array<ReturnType<typeof counted<StageSummary>>> = [];
    for (let c = 0; c < 3; c++) {
      const stages = counted<StageSummary>(pipeline.stages.map((s, i) => ({ id: s.id, status: i <= c ? 'passed' : 'pending' }) as StageSummary));
      summaryStages.push(stages);
      summaries.push({ id: `c${c}`, title: `C${c}`, completed: false, stages: stages.array, eventCount: 1, problemCount: 0 });
    }
    const deps = { store: { summaries: () => Promise.resolve({ summaries, problems: [], refolded: 0, checked: 3, pipeline: shown }) } } as unknown as EngineDeps;
    const list = await listChangeSummaries(deps);
    const reads = pipelineStages.reads() + summaryStages.reduce((n, s) => n + s.reads(), 0);
    assert.ok(reads < 3 * STAGES * PER_STAGE, `${reads} reads for 3 changes of ${STAGES} stages`);
    assert.deepEqual(list.changes.map((c) => c.stages.filter((s) => s.status === 'passed').length), [1, 2, 3]);
  });
});
