// The factory's MCP server offered to VS Code's agents (#18): a server definition
// provider (`contributes.mcpServerDefinitionProviders`) that starts this installation's
// CLI bundle as `mcp` with the Node the host runs on — in a trusted workspace only; the
// list changes when the folder is trusted. The read-only questions an agent in the
// editor asks most are also language model tools (`contributes.languageModelTools`),
// answered in the window without a server process. Activation stays cheap: nothing
// here runs until VS Code asks.
import * as vscode from 'vscode';
import type { Factory } from '../engine/factory';

export const MCP_PROVIDER_ID = 'factory.mcpServers';

export function registerMcpProvider(context: vscode.ExtensionContext, factory: Factory, log: vscode.LogOutputChannel): vscode.Disposable[] {
  const disposables: vscode.Disposable[] = [];
  const lm = vscode.lm as Partial<typeof vscode.lm> | undefined;
  if (typeof lm?.registerMcpServerDefinitionProvider === 'function') {
    const changed = new vscode.EventEmitter<void>();
    const cli = context.asAbsolutePath('dist/cli.js');
    const version = (context.extension.packageJSON as { version?: string }).version ?? '0';
    disposables.push(
      changed,
      lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, {
        onDidChangeMcpServerDefinitions: changed.event,
        provideMcpServerDefinitions: () => {
          if (!vscode.workspace.isTrusted) return [];
          const server = new vscode.McpStdioServerDefinition('Factory Cockpit', process.execPath, [cli, '--root', factory.root, 'mcp'], { ELECTRON_RUN_AS_NODE: '1' }, version);
          server.cwd = vscode.Uri.file(factory.root);
          return [server];
        },
        resolveMcpServerDefinition: (server) => (vscode.workspace.isTrusted ? server : undefined),
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => changed.fire()),
    );
  } else {
    log.info('This VS Code has no MCP server definition API: the factory MCP server is offered through `factory-cockpit mcp` only.');
  }
  if (typeof lm?.registerTool === 'function') {
    disposables.push(
      lm.registerTool<{ changeId?: string }>('factory_get_change', {
        invoke: async (options) => {
          const change = await changeOf(factory, options.input.changeId);
          const lines = [`Change ${change.id}: ${change.title}`, ...change.stages.map((s) => `- ${s.id} (${s.title}): ${s.status}${s.handedOff ? ', handed off' : ''}; owner ${s.owner.backend}; ${s.attempts.length} attempt(s)`)];
          return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(lines.join('\n'))]);
        },
      }),
      lm.registerTool<{ changeId?: string; budgetTokens?: number }>('factory_get_context', {
        invoke: async (options) => {
          const change = await changeOf(factory, options.input.changeId);
          const budget = options.input.budgetTokens;
          const rendered = await factory.context.render(change.id, typeof budget === 'number' && budget > 0 ? { budgetTokens: Math.floor(budget) } : {});
          return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(`Context pack version ${rendered.version}\n\n${rendered.text}`)]);
        },
      }),
    );
  }
  return disposables;
}

async function changeOf(factory: Factory, changeId: string | undefined) {
  const id = changeId ?? (await factory.readState()).current?.id;
  if (!id) throw new Error('There is no current change in this workspace: start one first.');
  if (!/^[a-z0-9][a-z0-9-]{0,79}$/.test(id)) throw new Error(`"${id.slice(0, 80)}" is not a change id.`);
  return factory.change(id);
}
