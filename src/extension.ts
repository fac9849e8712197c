// The activation shell: what VS Code needs the moment the extension activates, and
// nothing else. It registers every contributed command, the Stages and Context views,
// the language model tools, the MCP server definition and the status bar item; the
// workbench (src/workbench.ts: the engine, the views' host code, backends,
// verification) loads on first use — a Factory view shown, a command run, a tool
// called, or the record changing on disk — and fills them in. The status bar shows
// what the last window showed until then. eslint keeps this folder's imports to
// `vscode`, node: builtins, src/shell and core/safeText.
import * as vscode from 'vscode';
import type { CockpitSnapshot } from './ui/cockpit';
import { REMEMBERED_STATUS_KEY, type FactoryCockpitApi, type RememberedStatus, type ShellParts } from './shell/contract';
import { LazyWorkbench } from './shell/lazyWorkbench';
import { commandTrampolines, LazyStagesTree, lazyTools, lazyWebviewView, mcpServerProvider } from './shell/placeholders';
import { safeLog } from './shell/safeLog';

export type { FactoryCockpitApi } from './shell/contract';

interface Manifest {
  contributes?: { commands?: { command: string }[]; languageModelTools?: { name: string }[] };
}

let workbench: LazyWorkbench | undefined;

export function activate(context: vscode.ExtensionContext): FactoryCockpitApi | undefined {
  // Every line is plain text: an agent's output or a hostile title cannot reverse or hide text in the log.
  const log = safeLog(vscode.window.createOutputChannel('Factory Cockpit', { log: true }));
  context.subscriptions.push(log);
  const manifest = context.extension.packageJSON as Manifest;
  const commandIds = (manifest.contributes?.commands ?? []).map((c) => c.command);
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder || folder.uri.scheme !== 'file') {
    log.info('No local folder is open: the cockpit waits for one.');
    // Its commands say so instead of "command not found".
    context.subscriptions.push(...commandIds.map((id) => vscode.commands.registerCommand(id, () => void vscode.window.showInformationMessage('Factory Cockpit works on a local folder: open one first.'))));
    return undefined;
  }

  const statusItem = vscode.window.createStatusBarItem('factory.status', vscode.StatusBarAlignment.Left, 50);
  statusItem.name = 'Factory Cockpit';
  statusItem.command = 'factory.showStages';
  const remembered = context.workspaceState.get<RememberedStatus>(REMEMBERED_STATUS_KEY);
  if (remembered) {
    statusItem.text = remembered.text;
    const tooltip = new vscode.MarkdownString(remembered.tooltip, false);
    tooltip.isTrusted = false;
    tooltip.supportHtml = false;
    tooltip.appendMarkdown('\n\n*As this window last saw it: open the Factory view to read the record again.*');
    statusItem.tooltip = tooltip;
    statusItem.show();
  }

  // The workbench registers the real commands: the trampolines step aside just before.
  workbench = new LazyWorkbench(() => parts, () => trampolines.dispose());
  const tree = new LazyStagesTree(workbench);
  const stagesView = vscode.window.createTreeView('factory.stages', { treeDataProvider: tree, showCollapseAll: true });
  const parts: ShellParts = { context, folder, log, statusItem, stagesView };
  const trampolines = commandTrampolines(commandIds, (reason) => workbench!.load(reason));

  const snapshotChanged = new vscode.EventEmitter<CockpitSnapshot>();
  const notLoaded: CockpitSnapshot = { ready: false, isRepository: false, changes: [], problems: [] };
  const load = (reason: string) =>
    workbench!.load(reason).catch((error: unknown) => {
      // VS Code stays silent about errors after activation; say it.
      log.error(`The cockpit could not start: ${error instanceof Error ? error.stack : String(error)}`);
      void vscode.window.showErrorMessage(`Factory Cockpit could not start: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    });
  context.subscriptions.push(
    workbench,
    trampolines,
    tree,
    stagesView,
    statusItem,
    snapshotChanged,
    workbench.onDidLoad((loaded) => context.subscriptions.push(loaded.api.onDidChange((s) => snapshotChanged.fire(s)))),
    vscode.window.registerWebviewViewProvider('factory.context', lazyWebviewView(workbench)),
    ...lazyTools((manifest.contributes?.languageModelTools ?? []).map((t) => t.name), workbench),
    ...mcpServerProvider(context, folder.uri.fsPath, log),
    ...recordWatchers(folder, () => void load('the record changed on disk').catch(() => undefined)),
  );
  // The last window followed a running stage: this one follows it at once (its runner went on).
  if (remembered?.running) void load('a stage was running when the window last closed').catch(() => undefined);

  return {
    apiVersion: 1,
    snapshot: () => {
      if (workbench?.loaded) return workbench.loaded.api.snapshot();
      void load('the API asked for the snapshot').catch(() => undefined);
      return notLoaded;
    },
    refresh: async () => (await load('the API asked for a refresh')).api.refresh(),
    onDidChange: snapshotChanged.event,
    statusBarText: () => statusItem.text,
    detachedRuns: () => workbench?.loaded?.api.detachedRuns?.() ?? [],
    loaded: () => ({ loaded: workbench?.loaded !== undefined, ...(workbench?.reason ? { reason: workbench.reason } : {}) }),
  };
}

/**
 * Until the workbench loads, a change to the record or the checked-out branch (another
 * window, the CLI, a runner, `git checkout`) loads it, so the status bar never goes on
 * showing what is no longer true. The workbench watches for itself once loaded.
 */
function recordWatchers(folder: vscode.WorkspaceFolder, onChange: () => void): vscode.Disposable[] {
  const watchers = ['.factory/**', '.git/HEAD'].map((glob) => vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, glob)));
  const listeners = watchers.flatMap((w) => [w.onDidCreate(onChange), w.onDidChange(onChange), w.onDidDelete(onChange)]);
  const stop = () => [...listeners, ...watchers].forEach((d) => d.dispose());
  const loaded = workbench?.onDidLoad(stop);
  return [{ dispose: stop }, ...(loaded ? [loaded] : [])];
}

/** Stops what runs in this window (a vscode.lm stage) while the window closes; detached runners go on. */
export async function deactivate(): Promise<void> {
  await workbench?.loaded?.deactivate();
}
