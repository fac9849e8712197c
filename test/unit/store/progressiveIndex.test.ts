// Building the summary index in batches (the first read after a clone), and the
// targeted refresh a file watcher asks for: only the change folders it names are read.
import * as assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileRecordStore, type ChangeRecord, type RecordProblem, type SummaryLoad, type SummaryProgress } from '../../../src/store/recordStore';
import { tempWorkspace } from './helpers';
import { nextEventId, writeChange, writeEvents } from './plainRecord';

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

  it('checks end in the order they were asked for, each as new as the one before: a slow earlier check never has the last word', async () => {
    const slow = new HeldStore(ws.dir, { cacheDir: join(ws.dir, 'cache') });
    await slow.summaries();
    const [a, b] = [ids[10]!, ids[11]!];
    const attempt = (n: number) => ({ type: 'attempt.started', data: { stageId: 'plan', attemptId: nextEventId(), backend: 'human', number: n } });
    writeEvents(ws.dir, a, [attempt(1)]);
    // The targeted check reads `a` with 2 events, then is held before it returns.
    const held = slow.holdAfterReading(a);
    const ended: Array<{ what: string; events: number | undefined }> = [];
    const track = (what: string, load: Promise<SummaryLoad>) => load.then((l) => ended.push({ what, events: l.summaries.find((s) => s.id === a)?.eventCount }));
    const first = track('targeted, started first', slow.summaries({ changed: [a] }));
    await held.reached;
    // Another writer adds an event meanwhile; a full check and another targeted one are asked for.
    writeEvents(ws.dir, a, [attempt(2)]);
    const full = track('full, asked for later', slow.summaries());
    const other = track('targeted at another change, asked for last', slow.summaries({ changed: [b] }));
    // Time enough for the later checks to end, were they not queued behind the held one.
    for (let waited = 0; waited < 1500 && ended.length === 0; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(ended, [], 'nothing ends before the check asked for first');
    held.release();
    await Promise.all([first, full, other]);
    assert.deepEqual(ended, [
      { what: 'targeted, started first', events: 2 },
      { what: 'full, asked for later', events: 3 },
      { what: 'targeted at another change, asked for last', events: 3 },
    ]);
    const later = await slow.summaries({ changed: [b] });
    assert.equal(later.summaries.find((s) => s.id === a)?.eventCount, 3, 'the index in memory holds the newest reading');
  });

  it('a full check joins one under way only if this store wrote nothing since it started, and always one waiting its turn', async () => {
    const slow = new HeldStore(ws.dir, { cacheDir: join(ws.dir, 'cache') });
    await slow.summaries();
    writeEvents(ws.dir, ids[20]!, [{ type: 'change.completed', data: {} }]);
    const held = slow.holdAfterReading(ids[20]!);
    const running = slow.summaries();
    await held.reached;
    const joined = slow.summaries();
    // Written by this store while the check runs: that check may have looked before the write.
    await slow.append(ids[22]!, { type: 'change.completed', data: {} });
    const after = slow.summaries();
    const waiting = slow.summaries();
    held.release();
    assert.equal(await joined, await running, 'no write since it started: joined');
    assert.notEqual(await after, await running, 'after a write: a check of its own');
    assert.equal(await waiting, await after, 'the check waiting its turn looks after both calls: joined');
    assert.equal((await after).summaries.find((s) => s.id === ids[22])?.completed, true);
  });

  it('a change another process adds while the first full check runs is listed by the watcher\'s call, which does not join that check', async () => {
    const slow = new HeldStore(ws.dir, { cacheDir: join(ws.dir, 'cache') });
    const held = slow.holdAfterReading(ids[20]!);
    const first = slow.summaries();
    await held.reached;
    // The folder listing is done: a change written now is not in it, and the watcher names it.
    writeChange(ws.dir, 'change-new', 'Written meanwhile');
    const named = slow.summaries({ changed: ['change-new'] });
    held.release();
    assert.equal((await first).summaries.some((s) => s.id === 'change-new'), false, 'the running check listed before the write');
    assert.equal((await named).summaries.some((s) => s.id === 'change-new'), true, 'the watcher\'s call looked after it');
  });

  it('a targeted refresh still reports what it did not look at: the changes folder\'s bad entries and changes with problems (Restricted Mode)', async () => {
    writeFileSync(join(ws.dir, '.factory', 'changes', 'stray.txt'), 'not a change');
    writeFileSync(join(ws.dir, '.factory', 'changes', ids[5]!, 'events', `${nextEventId()}.json`), '{ not json');
    const restricted = new FileRecordStore(ws.dir, { cacheDir: join(ws.dir, 'cache'), mayWrite: () => false });
    const paths = (load: SummaryLoad) => load.problems.map((p) => p.path).sort();
    const full = await restricted.summaries();
    assert.equal(full.problems.length, 2);
    writeEvents(ws.dir, ids[9]!, [{ type: 'change.completed', data: {} }]);
    const targeted = await restricted.summaries({ changed: [ids[9]!] });
    assert.equal(targeted.summaries.find((s) => s.id === ids[9])?.completed, true);
    assert.deepEqual(paths(targeted), paths(full), 'the same problems, though neither folder was named');
    assert.ok(targeted.problems.every((p) => p.pending));
  });
});

/** A store whose readChange of one change can be held after reading, as a slow disk would: a port for ordering tests. */
class HeldStore extends FileRecordStore {
  private hold: { changeId: string; reached: () => void; released: Promise<void> } | undefined;

  holdAfterReading(changeId: string): { reached: Promise<void>; release: () => void } {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (this.hold = { changeId, reached: resolve, released }));
    return { reached, release };
  }

  override async readChange(changeId: string): Promise<ChangeRecord> {
    const record = await super.readChange(changeId);
    const hold = this.hold;
    if (hold?.changeId === changeId) {
      this.hold = undefined;
      hold.reached();
      await hold.released;
    }
    return record;
  }
}
