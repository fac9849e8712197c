// The transcript panel model: how streamed events become entries, and its bounds.
import { strict as assert } from 'node:assert';
import { TranscriptEntries, coalesceOps } from '../../../src/core/transcriptEntries';
import { TranscriptModel } from '../../../src/core/transcriptModel';
import { MAX_ENTRY_TEXT, type TranscriptHeader, type TranscriptOp } from '../../../src/core/transcriptProtocol';

const header: TranscriptHeader = { changeTitle: 'C', stageTitle: 'Implement', backend: 'codex', source: 'live', status: 'running' };

describe('transcript model', () => {
  it('appends streamed text of one message to one entry, and starts a new one after a tool call', () => {
    const model = new TranscriptModel(header);
    const ops: TranscriptOp[] = [];
    ops.push(...model.apply({ kind: 'text', text: 'Hel', messageId: 'm1' }));
    ops.push(...model.apply({ kind: 'text', text: 'lo', messageId: 'm1' }));
    ops.push(...model.apply({ kind: 'toolStarted', id: 't1', name: 'Bash', input: { command: 'ls' }, toolKind: 'execute' }));
    ops.push(...model.apply({ kind: 'commandRun', command: 'ls', exitCode: 0, outputExcerpt: 'a\nb', toolCallId: 't1' }));
    ops.push(...model.apply({ kind: 'toolFinished', id: 't1', status: 'succeeded', output: 'a\nb' }));
    ops.push(...model.apply({ kind: 'text', text: 'Bye', messageId: 'm2' }));
    assert.deepEqual(
      ops.map((o) => o.op),
      ['add', 'append', 'add', 'replace', 'replace', 'add'],
    );
    assert.equal(model.entries.length, 3);
    const [first, tool, last] = model.entries;
    assert.ok(first?.kind === 'text' && first.text === 'Hello' && first.events === 2);
    assert.ok(tool?.kind === 'tool' && tool.status === 'succeeded' && tool.command?.exitCode === 0 && tool.events === 3);
    assert.ok(last?.kind === 'text' && last.text === 'Bye');
  });

  it('keeps usage totals and says nothing of cost when the backend reports none', () => {
    const model = new TranscriptModel(header);
    model.apply({ kind: 'usage', scope: 'total', inputTokens: 100, outputTokens: 10, cachedTokens: 0 });
    assert.deepEqual(model.header.usage, { inputTokens: 100, outputTokens: 10, cachedTokens: 0 });
    assert.equal(model.headerChanged, true);
    model.finish({ outcome: 'failed', reason: 'exit 1', durationMs: 5000, usage: { inputTokens: 120, outputTokens: 12 } });
    assert.equal(model.header.status, 'finished');
    assert.equal(model.header.outcome, 'failed');
    assert.equal(model.header.reason, 'exit 1');
    assert.equal(model.header.durationMs, 5000);
    assert.equal(model.header.usage?.costUsd, undefined);
    assert.equal(model.header.usage?.inputTokens, 120);
  });

  it('bounds memory: keeps the last entries and counts the events it dropped', () => {
    const model = new TranscriptModel(header, { maxEntries: 100 });
    const copy = new TranscriptEntries();
    let events = 0;
    for (let i = 0; i < 1000; i++) {
      for (const op of model.apply({ kind: 'toolStarted', id: `t${i}`, name: 'Read' })) copy.apply(op);
      for (const op of model.apply({ kind: 'toolFinished', id: `t${i}`, status: 'succeeded' })) copy.apply(op);
      events += 2;
    }
    assert.ok(model.entries.length <= 100, `${model.entries.length} entries`);
    const kept = model.entries.reduce((sum, e) => sum + e.events, 0);
    assert.equal(model.state.dropped.events + kept, events, 'every event is either shown or counted as dropped');
    assert.deepEqual(copy.entries, model.entries);
    assert.deepEqual(copy.dropped, model.state.dropped);
    const lastTool = model.entries[model.entries.length - 1]!;
    assert.ok(lastTool.kind === 'tool' && lastTool.toolId === 't999' && lastTool.status === 'succeeded');
  });

  it('keeps the tail of a very long message and counts the characters cut', () => {
    const model = new TranscriptModel(header);
    const chunk = 'x'.repeat(50_000);
    for (let i = 0; i < 5; i++) model.apply({ kind: 'text', text: chunk, messageId: 'm' });
    model.apply({ kind: 'text', text: 'END', messageId: 'm' });
    const entry = model.entries[0]!;
    assert.ok(entry.kind === 'text');
    assert.equal(entry.text.length, MAX_ENTRY_TEXT);
    assert.ok(entry.text.endsWith('END'));
    assert.equal(entry.cut, 250_003 - MAX_ENTRY_TEXT);
  });

  it('coalesces a burst of appends to one entry into one op', () => {
    const ops: TranscriptOp[] = [
      { op: 'append', id: 'e1', text: 'a', events: 1 },
      { op: 'append', id: 'e1', text: 'b', events: 1 },
      { op: 'trim', count: 1, events: 1 },
      { op: 'append', id: 'e1', text: 'c', events: 1 },
      { op: 'append', id: 'e2', text: 'd', events: 1 },
    ];
    assert.deepEqual(coalesceOps(ops), [
      { op: 'append', id: 'e1', text: 'ab', events: 2 },
      { op: 'trim', count: 1, events: 1 },
      { op: 'append', id: 'e1', text: 'c', events: 1 },
      { op: 'append', id: 'e2', text: 'd', events: 1 },
    ]);
  });

  it('updates the plan in place while it is the latest entry', () => {
    const model = new TranscriptModel(header);
    model.apply({ kind: 'plan', entries: [{ text: 'a', status: 'inProgress' }] });
    model.apply({ kind: 'plan', entries: [{ text: 'a', status: 'completed' }] });
    assert.equal(model.entries.length, 1);
    const plan = model.entries[0]!;
    assert.ok(plan.kind === 'plan' && plan.entries[0]!.status === 'completed');
  });
});
