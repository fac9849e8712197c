// Agent backends in the editor: API keys in SecretStorage (never in settings or
// `.factory/`), the "Check Agent Backends" picker, and recovery of attempts whose
// window closed. Which backends exist and which keys they read is the engine's table.
import * as vscode from 'vscode';
import { notify, plainLabel } from './surface';
import type { Cockpit } from './cockpit';
import { reportingCommands } from './reportingCommand';

/** SecretStorage keys are namespaced, so another extension's secrets never collide. */
export const secretKey = (variable: string): string => `factory.${variable}`;

export function registerBackendCommands(context: vscode.ExtensionContext, cockpit: Cockpit, log: vscode.LogOutputChannel): vscode.Disposable[] {
  const factory = cockpit.factory;
  const run = reportingCommands(log);
  return [
    run('factory.setApiKey', () => setApiKey(context.secrets, factory.secretVariables())),
    run('factory.checkBackends', async () => {
      const models = await vscode.lm.selectChatModels().then((m) => m.length, () => 0);
      const checks = await factory.checkBackends(models);
      const reports = (c: (typeof checks)[number]) =>
        [c.capabilities.tokenUsage ? 'tokens' : undefined, c.capabilities.cost === 'none' ? 'cost unknown' : `cost (${c.capabilities.cost})`, c.capabilities.toolCalls ? 'tool calls' : undefined, c.capabilities.canEditFiles ? 'edits files' : 'cannot edit files']
          .filter(Boolean)
          .join(', ');
      await vscode.window.showQuickPick(
        checks.map((c) => ({
          label: `${c.available ? '$(pass-filled)' : '$(circle-slash)'} ${plainLabel(c.displayName)}`,
          // A version line or a path comes from the machine, not from us: plain.
          description: plainLabel(c.available ? [c.version, c.path].filter(Boolean).join(' · ') : c.problem, 400),
          detail: plainLabel(`Reports: ${reports(c)}${c.setting ? ` · setting: ${c.setting}` : ''}`, 400),
        })),
        { title: 'Factory: agent backends on this machine', placeHolder: `${checks.filter((c) => c.available).length} of ${checks.length} available` },
      );
      return checks;
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('factory.backends') || e.affectsConfiguration('factory.prices')) factory.reloadBackends();
    }),
  ];
}

async function setApiKey(secrets: vscode.SecretStorage, variables: readonly string[]): Promise<void> {
  const name = await vscode.window.showQuickPick(
    variables.map((v) => ({ label: v })),
    { title: 'Set an API key for agent backends', placeHolder: 'Which variable does the agent read?' },
  );
  if (!name) return;
  const value = await vscode.window.showInputBox({ title: `Value of ${name.label}`, password: true, prompt: 'Kept in VS Code SecretStorage; never written to settings or .factory/. Leave empty to remove it.', ignoreFocusOut: true });
  if (value === undefined) return;
  if (value) await secrets.store(secretKey(name.label), value);
  else await secrets.delete(secretKey(name.label));
  void notify.info(value ? `Factory: ${name.label} is stored in SecretStorage.` : `Factory: ${name.label} removed.`);
}

/** On start (and when trust is granted): attempts whose process died are recorded as interrupted. */
export async function recoverInterrupted(cockpit: Cockpit, log: vscode.LogOutputChannel): Promise<void> {
  if (!vscode.workspace.isTrusted) return;
  const recovered = await cockpit.factory.recoverInterrupted();
  await cockpit.refresh();
  if (recovered.length === 0) return;
  log.warn(`Recorded ${recovered.length} interrupted attempt(s): ${recovered.map((r) => `${r.changeId}/${r.stageId}`).join(', ')}`);
  const choice = await notify.warn(
    `Factory: ${recovered.length} attempt(s) stopped when the window closed (${recovered.map((r) => r.stageId).join(', ')}). They are recorded as interrupted.`,
    'Retry',
  );
  if (choice) await vscode.commands.executeCommand('factory.retryStage', { changeId: recovered[0]!.changeId, stageId: recovered[0]!.stageId });
}
