// Builds the stage engine for the editor: backends from settings (and VS Code's
// language models as a port), keys from SecretStorage, the context pack store,
// verification, and an observer that keeps the views and notifications in step.
import * as os from 'node:os';
import * as vscode from 'vscode';
import { checkBackends, createBackends, createVscodeLmPort } from '../backends';
import type { AttemptState, ChangeState } from '../core/fold';
import type { EngineDeps } from '../engine/ports';
import { StageRunner, type RunObserver } from '../engine/stageRunner';
import { verifyStage } from '../engine/verification';
import { EvidenceContentStore } from '../store/contextContent';
import { ContextPackStore } from '../store/contextPackStore';
import { agentEnvironment, readBackendsConfig, setApiKey } from './agentSettings';
import type { Cockpit } from './cockpit';
import type { Prompter } from './prompts';
import { announceGate, registerStageCommands, vscodeConfirmer } from './stageCommands';

export interface EngineHost {
  runner: StageRunner;
  disposables: vscode.Disposable[];
}

export function createEngineHost(
  context: vscode.ExtensionContext,
  cockpit: Cockpit,
  deps: EngineDeps,
  prompter: Prompter,
  log: vscode.LogOutputChannel,
  observers: RunObserver[] = [],
  transcripts?: { showAttempt(change: ChangeState, attempt: AttemptState): Promise<unknown> },
): EngineHost {
  const backends = () => createBackends(readBackendsConfig(), { languageModels: createVscodeLmPort(vscode) });
  let registry = backends();
  const packs = new ContextPackStore({ records: deps.store, content: new EvidenceContentStore(deps.evidence) });
  const browserPath = () => vscode.workspace.getConfiguration('factory.verify').get<string>('browserPath') || undefined;
  const fanOut: RunObserver = {
    attemptStarted: (info) => observers.forEach((o) => o.attemptStarted?.(info)),
    agentEvent: (info, event) => observers.forEach((o) => o.agentEvent?.(info, event)),
    attemptFinished: (info, result, verification) => {
      log.info(`Attempt ${info.attemptId} of ${info.changeId}/${info.stageId} (${info.backend}) ${result.outcome}${result.reason ? `: ${result.reason}` : ''}`);
      observers.forEach((o) => o.attemptFinished?.(info, result, verification));
    },
    gate: (gate) => {
      log.info(`Gate on ${gate.changeId}/${gate.stageId}: ${gate.reason} — ${gate.detail}`);
      observers.forEach((o) => o.gate?.(gate));
      void announceGate(gate);
    },
    changed: () => void cockpit.refresh(),
  };
  const runner = new StageRunner(
    {
      ...deps,
      // Settings are read per run, so a changed path or model applies without a reload.
      get backends() {
        return registry;
      },
      context: packs,
      verify: (input) => verifyStage(deps, { ...input, ...(browserPath() ? { browserExecutablePath: browserPath() } : {}) }),
      agentEnv: () => agentEnvironment(context.secrets),
      host: {
        pid: process.pid,
        hostname: os.hostname(),
        isAlive: (pid) => {
          try {
            process.kill(pid, 0);
            return true;
          } catch (error) {
            return (error as NodeJS.ErrnoException).code === 'EPERM';
          }
        },
      },
    },
    fanOut,
  );

  const showTranscript = async (change: ChangeState, attempt: AttemptState) => {
    if (transcripts) {
      await transcripts.showAttempt(change, attempt);
      return;
    }
    if (!attempt.transcript) {
      void vscode.window.showInformationMessage(`Factory: attempt ${attempt.number ?? ''} of ${attempt.stageId} has no transcript${attempt.outcome ? '' : ' yet (it is running)'}.`);
      return;
    }
    const file = vscode.Uri.joinPath(vscode.Uri.file(deps.store.workspaceRoot), ...deps.evidence.pathOf(attempt.transcript).split('/'));
    await vscode.window.showTextDocument(file, { preview: true });
    log.info(`Transcript of ${change.id}/${attempt.id}: ${file.fsPath}`);
  };

  const disposables: vscode.Disposable[] = [
    ...registerStageCommands({ cockpit, runner, prompter, confirmer: vscodeConfirmer, log, showTranscript }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('factory.backends') || e.affectsConfiguration('factory.prices')) registry = backends();
    }),
    vscode.commands.registerCommand('factory.setApiKey', () => setApiKey(context.secrets)),
    vscode.commands.registerCommand('factory.checkBackends', async () => {
      const models = await vscode.lm.selectChatModels().then((m) => m.length, () => 0);
      const { env } = await agentEnvironment(context.secrets);
      const checks = await checkBackends(registry.values(), { env, cwd: deps.store.workspaceRoot, languageModelCount: models });
      const reports = (c: (typeof checks)[number]) =>
        [c.capabilities.tokenUsage ? 'tokens' : undefined, c.capabilities.cost === 'none' ? 'cost unknown' : `cost (${c.capabilities.cost})`, c.capabilities.toolCalls ? 'tool calls' : undefined, c.capabilities.canEditFiles ? 'edits files' : 'cannot edit files']
          .filter(Boolean)
          .join(', ');
      await vscode.window.showQuickPick(
        checks.map((c) => ({
          label: `${c.available ? '$(pass-filled)' : '$(circle-slash)'} ${c.displayName}`,
          description: c.available ? [c.version, c.path].filter(Boolean).join(' · ') : c.problem,
          detail: `Reports: ${reports(c)}${c.setting ? ` · setting: ${c.setting}` : ''}`,
        })),
        { title: 'Factory: agent backends on this machine', placeHolder: `${checks.filter((c) => c.available).length} of ${checks.length} available` },
      );
      return checks;
    }),
  ];
  return { runner, disposables };
}

/** On start (and when trust is granted): attempts whose process died are recorded as interrupted. */
export async function recoverInterrupted(cockpit: Cockpit, runner: StageRunner, log: vscode.LogOutputChannel): Promise<void> {
  if (!vscode.workspace.isTrusted) return;
  const snapshot = await cockpit.refresh();
  // Only a change with a stage still running can hold an attempt whose process died.
  const candidates = snapshot.changes.filter((c) => !c.completed && c.stages.some((s) => s.status === 'running'));
  const recovered = await runner.recoverInterrupted(candidates.map((c) => c.id));
  if (recovered.length === 0) return;
  log.warn(`Recorded ${recovered.length} interrupted attempt(s): ${recovered.map((r) => `${r.changeId}/${r.stageId}`).join(', ')}`);
  const choice = await vscode.window.showWarningMessage(
    `Factory: ${recovered.length} attempt(s) stopped when the window closed (${recovered.map((r) => r.stageId).join(', ')}). They are recorded as interrupted.`,
    'Retry',
  );
  if (choice) await vscode.commands.executeCommand('factory.retryStage', { changeId: recovered[0]!.changeId, stageId: recovered[0]!.stageId });
}
