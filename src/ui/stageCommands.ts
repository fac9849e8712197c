// The stage actions of the Stages view and the palette: run, run next, stop, retry,
// roll back, mark done by hand, change owner, approve, send back. Each checks
// Workspace Trust, asks what it must through the prompts port, calls the engine, and
// turns the engine's gates into notifications a person can act on.
import * as vscode from 'vscode';
import type { AttemptState, ChangeState, StageState } from '../core/fold';
import type { Owner } from '../core/pipeline';
import type { GateReason, RunReport, StageRunner } from '../engine/stageRunner';
import type { Cockpit } from './cockpit';
import type { PickItem, Prompter } from './prompts';
import type { StageNode } from './stagesTree';
import { reportingCommands } from './reportingCommand';

/** Asks a person to confirm something that changes their files. */
export interface Confirmer {
  confirm(message: string, detail: string, action: string): Promise<boolean>;
}

/**
 * A quick pick, not a modal dialog: it lists what will change where the person is
 * already looking, works with the keyboard, and Escape cancels.
 */
export const vscodeConfirmer: Confirmer = {
  async confirm(message, detail, action) {
    const picked = await vscode.window.showQuickPick(
      [
        { label: `$(warning) ${action}`, description: message, detail: detail.split('\n').join(' · '), confirmed: true },
        { label: 'Cancel', description: 'change nothing', confirmed: false },
      ],
      { title: message, placeHolder: `${action}? Escape cancels.`, ignoreFocusOut: true },
    );
    return picked?.confirmed ?? false;
  },
};

const OWNER_CHOICES: PickItem<Owner>[] = [
  { label: 'Claude Code', description: 'claude-code', value: { backend: 'claude-code' } },
  { label: 'Codex', description: 'codex', value: { backend: 'codex' } },
  { label: 'Factory Droid', description: 'droid', value: { backend: 'droid' } },
  { label: 'Gemini CLI', description: 'gemini', value: { backend: 'gemini' } },
  { label: 'Aider', description: 'aider', value: { backend: 'aider' } },
  { label: 'Agent Client Protocol agent', description: 'acp', value: { backend: 'acp' } },
  { label: 'VS Code language model', description: 'vscode-lm', value: { backend: 'vscode-lm' } },
  { label: 'A command', description: 'command', value: { backend: 'command' } },
  { label: 'A person', description: 'human', value: { backend: 'human' } },
];

export interface StageCommandDeps {
  cockpit: Cockpit;
  runner: StageRunner;
  prompter: Prompter;
  confirmer: Confirmer;
  log: vscode.LogOutputChannel;
  showTranscript(change: ChangeState, attempt: AttemptState): Promise<void>;
}

type StageArg = StageNode | { changeId: string; stageId: string } | undefined;
type AttemptArg = StageNode | { changeId: string; attemptId: string } | undefined;

export function registerStageCommands(deps: StageCommandDeps): vscode.Disposable[] {
  const { cockpit, runner, prompter, log } = deps;

  const guard = reportingCommands(log);

  /** Stages run only in a trusted git repository: checkpoints and tree hashes are git's. */
  const requireTrust = async (): Promise<boolean> => {
    if (vscode.workspace.isTrusted) {
      const snapshot = cockpit.state.ready ? cockpit.state : await cockpit.refresh();
      if (!snapshot.isRepository) {
        throw new Error('this folder is not a git repository, so the cockpit is read-only: stages are checkpointed and verified against git trees. Run "git init" to run stages here.');
      }
      return true;
    }
    const choice = await vscode.window.showWarningMessage(
      'Factory: this workspace is not trusted, so no agent, command or git operation runs here. Trust the folder to run stages.',
      'Manage Workspace Trust',
    );
    if (choice) await vscode.commands.executeCommand('workbench.trust.manage');
    return false;
  };

  const currentChange = (): ChangeState => {
    const change = cockpit.state.current;
    if (!change) throw new Error('No change is current: start or switch to one first.');
    return change;
  };

  const changeById = (id: string): Promise<ChangeState> => cockpit.changeById(id);

  const resolveStage = async (arg: StageArg, title: string, filter: (s: StageState) => boolean = () => true): Promise<{ change: ChangeState; stage: StageState } | undefined> => {
    if (arg && 'kind' in arg && arg.kind === 'stage') return { change: arg.change, stage: arg.stage };
    await cockpit.refresh();
    const change = arg && 'changeId' in arg ? await changeById(arg.changeId) : currentChange();
    if (arg && 'stageId' in arg) {
      const stage = change.stages.find((s) => s.id === arg.stageId);
      if (!stage) throw new Error(`There is no stage "${arg.stageId}".`);
      return { change, stage };
    }
    const candidates = change.stages.filter(filter);
    if (candidates.length === 0) throw new Error(`No stage of "${change.title}" can be picked for this.`);
    const stageId = await prompter.pick({ title }, candidates.map((s) => ({ label: s.title, description: s.status, value: s.id })));
    const stage = change.stages.find((s) => s.id === stageId);
    return stage ? { change, stage } : undefined;
  };

  const resolveAttempt = async (arg: AttemptArg, title: string): Promise<{ change: ChangeState; attempt: AttemptState } | undefined> => {
    const change = arg && 'changeId' in arg ? await changeById(arg.changeId) : arg && 'kind' in arg && arg.kind === 'attempt' ? cockpit.state.current : currentChange();
    if (!change) throw new Error('No change is current.');
    const all = change.stages.flatMap((s) => s.attempts.map((a) => ({ a, s })));
    if (arg && 'kind' in arg && arg.kind === 'attempt') return { change, attempt: arg.attempt };
    if (arg && 'attemptId' in arg) {
      const found = all.find((x) => x.a.id === arg.attemptId);
      if (!found) throw new Error(`There is no attempt ${arg.attemptId} in "${change.title}".`);
      return { change, attempt: found.a };
    }
    const id = await prompter.pick(
      { title },
      all.reverse().map(({ a, s }) => ({ label: `${s.title} · attempt ${a.number ?? ''}`.trim(), description: `${a.backend} · ${a.outcome ?? 'running'}`, value: a.id })),
    );
    const found = all.find((x) => x.a.id === id);
    return found ? { change, attempt: found.a } : undefined;
  };

  /** Runs in the background with a cancellable progress notification; the tree and status bar follow the record. */
  const runWithProgress = async (change: ChangeState, stage: StageState | undefined, trigger: 'run' | 'retry'): Promise<RunReport | undefined> => {
    const label = stage ? stage.title : 'the next stage';
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Factory: running ${label} of "${change.title}"`, cancellable: true },
      async (_progress, token) => {
        const identity = await cockpit.deps.git.identity();
        const subscription = token.onCancellationRequested(() => runner.stop(change.id, identity.name));
        try {
          const report = await runner.run({ changeId: change.id, ...(stage ? { stageId: stage.id } : {}), trigger });
          log.info(`Run of ${change.id}/${report.stageId} stopped: ${report.stopped} — ${report.detail}`);
          if (report.stopped === 'completed') void vscode.window.showInformationMessage(`Factory: every stage of "${change.title}" has passed.`);
          if (report.stopped === 'cancelled') void vscode.window.showInformationMessage(`Factory: ${label} was stopped.`);
          return report;
        } finally {
          subscription.dispose();
          await cockpit.refresh();
        }
      },
    );
  };

  return [
    guard('factory.runStage', async (arg?: StageArg) => {
      if (!(await requireTrust())) return undefined;
      const target = await resolveStage(arg, 'Run which stage?', (s) => s.status !== 'running');
      if (!target) return undefined;
      return runWithProgress(target.change, target.stage, 'run');
    }),
    guard('factory.runNext', async () => {
      if (!(await requireTrust())) return undefined;
      const change = currentChange();
      const stage = change.stages.find((s) => s.id === change.activeStageId);
      if (!stage) throw new Error(`Every stage of "${change.title}" has passed.`);
      return runWithProgress(change, stage, stage.status === 'failed' ? 'retry' : 'run');
    }),
    guard('factory.retryStage', async (arg?: StageArg) => {
      if (!(await requireTrust())) return undefined;
      const target = await resolveStage(arg, 'Retry which stage?', (s) => s.status === 'failed' || s.status === 'needsApproval' || s.status === 'stale');
      if (!target) return undefined;
      return runWithProgress(target.change, target.stage, 'retry');
    }),
    guard('factory.stopStage', async (arg?: StageArg) => {
      const change = arg && 'kind' in arg && arg.kind === 'stage' ? arg.change : currentChange();
      const identity = await cockpit.deps.git.identity();
      if (!runner.stop(change.id, identity.name)) void vscode.window.showInformationMessage(`Factory: nothing of "${change.title}" is running in this window.`);
    }),
    guard('factory.rollbackAttempt', async (arg?: AttemptArg) => {
      if (!(await requireTrust())) return undefined;
      const target = await resolveAttempt(arg, 'Roll back which attempt?');
      if (!target) return undefined;
      const done = await runner.rollback({
        changeId: target.change.id,
        attemptId: target.attempt.id,
        confirm: async (files) => {
          if (files.length === 0) {
            void vscode.window.showInformationMessage('Factory: the working tree already matches the checkpoint; the rollback is recorded.');
            return true;
          }
          const words = { restore: 'restored', revert: 'reverted', remove: 'removed' } as const;
          const detail = files
            .slice(0, 30)
            .map((f) => `${words[f.action as keyof typeof words] ?? f.action}: ${f.path}`)
            .join('\n') + (files.length > 30 ? `\n… and ${files.length - 30} more` : '');
          return deps.confirmer.confirm(`Roll back attempt ${target.attempt.number ?? ''} of ${target.attempt.stageId}? ${files.length} file(s) will change.`, detail, 'Roll Back');
        },
      });
      await cockpit.refresh();
      return done;
    }),
    guard('factory.completeByHand', async (arg?: StageArg) => {
      const target = await resolveStage(arg, 'Mark which stage done?', (s) => s.status !== 'passed');
      if (!target) return undefined;
      const note = await prompter.input({ title: `Mark "${target.stage.title}" done`, prompt: 'What was done? (recorded as the handoff summary)', required: true });
      if (!note) return undefined;
      await runner.completeByHand({ changeId: target.change.id, stageId: target.stage.id, note });
      await cockpit.refresh();
      return true;
    }),
    guard('factory.changeOwner', async (arg?: StageArg) => {
      const target = await resolveStage(arg, 'Change the owner of which stage?');
      if (!target) return undefined;
      const owner = await prompter.pick({ title: `Owner of "${target.stage.title}"`, placeHolder: `now: ${target.stage.owner.backend}` }, OWNER_CHOICES);
      if (!owner) return undefined;
      let chosen: Owner = owner;
      if (owner.backend === 'human') {
        const person = await prompter.input({ title: 'Who does this stage?', prompt: 'A person or a role', required: true });
        if (!person) return undefined;
        chosen = { backend: 'human', person };
      }
      await runner.changeOwner({ changeId: target.change.id, stageId: target.stage.id, owner: chosen });
      await cockpit.refresh();
      return chosen;
    }),
    guard('factory.approveStage', async (arg?: StageArg) => {
      const target = await resolveStage(arg, 'Approve which stage?', (s) => s.status === 'needsApproval');
      if (!target) return undefined;
      await runner.decide({ changeId: target.change.id, stageId: target.stage.id, decision: 'approved' });
      await cockpit.refresh();
      return true;
    }),
    guard('factory.sendBackStage', async (arg?: StageArg) => {
      const target = await resolveStage(arg, 'Send which stage back?', (s) => s.status === 'needsApproval' || s.status === 'passed');
      if (!target) return undefined;
      const note = await prompter.input({ title: `Send "${target.stage.title}" back`, prompt: 'What must change? (fed into the next attempt)', required: true });
      if (!note) return undefined;
      await runner.decide({ changeId: target.change.id, stageId: target.stage.id, decision: 'sentBack', note });
      await cockpit.refresh();
      return true;
    }),
    guard('factory.showTranscript', async (arg?: AttemptArg) => {
      const target = await resolveAttempt(arg, 'Show the transcript of which attempt?');
      if (target) await deps.showTranscript(target.change, target.attempt);
    }),
  ];
}

/** Turns an engine gate into a notification with the actions that make sense next. */
export async function announceGate(gate: { changeId: string; stageId: string; reason: GateReason; detail: string }): Promise<void> {
  const arg = { changeId: gate.changeId, stageId: gate.stageId };
  const actions: Record<GateReason, { show: (m: string, ...a: string[]) => Thenable<string | undefined>; buttons: [string, string][] }> = {
    approval: { show: vscode.window.showInformationMessage, buttons: [['Approve', 'factory.approveStage'], ['Send Back', 'factory.sendBackStage']] },
    budget: { show: vscode.window.showWarningMessage, buttons: [['Retry', 'factory.retryStage'], ['Change Owner', 'factory.changeOwner'], ['Mark Done by Hand', 'factory.completeByHand']] },
    failed: { show: vscode.window.showErrorMessage, buttons: [['Retry', 'factory.retryStage'], ['Change Owner', 'factory.changeOwner']] },
    retriesExhausted: { show: vscode.window.showErrorMessage, buttons: [['Mark Done by Hand', 'factory.completeByHand'], ['Change Owner', 'factory.changeOwner']] },
    waitingForPerson: { show: vscode.window.showInformationMessage, buttons: [['Mark Done by Hand', 'factory.completeByHand']] },
  };
  const { show, buttons } = actions[gate.reason];
  const choice = await show(`Factory: ${gate.detail}`, ...buttons.map(([label]) => label));
  const command = buttons.find(([label]) => label === choice)?.[1];
  if (command) await vscode.commands.executeCommand(command, arg);
}
