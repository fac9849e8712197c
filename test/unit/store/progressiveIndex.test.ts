// Building the summary index in batches (the first read after a clone), and the
// targeted refresh a file watcher asks for: only the change folders it names are read.
import * as assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileRecordStore, type RecordProblem, type SummaryProgress } from '../../../src/store/recordStore';
import { tempWorkspace } from './helpers';
import { nextEventId, writeChange } from './plainRecord';

describe('store: progressive index and targeted refresh', () => {
  let ws: ReturnType<typeof tempWorkspace>;
  let problems: RecordProblem[];
  let store: FileRecordStore;
  const ids = Array.from({ length: 150 }, (_, i) => `change-${String(i).padStart(3, '0')}`);
  beforeEach(async () => {
    ws = tempWorkspace('progressive');
    problems = [];
    store = new FileRecordStore(ws.dir, { cacheDir: join(ws.dir, 'cache'), onProblem: (p) => problems.push(p) });
    await store.loadPipeline();
    for (const id of ids) writeChange(ws.dir, id, `Change ${id}`);
  });
  afterEach(() => ws.cleanup());

  it('tells progress in batches while it indexes many changes, and reports a corrupt one while the rest are listed', async () => {
    writeFileSync(join(ws.dir, '.factory', 'changes', ids[100]!, 'events', `${nextEventId()}.json`), '{ not json');
    const told: SummaryProgress[] = [];
    const load = await store.summaries({ onProgress: (p) => told.push(p) });
    assert.ok(told.length >= 19, `progress is told at the start and at least every 5% (${told.length} times)`);
    assert.equal(told[0]!.done, 0, 'before the first change is read');
    assert.equal(told[0]!.total, ids.length);
    for (let i = 1; i < told.length; i++) {
      assert.ok(told[i]!.done >= told[i - 1]!.done, 'done only grows');
      assert.equal(told[i]!.summaries.length, told[i]!.done, 'every change done is listed');
    }
    assert.equal(load.refolded, ids.length);
    assert.deepEqual(load.summaries.map((s) => s.id), ids, 'the corrupt change does not keep the others from the list');
    assert.equal(problems.length, 1, 'the corrupt file is reported through onProblem as it is found');
    assert.match(problems[0]!.path, new RegExp(`changes/${ids[100]}/events/`));
    assert.ok(load.problems.some((p) => p.path === problems[0]!.path));
  });

  it('tells no progress for a refresh that reads few changes', async () => {
    await store.summaries();
    writeChange(ws.dir, ids[3]!, 'ignored', [{ type: 'change.completed', data: {} }]);
    const told: SummaryProgress[] = [];
    assert.equal((await store.summaries({ onProgress: (p) => told.push(p) })).refolded, 1);
    assert.deepEqual(told, []);
  });

  it('a second full check while one runs joins it: the record is read once', async () => {
    const [a, b] = await Promise.all([store.summaries(), store.summaries()]);
    assert.equal(a, b);
    assert.equal(a.refolded, ids.length);
  });

  it('a targeted refresh reads only the named change, and still notices a new change folder', async () => {
    const first = await store.summaries();
    assert.equal(first.checked, ids.length, 'the first read checks every folder');
    writeChange(ws.dir, ids[7]!, 'ignored', [{ type: 'change.completed', data: {} }]);
    // Another change written too, but not named: a targeted refresh does not look at it.
    writeChange(ws.dir, ids[8]!, 'ignored', [{ type: 'change.completed', data: {} }]);
    const targeted = await store.summaries({ changed: [ids[7]!] });
    assert.equal(targeted.checked, 1);
    assert.equal(targeted.refolded, 1);
    assert.equal(targeted.summaries.find((s) => s.id === ids[7])?.completed, true);
    assert.equal(targeted.summaries.find((s) => s.id === ids[8])?.completed, false, 'not named, not read');

    writeChange(ws.dir, 'brand-new', 'Brand new');
    const withNew = await store.summaries({ changed: ['brand-new', 'not-a-folder'] });
    assert.equal(withNew.checked, 1, 'only the new folder is read');
    assert.equal(withNew.summaries.find((s) => s.id === 'brand-new')?.title, 'Brand new');
    assert.equal(withNew.summaries.length, ids.length + 1);

    // The full check (the safety net) finds what no watcher named, and saves the index.
    const full = await store.summaries();
    assert.equal(full.checked, ids.length + 1);
    assert.equal(full.summaries.find((s) => s.id === ids[8])?.completed, true);
    const reopened = await new FileRecordStore(ws.dir, { cacheDir: join(ws.dir, 'cache') }).summaries();
    assert.equal(reopened.refolded, 0, 'what the targeted refreshes read was saved with the full check');
    assert.deepEqual(reopened.summaries, full.summaries);
  });

  it('a targeted refresh drops a change whose folder was removed', async () => {
    await store.summaries();
    rmSync(join(ws.dir, '.factory', 'changes', ids[4]!), { recursive: true });
    const load = await store.summaries({ changed: [ids[4]!] });
    assert.equal(load.summaries.length, ids.length - 1);
    assert.ok(!load.summaries.some((s) => s.id === ids[4]));
    assert.equal(load.checked, 0);
  });

  it('a targeted refresh before any full read checks everything', async () => {
    const load = await store.summaries({ changed: [ids[0]!] });
    assert.equal(load.checked, ids.length);
    assert.equal(load.summaries.length, ids.length);
  });
});
