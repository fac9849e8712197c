import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { estimateTokens } from '../../../src/core/contextPack';
import { fence, renderContextPack } from '../../../src/core/contextRender';
import { makeWorkspace, type Workspace } from './helpers';

describe('context pack: rendering for agents', () => {
  let ws: Workspace;
  const big = `${'const filler = "x";\n'.repeat(200)}`; // ~1000 tokens
  beforeEach(async () => {
    ws = await makeWorkspace({
      'src/small.ts': 'export const small = 1;\n',
      'src/big.ts': big,
      'src/pinned.ts': big,
      'AGENTS.md': '# Conventions\nUse tabs.\n',
    });
  });
  afterEach(() => ws.cleanup());

  async function buildPack() {
    await ws.packs.addTicket('c1', { text: 'Add a small feature.' });
    await ws.packs.addFileItem('c1', { path: 'src/big.ts' });
    await ws.packs.addFileItem('c1', { path: 'src/small.ts', range: { startLine: 1, endLine: 1 } });
    await ws.packs.addFileItem('c1', { path: 'src/pinned.ts', pinned: true });
    await ws.packs.addConventionItems('c1');
    await ws.packs.addNote('c1', { text: 'Mind the edge cases.' });
    return ws.packs.load('c1');
  }

  it('renders every item in sections per kind, with fenced contents labelled by path and range', async () => {
    const pack = await buildPack();
    const rendered = await ws.packs.render('c1');
    assert.deepEqual(rendered.cut, []);
    assert.equal(rendered.included.length, pack.items.length);
    assert.equal(rendered.version, pack.version);
    const text = rendered.text;
    assert.ok(text.includes(`Version \`${pack.version}\``));
    for (const heading of ['## Ticket', '## Project conventions', '## Files', '## Notes']) assert.ok(text.includes(heading), heading);
    assert.ok(text.indexOf('## Ticket') < text.indexOf('## Project conventions'));
    assert.ok(text.indexOf('## Project conventions') < text.indexOf('## Files'));
    assert.ok(text.includes('### `src/small.ts` (line 1)\n\n```ts\nexport const small = 1;\n```'), text);
    assert.ok(text.includes('### `src/pinned.ts` (pinned)'));
    assert.ok(text.includes('### `AGENTS.md`\n\n```markdown\n# Conventions\nUse tabs.\n```'));
    assert.equal(rendered.tokens, estimateTokens(text));
  });

  it('cuts within a token budget, lists what was cut in the text and the result, and keeps pinned items', async () => {
    const pack = await buildPack();
    const rendered = await ws.packs.render('c1', { budgetTokens: 1300 });
    assert.ok(rendered.withinBudget);
    assert.ok(rendered.tokens <= 1300, `${rendered.tokens} tokens`);
    const pinned = pack.items.find((i) => i.pinned)!;
    const bigItem = pack.items.find((i) => i.source.path === 'src/big.ts')!;
    assert.ok(rendered.included.includes(pinned.id), 'the pinned item is kept');
    assert.deepEqual(rendered.cut.map((c) => c.itemId), [bigItem.id]);
    assert.match(rendered.cut[0]!.reason, /over the token budget: needs ~\d+ tokens, ~\d+ left/);
    assert.ok(rendered.text.includes('## Left out'));
    assert.ok(rendered.text.includes('- src/big.ts (file, ~'));
    // Nothing silently dropped: every item is either in the text or in the cut list.
    assert.deepEqual([...rendered.included, ...rendered.cut.map((c) => c.itemId)].sort(), pack.items.map((i) => i.id).sort());
  });

  it('cuts pinned items last, and only when nothing else is left to cut', async () => {
    const pack = await buildPack();
    const rendered = await ws.packs.render('c1', { budgetTokens: 300 });
    const pinned = pack.items.find((i) => i.pinned)!;
    const cutIds = rendered.cut.map((c) => c.itemId);
    assert.ok(cutIds.includes(pinned.id));
    assert.equal(rendered.cut.find((c) => c.itemId === pinned.id)?.pinned, true);
    assert.ok(rendered.text.includes('(file, pinned, ~'));
    assert.ok(rendered.tokens <= 300, `${rendered.tokens} tokens`);
    assert.ok(rendered.included.length > 0, 'small items still fit');
  });

  it('makes room for the list of cut items by cutting the lowest-priority item, and says when even that does not fit', () => {
    const items = ['a', 'b', 'c'].map((name, i) => ({
      id: `note-${name}`,
      kind: 'note',
      title: `note ${name} ${'with a long title '.repeat(5)}`,
      source: {},
      contentHash: String(i).repeat(64),
      tokens: 25,
      content: { sha256: String(i).repeat(64), name: 'note.md' },
      pinned: false,
    }));
    const contents = new Map(items.map((item) => [item.id, 'n'.repeat(100)]));
    const all = renderContextPack(items, contents);
    const budget = all.tokens - 1;
    const rendered = renderContextPack(items, contents, { budgetTokens: budget });
    assert.ok(rendered.tokens <= budget);
    assert.deepEqual([...rendered.included, ...rendered.cut.map((c) => c.itemId)].sort(), items.map((i) => i.id).sort());
    const tiny = renderContextPack(items, contents, { budgetTokens: 5 });
    assert.equal(tiny.withinBudget, false);
    assert.equal(tiny.cut.length, 3);
    assert.ok(tiny.text.includes('## Left out'));
  });

  it('cuts an item whose content is not available with that reason, and never lets content close its fence', () => {
    const item = {
      id: 'note-x',
      kind: 'note',
      title: 'x',
      source: {},
      contentHash: 'a'.repeat(64),
      tokens: 1,
      content: { sha256: 'a'.repeat(64), name: 'note.md' },
      pinned: false,
    };
    const rendered = renderContextPack([item], new Map());
    assert.deepEqual(rendered.cut.map((c) => c.reason), ['content not available in the content store']);
    assert.equal(fence('a ``` b\n````\n'), '`````\na ``` b\n````\n`````');
  });

  it('writes rendered context to a write-once file the agent can read', async () => {
    await buildPack();
    const rendered = await ws.packs.render('c1', { budgetTokens: 2000 });
    const rel = await ws.packs.writeContextFile('c1', rendered.text);
    assert.match(rel, /^\.factory\/changes\/c1\/context\/[0-9a-f]{16}\.md$/);
    assert.equal(await fs.readFile(path.join(ws.root, rel), 'utf8'), rendered.text);
    assert.equal(await ws.packs.writeContextFile('c1', rendered.text), rel);
  });
});
