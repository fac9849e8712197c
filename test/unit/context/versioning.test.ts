import { strict as assert } from 'node:assert';
import {
  EMPTY_PACK_VERSION,
  diffContextVersions,
  estimateTokens,
  foldContextPack,
  itemsAtVersion,
  packVersion,
  sha256Hex,
} from '../../../src/core/contextPack';
import { makeWorkspace, type Workspace } from './helpers';

describe('context pack: versions and hashes', () => {
  let ws: Workspace;
  let other: Workspace;
  const files = { 'src/a.ts': 'export const a = 1;\n', 'src/b.ts': 'export const b = 2;\nexport const c = 3;\n', 'README.md': '# demo\n' };

  beforeEach(async () => {
    ws = await makeWorkspace(files);
    other = await makeWorkspace(files);
  });
  afterEach(async () => {
    await ws.cleanup();
    await other.cleanup();
  });

  it('stores each item with its source, the sha256 of its content, a token estimate and a content reference', async () => {
    const edit = await ws.packs.addFileItem('c1', { path: 'src/b.ts', range: { startLine: 2, endLine: 2 } });
    const item = edit.pack.items[0]!;
    assert.equal(item.kind, 'file');
    assert.deepEqual(item.source.range, { startLine: 2, endLine: 2 });
    assert.equal(item.source.path, 'src/b.ts');
    assert.equal(item.contentHash, sha256Hex('export const c = 3;'));
    assert.equal(item.content.sha256, item.contentHash);
    assert.equal(item.tokens, estimateTokens('export const c = 3;'));
    assert.equal(new TextDecoder().decode(await ws.content.get(item.content)), 'export const c = 3;');
    // The event in the record carries the same item.
    const record = await ws.records.readChange('c1');
    assert.equal(record.problems.length, 0);
    assert.deepEqual(record.events.map((e) => e.type), ['context.itemAdded']);
  });

  it('gives the same version to the same content in the same order, in another workspace too', async () => {
    for (const w of [ws, other]) {
      await w.packs.addFileItem('c1', { path: 'src/a.ts' });
      await w.packs.addFileItem('c1', { path: 'src/b.ts' });
      await w.packs.addNote('c1', { text: 'Keep the public API stable.' });
    }
    const [one, two] = [await ws.packs.load('c1'), await other.packs.load('c1')];
    assert.equal(one.version, two.version);
    assert.notEqual(one.version, EMPTY_PACK_VERSION);
    assert.equal(one.version, packVersion(one.items));
  });

  it('does not make a version when the same file is added again unchanged, and refreshes it when it changed', async () => {
    const first = await ws.packs.addFileItem('c1', { path: 'src/a.ts' });
    const again = await ws.packs.addFileItem('c1', { path: 'src/a.ts' });
    assert.equal(again.changed, false);
    assert.equal(again.events.length, 0);
    assert.equal(again.pack.version, first.pack.version);
    await ws.write('src/a.ts', 'export const a = 42;\n');
    const changed = await ws.packs.addFileItem('c1', { path: 'src/a.ts' });
    assert.equal(changed.events[0]?.type, 'context.itemRefreshed');
    assert.equal(changed.pack.items.length, 1);
    assert.notEqual(changed.pack.version, first.pack.version);
  });

  it('makes a new version on reorder, pin and remove; reordering back returns to the earlier version', async () => {
    const a = (await ws.packs.addFileItem('c1', { path: 'src/a.ts' })).itemIds[0]!;
    const b = (await ws.packs.addFileItem('c1', { path: 'src/b.ts' })).itemIds[0]!;
    const v1 = (await ws.packs.load('c1')).version;
    const reordered = await ws.packs.reorder('c1', [b, a]);
    assert.notEqual(reordered.pack.version, v1);
    assert.deepEqual(reordered.pack.items.map((i) => i.id), [b, a]);
    const back = await ws.packs.reorder('c1', [a, b]);
    assert.equal(back.pack.version, v1);
    const pinned = await ws.packs.pin('c1', a);
    assert.notEqual(pinned.pack.version, v1);
    assert.equal(pinned.pack.items[0]?.pinned, true);
    const removed = await ws.packs.removeItem('c1', b, { stageId: 'plan' });
    assert.deepEqual(removed.pack.items.map((i) => i.id), [a]);
    const last = removed.pack.history[removed.pack.history.length - 1]!;
    assert.deepEqual(last.removed, [b]);
    assert.equal(last.stageId, 'plan');
    assert.equal(last.byEvent, removed.events[0]?.id);
    assert.equal(last.by, 'Test User');
  });

  it('keeps a history with every version and diffs any two of them', async () => {
    const a = (await ws.packs.addFileItem('c1', { path: 'src/a.ts' })).itemIds[0]!;
    const v1 = (await ws.packs.load('c1')).version;
    const b = (await ws.packs.addStageOutput('c1', { stageId: 'plan', path: 'README.md' })).itemIds[0]!;
    await ws.write('src/a.ts', 'export const a = 2;\n');
    await ws.packs.refreshItem('c1', a);
    await ws.packs.pin('c1', b);
    const pack = await ws.packs.load('c1');
    assert.equal(pack.history.length, 4);
    assert.deepEqual(pack.history.map((h) => h.type), ['context.itemAdded', 'context.itemAdded', 'context.itemRefreshed', 'context.itemPinned']);
    assert.equal(itemsAtVersion(pack, v1)?.length, 1);
    const diff = diffContextVersions(pack, v1, pack.version);
    assert.deepEqual(diff.added.map((i) => i.id), [b]);
    assert.deepEqual(diff.changed.map((c) => c.after.id), [a]);
    assert.deepEqual(diff.removed, []);
    assert.deepEqual(diff.pinned, []); // b was added after v1, so it is "added", not "pinned"
    assert.equal(diff.reordered, false);
    const back = diffContextVersions(pack, pack.version, EMPTY_PACK_VERSION);
    assert.equal(back.removed.length, 2);
    assert.throws(() => diffContextVersions(pack, 'f'.repeat(64), v1), /not in this change's record/);
  });

  it('folds concurrent edits from two windows: a reorder that does not know a new item keeps it, an edit of a missing item is reported', async () => {
    const a = (await ws.packs.addFileItem('c1', { path: 'src/a.ts' })).itemIds[0]!;
    const b = (await ws.packs.addFileItem('c1', { path: 'src/b.ts' })).itemIds[0]!;
    // Window 2 reorders what it saw; window 1 meanwhile added a note and removed it elsewhere.
    await ws.packs.addNote('c1', { text: 'later note' });
    await ws.records.append('c1', { type: 'context.itemsReordered', data: { order: [b, a] } });
    await ws.records.append('c1', { type: 'context.itemRemoved', data: { itemId: 'note-0000000000000000' } });
    const pack = await ws.packs.load('c1');
    assert.deepEqual(pack.items.map((i) => i.kind), ['file', 'file', 'note']);
    assert.equal(pack.items[0]?.id, b);
    assert.equal(pack.ignored.length, 1);
    assert.match(pack.ignored[0]!.reason, /not in the pack/);
    // The fold is independent of the order the events are handed in.
    const events = (await ws.records.readChange('c1')).events;
    assert.equal(foldContextPack([...events].reverse()).version, pack.version);
  });

  it('rejects edits of items that are not there and reorders naming unknown items', async () => {
    await ws.packs.addFileItem('c1', { path: 'src/a.ts' });
    await assert.rejects(ws.packs.removeItem('c1', 'file-nope'), /No item file-nope in the context pack of c1/);
    await assert.rejects(ws.packs.reorder('c1', ['file-nope']), /no item file-nope/);
    const note = (await ws.packs.addNote('c1', { text: 'n' })).itemIds[0]!;
    await assert.rejects(ws.packs.refreshItem('c1', note), /only items read from the workspace can be refreshed/);
    await assert.rejects(ws.packs.addFileItem('c1', { path: 'src/a.ts', range: { startLine: 3, endLine: 9 } }), /src\/a\.ts: range L3-L9 is past the end of the file \(1 lines\)/);
    await assert.rejects(ws.packs.addFileItem('c1', { path: 'src/missing.ts' }), /src\/missing\.ts: no such file in the workspace/);
    await assert.rejects(ws.packs.addFileItem('c1', { path: 'src' }), /src is a folder; add it as a folder item/);
  });
});
