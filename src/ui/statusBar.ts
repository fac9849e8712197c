// The status bar item: current change, its active stage and its verification state.
// Clicking it reveals the Stages view.
import * as vscode from 'vscode';
import type { ChangeState } from '../core/fold';
import type { Cockpit, CockpitSnapshot } from './cockpit';
import { verificationText } from './presentation';

export class FactoryStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('factory.status', vscode.StatusBarAlignment.Left, 50);
  private readonly subscription: vscode.Disposable;

  constructor(cockpit: Cockpit) {
    this.item.name = 'Factory Cockpit';
    this.item.command = 'factory.showStages';
    this.subscription = cockpit.onDidChange((s) => this.render(s));
    this.render(cockpit.state);
  }

  get text(): string {
    return this.item.text;
  }

  private render(snapshot: CockpitSnapshot): void {
    if (!snapshot.ready) {
      this.item.hide();
      return;
    }
    const change = snapshot.current;
    if (!change) {
      this.item.text = '$(layers) Factory: no change';
      this.item.tooltip = 'Start or switch to a change';
      this.item.show();
      return;
    }
    const stage = change.stages.find((s) => s.id === change.activeStageId);
    const stageText = stage ? `${stage.title}${stage.status === 'running' ? ' $(sync~spin)' : ''}` : 'done';
    this.item.text = `$(layers) ${truncate(change.title, 40)} · ${stageText} · ${verificationText(change.verification)}`;
    const tooltip = new vscode.MarkdownString();
    tooltip.appendText(`Change: ${change.title}\n\nStage: ${stage ? `${stage.title} (${stage.status})` : 'all stages passed'}\n\nVerification: ${verificationDetail(change.verification)}`);
    this.item.tooltip = tooltip;
    this.item.accessibilityInformation = { label: `Factory change ${change.title}, stage ${stage?.title ?? 'done'}, verification ${change.verification.state}` };
    this.item.show();
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function verificationDetail(v: ChangeState['verification']): string {
  switch (v.state) {
    case 'stale':
      return `stale — the working tree changed since ${v.stale} result${v.stale === 1 ? ' was' : 's were'} verified; run Factory: Verify Change again`;
    case 'running':
      return `running — ${v.passed + v.failed} of ${v.total} criteria done`;
    default:
      return v.state;
  }
}
