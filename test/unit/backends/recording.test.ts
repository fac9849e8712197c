// Issue #23, "every run recorded exactly as it happened": on replays captured from the
// real CLIs (test/fixtures/agents/<tool>/{success,error,refused}.jsonl, see each parser's
// header for versions), the facts an attempt records — final answer (the last assistant
// message only), failed tool calls, the model the agent reports, tokens, outcome.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentEvent } from '../../../src/core/agentEvents';
import { AttemptResultSchema } from '../../../src/core/agentEvents';
import { AttemptFacts } from '../../../src/backends/attemptFacts';
import { currentModelOf, mapSessionUpdate, promptUsage } from '../../../src/backends/acp';
import { createClaudeCodeParser } from '../../../src/backends/parsers/claudeCode';
import { createCodexParser } from '../../../src/backends/parsers/codex';
import { createDroidParser } from '../../../src/backends/parsers/droid';
import { createGeminiParser } from '../../../src/backends/parsers/gemini';
import type { ParserFactory } from '../../../src/backends/parsers/common';
import { FIXTURES, ofKind } from './helpers';

const CWD = '/workspace/project';

/** Parses a replay (and its stderr, when captured) the way CliBackend does, and collects the facts. */
function replay(factory: ParserFactory, file: string, stderrFile?: string) {
  const parser = factory({ cwd: CWD });
  const events: AgentEvent[] = [];
  if (stderrFile) for (const line of readFileSync(path.join(FIXTURES, stderrFile), 'utf8').split('\n')) events.push(...(parser.stderr?.(line) ?? []));
  for (const line of readFileSync(path.join(FIXTURES, file), 'utf8').split('\n')) events.push(...parser.parse(line));
  events.push(...parser.end());
  const facts = new AttemptFacts();
  events.forEach((e) => facts.observe(e));
  const result = ofKind(events, 'result').at(-1);
  const usage = ofKind(events, 'usage').filter((u) => u.scope === 'total').at(-1);
  return { events, facts, result, usage, fields: facts.resultFields('requested-model', result?.success ? result.text : undefined) };
}

const REFUSED_FINAL = 'I could not write outside.txt: the write was refused.';
const PRE_TEXT = 'First I will write outside.txt next to the project.';

describe('recording an attempt as it happened (real CLI replays)', () => {
  describe('claude-code', () => {
    it('success: final answer from result, reported model and version from init, tokens and cost', () => {
      const { fields, usage, result } = replay(createClaudeCodeParser, 'claude-code/success.jsonl');
      assert.equal(result?.success, true);
      assert.deepEqual(fields, { text: 'Done: I read README.md and wrote hello.txt.', requestedModel: 'requested-model', reportedModel: 'claude-sonnet-4-5', agentVersion: '2.1.197' });
      assert.deepEqual([usage?.inputTokens, usage?.outputTokens, usage?.cachedTokens, usage?.costUsd], [420, 90, 60, 0.002448]);
    });

    it('refused: permission_denials are a named failed tool call, the answer is the last message only, the run succeeds', () => {
      const { fields, events, usage, result } = replay(createClaudeCodeParser, 'claude-code/refused.jsonl');
      assert.equal(result?.success, true);
      assert.equal(fields.text, REFUSED_FINAL);
      assert.ok(!fields.text?.includes(PRE_TEXT));
      assert.deepEqual(fields.failedToolCalls?.map((f) => [f.name, f.id]), [['Write', 'toolu_mock_outside']]);
      assert.match(fields.failedToolCalls?.[0]?.reason ?? '', /Claude requested permissions to write to \/workspace\/outside\.txt/);
      assert.deepEqual(ofKind(events, 'permission').map((p) => [p.title, p.decision]), [['Write', 'rejected']]);
      assert.equal(fields.reportedModel, 'claude-sonnet-4-5');
      assert.deepEqual([usage?.inputTokens, usage?.outputTokens, usage?.cachedTokens, usage?.costUsd], [280, 60, 40, 0.001632]);
    });

    it('API error: a failed result, no tool failures', () => {
      const { result, fields } = replay(createClaudeCodeParser, 'claude-code/error.jsonl');
      assert.equal(result?.success, false);
      assert.equal(fields.failedToolCalls, undefined);
      assert.equal(fields.agentVersion, '2.1.197');
    });
  });

  describe('codex', () => {
    it('success: the last agent_message, tokens with cache; the stream names no model', () => {
      const { fields, usage, result } = replay(createCodexParser, 'codex/success.jsonl');
      assert.equal(result?.success, true);
      assert.deepEqual(fields, { text: 'Done: I read README.md and wrote hello.txt.', requestedModel: 'requested-model' });
      assert.deepEqual([usage, ofKind(replay(createCodexParser, 'codex/success.jsonl').events, 'usage')[0]?.inputTokens], [undefined, 360]);
    });

    it('refused patch: known only from stderr, still a named failed call; the answer is the last message', () => {
      const { fields, result } = replay(createCodexParser, 'codex/refused.jsonl', 'codex/refused.stderr.txt');
      assert.equal(result?.success, true);
      assert.equal(fields.text, REFUSED_FINAL);
      assert.deepEqual(fields.failedToolCalls?.map((f) => f.name), ['apply_patch']);
      assert.match(fields.failedToolCalls?.[0]?.reason ?? '', /patch rejected: writing outside of the project; rejected by user approval settings/);
    });

    it('a failed shell command (status failed, exit code 1) is a failed call with its output', () => {
      const { fields, events } = replay(createCodexParser, 'codex/refused-shell.jsonl');
      assert.deepEqual(fields.failedToolCalls, [{ name: 'shell', id: 'item_2', reason: 'cat: /nonexistent-file: No such file or directory' }]);
      assert.equal(ofKind(events, 'commandRun')[0]?.exitCode, 1);
      assert.equal(fields.text, REFUSED_FINAL);
    });

    it('a stderr line that is not a tool router error is ignored', () => {
      const parser = createCodexParser({ cwd: CWD });
      assert.deepEqual(parser.stderr?.('2026-12-01T23:05:59Z WARN codex_core::config: something'), []);
    });
  });

  describe('droid', () => {
    it('success: finalText, reported model from init, tokens', () => {
      const { fields, usage } = replay(createDroidParser, 'droid/success.jsonl');
      assert.deepEqual(fields, { text: 'Done: I read README.md and wrote hello.txt.', requestedModel: 'requested-model', reportedModel: 'custom:Mock-Claude-0' });
      assert.deepEqual([usage?.inputTokens, usage?.outputTokens, usage?.cachedTokens], [420, 90, 60]);
    });

    it('refused Execute (--auto low): a named failed call with the tool error, and the exec ends failed', () => {
      const { fields, result, events } = replay(createDroidParser, 'droid/refused.jsonl');
      assert.equal(result?.success, false);
      assert.deepEqual(fields.failedToolCalls?.map((f) => [f.name, f.id]), [['Execute', 'toolu_mock_outside']]);
      assert.match(fields.failedToolCalls?.[0]?.reason ?? '', /insufficient permission to proceed/);
      assert.ok(ofKind(events, 'error').some((e) => e.fatal));
      // The last assistant message is Droid's own note, not the joined messages.
      assert.match(fields.text ?? '', /^Exec ended early/);
      assert.ok(!fields.text?.includes(PRE_TEXT));
    });
  });

  describe('gemini', () => {
    it('success: the last message, the model that answered (stats.models, not "auto"), tokens', () => {
      const { fields, usage } = replay(createGeminiParser, 'gemini/success.jsonl');
      assert.deepEqual(fields, { text: 'Done: I read README.md and wrote hello.txt.', requestedModel: 'requested-model', reportedModel: 'gemini-mock' });
      assert.deepEqual([usage?.inputTokens, usage?.outputTokens, usage?.cachedTokens, usage?.model], [360, 90, 60, 'gemini-mock']);
    });

    it('refused write_file: a named failed call, the answer is only the text after it', () => {
      const { fields, result } = replay(createGeminiParser, 'gemini/refused.jsonl');
      assert.equal(result?.success, true);
      assert.equal(result?.text, REFUSED_FINAL);
      assert.equal(fields.text, REFUSED_FINAL);
      assert.deepEqual(fields.failedToolCalls?.map((f) => f.name), ['write_file']);
      assert.match(fields.failedToolCalls?.[0]?.reason ?? '', /^Path not in workspace/);
    });

    it('API error: models with no tokens are not reported', () => {
      const { fields, result } = replay(createGeminiParser, 'gemini/error.jsonl');
      assert.equal(result?.success, false);
      assert.equal(fields.reportedModel, 'gemini-2.5-flash');
    });
  });

  it('the new AttemptResult fields pass the schema', () => {
    const parsed = AttemptResultSchema.safeParse({
      outcome: 'succeeded',
      usage: {},
      durationMs: 1,
      text: 'x',
      failedToolCalls: [{ name: 'Write', id: 't1', reason: 'denied' }, { name: 'shell' }],
      requestedModel: 'a',
      reportedModel: 'b',
      agentVersion: '1.0',
    });
    assert.ok(parsed.success);
  });
});

describe('AttemptFacts', () => {
  it('the final answer is the last message: a tool call or a new message id starts a new one', () => {
    const facts = new AttemptFacts();
    const feed: AgentEvent[] = [
      { kind: 'text', text: 'I will ', messageId: 'm1' },
      { kind: 'text', text: 'look.', messageId: 'm1' },
      { kind: 'toolStarted', id: 't', name: 'Read' },
      { kind: 'toolFinished', id: 't', status: 'succeeded' },
      { kind: 'text', text: 'Half ' },
      { kind: 'reasoning', text: 'hmm' },
      { kind: 'text', text: 'done.' },
      { kind: 'text', text: 'Other message.', messageId: 'm3' },
    ];
    feed.forEach((e) => facts.observe(e));
    assert.equal(facts.lastMessage, 'Other message.');
    const same = new AttemptFacts();
    feed.slice(0, 7).forEach((e) => same.observe(e));
    assert.equal(same.lastMessage, 'Half done.');
  });

  it('failed calls: named from their start, a permission refusal counts, a later success clears it, first reason stands', () => {
    const facts = new AttemptFacts();
    const feed: AgentEvent[] = [
      { kind: 'toolStarted', id: 'a', name: 'Write' },
      { kind: 'toolFinished', id: 'a', status: 'failed', output: 'refused by the sandbox' },
      { kind: 'permission', toolCallId: 'a', title: 'Write', decision: 'rejected' },
      { kind: 'toolStarted', id: 'b', name: 'Edit' },
      { kind: 'permission', toolCallId: 'b', title: 'Edit', decision: 'cancelled' },
      { kind: 'toolStarted', id: 'c', name: 'Bash' },
      { kind: 'permission', toolCallId: 'c', title: 'Bash', decision: 'rejected' },
      { kind: 'toolFinished', id: 'c', status: 'succeeded' },
      { kind: 'toolFinished', id: 'd', status: 'failed', output: 'x'.repeat(2000) },
    ];
    feed.forEach((e) => facts.observe(e));
    const failed = facts.failedToolCalls;
    assert.deepEqual(failed.slice(0, 2), [{ name: 'Write', id: 'a', reason: 'refused by the sandbox' }, { name: 'Edit', id: 'b', reason: 'permission cancelled' }]);
    assert.equal(failed[2]?.name, 'unknown');
    assert.ok((failed[2]?.reason?.length ?? 0) < 600, 'reasons are excerpts');
    assert.equal(failed.length, 3);
  });

  it('the reported model: the model tokens were counted for, else the session\'s; aliases are not models', () => {
    const facts = new AttemptFacts();
    facts.observe({ kind: 'session', sessionId: 's', model: 'auto', agentVersion: '9.9' });
    assert.equal(facts.resultFields(undefined).reportedModel, undefined);
    facts.observe({ kind: 'session', sessionId: 's', model: 'claude-x' });
    facts.observe({ kind: 'usage', scope: 'delta', inputTokens: 1, outputTokens: 1, cachedTokens: 0, model: 'claude-y' });
    assert.deepEqual(facts.resultFields('wanted'), { requestedModel: 'wanted', reportedModel: 'claude-y', agentVersion: '9.9' });
  });

  it('keeps the end of a very long single message (a plain-text agent\'s output)', () => {
    const facts = new AttemptFacts();
    for (let i = 0; i < 2000; i++) facts.observe({ kind: 'text', text: `line ${i} ${'x'.repeat(60)}\n` });
    const text = facts.lastMessage ?? '';
    assert.ok(text.startsWith('[…] ') && text.endsWith(`line 1999 ${'x'.repeat(60)}\n`));
    assert.ok(text.length <= 64 * 1024 + 10);
  });
});

describe('ACP: tokens, model, failed calls from real gemini --acp messages', () => {
  const messages = (file: string) => readFileSync(path.join(FIXTURES, file), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { dir: string; msg: Record<string, unknown> });
  const promptAnswer = (file: string) => {
    const all = messages(file);
    const id = all.find((m) => m.dir === 'client' && m.msg.method === 'session/prompt')?.msg.id;
    return all.find((m) => m.dir === 'agent' && m.msg.id === id)?.msg.result as Record<string, unknown>;
  };

  it('Gemini\'s _meta.quota token_count and model_usage (without the "auto" alias)', () => {
    const usage = promptUsage(promptAnswer('acp-gemini/success.jsonl'));
    assert.deepEqual(usage, { kind: 'usage', scope: 'total', inputTokens: 360, outputTokens: 90, cachedTokens: 0, model: 'gemini-3.1-pro-preview' });
  });

  it('the unstable PromptResponse.usage wins when present', () => {
    assert.deepEqual(promptUsage({ stopReason: 'end_turn', usage: { totalTokens: 10, inputTokens: 7, outputTokens: 3, cachedReadTokens: 2 } }), { kind: 'usage', scope: 'total', inputTokens: 7, outputTokens: 3, cachedTokens: 2 });
    assert.equal(promptUsage({ stopReason: 'end_turn' }), undefined);
  });

  it('session/new names the current model (Gemini: models.currentModelId; stable: a model config option)', () => {
    const created = messages('acp-gemini/success.jsonl').find((m) => m.dir === 'agent' && m.msg.id === 1)?.msg.result;
    assert.equal(currentModelOf(created), 'auto');
    assert.equal(currentModelOf({ configOptions: [{ id: 'm', name: 'Model', type: 'select', category: 'model', currentValue: 'opus', options: [] }] }), 'opus');
  });

  it('a failed tool_call_update with no tool_call before it is named from its id', () => {
    const update = messages('acp-gemini/refused.jsonl').map((m) => (m.msg.params as { update?: { sessionUpdate?: string } } | undefined)?.update).find((u) => u?.sessionUpdate === 'tool_call_update');
    const events = mapSessionUpdate(update as never, new Map());
    assert.deepEqual(events.map((e) => (e.kind === 'toolFinished' ? [e.name, e.status] : e.kind)), [['write_file', 'failed']]);
  });
});
