// Each CLI backend through the real spawn path, with a fake CLI that replays the
// captured format (test/fixtures/agents/fake-<tool>.mjs) and starts a grandchild.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CliBackend, type CliBackendConfig, type CliPreset } from '../../../src/backends/cliBackend';
import { aiderPreset, claudeCodePreset, codexPreset, commandPreset, droidPreset, geminiPreset } from '../../../src/backends/presets';
import { REDACTED } from '../../../src/backends/redact';
import type { AttemptRequest } from '../../../src/backends/types';
import { allDead, collect, fake, fakeEnv, MemorySink, ofKind, tempWorkspace, waitForPids, type Workspace } from './helpers';

const SECRET = 'sk-test-SECRET-value-0123456789';
const PRICES = { 'claude-sonnet-4*': { input: 3, output: 15, cachedInput: 0.3 }, 'gpt-5*': { input: 1.25, output: 10, cachedInput: 0.125 } };

interface Case {
  preset: CliPreset;
  tool: string;
  config?: CliBackendConfig;
  model?: string;
  /** JSON agents end with a result event; plain ones by exit code. */
  plain?: boolean;
}
const CASES: Case[] = [
  { preset: claudeCodePreset, tool: 'claude-code' },
  { preset: codexPreset, tool: 'codex', model: 'gpt-5-codex' },
  { preset: geminiPreset, tool: 'gemini' },
  { preset: droidPreset, tool: 'droid' },
  { preset: aiderPreset, tool: 'aider', plain: true },
  { preset: commandPreset, tool: 'aider', plain: true, config: { argv: [fake('aider'), '--read', '{promptFile}', '--context', '{contextFile}'] } },
];

/** Bytes a prompt must keep: CRLF, tabs, non-ASCII, shell and template characters, trailing blanks. */
const EXACT_PROMPT = '# Stage: build\r\n\tUnicode: é ✓ 🙂 — "quotes" \'single\' $HOME `tick` {prompt} \\n\n\n  trailing blanks  \n';

/** What each fake's `refused` replay (captured from the real CLIs) must come to. */
/** [requestedModel, reportedModel, agentVersion] of each fake's success replay. */
const SUCCESS_MODELS: Record<string, [string | undefined, string | undefined, string | undefined]> = {
  'claude-code': [undefined, 'claude-sonnet-4-5', '2.1.197'],
  // Codex's stream names neither the model nor its version.
  codex: ['gpt-5-codex', undefined, undefined],
  gemini: [undefined, 'gemini-mock', undefined],
  droid: [undefined, 'custom:Mock-Claude-0', undefined],
};

const REFUSED: Record<string, { outcome: string; text: string; failed?: { name: string; reason: RegExp } }> = {
  'claude-code': { outcome: 'succeeded', text: 'I could not write outside.txt: the write was refused.', failed: { name: 'Write', reason: /requested permissions to write/ } },
  codex: { outcome: 'succeeded', text: 'I could not write outside.txt: the write was refused.', failed: { name: 'apply_patch', reason: /patch rejected: writing outside of the project/ } },
  gemini: { outcome: 'succeeded', text: 'I could not write outside.txt: the write was refused.', failed: { name: 'write_file', reason: /Path not in workspace/ } },
  droid: { outcome: 'failed', text: 'Exec ended early: insufficient permission to proceed. Re-run with --auto medium or --auto high. For destructive commands, use --skip-permissions-unsafe.', failed: { name: 'Execute', reason: /insufficient permission/ } },
  // A plain-text agent has one message: its whole output; it reports no tool calls.
  aider: { outcome: 'succeeded', text: 'Aider v0.86.1\nSkipping edits to ../outside.txt: not in the repo\nDone.\n' },
};

function backendFor(c: Case, extra: CliBackendConfig = {}): CliBackend {
  const config: CliBackendConfig = { ...(c.preset.id === 'command' ? {} : { path: fake(c.tool) }), killGraceMs: 500, ...c.config, ...extra };
  return new CliBackend(c.preset, config, { prices: PRICES });
}

function attempt(ws: Workspace, scenario: string, more: Partial<AttemptRequest> = {}, env: Record<string, string> = {}): AttemptRequest {
  return {
    prompt: 'Read README.md and write hello.txt',
    contextPack: { version: 'a'.repeat(64), text: '# Context\nThe project is a demo.' },
    cwd: ws.dir,
    env: fakeEnv(ws, { FAKE_SCENARIO: scenario, ANTHROPIC_API_KEY: SECRET, ...env }),
    ...more,
  };
}

describe('CLI backends through the real spawn path (fake CLIs)', function () {
  this.timeout(30000);
  let ws: Workspace;
  beforeEach(async () => (ws = await tempWorkspace()));
  afterEach(() => ws.cleanup());

  for (const c of CASES) {
    const name = c.preset.id === 'command' ? 'command (argv template)' : c.preset.id;
    describe(name, () => {
      it('success: typed events, the file edit, the outcome, and the tree is gone afterwards', async () => {
        const sink = new MemorySink();
        const run = backendFor(c).start(attempt(ws, 'success', { sink, ...(c.model ? { model: c.model } : {}) }));
        const { events, result } = await collect(run);
        assert.equal(result.outcome, 'succeeded', result.reason);
        assert.equal(readFileSync(path.join(ws.dir, 'hello.txt'), 'utf8'), 'hello from the mock model\n');
        assert.ok(ofKind(events, 'text').length > 0);
        if (!c.plain) {
          assert.ok(result.sessionId);
          assert.equal(ofKind(events, 'fileEdited').length, 1);
          assert.ok(ofKind(events, 'toolStarted').length >= 2);
          assert.ok((result.usage.inputTokens ?? 0) > 0 && (result.usage.outputTokens ?? 0) > 0);
          assert.equal(result.text, 'Done: I read README.md and wrote hello.txt.');
          assert.equal(result.failedToolCalls, undefined);
          assert.deepEqual([result.requestedModel, result.reportedModel, result.agentVersion], SUCCESS_MODELS[c.tool]);
        } else {
          assert.equal(result.exitCode, 0);
        }
        assert.ok(sink.entries.some((e) => e.stream === 'meta' && e.line.startsWith('$ ')), 'the command is recorded');
        const pids = await waitForPids(ws);
        assert.ok(await allDead([pids.pid, pids.grandchild]), 'no process of the attempt outlives it');
      });

      it('the agent receives exactly the prompt, byte for byte, with no context pack added', async () => {
        // The stage's template already holds the context pack: backends must not add it again (issue #23).
        const { result } = await collect(backendFor(c).start(attempt(ws, 'success', { prompt: EXACT_PROMPT })));
        assert.equal(result.outcome, 'succeeded', result.reason);
        const seen = JSON.parse(readFileSync(ws.argsFile, 'utf8')) as { argv: string[]; stdin: string; files: Record<string, string> };
        const after = (flag: string) => seen.argv[seen.argv.indexOf(flag) + 1] ?? '';
        let received: string;
        if (c.preset.id === 'command') {
          // Placeholders are replaced per argument; the files exist while the agent runs (removed after).
          assert.equal(seen.argv[0], '--read');
          assert.match(seen.argv[1] ?? '', /prompt\.md$/);
          assert.match(seen.argv[3] ?? '', /context\.md$/);
          assert.equal(existsSync(seen.argv[1] ?? ''), false, 'temp files are cleaned up');
          // `{contextFile}` still gives a command the pack on its own, when its template asks for it.
          assert.equal(seen.files[seen.argv[3] ?? ''], '# Context\nThe project is a demo.');
          received = seen.files[seen.argv[1] ?? ''] ?? '';
        } else if (c.preset.id === 'aider') {
          received = seen.files[after('--message-file')] ?? '';
        } else if (c.preset.id === 'droid') {
          received = seen.files[after('--file')] ?? '';
        } else {
          received = seen.stdin;
        }
        assert.equal(received, EXACT_PROMPT);
        assert.ok(!JSON.stringify(seen).includes('The project is a demo.') || c.preset.id === 'command', 'the pack is not sent besides');
      });

      it('a prompt that starts with a flag, or passes the 128 KiB argument limit, reaches the agent as its prompt', async () => {
        // Gemini CLI took the prompt as `--prompt <text>`: yargs reads `--version…` as its own flag
        // (it printed its version and exited), and Linux refuses one argument over 128 KiB (E2BIG).
        for (const prompt of ['--version', `--help "me" é\n${'x'.repeat(200 * 1024)}`]) {
          const { result } = await collect(backendFor(c).start(attempt(ws, 'success', { prompt })));
          assert.equal(result.outcome, 'succeeded', result.reason);
          const seen = JSON.parse(readFileSync(ws.argsFile, 'utf8')) as { argv: string[]; stdin: string; files: Record<string, string> };
          assert.ok(seen.stdin === prompt || Object.values(seen.files).includes(prompt), 'the prompt arrives whole, on stdin or in its file');
          assert.ok(!seen.argv.some((arg) => arg.startsWith('--version') || arg.startsWith('--help')), 'the prompt is no argument of the agent');
        }
      });

      it('refused: a turn that ends normally while a tool call was refused names the failure', async () => {
        const { result } = await collect(backendFor(c).start(attempt(ws, 'refused', c.model ? { model: c.model } : {})));
        const expected = REFUSED[c.tool];
        assert.ok(expected, c.tool);
        assert.equal(result.outcome, expected.outcome, result.reason);
        assert.equal(result.text, expected.text);
        if (expected.failed) {
          assert.deepEqual(result.failedToolCalls?.map((f) => f.name), [expected.failed.name]);
          assert.match(result.failedToolCalls?.[0]?.reason ?? '', expected.failed.reason);
        } else {
          assert.equal(result.failedToolCalls, undefined);
        }
      });

      it('error: fails with the reason the agent gave', async () => {
        const { events, result } = await collect(backendFor(c).start(attempt(ws, 'error')));
        assert.equal(result.outcome, 'failed');
        if (!c.plain) assert.match(result.reason ?? '', /mock: the model refused this request/);
        else assert.match(result.reason ?? '', /exited with code 1/);
        assert.ok(ofKind(events, 'error').some((e) => e.fatal));
      });

      it('a mid-stream crash fails the attempt and says how it died', async () => {
        const { events, result } = await collect(backendFor(c).start(attempt(ws, 'crash')));
        assert.equal(result.outcome, 'failed');
        assert.match(result.reason ?? '', /killed by SIGKILL/);
        assert.equal(result.signal, 'SIGKILL');
        assert.ok(events.length > 0, 'the events before the crash are kept');
      });

      it('garbage lines are reported as diagnostics and the run goes on', async () => {
        const { events, result } = await collect(backendFor(c).start(attempt(ws, 'garbage')));
        assert.equal(result.outcome, 'succeeded', result.reason);
        if (!c.plain) assert.ok(ofKind(events, 'diagnostic').filter((d) => d.level === 'warn').length >= 3);
      });

      it('redacts known secrets from the transcript and the events, and from stderr', async () => {
        const sink = new MemorySink();
        const { events } = await collect(backendFor(c).start(attempt(ws, 'leak', { sink }, { FAKE_SECRET: SECRET })));
        assert.ok(!sink.text().includes(SECRET), 'transcript');
        assert.ok(!JSON.stringify(events).includes(SECRET), 'events');
        assert.ok(sink.text().includes(REDACTED));
        assert.ok(sink.entries.some((e) => e.stream === 'stderr' && e.line.includes(REDACTED)));
      });

      it('cancel kills the whole process tree', async () => {
        const controller = new AbortController();
        const run = backendFor(c).start(attempt(ws, 'hang', { signal: controller.signal }));
        const pids = await waitForPids(ws);
        controller.abort();
        const { result } = await collect(run);
        assert.equal(result.outcome, 'cancelled');
        assert.match(result.reason ?? '', /cancelled/);
        assert.ok(await allDead([pids.pid, pids.grandchild]), 'child and grandchild are dead');
      });
    });
  }

  it('an edit outside the workspace that the agent allowed is flagged in the record (Droid at --auto low)', async () => {
    const droid = CASES.find((c) => c.tool === 'droid') as Case;
    const { events, result } = await collect(backendFor(droid).start(attempt(ws, 'outside-allowed')));
    assert.equal(result.outcome, 'succeeded', result.reason);
    const warnings = ofKind(events, 'diagnostic').filter((d) => d.level === 'warn').map((d) => d.message);
    assert.deepEqual(warnings, [`Factory Droid edited a file outside the workspace: ${path.join(path.dirname(ws.dir), 'outside.txt')}`]);
  });

  it('cancel escalates to SIGKILL when the agent ignores SIGTERM', async () => {
    const c = CASES[0] as Case;
    const controller = new AbortController();
    const run = backendFor(c, { killGraceMs: 300 }).start(attempt(ws, 'hang', { signal: controller.signal }, { FAKE_IGNORE_TERM: '1' }));
    const pids = await waitForPids(ws);
    controller.abort();
    const { result } = await collect(run);
    assert.equal(result.outcome, 'cancelled');
    assert.equal(result.signal, 'SIGKILL');
    assert.ok(await allDead([pids.pid, pids.grandchild]));
  });

  it('timeout stops the tree and says it timed out', async () => {
    const run = backendFor(CASES[1] as Case, { timeoutMs: 700 }).start(attempt(ws, 'hang'));
    const pids = await waitForPids(ws);
    const { result } = await collect(run);
    assert.equal(result.outcome, 'timedOut');
    assert.match(result.reason ?? '', /timed out after 700ms/);
    assert.ok(await allDead([pids.pid, pids.grandchild]));
  });

  it('Claude Code stopped before its result: each message counts its true output tokens, and the token budget sees them', async () => {
    // stalled.jsonl (real Claude Code 2.1.332, stopped while its Bash tool ran): the assistant line
    // says output_tokens 1 (message_start's); only the streamed message_delta says 567.
    const timedOut = await collect(backendFor(CASES[0] as Case, { timeoutMs: 1500 }).start(attempt(ws, 'stalled')));
    assert.equal(timedOut.result.outcome, 'timedOut', timedOut.result.reason);
    assert.deepEqual(timedOut.result.usage, { inputTokens: 1334, outputTokens: 567, cachedTokens: 89, turns: 1 });
    const overBudget = await collect(backendFor(CASES[0] as Case, { timeoutMs: 3000 }).start(attempt(ws, 'stalled', { budget: { tokens: 1500 } })));
    assert.equal(overBudget.result.outcome, 'budgetExceeded', overBudget.result.reason);
    assert.match(overBudget.result.reason ?? '', /token budget exceeded: 1901 tokens, budget 1500/);
  });

  it('Claude Code with a sub-agent: the tokens recorded are the ones its cost is priced from', async () => {
    // subagent.jsonl (real Claude Code 2.1.332): two result lines; `usage` misses the sub-agent's
    // calls, `modelUsage` counts all 8 (9872 + 712 cache reads + 88 cache writes in, 4536 out).
    const { result } = await collect(backendFor(CASES[0] as Case).start(attempt(ws, 'replay', {}, { FAKE_REPLAY: 'subagent' })));
    assert.equal(result.outcome, 'succeeded', result.reason);
    const { inputTokens, outputTokens, cachedTokens, costUsd, costSource } = result.usage;
    assert.deepEqual({ inputTokens, outputTokens, cachedTokens, costUsd, costSource }, { inputTokens: 10672, outputTokens: 4536, cachedTokens: 712, costUsd: 0.13079039999999997, costSource: 'agent' });
  });

  it('Claude Code with a final answer over the line limit: the run still succeeds with its cost, and the answer keeps both ends', async () => {
    // answer.jsonl (real Claude Code 2.1.332) with a 5 MB answer: its result line puts
    // "type":"result", the duration and the session after the answer, past a 4 MB cut.
    const sink = new MemorySink();
    const { result } = await collect(backendFor(CASES[0] as Case).start(attempt(ws, 'huge-result', { sink }, { FAKE_REPLAY: 'answer', FAKE_DELAY_MS: '0' })));
    assert.equal(result.outcome, 'succeeded', result.reason);
    assert.equal(result.usage.costUsd, 0.016348799999999997);
    assert.equal(result.sessionId, 'e204bbc1-509d-4203-8771-ec94d6ec2e2a');
    assert.ok(result.text?.endsWith('The answer ends.'), result.text?.slice(-40));
    assert.match(result.text ?? '', /… \[factory: \d+ bytes of this line were dropped here\] …/);
    const recorded = sink.entries.find((e) => e.stream === 'stdout' && e.line.includes('"type":"result"'));
    // Bounded: the line limit, a quarter of it as the tail, and at most one pipe chunk more.
    assert.ok(recorded && Buffer.byteLength(recorded.line) <= 5 * 1024 * 1024 + 64 * 1024 + 256, 'the transcript holds the joined line, bounded');
  });

  it('turn budget stops the attempt as budgetExceeded', async () => {
    const run = backendFor(CASES[0] as Case).start(attempt(ws, 'success', { budget: { turns: 1 } }, { FAKE_DELAY_MS: '100' }));
    const { result } = await collect(run);
    assert.equal(result.outcome, 'budgetExceeded');
    assert.match(result.reason ?? '', /turn budget exceeded: turn 2 of at most 1/);
    assert.ok(!existsSync(path.join(ws.dir, 'hello.txt')), 'stopped before the write');
    const pids = await waitForPids(ws);
    assert.ok(await allDead([pids.pid, pids.grandchild]));
  });

  it('cost budget works on the streamed estimate before the agent reports its cost', async () => {
    // 3 turns × (120 in, 20 cached, 1 out) at claude-sonnet-4 prices ≈ $0.00029 per turn.
    const run = backendFor(CASES[0] as Case).start(attempt(ws, 'success', { budget: { costUsd: 0.0005 } }, { FAKE_DELAY_MS: '100' }));
    const { events, result } = await collect(run);
    assert.equal(result.outcome, 'budgetExceeded');
    assert.match(result.reason ?? '', /cost budget exceeded: \$0\.000\d+ \(estimate\)/);
    assert.ok(ofKind(events, 'usage').every((u) => u.costSource === 'estimate'));
  });

  it('token budget and time budget stop the attempt too', async () => {
    const tokens = await collect(backendFor(CASES[2] as Case).start(attempt(ws, 'success', { budget: { tokens: 100 } })));
    assert.equal(tokens.result.outcome, 'budgetExceeded');
    assert.match(tokens.result.reason ?? '', /token budget exceeded: 450 tokens/);
    const time = await collect(backendFor(CASES[3] as Case).start(attempt(ws, 'hang', { budget: { wallTimeMs: 500 } })));
    assert.equal(time.result.outcome, 'budgetExceeded');
    assert.match(time.result.reason ?? '', /time budget exceeded/);
  });

  it('usage: the estimate streams first and is replaced by the agent figure (Claude Code)', async () => {
    const { events, result } = await collect(backendFor(CASES[0] as Case).start(attempt(ws, 'success')));
    const usage = ofKind(events, 'usage');
    assert.equal(usage[0]?.costSource, 'estimate');
    assert.ok((usage[0]?.costUsd ?? 0) > 0);
    assert.equal(usage.at(-1)?.costSource, 'agent');
    assert.equal(usage.at(-1)?.costUsd, 0.002448);
    assert.deepEqual(result.usage, { inputTokens: 420, outputTokens: 90, cachedTokens: 60, costUsd: 0.002448, costSource: 'agent', turns: 3 });
  });

  it('usage: Codex reports tokens only, so cost is an estimate from the price table, or unknown', async () => {
    const priced = await collect(backendFor(CASES[1] as Case).start(attempt(ws, 'success', { model: 'gpt-5-codex' })));
    // 300 uncached × 1.25 + 60 cached × 0.125 + 90 × 10, per million.
    assert.deepEqual(priced.result.usage, { inputTokens: 360, outputTokens: 90, cachedTokens: 60, costUsd: 0.0012825, costSource: 'estimate', turns: 1 });
    const unknown = await collect(backendFor(CASES[1] as Case).start(attempt(ws, 'success', { model: 'some-new-model' })));
    assert.equal(unknown.result.usage.costUsd, undefined, 'cost unknown, never 0');
    assert.equal(unknown.result.usage.costSource, undefined);
  });

  it('a flood of output is capped with a marker and memory stays bounded', async () => {
    const sink = { bytes: 0, lines: 0, marker: '', write(e: { stream: string; line: string }) { this.bytes += e.line.length; this.lines++; if (e.line.includes('truncated')) this.marker = e.line; } };
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const run = backendFor(CASES[0] as Case, { maxOutputBytes: 2 * 1024 * 1024 }).start(attempt(ws, 'flood', { sink }, { FAKE_FLOOD_MB: '120' }));
    let events = 0;
    for await (const _ of run) events++;
    const result = await run.result;
    clearInterval(timer);
    assert.equal(result.outputTruncated, true);
    assert.match(sink.marker, /output truncated after 2097152 bytes/);
    assert.ok(sink.bytes < 3 * 1024 * 1024, `sink got ${sink.bytes} bytes`);
    assert.ok(events < 10000, `${events} events`);
    assert.equal(result.outcome, 'succeeded', result.reason);
    // V8 collects lazily, so the peak includes up to the output's size in garbage on a
    // busy machine (95 MB seen); keeping the output would hold it as UTF-16 strings,
    // ~240 MB. The bound tells those apart without flaking; bench/transcript-parse.ts
    // measures the real figure.
    assert.ok(peak - before < 200 * 1024 * 1024, `rss grew by ${Math.round((peak - before) / 1048576)} MB for 120 MB of output`);
  });

  it('a missing binary is a clear error naming the setting and how to install', async () => {
    const backend = new CliBackend(claudeCodePreset, {}, {});
    const { events, result } = await collect(backend.start({ ...attempt(ws, 'success'), env: { PATH: ws.dir } }));
    assert.equal(result.outcome, 'failed');
    assert.equal(result.reason, 'Claude Code is not available: "claude" was not found on PATH. Install it (npm install -g @anthropic-ai/claude-code) or set factory.backends.claude-code.path to the full path of its executable.');
    assert.equal(ofKind(events, 'error')[0]?.message, result.reason);
    const configured = await collect(new CliBackend(codexPreset, { path: '/nowhere/codex' }).start(attempt(ws, 'success')));
    assert.match(configured.result.reason ?? '', /the configured path "\/nowhere\/codex" is not an executable file.*factory\.backends\.codex\.path/);
  });

  it('passes each CLI its documented flags', () => {
    const input = { attempt: { prompt: 'p', cwd: '/ws', env: {}, resumeSessionId: 'S1', budget: { turns: 4 } }, config: { allowedTools: ['Read', 'Write'] }, model: 'm', prompt: 'P', promptFile: '/t/prompt.md', contextFile: '/t/context.md' };
    assert.deepEqual(claudeCodePreset.buildInvocation(input), {
      args: ['-p', '--output-format', 'stream-json', '--verbose', '--include-partial-messages', '--permission-mode', 'acceptEdits', '--allowedTools', 'Read,Write', '--model', 'm', '--max-turns', '4', '--resume', 'S1'],
      stdin: 'P',
    });
    assert.deepEqual(codexPreset.buildInvocation(input), { args: ['exec', '--json', '--sandbox', 'workspace-write', '--model', 'm', '--cd', '/ws', 'resume', 'S1', '-'], stdin: 'P' });
    assert.deepEqual(droidPreset.buildInvocation(input).args, ['exec', '--output-format', 'stream-json', '--auto', 'low', '--model', 'm', '--cwd', '/ws', '--session-id', 'S1', '--file', '/t/prompt.md']);
    assert.deepEqual(geminiPreset.buildInvocation(input), { args: ['--output-format', 'stream-json', '--approval-mode', 'yolo', '--skip-trust', '--model', 'm', '--resume', 'S1'], stdin: 'P' });
    assert.deepEqual(aiderPreset.buildInvocation(input).args, ['--message-file', '/t/prompt.md', '--yes-always', '--no-pretty', '--no-auto-commits', '--model', 'm']);
  });
});
