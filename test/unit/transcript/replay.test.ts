// Replaying a stored transcript (JSONL of {stream, line} as the engine writes it) gives
// the same typed events the live run streamed, and the panel model built from them
// shows what a person needs: the text, the tool calls with their paths, usage, result.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentEvent } from '../../../src/core/agentEvents';
import { TranscriptEntries } from '../../../src/core/transcriptEntries';
import { TranscriptModel } from '../../../src/core/transcriptModel';
import type { TranscriptHeader } from '../../../src/core/transcriptProtocol';
import { createClaudeCodeParser } from '../../../src/backends/parsers/claudeCode';
import { createCodexParser } from '../../../src/backends/parsers/codex';
import { findRecordedAttempt, linesOf, replayTranscript, type ReplayItem } from '../../../src/engine/transcriptReplay';
import { FileEvidenceStore } from '../../../src/store/evidence';
import { FileRecordStore } from '../../../src/store/recordStore';
import { tempWorkspace } from '../store/helpers';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'agents');
const fixtureLines = (agent: string, name: string) =>
  readFileSync(join(FIXTURES, agent, name), 'utf8')
    .split('\n')
    .filter((l) => l.trim());
const asTranscript = (lines: string[]) => lines.map((line) => JSON.stringify({ stream: 'stdout', line }));

async function collect(items: AsyncIterable<ReplayItem>): Promise<ReplayItem[]> {
  const out: ReplayItem[] = [];
  for await (const item of items) out.push(item);
  return out;
}
const eventsOf = (items: ReplayItem[]): AgentEvent[] => items.flatMap((i) => (i.kind === 'event' ? [i.event] : []));

const header: TranscriptHeader = { changeTitle: 'Add password reset', stageTitle: 'Implement', attemptNumber: 1, backend: 'claude-code', source: 'recorded', status: 'finished' };

describe('transcript replay', () => {
  it('replays a stored Claude Code transcript into the events its parser gives, usage as running totals', async () => {
    const lines = fixtureLines('claude-code', 'success.jsonl');
    const replayed = eventsOf(await collect(replayTranscript(asTranscript(lines), { backend: 'claude-code', cwd: '/workspace/project' })));
    const parser = createClaudeCodeParser({ cwd: '/workspace/project' });
    const direct = lines.flatMap((l) => parser.parse(l));
    // Same events in the same order; only usage differs: deltas become totals, as the live backend publishes them.
    assert.deepEqual(
      replayed.map((e) => e.kind),
      direct.map((e) => e.kind),
    );
    assert.deepEqual(
      replayed.filter((e) => e.kind !== 'usage'),
      direct.filter((e) => e.kind !== 'usage'),
    );
    const usages = replayed.filter((e): e is Extract<AgentEvent, { kind: 'usage' }> => e.kind === 'usage');
    assert.ok(usages.every((u) => u.scope === 'total'));
    assert.deepEqual(
      usages.map((u) => u.inputTokens),
      [140, 280, 420, 420],
    );
    const last = usages[usages.length - 1]!;
    assert.equal(last.costUsd, 0.002448);
    assert.equal(last.costSource, 'agent');
    // Before the agent's figure, the cost is an estimate from the price table.
    assert.equal(usages[0]!.costSource, 'estimate');
  });

  it('reads the transcript back from the evidence store, with runner lines as logs and damaged lines named', async () => {
    const ws = tempWorkspace('transcript');
    try {
      const evidence = new FileEvidenceStore(ws.dir);
      const body = [
        JSON.stringify({ stream: 'meta', line: '$ claude -p --output-format stream-json --verbose' }),
        ...asTranscript(fixtureLines('claude-code', 'success.jsonl')),
        JSON.stringify({ stream: 'stderr', line: 'warning: something' }),
        JSON.stringify({ stream: 'stdin', line: '{"jsonrpc":"2.0"}' }),
        '{"stream":"stdout","li', // torn last line
      ].join('\n');
      const ref = await evidence.put(`${body}\n`, { name: 'transcript.jsonl', mediaType: 'application/x-ndjson' });
      const items = await collect(replayTranscript(linesOf(evidence.open(ref)), { backend: 'claude-code', cwd: '/workspace/project' }));
      assert.deepEqual(items[0], { kind: 'log', stream: 'meta', line: '$ claude -p --output-format stream-json --verbose' });
      assert.ok(items.some((i) => i.kind === 'log' && i.stream === 'stderr' && i.line === 'warning: something'));
      assert.ok(!items.some((i) => i.kind === 'log' && (i.line as string).includes('jsonrpc')), 'stdin is not shown');
      const damaged = items[items.length - 1]!;
      assert.equal(damaged.kind, 'event');
      assert.equal(damaged.kind === 'event' && damaged.event.kind, 'diagnostic');
      assert.match(damaged.kind === 'event' && damaged.event.kind === 'diagnostic' ? damaged.event.message : '', /transcript line 11 is not a \{stream, line\} entry/);
    } finally {
      ws.cleanup();
    }
  });

  it('builds the panel entries a reader sees: tool calls with paths and status, the file edit, the text, the result', async () => {
    const model = new TranscriptModel(header, { workspaceRoot: '/workspace/project' });
    const ops = [];
    for await (const item of replayTranscript(asTranscript(fixtureLines('claude-code', 'success.jsonl')), { backend: 'claude-code', cwd: '/workspace/project' })) {
      ops.push(...(item.kind === 'event' ? model.apply(item.event) : model.log(item.stream, item.line)));
    }
    const kinds = model.entries.map((e) => (e.kind === 'tool' ? `tool:${e.name}:${e.status}` : e.kind));
    assert.deepEqual(kinds, ['tool:Read:succeeded', 'tool:Write:succeeded', 'file', 'text', 'result']);
    const write = model.entries[1]!;
    assert.ok(write.kind === 'tool' && write.paths?.[0] === '/workspace/project/hello.txt' && write.input?.includes('hello from the mock model'));
    const file = model.entries[2]!;
    assert.ok(file.kind === 'file' && file.relativePath === 'hello.txt' && file.change === 'add');
    assert.equal(model.fileEntry('/workspace/project/hello.txt')?.relativePath, 'hello.txt');
    assert.equal(model.header.sessionId, '90b39732-0ea7-40e5-bfb2-679de56e916d');
    assert.equal(model.header.turns, 3);
    assert.deepEqual(model.header.usage, { inputTokens: 420, outputTokens: 90, cachedTokens: 60, costUsd: 0.002448, costSource: 'agent' });
    // The webview applies the same ops to its own copy and ends with the same entries.
    const copy = new TranscriptEntries();
    for (const op of ops) copy.apply(op);
    assert.deepEqual(copy.entries, model.entries);
  });

  it('replays Codex commands and treats unknown backends as plain text', async () => {
    const lines = fixtureLines('codex', 'success.jsonl');
    const replayed = eventsOf(await collect(replayTranscript(asTranscript(lines), { backend: 'codex', cwd: '/workspace/project' })));
    const parser = createCodexParser({ cwd: '/workspace/project' });
    const direct = lines.flatMap((l) => parser.parse(l));
    assert.deepEqual(
      replayed.filter((e) => e.kind !== 'usage'),
      direct.filter((e) => e.kind !== 'usage'),
    );
    const plain = eventsOf(await collect(replayTranscript(asTranscript(['hello', 'world']), { backend: 'aider', cwd: '/w' })));
    assert.deepEqual(plain, [
      { kind: 'text', text: 'hello\n' },
      { kind: 'text', text: 'world\n' },
    ]);
  });

  it('finds a recorded attempt in the change record: start tree, prompt, outcome, transcript', async () => {
    const ws = tempWorkspace('transcript-record');
    try {
      const store = new FileRecordStore(ws.dir);
      await store.loadPipeline({ createIfMissing: true });
      const changeId = store.newChangeId('Add password reset');
      await store.append(changeId, { type: 'change.created', data: { title: 'Add password reset' } });
      const attemptId = '01JZ0000000000000000000000';
      const transcript = { sha256: 'a'.repeat(64), name: 'transcript.jsonl' };
      await store.append(changeId, { type: 'attempt.finished', data: { stageId: 'implement', attemptId, outcome: 'failed', reason: 'exit 1', durationMs: 1000, transcript } });
      await store.append(changeId, {
        type: 'attempt.started',
        data: { stageId: 'implement', attemptId, backend: 'claude-code', prompt: 'Do it', number: 2, start: { tree: 'b'.repeat(40) } },
      });
      const { events } = await store.readChange(changeId);
      const attempt = findRecordedAttempt(events, attemptId);
      assert.ok(attempt);
      assert.equal(attempt.backend, 'claude-code');
      assert.equal(attempt.stageId, 'implement');
      assert.equal(attempt.number, 2);
      assert.equal(attempt.prompt, 'Do it');
      assert.equal(attempt.startTree, 'b'.repeat(40));
      assert.equal(attempt.outcome, 'failed');
      assert.equal(attempt.reason, 'exit 1');
      assert.deepEqual(attempt.transcript, transcript);
      assert.equal(findRecordedAttempt(events, '01JZ0000000000000000000001'), undefined);
    } finally {
      ws.cleanup();
    }
  });
});
