// The walking skeleton in a real VS Code: activation on a generated sample
// repository, the Stages view, Start/Switch change, the status bar and a corrupt
// record file — checked through the API, the commands and the rendered workbench.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { foldChange } from '../../src/core/fold';
import { FileRecordStore } from '../../src/store/recordStore';
import { answerQuickInput, browser, eventually, runConfig, secondWindow } from './support/driver';
import { cockpitApi, EXTENSION_ID, snapshotWhere } from './support/cockpit';

const SIDEBAR_ROWS = '.part.sidebar .monaco-list-row';

describe('Stages view (walking skeleton)', () => {
  const config = runConfig();
  const { mainChangeId, otherChangeId } = config.sample;

  it('activates on the sample workspace and exposes its API', async () => {
    const api = await cockpitApi();
    assert.equal(api.apiVersion, 1);
    assert.equal(vscode.extensions.getExtension(EXTENSION_ID)?.isActive, true);
    const commands = await vscode.commands.getCommands(true);
    for (const id of ['factory.startChange', 'factory.switchChange', 'factory.refresh', 'factory.showStages']) assert.ok(commands.includes(id), `${id} is registered`);
  });

  it('shows the change bound to the checked-out branch with its stages, statuses and attempts', async () => {
    const api = await cockpitApi();
    const s = await snapshotWhere(api, (x) => x.current?.id === mainChangeId, 'the sample change to be current');
    const change = s.current!;
    assert.equal(change.title, 'Add password reset');
    assert.equal(change.branch, 'main');
    assert.deepEqual(
      change.stages.map((st) => [st.id, st.status, st.attempts.length]),
      [
        ['plan', 'passed', 1],
        ['implement', 'running', 2],
        ['test', 'pending', 0],
        ['review', 'pending', 0],
        ['qa', 'pending', 0],
      ],
    );
    assert.equal(change.stages[1]!.attempts[0]!.outcome, 'failed');
  });

  it('renders the stage rows a person sees in the Factory view', async () => {
    await vscode.commands.executeCommand('factory.showStages');
    const rows = await eventually(async () => {
      const labels = (await browser.attributes(SIDEBAR_ROWS, 'aria-label')).filter(Boolean) as string[];
      // Every stage drawn (a refresh can catch the tree half drawn).
      return labels.some((l) => l.startsWith('Implement')) && labels.some((l) => l.startsWith('QA')) ? labels : undefined;
    }, 'stage rows in the sidebar');
    assert.ok(rows.some((l) => l.includes('Add password reset')), `change row in ${JSON.stringify(rows)}`);
    assert.ok(rows.some((l) => /^Plan, passed, owner claude-code, 1 attempts/.test(l)), `plan row in ${JSON.stringify(rows)}`);
    assert.ok(rows.some((l) => /^Implement, running/.test(l)), 'implement row');
    assert.ok(rows.some((l) => /^Review, pending, owner reviewer \(person\)/.test(l)), 'review row owned by a person');
    // The running stage is expanded: its attempts are rows too (fetched once the stage row is drawn).
    await eventually(async () => (await browser.texts(SIDEBAR_ROWS)).some((t) => t.includes('Attempt 2')), 'the attempt rows under the running stage');
    const icons = await browser.attributes(`${SIDEBAR_ROWS} .codicon-sync`, 'class');
    assert.ok(icons.length > 0, 'the running stage shows a spinning sync icon');
    await browser.screenshot('stages-view');
  });

  it('shows the current change, active stage and verification in the status bar', async () => {
    const api = await cockpitApi();
    await snapshotWhere(api, (x) => x.current?.id === mainChangeId, 'the sample change');
    assert.match(api.statusBarText(), /Add password reset · Implement .*· not verified/);
    const items = await browser.attributes('.statusbar-item[id="factory-cockpit.factory-cockpit.factory.status"]', 'aria-label');
    assert.equal(items.length, 1, 'one Factory status bar item');
    assert.match(items[0] ?? '', /Factory change Add password reset, stage Implement/);
  });

  it('starts a change through the real input boxes and shows it at once', async () => {
    const api = await cockpitApi();
    const started = vscode.commands.executeCommand<string>('factory.startChange');
    await answerQuickInput('Typed in the browser');
    await eventually(async () => (await browser.texts('.quick-input-widget .quick-input-message')).some((t) => /optional/.test(t)), 'the second input box');
    await answerQuickInput('APP-77');
    await eventually(async () => (await browser.texts('.quick-input-widget .quick-input-list')).some((t) => t.includes('No branch')), 'the branch pick');
    await answerQuickInput('No branch');
    const id = await started;
    assert.ok(id, 'the command returns the new change id');
    const s = await snapshotWhere(api, (x) => x.current?.id === id, 'the new change to become current');
    assert.equal(s.current!.title, 'Typed in the browser');
    assert.equal(s.current!.ticket, 'APP-77');
    assert.equal(s.current!.branch, undefined);
    assert.deepEqual(s.current!.stages.map((st) => st.status), ['pending', 'pending', 'pending', 'pending', 'pending']);
    assert.equal(readdirSync(join(config.workspace, '.factory', 'changes', id!, 'events')).length, 1);
    await eventually(async () => (await browser.attributes(SIDEBAR_ROWS, 'aria-label')).some((l) => l?.includes('Typed in the browser')), 'the new change row');
    assert.match(api.statusBarText(), /Typed in the browser · Plan/);
  });

  it('starts a change from command arguments, bound to the current branch', async () => {
    const api = await cockpitApi();
    const id = await vscode.commands.executeCommand<string>('factory.startChange', { title: 'From arguments', description: 'Scripted', branch: 'bindCurrent' });
    const s = await snapshotWhere(api, (x) => x.current?.id === id, 'the scripted change');
    assert.equal(s.current!.branch, 'main');
    assert.equal(s.current!.description, 'Scripted');
    assert.ok(s.changes.length >= 4);
  });

  it('switches change, and follows a checkout of a branch bound to a change', async () => {
    const api = await cockpitApi();
    await vscode.commands.executeCommand('factory.switchChange', mainChangeId);
    await snapshotWhere(api, (x) => x.current?.id === mainChangeId, 'the switched-to change');
    execFileSync('git', ['checkout', '-q', 'fix/login-redirect'], { cwd: config.workspace });
    try {
      const s = await snapshotWhere(api, (x) => x.current?.id === otherChangeId, 'the change bound to fix/login-redirect', 20_000);
      assert.equal(s.branch, 'fix/login-redirect');
    } finally {
      execFileSync('git', ['checkout', '-q', 'main'], { cwd: config.workspace });
    }
    // Back on main, the newest open change bound to main is current again.
    const back = await snapshotWhere(api, (x) => x.branch === 'main' && x.current?.branch === 'main', 'back on main');
    assert.equal(back.current!.title, 'From arguments');
  });

  it('lists every change from the summary index, and rebuilds it when it is deleted', async () => {
    const api = await cockpitApi();
    // The derived index lives in the per-user cache, never in the repository.
    const index = new FileRecordStore(config.workspace).indexPath;
    assert.ok(!index.startsWith(config.workspace), `the index is outside the workspace: ${index}`);
    await api.refresh();
    assert.ok(existsSync(index), 'the cockpit wrote the derived index');
    const listed = (s: { changes: Array<{ id: string; stages: Array<{ status: string }> }> }) =>
      Object.fromEntries(s.changes.map((c) => [c.id, c.stages.map((st) => st.status).join(',')]));
    const before = listed(api.snapshot());
    // The non-current change shows the statuses a full fold of its events gives.
    const store = new FileRecordStore(config.workspace);
    const pipeline = (await store.loadPipeline()).pipeline!;
    const other = foldChange(otherChangeId, pipeline, (await store.readChange(otherChangeId)).events);
    assert.equal(before[otherChangeId], other.stages.map((st) => st.status).join(','));
    const listedOther = api.snapshot().changes.find((c) => c.id === otherChangeId);
    assert.deepEqual([listedOther?.title, listedOther?.ticket, listedOther?.branch], [other.title, other.ticket, other.branch], 'what the change pickers show');
    assert.ok(other.ticket, 'the sample change has a ticket to show');
    rmSync(index);
    const after = listed(await api.refresh());
    assert.deepEqual(after, before, 'deleting the index loses nothing');
    assert.ok(existsSync(index), 'the index was rebuilt');
  });

  it('reports a corrupt event file with its path and field, sets it aside, and still shows the rest', async () => {
    const api = await cockpitApi();
    await vscode.commands.executeCommand('factory.switchChange', mainChangeId);
    const events = join(config.workspace, '.factory', 'changes', mainChangeId, 'events');
    const bad = '01ZZZZZZZZZZZZZZZZZZZZZZZZ.json';
    writeFileSync(join(events, bad), JSON.stringify({ v: 1, id: bad.slice(0, 26), change: mainChangeId, type: 'attempt.started', at: '2026-11-20T10:00:00.000Z', data: { stageId: 'plan' } }));
    const broken = '01ZZZZZZZZZZZZZZZZZZZZZZZY.json';
    writeFileSync(join(events, broken), '{"v":1,"id":"01');
    await vscode.commands.executeCommand('factory.refresh');
    const s = await snapshotWhere(api, (x) => x.problems.some((p) => p.path.endsWith(bad) && p.quarantinedTo) && x.problems.some((p) => p.path.endsWith(broken)), 'both problems reported, the bad file set aside');
    const problem = s.problems.find((p) => p.path.endsWith(bad))!;
    assert.equal(problem.path, `.factory/changes/${mainChangeId}/events/${bad}`);
    assert.equal(problem.field, 'data.attemptId');
    assert.match(s.problems.find((p) => p.path.endsWith(broken))!.message, /not valid JSON/);
    // Set aside, never deleted; the change still folds from its good events.
    assert.equal(existsSync(join(events, bad)), false);
    assert.ok(existsSync(join(config.workspace, problem.quarantinedTo!)));
    assert.equal(s.current?.id, mainChangeId);
    assert.equal(s.current!.stages[0]!.status, 'passed');
    // A person sees the warning and the problem row next to the stages.
    await vscode.commands.executeCommand('notifications.showList');
    await eventually(async () => { const t = await browser.texts('.notification-list-item-message'); if (!t.some((x) => /record file failed validation and was set aside: \.factory\/changes\/.*moved aside to \.factory\/quarantine\//s.test(x))) throw new Error(JSON.stringify(t)); return true; }, 'the warning notification');
    await vscode.commands.executeCommand('notifications.hideList');
    // Both at once: a refresh re-renders the rows, so one read can catch it half drawn.
    await eventually(async () => {
      const texts = await browser.texts(SIDEBAR_ROWS);
      return texts.some((t) => t.includes(bad)) && texts.some((t) => t.startsWith('Plan'));
    }, 'the problem row next to the stages, which are still shown');
    await browser.screenshot('stages-with-problem');
  });

  it('checks the agent backends on this machine and says how to fix a missing one', async () => {
    const bin = join(config.workspace, '..', 'agent-bin');
    mkdirSync(bin, { recursive: true });
    const codex = join(bin, 'codex');
    writeFileSync(codex, '#!/bin/sh\necho "codex-cli 0.169.0"\n', { mode: 0o755 });
    const settings = vscode.workspace.getConfiguration('factory.backends');
    await settings.update('codex.path', codex, vscode.ConfigurationTarget.Global);
    // Missing for certain, even on a machine where claude is installed.
    await settings.update('claude-code.path', join(bin, 'claude-not-installed'), vscode.ConfigurationTarget.Global);
    try {
      const checked = vscode.commands.executeCommand<Array<{ id: string; available: boolean; version?: string; problem?: string }>>('factory.checkBackends');
      const rows = await eventually(async () => {
        const texts = await browser.texts('.quick-input-widget .quick-input-list .monaco-list-row');
        return texts.some((t) => t.includes('codex-cli 0.169.0')) ? texts : undefined;
      }, 'the backend rows in the quick pick');
      assert.ok(rows.some((t) => t.includes('Claude Code') && /factory\.backends\.claude-code\.path/.test(t)), `a missing Claude Code names its setting: ${JSON.stringify(rows)}`);
      await browser.screenshot('check-agent-backends');
      await browser.press('Escape');
      const checks = await checked;
      const byId = Object.fromEntries((checks ?? []).map((c) => [c.id, c]));
      assert.deepEqual([byId.codex?.available, byId.codex?.version], [true, 'codex-cli 0.169.0']);
      assert.equal(byId['claude-code']?.available, false);
      assert.match(byId['vscode-lm']?.problem ?? '', /no language model provider/);
    } finally {
      await settings.update('codex.path', undefined, vscode.ConfigurationTarget.Global);
      await settings.update('claude-code.path', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  it('shows a second window the same record, and what the first window records, without a reload', async () => {
    // The newest open change on this branch: what a window opened now shows as current.
    const id = await vscode.commands.executeCommand<string>('factory.startChange', { title: 'Seen from two windows', branch: 'bindCurrent' });
    assert.ok(id);
    await secondWindow.open();
    await secondWindow.click('.activitybar [aria-label^="Factory"]', 60_000);
    const labelsThere = async () => ((await secondWindow.attributes(SIDEBAR_ROWS, 'aria-label')).filter(Boolean) as string[]);
    await eventually(async () => {
      const labels = await labelsThere();
      return labels.some((l) => l.includes('Seen from two windows')) && labels.some((l) => /^Test, pending, owner claude-code/.test(l));
    }, 'the change and its stages in the second window', 60_000);

    // This window records a decision; the other one shows it from its own file watcher.
    const changed = vscode.commands.executeCommand('factory.changeOwner', { changeId: id, stageId: 'test' });
    await answerQuickInput('Codex');
    assert.deepEqual(await changed, { backend: 'codex' });
    const labels = await eventually(async () => {
      const found = await labelsThere();
      return found.some((l) => /^Test, pending, owner codex/.test(l)) ? found : undefined;
    }, 'the new owner in the second window', 30_000);
    assert.ok(labels.some((l) => l.includes('Seen from two windows')), JSON.stringify(labels));
    await secondWindow.screenshot('second-window-live');
  });

  it('is a read-only cockpit with a clear message when the folder is not a git repository', async () => {
    const api = await cockpitApi();
    const gitDir = join(config.workspace, '.git');
    const away = join(config.workspace, '.git-away');
    const events = join(config.workspace, '.factory', 'changes', mainChangeId, 'events');
    await vscode.commands.executeCommand('factory.switchChange', mainChangeId);
    renameSync(gitDir, away);
    try {
      await vscode.commands.executeCommand('factory.refresh');
      const s = await snapshotWhere(api, (x) => !x.isRepository, 'the folder seen as not a repository');
      assert.equal(s.current?.id, mainChangeId, `the record is still read and shown: ${JSON.stringify({ changes: s.changes.map((c) => c.id), problems: s.problems, branch: s.branch })}`);
      await vscode.commands.executeCommand('factory.showStages');
      await eventually(async () => (await browser.texts(SIDEBAR_ROWS)).some((t) => t.includes('Not a git repository')), 'the read-only notice row');
      const before = readdirSync(events).length;
      await vscode.commands.executeCommand('factory.runNext');
      await vscode.commands.executeCommand('notifications.showList');
      await eventually(async () => (await browser.texts('.notification-list-item-message')).some((t) => /not a git repository, so the cockpit is read-only/.test(t)), 'the not-a-repository error');
      assert.equal(readdirSync(events).length, before, 'nothing was recorded');
      await browser.screenshot('stages-not-a-repository');
      await vscode.commands.executeCommand('notifications.clearAll');
    } finally {
      renameSync(away, gitDir);
    }
    await vscode.commands.executeCommand('factory.refresh');
    await snapshotWhere(api, (x) => x.isRepository, 'a repository again');
  });

  it('opens the pipeline definition with its JSON schema contributed', async () => {
    const pipelineFile = join(config.workspace, '.factory', 'pipeline.json');
    const original = readFileSync(pipelineFile, 'utf8');
    await vscode.commands.executeCommand('factory.openPipeline');
    const editor = await eventually(() => vscode.window.activeTextEditor, 'an editor');
    assert.ok(editor.document.uri.fsPath.endsWith(join('.factory', 'pipeline.json')));
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { contributes: { jsonValidation: { fileMatch: string; url: string }[] } };
    const schemaUrl = pkg.contributes.jsonValidation[0]!.url;
    assert.ok(existsSync(join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, schemaUrl)), 'the contributed schema file ships');
    // Validation in the editor: a typo in an owner shows as a diagnostic, and so does a
    // mistyped key (the product keeps and ignores it, so only a warning says it is there).
    await editor.edit((b) => b.replace(new vscode.Range(0, 0, editor.document.lineCount, 0), JSON.stringify({ version: 1, stages: [{ id: 'plan', title: 'Plan', owner: {}, verfication: [] }] }, null, 2)));
    const diagnostics = await eventually(() => {
      const d = vscode.languages.getDiagnostics(editor.document.uri);
      return d.some((x) => /backend/.test(x.message)) && d.some((x) => /verfication/.test(x.message)) ? d : undefined;
    }, 'schema diagnostics for the owner and the mistyped key', 20_000);
    const typo = diagnostics.find((d) => /verfication/.test(d.message))!;
    assert.equal(editor.document.getText(typo.range).replace(/"/g, ''), 'verfication', JSON.stringify(diagnostics.map((d) => d.message)));
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    // An auto-save may have written the broken text while the diagnostic was awaited: put the file back.
    if (readFileSync(pipelineFile, 'utf8') !== original) writeFileSync(pipelineFile, original);
    mkdirSync(join(config.artifacts), { recursive: true });
  });

});
