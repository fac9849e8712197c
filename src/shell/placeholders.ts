// What the shell registers at activation in the workbench's place: every contributed
// command, the Stages tree, the Context view and the language model tools answer the
// first use by loading the workbench and handing the call on. The MCP server definition
// needs nothing of the engine, so the shell answers it itself.
import * as vscode from 'vscode';
import type { LazyWorkbench } from './lazyWorkbench';

/**
 * Commands answered by a part that is not loaded yet, as trampolines: the first call
 * loads the part (`load` resolves once the part registered the real commands, having
 * disposed these just before), then runs the real command with the same arguments.
 */
export function commandTrampolines(commandIds: readonly string[], load: (reason: string) => Promise<unknown>): vscode.Disposable {
  const registrations = commandIds.map((id) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      await load(`command ${id}`);
      return vscode.commands.executeCommand(id, ...args);
    }),
  );
  return vscode.Disposable.from(...registrations);
}

/**
 * A part of the workbench loaded on first use of one of its commands, or when asked:
 * `start` imports the part's module, calls `stepAside` (the trampolines go), then lets
 * the module register its real commands.
 */
export class LazyPart<T> implements vscode.Disposable {
  private loading: Promise<T> | undefined;
  private readonly trampolines: vscode.Disposable;

  constructor(
    commandIds: readonly string[],
    private readonly start: (stepAside: () => void) => Promise<T>,
  ) {
    this.trampolines = commandTrampolines(commandIds, () => this.load());
  }

  load(): Promise<T> {
    this.loading ??= this.start(() => this.trampolines.dispose());
    return this.loading;
  }

  dispose(): void {
    this.trampolines.dispose();
  }
}

/** The Stages view's data: the workbench's tree once loaded; asking for the rows loads it. */
export class LazyStagesTree implements vscode.TreeDataProvider<unknown>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<unknown>();
  readonly onDidChangeTreeData = this.changed.event;
  private forward: vscode.Disposable | undefined;

  constructor(private readonly workbench: LazyWorkbench) {
    workbench.onDidLoad((loaded) => {
      this.forward = loaded.stagesTree.onDidChangeTreeData?.((node) => this.changed.fire(node));
      this.changed.fire(undefined);
    });
  }

  async getChildren(node?: unknown): Promise<unknown[]> {
    const loaded = this.workbench.loaded ?? (await this.workbench.load('the Stages view was shown'));
    return (await loaded.stagesTree.getChildren(node)) ?? [];
  }

  // Nodes exist only once the workbench gave them, so it is loaded here.
  getTreeItem(node: unknown): vscode.TreeItem | Thenable<vscode.TreeItem> {
    return this.workbench.loaded!.stagesTree.getTreeItem(node);
  }

  getParent(node: unknown): vscode.ProviderResult<unknown> {
    return this.workbench.loaded?.stagesTree.getParent?.(node);
  }

  dispose(): void {
    this.forward?.dispose();
    this.changed.dispose();
  }
}

/** The Context view: resolving it (the view was shown) loads the workbench. */
export function lazyWebviewView(workbench: LazyWorkbench): vscode.WebviewViewProvider {
  return {
    resolveWebviewView: async (view, context, token) => {
      const loaded = await workbench.load('the Context view was shown');
      await loaded.contextView.resolveWebviewView(view, context, token);
    },
  };
}

/** The language model tools the manifest contributes; a call loads the workbench. */
export function lazyTools(toolNames: readonly string[], workbench: LazyWorkbench): vscode.Disposable[] {
  const lm = vscode.lm as Partial<typeof vscode.lm> | undefined;
  if (typeof lm?.registerTool !== 'function') return [];
  return toolNames.map((name) =>
    lm.registerTool!<Record<string, unknown>>(name, {
      invoke: async (options, token) => {
        const tool = (await workbench.load(`the language model tool ${name}`)).tools[name];
        if (!tool) throw new Error(`Factory Cockpit has no tool named ${name}.`);
        return tool.invoke(options, token);
      },
    }),
  );
}

export const MCP_PROVIDER_ID = 'factory.mcpServers';

/**
 * The factory's MCP server offered to VS Code's agents (`contributes.mcpServerDefinitionProviders`):
 * this installation's CLI bundle started as `mcp` with the Node the host runs on — in a
 * trusted workspace only; the list changes when the folder is trusted.
 */
export function mcpServerProvider(context: vscode.ExtensionContext, root: string, log: vscode.LogOutputChannel): vscode.Disposable[] {
  const lm = vscode.lm as Partial<typeof vscode.lm> | undefined;
  if (typeof lm?.registerMcpServerDefinitionProvider !== 'function') {
    log.info('This VS Code has no MCP server definition API: the factory MCP server is offered through `factory-cockpit mcp` only.');
    return [];
  }
  const changed = new vscode.EventEmitter<void>();
  const cli = context.asAbsolutePath('dist/cli.js');
  const version = (context.extension.packageJSON as { version?: string }).version ?? '0';
  return [
    changed,
    lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, {
      onDidChangeMcpServerDefinitions: changed.event,
      provideMcpServerDefinitions: () => {
        if (!vscode.workspace.isTrusted) return [];
        const server = new vscode.McpStdioServerDefinition('Factory Cockpit', process.execPath, [cli, '--root', root, 'mcp'], { ELECTRON_RUN_AS_NODE: '1' }, version);
        server.cwd = vscode.Uri.file(root);
        return [server];
      },
      resolveMcpServerDefinition: (server) => (vscode.workspace.isTrusted ? server : undefined),
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => changed.fire()),
  ];
}
