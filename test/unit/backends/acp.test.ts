// The ACP client against a real ACP agent subprocess built with the SDK's agent side.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AcpBackend, rejectAllPolicy, type PermissionRequestInfo } from '../../../src/backends/acp';
import { filesReadBy } from '../../../src/core/agentEvents';
import { allDead, collect, fake, fakeEnv, MemorySink, ofKind, tempWorkspace, waitForPids, type Workspace } from './helpers';

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
    assert.deepEqual(result.usage, { costUsd: 0.0123, costSource: 'agent' });
    // The JSON-RPC exchange is the transcript, both directions, redacted.
    assert.ok(sink.entries.some((e) => e.stream === 'stdin' && e.line.includes('"method":"initialize"')));
    assert.ok(sink.entries.some((e) => e.stream === 'stdout' && e.line.includes('agent_message_chunk')));
    assert.ok(!sink.text().includes(secret));
    const pids = await waitForPids(ws);
    assert.ok(await allDead([pids.pid, pids.grandchild]));
  });

  it('a rejecting policy keeps the agent from writing', async () => {
    const backend = new AcpBackend({ path: fake('acp-agent'), killGraceMs: 500, permissionPolicy: rejectAllPolicy });
    const { events, result } = await collect(backend.start({ prompt: 'Write hello.txt', cwd: ws.dir, env: fakeEnv(ws) }));
    assert.equal(result.outcome, 'succeeded');
    assert.equal(existsSync(path.join(ws.dir, 'hello.txt')), false);
    assert.deepEqual(ofKind(events, 'permission').map((p) => p.decision), ['rejected']);
    assert.equal(ofKind(events, 'toolFinished').find((t) => t.id === 'call-write')?.status, 'failed');
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
    const backend = new AcpBackend({ path: fake('acp-agent'), killGraceMs: 300, timeoutMs: 800 });
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
