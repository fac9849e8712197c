// Composition root: builds the factory (the engine's one entry point) for the first
// workspace folder with the editor's ports — settings, SecretStorage, Workspace Trust,
// confirmations, the log, vscode.lm — then the views on it, and registers every
// disposable. Activation does no I/O of its own; the first read of the record happens
// after activate returns.
import * as vscode from 'vscode';
import { createVscodeLmPort } from './backends/vscodeLm';
import { RunnerRegistry } from './engine/detachedRun';
import { createFactory, type Factory, type RecordProblem } from './engine/factory';
import { stopRunsLivingHere } from './engine/windowClose';
import { DetachedRuns } from './ui/detachedRuns';
import { putCliOnTerminalPath } from './ui/terminalCli';
import type { RunObserver } from './engine/stageRunner';
import { registerBackendCommands, recoverInterrupted, secretKey } from './ui/agentSettings';
import { Cockpit, describeProblem, type CockpitSnapshot } from './ui/cockpit';
import { registerCommands } from './ui/commands';
import { registerContextPanel } from './ui/contextPanel';
import { registerDashboard } from './ui/dashboard';
import { vscodePrompter } from './ui/prompts';
import { announceGate, registerStageCommands, vscodeConfirmer } from './ui/stageCommands';
import { StagesTreeProvider } from './ui/stagesTree';
import { FactoryStatusBar } from './ui/statusBar';
import { registerTranscriptViews } from './ui/transcriptView';
import { registerVerification } from './ui/verification';
import { registerReview } from './ui/reviewPanel';
import { registerMcpProvider } from './ui/mcpProvider';
import { notify, plainLabel, safeLog } from './ui/surface';

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
  /** The detached runners this window follows (runs that outlive the window). */
  detachedRuns?(): { changeId: string; pid: number }[];
}

export function activate(context: vscode.ExtensionContext): FactoryCockpitApi | undefined {
  // Every line is plain text: an agent's output or a hostile title cannot reverse or hide text in the log.
  const log = safeLog(vscode.window.createOutputChannel('Factory Cockpit', { log: true }));
  context.subscriptions.push(log);
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder || folder.uri.scheme !== 'file') {
    log.info('No local folder is open: the cockpit waits for one.');
    return undefined;
  }
  try {
    // Parts built below observe the engine; they join once they exist.
    const observers: RunObserver[] = [];
    let noteProblem: (p: RecordProblem) => void = () => undefined;
    let changed: () => void = () => undefined;
    // Runs outlive the window in detached runners: an attempt whose runner is alive (same pid and process start time) is not interrupted.
    const runners = new RunnerRegistry(folder.uri.fsPath);
    const factory = createFactory({
      root: folder.uri.fsPath,
      isAlive: (pid) => runners.isAlive(pid),
      settings: { get: (key) => vscode.workspace.getConfiguration().get(key) },
      secrets: { get: (name) => Promise.resolve(context.secrets.get(secretKey(name))) },
      trust: { isTrusted: () => vscode.workspace.isTrusted },
      confirmer: vscodeConfirmer,
      log,
      languageModels: createVscodeLmPort(vscode),
      onProblem: (p) => {
        log.warn(`Record problem: ${describeProblem(p)}`);
        noteProblem(p);
      },
      observer: {
        attemptStarted: (info) => observers.forEach((o) => o.attemptStarted?.(info)),
        agentEvent: (info, event) => observers.forEach((o) => o.agentEvent?.(info, event)),
        attemptFinished: (info, result, verification) => {
          log.info(`Attempt ${info.attemptId} of ${info.changeId}/${info.stageId} (${info.backend}) ${result.outcome}${result.reason ? `: ${result.reason}` : ''}`);
          observers.forEach((o) => o.attemptFinished?.(info, result, verification));
        },
        gate: (gate) => {
          log.info(`Gate on ${gate.changeId}/${gate.stageId}: ${gate.reason} — ${gate.detail}`);
          void announceGate(gate);
        },
        changed: () => changed(),
      },
    });
    const cockpit = new Cockpit(factory, log, (problems) => {
      // The announcement leads with a file that was (or will be) set aside: what a person must know first.
      const first = problems.find((p) => p.quarantinedTo) ?? problems.find((p) => p.pending) ?? problems[0]!;
      const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
      // Restricted Mode moves nothing: the file is set aside once the folder is trusted.
      const what = first.pending ? 'failed validation and will be set aside once the folder is trusted' : first.quarantinedTo ? 'failed validation and was set aside' : 'cannot be read';
      void notify.warn(`Factory: a record file ${what}: ${describeProblem(first)}${more}`, 'Show Log').then((c) => c && log.show());
    });
    noteProblem = (p) => cockpit.noteProblem(p);
    changed = () => void cockpit.refresh();
    const tree = new StagesTreeProvider(cockpit, folder.uri);
    const view = vscode.window.createTreeView('factory.stages', { treeDataProvider: tree, showCollapseAll: true });
    const statusBar = new FactoryStatusBar(cockpit);
    cockpit.watch(folder.uri);
    const transcripts = registerTranscriptViews(context, cockpit, log);
    observers.push(transcripts);
    registerVerification(context, cockpit, log);
    registerReview(context, cockpit, log);
    // The editor hands stage runs to detached runners (the CLI bundle this extension ships) and follows them.
    const detached = new DetachedRuns({
      cockpit,
      log,
      cliPath: context.asAbsolutePath('dist/cli.js'),
      secret: (name) => Promise.resolve(context.secrets.get(secretKey(name))),
      observers,
      announceGate: (gate) => void announceGate(gate),
    });
    inWindowFactory = factory;
    void putCliOnTerminalPath(context, log);
    context.subscriptions.push(
      cockpit,
      tree,
      view,
      statusBar,
      detached,
      vscode.commands.registerCommand('factory.showRunnerLog', () => detached.showLog()),
      ...registerStageCommands({ cockpit, prompter: vscodePrompter, log, detached, showTranscript: async (change, attempt) => void (await transcripts.showAttempt(change, attempt)) }),
      ...registerBackendCommands(context, cockpit, log),
      ...registerCommands(cockpit, vscodePrompter, log),
      ...registerContextPanel(context, cockpit, vscodePrompter, log),
      ...registerDashboard(context, cockpit, log).disposables,
      ...registerMcpProvider(context, factory, log),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        // What Restricted Mode only reported is set aside now, with the same report.
        void factory.store
          .setAsidePending()
          .then((moved) => moved.forEach((p) => cockpit.noteProblem(p)))
          .catch((e: unknown) => log.error(`Setting aside the files found in Restricted Mode failed: ${String(e)}`))
          .then(() => recoverInterrupted(cockpit, log));
      }),
      cockpit.onDidChange((s) => {
        view.description = s.current ? plainLabel(s.current.title) : undefined;
      }),
    );
    void recoverInterrupted(cockpit, log)
      .catch((e: unknown) => log.error(`Recovering interrupted attempts failed: ${String(e)}`))
      // Re-attach to the runners that kept going while the window was closed or reloading.
      .then(() => detached.attachAll());
    void cockpit.refresh();
    return {
      apiVersion: 1,
      snapshot: () => cockpit.state,
      refresh: () => cockpit.refresh(),
      onDidChange: cockpit.onDidChange,
      statusBarText: () => statusBar.text,
      detachedRuns: () => detached.followed(),
    };
  } catch (error) {
    // VS Code stays silent about activation errors; say it.
    log.error(`Activation failed: ${error instanceof Error ? error.stack : String(error)}`);
    void vscode.window.showErrorMessage(`Factory Cockpit could not start: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

let inWindowFactory: Factory | undefined;

/**
 * Everything is disposed through context.subscriptions. A run that lives in this
 * window (a vscode.lm stage; detached runners go on by themselves) is stopped and
 * recorded as stopped while the window closes; if the host dies first, the next read
 * records it as interrupted.
 */
export async function deactivate(): Promise<void> {
  if (inWindowFactory) await stopRunsLivingHere(inWindowFactory);
}
