// The transcript panel's message protocol: what each side accepts and rejects.
import { strict as assert } from 'node:assert';
import {
  MAX_ENTRY_TEXT,
  parseTranscriptHostMessage,
  parseTranscriptWebviewMessage,
  type TranscriptEntry,
  type TranscriptHeader,
} from '../../../src/core/transcriptProtocol';

const header: TranscriptHeader = {
  changeTitle: 'Add password reset',
  stageTitle: 'Implement',
  attemptNumber: 2,
  backend: 'claude-code',
  source: 'live',
  status: 'running',
  elapsedMs: 1200,
  prompt: 'Implement the plan.',
};

const entries: TranscriptEntry[] = [
  { kind: 'text', id: 'e1', events: 3, text: '<script>alert(1)</script> is text', messageId: 'msg_1' },
  { kind: 'tool', id: 'e2', events: 2, toolId: 'toolu_1', name: 'Write', toolKind: 'edit', input: '{"file_path":"a.txt"}', paths: ['a.txt'], status: 'succeeded', output: 'ok' },
  { kind: 'file', id: 'e3', events: 1, path: '/ws/a.txt', relativePath: 'a.txt', change: 'add' },
  { kind: 'command', id: 'e4', events: 1, command: 'npm test', exitCode: 1, output: 'FAIL' },
  { kind: 'error', id: 'e5', events: 1, message: 'rate limited', fatal: false },
  { kind: 'log', id: 'e6', events: 2, stream: 'meta', text: '$ claude -p\n' },
  { kind: 'plan', id: 'e7', events: 1, entries: [{ text: 'write tests', status: 'inProgress' }] },
  { kind: 'result', id: 'e8', events: 1, success: true, text: 'Done', turns: 3, durationMs: 404 },
];

describe('transcript protocol', () => {
  describe('host → webview', () => {
    it('accepts a snapshot and an update with every op', () => {
      const snapshot = parseTranscriptHostMessage({ type: 'snapshot', attempt: 'A1', header, entries, dropped: { entries: 0, events: 0 } });
      assert.ok(snapshot.ok, !snapshot.ok ? snapshot.error : '');
      const update = parseTranscriptHostMessage({
        type: 'update', attempt: 'A1',
        ops: [
          { op: 'add', entry: entries[0] },
          { op: 'append', id: 'e1', text: ' more', events: 1 },
          { op: 'replace', entry: { ...entries[1], status: 'failed' } },
          { op: 'trim', count: 2, events: 5 },
        ],
        header: { ...header, status: 'finished', outcome: 'failed', reason: 'exit 1', usage: { inputTokens: 10, outputTokens: 2, cachedTokens: 0 } },
      });
      assert.ok(update.ok, !update.ok ? update.error : '');
    });

    it('refuses a snapshot or an update that does not say which attempt it is about', () => {
      const update = parseTranscriptHostMessage({ type: 'update', ops: [] });
      assert.match(!update.ok ? update.error : '', /attempt/);
      assert.equal(parseTranscriptHostMessage({ type: 'snapshot', header, entries: [], dropped: { entries: 0, events: 0 } }).ok, false);
    });

    it('rejects unknown message types, unknown ops and unknown entry kinds', () => {
      const unknown = parseTranscriptHostMessage({ type: 'html', html: '<b>x</b>' });
      assert.equal(unknown.ok, false);
      assert.match(!unknown.ok ? unknown.error : '', /rejected "html" message/);
      assert.equal(parseTranscriptHostMessage({ type: 'update', attempt: 'A1', ops: [{ op: 'eval', code: 'x' }] }).ok, false);
      assert.equal(parseTranscriptHostMessage({ type: 'update', attempt: 'A1', ops: [{ op: 'add', entry: { kind: 'html', id: 'e1', events: 1, html: '<img>' } }] }).ok, false);
      assert.equal(parseTranscriptHostMessage('snapshot').ok, false);
      assert.equal(parseTranscriptHostMessage(null).ok, false);
    });

    it('rejects extra fields, missing fields and wrong types, naming where', () => {
      const extra = parseTranscriptHostMessage({ type: 'snapshot', attempt: 'A1', header: { ...header, html: '<b>' }, entries: [], dropped: { entries: 0, events: 0 } });
      assert.equal(extra.ok, false);
      assert.match(!extra.ok ? extra.error : '', /header/);
      const missing = parseTranscriptHostMessage({ type: 'snapshot', attempt: 'A1', header, entries: [] });
      assert.match(!missing.ok ? missing.error : '', /dropped/);
      const wrongType = parseTranscriptHostMessage({ type: 'update', attempt: 'A1', ops: [{ op: 'append', id: 'e1', text: 42, events: 1 }] });
      assert.match(!wrongType.ok ? wrongType.error : '', /ops\.0\.text/);
      const badStatus = parseTranscriptHostMessage({ type: 'update', attempt: 'A1', ops: [{ op: 'replace', entry: { ...entries[1], status: 'exploded' } }] });
      assert.equal(badStatus.ok, false);
      const negative = parseTranscriptHostMessage({ type: 'update', attempt: 'A1', ops: [{ op: 'trim', count: -1, events: 0 }] });
      assert.equal(negative.ok, false);
    });

    it('bounds agent text', () => {
      const long = parseTranscriptHostMessage({ type: 'update', attempt: 'A1', ops: [{ op: 'append', id: 'e1', text: 'x'.repeat(MAX_ENTRY_TEXT + 1), events: 1 }] });
      assert.equal(long.ok, false);
    });
  });

  describe('webview → host', () => {
    it('accepts ready and openDiff', () => {
      assert.deepEqual(parseTranscriptWebviewMessage({ type: 'ready' }), { ok: true, message: { type: 'ready' } });
      assert.deepEqual(parseTranscriptWebviewMessage({ type: 'openDiff', path: 'src/a.ts' }), { ok: true, message: { type: 'openDiff', path: 'src/a.ts' } });
    });

    it('rejects unknown, malformed and padded messages', () => {
      const unknown = parseTranscriptWebviewMessage({ type: 'runCommand', command: 'rm -rf /' });
      assert.equal(unknown.ok, false);
      assert.match(!unknown.ok ? unknown.error : '', /runCommand/);
      assert.equal(parseTranscriptWebviewMessage({ type: 'ready', extra: true }).ok, false);
      assert.equal(parseTranscriptWebviewMessage({ type: 'openDiff' }).ok, false);
      assert.equal(parseTranscriptWebviewMessage({ type: 'openDiff', path: '' }).ok, false);
      assert.equal(parseTranscriptWebviewMessage({ type: 'openDiff', path: 'a'.repeat(5000) }).ok, false);
      assert.equal(parseTranscriptWebviewMessage(undefined).ok, false);
      assert.equal(parseTranscriptWebviewMessage([{ type: 'ready' }]).ok, false);
    });
  });
});
