// Two branches extend one change; git merges them with no conflict and the merged
// fold is right. The other branch's record is also read straight from git objects.
import * as assert from 'node:assert/strict';
import { FileRecordStore, MAX_PIPELINE_BYTES } from '../../../src/store/recordStore';
import { GitTreeRecordReader } from '../../../src/store/gitTreeRecord';
import { GitObjectReader } from '../../../src/git/gitObjects';
import { foldChange } from '../../../src/core/fold';
import { defaultPipeline } from '../../../src/core/pipeline';
import { git, initRepo, tempWorkspace } from './helpers';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

describe('store: merging branches that extend one change (real git)', function () {
  this.timeout(30_000);
  let ws: ReturnType<typeof tempWorkspace>;
  beforeEach(() => {
    ws = tempWorkspace('merge');
    initRepo(ws.dir);
  });
  afterEach(() => ws.cleanup());

  it('merges with no conflict, and the merged history folds to both branches\' work', async () => {
    // Two writers, each with its own clock.
    let tA = Date.parse('2026-11-20T10:00:00Z');
    let tB = Date.parse('2026-11-20T09:00:00Z');
    const storeA = new FileRecordStore(ws.dir, { now: () => new Date((tA += 1000)) });
    const storeB = new FileRecordStore(ws.dir, { now: () => new Date((tB += 1000)) });
    await storeA.loadPipeline();
    const change = storeA.newChangeId('Add search');
    await storeA.append(change, { type: 'change.created', data: { title: 'Add search', branch: 'main' } });
    git(ws.dir, 'add', '.factory');
    git(ws.dir, 'commit', '-qm', 'start change');

    git(ws.dir, 'switch', '-qc', 'plan-side');
    const planAttempt = await storeB.append(change, { type: 'stage.approvalRequested', data: { stageId: 'plan' } });
    await storeB.append(change, { type: 'attempt.started', data: { stageId: 'plan', attemptId: planAttempt.id, backend: 'claude-code' } });
    await storeB.append(change, { type: 'attempt.finished', data: { stageId: 'plan', attemptId: planAttempt.id, outcome: 'succeeded' } });
    await storeB.append(change, { type: 'handoff.recorded', data: { fromStage: 'plan', toStage: 'implement' } });
    git(ws.dir, 'add', '.factory');
    git(ws.dir, 'commit', '-qm', 'plan');

    git(ws.dir, 'switch', '-q', 'main');
    const review = await storeA.append(change, { type: 'review.decided', data: { stageId: 'plan', decision: 'approved', note: 'from main' } });
    const implement = await storeA.append(change, { type: 'attempt.started', data: { stageId: 'implement', attemptId: review.id, backend: 'codex' } });
    git(ws.dir, 'add', '.factory');
    git(ws.dir, 'commit', '-qm', 'implement');

    // Read plan-side's record through git objects, without checking it out.
    const objects = new GitObjectReader(ws.dir);
    assert.ok((await objects.listBranchRefs()).includes('refs/heads/plan-side'));
    const other = new GitTreeRecordReader(objects, 'plan-side');
    assert.deepEqual(await other.listChangeIds(), [change]);
    const otherRecord = await other.readChange(change);
    assert.deepEqual(otherRecord.problems, []);
    assert.equal(otherRecord.events.length, 5);
    assert.ok((await other.loadPipeline()).pipeline);
    assert.equal(foldChange(change, defaultPipeline(), otherRecord.events).stages[0]?.status, 'passed');

    git(ws.dir, 'merge', '--no-edit', '-q', 'plan-side'); // throws on a conflict
    assert.equal(git(ws.dir, 'diff', '--name-only', '--diff-filter=U').trim(), '', 'no conflicted file');

    const merged = await new FileRecordStore(ws.dir).readChange(change);
    assert.deepEqual(merged.problems, []);
    assert.equal(merged.events.length, 7);
    const ids = merged.events.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort(), 'totally ordered by id');
    assert.equal(new Set(ids).size, 7);
    // main's later events come last.
    assert.deepEqual(ids.slice(-2), [review.id, implement.id]);

    const state = foldChange(change, defaultPipeline(), merged.events);
    const stage = (id: string) => state.stages.find((s) => s.id === id)!;
    assert.equal(state.title, 'Add search');
    assert.equal(stage('plan').status, 'passed');
    assert.equal(stage('plan').approved, true);
    assert.equal(stage('plan').attempts[0]?.outcome, 'succeeded');
    assert.equal(stage('implement').status, 'running');
    assert.equal(stage('implement').attempts[0]?.backend, 'codex');
    assert.equal(state.activeStageId, 'implement');

    // The same history read from the merge commit through git objects.
    const fromGit = await new GitTreeRecordReader(objects, 'HEAD').readAllChanges();
    assert.deepEqual(fromGit.map((r) => r.events.map((e) => e.id)), [ids]);
  });

  it('reports bad files of another branch with ref and path, without touching anything', async () => {
    const store = new FileRecordStore(ws.dir);
    const change = store.newChangeId('Hostile');
    await store.append(change, { type: 'change.created', data: { title: 'Hostile' } });
    const events = join(ws.dir, '.factory', 'changes', change, 'events');
    mkdirSync(events, { recursive: true });
    writeFileSync(join(events, '01JD0000000000000000000000.json'), '{"__proto__":{"polluted":1}}');
    writeFileSync(join(events, 'notes.txt'), 'hi');
    git(ws.dir, 'add', '.factory');
    git(ws.dir, 'commit', '-qm', 'hostile');
    const record = await new GitTreeRecordReader(new GitObjectReader(ws.dir), 'main').readChange(change);
    assert.equal(record.events.length, 1);
    assert.deepEqual(record.problems.map((p) => p.path).sort(), [`main:.factory/changes/${change}/events/01JD0000000000000000000000.json`, `main:.factory/changes/${change}/events/notes.txt`]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
  it("another branch's pipeline.json over the size limit is reported with ref and path, as the working folder's would be", async () => {
    const store = new FileRecordStore(ws.dir);
    const { pipeline } = await store.loadPipeline();
    // Valid JSON and a valid pipeline: only its size says no writer made it.
    writeFileSync(join(ws.dir, '.factory', 'pipeline.json'), JSON.stringify({ ...pipeline, $schema: 'x'.repeat(MAX_PIPELINE_BYTES) }));
    git(ws.dir, 'add', '.factory');
    git(ws.dir, 'commit', '-qm', 'a huge pipeline');
    const load = await new GitTreeRecordReader(new GitObjectReader(ws.dir), 'main').loadPipeline();
    assert.equal(load.pipeline, undefined);
    assert.deepEqual(load.problems.map((p) => p.path), ['main:.factory/pipeline.json']);
    assert.match(load.problems[0]!.message, /over the \d+-byte limit for pipeline\.json/);
    // The working folder says the same of the same file.
    assert.match((await new FileRecordStore(ws.dir).loadPipeline()).problems[0]!.message, /over the \d+-byte limit for pipeline\.json/);
  });
});
