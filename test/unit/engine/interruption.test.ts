// The factory records as interrupted the attempts whose runner is gone, asking the rule
// (engine/interruption.ts) before it builds the stage engine: another machine's attempt
// and a live runner's are left alone; a dead runner here, or none named, is interrupted.
import * as assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { createFactory } from '../../../src/engine/factory';
import { tempWorkspace } from '../store/helpers';
import { writeChange } from '../store/plainRecord';

describe('engine: interrupted attempts', () => {
  let ws: ReturnType<typeof tempWorkspace>;
  beforeEach(() => (ws = tempWorkspace('interrupted')));
  afterEach(() => ws.cleanup());

  it('records only the attempts whose runner on this machine is gone, or that name none', async () => {
    const alive = new Set([111]);
    const factory = createFactory({ root: ws.dir, settings: { get: () => undefined }, secrets: { get: async () => undefined }, trust: { isTrusted: () => true }, isAlive: (pid) => alive.has(pid) });
    await factory.store.loadPipeline();
    const started = (attemptId: string, runner?: { pid: number; host: string }) => [{ type: 'attempt.started', data: { stageId: 'plan', attemptId, backend: 'codex', ...(runner ? { runner } : {}) } }];
    writeChange(ws.dir, 'elsewhere', 'Elsewhere', started('01JB0000000000000000000001', { pid: 222, host: `not-${hostname()}` }));
    writeChange(ws.dir, 'live-here', 'Live here', started('01JB0000000000000000000002', { pid: 111, host: hostname() }));
    for (const id of ['elsewhere', 'live-here']) {
      await factory.setCurrent(id);
      assert.deepEqual(await factory.recoverInterrupted(), [], `${id}: still running as far as this machine can tell`);
    }
    writeChange(ws.dir, 'dead-here', 'Dead here', started('01JB0000000000000000000003', { pid: 333, host: hostname() }));
    writeChange(ws.dir, 'no-runner', 'No runner', started('01JB0000000000000000000004'));
    await factory.setCurrent('dead-here');
    const recovered = await factory.recoverInterrupted();
    assert.deepEqual(recovered.map((r) => r.changeId).sort(), ['dead-here', 'no-runner'], 'the current change read in full, the other from the summary index');
    const outcomes: Record<string, string | undefined> = { 'dead-here': 'interrupted', 'no-runner': 'interrupted', elsewhere: undefined, 'live-here': undefined };
    for (const [id, outcome] of Object.entries(outcomes)) assert.equal((await factory.change(id)).stages[0]!.attempts[0]!.outcome, outcome, id);
  });
});
