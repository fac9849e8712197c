// The factory's state read progressively: the current change first, the list in
// batches, and a watcher's targeted refresh that reads only the changes it names.
import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFactory, type Factory, type FactoryState, type RecordProblem } from '../../../src/engine/factory';
import { tempWorkspace } from '../store/helpers';
import { writeChange, writeEvents } from '../store/plainRecord';

describe('engine: readState, current change first', () => {
  let ws: ReturnType<typeof tempWorkspace>;
  let factory: Factory;
  let problems: RecordProblem[];
  const ids = Array.from({ length: 150 }, (_, i) => `change-${String(i).padStart(3, '0')}`);
  beforeEach(async () => {
    ws = tempWorkspace('read-state');
    problems = [];
    factory = createFactory({ root: ws.dir, settings: { get: () => undefined }, secrets: { get: async () => undefined }, trust: { isTrusted: () => true }, onProblem: (p) => problems.push(p) });
    await factory.store.loadPipeline();
    for (const id of ids) writeChange(ws.dir, id, `Change ${id}`, [{ type: 'attempt.started', data: { stageId: 'plan', attemptId: '01JB0000000000000000000000', backend: 'human' } }]);
  });
  afterEach(() => ws.cleanup());

  it('with no index, shows the current change before any other, then the list as it fills in', async () => {
    await factory.setCurrent(ids[120]);
    writeFileSync(join(ws.dir, '.factory', 'changes', ids[60]!, 'events', '01JB0000000000000000000001.json'), '{"v":1,"id":');
    const told: FactoryState[] = [];
    const state = await factory.readState({ onProgress: (s) => told.push(s) });
    assert.ok(told.length > 2);
    const first = told[0]!;
    assert.equal(first.current?.id, ids[120], 'the current change comes first');
    assert.deepEqual(first.changes.map((c) => c.id), [ids[120]], 'before any other change is listed');
    assert.equal(first.current?.stages[0]?.attempts.length, 1, 'in full: with its attempts');
    assert.ok(first.indexing, 'while indexing');
    for (const s of told.slice(1)) {
      assert.equal(s.current?.id, ids[120]);
      assert.ok(s.changes.some((c) => c.id === ids[120]), 'the current change stays listed while the others fill in');
      assert.ok(s.indexing && s.indexing.total === ids.length);
    }
    const sizes = told.map((s) => s.changes.length);
    assert.deepEqual(sizes, [...sizes].sort((a, b) => a - b), 'the list only grows');
    assert.equal(state.indexing, undefined, 'done');
    assert.equal(state.changes.length, ids.length, 'the corrupt change does not keep the others from the list');
    assert.equal(state.current?.id, ids[120]);
    assert.equal(state.refolded, ids.length);
    assert.ok(problems.some((p) => p.path.includes(`changes/${ids[60]}/events/`)), 'the corrupt file found while indexing is reported');
  });

  it('a targeted read looks only at the named change folder (and new ones); the full one at every folder', async () => {
    await factory.setCurrent(ids[0]);
    assert.equal((await factory.readState()).checked, ids.length);
    writeChange(ws.dir, ids[9]!, 'ignored', [{ type: 'change.completed', data: {} }]);
    writeChange(ws.dir, 'another-one', 'Another one');
    // The watcher names the new change's folder too (its files are under it).
    const targeted = await factory.readState({ changed: { changeIds: [ids[9]!, 'another-one'] } });
    assert.equal(targeted.checked, 2, 'the named change and the new folder');
    assert.equal(targeted.refolded, 2);
    assert.equal(targeted.changes.find((c) => c.id === ids[9])?.completed, true);
    assert.ok(targeted.changes.some((c) => c.id === 'another-one'));
    assert.equal(targeted.current?.id, ids[0]);
    // The current change is read in full on every refresh: an event to it shows.
    writeChange(ws.dir, ids[0]!, 'ignored', [{ type: 'change.completed', data: {} }]);
    const again = await factory.readState({ changed: { changeIds: [ids[0]!] } });
    assert.equal(again.checked, 1);
    assert.equal(again.current?.completed, true);
  });

  it('a later read that indexes many new changes keeps the list and the current change while it fills in', async () => {
    await factory.setCurrent(ids[3]);
    await factory.readState();
    const added = Array.from({ length: 100 }, (_, i) => `pulled-${i}`);
    for (const id of added) writeChange(ws.dir, id, `Pulled ${id}`);
    const told: FactoryState[] = [];
    const state = await factory.readState({ changed: { changeIds: added }, onProgress: (s) => told.push(s) });
    assert.ok(told.length > 1, 'progress was told');
    for (const s of told) {
      assert.equal(s.current?.id, ids[3], 'the current change stays');
      assert.ok(s.changes.length >= ids.length, 'the list never shrinks to what is indexed so far');
    }
    assert.equal(state.changes.length, ids.length + added.length);
    assert.equal(state.checked, added.length);
  });

  it('an event written to the current change while the others are indexed shows before the list is complete, and is never lost after', async () => {
    await factory.setCurrent(ids[120]);
    const told: FactoryState[] = [];
    let wrote = false;
    const state = await factory.readState({
      onProgress: (s) => {
        told.push(s);
        if (wrote || !s.indexing) return;
        wrote = true;
        // The attempt the current change was running finishes, written by another process.
        writeEvents(ws.dir, ids[120]!, [{ type: 'attempt.finished', data: { stageId: 'plan', attemptId: '01JB0000000000000000000000', outcome: 'failed' } }]);
      },
    });
    const outcome = (s: FactoryState) => s.current?.stages.find((st) => st.id === 'plan')?.attempts[0]?.outcome;
    const firstFinished = told.findIndex((s) => outcome(s) === 'failed');
    assert.ok(firstFinished > 0 && told[firstFinished]!.indexing!.done < ids.length, `shown finished while indexing (${told.map((s) => `${s.indexing?.done}:${outcome(s) ?? 'running'}`).join(' ')})`);
    assert.ok(told.slice(firstFinished).every((s) => outcome(s) === 'failed'), 'no later state shows it running again');
    assert.equal(outcome(state), 'failed');
    assert.equal(state.changes.find((c) => c.id === ids[120]), state.current, 'the list holds the current change as folded last');
  });

  it('a targeted read keeps reporting the problems of folders it did not look at', async () => {
    writeFileSync(join(ws.dir, '.factory', 'changes', ids[30]!, 'events', '01JB0000000000000000000002.json'), '{"v":1,"id":');
    writeFileSync(join(ws.dir, '.factory', 'changes', 'stray.txt'), 'not a change');
    const restricted = createFactory({ root: ws.dir, settings: { get: () => undefined }, secrets: { get: async () => undefined }, trust: { isTrusted: () => false } });
    await restricted.setCurrent(ids[0]).catch(() => undefined);
    const full = await restricted.readState();
    assert.ok(full.problems.some((p) => p.path.includes(`changes/${ids[30]}/events/`)));
    assert.ok(full.problems.some((p) => p.path.endsWith('changes/stray.txt')));
    writeChange(ws.dir, ids[31]!, 'ignored', [{ type: 'change.completed', data: {} }]);
    const targeted = await restricted.readState({ changed: { changeIds: [ids[31]!] } });
    assert.equal(targeted.changes.find((c) => c.id === ids[31])?.completed, true);
    assert.deepEqual(targeted.problems.map((p) => p.path), full.problems.map((p) => p.path));
  });
});
