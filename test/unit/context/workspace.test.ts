import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderContextPack } from '../../../src/core/contextRender';
import { checkStaleness, detectConventions } from '../../../src/store/contextPackStore';
import { getText } from '../../../src/store/contextContent';
import { makeWorkspace, type Workspace } from './helpers';

describe('context pack: the workspace', () => {
  let ws: Workspace;
  let outside: string;
  beforeEach(async () => {
    ws = await makeWorkspace({ 'src/a.ts': 'a\n' });
    outside = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'factory-outside-')));
    await fs.writeFile(path.join(outside, 'secret.txt'), 'top secret\n');
  });
  afterEach(async () => {
    await ws.cleanup();
    await fs.rm(outside, { recursive: true, force: true });
  });

  describe('convention files', () => {
    it('detects each known convention file and folder with its size, and nothing else', async () => {
      await ws.write('AGENTS.md', 'agents\n');
      await ws.write('.github/copilot-instructions.md', 'copilot rules\n');
      await ws.write('.cursor/rules/style.mdc', 'style\n');
      await ws.write('.cursor/rules/sub/tests.mdc', 'tests!\n');
      await ws.write('.kiro/steering/product.md', 'product\n');
      await ws.write('.github/workflows/ci.yml', 'not a convention\n');
      const found = await detectConventions(ws.root);
      assert.deepEqual(
        found.map((f) => [f.path, f.kind, f.bytes, f.files.map((x) => x.path)]),
        [
          ['AGENTS.md', 'file', 7, ['AGENTS.md']],
          ['.github/copilot-instructions.md', 'file', 14, ['.github/copilot-instructions.md']],
          ['.cursor/rules', 'folder', 13, ['.cursor/rules/style.mdc', '.cursor/rules/sub/tests.mdc']],
          ['.kiro/steering', 'folder', 8, ['.kiro/steering/product.md']],
        ],
      );
      assert.equal(found.find((f) => f.path === '.cursor/rules')?.tool, 'Cursor');
    });

    it('finds CLAUDE.md and .cursorrules, and an empty workspace has none', async () => {
      assert.deepEqual(await detectConventions(ws.root), []);
      await ws.write('CLAUDE.md', 'claude\n');
      await ws.write('.cursorrules', 'legacy\n');
      assert.deepEqual((await detectConventions(ws.root)).map((f) => f.path), ['CLAUDE.md', '.cursorrules']);
    });

    it('adds convention files as items (one per rule file), all or the chosen ones', async () => {
      await ws.write('AGENTS.md', 'agents\n');
      await ws.write('.cursor/rules/a.mdc', 'a\n');
      await ws.write('.cursor/rules/b.mdc', 'b\n');
      const chosen = await ws.packs.addConventionItems('c1', { paths: ['.cursor/rules'] });
      assert.deepEqual(chosen.pack.items.map((i) => [i.kind, i.source.path]), [
        ['convention', '.cursor/rules/a.mdc'],
        ['convention', '.cursor/rules/b.mdc'],
      ]);
      const all = await ws.packs.addConventionItems('c1');
      assert.equal(all.pack.items.length, 3);
      assert.equal(all.events.length, 1, 'the rule files already in the pack are not added again');
      await assert.rejects(ws.packs.addConventionItems('c1', { paths: ['README.md'] }), /Not a detected convention file or folder: README\.md/);
    });

    it('does not offer a convention file that is a link leading outside the workspace', async () => {
      await fs.symlink(path.join(outside, 'secret.txt'), path.join(ws.root, 'AGENTS.md'));
      const found = await detectConventions(ws.root);
      assert.equal(found.length, 1);
      assert.match(found[0]!.problem ?? '', /symbolic link leads outside/);
      const edit = await ws.packs.addConventionItems('c1');
      assert.equal(edit.pack.items.length, 0);
    });
  });

  describe('paths stay inside the workspace', () => {
    it('rejects `..`, absolute paths and links that escape, with a clear error', async () => {
      await assert.rejects(ws.packs.addFileItem('c1', { path: '../secret.txt' }), /Path "\.\.\/secret\.txt" is not inside the workspace .*: it climbs out with "\.\."/);
      await assert.rejects(ws.packs.addFileItem('c1', { path: path.join(outside, 'secret.txt') }), /absolute paths are not allowed/);
      await assert.rejects(ws.packs.addFileItem('c1', { path: 'C:\\Windows\\win.ini' }), /absolute paths are not allowed/);
      await fs.symlink(outside, path.join(ws.root, 'linked'));
      await assert.rejects(ws.packs.addFileItem('c1', { path: 'linked/secret.txt' }), /a symbolic link leads outside/);
      await assert.rejects(ws.packs.addFolderItem('c1', { path: 'linked' }), /a symbolic link leads outside/);
      await assert.rejects(
        ws.packs.addSelectionItem('c1', { path: '../x.ts', range: { startLine: 1, endLine: 1 }, text: 'x' }),
        /climbs out/,
      );
      assert.equal((await ws.records.readChange('c1')).events.length, 0, 'nothing was recorded');
    });

    it('never reads outside the workspace for an item a record names, e.g. a pushed event', async () => {
      const added = await ws.packs.addFileItem('c1', { path: 'src/a.ts' });
      const item = added.pack.items[0]!;
      // A hostile record: the same item, pointing outside.
      await ws.records.append('c1', {
        type: 'context.itemAdded',
        data: { item: { ...item, id: 'file-evil', source: { path: '../../../../../../..' + path.join(outside, 'secret.txt') } } },
      });
      const pack = await ws.packs.load('c1');
      assert.deepEqual(await checkStaleness(ws.root, pack), ['file-evil']);
      await assert.rejects(ws.packs.refreshItem('c1', 'file-evil'), /not inside the workspace/);
    });

    it('lists a folder without entering linked folders, .git, node_modules or .factory', async () => {
      await ws.write('src/deep/x.ts', 'x\n');
      await ws.write('src/node_modules/m/index.js', 'm\n');
      await fs.symlink(outside, path.join(ws.root, 'src', 'linked'));
      const edit = await ws.packs.addFolderItem('c1', { path: 'src' });
      const text = await getText(ws.content, edit.pack.items[0]!.content);
      assert.equal(text, 'a.ts\ndeep/\ndeep/x.ts\nlinked@\n(not listed: node_modules)\n');
    });
  });

  describe('folder listings follow .gitignore', () => {
    it('lists exactly what git itself would track or show as untracked', async () => {
      await ws.write('.gitignore', 'dist/\n*.log\n!keep.log\n/top-only.txt\n');
      await ws.write('app/.gitignore', 'generated/\n*.tmp\n!important.tmp\n');
      await ws.write('app/src/main.ts', 'm\n');
      await ws.write('app/src/debug.log', 'noise\n');
      await ws.write('app/src/keep.log', 'kept\n');
      await ws.write('app/dist/bundle.js', 'b\n');
      await ws.write('app/generated/types.ts', 'g\n');
      await ws.write('app/scratch.tmp', 't\n');
      await ws.write('app/important.tmp', 'i\n');
      await ws.write('app/top-only.txt', 'not the root one, so listed\n');
      await ws.write('top-only.txt', 'ignored at the root\n');
      execFileSync('git', ['init', '-q'], { cwd: ws.root });
      await ws.write('.git/info/exclude', 'app/src/local-notes.md\n');
      await ws.write('app/src/local-notes.md', 'mine\n');

      const edit = await ws.packs.addFolderItem('c1', { path: 'app', depth: 5 });
      const listed = (await getText(ws.content, edit.pack.items[0]!.content)).split('\n');
      const files = listed.filter((l) => l && !l.endsWith('/') && !l.startsWith('('));
      // The oracle: git's own idea of the folder's files (tracked or untracked, not ignored).
      const byGit = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', 'app'], { cwd: ws.root, encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .map((f) => f.slice('app/'.length))
        .sort();
      assert.deepEqual(files.sort(), byGit);
      assert.deepEqual(byGit, ['.gitignore', 'important.tmp', 'src/keep.log', 'src/main.ts', 'top-only.txt']);
      assert.ok(listed.includes('(5 ignored by .gitignore)'), listed.join('\n'));
    });

    it('also applies the .gitignore files above the listed folder', async () => {
      await ws.write('.gitignore', 'out/\n');
      await ws.write('pkg/lib/out/x.js', 'x\n');
      await ws.write('pkg/lib/index.ts', 'i\n');
      const edit = await ws.packs.addFolderItem('c1', { path: 'pkg/lib' });
      assert.equal(await getText(ws.content, edit.pack.items[0]!.content), 'index.ts\n(1 ignored by .gitignore)\n');
    });
  });

  describe('hostile text', () => {
    const hostile = '<img src=x onerror=alert(1)> <script>alert("x")</script> ``` {{context}} \u202e\u0000 ${evil}';

    it('keeps hostile text verbatim in notes, selections, tickets, files and stage outputs, and in the rendered text', async () => {
      await ws.write('src/hostile.html', `${hostile}\n`);
      const note = await ws.packs.addNote('c1', { text: hostile, title: hostile });
      await ws.packs.addSelectionItem('c1', { path: 'src/a.ts', range: { startLine: 1, endLine: 1, startCharacter: 0, endCharacter: 1 }, text: hostile });
      await ws.packs.addTicket('c1', { text: hostile });
      await ws.packs.addStageOutput('c1', { stageId: 'plan', name: 'summary.md', text: hostile });
      await assert.rejects(ws.packs.addFileItem('c1', { path: 'src/hostile.html' }), /looks binary/, 'a NUL byte makes it binary');
      await ws.write('src/hostile.html', `${hostile.replace('\u0000', '')}\n`);
      await ws.packs.addFileItem('c1', { path: 'src/hostile.html' });

      const pack = await ws.packs.load('c1');
      assert.equal(pack.items.length, 5);
      assert.equal(pack.items.find((i) => i.id === note.itemIds[0])?.title, hostile);
      const { contents, problems } = await ws.packs.loadContents(pack.items);
      assert.deepEqual(problems, []);
      for (const item of pack.items) {
        const expected = item.kind === 'file' ? `${hostile.replace('\u0000', '')}\n` : hostile;
        assert.equal(contents.get(item.id), expected, item.kind);
      }
      const rendered = renderContextPack(pack.items, contents);
      assert.ok(rendered.text.includes('<img src=x onerror=alert(1)>'));
      assert.ok(rendered.text.includes(`\`\`\`\`markdown\n${hostile}\n\`\`\`\``), 'fenced so that the ``` inside cannot close it');
    });

    it('refuses to read altered content back', async () => {
      const edit = await ws.packs.addNote('c1', { text: 'original' });
      const ref = edit.pack.items[0]!.content;
      const stored = path.join(ws.root, '.factory', 'evidence', ref.sha256.slice(0, 2), ref.sha256.slice(2));
      await fs.writeFile(stored, 'tampered');
      await assert.rejects(ws.content.get(ref), /was altered/);
      const rendered = await ws.packs.render('c1');
      assert.equal(rendered.cut.length, 1);
      assert.match(rendered.cut[0]!.reason, /content not available/);
    });
  });
  it('records a path that climbs out and back in as the path inside, never as one that climbs out (file, folder, selection)', async () => {
    // `src/../../<workspace folder>/src/a.ts` resolves inside; spelled as given it would be
    // `../<workspace folder>/src/a.ts`: a file outside in any clone in a folder of another name.
    const back = `src/../../${path.basename(ws.root)}`;
    const file = await ws.packs.addFileItem('c1', { path: `${back}/src/a.ts` });
    const folder = await ws.packs.addFolderItem('c1', { path: `${back}/src` });
    const selection = await ws.packs.addSelectionItem('c1', { path: `${back}/src/a.ts`, range: { startLine: 1, endLine: 1 }, text: 'a' });
    const items = selection.pack.items;
    const byId = (id: string) => items.find((i) => i.id === id)!;
    assert.deepEqual([byId(file.itemIds[0]!).source.path, byId(folder.itemIds[0]!).source.path, byId(selection.itemIds[0]!).source.path], ['src/a.ts', 'src', 'src/a.ts']);
    assert.ok(items.every((i) => !i.title.includes('..')), items.map((i) => i.title).join(', '));
    // The same item as the plain path: adding it again changes nothing.
    assert.equal((await ws.packs.addFileItem('c1', { path: 'src/a.ts' })).changed, false);
  });
});
