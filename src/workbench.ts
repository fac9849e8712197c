// The workbench: the part of the composition root that loads on first use (a Factory
// view shown, a command run, a tool call, the record changing on disk), built by
// esbuild as dist/lazy/workbench.mjs with everything it needs in chunks beside it.
// It builds the factory (the engine's one entry point) for the first workspace folder
// with the editor's ports — settings, SecretStorage, Workspace Trust, confirmations,
// the log, vscode.lm — then the views on it, and registers every disposable. The
// activation shell (src/extension.ts) owns the view and status bar handles it passes in.
import * as vscode from 'vscode';
import { createVscodeLmPort } from './backends/vscodeLm';
import { RunnerRegistry } from './engine/detachedRun';
import { createFactory, type RecordProblem } from './engine/factory';
import { stopRunsLivingHere } from './engine/windowClose';
import { DetachedRuns } from './ui/detachedRuns';
import { putCliOnTerminalPath } from './ui/terminalCli';
import type { RunObserver } from './engine/stageRunner';
import { registerBackendCommands, recoverInterrupted, secretKey } from './ui/agentSettings';
import { Cockpit, describeProblem } from './ui/cockpit';
import { registerCommands } from './ui/commands';
import { registerContextPanel } from './ui/contextPanel';
import { vscodePrompter } from './ui/prompts';
import { announceGate, registerStageCommands, vscodeConfirmer } from './ui/stageCommands';
import { StagesTreeProvider } from './ui/stagesTree';
import { FactoryStatusBar } from './ui/statusBar';
import type { TranscriptViews } from './ui/transcriptView';
import { registerTreeDocuments } from './ui/treeDocuments';
import { registerVerification } from './ui/verification';
import { languageModelTools } from './ui/languageModelTools';
import { notify, plainLabel } from './ui/surface';
import { LazyPart } from './shell/placeholders';
import { REMEMBERED_STATUS_KEY, type RememberedStatus, type ShellParts, type Workbench } from './shell/contract';

export function start({ context, folder, log, stagesView, statusItem }: ShellParts): Workbench {
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
  let lastRemembered = '';
  const statusBar = new FactoryStatusBar(cockpit, statusItem, (remembered: RememberedStatus) => {
    // The next activation shows this until it loads the workbench; written only when it changed.
    const json = JSON.stringify(remembered);
    if (json === lastRemembered) return;
    lastRemembered = json;
    void context.workspaceState.update(REMEMBERED_STATUS_KEY, remembered);
  });
  const contextPanel = registerContextPanel(context, cockpit, vscodePrompter, log);
  cockpit.watch(folder.uri);
  // Each webview's host code loads with its first use: a transcript with the first run
  // this window follows or shows, the review and the dashboard with their commands.
  let transcriptViews: Promise<TranscriptViews> | undefined;
  const transcripts = (): Promise<TranscriptViews> => (transcriptViews ??= import('./ui/transcriptView').then((m) => m.registerTranscriptViews(context, cockpit, log)));
  const toTranscripts = (what: string, deliver: (views: TranscriptViews) => void) =>
    void transcripts()
      .then(deliver)
      .catch((e: unknown) => log.error(`The transcript view could not take ${what}: ${e instanceof Error ? e.stack : String(e)}`));
  // Events reach the views in the order they came: every delivery waits on the same load.
  observers.push({
    attemptStarted: (info) => toTranscripts('a started attempt', (v) => v.attemptStarted(info)),
    agentEvent: (info, event) => toTranscripts('an agent event', (v) => v.agentEvent(info, event)),
    attemptFinished: (info, result) => toTranscripts('a finished attempt', (v) => v.attemptFinished(info, result)),
  });
  registerVerification(context, cockpit, log);
  const review = new LazyPart(REVIEW_COMMANDS, async (stepAside) => {
    const { registerReview } = await import('./ui/reviewPanel');
    stepAside();
    return registerReview(context, cockpit, log);
  });
  const dashboard = new LazyPart(DASHBOARD_COMMANDS, async (stepAside) => {
    const { registerDashboard } = await import('./ui/dashboard');
    stepAside();
    const registered = registerDashboard(context, cockpit, log);
    context.subscriptions.push(...registered.disposables);
    return registered;
  });
  // The editor hands stage runs to detached runners (the CLI bundle this extension ships) and follows them.
  const detached = new DetachedRuns({
    cockpit,
    log,
    cliPath: context.asAbsolutePath('dist/cli.js'),
    secret: (name) => Promise.resolve(context.secrets.get(secretKey(name))),
    observers,
    announceGate: (gate) => void announceGate(gate),
  });
  void putCliOnTerminalPath(context, log);
  context.subscriptions.push(
    cockpit,
    tree,
    statusBar,
    detached,
    vscode.commands.registerCommand('factory.showRunnerLog', () => detached.showLog()),
    ...registerStageCommands({ cockpit, prompter: vscodePrompter, log, detached, showTranscript: async (change, attempt) => void (await (await transcripts()).showAttempt(change, attempt)) }),
    ...registerBackendCommands(context, cockpit, log),
    ...registerCommands(cockpit, vscodePrompter, log),
    ...contextPanel.disposables,
    review,
    dashboard,
    // Files as they were in a git tree: the transcript's links and the review's diffs open them.
    registerTreeDocuments({ workspaceRoot: factory.root, readBlob: (tree, relativePath) => factory.readBlob(tree, relativePath) }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      // What Restricted Mode only reported is set aside now, with the same report.
      void factory.store
        .setAsidePending()
        .then((moved) => moved.forEach((p) => cockpit.noteProblem(p)))
        .catch((e: unknown) => log.error(`Setting aside the files found in Restricted Mode failed: ${String(e)}`))
        .then(() => recoverInterrupted(cockpit, log));
    }),
    cockpit.onDidChange((s) => {
      stagesView.description = s.current ? plainLabel(s.current.title) : undefined;
    }),
  );
  void recoverInterrupted(cockpit, log)
    .catch((e: unknown) => log.error(`Recovering interrupted attempts failed: ${String(e)}`))
    // Re-attach to the runners that kept going while the window was closed or reloading.
    .then(() => detached.attachAll());
  void cockpit.refresh();
  return {
    stagesTree: tree,
    contextView: contextPanel.provider,
    tools: languageModelTools(factory),
    api: {
      apiVersion: 1,
      snapshot: () => cockpit.state,
      refresh: () => cockpit.refresh(),
      onDidChange: cockpit.onDidChange,
      detachedRuns: () => detached.followed(),
    },
    deactivate: async () => void (await stopRunsLivingHere(factory)),
  };
}

/** The commands whose first use loads the review's host code (src/ui/reviewPanel.ts, reviewComments.ts). */
const REVIEW_COMMANDS = [
  'factory.reviewChange',
  'factory.review.nextStep',
  'factory.review.previousStep',
  'factory.review.acceptHunk',
  'factory.review.rejectHunk',
  'factory.review.keepHunkAtCursor',
  'factory.review.rejectHunkAtCursor',
  'factory.review.openDiffSet',
  'factory.review.export',
  'factory.review.addComment',
];
/** The commands whose first use loads the dashboard's host code (src/ui/dashboard.ts). */
const DASHBOARD_COMMANDS = ['factory.openFlowDashboard', 'factory.exportMetrics'];
