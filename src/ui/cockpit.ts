// The UI's model of the workspace's factory: the changes, the current change and
// what went wrong reading the record. It refreshes from the engine when `.factory/`
// or the checked-out branch changes, and tells the views. No factory logic here.
import * as vscode from 'vscode';
import type { ChangeState } from '../core/fold';
import type { Pipeline } from '../core/pipeline';
import { changeForBranch, listChanges } from '../engine/changes';
import type { EngineDeps } from '../engine/ports';
import type { RecordProblem } from '../store/recordStore';

const CURRENT_KEY = 'factory.currentChange';
const BRANCH_KEY = 'factory.lastSeenBranch';

export interface CockpitSnapshot {
  ready: boolean;
  isRepository: boolean;
  branch?: string;
  pipeline?: Pipeline;
  changes: ChangeState[];
  current?: ChangeState;
  problems: RecordProblem[];
}

export class Cockpit implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<CockpitSnapshot>();
  readonly onDidChange = this.changed.event;
  private snapshot: CockpitSnapshot = { ready: false, isRepository: false, changes: [], problems: [] };
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private refreshing: Promise<CockpitSnapshot> | undefined;
  private again = false;
  // Problems found this session: a bad file is set aside on first read, so later
  // reads no longer see it; the view keeps showing it until the window closes.
  private readonly seenProblems = new Map<string, RecordProblem>();

  constructor(
    readonly deps: EngineDeps,
    private readonly memento: vscode.Memento,
    private readonly log: vscode.LogOutputChannel,
    private readonly onNewProblems: (problems: RecordProblem[]) => void,
  ) {}

  get state(): CockpitSnapshot {
    return this.snapshot;
  }

  /** Watches the record and the checked-out branch; refreshes on change (debounced). */
  watch(root: vscode.Uri): void {
    let timer: NodeJS.Timeout | undefined;
    const schedule = () => {
      clearTimeout(timer);
      timer = setTimeout(() => void this.refresh(), 200);
    };
    for (const glob of ['.factory/**', '.git/HEAD']) {
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(root, glob));
      watcher.onDidCreate(schedule);
      watcher.onDidChange(schedule);
      watcher.onDidDelete(schedule);
      this.disposables.push(watcher);
    }
    this.disposables.push({ dispose: () => clearTimeout(timer) });
  }

  /** Reloads everything; concurrent calls coalesce into one more run. */
  refresh(): Promise<CockpitSnapshot> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = this.load()
      .catch((error: unknown) => {
        this.log.error(`Reading the record failed: ${error instanceof Error ? error.stack : String(error)}`);
        return this.snapshot;
      })
      .finally(() => {
        this.refreshing = undefined;
        if (this.again) {
          this.again = false;
          void this.refresh();
        }
      });
    return this.refreshing;
  }

  async setCurrent(changeId: string | undefined): Promise<void> {
    await this.memento.update(CURRENT_KEY, changeId);
    await this.refresh();
  }

  private async load(): Promise<CockpitSnapshot> {
    const [isRepository, branch, list] = await Promise.all([this.deps.git.isRepository(), this.deps.git.currentBranch(), listChanges(this.deps)]);
    const open = list.changes.filter((c) => !c.completed);
    // An explicit pick sticks; a checkout of a branch bound to a change switches to it.
    let currentId = this.memento.get<string>(CURRENT_KEY);
    if (branch !== this.memento.get<string>(BRANCH_KEY)) {
      const bound = changeForBranch(list.changes, branch);
      if (bound) currentId = bound.id;
      await this.memento.update(BRANCH_KEY, branch);
      await this.memento.update(CURRENT_KEY, currentId);
    }
    const current =
      list.changes.find((c) => c.id === currentId) ?? changeForBranch(list.changes, branch) ?? open[open.length - 1];
    const fresh = list.problems.filter((p) => !this.seenProblems.has(problemKey(p)));
    fresh.forEach((p) => this.seenProblems.set(problemKey(p), p));
    const problems = [...this.seenProblems.values()].filter((p) => p.quarantinedTo !== undefined || list.problems.includes(p));
    this.snapshot = { ready: true, isRepository, branch, pipeline: list.pipeline, changes: list.changes, current, problems };
    if (fresh.length > 0) this.onNewProblems(fresh);
    await Promise.all([
      vscode.commands.executeCommand('setContext', 'factory.ready', true),
      vscode.commands.executeCommand('setContext', 'factory.hasCurrentChange', current !== undefined),
      vscode.commands.executeCommand('setContext', 'factory.isRepository', isRepository),
    ]);
    this.changed.fire(this.snapshot);
    return this.snapshot;
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}

function problemKey(p: RecordProblem): string {
  return `${p.path}|${p.field}|${p.message}`;
}

export function describeProblem(p: RecordProblem): string {
  const where = p.field ? `${p.path} (field ${p.field})` : p.path;
  const moved = p.quarantinedTo ? `; moved aside to ${p.quarantinedTo}` : '';
  return `${where}: ${p.message}${moved}`;
}
