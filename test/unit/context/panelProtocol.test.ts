import { strict as assert } from 'node:assert';
import { EMPTY_PACK_VERSION } from '../../../src/core/contextPack';
import { MAX_DROPPED_URIS, MAX_NOTE_CHARS, parseHostMessage, parseWebviewMessage, type HostMessage, type PanelState, type WebviewMessage } from '../../../src/core/contextPanelProtocol';

const V1 = 'a'.repeat(64);
const V2 = 'b'.repeat(64);

function state(overrides: Partial<PanelState> = {}): PanelState {
  return {
    change: { id: 'add-password-reset-01', title: 'Add password reset' },
    version: V1,
    items: [
      {
        id: 'note-0123456789abcdef',
        kind: 'note',
        title: '<img src=x onerror=alert(1)>',
        origin: 'user',
        bytes: 40,
        tokens: 10,
        pinned: false,
        consumedBy: [{ stageId: 'plan', stageTitle: 'Plan', attempts: 1, sameContent: true }],
        preview: '<script>alert(2)</script>',
        diskBacked: false,
      },
      {
        id: 'file-0123456789abcdef',
        kind: 'file',
        title: 'src/auth.js#L1-L2',
        path: 'src/auth.js',
        range: { startLine: 1, endLine: 2 },
        tokens: 20,
        pinned: true,
        stale: 'changed',
        consumedBy: [],
        diskBacked: true,
      },
    ],
    totalTokens: 30,
    budget: { tokens: 200_000, source: 'backendDefault', stageId: 'implement', stageTitle: 'Implement', backend: 'claude-code', explanation: 'default for claude-code' },
    history: [
      {
        version: V1,
        at: '2026-11-20T09:00:00.000Z',
        by: 'Dana',
        eventType: 'context.itemAdded',
        added: ['src/auth.js'],
        removed: [],
        refreshed: [],
        pinned: [],
        unpinned: [],
        reordered: false,
        itemCount: 1,
        tokens: 20,
        consumedBy: [{ stageId: 'plan', attempt: 1 }],
        carriedBy: [{ fromStage: 'plan', toStage: 'implement' }],
      },
    ],
    conventions: [{ path: 'AGENTS.md', tool: 'AGENTS.md (many agents)', kind: 'file', bytes: 40, files: 1, inPack: false }],
    staleCount: 1,
    ...overrides,
  };
}

describe('context panel protocol', () => {
  describe('webview → host', () => {
    const valid: WebviewMessage[] = [
      { type: 'ready' },
      { type: 'addFile' },
      { type: 'addNote', text: 'Remember the rate limit.' },
      { type: 'addConventions', paths: [] },
      { type: 'addConventions', paths: ['AGENTS.md', '.cursor/rules'] },
      { type: 'removeItem', itemId: 'file-0123456789abcdef' },
      { type: 'moveItem', itemId: 'file-0123456789abcdef', direction: 'up' },
      { type: 'moveItem', itemId: 'file-0123456789abcdef', direction: 'down' },
      { type: 'pinItem', itemId: 'file-0123456789abcdef', pinned: true },
      { type: 'refreshItem', itemId: 'file-0123456789abcdef' },
      { type: 'refreshStale' },
      { type: 'openItem', itemId: 'file-0123456789abcdef' },
      { type: 'dropUris', uris: ['file:///work/app/src/auth.js'] },
      { type: 'requestDiff', from: EMPTY_PACK_VERSION, to: V2 },
      { type: 'startChange' },
    ];
    for (const message of valid) {
      it(`accepts ${JSON.stringify(message).slice(0, 80)}`, () => {
        const parsed = parseWebviewMessage(message);
        assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
        assert.deepEqual(parsed.message, message);
      });
    }

    const invalid: [string, unknown, RegExp][] = [
      ['an unknown type', { type: 'runCommand', command: 'rm -rf /' }, /"runCommand"/],
      ['no type', { itemId: 'x' }, /without a type/],
      ['a non-object', 'ready', /without a type/],
      ['null', null, /without a type/],
      ['an extra field', { type: 'ready', html: '<b>' }, /"ready"/],
      ['a missing field', { type: 'removeItem' }, /at itemId/],
      ['a wrong field type', { type: 'pinItem', itemId: 'a', pinned: 'yes' }, /at pinned/],
      ['an unknown direction', { type: 'moveItem', itemId: 'a', direction: 'sideways' }, /at direction/],
      ['an empty note', { type: 'addNote', text: '' }, /at text/],
      ['a note over the limit', { type: 'addNote', text: 'x'.repeat(MAX_NOTE_CHARS + 1) }, /at text/],
      ['an empty drop', { type: 'dropUris', uris: [] }, /at uris/],
      ['too many dropped uris', { type: 'dropUris', uris: Array.from({ length: MAX_DROPPED_URIS + 1 }, (_, i) => `file:///f${i}`) }, /at uris/],
      ['a version that is not a hash', { type: 'requestDiff', from: 'HEAD', to: V2 }, /at from/],
      ['an over-long item id', { type: 'openItem', itemId: 'x'.repeat(201) }, /at itemId/],
      ['a prototype key as type', { type: '__proto__' }, /"__proto__"/],
    ];
    for (const [what, raw, error] of invalid) {
      it(`rejects ${what}`, () => {
        const parsed = parseWebviewMessage(raw);
        assert.equal(parsed.ok, false);
        if (!parsed.ok) assert.match(parsed.error, error);
      });
    }
  });

  describe('host → webview', () => {
    it('accepts a full state, with hostile text kept verbatim (the view renders it as text)', () => {
      const message: HostMessage = { type: 'state', state: state() };
      const parsed = parseHostMessage(message);
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
      assert.deepEqual(parsed.message, message);
      if (parsed.message.type === 'state') assert.equal(parsed.message.state.items[0]!.title, '<img src=x onerror=alert(1)>');
    });

    it('accepts a state with no current change and no budget', () => {
      const { change: _change, ...rest } = state({ items: [], history: [], totalTokens: 0, staleCount: 0 });
      const parsed = parseHostMessage({ type: 'state', state: { ...rest, version: EMPTY_PACK_VERSION, budget: { source: 'none', explanation: 'No current change.' } } });
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
    });

    it('accepts a diff and a notice', () => {
      const diff = {
        type: 'diff',
        diff: {
          from: V1,
          to: V2,
          added: [{ id: 'file-1', kind: 'file', label: 'a.ts', tokens: 3 }],
          removed: [],
          changed: [{ id: 'file-2', kind: 'file', label: 'b.ts', tokensBefore: 1, tokensAfter: 2 }],
          pinned: ['a.ts'],
          unpinned: [],
          reordered: true,
        },
      };
      assert.ok(parseHostMessage(diff).ok);
      assert.ok(parseHostMessage({ type: 'notice', level: 'error', text: 'src/x.ts: no such file in the workspace.' }).ok);
    });

    const invalid: [string, unknown, RegExp][] = [
      ['an unknown type', { type: 'eval', code: 'alert(1)' }, /"eval"/],
      ['an html field on a notice', { type: 'notice', level: 'info', text: 'x', html: '<b>x</b>' }, /"notice"/],
      ['an unknown notice level', { type: 'notice', level: 'fatal', text: 'x' }, /at level/],
      ['a state missing its items', { type: 'state', state: { ...state(), items: undefined } }, /at state\.items/],
      ['an item with an unknown field', { type: 'state', state: state({ items: [{ ...state().items[0]!, innerHTML: '<b>' } as never] }) }, /at state\.items\.0/],
      ['an unknown stale reason', { type: 'state', state: state({ items: [{ ...state().items[1]!, stale: 'maybe' as never }] }) }, /at state\.items\.0\.stale/],
      ['negative tokens', { type: 'state', state: state({ totalTokens: -1 }) }, /at state\.totalTokens/],
      ['a version that is not a hash', { type: 'state', state: state({ version: 'v1' }) }, /at state\.version/],
      ['a diff without its lists', { type: 'diff', diff: { from: V1, to: V2 } }, /at diff\.added/],
    ];
    for (const [what, raw, error] of invalid) {
      it(`rejects ${what}`, () => {
        const parsed = parseHostMessage(raw);
        assert.equal(parsed.ok, false);
        if (!parsed.ok) assert.match(parsed.error, error);
      });
    }
  });
});
