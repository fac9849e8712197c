// The demo in a real VS Code (the workspace `npm run demo` opens): a newcomer presses
// Run Next Stage with no agent installed and no setting made, and the stage runs live
// with the offline demo agent committed in the sample, passes its tests, hands off to
// test and then to review; the attempt's transcript shows what the agent did.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { browser, eventually, runConfig } from './support/driver';
import { cockpitApi, snapshotWhere } from './support/cockpit';

describe('Demo: Run Next Stage with the offline demo agent', function () {
  this.timeout(300_000);
  const config = runConfig();
  const { mainChangeId } = config.sample;

  it('runs implement → test → handoff live, and the transcript shows the demo agent', async () => {
    const api = await cockpitApi();
    await snapshotWhere(api, (s) => s.current?.id === mainChangeId && s.current.activeStageId === 'implement' && s.current.stages[1]?.status !== 'running', 'the sample change, implement ready to run', 30_000);
    await vscode.commands.executeCommand('factory.showStages');
    // Press it as a person does: the command palette.
    await browser.press('F1');
    await browser.waitFor('.quick-input-widget .quick-input-box input', 20_000);
    await browser.type('Factory: Run Next Stage');
    await eventually(async () => (await browser.texts('.quick-input-widget .quick-input-list .monaco-list-row')).some((t) => t.includes('Run Next Stage')), 'the command in the palette');
    await browser.press('Enter');
    await snapshotWhere(api, (s) => s.current?.stages[1]?.status === 'running', 'implement running', 60_000);
    const done = await snapshotWhere(api, (s) => s.current?.stages[2]?.status === 'passed' && s.current.stages[3]?.status === 'running', 'implement and test to pass and review to wait', 180_000);
    const implement = done.current!.stages[1]!;
    assert.equal(implement.status, 'passed');
    const attempt = implement.attempts.at(-1)!;
    assert.equal(attempt.backend, 'command');
    assert.equal(attempt.outcome, 'succeeded');
    assert.ok(attempt.transcript, 'the transcript is kept as evidence');
    assert.equal(spawnSync('node', ['--test'], { cwd: config.workspace }).status, 0, "the sample's tests pass");
    await vscode.commands.executeCommand('factory.showTranscript', { changeId: mainChangeId, attemptId: attempt.id });
    await eventually(async () => (await browser.frameTexts('factory-transcript .entry.text')).some((t) => t.includes('[demo agent] implement')), 'the demo agent in the transcript', 30_000);
    await browser.screenshot('demo-transcript');
    assert.ok(existsSync(join(config.workspace, 'src', 'reset.js')), 'the agent really edited files');
  });

  it("opens a Flow Dashboard with the team's history from the teammates' branches", async () => {
    const team = config.sample.teamChanges ?? 0;
    assert.ok(team >= 40, `the demo's workspace has a team history (${team} changes)`);
    await vscode.commands.executeCommand('factory.openFlowDashboard');
    // Every change: the team's (read through git objects) and the sample's own two.
    const drawn = async () => Number(/data-changes="(\d+)"/.exec(String((await browser.frameEval('factory-dashboard[data-changes]', 'outerHTML'))[0] ?? ''))?.[1] ?? 0);
    await eventually(async () => (await drawn()) >= team + 2, `the dashboard to count the team's ${team} changes and the sample's 2`, 120_000);
    await browser.screenshot('demo-dashboard');
  });
});
