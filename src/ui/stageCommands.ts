// The stage actions of the Stages view and the palette: run, run next, stop, retry,
// roll back, mark done by hand, change owner, approve, send back. Each checks
// Workspace Trust, asks what it must through the prompts port, calls the engine, and
// turns the engine's gates into notifications a person can act on.
import * as vscode from 'vscode';
import { notify, plainLabel } from './surface';
import type { StageAction } from '../core/actions';
import type { AttemptState, ChangeState, StageState } from '../core/fold';
import type { Owner } from '../core/pipeline';
import { FactoryRefusal, type Confirmer, type RunReport } from '../engine/factory';
import type { GateReason } from '../engine/stageRunner';
import type { Cockpit } from './cockpit';
import type { Prompter } from './prompts';
import type { StageNode } from './stagesTree';
import { reportingCommands } from './reportingCommand';
import type { DetachedRuns } from './detachedRuns';

/**
 * A quick pick, not a modal dialog: it lists what will change where the person is
 * already looking, works with the keyboard, and Escape cancels.
 */
export const vscodeConfirmer: Confirmer = {
  async confirm(message, detail, action) {
    const picked = await vscode.window.showQuickPick(
      [
        { label: `$(warning) ${action}`, description: plainLabel(message, 400), detail: plainLabel(detail.split('\n').join(' · '), 2000), confirmed: true },
        { label: 'Cancel', description: 'change nothing', confirmed: false },
      ],
      { title: plainLabel(message, 400), placeHolder: `${action}? Escape cancels.`, ignoreFocusOut: true },
    );
    return picked?.confirmed ?? false;
  },
};

export interface StageCommandDeps {
  cockpit: Cockpit;
  prompter: Prompter;
  log: vscode.LogOutputChannel;
  showTranscript(change: ChangeState, attempt: AttemptState): Promise<void>;
  /** Runs handed to detached runners that outlive the window (absent: runs stay in this window). */
  detached?: DetachedRuns;
}

type StageArg = StageNode | { changeId: string; stageId: string; toStage?: string; note?: string } | undefined;
type AttemptArg = StageNode | { changeId: string; attemptId: string } | undefined;

/**
 * The stage actions. The engine decides whether each is allowed (and says why not);
 * this file only finds the stage a command is about, asks a person what the engine
 * needs (a note, a target stage), and shows progress and outcomes.
 */
export function registerStageCommands(deps: StageCommandDeps): vscode.Disposable[] {
  const { cockpit, prompter, log } = deps;
  const factory = cockpit.factory;
  const guard = reportingCommands(log, describeError);

  const currentChange = async (): Promise<ChangeState> => {
    const change = (cockpit.state.ready ? cockpit.state : await cockpit.refresh()).current;
    if (!change) throw new FactoryRefusal('No change is current: start or switch to one first.');
    return change;
  };

  /** The stage a command is about: the tree row, the arguments, or a pick among the stages the engine allows it on. */
  const resolveStage = async (arg: StageArg, title: string, action?: StageAction): Promise<{ change: ChangeState; stage: StageState } | undefined> => {
    await cockpit.refresh();
    if (arg && 'kind' in arg && arg.kind === 'stage') {
      // The row may be older than the record: act on the change as it is now.
      const change = await cockpit.changeById(arg.change.id);
      return { change, stage: change.stages.find((s) => s.id === arg.stage.id) ?? arg.stage };
    }
    const change = arg && 'changeId' in arg ? await cockpit.changeById(arg.changeId) : await currentChange();
    if (arg && 'stageId' in arg) {
      const stage = change.stages.find((s) => s.id === arg.stageId);
      if (!stage) throw new FactoryRefusal(`There is no stage "${arg.stageId}" in "${change.title}".`);
      return { change, stage };
    }
    const context = cockpit.actionContext;
    const candidates = action ? change.stages.filter((s) => factory.allowedWith(change, s, context).includes(action)) : change.stages;
    if (candidates.length === 0) throw new FactoryRefusal(`No stage of "${change.title}" allows this now.`);
    if (candidates.length === 1 && action) return { change, stage: candidates[0]! };
    const stageId = await prompter.pick({ title }, candidates.map((s) => ({ label: s.title, description: s.status, value: s.id })));
    const stage = change.stages.find((s) => s.id === stageId);
    return stage ? { change, stage } : undefined;
  };

  const resolveAttempt = async (arg: AttemptArg, title: string): Promise<{ change: ChangeState; attempt: AttemptState } | undefined> => {
    if (arg && 'kind' in arg && arg.kind === 'attempt') return { change: arg.change, attempt: arg.attempt };
    const change = arg && 'changeId' in arg ? await cockpit.changeById(arg.changeId) : await currentChange();
    const all = change.stages.flatMap((s) => s.attempts.map((a) => ({ a, s })));
    if (arg && 'attemptId' in arg) {
      const found = all.find((x) => x.a.id === arg.attemptId);
      if (!found) throw new FactoryRefusal(`There is no attempt ${arg.attemptId} in "${change.title}".`);
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
  const withRunProgress = async (change: ChangeState, label: string, start: () => Promise<RunReport>): Promise<RunReport | undefined> =>
    vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Factory: running ${label} of "${change.title}"`, cancellable: true }, async (_progress, token) => {
      const subscription = token.onCancellationRequested(() => void factory.stop(change.id).then((here) => here || deps.detached?.stop(change.id)));
      try {
        const report = await start();
        log.info(`Run of ${change.id}/${report.stageId} stopped: ${report.stopped} — ${report.detail}`);
        if (report.stopped === 'completed') void notify.info(`Factory: every stage of "${change.title}" has passed.`);
        if (report.stopped === 'cancelled') void notify.info(`Factory: ${label} was stopped.`);
        return report;
      } finally {
        subscription.dispose();
        await cockpit.refresh();
      }
    });

  /**
   * A run the editor starts goes to a detached runner, which outlives the window; a
   * stage whose backend lives in the editor (vscode.lm) runs here. The rules are asked
   * here first (the runner asks them again), so a refusal reads the same either way.
   */
  const detachedOr = async (input: { change: ChangeState; mode: 'run' | 'next' | 'retry'; stageId?: string; outOfOrder?: boolean }, inWindow: () => Promise<RunReport>): Promise<RunReport> => {
    const detached = deps.detached;
    if (!detached || !detached.canDetach(input.change, input.stageId)) return inWindow();
    if (input.stageId) {
      await factory.ensure(input.mode === 'retry' ? 'retry' : 'run', input.change, input.stageId, { outOfOrder: Boolean(input.outOfOrder) });
    }
    return detached.run(input);
  };

  const pickEarlierStage = async (change: ChangeState, stage: StageState): Promise<string | undefined> => {
    const index = change.stages.findIndex((s) => s.id === stage.id);
    const choices = change.stages.slice(0, index + 1).reverse();
    if (choices.length === 1) return stage.id;
    return prompter.pick(
      { title: `Send "${stage.title}" back to which stage?`, placeHolder: 'That stage reopens; the stages after it go back to pending' },
      choices.map((s) => ({ label: s.title, description: s.id === stage.id ? 'this stage' : s.status, value: s.id })),
    );
  };

  return [
    guard('factory.runStage', async (arg?: StageArg & { outOfOrder?: boolean }) => {
      const target = await resolveStage(arg, 'Run which stage?', 'run');
      if (!target) return undefined;
      const outOfOrder = arg && 'outOfOrder' in arg ? arg.outOfOrder === true : false;
      const verdict = await factory.check('run', target.change, target.stage.id, { outOfOrder });
      if (!verdict.allowed && /has not handed off/.test(verdict.reason)) {
        // Out of order on purpose is a person's choice: ask rather than refuse.
        const choice = await notify.warn(`Factory: ${verdict.reason}.`, 'Run Out of Order');
        if (choice !== 'Run Out of Order') return undefined;
        return withRunProgress(target.change, target.stage.title, () => detachedOr({ change: target.change, mode: 'run', stageId: target.stage.id, outOfOrder: true }, () => factory.run({ changeId: target.change.id, stageId: target.stage.id, outOfOrder: true })));
      }
      return withRunProgress(target.change, target.stage.title, () => detachedOr({ change: target.change, mode: 'run', stageId: target.stage.id, outOfOrder }, () => factory.run({ changeId: target.change.id, stageId: target.stage.id, outOfOrder })));
    }),
    guard('factory.runNext', async () => {
      const change = await currentChange();
      const stage = change.stages.find((s) => s.id === change.activeStageId);
      return withRunProgress(change, stage ? stage.title : 'the next stage', () => detachedOr({ change, mode: 'next' }, () => factory.runNext(change.id)));
    }),
    guard('factory.retryStage', async (arg?: StageArg) => {
      const target = await resolveStage(arg, 'Retry which stage?', 'retry');
      if (!target) return undefined;
      return withRunProgress(target.change, target.stage.title, () => detachedOr({ change: target.change, mode: 'retry', stageId: target.stage.id }, () => factory.retry({ changeId: target.change.id, stageId: target.stage.id })));
    }),
    guard('factory.stopStage', async (arg?: StageArg) => {
      const target = await resolveStage(arg, 'Stop which stage?', 'stop');
      if (!target) return undefined;
      await factory.ensure('stop', target.change, target.stage.id);
      if (!(await factory.stop(target.change.id)) && !(await deps.detached?.stop(target.change.id))) void notify.info(`Factory: "${target.stage.title}" is not running in this window.`);
      return true;
    }),
    guard('factory.rollbackAttempt', async (arg?: AttemptArg) => {
      const target = await resolveAttempt(arg, 'Roll back which attempt?');
      if (!target) return undefined;
      const done = await factory.rollback({ changeId: target.change.id, attemptId: target.attempt.id });
      await cockpit.refresh();
      return done;
    }),
    guard('factory.completeByHand', async (arg?: StageArg) => {
      const target = await resolveStage(arg, 'Mark which stage done?', 'completeByHand');
      if (!target) return undefined;
      await factory.ensure('completeByHand', target.change, target.stage.id);
      const given = arg && 'note' in arg ? arg.note : undefined;
      const note = given ?? (await prompter.input({ title: `Mark "${target.stage.title}" done`, prompt: 'What was done? (recorded as the handoff summary)', required: true }));
      if (!note) return undefined;
      await factory.completeByHand({ changeId: target.change.id, stageId: target.stage.id, note });
      await cockpit.refresh();
      return true;
    }),
    guard('factory.changeOwner', async (arg?: StageArg) => {
      const target = await resolveStage(arg, 'Change the owner of which stage?', 'changeOwner');
      if (!target) return undefined;
      const owner = await prompter.pick<Owner>(
        { title: `Owner of "${target.stage.title}"`, placeHolder: `now: ${target.stage.owner.backend}` },
        factory.ownerChoices().map((c) => ({ label: c.label, description: c.backend, value: { backend: c.backend } })),
      );
      if (!owner) return undefined;
      let chosen: Owner = owner;
      if (owner.backend === 'human') {
        const person = await prompter.input({ title: 'Who does this stage?', prompt: 'A person or a role', required: true });
        if (!person) return undefined;
        chosen = { backend: 'human', person };
      }
      await factory.changeOwner({ changeId: target.change.id, stageId: target.stage.id, owner: chosen });
      await cockpit.refresh();
      return chosen;
    }),
    guard('factory.approveStage', async (arg?: StageArg) => {
      const target = await resolveStage(arg, 'Approve which stage?', 'approve');
      if (!target) return undefined;
      await factory.approve({ changeId: target.change.id, stageId: target.stage.id, ...(arg && 'note' in arg && arg.note ? { note: arg.note } : {}) });
      await cockpit.refresh();
      return true;
    }),
    guard('factory.sendBackStage', async (arg?: StageArg) => {
      const target = await resolveStage(arg, 'Send which stage back?', 'sendBack');
      if (!target) return undefined;
      // Asked first, so a refusal comes before the questions.
      await factory.ensure('sendBack', target.change, target.stage.id);
      const toStage = arg && 'toStage' in arg && arg.toStage ? arg.toStage : await pickEarlierStage(target.change, target.stage);
      if (!toStage) return undefined;
      const toTitle = target.change.stages.find((s) => s.id === toStage)?.title ?? toStage;
      const given = arg && 'note' in arg ? arg.note : undefined;
      const note = given ?? (await prompter.input({ title: `Send "${target.stage.title}" back to "${toTitle}"`, prompt: 'What must change? (fed into its next run)', required: true }));
      if (!note) return undefined;
      await factory.sendBack({ changeId: target.change.id, stageId: target.stage.id, toStage, note });
      await cockpit.refresh();
      return true;
    }),
    guard('factory.showTranscript', async (arg?: AttemptArg) => {
      const target = await resolveAttempt(arg, 'Show the transcript of which attempt?');
      if (!target) return;
      // A person's work has no agent transcript: their stage's task page instead.
      if (target.attempt.backend === 'human') await showStageTask({ changeId: target.change.id, stageId: target.attempt.stageId });
      else await deps.showTranscript(target.change, target.attempt);
    }),
    guard('factory.showStageTask', async (arg?: StageArg) => {
      const target = await resolveStage(arg, 'Show the task of which stage?');
      if (target) await showStageTask({ changeId: target.change.id, stageId: target.stage.id });
    }),
    vscode.workspace.registerTextDocumentContentProvider(TASK_SCHEME, {
      provideTextDocumentContent: (uri) => {
        const [changeId = '', stageId = ''] = uri.path.replace(/^\//, '').replace(/\.md$/, '').split('/');
        return factory.stageTask(changeId, stageId);
      },
    }),
  ];
}

/** `factory-task:/<change>/<stage>.md`: a person's stage as a read-only page. */
const TASK_SCHEME = 'factory-task';

async function showStageTask(target: { changeId: string; stageId: string }): Promise<void> {
  const uri = vscode.Uri.from({ scheme: TASK_SCHEME, path: `/${target.changeId}/${target.stageId}.md` });
  const document = await vscode.workspace.openTextDocument(uri);
  await vscode.languages.setTextDocumentLanguage(document, 'markdown');
  await vscode.window.showTextDocument(document, { preview: true });
}

/** A refusal is the engine's sentence as it is; anything else is an error message. */
function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Turns an engine gate into a notification with the actions that make sense next. */
export async function announceGate(gate: { changeId: string; stageId: string; reason: GateReason; detail: string }): Promise<void> {
  const arg = { changeId: gate.changeId, stageId: gate.stageId };
  const actions: Record<GateReason, { show: (m: string, ...a: string[]) => Thenable<string | undefined>; buttons: [string, string][] }> = {
    approval: { show: notify.info, buttons: [['Approve', 'factory.approveStage'], ['Send Back', 'factory.sendBackStage']] },
    budget: { show: notify.warn, buttons: [['Retry', 'factory.retryStage'], ['Change Owner', 'factory.changeOwner'], ['Mark Done by Hand', 'factory.completeByHand']] },
    failed: { show: notify.error, buttons: [['Retry', 'factory.retryStage'], ['Change Owner', 'factory.changeOwner']] },
    retriesExhausted: { show: notify.error, buttons: [['Mark Done by Hand', 'factory.completeByHand'], ['Change Owner', 'factory.changeOwner']] },
    waitingForPerson: { show: notify.info, buttons: [['Mark Done by Hand', 'factory.completeByHand']] },
  };
  const { show, buttons } = actions[gate.reason];
  const choice = await show(`Factory: ${gate.detail}`, ...buttons.map(([label]) => label));
  const command = buttons.find(([label]) => label === choice)?.[1];
  if (command) await vscode.commands.executeCommand(command, arg);
}
