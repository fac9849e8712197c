// Verification in the editor: the Verify Change / Verify Stage / Verify Evidence
// commands and the Testing view's controller (testing.ts) share one runner here, which
// refuses in an untrusted workspace before anything starts, passes the browser setting
// to the runner and shows the run as "verifying" in every view while it lasts.
import * as vscode from 'vscode';
import { notify } from './surface';
import type { StageState } from '../core/fold';
import { WorkspaceNotTrustedError } from '../engine/factory';
import { criteriaToRun, stageOf, type StageVerificationRun, type VerifyStageInput } from '../engine/verification';
import type { Cockpit } from './cockpit';
import { registerTestController } from './testing';
import { reportingCommands } from './reportingCommand';

export type VerifyRequest = Omit<VerifyStageInput, 'browserExecutablePath' | 'env'>;

/** What the Verify commands return, for keybindings, tasks and other extensions. */
export interface VerifyCommandResult {
  changeId: string;
  stageId: string;
  passed: boolean;
  waitingForApproval: boolean;
  cancelled: boolean;
  results: { criterionId: string; outcome: string; message: string; required: boolean }[];
  failureFeedback?: string;
}

export class VerificationService {
  constructor(
    private readonly cockpit: Cockpit,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Why nothing may run here, or undefined when verification may run. */
  refusal(): string | undefined {
    if (!vscode.workspace.isTrusted) return new WorkspaceNotTrustedError('run verification commands').message;
    if (this.cockpit.state.ready && !this.cockpit.state.isRepository) {
      return 'This folder is not a git repository: verification results are bound to a git tree hash, so nothing runs until it is one.';
    }
    return undefined;
  }

  /** Runs (some of) a stage's criteria through the engine; the change shows as "verifying" meanwhile. */
  async verify(request: VerifyRequest): Promise<StageVerificationRun> {
    const refusal = this.refusal();
    // Checked here as well as by the trust-gated git port, so nothing is ever spawned.
    if (refusal) throw new VerificationRefusedError(refusal);
    const pipeline = this.cockpit.state.pipeline;
    const total = pipeline ? criteriaToRun(stageOf(pipeline, request.stageId), request).length : 0;
    const activity = { total, passed: 0, failed: 0 };
    this.cockpit.setVerifying(request.changeId, activity);
    this.log.info(`Verifying ${request.changeId} / ${request.stageId}${request.criterionIds ? ` (${request.criterionIds.join(', ')})` : ''}`);
    try {
      const run = await this.cockpit.factory.verifyStage({
        ...request,
        progress: {
          ...request.progress,
          criterionFinished: (criterion, result) => {
            if (result.outcome === 'passed') activity.passed++;
            else activity.failed++;
            this.cockpit.setVerifying(request.changeId, { ...activity });
            this.log.info(`  ${criterion.id}: ${result.outcome} — ${result.message}`);
            request.progress?.criterionFinished?.(criterion, result);
          },
        },
      });
      return run;
    } finally {
      // Read the results first, so the views go from "verifying" straight to the new verdict.
      await this.cockpit.refresh();
      this.cockpit.setVerifying(request.changeId, undefined);
    }
  }
}

export class VerificationRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerificationRefused';
  }
}

/** Registers the verification commands and the Testing view's controller. */
export function registerVerification(context: vscode.ExtensionContext, cockpit: Cockpit, log: vscode.LogOutputChannel): VerificationService {
  const service = new VerificationService(cockpit, log);
  const run = reportingCommands(log);

  const refuse = (what: string): { refused: string } | undefined => {
    const refusal = service.refusal();
    if (!refusal) return undefined;
    const trust = !vscode.workspace.isTrusted;
    void notify.warn(`Factory: ${what} did not run. ${refusal}`, ...(trust ? ['Manage Workspace Trust'] : [])).then((choice) => {
      if (choice) void vscode.commands.executeCommand('workbench.trust.manage');
    });
    log.warn(`${what} refused: ${refusal}`);
    return { refused: refusal };
  };

  const verifyWithProgress = async (changeId: string, stage: Pick<StageState, 'id' | 'title'>, requiredOnly: boolean): Promise<VerifyCommandResult | undefined> => {
    const title = `Verifying ${stage.title}`;
    const run = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
      const abort = new AbortController();
      const cancel = token.onCancellationRequested(() => abort.abort());
      const total = cockpit.state.pipeline ? criteriaToRun(stageOf(cockpit.state.pipeline, stage.id), { requiredOnly }).length : 0;
      let done = 0;
      try {
        return await service.verify({
          changeId,
          stageId: stage.id,
          requiredOnly,
          signal: abort.signal,
          progress: {
            criterionStarted: (criterion) => progress.report({ message: `${criterion.title ?? criterion.id} (${done + 1}/${total})` }),
            criterionFinished: () => progress.report({ increment: total ? 100 / total : 0, message: `${++done}/${total} done` }),
          },
        });
      } finally {
        cancel.dispose();
      }
    });
    reportOutcome(run, stage.title, log);
    return {
      changeId: run.changeId,
      stageId: run.stageId,
      passed: run.passed,
      waitingForApproval: run.waitingForApproval,
      cancelled: run.cancelled,
      results: run.results.map((r) => ({ criterionId: r.criterionId, outcome: r.outcome, message: r.message, required: r.required })),
      ...(run.failureFeedback ? { failureFeedback: run.failureFeedback } : {}),
    };
  };

  context.subscriptions.push(
    run('factory.verifyChange', async () => {
      const refused = refuse('Verify Change');
      if (refused) return refused;
      const snapshot = cockpit.state.ready ? cockpit.state : await cockpit.refresh();
      const change = snapshot.current;
      if (!change) throw new Error('There is no current change to verify: start or switch to one first.');
      const stage = cockpit.factory.stageToVerify(change);
      if (!stage) throw new Error(`Change "${change.title}" has no stages.`);
      const criteria = snapshot.pipeline ? criteriaToRun(stageOf(snapshot.pipeline, stage.id), { requiredOnly: true }) : [];
      if (criteria.length === 0) {
        void notify.info(`Factory: stage ${stage.title} has no required verification criteria; nothing to run. Add some to .factory/pipeline.json.`);
        return { changeId: change.id, stageId: stage.id, passed: true, waitingForApproval: false, cancelled: false, results: [] } satisfies VerifyCommandResult;
      }
      return verifyWithProgress(change.id, stage, true);
    }),
    run('factory.verifyStage', async (node?: { change?: { id: string }; stage?: { id: string } } | string) => {
      const refused = refuse('Verify Stage');
      if (refused) return refused;
      const snapshot = cockpit.state.ready ? cockpit.state : await cockpit.refresh();
      // From the Stages view a row is passed; from the palette or a keybinding, a stage id (default: the active stage).
      const change = typeof node === 'object' && node.change ? await cockpit.changeById(node.change.id) : snapshot.current;
      if (!change) throw new Error('There is no current change to verify: start or switch to one first.');
      const stageId = typeof node === 'string' ? node : typeof node === 'object' && node.stage ? node.stage.id : change.activeStageId;
      const stage = change.stages.find((s) => s.id === stageId);
      if (!stage) throw new Error(`Change "${change.title}" has no stage "${stageId ?? ''}".`);
      return verifyWithProgress(change.id, stage, false);
    }),
    run('factory.verifyEvidence', async () => {
      // Reading and hashing files runs nothing from the workspace: allowed even when untrusted.
      const check = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Factory: checking evidence' }, () => cockpit.factory.verifyEvidence());
      if (check.mismatches.length === 0) {
        const text = check.checked === 0 ? 'there is no stored evidence yet' : `all ${check.checked} evidence file${check.checked === 1 ? '' : 's'} match their sha256`;
        log.info(`Verify Evidence: ${text}`);
        void notify.info(`Factory: ${text}.`);
      } else {
        for (const m of check.mismatches) log.error(`Verify Evidence: ${describeMismatch(m)}`);
        const list = check.mismatches.map(describeMismatch).join('; ');
        void vscode.window
          .showErrorMessage(`Factory: ${check.mismatches.length} of ${check.checked} evidence files do not match their hash: ${list}`, 'Show Log')
          .then((choice) => choice && log.show());
      }
      return { checked: check.checked, mismatches: check.mismatches.map((m) => ({ path: m.path, sha256: m.sha256, problem: m.problem, message: m.message, names: m.names, changes: m.changes })) };
    }),
    registerTestController(cockpit, service, log),
  );
  return service;
}

function describeMismatch(m: { message: string; names: string[] }): string {
  return m.names.length ? `${m.message} (${m.names.join(', ')})` : m.message;
}

function reportOutcome(run: StageVerificationRun, stageTitle: string, log: vscode.LogOutputChannel): void {
  const required = run.results.filter((r) => r.required);
  const passedCount = required.filter((r) => r.outcome === 'passed').length;
  const notPassing = run.results.filter((r) => r.required && r.outcome !== 'passed' && !r.waitingForApproval);
  const showTests = 'Show in Testing';
  const open = (choice: string | undefined) => {
    if (choice === showTests) void vscode.commands.executeCommand('workbench.view.testing.focus');
    else if (choice) log.show();
  };
  if (run.cancelled) {
    void notify.info(`Factory: verification of ${stageTitle} was cancelled; ${passedCount} of ${required.length} required criteria passed before it stopped.`);
  } else if (run.passed) {
    void notify.info(`Factory: ${stageTitle} verified — ${passedCount} of ${required.length} required criteria passed.`, showTests).then(open);
  } else if (run.waitingForApproval) {
    const waiting = run.results.filter((r) => r.waitingForApproval).map((r) => r.message);
    void notify.info(`Factory: ${stageTitle} is waiting for approval: ${waiting.join('; ')}`, showTests).then(open);
  } else {
    const list = notPassing.map((r) => `${r.title ?? r.criterionId} ${r.outcome} (${r.message})`).join('; ');
    void notify.warn(`Factory: ${stageTitle} did not pass verification — ${list}`, showTests, 'Show Log').then(open);
  }
}
