// Workspace Trust and verification: in an untrusted workspace no verification command
// starts — not from the Verify commands, not from the Testing view — and each says why.
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { browser, eventually, runConfig } from './support/driver';
import { cockpitApi, snapshotWhere } from './support/cockpit';

describe('Untrusted workspace: verification', () => {
  const config = runConfig();
  const ws = config.workspace;
  const marker = join(ws, 'verification-ran.txt');
  const eventCount = (changeId: string) => readdirSync(join(ws, '.factory', 'changes', changeId, 'events')).length;

  before(async () => {
    // A cloned repository's pipeline whose criterion would leave a mark if it ever ran.
    const pipelineFile = join(ws, '.factory', 'pipeline.json');
    const pipeline = JSON.parse(readFileSync(pipelineFile, 'utf8')) as { stages: { id: string; verification?: unknown[] }[] };
    for (const stage of pipeline.stages) {
      stage.verification = [{ id: 'marks', kind: 'command', argv: [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran')`] }];
    }
    writeFileSync(pipelineFile, JSON.stringify(pipeline, null, 2));
    const api = await cockpitApi();
    await vscode.commands.executeCommand('factory.refresh');
    await snapshotWhere(api, (s) => s.current !== undefined && s.pipeline?.stages[0]?.verification[0]?.id === 'marks', 'the pipeline with the marking criterion');
  });

  it('Verify Change and Verify Stage refuse, say why, and spawn nothing', async () => {
    assert.equal(vscode.workspace.isTrusted, false, 'this suite starts untrusted');
    const api = await cockpitApi();
    const change = api.snapshot().current!;
    const before = eventCount(change.id);
    const refused = await vscode.commands.executeCommand<{ refused?: string }>('factory.verifyChange');
    assert.match(refused?.refused ?? '', /not trusted: Factory Cockpit does not run verification commands here/);
    const refusedStage = await vscode.commands.executeCommand<{ refused?: string }>('factory.verifyStage', 'plan');
    assert.match(refusedStage?.refused ?? '', /not trusted/);
    await vscode.commands.executeCommand('notifications.showList');
    await eventually(
      async () => (await browser.texts('.notifications-list-container .notification-list-item')).some((t) => /Verify Change did not run\. This workspace is not trusted/.test(t) && t.includes('Manage Workspace Trust')),
      'the not-trusted message with a way to manage trust',
    );
    await browser.screenshot('untrusted-verification');
    await vscode.commands.executeCommand('notifications.clearAll');
    await vscode.commands.executeCommand('notifications.hideList');
    assert.equal(existsSync(marker), false, 'the criterion never ran');
    assert.equal(eventCount(change.id), before, 'nothing was recorded');
  });

  it('a run from the Testing view starts nothing', async () => {
    const api = await cockpitApi();
    const change = api.snapshot().current!;
    const before = eventCount(change.id);
    // The workbench holds any test run until the folder is trusted (its run stays pending);
    // the controller's own refusal stands behind that. Either way nothing starts.
    void vscode.commands.executeCommand('testing.runAll');
    await new Promise((r) => setTimeout(r, 3000));
    await browser.screenshot('untrusted-testing-run');
    assert.equal(existsSync(marker), false, 'the criterion never ran');
    assert.equal(eventCount(change.id), before, 'nothing was recorded');
  });

  it('Verify Evidence still works: it only reads and hashes files', async () => {
    const result = await vscode.commands.executeCommand<{ checked: number; mismatches: unknown[] }>('factory.verifyEvidence');
    assert.ok(result, 'the command ran');
    assert.deepEqual(result.mismatches, []);
  });
});
