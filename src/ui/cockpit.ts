// The UI's model of the workspace's factory: the changes, the current change and
// what went wrong reading the record. It refreshes from the engine when `.factory/`
// or the checked-out branch changes, and tells the views. No factory logic here.
// A refresh costs what changed: the watcher names the change folders written to, and
// only those are re-read; a full check of every folder runs at the first read, every
// few minutes and when the window regains focus, as the safety net for a missed event.
// It also knows the working-tree hash (re-hashed after saves and file changes, never
// per keystroke), so every view shows a result verified at another tree as stale.
import { performance } from 'node:perf_hooks';
import * as vscode from 'vscode';
import type { ActionContext } from '../core/actions';
import type { ChangeState } from '../core/fold';
import type { Factory, FactoryState, RecordProblem } from '../engine/factory';
import { changeIdOfRecordPath } from '../engine/changes';

/**
 * The factory's state as this window shows it: what the engine read, once the first
 * read is done (or showed the current change: `indexing` is set while the rest is
 * listed). `checked`: how many change folders the last read looked at.
 */
export interface CockpitSnapshot extends Omit<FactoryState, 'trusted' | 'refolded'> {
  ready: boolean;
}

/** What a refresh must look at: everything, or the change folders (and HEAD) a watcher named. */
type RefreshScope = { full: true } | { full: false; changeIds: Set<string>; branch: boolean };

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

/** The safety net: every change folder is checked this often, and on focus when the last check is older than FOCUS_CHECK_MS. */
const FULL_CHECK_MS = 5 * 60_000;
const FOCUS_CHECK_MS = 60_000;

export class Cockpit implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<CockpitSnapshot>();
  readonly onDidChange = this.changed.event;
  private snapshot: CockpitSnapshot = { ready: false, isRepository: false, changes: [], problems: [] };
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private refreshing: Promise<CockpitSnapshot> | undefined;
  /** What the next refresh must look at (requests made while one runs add up). */
  private wanted: RefreshScope | undefined;
  private lastFullCheck = 0;
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

  /**
   * Watches the record and the checked-out branch; refreshes on change (debounced),
   * re-reading only the change folders written to; checks everything now and then.
   */
  watch(root: vscode.Uri): void {
    let timer: NodeJS.Timeout | undefined;
    let seen: Extract<RefreshScope, { full: false }> = { full: false, changeIds: new Set(), branch: false };
    const schedule = (uri: vscode.Uri) => {
      const relative = uri.fsPath.startsWith(root.fsPath) ? uri.fsPath.slice(root.fsPath.length).replace(/\\/g, '/') : '';
      // The summary index lived here in older versions and is written by reads: refreshing on it would loop.
      if (/^\/\.factory\/\.cache(\/|$)/.test(relative)) return;
      const changeId = changeIdOfRecordPath(relative.slice(1));
      if (changeId) seen.changeIds.add(changeId);
      if (relative.startsWith('/.git/')) seen.branch = true;
      clearTimeout(timer);
      timer = setTimeout(() => {
        const scope = seen;
        seen = { full: false, changeIds: new Set(), branch: false };
        void this.request(scope);
      }, 200);
    };
    for (const glob of ['.factory/**', '.git/HEAD']) {
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(root, glob));
      watcher.onDidCreate(schedule);
      watcher.onDidChange(schedule);
      watcher.onDidDelete(schedule);
      this.disposables.push(watcher);
    }
    // The safety net for an event the watcher missed (a network drive, a burst it dropped).
    const periodic = setInterval(() => void this.refresh(), FULL_CHECK_MS);
    this.disposables.push(
      { dispose: () => clearTimeout(timer) },
      { dispose: () => clearInterval(periodic) },
      vscode.window.onDidChangeWindowState((state) => {
        if (state.focused && this.loaded.ready && Date.now() - this.lastFullCheck > FOCUS_CHECK_MS) void this.refresh();
      }),
    );
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

  /** Reloads everything (every change folder is checked); concurrent calls coalesce into one more run. */
  refresh(): Promise<CockpitSnapshot> {
    return this.request({ full: true });
  }

  /** Refreshes what `scope` names; requests made while a refresh runs add up into one more run. */
  private request(scope: RefreshScope): Promise<CockpitSnapshot> {
    const wanted = this.wanted;
    if (scope.full || wanted?.full) this.wanted = { full: true };
    else if (!wanted) this.wanted = scope;
    else {
      scope.changeIds.forEach((id) => wanted.changeIds.add(id));
      wanted.branch ||= scope.branch;
    }
    if (this.refreshing) return this.refreshing;
    const next = this.wanted!;
    this.wanted = undefined;
    // The first read of a large record (no summary index yet, e.g. just after a clone
    // that brought thousands of changes) can take seconds: the current change shows at
    // once, and the Stages view shows progress while the others are listed.
    const loading = this.snapshot.ready ? this.load(next) : Promise.resolve(vscode.window.withProgress({ location: { viewId: 'factory.stages' } }, () => this.load({ full: true })));
    this.refreshing = loading
      .catch((error: unknown) => {
        this.log.error(`Reading the record failed: ${error instanceof Error ? error.stack : String(error)}`);
        return this.snapshot;
      })
      .finally(() => {
        this.refreshing = undefined;
        if (this.wanted) void this.request(this.wanted);
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
      const announced = this.pendingProblems.splice(0).map((p) => this.seenProblems.get(problemKey(p)) ?? p);
      this.onNewProblems(announced);
      // Another reader set files aside: the changes they belong to are read again (everything when one is outside a change).
      const changeIds = announced.map((p) => changeIdOfRecordPath(p.path));
      if (this.refreshAfterAnnounce) void this.request(changeIds.every((id) => id !== undefined) ? { full: false, changeIds: new Set(changeIds as string[]), branch: false } : { full: true });
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
    // While the list fills in, a change not listed yet is read from the record.
    if (!snapshot.indexing && !snapshot.changes.some((c) => c.id === id)) throw new Error(`There is no change "${id}" in .factory/changes.`);
    return this.factory.change(id, snapshot.currentTree);
  }

  private async load(scope: RefreshScope): Promise<CockpitSnapshot> {
    const started = performance.now();
    const first = !this.loaded.ready;
    // Hashed once here; afterwards the tree watcher keeps it current.
    const currentTree = this.currentTree ?? (await this.hashTree());
    if (scope.full) this.lastFullCheck = Date.now();
    const state = await this.factory.readState({
      ...(currentTree ? { currentTree } : {}),
      ...(scope.full ? {} : { changed: { changeIds: [...scope.changeIds], branch: scope.branch } }),
      // A read that must index many changes shows the current change, then the list as it fills in.
      onProgress: (partial: FactoryState) => void this.show(partial, currentTree),
    });
    const elapsed = performance.now() - started;
    // What a slow view costs, in the log where a user looks (the first read, or any slow one).
    if (first || elapsed > SLOW_LOAD_MS) {
      const summarised = state.refolded ? `; ${state.refolded} summarised from their events` : '; all from the summary index';
      this.log.info(`Read the record: ${state.changes.length} changes in ${elapsed.toFixed(0)} ms${summarised}.`);
    }
    return this.show(state, currentTree);
  }

  /** Makes `state` what the views show (a partial one while indexing), and tells them. */
  private async show(state: FactoryState, currentTree: string | undefined): Promise<CockpitSnapshot> {
    const { isRepository, branch, current, indexing, checked } = state;
    const list = { pipeline: state.pipeline, changes: state.changes, problems: state.problems };
    const fresh = list.problems.filter((p) => this.remember(p));
    // Set-aside files stay listed; other problems (pipeline.json) while they last. A
    // targeted read still reports what it did not look at (the store keeps the changes
    // with problems and the last listing's), so what is not reported is gone.
    const stillThere = new Set(list.problems.map(problemKey));
    const problems = [...this.seenProblems.values()].filter((p) => p.quarantinedTo !== undefined || stillThere.has(problemKey(p)));
    this.loaded = {
      ready: true,
      isRepository,
      branch,
      pipeline: list.pipeline,
      changes: list.changes,
      current,
      problems,
      ...(currentTree ? { currentTree } : {}),
      ...(indexing ? { indexing } : {}),
      ...(checked !== undefined ? { checked } : {}),
    };
    this.snapshot = this.withActivity(this.loaded);
    this.showIndexing(indexing !== undefined);
    if (fresh.length > 0) this.announce(fresh, false);
    await Promise.all([
      vscode.commands.executeCommand('setContext', 'factory.ready', true),
      vscode.commands.executeCommand('setContext', 'factory.hasCurrentChange', current !== undefined),
      vscode.commands.executeCommand('setContext', 'factory.isRepository', isRepository),
    ]);
    this.changed.fire(this.snapshot);
    return this.snapshot;
  }

  /** The Stages view's progress bar while changes are indexed (a read after a clone or a large pull). */
  private showIndexing(indexing: boolean): void {
    if (indexing && !this.indexingDone) {
      void vscode.window.withProgress({ location: { viewId: 'factory.stages' } }, () => new Promise<void>((resolve) => (this.indexingDone = resolve)));
    } else if (!indexing && this.indexingDone) {
      this.indexingDone();
      this.indexingDone = undefined;
    }
  }
  private indexingDone: (() => void) | undefined;

  dispose(): void {
    this.indexingDone?.();
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
