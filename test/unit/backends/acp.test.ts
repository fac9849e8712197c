// The ACP client against a real ACP agent subprocess built with the SDK's agent side.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AcpBackend, rejectAllPolicy, type PermissionRequestInfo } from '../../../src/backends/acp';
import { filesReadBy } from '../../../src/core/agentEvents';
import { allDead, collect, fake, fakeEnv, FIXTURES, MemorySink, ofKind, tempWorkspace, waitForPids, type Workspace } from './helpers';

describe('ACP backend (SDK agent as a subprocess)', function () {
  this.timeout(30000);
  let ws: Workspace;
  beforeEach(async () => (ws = await tempWorkspace()));
  afterEach(() => ws.cleanup());

  it('initializes, opens a session in the workspace, prompts, and maps the updates', async () => {
    const asked: PermissionRequestInfo[] = [];
    const backend = new AcpBackend({
      path: fake('acp-agent'),
      killGraceMs: 500,
      permissionPolicy: (request) => {
        asked.push(request);
        return { optionId: 'allow' };
      },
    });
    const sink = new MemorySink();
    const secret = 'acp-secret-token-123456';
    const { events, result } = await collect(backend.start({ prompt: 'Write hello.txt', cwd: ws.dir, env: fakeEnv(ws, { FAKE_SECRET: secret, MY_API_KEY: secret }), sink }));
    assert.equal(result.outcome, 'succeeded', result.reason);
    assert.equal(result.sessionId, 'sess-1');
    assert.equal(readFileSync(path.join(ws.dir, 'hello.txt'), 'utf8'), 'hello from the acp agent\n');
    // The permission callback saw the request and its options; the decision is recorded.
    assert.deepEqual(asked.map((a) => [a.toolCallId, a.title, a.options.map((o) => o.kind)]), [['call-write', 'Write hello.txt', ['allow_once', 'reject_once']]]);
    assert.deepEqual(ofKind(events, 'permission').map((p) => p.decision), ['allowed']);
    assert.equal(ofKind(events, 'reasoning')[0]?.text, 'Plan: read, then write.');
    assert.deepEqual(ofKind(events, 'plan')[0]?.entries.map((e) => e.status), ['completed', 'inProgress']);
    assert.deepEqual(ofKind(events, 'toolStarted').map((t) => t.toolKind), ['read', 'edit']);
    assert.deepEqual(filesReadBy(events, ws.dir), ['README.md']);
    assert.ok(ofKind(events, 'fileEdited').some((f) => f.path.endsWith('hello.txt') && f.change === 'add'));
    // Reads and writes outside the workspace are refused.
    assert.match(result.text ?? '', /read \/etc\/hostname: refused \(.*outside the workspace/);
    assert.match(result.text ?? '', /write \.\.\/escape\.txt: refused/);
    assert.equal(existsSync(path.join(ws.dir, '..', 'escape.txt')), false);
    // A file that does not exist yet is "Resource not found" (-32002), which agents check before writing.
    assert.match(result.text ?? '', /missing\.txt: Resource not found/);
    assert.equal(ofKind(events, 'diagnostic').filter((d) => d.message.includes('outside the workspace')).length, 2);
    // Tokens from the prompt response's (unstable) `usage`, the cost from `usage_update`.
    assert.deepEqual(result.usage, { inputTokens: 1200, outputTokens: 330, cachedTokens: 400, costUsd: 0.0123, costSource: 'agent' });
    assert.equal(result.agentVersion, '1.0.0');
    assert.equal(result.failedToolCalls, undefined);
    // The JSON-RPC exchange is the transcript, both directions, redacted.
    assert.ok(sink.entries.some((e) => e.stream === 'stdin' && e.line.includes('"method":"initialize"')));
    assert.ok(sink.entries.some((e) => e.stream === 'stdout' && e.line.includes('agent_message_chunk')));
    assert.ok(!sink.text().includes(secret));
    const pids = await waitForPids(ws);
    assert.ok(await allDead([pids.pid, pids.grandchild]));
  });

  it('a rejecting policy keeps the agent from writing, and the refused call is counted and named', async () => {
    const backend = new AcpBackend({ path: fake('acp-agent'), killGraceMs: 500, permissionPolicy: rejectAllPolicy });
    const { events, result } = await collect(backend.start({ prompt: 'Write hello.txt', cwd: ws.dir, env: fakeEnv(ws) }));
    assert.equal(result.outcome, 'succeeded');
    assert.equal(existsSync(path.join(ws.dir, 'hello.txt')), false);
    assert.deepEqual(ofKind(events, 'permission').map((p) => p.decision), ['rejected']);
    assert.equal(ofKind(events, 'toolFinished').find((t) => t.id === 'call-write')?.status, 'failed');
    assert.deepEqual(result.failedToolCalls, [{ name: 'Write hello.txt', id: 'call-write', reason: 'permission rejected' }]);
  });

  it('the agent receives exactly the prompt, byte for byte, with no context pack added', async () => {
    const prompt = '# Stage\r\n\tUnicode: é ✓ 🙂 "q" $HOME {prompt}\n\n  trailing  \n';
    const backend = new AcpBackend({ path: fake('acp-agent'), killGraceMs: 500 });
    const { result } = await collect(backend.start({ prompt, contextPack: { version: 'v1', text: 'THE PACK' }, cwd: ws.dir, env: fakeEnv(ws) }));
    assert.equal(result.outcome, 'succeeded', result.reason);
    const seen = JSON.parse(readFileSync(ws.argsFile, 'utf8')) as { prompt: string; blocks: number };
    assert.deepEqual([seen.prompt, seen.blocks], [prompt, 1]);
  });

  describe('replaying the real gemini --acp (Gemini CLI 0.61.0, test/fixtures/agents/acp-gemini)', () => {
    const replay = (name: string, extra: Record<string, string> = {}) => fakeEnv(ws, { FAKE_SCENARIO: 'replay', FAKE_ACP_REPLAY: path.join(FIXTURES, 'acp-gemini', `${name}.jsonl`), ...extra });

    it('with the default settings the agent creates a file in the workspace (permission asked and allowed, write served by the client)', async () => {
      const sink = new MemorySink();
      const { events, result } = await collect(new AcpBackend({ path: fake('acp-agent'), killGraceMs: 500 }).start({ prompt: 'Read README.md and write hello.txt', cwd: ws.dir, env: replay('success'), sink }));
      assert.equal(result.outcome, 'succeeded', result.reason);
      assert.equal(readFileSync(path.join(ws.dir, 'hello.txt'), 'utf8'), 'hello from the mock model\n');
      const seen = JSON.parse(readFileSync(ws.argsFile, 'utf8')) as { clientCapabilities: { fs: { readTextFile: boolean; writeTextFile: boolean } } };
      assert.deepEqual(seen.clientCapabilities.fs, { readTextFile: false, writeTextFile: true });
      assert.deepEqual(ofKind(events, 'permission').map((p) => [p.title, p.decision]), [['Writing to hello.txt', 'allowed']]);
      assert.ok(sink.entries.some((e) => e.stream === 'stdout' && e.line.includes('"method":"fs/write_text_file"')));
      assert.ok(ofKind(events, 'fileEdited').every((f) => f.change === 'add'));
      assert.equal(result.text, 'Done: I read README.md and wrote hello.txt.');
      assert.equal(result.failedToolCalls, undefined);
      assert.deepEqual(result.usage, { inputTokens: 360, outputTokens: 90, cachedTokens: 0 });
      assert.deepEqual([result.reportedModel, result.agentVersion, result.requestedModel], ['gemini-3.1-pro-preview', '0.61.0', undefined]);
    });

    it('why the old default failed: with client reads on, Gemini 0.61 cannot create a file, and the call is now counted as failed', async () => {
      const backend = new AcpBackend({ path: fake('acp-agent'), killGraceMs: 500, clientFileReads: true });
      const { result } = await collect(backend.start({ prompt: 'Read README.md and write hello.txt', cwd: ws.dir, env: replay('success') }));
      assert.equal(result.outcome, 'succeeded');
      assert.equal(existsSync(path.join(ws.dir, 'hello.txt')), false);
      assert.equal(result.failedToolCalls?.length, 1);
      assert.match(result.failedToolCalls?.[0]?.reason ?? '', /Error checking existing file: Resource not found/);
    });

    it('a rejected permission: nothing written, the call counted and named, the run still ends as the agent says', async () => {
      const backend = new AcpBackend({ path: fake('acp-agent'), killGraceMs: 500, permissionPolicy: rejectAllPolicy });
      const { result } = await collect(backend.start({ prompt: 'Read README.md and write hello.txt', cwd: ws.dir, env: replay('success') }));
      assert.equal(result.outcome, 'succeeded');
      assert.equal(existsSync(path.join(ws.dir, 'hello.txt')), false);
      assert.deepEqual(result.failedToolCalls?.map((f) => [f.name, f.reason]), [['Writing to hello.txt', 'permission rejected']]);
    });

    it('a write outside the workspace is refused (by Gemini itself); the failure is named and the answer is the last message only', async () => {
      const { result } = await collect(new AcpBackend({ path: fake('acp-agent'), killGraceMs: 500 }).start({ prompt: 'x', cwd: ws.dir, env: replay('refused') }));
      assert.equal(result.outcome, 'succeeded');
      assert.equal(existsSync(path.join(ws.dir, '..', 'outside.txt')), false);
      assert.equal(result.text, 'I could not write outside.txt: the write was refused.');
      assert.deepEqual(result.failedToolCalls?.map((f) => f.name), ['write_file']);
      assert.match(result.failedToolCalls?.[0]?.reason ?? '', /^Path not in workspace/);
    });

    it('a model asked for but not settable over ACP is recorded as requested, with a warning', async () => {
      const { events, result } = await collect(new AcpBackend({ path: fake('acp-agent'), killGraceMs: 500 }).start({ prompt: 'x', model: 'gemini-2.5-pro', cwd: ws.dir, env: replay('success') }));
      assert.equal(result.requestedModel, 'gemini-2.5-pro');
      assert.ok(ofKind(events, 'diagnostic').some((d) => /requested model "gemini-2\.5-pro" was not passed on/.test(d.message)));
    });
  });

  it('cancel sends session/cancel, then kills the agent tree', async () => {
    const controller = new AbortController();
    const backend = new AcpBackend({ path: fake('acp-agent'), killGraceMs: 300 });
    const run = backend.start({ prompt: 'hang', cwd: ws.dir, env: fakeEnv(ws, { FAKE_SCENARIO: 'hang' }), signal: controller.signal });
    const pids = await waitForPids(ws);
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    const { result } = await collect(run);
    assert.equal(result.outcome, 'cancelled');
    assert.ok(await allDead([pids.pid, pids.grandchild]));
  });

  it('timeout ends a hanging agent as timedOut', async () => {
    // Long enough for the fake to start and write its pids on a loaded machine: the
    // timeout must catch the agent hanging, not still starting.
    const backend = new AcpBackend({ path: fake('acp-agent'), killGraceMs: 300, timeoutMs: 4000 });
    const { result } = await collect(backend.start({ prompt: 'hang', cwd: ws.dir, env: fakeEnv(ws, { FAKE_SCENARIO: 'hang' }) }));
    assert.equal(result.outcome, 'timedOut');
    const pids = await waitForPids(ws);
    assert.ok(await allDead([pids.pid, pids.grandchild]));
  });

  it('a missing agent is a clear error naming the setting', async () => {
    const { result } = await collect(new AcpBackend({ path: 'no-such-acp-agent' }).start({ prompt: 'x', cwd: ws.dir, env: fakeEnv(ws) }));
    assert.equal(result.outcome, 'failed');
    assert.match(result.reason ?? '', /"no-such-acp-agent" was not found.*factory\.backends\.acp\.path/);
  });
});
