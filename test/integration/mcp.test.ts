// The factory MCP server offered to VS Code's agents (#18), in a trusted workspace:
// the server definition provider lists "Factory Cockpit" (MCP: List Servers), and the
// read-only questions are registered as language model tools.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { AttemptState } from '../../src/core/fold';
import { FileRecordStore } from '../../src/store/recordStore';
import { StagesTreeProvider } from '../../src/ui/stagesTree';
import type { Cockpit } from '../../src/ui/cockpit';
import { browser, eventually, runConfig } from './support/driver';
import { cockpitApi, snapshotWhere } from './support/cockpit';

const SIDEBAR_ROWS = '.part.sidebar .monaco-list-row';

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

  it("shows the MCP tools an attempt called on its row in the Stages view, and in the row's tooltip with the server status", async () => {
    const config = runConfig();
    const api = await cockpitApi();
    const change = (await snapshotWhere(api, (x) => x.current?.id === config.sample.mainChangeId, 'the sample change')).current!;
    const implement = change.stages.find((st) => st.id === 'implement')!;
    const attemptId = implement.attempts[0]!.id;
    // What the factory's MCP server records when the attempt's agent calls its tools (mcp/server.ts).
    const records = new FileRecordStore(config.workspace);
    await records.append(change.id, { type: 'context.fetched', by: { name: 'claude-code' }, data: { attemptId, stageId: 'implement', contextVersion: 'v-mcp', what: 'pack', tool: 'get_context' } });
    await records.append(change.id, { type: 'attempt.toolCalled', by: { name: 'claude-code' }, data: { attemptId, stageId: 'implement', server: 'factory', tool: 'get_criteria', ok: true } });

    await snapshotWhere(api, (x) => x.current?.stages.find((st) => st.id === 'implement')?.attempts[0]?.mcpTools?.length === 2, 'the fold to list the tools');
    await vscode.commands.executeCommand('factory.showStages');
    const row = await eventually(async () => (await browser.texts(SIDEBAR_ROWS)).find((t) => t.includes('Attempt 1') && t.includes('2 MCP tools')), 'the attempt row saying it called 2 MCP tools');
    assert.match(row, /failed/);
    await browser.screenshot('mcp-tools-on-attempt-row');

    // The tooltip is drawn on hover: read it from the view's own provider on the same snapshot (a real MarkdownString).
    // The snapshot as it would be had the server failed, with a hostile detail from the record.
    const read = api.snapshot();
    const recorded = read.current!.stages.find((st) => st.id === 'implement')!;
    const attempt: AttemptState = { ...recorded.attempts[0]!, mcpStatus: { status: 'failed', detail: 'status [pending](command:evil)' } };
    const stage = { ...recorded, attempts: [attempt, ...recorded.attempts.slice(1)] };
    const current = { ...read.current!, stages: read.current!.stages.map((st) => (st.id === 'implement' ? stage : st)) };
    const cockpit = { state: { ...read, current }, factory: { allowedOnAttempt: () => [], stageAutonomy: async () => [] }, actionContext: {}, onDidChange: () => ({ dispose: () => undefined }) } as unknown as Cockpit;
    const provider = new StagesTreeProvider(cockpit, vscode.Uri.file(config.workspace));
    const item = provider.getTreeItem({ kind: 'attempt', change: current, stage, attempt, index: 0 });
    const tooltip = (item.tooltip as vscode.MarkdownString).value;
    assert.match(tooltip, /MCP tools called: get\\?_context, get\\?_criteria/);
    assert.match(tooltip, /MCP server did not start/);
    assert.ok(!tooltip.includes('](command:evil)'), `the detail from the record is escaped: ${tooltip}`);
    assert.match(String(item.description), /MCP server failed/);
    provider.dispose();
  });
});
