// A vscode.lm run lives in the window (it cannot be handed to a detached runner): when
// the window closes, deactivate() stops it through stopRunsLivingHere and the record
// says stopped (cancelled, by whom), which the next window's read leaves alone. Without
// that (the extension host died first), the next read records it as interrupted.
// Engine level, with an injected LanguageModels port: a host test would need a chat
// model provider registered in VS Code, which no test registers.
import * as assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LanguageModelPort } from '../../../src/backends/vscodeLm';
import { createFactory, type Factory } from '../../../src/engine/factory';
import { stopRunsLivingHere } from '../../../src/engine/windowClose';
import { sandbox, waitFor, type Sandbox } from '../cli/helpers';

/** A model that says one thing, then waits until it is cancelled. */
const hangingModel: LanguageModelPort = {
  selectChatModels: async () => [
    {
      id: 'fake-model',
      vendor: 'test',
      family: 'fake',
      name: 'Fake model',
      sendUserPrompt: async (_prompt, token) => ({
        text: (async function* () {
          yield 'Thinking about it…';
          await new Promise<void>((resolve) => token.onCancellationRequested(resolve));
        })(),
      }),
      countTokens: async (text) => Math.ceil(text.length / 4),
    },
  ],
};

/** A window's factory: its own pid stands for the extension host that runs the model. */
function windowFactory(b: Sandbox, hostAlive: () => boolean): Factory {
  return createFactory({
    root: b.dir,
    settings: { get: () => undefined },
    secrets: { get: async () => undefined },
    trust: { isTrusted: () => true },
    languageModels: hangingModel,
    isAlive: hostAlive,
  });
}

async function startLmRun(b: Sandbox): Promise<{ factory: Factory; changeId: string; run: Promise<unknown> }> {
  mkdirSync(join(b.dir, '.factory'), { recursive: true });
  writeFileSync(join(b.dir, '.factory', 'pipeline.json'), JSON.stringify({ version: 1, stages: [{ id: 'draft', title: 'Draft', owner: { backend: 'vscode-lm' }, autonomy: 'approve' }] }));
  const factory = windowFactory(b, () => true);
  const change = await factory.startChange({ title: 'Drafted in the window', branchMode: 'none' });
  const run = factory.run({ changeId: change.id, stageId: 'draft' });
  await waitFor('the model to run in the window', async () => factory.isRunningHere(change.id) && (await factory.change(change.id)).stages[0]!.status === 'running');
  return { factory, changeId: change.id, run };
}

describe('engine: a run that lives in the window (vscode-lm) when the window closes', function () {
  this.timeout(60_000);
  const boxes: Sandbox[] = [];
  after(() => boxes.forEach((b) => b.cleanup()));

  it('is stopped and recorded as stopped, and the next window does not call it interrupted', async () => {
    const b = sandbox();
    boxes.push(b);
    const { factory, changeId, run } = await startLmRun(b);

    assert.deepEqual(await stopRunsLivingHere(factory), [changeId]);
    assert.equal(factory.isRunningHere(changeId), false, 'nothing of it runs any more');
    const report = (await run) as { stopped: string };
    assert.equal(report.stopped, 'cancelled');
    const attempt = (await factory.change(changeId)).stages[0]!.attempts[0]!;
    assert.equal(attempt.outcome, 'cancelled');
    assert.equal(attempt.backend, 'vscode-lm');

    // The next window: the old extension host is gone, and its stopped attempt stays stopped.
    const next = windowFactory(b, () => false);
    assert.deepEqual(await next.recoverInterrupted(), []);
    assert.equal((await next.change(changeId)).stages[0]!.attempts[0]!.outcome, 'cancelled');
  });

  it('when the extension host dies before it can stop the run, the next read records it as interrupted', async () => {
    const b = sandbox();
    boxes.push(b);
    const { factory, changeId, run } = await startLmRun(b);
    const attemptId = (await factory.change(changeId)).stages[0]!.attempts[0]!.id;

    const next = windowFactory(b, () => false);
    assert.deepEqual((await next.recoverInterrupted()).map((r) => r.attemptId), [attemptId]);
    assert.equal((await next.change(changeId)).stages[0]!.attempts[0]!.outcome, 'interrupted');
    // This process plays the dead host: end its model so the test leaves nothing running.
    await factory.stop(changeId);
    await run.catch(() => undefined);
  });
});
