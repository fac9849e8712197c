// The UI's model of the workspace's factory: the changes, the current change and
// what went wrong reading the record. It refreshes from the engine when `.factory/`
// or the checked-out branch changes, and tells the views. No factory logic here.
// It also knows the working-tree hash (re-hashed after saves and file changes, never
// per keystroke), so every view shows a result verified at another tree as stale.
import { performance } from 'node:perf_hooks';
import * as vscode from 'vscode';
import type { ActionContext } from '../core/actions';
import type { ChangeState } from '../core/fold';
import type { Factory, FactoryState, RecordProblem } from '../engine/factory';

/** The factory's state as this window shows it: what the engine read, once the first read is done. */
export interface CockpitSnapshot extends Omit<FactoryState, 'trusted' | 'refolded'> {
  ready: boolean;
}

/** A verification running in this window, shown in place of the change's last verdict. */
export interface VerificationActivity {
  /** Criteria the run checks, and how many are done so far (and how those went). */
  total: number;
  passed: number;
  failed: number;
}

/** A load slower than this is logged (the first one always is). */
const SLOW_LOAD_MS = 1000;

/** How long after the last save or file change the tree is hashed again. */
const TREE_DEBOUNCE_MS = 400;

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
  private loaded: CockpitSnapshot = this.snapshot;
  private currentTree: string | undefined;
  private readonly verifying = new Map<string, VerificationActivity>();
  private hashing: Promise<string | undefined> | undefined;

  constructor(
    readonly factory: Factory,
    private readonly log: vscode.LogOutputChannel,
    private readonly onNewProblems: (problems: RecordProblem[]) => void,
  ) {}

  get state(): CockpitSnapshot {
    return this.snapshot;
  }

  /** What the rules need to know of this window: trust, and whether the folder is a repository. */
  get actionContext(): ActionContext {
    return { trusted: vscode.workspace.isTrusted, isRepository: this.snapshot.isRepository };
  }

  /** Watches the record and the checked-out branch; refreshes on change (debounced). */
  watch(root: vscode.Uri): void {
    let timer: NodeJS.Timeout | undefined;
    const schedule = (uri: vscode.Uri) => {
      // The summary index is written by our own reads: refreshing on it would loop.
      if (/[\\/]\.factory[\\/]\.cache([\\/]|$)/.test(uri.fsPath)) return;
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
    this.watchTree(root);
  }

  /** Re-hashes the working tree after saves and on-disk changes (debounced); refreshes when the hash moved. */
  private watchTree(root: vscode.Uri): void {
    let timer: NodeJS.Timeout | undefined;
    const schedule = (uri: vscode.Uri) => {
      // The record is outside what it measures, and git's own files are not the tree.
      const relative = uri.fsPath.startsWith(root.fsPath) ? uri.fsPath.slice(root.fsPath.length).replace(/\\/g, '/') : undefined;
      if (relative === undefined || /^\/(\.factory|\.git)(\/|$)/.test(relative)) return;
      clearTimeout(timer);
      timer = setTimeout(() => void this.updateTree(), TREE_DEBOUNCE_MS);
    };
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(root, '**/*'));
    watcher.onDidCreate(schedule);
    watcher.onDidChange(schedule);
    watcher.onDidDelete(schedule);
    this.disposables.push(
      watcher,
      vscode.workspace.onDidSaveTextDocument((doc) => schedule(doc.uri)),
      { dispose: () => clearTimeout(timer) },
    );
  }

  private async updateTree(): Promise<void> {
    const before = this.currentTree;
    const now = await this.hashTree();
    if (now !== before) await this.refresh();
  }

  /** The working-tree hash, only where git may run (trusted, a repository); concurrent calls share one. */
  private hashTree(): Promise<string | undefined> {
    if (!vscode.workspace.isTrusted) return Promise.resolve((this.currentTree = undefined));
    this.hashing ??= this.factory.git
      .workingTreeHash()
      .then(
        (hash) => hash,
        (error: unknown) => {
          this.log.debug(`No working-tree hash: ${error instanceof Error ? error.message : String(error)}`);
          return undefined;
        },
      )
      .then((hash) => (this.currentTree = hash))
      .finally(() => (this.hashing = undefined));
    return this.hashing;
  }

  /** Marks a change as being verified in this window (undefined when the run ended); views show it at once. */
  setVerifying(changeId: string, activity: VerificationActivity | undefined): void {
    if (activity) this.verifying.set(changeId, activity);
    else this.verifying.delete(changeId);
    this.snapshot = this.withActivity(this.loaded);
    this.changed.fire(this.snapshot);
  }

  private withActivity(snapshot: CockpitSnapshot): CockpitSnapshot {
    if (this.verifying.size === 0) return snapshot;
    const decorate = (change: ChangeState): ChangeState => {
      const activity = this.verifying.get(change.id);
      return activity ? { ...change, verification: { state: 'running', passed: activity.passed, failed: activity.failed, stale: 0, total: activity.total } } : change;
    };
    const changes = snapshot.changes.map(decorate);
    const current = snapshot.current ? changes.find((c) => c.id === snapshot.current!.id) : undefined;
    return { ...snapshot, changes, ...(current ? { current } : {}) };
  }

  /** Reloads everything; concurrent calls coalesce into one more run. */
  refresh(): Promise<CockpitSnapshot> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    // The first read of a large record (no summary index yet, e.g. just after a clone
    // that brought thousands of changes) can take seconds: the Stages view shows it
    // is loading instead of looking empty.
    const loading = this.snapshot.ready ? this.load() : Promise.resolve(vscode.window.withProgress({ location: { viewId: 'factory.stages' } }, () => this.load()));
    this.refreshing = loading
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

  /**
   * A problem found by any reader of the record (the context view, verification, the
   * engine): the first reader sets the file aside, so later reads would never see it.
   */
  noteProblem(problem: RecordProblem): void {
    if (!this.remember(problem)) return;
    this.announce([problem], true);
  }

  /**
   * Problems found together (one read of a change, or two readers racing for one file)
   * are announced together, a moment later, as remembered then: the report of the reader
   * that set a file aside replaces the one of a reader that found it already gone.
   */
  private announce(problems: readonly RecordProblem[], refresh: boolean): void {
    this.pendingProblems.push(...problems);
    this.refreshAfterAnnounce ||= refresh;
    clearTimeout(this.announceTimer);
    this.announceTimer = setTimeout(() => {
      this.onNewProblems(this.pendingProblems.splice(0).map((p) => this.seenProblems.get(problemKey(p)) ?? p));
      if (this.refreshAfterAnnounce) void this.refresh();
      this.refreshAfterAnnounce = false;
    }, 100);
  }
  private refreshAfterAnnounce = false;
  private pendingProblems: RecordProblem[] = [];
  private announceTimer: NodeJS.Timeout | undefined;

  /** Keeps a problem for the session; true when it was not known yet. */
  private remember(problem: RecordProblem): boolean {
    const key = problemKey(problem);
    const known = this.seenProblems.get(key);
    if (!known) {
      this.seenProblems.set(key, problem);
      return true;
    }
    // Two readers raced for the same bad file: keep the report of the one that moved it.
    if (!known.quarantinedTo && problem.quarantinedTo) this.seenProblems.set(key, problem);
    return false;
  }

  async setCurrent(changeId: string | undefined): Promise<void> {
    await this.factory.setCurrent(changeId);
    await this.refresh();
  }

  /**
   * A change in full (attempts, results, staleness against the working tree): the
   * current one as shown, any other read from the record. The snapshot's other changes
   * come from the summary index and carry stage statuses only.
   */
  async changeById(id: string): Promise<ChangeState> {
    const snapshot = this.snapshot.ready ? this.snapshot : await this.refresh();
    if (snapshot.current?.id === id) return snapshot.current;
    if (!snapshot.changes.some((c) => c.id === id)) throw new Error(`There is no change "${id}" in .factory/changes.`);
    return this.factory.change(id, snapshot.currentTree);
  }

  private async load(): Promise<CockpitSnapshot> {
    const started = performance.now();
    const first = !this.loaded.ready;
    // Hashed once here; afterwards the tree watcher keeps it current.
    const currentTree = this.currentTree ?? (await this.hashTree());
    const state = await this.factory.readState(currentTree ? { currentTree } : {});
    const elapsed = performance.now() - started;
    // What a slow view costs, in the log where a user looks (the first read, or any slow one).
    if (first || elapsed > SLOW_LOAD_MS) {
      const summarised = state.refolded ? `; ${state.refolded} summarised from their events` : '; all from the summary index';
      this.log.info(`Read the record: ${state.changes.length} changes in ${elapsed.toFixed(0)} ms${summarised}.`);
    }
    const { isRepository, branch, current } = state;
    const list = { pipeline: state.pipeline, changes: state.changes, problems: state.problems };
    const fresh = list.problems.filter((p) => this.remember(p));
    // Set-aside files stay listed; other problems (pipeline.json) while they last.
    const stillThere = new Set(list.problems.map(problemKey));
    const problems = [...this.seenProblems.values()].filter((p) => p.quarantinedTo !== undefined || stillThere.has(problemKey(p)));
    this.loaded = { ready: true, isRepository, branch, pipeline: list.pipeline, changes: list.changes, current, problems, ...(currentTree ? { currentTree } : {}) };
    this.snapshot = this.withActivity(this.loaded);
    if (fresh.length > 0) this.announce(fresh, false);
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
