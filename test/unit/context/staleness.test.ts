import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { assessStaleness } from '../../../src/core/contextPack';
import { checkStaleness, currentHashes } from '../../../src/store/contextPackStore';
import { getText } from '../../../src/store/contextContent';
import { makeWorkspace, type Workspace } from './helpers';

describe('context pack: staleness', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await makeWorkspace({
      'src/a.ts': 'line 1\nline 2\nline 3\nline 4\n',
      'src/b.ts': 'const b = 1;\n',
      'docs/guide.md': '# guide\n',
    });
  });
  afterEach(() => ws.cleanup());

  it('marks a file item stale after the file is edited on disk, and a refresh makes a new, fresh version', async () => {
    const a = (await ws.packs.addFileItem('c1', { path: 'src/a.ts' })).itemIds[0]!;
    await ws.packs.addFileItem('c1', { path: 'src/b.ts' });
    await ws.packs.addNote('c1', { text: 'notes never go stale' });
    const before = await ws.packs.checkStaleness('c1');
    assert.equal(before.stale, false);

    await ws.write('src/a.ts', 'line 1\nline 2 edited\nline 3\nline 4\n');
    const after = await ws.packs.checkStaleness('c1');
    assert.equal(after.stale, true);
    assert.deepEqual(after.items, [{ itemId: a, reason: 'changed' }]);
    assert.deepEqual(await checkStaleness(ws.root, after.pack), [a]);

    const refreshed = await ws.packs.refreshItem('c1', a);
    assert.equal(refreshed.changed, true);
    assert.notEqual(refreshed.pack.version, before.pack.version);
    assert.deepEqual(await checkStaleness(ws.root, refreshed.pack), []);
    const item = refreshed.pack.items.find((i) => i.id === a)!;
    assert.equal(new TextDecoder().decode(await ws.content.get(item.content)), 'line 1\nline 2 edited\nline 3\nline 4\n');
    // The old version is still reproducible from the record.
    const old = before.pack.items.find((i) => i.id === a)!;
    assert.equal(new TextDecoder().decode(await ws.content.get(old.content)), 'line 1\nline 2\nline 3\nline 4\n');
  });

  it('marks a range item stale only when its own lines change', async () => {
    const range = (await ws.packs.addFileItem('c1', { path: 'src/a.ts', range: { startLine: 1, endLine: 2 } })).itemIds[0]!;
    await ws.write('src/a.ts', 'line 1\nline 2\nline 3\nline 4 edited\n');
    assert.deepEqual(await checkStaleness(ws.root, await ws.packs.load('c1')), []);
    await ws.write('src/a.ts', 'line 0\nline 1\nline 2\nline 3\n');
    assert.deepEqual(await checkStaleness(ws.root, await ws.packs.load('c1')), [range]);
  });

  it('marks a deleted file missing and a folder listing stale when a file appears', async () => {
    const b = (await ws.packs.addFileItem('c1', { path: 'src/b.ts' })).itemIds[0]!;
    const docs = (await ws.packs.addFolderItem('c1', { path: 'docs' })).itemIds[0]!;
    await fs.rm(path.join(ws.root, 'src/b.ts'));
    await ws.write('docs/new.md', 'new\n');
    const result = await ws.packs.checkStaleness('c1');
    assert.deepEqual(
      [...result.items].sort((x, y) => x.itemId.localeCompare(y.itemId)),
      [
        { itemId: b, reason: 'missing' },
        { itemId: docs, reason: 'changed' },
      ].sort((x, y) => x.itemId.localeCompare(y.itemId)),
    );
    await ws.packs.refreshItem('c1', docs);
    assert.deepEqual(await checkStaleness(ws.root, await ws.packs.load('c1')), [b]);
    await assert.rejects(ws.packs.refreshItem('c1', b), /src\/b\.ts: no such file in the workspace/);
  });

  it('compares a selection (with characters) with the same range on disk', async () => {
    // As VS Code gives it: lines 2-3, from character 5 of line 2 to character 4 of line 3.
    const edit = await ws.packs.addSelectionItem('c1', { path: 'src/a.ts', range: { startLine: 2, startCharacter: 5, endLine: 3, endCharacter: 4 }, text: '2\nline' });
    const id = edit.itemIds[0]!;
    assert.deepEqual(await checkStaleness(ws.root, edit.pack), []);
    // Typed in the editor but not saved: the disk differs from what the pack holds.
    const unsaved = await ws.packs.addSelectionItem('c1', { path: 'src/a.ts', range: { startLine: 1, endLine: 1 }, text: 'line 1 (unsaved)' });
    assert.deepEqual(await checkStaleness(ws.root, unsaved.pack), [unsaved.itemIds[0]]);
    await ws.write('src/a.ts', 'line 1\nline X\nline 3\nline 4\n');
    assert.ok((await checkStaleness(ws.root, await ws.packs.load('c1'))).includes(id));
    const refreshed = await ws.packs.refreshItem('c1', id);
    const item = refreshed.pack.items.find((i) => i.id === id)!;
    assert.equal(await getText(ws.content, item.content), 'X\nline');
  });

  it('judges staleness purely from given hashes', async () => {
    const a = (await ws.packs.addFileItem('c1', { path: 'src/a.ts' })).itemIds[0]!;
    const pack = await ws.packs.load('c1');
    const hashes = await currentHashes(ws.root, pack.items);
    assert.deepEqual(assessStaleness(pack.items, hashes), { stale: false, items: [] });
    assert.deepEqual(assessStaleness(pack.items, new Map([[a, 'f'.repeat(64)]])).items, [{ itemId: a, reason: 'changed' }]);
    assert.deepEqual(assessStaleness(pack.items, new Map([[a, null]])).items, [{ itemId: a, reason: 'missing' }]);
    assert.deepEqual(assessStaleness(pack.items, new Map()).items, []);
  });
});
