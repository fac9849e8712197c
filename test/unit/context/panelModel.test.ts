import { strict as assert } from 'node:assert';
import { ulid } from 'ulid';
import { EMPTY_PACK_VERSION } from '../../../src/core/contextPack';
import { parseHostMessage } from '../../../src/core/contextPanelProtocol';
import { foldChange } from '../../../src/core/fold';
import { defaultPipeline, PipelineSchema } from '../../../src/core/pipeline';
import { buildPanelState, orderAfterMove, panelDiff, tokenBudgetFor } from '../../../src/engine/contextPanel';
import { backendEntry } from '../../../src/backends/catalog';
import { checkStaleness, detectConventions } from '../../../src/store/contextPackStore';
import { makeWorkspace, type Workspace } from './helpers';

// The panel's view of a real record: items, consumption by stages, history, budget.
describe('context panel model', () => {
  let ws: Workspace;
  const pipeline = defaultPipeline();

  beforeEach(async () => {
    ws = await makeWorkspace({ 'src/auth.js': 'line 1\nline 2\nline 3\n', 'src/b.js': 'b\n', 'AGENTS.md': '# Conventions\n' });
    await ws.records.append('c1', { type: 'change.created', data: { title: 'Add password reset' } });
  });
  afterEach(() => ws.cleanup());

  async function load() {
    const { events } = await ws.records.readChange('c1');
    return { events, change: foldChange('c1', pipeline, events) };
  }

  async function startAttempt(stageId: string, contextVersion?: string): Promise<void> {
    await ws.records.append('c1', { type: 'attempt.started', data: { stageId, attemptId: ulid(), backend: 'claude-code', ...(contextVersion ? { contextVersion } : {}) } });
  }

  it('shows items with source, size, tokens, stale marker, who added them and which stages consumed them', async () => {
    const file = await ws.packs.addFileItem('c1', { path: 'src/auth.js', stageId: 'plan' });
    const note = await ws.packs.addNote('c1', { text: '<img src=x onerror=alert(1)>\nsecond line' });
    await startAttempt('plan', note.pack.version);
    await ws.packs.addSelectionItem('c1', { path: 'src/b.js', range: { startLine: 1, endLine: 1 }, text: 'b' });
    await ws.write('src/auth.js', 'changed\n');
    const { events, change } = await load();
    const stale = await checkStaleness(ws.root, (await ws.packs.checkStaleness('c1')).pack);
    const { contents } = await ws.packs.loadContents(note.pack.items.filter((i) => i.kind === 'note'));
    const state = buildPanelState({ change, pipeline, events, stale: stale.map((itemId) => ({ itemId, reason: 'changed' })), previews: contents, conventions: await detectConventions(ws.root) });

    assert.deepEqual(state.items.map((i) => [i.kind, i.title, i.stale]), [
      ['file', 'src/auth.js', 'changed'],
      ['note', '<img src=x onerror=alert(1)>', undefined],
      ['selection', 'src/b.js#L1-L1', undefined],
    ]);
    const [fileItem, noteItem, selection] = state.items;
    assert.equal(fileItem!.id, file.itemIds[0]);
    assert.equal(fileItem!.path, 'src/auth.js');
    assert.equal(fileItem!.bytes, 21);
    assert.equal(fileItem!.tokens, 6);
    assert.equal(fileItem!.addedBy, 'Test User');
    assert.equal(fileItem!.diskBacked, true);
    assert.deepEqual(fileItem!.consumedBy, [{ stageId: 'plan', stageTitle: 'Plan', attempts: 1, sameContent: true }]);
    assert.equal(noteItem!.preview, '<img src=x onerror=alert(1)>\nsecond line');
    assert.equal(noteItem!.diskBacked, false);
    assert.deepEqual(selection!.consumedBy, [], 'added after the plan attempt started');
    assert.deepEqual(selection!.range, { startLine: 1, endLine: 1 });
    assert.equal(state.staleCount, 1);
    assert.equal(state.totalTokens, fileItem!.tokens + noteItem!.tokens + selection!.tokens);
    assert.deepEqual(state.conventions, [{ path: 'AGENTS.md', tool: 'AGENTS.md (many agents)', kind: 'file', bytes: 14, files: 1, inPack: false }]);
    assert.ok(parseHostMessage({ type: 'state', state }).ok, 'the state passes the protocol');
  });

  it('says a stage consumed older content when the item was refreshed after its attempt', async () => {
    const added = await ws.packs.addFileItem('c1', { path: 'src/auth.js' });
    await startAttempt('plan', added.pack.version);
    await startAttempt('implement', added.pack.version);
    await ws.write('src/auth.js', 'new\n');
    const refreshed = await ws.packs.refreshItem('c1', added.itemIds[0]!);
    await startAttempt('implement', refreshed.pack.version);
    const { events, change } = await load();
    const state = buildPanelState({ change, pipeline, events });
    assert.deepEqual(state.items[0]!.consumedBy, [
      { stageId: 'plan', stageTitle: 'Plan', attempts: 1, sameContent: false },
      { stageId: 'implement', stageTitle: 'Implement', attempts: 2, sameContent: true },
    ]);
  });

  it('lists every version with what changed, by whom, for which stage, and who consumed or carried it', async () => {
    const a = await ws.packs.addFileItem('c1', { path: 'src/auth.js', stageId: 'plan' });
    const b = await ws.packs.addFileItem('c1', { path: 'src/b.js' });
    await startAttempt('plan', b.pack.version);
    await ws.records.append('c1', { type: 'handoff.recorded', data: { fromStage: 'plan', toStage: 'implement', contextVersion: b.pack.version } });
    await ws.packs.pin('c1', a.itemIds[0]!);
    await ws.packs.reorder('c1', [b.itemIds[0]!, a.itemIds[0]!]);
    await ws.packs.removeItem('c1', b.itemIds[0]!);
    const { events, change } = await load();
    const history = buildPanelState({ change, pipeline, events }).history;
    assert.deepEqual(
      history.map((h) => [h.eventType, h.added, h.removed, h.pinned, h.reordered, h.itemCount, h.by, h.stageId]),
      [
        ['context.itemAdded', ['src/auth.js'], [], [], false, 1, 'Test User', 'plan'],
        ['context.itemAdded', ['src/b.js'], [], [], false, 2, 'Test User', undefined],
        ['context.itemPinned', [], [], ['src/auth.js'], false, 2, 'Test User', undefined],
        ['context.itemsReordered', [], [], [], true, 2, 'Test User', undefined],
        ['context.itemRemoved', [], ['src/b.js'], [], false, 1, 'Test User', undefined],
      ],
    );
    assert.deepEqual(history[1]!.consumedBy, [{ stageId: 'plan', attempt: 1 }]);
    assert.deepEqual(history[1]!.carriedBy, [{ fromStage: 'plan', toStage: 'implement' }]);
    assert.deepEqual(history[0]!.consumedBy, []);
  });

  it('diffs two versions with labels', async () => {
    const a = await ws.packs.addFileItem('c1', { path: 'src/auth.js' });
    await ws.packs.addNote('c1', { text: 'a note' });
    await ws.write('src/auth.js', 'different\n');
    await ws.packs.refreshItem('c1', a.itemIds[0]!);
    const last = await ws.packs.pin('c1', a.itemIds[0]!);
    const diff = panelDiff(last.pack, a.pack.version, last.pack.version);
    assert.deepEqual(diff.added.map((i) => [i.kind, i.label]), [['note', 'a note']]);
    assert.deepEqual(diff.changed.map((i) => [i.label, i.tokensBefore, i.tokensAfter]), [['src/auth.js', 6, 3]]);
    assert.deepEqual(diff.pinned, ['src/auth.js']);
    assert.equal(diff.reordered, false);
    assert.deepEqual(panelDiff(last.pack, EMPTY_PACK_VERSION, a.pack.version).added.map((i) => i.label), ['src/auth.js']);
    assert.throws(() => panelDiff(last.pack, 'f'.repeat(64), a.pack.version), /not in this change's record/);
  });

  it('bounds hostile record strings so the state still passes the protocol', async () => {
    await ws.packs.addNote('c1', { text: 'x', title: `<script>${'y'.repeat(50_000)}</script>` });
    const { events, change } = await load();
    const state = buildPanelState({ change, pipeline, events, previews: new Map([[(await ws.packs.load('c1')).items[0]!.id, 'z'.repeat(100_000)]]) });
    assert.ok(state.items[0]!.title.length <= 1000);
    assert.ok(state.items[0]!.preview!.length <= 2001);
    const parsed = parseHostMessage({ type: 'state', state });
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  });

  describe('token budget of the next stage', () => {
    it('uses the active stage budget.tokens from the pipeline when set', async () => {
      const custom = PipelineSchema.parse({ ...defaultPipeline(), stages: defaultPipeline().stages.map((s) => (s.id === 'plan' ? { ...s, budget: { tokens: 50_000 } } : s)) });
      const { change } = await load();
      assert.deepEqual(tokenBudgetFor(custom, change), {
        stageId: 'plan',
        stageTitle: 'Plan',
        backend: 'claude-code',
        tokens: 50_000,
        source: 'stage',
        explanation: 'Plan · budget.tokens in .factory/pipeline.json',
      });
    });

    it("falls back to the backend's documented default, and says so", async () => {
      const { change } = await load();
      const budget = tokenBudgetFor(pipeline, change);
      assert.equal(budget.tokens, backendEntry('claude-code')!.contextTokens);
      assert.equal(budget.tokens, 200_000);
      assert.equal(budget.source, 'backendDefault');
      assert.equal(budget.explanation, 'Plan · default for claude-code');
      const other = PipelineSchema.parse({ ...pipeline, stages: pipeline.stages.map((s) => (s.id === 'plan' ? { ...s, owner: { backend: 'my-own-agent' } } : s)) });
      assert.match(tokenBudgetFor(other, change).explanation, /unknown backend \(my-own-agent\)/);
    });

    it('has no token budget for a stage done by a person, or without a change', async () => {
      const byHand = PipelineSchema.parse({ ...pipeline, stages: pipeline.stages.map((s) => (s.id === 'plan' ? { ...s, owner: { backend: 'human', person: 'lead' } } : s)) });
      const { change } = await load();
      assert.equal(tokenBudgetFor(byHand, change).tokens, undefined);
      assert.equal(tokenBudgetFor(byHand, change).source, 'none');
      assert.equal(tokenBudgetFor(pipeline, undefined).source, 'none');
    });
  });

  describe('moving an item', () => {
    const items = [
      { id: 'f1', kind: 'file' },
      { id: 'n1', kind: 'note' },
      { id: 'f2', kind: 'file' },
      { id: 'f3', kind: 'file' },
    ];
    it('swaps it with its neighbour of the same kind', () => {
      assert.deepEqual(orderAfterMove(items, 'f2', 'up'), ['f2', 'n1', 'f1', 'f3']);
      assert.deepEqual(orderAfterMove(items, 'f1', 'down'), ['f2', 'n1', 'f1', 'f3']);
      assert.deepEqual(orderAfterMove(items, 'f2', 'down'), ['f1', 'n1', 'f3', 'f2']);
    });
    it('does nothing at the ends of its group or for an unknown item', () => {
      assert.equal(orderAfterMove(items, 'f1', 'up'), undefined);
      assert.equal(orderAfterMove(items, 'f3', 'down'), undefined);
      assert.equal(orderAfterMove(items, 'n1', 'up'), undefined);
      assert.equal(orderAfterMove(items, 'zz', 'up'), undefined);
    });
  });
});
