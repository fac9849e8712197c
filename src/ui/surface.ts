// Untrusted text on a VS Code surface, in one place: every notification the cockpit
// shows goes through `notify`, every line it logs through `safeLog`, and labels,
// descriptions, tooltips and quick-pick items through the `plain*` helpers (the pure
// rules are in core/safeText.ts). A change title, a stage title, a file name, an
// agent's output or a report's message never becomes a link (`[x](command:…)` in a
// notification), an icon (`$(…)` in a label or the status bar), or reversed text
// (bidirectional and other control characters are shown escaped).
import * as vscode from 'vscode';
import { plainDetail, plainLabel, plainMarkdown, plainMessage } from '../engine/viewModels';

export { plainDetail, plainLabel, plainMarkdown, plainMessage };

type Show = <T extends string>(message: string, ...items: T[]) => Thenable<T | undefined>;

const guarded =
  (show: Show) =>
  <T extends string>(message: string, ...items: T[]): Thenable<T | undefined> =>
    show(plainMessage(message), ...items);

/** Notifications whose message is plain text, whatever it quotes. */
export const notify = {
  info: guarded(vscode.window.showInformationMessage as Show),
  warn: guarded(vscode.window.showWarningMessage as Show),
  error: guarded(vscode.window.showErrorMessage as Show),
};

/** A tooltip built from untrusted text: markdown-escaped, so nothing in it renders. */
export function plainTooltip(...parts: (string | { bold: string })[]): vscode.MarkdownString {
  const md = new vscode.MarkdownString('', false);
  md.isTrusted = false;
  md.supportHtml = false;
  for (const part of parts) md.appendMarkdown(typeof part === 'string' ? plainMarkdown(part) : `**${plainMarkdown(part.bold)}**`);
  return md;
}
