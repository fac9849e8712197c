// Questions the cockpit asks a person. A port, so commands stay testable and other
// front ends (the CLI) ask their own way.
import * as vscode from 'vscode';

export interface PickItem<T> {
  label: string;
  description?: string;
  detail?: string;
  value: T;
}

export interface Prompter {
  input(options: { title: string; prompt: string; placeHolder?: string; value?: string; required?: boolean }): Promise<string | undefined>;
  pick<T>(options: { title: string; placeHolder?: string }, items: PickItem<T>[]): Promise<T | undefined>;
}

export const vscodePrompter: Prompter = {
  async input({ title, prompt, placeHolder, value, required }) {
    return vscode.window.showInputBox({
      title,
      prompt,
      placeHolder,
      value,
      ignoreFocusOut: true,
      validateInput: required ? (text) => (text.trim() ? undefined : 'Required') : undefined,
    });
  },
  async pick(options, items) {
    const picked = await vscode.window.showQuickPick(
      items.map((item) => ({ label: item.label, description: item.description, detail: item.detail, item })),
      { title: options.title, placeHolder: options.placeHolder, ignoreFocusOut: true, matchOnDescription: true },
    );
    return picked?.item.value;
  },
};
