// Questions the cockpit asks a person. A port, so commands stay testable and other
// front ends (the CLI) ask their own way.
import * as vscode from 'vscode';
import { plainLabel } from './surface';

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
      title: plainLabel(title),
      prompt: plainLabel(prompt, 400),
      placeHolder: placeHolder === undefined ? undefined : plainLabel(placeHolder),
      value,
      ignoreFocusOut: true,
      validateInput: required ? (text) => (text.trim() ? undefined : 'Required') : undefined,
    });
  },
  async pick(options, items) {
    const picked = await vscode.window.showQuickPick(
      // Every label a pick shows is someone's text (titles, file names): plain, never an icon.
      items.map((item) => ({ label: plainLabel(item.label), description: item.description === undefined ? undefined : plainLabel(item.description, 400), detail: item.detail === undefined ? undefined : plainLabel(item.detail, 400), item })),
      { title: plainLabel(options.title), placeHolder: options.placeHolder === undefined ? undefined : plainLabel(options.placeHolder, 400), ignoreFocusOut: true, matchOnDescription: true },
    );
    return picked?.item.value;
  },
};
