// Agent backends as the user configured them: settings (`factory.backends.*`) for
// paths, models and arguments; API keys from SecretStorage or the user's own
// environment, never from settings or `.factory/`.
import * as vscode from 'vscode';
import { DEFAULT_PRICES, type BackendsConfig, type PriceTable } from '../backends';

/** Environment variables the cockpit can hold in SecretStorage, one per agent vendor. */
export const SECRET_VARIABLES = ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'GEMINI_API_KEY', 'FACTORY_API_KEY'] as const;

export function readBackendsConfig(): BackendsConfig {
  const c = vscode.workspace.getConfiguration('factory.backends');
  const common = {
    timeoutMs: c.get<number>('timeoutMs') || undefined,
    maxOutputBytes: c.get<number>('maxOutputBytes') || undefined,
  };
  const cli = (id: string) => {
    const value = {
      ...common,
      path: c.get<string>(`${id}.path`) || undefined,
      model: c.get<string>(`${id}.model`) || undefined,
      extraArgs: c.get<string[]>(`${id}.extraArgs`) ?? [],
    };
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
  };
  const list = (key: string) => {
    const value = c.get<string[]>(key);
    return value && value.length > 0 ? value : undefined;
  };
  return {
    'claude-code': { ...cli('claude-code'), permissionMode: c.get<string>('claude-code.permissionMode') || undefined, allowedTools: list('claude-code.allowedTools') },
    codex: { ...cli('codex'), sandbox: c.get<string>('codex.sandbox') || undefined },
    droid: { ...cli('droid'), autonomy: c.get<'low' | 'medium' | 'high'>('droid.autonomy') || undefined },
    gemini: { ...cli('gemini'), approvalMode: c.get<string>('gemini.approvalMode') || undefined },
    aider: { ...cli('aider'), argv: list('aider.argv') },
    command: { ...cli('command'), argv: list('command.argv') },
    acp: { ...common, path: c.get<string>('acp.path') || undefined, args: c.get<string[]>('acp.args') ?? [], clientFileSystem: c.get<boolean>('acp.clientFileSystem', true) },
    'vscode-lm': { vendor: c.get<string>('vscode-lm.vendor') || undefined, family: c.get<string>('vscode-lm.family') || undefined },
    // The user's prices are merged over the built-in table, never instead of it.
    prices: { ...DEFAULT_PRICES, ...(vscode.workspace.getConfiguration('factory').get<PriceTable>('prices') ?? {}) },
  };
}

/** The environment agents run with: the user's, plus keys kept in SecretStorage. */
export async function agentEnvironment(secrets: vscode.SecretStorage): Promise<{ env: Record<string, string | undefined>; secrets: string[] }> {
  const env: Record<string, string | undefined> = { ...process.env };
  const values: string[] = [];
  for (const name of SECRET_VARIABLES) {
    const stored = await secrets.get(`factory.${name}`);
    if (stored) env[name] = stored;
    const value = env[name];
    if (value) values.push(value);
  }
  return { env, secrets: values };
}

export async function setApiKey(secrets: vscode.SecretStorage): Promise<void> {
  const name = await vscode.window.showQuickPick(
    SECRET_VARIABLES.map((v) => ({ label: v })),
    { title: 'Set an API key for agent backends', placeHolder: 'Which variable does the agent read?' },
  );
  if (!name) return;
  const value = await vscode.window.showInputBox({ title: `Value of ${name.label}`, password: true, prompt: 'Kept in VS Code SecretStorage; never written to settings or .factory/. Leave empty to remove it.', ignoreFocusOut: true });
  if (value === undefined) return;
  if (value) await secrets.store(`factory.${name.label}`, value);
  else await secrets.delete(`factory.${name.label}`);
  void vscode.window.showInformationMessage(value ? `Factory: ${name.label} is stored in SecretStorage.` : `Factory: ${name.label} removed.`);
}
