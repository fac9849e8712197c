// The factory MCP server offered to VS Code's agents (#18), in a trusted workspace:
// the server definition provider lists "Factory Cockpit" (MCP: List Servers), and the
// read-only questions are registered as language model tools.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { browser, eventually } from './support/driver';
import { cockpitApi } from './support/cockpit';

describe('MCP server in a trusted workspace', () => {
  it('registers the language model tools and provides the server definition', async () => {
    assert.equal(vscode.workspace.isTrusted, true);
    await cockpitApi();
    const tools = vscode.lm.tools.map((t) => t.name);
    assert.ok(tools.includes('factory_get_change') && tools.includes('factory_get_context'), `tools: ${tools.join(', ')}`);
    const context = vscode.lm.tools.find((t) => t.name === 'factory_get_context')!;
    assert.ok(context.tags.includes('read-only'));

    void vscode.commands.executeCommand('workbench.mcp.listServer');
    const rows = await eventually(async () => {
      const texts = await browser.texts('.quick-input-widget .monaco-list-row');
      return texts.some((t) => t.includes('Factory Cockpit')) ? texts : undefined;
    }, 'Factory Cockpit among the MCP servers', 30_000);
    assert.ok(rows.some((t) => t.includes('Factory Cockpit')));
    await browser.screenshot('mcp-servers-trusted');
    await browser.press('Escape');
  });
});
