// The real Claude Code CLI (installed from npm by scripts/setup-agents.sh) runs a stage
// from the Stages view against a local mock of the model API: the attempt row shows
// the backend and the model, the transcript's file link opens the attempt's own diff,
// Stop mid-run leaves the stage not passed, and a person-owned stage shows what the
// person is asked to do — never an agent transcript. Screenshots saved.
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { browser, eventually, runConfig } from './support/driver';
import { cockpitApi, snapshotWhere } from './support/cockpit';

const config = runConfig();
const ws = config.workspace;
const CLAUDE = join(process.env.FACTORY_AGENTS_CACHE ?? join(homedir(), '.cache', 'factory-cockpit-agents'), 'claude-code-2.1.332', 'node_modules', '@anthropic-ai', 'claude-code-linux-x64', 'claude');
const ROWS = '.part.sidebar .monaco-list-row';

describe('A real agent CLI runs a stage from the editor', function () {
  this.timeout(300_000);
  const scratch = mkdtempSync(join(tmpdir(), 'fc-real-agent-'));
  const holdFile = join(scratch, 'hold');
  const saved: Record<string, string | undefined> = {};
  let mock: ChildProcess | undefined;
  let changeId = '';

  before(async () => {
    assert.ok(existsSync(CLAUDE), `Claude Code is not installed at ${CLAUDE}: run scripts/setup-agents.sh`);
    mock = spawn(process.execPath, [join(config.repo, 'test', 'fixtures', 'agents', 'mock-model-server.mjs')], {
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', MOCK_WORKDIR: ws, MOCK_HOLD_FILE: holdFile, MOCK_LOG: join(scratch, 'mock.log') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const port = await new Promise<string>((resolve, reject) => {
      mock!.stdout!.on('data', (d: Buffer) => {
        const m = /PORT (\d+)/.exec(d.toString());
        if (m) resolve(m[1]!);
      });
      mock!.on('exit', (code) => reject(new Error(`the mock model exited (${code})`)));
    });
    // What the agent's process gets: the mock as its API, and a HOME of its own (it writes state there).
    const env = { ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}`, ANTHROPIC_API_KEY: 'mock-key-0123456789', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', HOME: join(scratch, 'home') };
    for (const [key, value] of Object.entries(env)) {
      saved[key] = process.env[key];
      process.env[key] = value;
    }
    // Only the path is set: every other backend setting is the default a user gets.
    await vscode.workspace.getConfiguration('factory.backends').update('claude-code.path', CLAUDE, vscode.ConfigurationTarget.Global);
    writeFileSync(
      join(ws, '.factory', 'pipeline.json'),
      JSON.stringify(
        {
          version: 1,
          stages: [
            { id: 'implement', title: 'Implement', owner: { backend: 'claude-code', model: 'claude-sonnet-4-5' }, prompt: 'Read README.md, then write hello.txt.\n\n{{context}}\n\n{{failures}}', verification: [{ id: 'hello', kind: 'fileExists', paths: ['hello.txt'] }], autonomy: 'approve' },
            { id: 'review', title: 'Review', owner: { backend: 'human', person: 'Rita' }, prompt: 'Check that hello.txt greets the reader.', verification: [{ id: 'approved', kind: 'humanApproval', approver: 'Rita' }], autonomy: 'approve' },
          ],
        },
        null,
        2,
      ),
    );
    const id = await vscode.commands.executeCommand<string>('factory.startChange', { title: 'Say hello', branch: 'none' });
    assert.ok(id);
    changeId = id;
    await snapshotWhere(await cockpitApi(), (s) => s.current?.id === changeId, 'the change current');
  });

  after(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    mock?.kill();
    await vscode.workspace.getConfiguration('factory.backends').update('claude-code.path', undefined, vscode.ConfigurationTarget.Global);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('runs from the tree: the attempt row shows the backend and the model, and the file link opens the attempt\'s own diff', async () => {
    const api = await cockpitApi();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand('factory.showStages');
    const implementRow = `${ROWS}:visible[aria-label^="Implement,"]`;
    await eventually(async () => {
      await browser.click(implementRow, 3_000);
      await browser.click(`${implementRow} .action-label[aria-label="Run Stage"]`, 3_000);
      return true;
    }, 'the inline Run Stage action clicked', 30_000);
    const s = await snapshotWhere(api, (x) => x.current?.id === changeId && x.current.stages[0]?.status === 'needsApproval', 'the real agent wrote hello.txt and the stage waits for approval', 180_000);
    const attempt = s.current!.stages[0]!.attempts[0]!;
    assert.equal(attempt.backend, 'claude-code');
    assert.equal(attempt.model, 'claude-sonnet-4-5');
    assert.ok(attempt.reportedModel, 'the model the agent itself reported');
    assert.ok(attempt.agentVersion?.includes('2.1.332'), `the agent's version: ${attempt.agentVersion}`);
    assert.ok(existsSync(join(ws, 'hello.txt')));
    const rowText = await eventually(async () => {
      // Expanded the way a person does: select the stage row, then the right arrow.
      await browser.click(implementRow, 3_000);
      await browser.press('ArrowRight');
      const texts = await browser.texts(`${ROWS}:visible:has-text("Attempt 1")`);
      // The row re-renders a moment after the snapshot: wait for the finished attempt.
      return texts.find((t) => t.includes('claude-code (claude-sonnet-4-5') && t.includes('succeeded'));
    }, 'the attempt row with backend, model and its outcome', 30_000);
    assert.doesNotMatch(rowText, /running/, rowText);
    await browser.screenshot('real-agent-attempt-row');

    await vscode.commands.executeCommand('factory.showTranscript', { changeId, attemptId: attempt.id });
    await eventually(async () => (await browser.frameTexts('factory-transcript .entry.file')).some((t) => t.includes('hello.txt')), 'the file edit in the transcript', 30_000);
    await browser.frameClick('factory-transcript .entry.file button.link');
    const tab = await eventually(() => {
      const active = vscode.window.tabGroups.activeTabGroup.activeTab;
      return active?.input instanceof vscode.TabInputTextDiff ? active.input : undefined;
    }, 'the attempt diff');
    assert.equal(tab.modified.scheme, 'factory-tree', 'the end of the attempt, read from git objects');
    assert.equal((await vscode.workspace.openTextDocument(tab.original)).getText(), '', 'hello.txt did not exist when the attempt started');
    assert.equal((await vscode.workspace.openTextDocument(tab.modified)).getText(), readFileSync(join(ws, 'hello.txt'), 'utf8'));
    await browser.screenshot('real-agent-attempt-diff');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it("a person's stage shows what they are asked to do, not an agent transcript", async () => {
    const api = await cockpitApi();
    await vscode.commands.executeCommand('factory.approveStage', { changeId, stageId: 'implement' });
    await vscode.commands.executeCommand('factory.runStage', { changeId, stageId: 'review' });
    await snapshotWhere(api, (x) => x.current?.stages[1]?.status === 'running', 'the review waiting for Rita');
    await vscode.commands.executeCommand('factory.showStages');
    const personRow = `${ROWS}:visible:has-text("Rita's work")`;
    await eventually(async () => {
      await browser.click(`${ROWS}:visible[aria-label^="Review,"]`, 3_000);
      await browser.press('ArrowRight');
      await browser.click(personRow, 3_000);
      return vscode.window.activeTextEditor?.document.uri.scheme === 'factory-task';
    }, "the person's task page opened from their row", 30_000);
    const text = vscode.window.activeTextEditor!.document.getText();
    assert.match(text, /## What you are asked to do\n\nCheck that hello\.txt greets the reader\./);
    assert.match(text, /an approval by Rita/);
    assert.match(text, /State: waiting for Rita\./);
    const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((t) => t.label);
    assert.ok(!tabs.some((t) => t.startsWith('Transcript: Review')), `no agent transcript opened for a person's work: ${JSON.stringify(tabs)}`);
    assert.match((await browser.texts(personRow)).join(' '), /waiting for Rita/);
    await browser.screenshot('person-stage-task');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('Stop mid-run leaves the stage not passed, with its earlier handoff in the history', async () => {
    const api = await cockpitApi();
    writeFileSync(holdFile, 'hold');
    const retry = vscode.commands.executeCommand('factory.retryStage', { changeId, stageId: 'implement' });
    await snapshotWhere(api, (x) => x.current?.stages[0]?.status === 'running', 'the retry running', 60_000);
    await eventually(() => existsSync(join(scratch, 'mock.log')) && readFileSync(join(scratch, 'mock.log'), 'utf8').split('\n').filter(Boolean).length >= 3, 'the agent talking to the model');
    await vscode.commands.executeCommand('factory.stopStage', { changeId, stageId: 'implement' });
    await retry;
    rmSync(holdFile, { force: true });
    const s = await snapshotWhere(api, (x) => x.current?.stages[0]?.status !== 'running', 'the stopped attempt recorded', 60_000);
    const implement = s.current!.stages[0]!;
    assert.notEqual(implement.status, 'passed', 'a stage stopped half-way is not passed');
    assert.equal(implement.attempts.at(-1)!.outcome, 'cancelled');
    assert.equal(implement.attempts.length, 2, 'the earlier, handed-off attempt is still in the history');
    assert.match(api.statusBarText(), /Implement/, 'the status bar moved back to it');
    await browser.screenshot('real-agent-stopped');
  });
});
