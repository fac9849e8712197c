// The derived summary index: rebuilt when missing or corrupt, refreshed when stale.
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FileRecordStore } from '../../../src/store/recordStore';
import { foldChange } from '../../../src/core/fold';
import { defaultPipeline } from '../../../src/core/pipeline';
import { decodeIndex, encodeIndex, INDEX_SCHEMA_VERSION, summarize, type IndexEntry } from '../../../src/store/summaryIndex';
import { tempWorkspace } from './helpers';

describe('store: summary index', () => {
  let ws: ReturnType<typeof tempWorkspace>;
  let store: FileRecordStore;
  beforeEach(async () => {
    ws = tempWorkspace('index');
    store = new FileRecordStore(ws.dir);
    await store.loadPipeline();
    for (const title of ['Add search', 'Fix login']) {
      const id = store.newChangeId(title);
      await store.append(id, { type: 'change.created', data: { title, branch: `factory/${id}`, ...(title === 'Fix login' ? { ticket: 'APP-9' } : {}) } });
      const attemptId = (await store.append(id, { type: 'stage.approvalRequested', data: { stageId: 'plan' } })).id;
      await store.append(id, { type: 'attempt.started', data: { stageId: 'plan', attemptId, backend: 'claude-code' } });
    }
  });
  afterEach(() => ws.cleanup());

  const expected = async () => {
    const ids = await store.listChangeIds();
    return Promise.all(ids.map(async (id) => {
      const r = await store.readChange(id);
      return summarize(foldChange(id, defaultPipeline(), r.events), r.events, 0);
    }));
  };

  it('summarises every change like a full fold, and reuses the index when nothing changed', async () => {
    const first = await store.summaries();
    assert.equal(first.refolded, 2);
    assert.deepEqual(first.summaries, await expected());
    assert.equal(first.summaries[0]?.eventCount, 3);
    assert.deepEqual(first.summaries.map((x) => x.ticket).sort(), ['APP-9', undefined], 'the ticket is in the index (the change pickers show it)');
    assert.equal(first.summaries[0]?.stages.find((s) => s.id === 'plan')?.status, 'running');
    assert.ok(existsSync(store.indexPath));
    const second = await store.summaries();
    assert.equal(second.refolded, 0);
    assert.deepEqual(second.summaries, first.summaries);
  });

  it('notices a new event at once, even within the folder mtime tick', async () => {
    const before = await store.summaries();
    const id = before.summaries[1]!.id;
    const added = await store.append(id, { type: 'change.completed', data: {} });
    const after = await store.summaries();
    assert.equal(after.refolded, 1);
    const summary = after.summaries.find((s) => s.id === id)!;
    assert.equal(summary.completed, true);
    assert.equal(summary.lastEventId, added.id);
    assert.equal(summary.eventCount, 4);
  });

  it('notices changes added and removed, and a deleted or corrupt index loses nothing', async () => {
    const before = await store.summaries();
    const extra = store.newChangeId('Third');
    await store.append(extra, { type: 'change.created', data: { title: 'Third' } });
    assert.equal((await store.summaries()).summaries.length, 3);
    rmSync(join(ws.dir, '.factory', 'changes', extra), { recursive: true });
    assert.deepEqual((await store.summaries()).summaries, before.summaries);

    await store.dropIndex();
    const rebuilt = await store.summaries();
    assert.equal(rebuilt.refolded, 2);
    assert.deepEqual(rebuilt.summaries, before.summaries);
    writeFileSync(store.indexPath, '{"v":1,"pipelineHash":');
    assert.deepEqual((await store.summaries()).summaries, before.summaries);
    writeFileSync(store.indexPath, JSON.stringify({ v: 2, pipelineHash: 'x', entries: 'nope' }));
    assert.deepEqual((await store.summaries()).summaries, before.summaries);
  });

  it('keeps every row when pipeline.json is saved with the same stages, or edited outside the stage ids', async () => {
    await store.summaries();
    const pipeline = JSON.parse(readFileSync(store.pipelinePath, 'utf8')) as { stages: Array<{ title: string; prompt?: string }> };
    writeFileSync(store.pipelinePath, JSON.stringify(pipeline, null, 4));
    assert.equal((await store.summaries()).refolded, 0, 'saved again, reformatted');
    pipeline.stages[0]!.title = 'Planning';
    pipeline.stages[1]!.prompt = 'Another prompt';
    writeFileSync(store.pipelinePath, JSON.stringify(pipeline));
    const after = await store.summaries();
    assert.equal(after.refolded, 0, 'titles and prompts are not folded into statuses');
    assert.deepEqual(after.summaries, await expected());
  });

  it('a change to the stage ids refolds only the changes whose events name a stage that was added, removed or moved', async () => {
    const ids = await store.listChangeIds();
    // One change also names `test`: moving `test` before `plan` changes how its send-backs reset.
    await store.append(ids[0]!, { type: 'stage.sentBack', data: { fromStage: 'test', toStage: 'plan', note: 'Again.' } });
    await store.summaries();
    const pipeline = JSON.parse(readFileSync(store.pipelinePath, 'utf8')) as { stages: Array<{ id: string; title: string }> };
    const edit = async (stages: Array<{ id: string; title: string }>, refolded: number, why: string) => {
      writeFileSync(store.pipelinePath, JSON.stringify({ ...pipeline, stages }));
      const load = await store.summaries();
      assert.equal(load.refolded, refolded, why);
      const fresh = new FileRecordStore(ws.dir, { cacheDir: join(ws.dir, 'other-cache') });
      assert.deepEqual(load.summaries, (await fresh.summaries()).summaries, `${why}: the same as a fold from scratch`);
    };
    const [plan, implement, test, ...rest] = pipeline.stages;
    await edit([...pipeline.stages, { ...implement!, id: 'docs', title: 'Docs' }], 0, 'a stage no event names, added at the end');
    await edit([plan!, implement!, test!, ...rest], 0, 'that stage removed again');
    await edit([plan!, test!, ...rest], 0, 'a stage no event names removed');
    await edit([test!, plan!, ...rest], 1, 'two stages one change names, swapped');
    await edit(pipeline.stages.filter((s) => s.id !== 'plan'), 2, 'a stage both changes name, removed');
    await edit(pipeline.stages, 2, 'and added back');
  });

  it('rebuilds from the events when a row of the index has the wrong shape, and never trusts a rewritten file', async () => {
    const before = await store.summaries();
    const index = JSON.parse(readFileSync(store.indexPath, 'utf8')) as { eventCounts: unknown[] };
    // Same length and order, one field of the wrong type: the whole index is discarded.
    const tampered = structuredClone(index);
    tampered.eventCounts[0] = 'three';
    writeFileSync(store.indexPath, JSON.stringify(tampered));
    const afterBadRow = await store.summaries();
    assert.equal(afterBadRow.refolded, 2);
    assert.deepEqual(afterBadRow.summaries, before.summaries);
    // A valid index written by someone else (another window, the CLI) is read, not the copy in memory.
    const lying = JSON.parse(readFileSync(store.indexPath, 'utf8')) as { ids: string[]; titles: unknown[] };
    lying.titles[0] = 'A title from another writer';
    writeFileSync(store.indexPath, JSON.stringify(lying));
    const trusted = await store.summaries();
    assert.equal(trusted.refolded, 0, 'no change folder moved, so the index is trusted');
    assert.equal(trusted.summaries.find((s) => s.id === lying.ids[0])?.title, 'A title from another writer');
  });

  it('rebuilds an index written by an older version of the format', async () => {
    const before = await store.summaries();
    const current = JSON.parse(readFileSync(store.indexPath, 'utf8')) as { v: number; tickets: unknown[] };
    // Version 1 had no tickets.
    writeFileSync(store.indexPath, JSON.stringify({ ...current, v: 1, tickets: undefined }));
    const after = await store.summaries();
    assert.equal(after.refolded, 2);
    assert.deepEqual(after.summaries, before.summaries);
    assert.equal((JSON.parse(readFileSync(store.indexPath, 'utf8')) as { v: number }).v, INDEX_SCHEMA_VERSION);
  });

  it('decodes only a well-formed file: each field of a row, the shared strings and the header are checked', () => {
    const entry: IndexEntry = {
      summary: { id: 'c1', title: 'T', ticket: 'APP-1', branch: 'factory/c1', createdAt: '2026-01-01T00:00:00.000Z', completed: false, stages: [{ id: 'plan', status: 'passed', named: true }, { id: 'implement', status: 'running', named: true }], eventCount: 3, lastEventId: 'e3', problemCount: 0 },
      dirMtimeMs: 1_000,
      checkedAtMs: 10_000,
    };
    const second: IndexEntry = { ...entry, summary: { ...entry.summary, id: 'c2', branch: 'main', otherStages: 'qa' } };
    const good = encodeIndex(['plan', 'implement'], [entry, second]);
    const decoded = decodeIndex(structuredClone(good));
    assert.deepEqual(decoded?.stageIds, ['plan', 'implement']);
    assert.deepEqual(decoded?.ids, ['c1', 'c2']);
    assert.deepEqual(decoded?.entries.get('c1')?.summary, { ...entry.summary, activeStageId: 'implement' }, 'a branch named after its change');
    assert.deepEqual(decoded?.entries.get('c2')?.summary, { ...second.summary, activeStageId: 'implement' });
    assert.deepEqual(good.branchPrefixes, ['factory/']);
    // Each break is made in the first row (the second has the other stages, looked up by id).
    type File = Record<string, unknown>;
    const column = (f: File, name: string) => f[name] as unknown[];
    const broken: Array<[string, (file: File) => void]> = [
      ['version', (f) => (f.v = INDEX_SCHEMA_VERSION - 1)],
      ['stage ids', (f) => (f.stageIds = ['plan', 3])],
      ['statuses', (f) => (f.statuses = ['vx'])],
      ['statuses type', (f) => (f.statuses = [12])],
      ['branch prefixes', (f) => (f.branchPrefixes = [null])],
      ['a column that is not an array', (f) => (f.titles = { length: 2 })],
      ['a column too short', (f) => column(f, 'dirMtimesMs').pop()],
      ['a column too long', (f) => column(f, 'tickets').push(null)],
      ['a column missing', (f) => delete f.problemCounts],
      ['id', (f) => (column(f, 'ids')[0] = 7)],
      ['the same id twice', (f) => (column(f, 'ids')[0] = 'c2')],
      ['title', (f) => (column(f, 'titles')[0] = null)],
      ['ticket', (f) => (column(f, 'tickets')[0] = 1)],
      ['branch', (f) => (column(f, 'branches')[0] = false)],
      ['branch prefix place', (f) => (column(f, 'branches')[0] = 1)],
      ['branch prefix place, fraction', (f) => (column(f, 'branches')[0] = 0.5)],
      ['createdAt', (f) => (column(f, 'createdAt')[0] = {})],
      ['completed', (f) => (column(f, 'completed')[0] = true)],
      ['status place', (f) => (column(f, 'status')[0] = 1)],
      ['status place type', (f) => (column(f, 'status')[0] = '0')],
      ['event count, negative', (f) => (column(f, 'eventCounts')[0] = -1)],
      ['event count, fraction', (f) => (column(f, 'eventCounts')[0] = 1.5)],
      ['last event id', (f) => (column(f, 'lastEventIds')[0] = 3)],
      ['problem count', (f) => (column(f, 'problemCounts')[0] = '0')],
      ['folder mtime', (f) => (column(f, 'dirMtimesMs')[0] = '1000')],
      ['other stages', (f) => (f.otherStages = { c2: ['qa'] })],
      ['other stages of a change not in the file', (f) => (f.otherStages = { c3: 'qa' })],
      ['other stages that are not an object', (f) => (f.otherStages = null)],
    ];
    for (const [what, breakIt] of broken) {
      const file = structuredClone(good) as unknown as File;
      breakIt(file);
      assert.equal(decodeIndex(file), undefined, `a malformed ${what} is refused`);
    }
    assert.equal(decodeIndex(null), undefined);
  });
});
