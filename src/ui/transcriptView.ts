// The transcript panels: one webview per attempt in the editor area, streaming what
// the agent does while it runs (fed by the engine's RunObserver) or replaying a
// recorded attempt from its stored transcript. Both paths fold typed agent events
// through the same TranscriptModel (core/transcriptModel.ts) and send the same ops to
// the same browser code (src/webview/transcript.main.ts), so they render alike.
//
// Agent output is untrusted: the webview renders it as text only, under a strict CSP.
// The host sends nothing before the webview's `ready`, batches updates (one message per
// ~50 ms at most), and answers each `ready` (first load, or shown again after being
// hidden) with a snapshot of the panel's model, so nothing is lost while hidden.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { TREE_SCHEME } from './treeDocuments';
import { notify, plainLabel } from './surface';
import { webviewHtml, webviewRoots } from './webviewHtml';
import type { AgentEvent, AttemptResult } from '../core/agentEvents';
import type { TranscriptModelOptions } from '../core/transcriptModel';
import type { TranscriptHeader, TranscriptHostMessage, TranscriptOp } from '../core/transcriptProtocol';
import { coalesceOps, mcpSummary, parseTranscriptHostMessage, plainDetail, parseTranscriptWebviewMessage, TranscriptModel } from '../engine/viewModels';
import type { EvidenceRef } from '../core/events';
import type { AttemptState, ChangeState } from '../core/fold';
import type { Factory } from '../engine/factory';
import type { AttemptInfo } from '../engine/stageRunner';
import { linesOf, replayTranscript, type RecordedAttempt } from '../engine/transcriptReplay';
import type { Cockpit } from './cockpit';

export const TRANSCRIPT_VIEW_TYPE = 'factory.transcript';
/** At most one message to a webview per this many ms while an agent streams. */
const BATCH_MS = 50;

export interface TranscriptViewsDeps {
  evidence: Pick<Factory['evidence'], 'open'>;
  workspaceRoot: string;
  /** A workspace-relative path from the record as an absolute path inside the workspace, or an error naming it. */
  resolvePath: (relativePath: string) => string;
  /** The bytes of `path` (workspace-relative) in git tree `tree`; undefined when the file is not in it. */
  readBlob?: (tree: string, path: string) => Promise<Buffer | undefined>;
  /** Looks an attempt up in the record (a live attempt's start tree, the Show Transcript command). */
  findAttempt?: (changeId: string, attemptId: string) => Promise<RecordedAttempt | undefined>;
  log?: vscode.LogOutputChannel;
  /** Display titles of a change and stage (the engine's events carry ids only). */
  titles?: (changeId: string, stageId: string) => { changeTitle?: string; stageTitle?: string };
  /** Entries kept per panel (default 3000); older ones are summarized. */
  maxEntries?: number;
}

export interface RecordedTranscriptInput {
  changeId: string;
  attempt: RecordedAttempt;
  stageTitle: string;
  changeTitle: string;
}

/** The engine's `attemptStarted` info; titles are looked up (deps.titles) when the caller has none. */
type LiveInfo = AttemptInfo & { prompt: string; stageTitle?: string; changeTitle?: string };

export class TranscriptViews implements vscode.Disposable {
  private readonly panels = new Map<string, TranscriptPanel>();
  /** Running attempts whose panel the user closed: their events do not reopen it. */
  private readonly closed = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly deps: TranscriptViewsDeps,
  ) {}

  /** The panel of an attempt, when one is open. */
  panelOf(attemptId: string): vscode.WebviewPanel | undefined {
    return this.panels.get(attemptId)?.panel;
  }

  attemptStarted(info: LiveInfo): void {
    // A person's work streams nothing: their stage shows what they are asked to do instead.
    if (info.backend === 'human') return;
    this.guard('attemptStarted', () => {
      const header: TranscriptHeader = {
        ...this.titlesOf(info),
        attemptNumber: info.number,
        backend: info.backend,
        prompt: info.prompt,
        source: 'live',
        status: 'running',
      };
      // A retry of the same stage takes over the panel of its finished predecessor.
      const reusable = [...this.panels.values()].find((p) => p.key.changeId === info.changeId && p.key.stageId === info.stageId && p.finished);
      if (reusable) this.panels.delete(reusable.key.attemptId);
      const panel = reusable ?? this.createPanel(info, header, { preserveFocus: true, viewColumn: vscode.ViewColumn.Beside });
      panel.reset({ changeId: info.changeId, stageId: info.stageId, attemptId: info.attemptId }, header, Date.now());
      this.panels.set(info.attemptId, panel);
      panel.panel.reveal(undefined, true);
    });
  }

  agentEvent(info: AttemptInfo, event: AgentEvent): void {
    this.guard('agentEvent', () => {
      if (this.closed.has(info.attemptId)) return;
      // An observer wired after the attempt started still gets a panel.
      const panel = this.panels.get(info.attemptId) ?? this.lateStart(info);
      panel.push(panel.model.apply(event));
    });
  }

  attemptFinished(info: AttemptInfo, result: AttemptResult): void {
    this.guard('attemptFinished', () => {
      this.closed.delete(info.attemptId);
      const panel = this.panels.get(info.attemptId);
      if (!panel) return;
      panel.model.finish(result);
      panel.finished = true;
      panel.push([]);
    });
  }

  /**
   * Opens an attempt of the record (an attempt row of the Stages view): its live panel
   * when it runs in this window, else its stored transcript replayed. The record's
   * start tree and prompt are read from its events.
   */
  async showAttempt(change: ChangeState, attempt: AttemptState): Promise<vscode.WebviewPanel> {
    const live = this.panels.get(attempt.id);
    if (live) {
      live.panel.reveal();
      return live.panel;
    }
    const recorded = (await this.deps.findAttempt?.(change.id, attempt.id)) ?? { id: attempt.id, stageId: attempt.stageId, backend: attempt.backend };
    const stage = change.stages.find((s) => s.id === attempt.stageId);
    const index = stage?.attempts.findIndex((a) => a.id === attempt.id) ?? -1;
    const number = recorded.number ?? attempt.number ?? (index >= 0 ? index + 1 : undefined);
    return this.openRecorded({
      changeId: change.id,
      // The record's own figures first; the fold fills what older records lack.
      attempt: {
        ...recorded,
        ...(number !== undefined ? { number } : {}),
        ...(recorded.transcript === undefined && attempt.transcript ? { transcript: attempt.transcript } : {}),
        ...(recorded.model === undefined && attempt.model ? { model: attempt.model } : {}),
      },
      stageTitle: stage?.title ?? attempt.stageId,
      changeTitle: change.title,
    });
  }

  /** Opens a past attempt: its stored transcript replayed through the backend's parser. */
  async openRecorded(input: RecordedTranscriptInput): Promise<vscode.WebviewPanel> {
    const existing = this.panels.get(input.attempt.id);
    if (existing) {
      // Live and still open: it already shows everything.
      existing.panel.reveal();
      return existing.panel;
    }
    const { attempt } = input;
    const header: TranscriptHeader = {
      changeTitle: input.changeTitle,
      stageTitle: input.stageTitle,
      ...(attempt.number ? { attemptNumber: attempt.number } : {}),
      backend: attempt.backend,
      ...(attempt.model ? { model: attempt.model } : {}),
      ...(attempt.prompt !== undefined ? { prompt: attempt.prompt } : {}),
      source: 'recorded',
      status: attempt.outcome ? 'finished' : 'running',
    };
    const key = { changeId: input.changeId, stageId: attempt.stageId, attemptId: attempt.id };
    const panel = this.createPanel({ ...key, number: attempt.number }, header, { preserveFocus: false, viewColumn: vscode.ViewColumn.Active });
    panel.reset(key, header, attempt.startedAt ? Date.parse(attempt.startedAt) : Date.now());
    panel.startTree = attempt.startTree;
    panel.endTree = attempt.endTree;
    panel.finished = true;
    this.panels.set(attempt.id, panel);
    await this.replayInto(panel, attempt);
    return panel.panel;
  }

  private async replayInto(panel: TranscriptPanel, attempt: RecordedAttempt): Promise<void> {
    const notices: string[] = [];
    if (!attempt.transcript) {
      notices.push(attempt.outcome ? 'No transcript was recorded for this attempt.' : 'This attempt has not finished: its transcript is stored when it ends.');
    } else {
      try {
        const items = replayTranscript(linesOf(this.deps.evidence.open(attempt.transcript)), {
          backend: attempt.backend,
          cwd: this.deps.workspaceRoot,
          ...(attempt.model ? { model: attempt.model } : {}),
        });
        for await (const item of items) panel.push(item.kind === 'event' ? panel.model.apply(item.event) : panel.model.log(item.stream, item.line));
      } catch (error) {
        notices.push(`The transcript ${describeRef(attempt.transcript)} could not be read: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (attempt.outcome) {
      panel.model.finish({
        outcome: attempt.outcome as AttemptResult['outcome'],
        ...(attempt.reason ? { reason: attempt.reason } : {}),
        durationMs: attempt.durationMs ?? 0,
        usage: attempt.usage ?? {},
      });
    }
    // #18: what the agent did with the factory's MCP server, where a person looks at the attempt first.
    const mcp = mcpSummary(attempt);
    notices.push(...[mcp.server, mcp.tools && `${mcp.tools}.`].filter((line): line is string => !!line).map((line) => plainDetail(line, 2000)));
    if (notices.length) panel.model.setHeader({ notice: notices.join(' ') });
    panel.push([]);
  }

  private titlesOf(info: AttemptInfo & { stageTitle?: string; changeTitle?: string }): { changeTitle: string; stageTitle: string } {
    const known = info.stageTitle && info.changeTitle ? {} : (this.deps.titles?.(info.changeId, info.stageId) ?? {});
    return { changeTitle: info.changeTitle ?? known.changeTitle ?? info.changeId, stageTitle: info.stageTitle ?? known.stageTitle ?? info.stageId };
  }

  private lateStart(info: AttemptInfo): TranscriptPanel {
    const header: TranscriptHeader = { ...this.titlesOf(info), attemptNumber: info.number, backend: info.backend, source: 'live', status: 'running' };
    const panel = this.createPanel(info, header, { preserveFocus: true, viewColumn: vscode.ViewColumn.Beside });
    panel.reset({ changeId: info.changeId, stageId: info.stageId, attemptId: info.attemptId }, header, Date.now());
    this.panels.set(info.attemptId, panel);
    return panel;
  }

  private createPanel(info: Pick<AttemptInfo, 'changeId' | 'stageId' | 'attemptId'> & { number?: number }, header: TranscriptHeader, show: { preserveFocus: boolean; viewColumn: vscode.ViewColumn }): TranscriptPanel {
    const panel = vscode.window.createWebviewPanel(TRANSCRIPT_VIEW_TYPE, panelTitle(header), show, {
      enableScripts: true,
      enableFindWidget: true,
      localResourceRoots: webviewRoots(this.extensionUri),
    });
    panel.iconPath = new vscode.ThemeIcon('output');
    const modelOptions = { workspaceRoot: this.deps.workspaceRoot, ...(this.deps.maxEntries ? { maxEntries: this.deps.maxEntries } : {}) };
    const host = new TranscriptPanel(panel, header, modelOptions, info, this.deps.log);
    panel.webview.html = webviewHtml(panel.webview, this.extensionUri, { element: 'factory-transcript', script: 'transcript', stylesheet: 'transcript.css', title: 'Transcript' });
    host.onOpenDiff = (relativePath) => this.openDiff(host, relativePath);
    panel.onDidDispose(() => {
      host.dispose();
      if (this.panels.get(host.key.attemptId) === host) this.panels.delete(host.key.attemptId);
      if (!host.finished && !this.disposing) this.closed.add(host.key.attemptId);
    });
    return host;
  }

  /**
   * A file the agent touched, as the attempt changed it: the attempt's start tree
   * against its end tree, read from git objects, so later edits (by later attempts or
   * by hand) never show as this attempt's. While the attempt runs it has no end tree
   * yet, and the working file is the right side.
   */
  private async openDiff(panel: TranscriptPanel, relativePath: string): Promise<void> {
    const absolute = this.deps.resolvePath(relativePath);
    const recorded = panel.startTree && (panel.endTree || !panel.finished) ? undefined : await this.deps.findAttempt?.(panel.key.changeId, panel.key.attemptId);
    panel.startTree ??= recorded?.startTree;
    panel.endTree ??= recorded?.endTree;
    const tree = panel.startTree;
    const before = vscode.Uri.from({ scheme: TREE_SCHEME, path: `/${relativePath}`, query: tree ?? '' });
    const startLabel = tree ? `start of attempt (${tree.slice(0, 7)})` : 'start of attempt unknown';
    if (panel.endTree) {
      const after = vscode.Uri.from({ scheme: TREE_SCHEME, path: `/${relativePath}`, query: panel.endTree });
      await vscode.commands.executeCommand('vscode.diff', before, after, `${path.posix.basename(relativePath)} (${startLabel} ↔ end of attempt (${panel.endTree.slice(0, 7)}))`, { preview: true });
      return;
    }
    const exists = await fs.stat(absolute).then((s) => s.isFile(), () => false);
    // A deleted file is diffed against nothing.
    const after = exists ? vscode.Uri.file(absolute) : vscode.Uri.from({ scheme: TREE_SCHEME, path: `/${relativePath}`, query: '' });
    await vscode.commands.executeCommand('vscode.diff', before, after, `${path.posix.basename(relativePath)} (${startLabel} ↔ ${exists ? 'working file' : 'deleted'})`, { preview: true });
  }

  private guard(what: string, fn: () => void): void {
    // An observer must never break the run it watches.
    try {
      fn();
    } catch (error) {
      this.deps.log?.error(`Transcript ${what}: ${error instanceof Error ? error.stack : String(error)}`);
    }
  }

  private disposing = false;

  dispose(): void {
    this.disposing = true;
    for (const panel of [...this.panels.values()]) panel.panel.dispose();
    this.panels.clear();
    this.disposables.forEach((d) => d.dispose());
  }
}

/** One panel: its model, the handshake, and the batching of ops to the webview. */
class TranscriptPanel {
  key: { changeId: string; stageId: string; attemptId: string };
  startTree: string | undefined;
  endTree: string | undefined;
  finished = false;
  onOpenDiff: ((relativePath: string) => Promise<void>) | undefined;
  private ready = false;
  private pending: TranscriptOp[] = [];
  private timer: NodeJS.Timeout | undefined;
  private startedAt = Date.now();
  private readonly subscriptions: vscode.Disposable[];

  model: TranscriptModel;

  constructor(
    readonly panel: vscode.WebviewPanel,
    header: TranscriptHeader,
    private readonly modelOptions: TranscriptModelOptions,
    key: { changeId: string; stageId: string; attemptId: string },
    private readonly log: vscode.LogOutputChannel | undefined,
  ) {
    this.key = { changeId: key.changeId, stageId: key.stageId, attemptId: key.attemptId };
    this.model = new TranscriptModel(header, modelOptions);
    this.subscriptions = [
      panel.webview.onDidReceiveMessage((raw: unknown) => void this.onMessage(raw)),
      panel.onDidChangeViewState(() => {
        // Hidden, the webview is torn down; shown again, it reloads and says `ready`.
        if (!panel.visible) this.ready = false;
      }),
    ];
  }

  reset(key: { changeId: string; stageId: string; attemptId: string }, header: TranscriptHeader, startedAt: number): void {
    this.key = key;
    this.startTree = undefined;
    this.endTree = undefined;
    this.finished = false;
    this.startedAt = startedAt;
    this.model = new TranscriptModel(header, this.modelOptions);
    this.panel.title = panelTitle(header);
    this.pending = [];
    this.sendSnapshot();
  }

  /** Queues ops (and any header change) for the next batch. */
  push(ops: readonly TranscriptOp[]): void {
    if (!this.ready) return; // the snapshot at `ready` carries them
    this.pending.push(...ops);
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), BATCH_MS);
  }

  private flush(): void {
    this.timer = undefined;
    if (!this.ready) return;
    const ops = coalesceOps(this.pending);
    this.pending = [];
    const header = this.model.headerChanged ? this.currentHeader() : undefined;
    this.model.headerChanged = false;
    if (ops.length === 0 && !header) return;
    this.post({ type: 'update', attempt: this.key.attemptId, ops, ...(header ? { header } : {}) });
  }

  private sendSnapshot(): void {
    if (!this.ready) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = [];
    this.model.headerChanged = false;
    this.post({ type: 'snapshot', attempt: this.key.attemptId, header: this.currentHeader(), entries: [...this.model.entries], dropped: { ...this.model.state.dropped } });
  }

  private currentHeader(): TranscriptHeader {
    const header = this.model.header;
    return header.status === 'running' ? { ...header, elapsedMs: Math.max(0, Date.now() - this.startedAt) } : header;
  }

  private post(message: TranscriptHostMessage): void {
    // The webview checks this too; checking here names a bug on this side in the log.
    const checked = parseTranscriptHostMessage(message);
    if (!checked.ok) {
      this.log?.error(`Transcript panel: not sending an invalid message: ${checked.error}`);
      return;
    }
    void this.panel.webview.postMessage(checked.message);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const parsed = parseTranscriptWebviewMessage(raw);
    if (!parsed.ok) {
      this.log?.warn(`Transcript panel: ${parsed.error}`);
      return;
    }
    const message = parsed.message;
    if (message.type === 'ready') {
      this.ready = true;
      this.sendSnapshot();
      return;
    }
    // Only files this panel lists, inside the workspace, can be diffed.
    const entry = this.model.fileEntry(message.path);
    if (!entry?.relativePath) {
      this.log?.warn(`Transcript panel: no diff for "${message.path.slice(0, 200)}": not a file this attempt edited inside the workspace`);
      return;
    }
    try {
      await this.onOpenDiff?.(entry.relativePath);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      this.log?.error(`Transcript diff of ${entry.relativePath}: ${text}`);
      void notify.error(`Factory: cannot show the diff of ${entry.relativePath}: ${text}`);
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.subscriptions.forEach((d) => d.dispose());
  }
}

function panelTitle(header: TranscriptHeader): string {
  return `Transcript: ${plainLabel(header.stageTitle, 60)}${header.attemptNumber ? ` #${header.attemptNumber}` : ''}`;
}

function describeRef(ref: EvidenceRef): string {
  return `${ref.name} (${ref.sha256.slice(0, 12)})`;
}


/**
 * Builds the transcript panels for the extension; they are disposed with it. The
 * returned views are a RunObserver (attemptStarted / agentEvent / attemptFinished) and
 * open recorded attempts (`showAttempt`, behind `factory.showTranscript`).
 */
export function registerTranscriptViews(context: vscode.ExtensionContext, cockpit: Cockpit, log: vscode.LogOutputChannel): TranscriptViews {
  const factory = cockpit.factory;
  const views = new TranscriptViews(context.extensionUri, {
    evidence: factory.evidence,
    workspaceRoot: factory.root,
    resolvePath: (relativePath) => factory.resolvePath(relativePath),
    readBlob: (tree, relativePath) => factory.readBlob(tree, relativePath),
    findAttempt: (changeId, attemptId) => factory.findAttempt(changeId, attemptId),
    titles: (changeId, stageId) => {
      const change = cockpit.state.changes.find((c) => c.id === changeId);
      const stageTitle = change?.stages.find((s) => s.id === stageId)?.title ?? cockpit.state.pipeline?.stages.find((s) => s.id === stageId)?.title;
      return { ...(change ? { changeTitle: change.title } : {}), ...(stageTitle ? { stageTitle } : {}) };
    },
    log,
  });
  context.subscriptions.push(views);
  return views;
}
