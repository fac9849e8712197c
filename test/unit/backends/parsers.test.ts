// Parsers on the transcripts captured from the real CLIs (test/fixtures/agents/<tool>/).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { filesReadBy, parseAgentEvent, type AgentEvent } from '../../../src/core/agentEvents';
import { createClaudeCodeParser } from '../../../src/backends/parsers/claudeCode';
import { createCodexParser } from '../../../src/backends/parsers/codex';
import { createDroidParser } from '../../../src/backends/parsers/droid';
import { createGeminiParser } from '../../../src/backends/parsers/gemini';
import type { ParserFactory } from '../../../src/backends/parsers/common';
import { FIXTURES, ofKind } from './helpers';

const CWD = '/workspace/project';
function parseFixture(factory: ParserFactory, file: string): AgentEvent[] {
  const parser = factory({ cwd: CWD });
  const lines = readFileSync(path.join(FIXTURES, file), 'utf8').split('\n');
  return [...lines.flatMap((line) => parser.parse(line)), ...parser.end()];
}

const parsers: [string, ParserFactory][] = [
  ['claude-code', createClaudeCodeParser],
  ['codex', createCodexParser],
  ['gemini', createGeminiParser],
  ['droid', createDroidParser],
];

describe('agent output parsers (captured real transcripts)', () => {
  for (const [tool, factory] of parsers) {
    describe(tool, () => {
      it('maps a successful run: session, tool calls, file edit, text, usage, result', () => {
        const events = parseFixture(factory, `${tool}/success.jsonl`);
        for (const event of events) assert.ok(parseAgentEvent(event).ok, `schema-valid: ${JSON.stringify(event)}`);
        assert.equal(ofKind(events, 'diagnostic').filter((d) => d.level === 'warn').length, 0);
        assert.ok(ofKind(events, 'session')[0]?.sessionId);
        const edited = ofKind(events, 'fileEdited');
        assert.equal(edited.length, 1);
        assert.match(edited[0]?.path ?? '', /hello\.txt$/);
        assert.ok(ofKind(events, 'text').map((t) => t.text).join('').includes('Done: I read README.md and wrote hello.txt.'));
        const usage = ofKind(events, 'usage');
        assert.ok(usage.length > 0);
        const result = ofKind(events, 'result').at(-1);
        assert.equal(result?.success, true);
        // The captured runs read README.md first (Codex through its shell).
        assert.deepEqual(filesReadBy(events, CWD), ['README.md']);
        const finished = ofKind(events, 'toolFinished');
        assert.ok(finished.length >= 2 && finished.every((f) => f.status === 'succeeded'));
      });

      it('maps the error run to a fatal error and a failed result', () => {
        const events = parseFixture(factory, `${tool}/error.jsonl`);
        const errors = ofKind(events, 'error');
        assert.ok(errors.some((e) => e.fatal && e.message.includes('mock: the model refused this request')), JSON.stringify(errors));
        assert.equal(ofKind(events, 'result').at(-1)?.success, false);
      });

      it('tolerates unknown events and rejects malformed lines without dying', () => {
        const parser = factory({ cwd: CWD });
        const out = [
          ...parser.parse('{"type":"from_the_future","x":1}'),
          ...parser.parse('not json at all'),
          ...parser.parse('{"type":"assistant","message":'),
          ...parser.parse('[1,2]'),
          ...parser.parse(''),
          ...parser.parse('{"type":"x"}', true),
        ];
        assert.deepEqual(out.map((e) => (e.kind === 'diagnostic' ? e.level : e.kind)), ['info', 'warn', 'warn', 'warn', 'warn']);
        // And it still parses the real transcript afterwards.
        const lines = readFileSync(path.join(FIXTURES, `${tool}/success.jsonl`), 'utf8').split('\n');
        const events = lines.flatMap((l) => parser.parse(l));
        assert.equal(ofKind(events, 'result').at(-1)?.success, true);
      });
    });
  }

  it('claude-code: usage deltas counted once per message, the result carries the agent cost', () => {
    const events = parseFixture(createClaudeCodeParser, 'claude-code/success.jsonl');
    const deltas = ofKind(events, 'usage').filter((u) => u.scope === 'delta');
    assert.equal(deltas.length, 3);
    assert.equal(ofKind(events, 'turn').length, 3);
    const total = ofKind(events, 'usage').find((u) => u.scope === 'total');
    assert.deepEqual({ in: total?.inputTokens, out: total?.outputTokens, cached: total?.cachedTokens, cost: total?.costUsd, source: total?.costSource }, { in: 420, out: 90, cached: 60, cost: 0.002448, source: 'agent' });
    assert.equal(ofKind(events, 'result')[0]?.turns, 3);
    assert.deepEqual(ofKind(events, 'toolStarted').map((t) => [t.name, t.toolKind]), [['Read', 'read'], ['Write', 'edit']]);
    assert.equal(ofKind(events, 'fileEdited')[0]?.change, 'add');
  });

  it('claude-code: --include-partial-messages streams text deltas without duplicating the full message', () => {
    const events = parseFixture(createClaudeCodeParser, 'claude-code/success-partial.jsonl');
    const text = ofKind(events, 'text');
    assert.ok(text.length >= 2, 'incremental');
    assert.equal(text.map((t) => t.text).join(''), 'Done: I read README.md and wrote hello.txt.');
  });

  it('codex: shell commands become commandRun with argv, exit code and output', () => {
    const events = parseFixture(createCodexParser, 'codex/success.jsonl');
    const [command] = ofKind(events, 'commandRun');
    assert.equal(command?.command, "/bin/bash -lc 'cat README.md'");
    assert.deepEqual(command?.argv, ['/bin/bash', '-lc', 'cat README.md']);
    assert.equal(command?.exitCode, 0);
    assert.equal(command?.outputExcerpt, '# Demo project\n');
    const total = ofKind(events, 'usage')[0];
    assert.deepEqual([total?.inputTokens, total?.cachedTokens, total?.outputTokens], [360, 60, 90]);
    // The "model metadata not found" warning is an error item: shown, not fatal.
    assert.ok(ofKind(events, 'error').every((e) => !e.fatal));
  });

  it('filesReadBy keeps workspace-relative paths, drops outside ones, knows each tool', () => {
    const events: AgentEvent[] = [
      { kind: 'toolStarted', id: '1', name: 'Read', input: { file_path: '/ws/src/a.ts' } },
      { kind: 'toolStarted', id: '2', name: 'read_file', input: { absolute_path: '/ws/b.md' } },
      { kind: 'toolStarted', id: '3', name: 'Read', input: { file_path: '/etc/passwd' } },
      { kind: 'toolStarted', id: '4', name: 'Write', input: { file_path: '/ws/c.ts' } },
      { kind: 'toolStarted', id: '5', name: 'Open the thing', toolKind: 'read', paths: ['/ws/d/e.ts'] },
      { kind: 'commandRun', command: "bash -lc 'sed -n 1,20p src/f.ts && head -5 g.txt'" },
      { kind: 'toolStarted', id: '6', name: 'view', input: { path: 'src/a.ts' } },
    ];
    assert.deepEqual(filesReadBy(events, '/ws'), ['src/a.ts', 'b.md', 'd/e.ts', 'src/f.ts', 'g.txt']);
  });
});
