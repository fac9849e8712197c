// A new user's first minutes, in a real VS Code on a git repository with no record:
// the Factory view welcomes them, its Start change button asks three questions, and the
// cockpit writes `.factory/` (pipeline, .gitignore, the first event) on a new branch
// and shows the change's stages. Everything is done through the rendered workbench.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { answerQuickInput, browser, eventually, runConfig } from './support/driver';
import { cockpitApi, EXTENSION_ID, snapshotWhere } from './support/cockpit';

const SIDEBAR = '.part.sidebar';

describe('First run on a repository with no record', () => {
  const config = runConfig();
  const factory = join(config.workspace, '.factory');

  it('activates without loading the workbench, and a command that needs the engine loads it on first use', async () => {
    const api = await cockpitApi();
    assert.deepEqual(api.loaded!(), { loaded: false }, 'activation registered the views and commands and loaded nothing else');
    const manifest = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { contributes: { commands: { command: string }[] } };
    const contributed = manifest.contributes.commands.map((c) => c.command);
    const before = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(contributed.filter((id) => !before.has(id)), [], 'every contributed command answers from activation on');

    // Refresh needs the engine (it reads the record): the first use loads the workbench and runs it.
    await vscode.commands.executeCommand('factory.refresh');
    assert.deepEqual(api.loaded!(), { loaded: true, reason: 'command factory.refresh' });
    const s = await snapshotWhere(api, (x) => x.ready, 'the record read by the first command');
    assert.equal(s.isRepository, true, 'the engine asked git');
    assert.equal(s.current, undefined);
    // The workbench's own commands replaced the placeholders: all of them, none missing.
    const after = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(contributed.filter((id) => !after.has(id)), [], 'every contributed command is registered by the workbench');
    assert.equal(existsSync(factory), false, 'reading writes nothing');
  });

  it('welcomes the user in the Factory view and has written nothing yet', async () => {
    assert.equal(existsSync(factory), false, 'the sample repository starts without .factory/');
    await browser.click('.activitybar [aria-label^="Factory"]');
    const texts = await eventually(async () => {
      const found = await browser.texts(`${SIDEBAR} .welcome-view-content`);
      return found.some((t) => t.includes('No change is in progress')) ? found : undefined;
    }, 'the welcome view', 30_000);
    assert.ok(texts.some((t) => t.includes('Start change') && t.includes('Switch change')), `buttons in ${JSON.stringify(texts)}`);
    await browser.screenshot('first-run-welcome');
    // Opening the view reads the record; it must not create one.
    assert.equal(existsSync(factory), false, 'looking writes nothing');
  });

  it('starts the first change from the welcome button, on a new branch, and shows its stages', async () => {
    const api = await cockpitApi();
    await browser.click(`${SIDEBAR} .welcome-view-content a:has-text("Start change")`);
    await answerQuickInput('Add a health check endpoint');
    await eventually(async () => (await browser.texts('.quick-input-widget .quick-input-message')).some((t) => /optional/.test(t)), 'the ticket box');
    await answerQuickInput('OPS-12');
    await eventually(async () => (await browser.texts('.quick-input-widget .quick-input-list')).some((t) => t.includes('Create a new branch')), 'the branch pick');
    await answerQuickInput('Create a new branch');

    const s = await snapshotWhere(api, (x) => x.current?.title === 'Add a health check endpoint', 'the first change to become current', 30_000);
    const change = s.current!;
    assert.equal(change.ticket, 'OPS-12');
    assert.equal(change.branch, `factory/${change.id}`);
    assert.deepEqual(change.stages.map((st) => st.id), ['plan', 'implement', 'test', 'review', 'qa']);
    assert.ok(change.stages.every((st) => st.status === 'pending'));
    // The record a teammate would get through git: the default pipeline, the ignore
    // policy for derived files, and one event file for the new change.
    assert.ok(existsSync(join(factory, 'pipeline.json')), 'pipeline.json written on first use');
    assert.ok(existsSync(join(factory, '.gitignore')), '.factory/.gitignore written on first use');
    assert.equal(readdirSync(join(factory, 'changes', change.id, 'events')).length, 1);
    const branch = execFileSync('git', ['branch', '--show-current'], { cwd: config.workspace, encoding: 'utf8' }).trim();
    assert.equal(branch, change.branch, 'the new branch is checked out');

    await eventually(async () => {
      const labels = (await browser.attributes(`${SIDEBAR} .monaco-list-row`, 'aria-label')).filter(Boolean) as string[];
      return labels.some((l) => l.startsWith('Plan, pending')) && labels.some((l) => l.includes('Add a health check endpoint')) ? labels : undefined;
    }, 'the change and its stages in the tree');
    assert.equal((await browser.texts(`${SIDEBAR} .welcome-view-content`)).filter((t) => t.includes('No change is in progress')).length, 0, 'the welcome is gone');
    assert.match(api.statusBarText(), /Add a health check endpoint · Plan/);
    await vscode.commands.executeCommand('factory.showStages');
    await browser.screenshot('first-run-started');
  });
});
