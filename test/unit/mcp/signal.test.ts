import { strict as assert } from 'node:assert';
import { ulid } from 'ulid';
import { defaultPipeline } from '../../../src/core/pipeline';
import { checkAttemptsContext } from '../../../src/core/signal';
import { makeWorkspace, type Workspace } from '../context/helpers';

// An agent that fetched the handed-forward pack through the factory's MCP server
// consumed it, even when its attempt started on another version.
describe('mcp: the signal learns from context.fetched', () => {
  let ws: Workspace;
  const stageOrder = defaultPipeline().stages.map((s) => s.id);

  beforeEach(async () => {
    ws = await makeWorkspace({ 'src/a.ts': 'a\n', 'src/b.ts': 'b\n' });
  });
  afterEach(() => ws.cleanup());

  async function setup(): Promise<{ handed: string; attemptId: string; startedOn: string }> {
    await ws.packs.addFileItem('c1', { path: 'src/a.ts' });
    const planAttempt = ulid();
    const v1 = (await ws.packs.load('c1')).version;
    await ws.records.append('c1', { type: 'attempt.started', data: { stageId: 'plan', attemptId: planAttempt, backend: 'claude-code', contextVersion: v1 } });
    await ws.records.append('c1', { type: 'verification.recorded', data: { stageId: 'plan', criterionId: 'x', outcome: 'passed', required: true } });
    await ws.records.append('c1', { type: 'handoff.recorded', data: { fromStage: 'plan', contextVersion: v1 } });
    await ws.packs.addFileItem('c1', { path: 'src/b.ts' });
    const startedOn = (await ws.packs.load('c1')).version;
    const attemptId = ulid();
    await ws.records.append('c1', { type: 'attempt.started', data: { stageId: 'implement', attemptId, backend: 'claude-code', contextVersion: startedOn } });
    return { handed: v1, attemptId, startedOn };
  }

  it('an attempt that fetched the handed-forward version through the server did not re-create context', async () => {
    const { handed, attemptId } = await setup();
    await ws.records.append('c1', { type: 'context.fetched', by: { name: 'claude-code' }, data: { attemptId, stageId: 'implement', contextVersion: handed, what: 'handoff', tool: 'get_handoff' } });
    const check = checkAttemptsContext((await ws.records.readChange('c1')).events, stageOrder).find((c) => c.attemptId === attemptId)!;
    assert.equal(check.recreated, false, check.reason);
    assert.match(check.reason, /MCP server/);
  });

  it('a fetch of another version, or by another attempt, does not count', async () => {
    const { attemptId, startedOn } = await setup();
    await ws.records.append('c1', { type: 'context.fetched', data: { attemptId, contextVersion: startedOn, what: 'pack' } });
    await ws.records.append('c1', { type: 'context.fetched', data: { attemptId: ulid(), contextVersion: 'other', what: 'pack' } });
    const check = checkAttemptsContext((await ws.records.readChange('c1')).events, stageOrder).find((c) => c.attemptId === attemptId)!;
    assert.equal(check.recreated, true);
  });

  it('an older reader keeps the new events (known types, loose payloads)', async () => {
    const { attemptId } = await setup();
    await ws.records.append('c1', { type: 'attempt.noted', by: { name: 'codex' }, data: { attemptId, kind: 'progress', text: 'half way', future: 1 } as never });
    const events = (await ws.records.readChange('c1')).events;
    const noted = events.find((e) => e.type === 'attempt.noted')!;
    assert.equal((noted.data as { future?: number }).future, 1);
    assert.equal(noted.by?.name, 'codex');
  });
});
