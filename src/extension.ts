// Composition root: builds the cockpit's parts for the first workspace folder and
// registers every disposable. Activation does no I/O of its own; the first read of
// the record happens after activate returns.
import * as vscode from 'vscode';
import { GitAdapter } from './git/gitAdapter';
import { FileRecordStore, type RecordProblem } from './store/recordStore';
import { systemClock } from './engine/ports';
import { Cockpit, describeProblem, type CockpitSnapshot } from './ui/cockpit';
import { StagesTreeProvider } from './ui/stagesTree';
import { FactoryStatusBar } from './ui/statusBar';
import { registerCommands } from './ui/commands';
import { vscodePrompter } from './ui/prompts';
import { trustGatedGit } from './ui/trust';
import { FileEvidenceStore } from './store/evidence';
import { registerVerification } from './ui/verification';
import { registerContextPanel } from './ui/contextPanel';
import { registerTranscriptViews } from './ui/transcriptView';
import { createEngineHost, recoverInterrupted } from './ui/engineHost';

/** What other extensions (and the integration tests) can read. */
export interface FactoryCockpitApi {
  readonly apiVersion: 1;
  /** The cockpit's current view of the record. */
  snapshot(): CockpitSnapshot;
  /** Re-reads the record now. */
  refresh(): Promise<CockpitSnapshot>;
  readonly onDidChange: vscode.Event<CockpitSnapshot>;
  /** The status bar text as shown. */
  statusBarText(): string;
}

export function activate(context: vscode.ExtensionContext): FactoryCockpitApi | undefined {
  const log = vscode.window.createOutputChannel('Factory Cockpit', { log: true });
  context.subscriptions.push(log);
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder || folder.uri.scheme !== 'file') {
    log.info('No local folder is open: the cockpit waits for one.');
    return undefined;
  }
  try {
    const root = folder.uri.fsPath;
    // Problems reach the cockpit once it exists, whoever read the bad file first.
    let noteProblem: (p: RecordProblem) => void = () => undefined;
    const store = new FileRecordStore(root, {
      onProblem: (p) => {
        log.warn(`Record problem: ${describeProblem(p)}`);
        noteProblem(p);
      },
    });
    const deps = { store, git: trustGatedGit(new GitAdapter(root)), evidence: new FileEvidenceStore(root), clock: systemClock };
    const cockpit = new Cockpit(deps, context.workspaceState, log, (problems) => {
      const first = problems[0]!;
      const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
      void vscode.window.showWarningMessage(`Factory: a record file failed validation and was set aside: ${describeProblem(first)}${more}`, 'Show Log').then((c) => c && log.show());
    });
    noteProblem = (p) => cockpit.noteProblem(p);
    const tree = new StagesTreeProvider(cockpit, folder.uri);
    const view = vscode.window.createTreeView('factory.stages', { treeDataProvider: tree, showCollapseAll: true });
    const statusBar = new FactoryStatusBar(cockpit);
    cockpit.watch(folder.uri);
    const transcripts = registerTranscriptViews(context, cockpit, log);
    registerVerification(context, cockpit, log);
    const engine = createEngineHost(context, cockpit, deps, vscodePrompter, log, [transcripts], transcripts);
    context.subscriptions.push(
      ...engine.disposables,
      cockpit,
      tree,
      view,
      statusBar,
      ...registerCommands(cockpit, vscodePrompter, log),
      ...registerContextPanel(context, cockpit, vscodePrompter, log),
      vscode.workspace.onDidGrantWorkspaceTrust(() => void recoverInterrupted(cockpit, engine.runner, log)),
      cockpit.onDidChange((s) => {
        view.description = s.current ? s.current.title : undefined;
      }),
    );
    void recoverInterrupted(cockpit, engine.runner, log).catch((e: unknown) => log.error(`Recovering interrupted attempts failed: ${String(e)}`));
    void cockpit.refresh();
    return {
      apiVersion: 1,
      snapshot: () => cockpit.state,
      refresh: () => cockpit.refresh(),
      onDidChange: cockpit.onDidChange,
      statusBarText: () => statusBar.text,
    };
  } catch (error) {
    // VS Code stays silent about activation errors; say it.
    log.error(`Activation failed: ${error instanceof Error ? error.stack : String(error)}`);
    void vscode.window.showErrorMessage(`Factory Cockpit could not start: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
