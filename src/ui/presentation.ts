// How factory states look in VS Code: codicons, colours and words. One place, so
// the tree, the status bar and later views agree.
import * as vscode from 'vscode';
import type { AttemptOutcome } from '../core/events';
import type { AttemptState, StageStatus, VerificationState } from '../core/fold';
import type { Owner } from '../core/pipeline';

const stageLook: Record<StageStatus, { icon: string; color?: string; label: string }> = {
  pending: { icon: 'circle-large-outline', label: 'pending' },
  running: { icon: 'sync~spin', color: 'charts.blue', label: 'running' },
  passed: { icon: 'pass-filled', color: 'testing.iconPassed', label: 'passed' },
  failed: { icon: 'error', color: 'testing.iconFailed', label: 'failed' },
  needsApproval: { icon: 'question', color: 'charts.yellow', label: 'needs approval' },
  stale: { icon: 'history', color: 'list.warningForeground', label: 'stale' },
  sentBack: { icon: 'reply', color: 'list.warningForeground', label: 'sent back' },
};

const attemptLook: Record<AttemptOutcome | 'running', { icon: string; color?: string; label: string }> = {
  running: { icon: 'sync~spin', color: 'charts.blue', label: 'running' },
  succeeded: { icon: 'check', color: 'testing.iconPassed', label: 'succeeded' },
  failed: { icon: 'close', color: 'testing.iconFailed', label: 'failed' },
  cancelled: { icon: 'circle-slash', label: 'cancelled' },
  timedOut: { icon: 'watch', color: 'testing.iconFailed', label: 'timed out' },
  budgetExceeded: { icon: 'dashboard', color: 'testing.iconFailed', label: 'over budget' },
  interrupted: { icon: 'debug-disconnect', color: 'list.warningForeground', label: 'interrupted' },
};

export function stageIcon(status: StageStatus, unverified = false): vscode.ThemeIcon {
  // Passed on no evidence: an outline check in the warning colour, never the filled green one.
  if (unverified && (status === 'passed' || status === 'stale')) return new vscode.ThemeIcon('pass', new vscode.ThemeColor('list.warningForeground'));
  const look = stageLook[status];
  return new vscode.ThemeIcon(look.icon, look.color ? new vscode.ThemeColor(look.color) : undefined);
}

export function stageStatusLabel(status: StageStatus): string {
  return stageLook[status].label;
}

/** A stage's state in words, as every surface shows it: "passed, unverified" is never just "passed". */
export function stageStatusText(stage: { status: StageStatus; unverified?: boolean }): string {
  return stage.unverified && (stage.status === 'passed' || stage.status === 'stale') ? `${stageLook[stage.status].label}, unverified` : stageLook[stage.status].label;
}

function attemptKey(attempt: AttemptState): AttemptOutcome | 'running' {
  return attempt.outcome ?? 'running';
}

export function attemptIcon(attempt: AttemptState): vscode.ThemeIcon {
  const look = attemptLook[attemptKey(attempt)];
  return new vscode.ThemeIcon(look.icon, look.color ? new vscode.ThemeColor(look.color) : undefined);
}

export function attemptStatusLabel(attempt: AttemptState): string {
  return attempt.rolledBack ? `${attemptLook[attemptKey(attempt)].label}, rolled back` : attemptLook[attemptKey(attempt)].label;
}

export function ownerLabel(owner: Owner): string {
  if (owner.backend === 'human') return owner.person ? `${owner.person} (person)` : 'a person';
  return owner.model ? `${owner.backend} · ${owner.model}` : owner.backend;
}

export function formatDuration(ms: number | undefined): string | undefined {
  if (ms === undefined) return undefined;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function formatCost(usd: number | undefined): string | undefined {
  return usd === undefined ? undefined : `$${usd.toFixed(usd < 1 ? 3 : 2)}`;
}

export function verificationText(v: { state: VerificationState; passed: number; failed: number; stale: number; total: number }): string {
  switch (v.state) {
    case 'none':
      return 'not verified';
    case 'running':
      // While running, the counts are those of the run so far (see Cockpit.setVerifying).
      return `$(sync~spin) verifying ${v.passed + v.failed}/${v.total}${v.failed ? `, ${v.failed} not passed` : ''}`;
    case 'passed':
      return `$(pass) ${v.passed}/${v.total} passed`;
    case 'failed':
      return `$(error) ${v.failed}/${v.total} failed`;
    case 'stale':
      return `$(history) ${v.stale} stale`;
  }
}
