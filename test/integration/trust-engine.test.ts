// Workspace Trust: in an untrusted workspace no agent, command or git runs; the
// actions say why and offer to manage trust.
import * as assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { browser, eventually, runConfig } from './support/driver';
import { cockpitApi, snapshotWhere } from './support/cockpit';

describe('Untrusted workspace', () => {
  const config = runConfig();

  it('reads the record but runs nothing, and says why', async () => {
    assert.equal(vscode.workspace.isTrusted, false, 'this suite starts untrusted');
    const api = await cockpitApi();
    const s = await snapshotWhere(api, (x) => x.changes.length >= 2, 'the record read');
    const change = s.current ?? s.changes[0]!;
    const before = readdirSync(join(config.workspace, '.factory', 'changes', change.id, 'events')).length;
    void vscode.commands.executeCommand('factory.runNext');
    await vscode.commands.executeCommand('notifications.showList');
    await eventually(async () => (await browser.texts('.notifications-center .notification-list-item')).some((t) => t.includes('not trusted') && t.includes('Manage Workspace Trust')), 'the not-trusted message');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(readdirSync(join(config.workspace, '.factory', 'changes', change.id, 'events')).length, before, 'nothing was recorded');
    assert.equal(s.isRepository, false, 'git is not even asked');
    // The Stages view says why it is read-only (not a guess that the folder is not a repository).
    await vscode.commands.executeCommand('notifications.hideList');
    await vscode.commands.executeCommand('factory.showStages');
    const rows = await eventually(async () => {
      const texts = await browser.texts('.part.sidebar .monaco-list-row');
      return texts.some((t) => t.includes('Restricted Mode')) ? texts : undefined;
    }, 'the Restricted Mode row');
    assert.ok(!rows.some((t) => t.includes('Not a git repository')), `no misleading row in ${JSON.stringify(rows)}`);
    await browser.screenshot('untrusted-workspace');
  });
});
