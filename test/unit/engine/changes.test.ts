import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileRecordStore } from '../../../src/store/recordStore';
import { GitAdapter } from '../../../src/git/gitAdapter';
import { changeForBranch, listChanges, listChangeSummaries, loadChange, PipelineInvalidError, startChange } from '../../../src/engine/changes';
import type { EngineDeps } from '../../../src/engine/ports';
import { FileEvidenceStore } from '../../../src/store/evidence';

describe('engine: changes', () => {
  let dir: string;
  let deps: EngineDeps;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fc-changes-'));
    execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: dir });
    execFileSync('git', ['config', 'user.name', 'Ada'], { cwd: dir });
    execFileSync('git', ['config', 'user.email', 'ada@example.com'], { cwd: dir });
    let t = Date.parse('2026-11-20T09:00:00Z');
    const clock = { now: () => new Date((t += 1000)) };
    deps = { store: new FileRecordStore(dir, { now: clock.now }), git: new GitAdapter(dir), evidence: new FileEvidenceStore(dir), clock };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts a change bound to the current branch, writing the default pipeline on first use', async () => {
    const change = await startChange(deps, { title: '  Add search  ', ticket: 'APP-1', branchMode: 'bindCurrent' });
    assert.equal(change.title, 'Add search');
    assert.equal(change.branch, 'main');
    assert.match(change.id, /^add-search-[0-9a-z]{6}$/);
    const loaded = await loadChange(deps, change.id);
    assert.equal(loaded.state.createdBy, 'Ada');
    assert.equal(loaded.pipeline.stages.length, 5);
  });

  it('creates a branch for the change when asked', async () => {
    writeFileSync(join(dir, 'a.txt'), 'a');
    execFileSync('git', ['add', '-A'], { cwd: dir });
    execFileSync('git', ['commit', '-qm', 'a'], { cwd: dir });
    const change = await startChange(deps, { title: 'Branchy', branchMode: 'createBranch' });
    assert.equal(change.branch, `factory/${change.id}`);
    assert.equal(await deps.git.currentBranch(), change.branch);
  });

  it('refuses an empty title', async () => {
    await assert.rejects(startChange(deps, { title: '   ', branchMode: 'none' }), /needs a title/);
  });

  it('lists changes and finds the one bound to a branch, newest first', async () => {
    const a = await startChange(deps, { title: 'A', branchMode: 'bindCurrent' });
    const b = await startChange(deps, { title: 'B', branchMode: 'bindCurrent' });
    await startChange(deps, { title: 'C', branchMode: 'none' });
    const list = await listChanges(deps);
    assert.equal(list.changes.length, 3);
    assert.equal(changeForBranch(list.changes, 'main')?.id, b.id);
    assert.notEqual(a.id, b.id);
    assert.equal(changeForBranch(list.changes, 'other'), undefined);
  });

  it('lists changes from the summary index, oldest first, the same after the index is deleted', async () => {
    const a = await startChange(deps, { title: 'Zebra first', branchMode: 'bindCurrent' });
    const b = await startChange(deps, { title: 'Aardvark second', branchMode: 'bindCurrent' });
    const list = await listChangeSummaries(deps);
    assert.deepEqual(list.changes.map((c) => c.id), [a.id, b.id], 'by creation, not by id');
    assert.equal(list.changes[0]!.stages[0]!.status, 'pending');
    assert.equal(list.changes[0]!.stages[0]!.attempts.length, 0, 'summaries carry statuses, not attempts');
    assert.equal(changeForBranch(list.changes, 'main')?.id, b.id);
    const store = deps.store as FileRecordStore;
    assert.equal((await store.summaries()).refolded, 0, 'the second read comes from the index');
    await store.dropIndex();
    const again = await listChangeSummaries(deps);
    assert.deepEqual(again.changes.map((c) => [c.id, c.title]), list.changes.map((c) => [c.id, c.title]));
  });

  it('says what is wrong with an invalid pipeline instead of starting', async () => {
    mkdirSync(join(dir, '.factory'), { recursive: true });
    writeFileSync(join(dir, '.factory', 'pipeline.json'), JSON.stringify({ version: 1, stages: [{ id: 'plan', title: 'Plan', owner: { backend: '' } }] }));
    await assert.rejects(startChange(deps, { title: 'X', branchMode: 'none' }), (e: unknown) => {
      assert.ok(e instanceof PipelineInvalidError);
      assert.match(e.message, /\.factory\/pipeline\.json \(stages\.0\.owner\.backend\)/);
      return true;
    });
    const list = await listChanges(deps);
    assert.equal(list.changes.length, 0);
    assert.equal(list.problems[0]?.field, 'stages.0.owner.backend');
  });
});
