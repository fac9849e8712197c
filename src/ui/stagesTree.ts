// The Stages view: the current change, its stages from the pipeline with owner and
// status, and each stage's attempts as children. Problems reading the record show
// as rows too, so a bad file never hides the rest.
import * as vscode from 'vscode';
import type { ActionContext } from '../core/actions';
import type { StageAutonomy } from '../core/autonomy';
import type { AttemptState, ChangeState, StageState } from '../core/fold';
import type { Factory, RecordProblem } from '../engine/factory';
import { mcpSummary } from '../engine/viewModels';
import type { Cockpit, CockpitSnapshot } from './cockpit';
import { describeProblem } from './cockpit';
import { attemptIcon, attemptStatusLabel, formatCost, formatDuration, ownerLabel, stageIcon, stageStatusText } from './presentation';
import { plainDetail, plainLabel, plainTooltip } from './surface';

export type StageNode =
  | { kind: 'change'; change: ChangeState }
  | { kind: 'stage'; change: ChangeState; stage: StageState }
  | { kind: 'attempt'; change: ChangeState; stage: StageState; attempt: AttemptState; index: number }
  | { kind: 'problem'; problem: RecordProblem }
  | { kind: 'notice'; label: string; detail: string; icon: string; command?: vscode.Command };

export class StagesTreeProvider implements vscode.TreeDataProvider<StageNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<StageNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly cockpit: Cockpit,
    private readonly workspaceRoot: vscode.Uri,
    private readonly now: () => number = Date.now,
  ) {
    this.subscription = cockpit.onDidChange((s) => {
      this.changed.fire(undefined);
      this.tickWhileRunning(s.current);
      // Each stage's effective autonomy (the lead's grants and revocations) and why.
      void cockpit.factory.stageAutonomy().then(
        (list) => {
          const next = new Map(list.map((a) => [a.stageId, a] as const));
          if (JSON.stringify([...next]) === JSON.stringify([...this.autonomy])) return;
          this.autonomy = next;
          this.changed.fire(undefined);
        },
        () => undefined,
      );
    });
  }
  private autonomy = new Map<string, StageAutonomy>();

  /** A running stage shows its elapsed time, so the view refreshes each second while one runs. */
  private tickWhileRunning(change: ChangeState | undefined): void {
    const running = change?.stages.some((s) => s.status === 'running') ?? false;
    if (running && !this.ticker) this.ticker = setInterval(() => this.changed.fire(undefined), 1000);
    if (!running && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  getChildren(element?: StageNode): StageNode[] {
    const snapshot = this.cockpit.state;
    if (!element) return this.roots(snapshot);
    const node = this.latest(element);
    if (node.kind === 'change') return node.change.stages.map((stage) => ({ kind: 'stage', change: node.change, stage }));
    if (node.kind === 'stage') return node.stage.attempts.map((attempt, index) => ({ kind: 'attempt', change: node.change, stage: node.stage, attempt, index }));
    return [];
  }

  private roots(snapshot: CockpitSnapshot): StageNode[] {
    if (!snapshot.ready) return [];
    const nodes: StageNode[] = [];
    if (snapshot.current) nodes.push({ kind: 'change', change: snapshot.current });
    // Untrusted, git is not even asked, so "not a repository" would be a guess.
    if (snapshot.current && !vscode.workspace.isTrusted) {
      nodes.push({
        kind: 'notice',
        label: 'Restricted Mode',
        detail: 'read-only: nothing runs until you trust this folder',
        icon: 'shield',
        command: { command: 'workbench.trust.manage', title: 'Manage Workspace Trust' },
      });
    } else if (snapshot.current && !snapshot.isRepository) {
      nodes.push({ kind: 'notice', label: 'Not a git repository', detail: 'read-only: nothing runs until the folder is a git repository', icon: 'info' });
    }
    for (const problem of snapshot.problems) nodes.push({ kind: 'problem', problem });
    return nodes;
  }

  /**
   * The element as the current snapshot has it. VS Code may hand back an element from
   * an earlier render (an expansion racing a refresh): its row must still show now.
   */
  private latest(node: StageNode): StageNode {
    const change = this.cockpit.state.current;
    if (node.kind !== 'change' && node.kind !== 'stage' && node.kind !== 'attempt') return node;
    if (!change || change.id !== node.change.id) return node;
    if (node.kind === 'change') return { kind: 'change', change };
    const stage = change.stages.find((s) => s.id === node.stage.id);
    if (!stage) return node;
    if (node.kind === 'stage') return { kind: 'stage', change, stage };
    const index = stage.attempts.findIndex((a) => a.id === node.attempt.id);
    return index < 0 ? node : { kind: 'attempt', change, stage, attempt: stage.attempts[index]!, index };
  }

  getTreeItem(element: StageNode): vscode.TreeItem {
    const node = this.latest(element);
    switch (node.kind) {
      case 'change':
        return changeItem(node.change);
      case 'stage':
        return withAutonomy(stageItem(this.cockpit.factory, node.change, node.stage, this.now(), this.cockpit.actionContext), this.autonomy.get(node.stage.id));
      case 'attempt':
        return attemptItem(this.cockpit.factory, node.change, node.stage, node.attempt, node.index, this.now(), this.cockpit.actionContext);
      case 'problem':
        return problemItem(node.problem, this.workspaceRoot);
      case 'notice': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        item.description = node.detail;
        item.iconPath = new vscode.ThemeIcon(node.icon);
        item.command = node.command;
        return item;
      }
    }
  }

  getParent(node: StageNode): StageNode | undefined {
    const current = this.cockpit.state.current;
    if (!current) return undefined;
    if (node.kind === 'stage') return { kind: 'change', change: current };
    if (node.kind === 'attempt') return { kind: 'stage', change: node.change, stage: node.stage };
    return undefined;
  }

  dispose(): void {
    clearInterval(this.ticker);
    this.subscription.dispose();
    this.changed.dispose();
  }
}

function changeItem(change: ChangeState): vscode.TreeItem {
  const item = new vscode.TreeItem(plainLabel(change.title), vscode.TreeItemCollapsibleState.Expanded);
  item.id = `change:${change.id}`;
  item.description = plainLabel([change.branch ? `⎇ ${change.branch}` : undefined, change.ticket].filter(Boolean).join(' · '));
  item.iconPath = new vscode.ThemeIcon(change.completed ? 'pass-filled' : 'layers');
  item.contextValue = 'change';
  item.tooltip = plainTooltip(
    { bold: change.title },
    ...(change.ticket ? [`\n\nTicket: ${change.ticket}`] : []),
    ...(change.branch ? [`\n\nBranch: ${change.branch}`] : []),
    ...(change.description ? [`\n\n${change.description}`] : []),
  );
  return item;
}

function runningFor(attempts: readonly AttemptState[], now: number): string | undefined {
  const live = attempts.find((a) => a.startedAt && !a.outcome);
  return live?.startedAt ? formatDuration(Math.max(0, now - Date.parse(live.startedAt))) : undefined;
}

/**
 * `stage;run;retry;…;`: the actions the engine's rules allow on the row now. Menus
 * match on them (`viewItem =~ /;approve;/`), so the tree offers exactly what the
 * engine would accept from the palette or the CLI.
 */
export function stageContextValue(factory: Factory, change: ChangeState, stage: StageState, context: ActionContext): string {
  const primary = factory.primaryAction(change, stage, context);
  return `stage;${factory.allowedWith(change, stage, context).join(';')};${primary ? `primary-${primary};` : ''}`;
}

export function attemptContextValue(factory: Factory, change: ChangeState, attempt: AttemptState, context: ActionContext): string {
  return `attempt;${factory.allowedOnAttempt(change, attempt, context).join(';')};`;
}

/** The stage's effective autonomy on its row: `auto` in the description, and why in the tooltip. */
function withAutonomy(item: vscode.TreeItem, autonomy: StageAutonomy | undefined): vscode.TreeItem {
  if (!autonomy) return item;
  item.description = [item.description, autonomy.effective === 'auto' ? 'auto-advance' : undefined].filter(Boolean).join(' · ');
  if (item.tooltip instanceof vscode.MarkdownString) item.tooltip.appendText(plainDetail(`\n\nAutonomy: ${autonomy.effective === 'auto' ? 'auto-advance' : 'stops for approval'} — ${autonomy.why}`));
  return item;
}

function stageItem(factory: Factory, change: ChangeState, stage: StageState, now: number, context: ActionContext): vscode.TreeItem {
  const collapsible =
    stage.attempts.length === 0
      ? vscode.TreeItemCollapsibleState.None
      : stage.status === 'running' || stage.id === change.activeStageId
        ? vscode.TreeItemCollapsibleState.Expanded
        : vscode.TreeItemCollapsibleState.Collapsed;
  const item = new vscode.TreeItem(plainLabel(stage.title), collapsible);
  item.id = `stage:${change.id}:${stage.id}`;
  const elapsed = stage.status === 'running' ? runningFor(stage.attempts, now) : undefined;
  const spent = stage.attempts.reduce((sum, a) => sum + (a.costUsd ?? 0), 0);
  const status = stageStatusText(stage);
  item.description = plainLabel([ownerLabel(stage.owner), elapsed ? `${status} ${elapsed}` : status, spent > 0 ? formatCost(spent) : undefined].filter(Boolean).join(' · '));
  item.iconPath = stageIcon(stage.status, stage.unverified === true);
  item.contextValue = stageContextValue(factory, change, stage, context);
  const lines = [` — ${status}`, `\n\nOwner: ${ownerLabel(stage.owner)}`, `\n\nAttempts: ${stage.attempts.length}`];
  if (stage.unverified) lines.push('\n\nNo criterion verified this stage: it handed off on the agent\'s word (or a person\'s override). Add verification to .factory/pipeline.json.');
  if (stage.sentBack) lines.push(`\n\nSent back${stage.sentBack.fromStage !== stage.id ? ` from ${stage.sentBack.fromStage}` : ''}${stage.sentBack.by ? ` by ${stage.sentBack.by}` : ''}: ${stage.sentBack.note ?? ''}`);
  for (const r of stage.results) lines.push(`\n\n${r.criterionId}: ${r.outcome}${r.required ? '' : ' (advisory)'}`);
  item.tooltip = plainTooltip({ bold: stage.title }, ...lines);
  item.accessibilityInformation = { label: plainLabel(`${stage.title}, ${status}, owner ${ownerLabel(stage.owner)}, ${stage.attempts.length} attempts`, 400) };
  return item;
}

/** The model asked for, and the one the agent said answered when it differs. */
function modelText(attempt: AttemptState): string | undefined {
  if (attempt.reportedModel && attempt.model && attempt.reportedModel !== attempt.model) return `${attempt.model} → ${attempt.reportedModel}`;
  return attempt.reportedModel ?? attempt.model;
}

function attemptItem(factory: Factory, change: ChangeState, stage: StageState, attempt: AttemptState, index: number, now: number, context: ActionContext): vscode.TreeItem {
  const person = attempt.backend === 'human';
  const item = new vscode.TreeItem(person ? `${index + 1}. ${stage.owner.person ?? 'A person'}'s work` : `Attempt ${index + 1}`, vscode.TreeItemCollapsibleState.None);
  item.id = `attempt:${attempt.id}`;
  const model = modelText(attempt);
  const backend = person ? undefined : model ? `${attempt.backend} (${model})` : attempt.backend;
  const duration = attempt.outcome ? formatDuration(attempt.durationMs) : runningFor([attempt], now);
  const failedCalls = attempt.failedToolCalls?.length ? `${attempt.failedToolCalls.length} failed tool call${attempt.failedToolCalls.length === 1 ? '' : 's'}` : undefined;
  const status = person && !attempt.outcome ? `waiting for ${stage.owner.person ?? 'a person'}` : attemptStatusLabel(attempt);
  const mcp = mcpSummary(attempt);
  const mcpNote = mcp.failed ? 'MCP server failed' : attempt.mcpTools?.length ? `${attempt.mcpTools.length} MCP tool${attempt.mcpTools.length === 1 ? '' : 's'}` : undefined;
  item.description = plainLabel([backend, status, failedCalls, mcpNote, duration, formatCost(attempt.costUsd)].filter(Boolean).join(' · '));
  item.iconPath = (failedCalls || mcp.failed) && attempt.outcome === 'succeeded' ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground')) : attemptIcon(attempt);
  item.contextValue = attemptContextValue(factory, change, attempt, context);
  // A person's attempt opens what they are asked to do, never an agent transcript.
  item.command = person ? { command: 'factory.showStageTask', title: 'Show the Task', arguments: [{ changeId: change.id, stageId: stage.id }] } : undefined;
  const lines = [`${stage.title}, ${person ? 'work' : 'attempt'} ${index + 1}: ${status}`];
  if (model) lines.push(`\n\nModel: ${attempt.model ?? 'not named'}${attempt.reportedModel ? ` (the agent reported ${attempt.reportedModel})` : ''}`);
  if (attempt.agentVersion) lines.push(`\n\nAgent version: ${attempt.agentVersion}`);
  for (const call of attempt.failedToolCalls ?? []) lines.push(`\n\nFailed tool call ${call.name}${call.reason ? `: ${call.reason}` : ''}`);
  if (mcp.tools) lines.push(`\n\n${mcp.tools}`);
  if (mcp.server) lines.push(`\n\n${mcp.server}`);
  if (attempt.superseded) lines.push('\n\nSuperseded: a reviewer sent the change back to an earlier stage after it.');
  if (attempt.reason) lines.push(`\n\nWhy: ${attempt.reason}`);
  if (attempt.summary) lines.push(`\n\n${attempt.summary}`);
  if (attempt.startedAt) lines.push(`\n\nStarted ${attempt.startedAt}`);
  item.tooltip = plainTooltip(...lines);
  return item;
}

function problemItem(problem: RecordProblem, root: vscode.Uri): vscode.TreeItem {
  const item = new vscode.TreeItem(plainLabel(problem.path.split('/').pop() ?? problem.path), vscode.TreeItemCollapsibleState.None);
  item.description = plainLabel(problem.field ? `${problem.field}: ${problem.message}` : problem.message);
  item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
  item.tooltip = plainDetail(describeProblem(problem));
  item.contextValue = 'problem';
  const target = problem.quarantinedTo ?? problem.path;
  item.command = { command: 'vscode.open', title: 'Open File', arguments: [vscode.Uri.joinPath(root, ...target.split('/'))] };
  return item;
}
