// The status bar item: current change, its active stage and its verification state.
// Clicking it reveals the Stages view. The item is the activation shell's (it shows the
// last window's text until the workbench loads); what it shows is remembered for the next.
import type * as vscode from 'vscode';
import type { ChangeState } from '../core/fold';
import type { RememberedStatus } from '../shell/contract';
import type { Cockpit, CockpitSnapshot } from './cockpit';
import { stageStatusText, verificationText } from './presentation';
import { plainLabel, plainTooltip } from './surface';

export class FactoryStatusBar implements vscode.Disposable {
  private readonly subscription: vscode.Disposable;

  constructor(
    cockpit: Cockpit,
    private readonly item: vscode.StatusBarItem,
    private readonly remember: (status: RememberedStatus) => void,
  ) {
    this.subscription = cockpit.onDidChange((s) => this.render(s));
    this.render(cockpit.state);
  }

  get text(): string {
    return this.item.text;
  }

  private render(snapshot: CockpitSnapshot): void {
    // Until the first read, the shell's remembered text stays.
    if (!snapshot.ready) return;
    const change = snapshot.current;
    if (!change) {
      this.item.text = '$(layers) Factory: no change';
      this.item.tooltip = 'Start or switch to a change';
      this.item.accessibilityInformation = undefined;
      this.item.show();
      this.remember({ text: this.item.text, tooltip: this.item.tooltip, running: false });
      return;
    }
    const stage = change.stages.find((s) => s.id === change.activeStageId);
    const unverified = change.stages.filter((s) => s.unverified).map((s) => s.title);
    // Titles are untrusted: plainLabel keeps `$(…)` in a title from rendering as an icon here.
    const done = unverified.length ? 'done, unverified' : 'done';
    const stageText = stage ? `${plainLabel(stage.title, 40)}${stage.status === 'running' ? ' $(sync~spin)' : ''}` : done;
    this.item.text = `$(layers) ${plainLabel(change.title, 40)} · ${stageText} · ${verificationText(change.verification)}`;
    this.item.tooltip = plainTooltip(
      `Change: ${change.title}\n\nStage: ${stage ? `${stage.title} (${stageStatusText(stage)})` : 'all stages passed'}\n\nVerification: ${verificationDetail(change.verification)}`,
      ...(unverified.length ? [`\n\nPassed with no criterion verifying them: ${unverified.join(', ')}`] : []),
    );
    this.item.accessibilityInformation = { label: plainLabel(`Factory change ${change.title}, stage ${stage?.title ?? done}, verification ${change.verification.state}`, 400) };
    this.item.show();
    const tooltip = typeof this.item.tooltip === 'string' ? this.item.tooltip : (this.item.tooltip?.value ?? '');
    this.remember({ text: this.item.text, tooltip, running: change.stages.some((s) => s.status === 'running') });
  }

  dispose(): void {
    this.subscription.dispose();
  }
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
