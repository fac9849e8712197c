// In an untrusted workspace the factory MCP server is not offered to VS Code's agents
// (#18): MCP: List Servers has no "Factory Cockpit".
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { browser, eventually } from './support/driver';
import { cockpitApi } from './support/cockpit';

describe('MCP server in an untrusted workspace', () => {
  it('is not provided', async () => {
    assert.equal(vscode.workspace.isTrusted, false, 'this suite starts untrusted');
    await cockpitApi();
    void vscode.commands.executeCommand('workbench.mcp.listServer');
    const selector = '.quick-input-widget .monaco-list-row';
    await eventually(async () => (await browser.texts(selector)).some((t) => t.includes('Add Server')), 'the MCP server list', 30_000);
    // Providers answer asynchronously: give them time to add a row before reading the list.
    await new Promise((r) => setTimeout(r, 3000));
    const rows = await browser.texts(selector);
    assert.ok(!rows.some((t) => t.includes('Factory Cockpit')), `rows: ${JSON.stringify(rows)}`);
    await browser.screenshot('mcp-servers-untrusted');
    await browser.press('Escape');
  });
});
