// The review panel: a webview per change in the editor area where a reviewer steps
// through the change's evidence (src/webview/review.main.ts, reviewApp.ts), and the glue around
// it: Factory: Review Change with a picker of every change (other branches' too),
// next/previous step commands, diffs in VS Code's diff editor and multi-file diff
// editor through the read-only `factory-tree:` content provider (transcriptView.ts),
// per-hunk Keep/Reject as CodeLens on the attempt's end side, decisions through the
// engine, export. The review itself is the engine's (engine/review.ts); this file
// turns VS Code input into its calls and its results into protocol messages.
import { promises as fs } from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { notify } from './surface';
import type { ReviewHostMessage, ReviewRequest, ReviewReplyResult, ReviewWebviewMessage } from '../core/reviewProtocol';
import type { AttemptStep } from '../core/review';
import type { DiffFile } from '../core/reviewHunks';
import type { ReviewSession } from '../engine/review';
import { exportReview, type ExportFormat } from '../engine/reviewExport';
import { diffWithDecisions, evidenceContent, parseReviewHostMessage, parseReviewWebviewMessage, plainLabel, plainMessage, reviewMessages } from '../engine/reviewView';
import type { Cockpit } from './cockpit';
import { reportingCommands } from './reportingCommand';
import { TREE_SCHEME } from './treeDocuments';
import { webviewHtml, webviewRoots } from './webviewHtml';
import { ReviewComments } from './reviewComments';

export const REVIEW_VIEW_TYPE = 'factory.review';

/** What a command may name: a change (and the ref it lives on), or a Stages tree row. */
type ReviewArg = string | { changeId: string; ref?: string; stepId?: string } | { kind: string; change?: { id: string }; stage?: { id: string }; attempt?: { id: string } } | undefined;

export class ReviewPanels implements vscode.Disposable {
  private readonly panels = new Map<string, ReviewPanel>();
  private active: ReviewPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  readonly comments: ReviewComments;
  private readonly lensesChanged = new vscode.EventEmitter<void>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    readonly cockpit: Cockpit,
    readonly log: vscode.LogOutputChannel,
  ) {
    this.comments = new ReviewComments(cockpit.factory, log, () => this.panels.values());
    this.disposables.push(
      this.comments,
      this.lensesChanged,
      vscode.languages.registerCodeLensProvider({ scheme: TREE_SCHEME }, { onDidChangeCodeLenses: this.lensesChanged.event, provideCodeLenses: (doc) => this.hunkLenses(doc) }),
      cockpit.onDidChange(() => {
        for (const panel of this.panels.values()) panel.scheduleReload();
      }),
    );
  }

  /** The panel the next/previous commands move: the focused one, else the last shown. */
  get current(): ReviewPanel | undefined {
    return [...this.panels.values()].find((p) => p.panel.active) ?? this.active;
  }

  panelFor(changeId: string, ref?: string): ReviewPanel | undefined {
    return this.panels.get(key(changeId, ref));
  }

  async open(changeId: string, ref?: string, stepId?: string): Promise<ReviewPanel> {
    const existing = this.panels.get(key(changeId, ref));
    if (existing) {
      existing.panel.reveal();
      if (stepId) existing.move({ stepId });
      return existing;
    }
    const started = performance.now();
    // The webview boots while the record is read: its messages wait until the panel is there.
    const webviewPanel = vscode.window.createWebviewPanel(REVIEW_VIEW_TYPE, 'Review', { viewColumn: vscode.ViewColumn.Active, preserveFocus: false }, {
      enableScripts: true,
      enableFindWidget: true,
      // A reviewer goes back and forth between the panel and the diffs it opens in the same
      // group: kept alive while hidden, the step, its scroll and what is unfolded stay.
      retainContextWhenHidden: true,
      localResourceRoots: webviewRoots(this.extensionUri),
    });
    webviewPanel.iconPath = new vscode.ThemeIcon('checklist');
    const early: unknown[] = [];
    const buffering = webviewPanel.webview.onDidReceiveMessage((m: unknown) => early.push(m));
    webviewPanel.webview.html = webviewHtml(webviewPanel.webview, this.extensionUri, { element: 'factory-review', script: 'review', stylesheet: 'review.css', title: 'Review' });
    let session: ReviewSession;
    const readStart = performance.now();
    try {
      session = await this.cockpit.factory.review.open(changeId, { ...(ref ? { ref } : {}), ...(this.cockpit.state.currentTree ? { currentTree: this.cockpit.state.currentTree } : {}) });
    } catch (error) {
      buffering.dispose();
      webviewPanel.dispose();
      throw error;
    }
    webviewPanel.title = `Review: ${plainLabel(session.model.title, 60)}`;
    const readMs = performance.now() - readStart;
    const panel = new ReviewPanel(this, webviewPanel, session, ref, stepId);
    buffering.dispose();
    for (const message of early) panel.receive(message);
    void panel.whenReady.then(() => {
      const t = panel.timing;
      const ms = (at: number) => `${(at - started).toFixed(0)} ms`;
      this.log.info(
        `Review of ${changeId}${ref ? ` (${ref})` : ''}: opened at epoch ${(performance.timeOrigin + started).toFixed(0)}; record read and folded in ${readMs.toFixed(0)} ms; webview ready at ${ms(t.ready)}; overview and first step (${(t.bytes / 1024).toFixed(0)} KB) sent at ${ms(t.sent)}; its evidence re-hashed and sent again at ${ms(t.checked)} (${session.model.steps.length} steps, ${session.model.timeline.length} timeline rows).`,
      );
    });
    this.panels.set(key(changeId, ref), panel);
    this.active = panel;
    webviewPanel.onDidChangeViewState(() => {
      if (webviewPanel.active) this.active = panel;
    });
    webviewPanel.onDidDispose(() => {
      panel.dispose();
      this.panels.delete(key(changeId, ref));
      if (this.active === panel) this.active = undefined;
    });
    this.comments.showThreads(session);
    return panel;
  }

  refreshLenses(): void {
    this.lensesChanged.fire();
  }

  /** Keep / Reject on each hunk of an attempt's end side (`factory-tree:/<path>?<end tree>`). */
  private async hunkLenses(doc: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    const tree = doc.uri.query;
    const relativePath = doc.uri.path.replace(/^\/+/, '');
    for (const panel of this.panels.values()) {
      if (panel.ref) continue;
      const step = panel.session.model.steps.find((s): s is AttemptStep => s.kind === 'attempt' && s.endTree === tree && s.changedFiles.some((f) => f.path === relativePath));
      if (!step) continue;
      const files: ReturnType<typeof diffWithDecisions> = await panel.diffFiles(step.attemptId).catch(() => []);
      const file = files.find((f) => f.path === relativePath);
      if (!file) continue;
      return file.hunks.flatMap((hunk) => {
        const line = Math.max(0, Math.min(doc.lineCount - 1, hunk.newStart - 1));
        const range = new vscode.Range(line, 0, line, 0);
        const arg = { changeId: panel.session.model.changeId, attemptId: step.attemptId, path: file.path, hunk: hunk.id };
        const state = hunk.decision ? ` (${hunk.decision})` : '';
        return [
          new vscode.CodeLens(range, { title: `$(check) Keep hunk${state}`, command: 'factory.review.acceptHunk', arguments: [arg], tooltip: 'Record that this hunk is kept' }),
          new vscode.CodeLens(range, { title: '$(discard) Reject hunk', command: 'factory.review.rejectHunk', arguments: [arg], tooltip: 'Revert this hunk in the working tree (a three-way revert) and record it' }),
        ];
      });
    }
    return [];
  }

  /** The hunk under the cursor of the focused `factory-tree:` editor (a side of an attempt's diff). */
  async hunkAtCursor(): Promise<{ changeId: string; attemptId: string; path: string; hunk: string }> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document.uri.scheme !== TREE_SCHEME) throw new Error("Put the cursor in a hunk of an attempt's diff opened from the review.");
    const tree = editor.document.uri.query;
    const relativePath = editor.document.uri.path.replace(/^\/+/, '');
    const line = editor.selection.active.line + 1;
    for (const panel of this.panels.values()) {
      if (panel.ref) continue;
      for (const step of panel.session.model.steps) {
        if (step.kind !== 'attempt' || (step.endTree !== tree && step.startTree !== tree)) continue;
        const file = (await panel.diffFiles(step.attemptId)).find((f) => f.path === relativePath);
        const end = step.endTree === tree;
        const hunk = file?.hunks.find((h) => (end ? line >= h.newStart && line < h.newStart + Math.max(1, h.newLines) : line >= h.oldStart && line < h.oldStart + Math.max(1, h.oldLines)));
        if (file && hunk) return { changeId: panel.session.model.changeId, attemptId: step.attemptId, path: file.path, hunk: hunk.id };
      }
    }
    throw new Error(`Line ${line} of ${relativePath} is not in a hunk of an attempt open in the review.`);
  }

  dispose(): void {
    for (const panel of [...this.panels.values()]) panel.panel.dispose();
    this.panels.clear();
    this.disposables.forEach((d) => d.dispose());
  }
}

function key(changeId: string, ref?: string): string {
  return `${ref ?? ''}\n${changeId}`;
}

/** One change's panel: its session, the handshake, requests and their replies. */
export class ReviewPanel {
  private ready = false;
  private stepId: string | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private readonly diffCache = new Map<string, Promise<DiffFile[]>>();
  private readonly subscriptions: vscode.Disposable[];
  /** Resolved when the webview said `ready` the first time. */
  private readonly greeting: Promise<void>;
  private greeted!: () => void;
  /** Resolved once the first overview and its checked step went out. */
  readonly whenReady: Promise<void>;
  /** When the first overview went out (performance.now()): logged on open, for the bench's breakdown. */
  readonly timing = { ready: 0, sent: 0, checked: 0, bytes: 0 };

  constructor(
    private readonly owner: ReviewPanels,
    readonly panel: vscode.WebviewPanel,
    public session: ReviewSession,
    readonly ref: string | undefined,
    initialStep: string | undefined,
  ) {
    this.stepId = initialStep;
    this.greeting = new Promise((resolve) => (this.greeted = resolve));
    // Built and checked while the webview boots, sent when it says `ready`.
    this.whenReady = this.sendOverview().catch((e: unknown) => this.owner.log.error(`Review panel: the first overview was not sent: ${String(e)}`));
    // Kept alive while hidden (retainContextWhenHidden); a webview that reloads says `ready` again.
    this.subscriptions = [panel.webview.onDidReceiveMessage((raw: unknown) => void this.onMessage(raw))];
  }

  get currentStepId(): string | undefined {
    return this.stepId;
  }

  get factory() {
    return this.owner.cockpit.factory;
  }

  move(to: { delta?: number; stepId?: string }): void {
    // Hidden, the webview is torn down: the overview it gets when shown again names the step.
    if (to.stepId) this.stepId = to.stepId;
    this.post({ type: 'move', ...(to.delta !== undefined ? { delta: to.delta } : {}), ...(to.stepId ? { stepId: to.stepId } : {}) });
  }

  scheduleReload(): void {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => void this.reload().catch((e: unknown) => this.owner.log.warn(`Review reload: ${String(e)}`)), 200);
  }

  /** Re-reads the record (after a decision, a comment, an edit) and sends the overview again. */
  async reload(): Promise<void> {
    const state = this.owner.cockpit.state;
    this.session = await this.factory.review.open(this.session.model.changeId, { ...(this.ref ? { ref: this.ref } : {}), ...(state.currentTree ? { currentTree: state.currentTree } : {}) });
    this.diffCache.clear();
    await this.sendOverview();
    this.owner.comments.showThreads(this.session);
    this.owner.refreshLenses();
  }

  diffFiles(attemptId: string): Promise<ReturnType<typeof diffWithDecisions>> {
    let files = this.diffCache.get(attemptId);
    if (!files) {
      files = this.factory.review.diffFiles(this.session, attemptId);
      this.diffCache.set(attemptId, files);
      files.catch(() => this.diffCache.delete(attemptId));
    }
    return files.then((f) => diffWithDecisions(f, this.session.model, attemptId));
  }

  private async sendOverview(): Promise<void> {
    const stages = this.session.record.state.stages.map((s) => ({ id: s.id, title: s.title, status: s.approvalStale ? 'stale' : s.status }));
    const session = this.session;
    const first = !this.timing.sent;
    // Progressive (engine/reviewView.ts): the steps and the step to show first, then that
    // step again once its evidence is re-hashed; the timeline when the webview asks.
    for await (const message of reviewMessages(this.factory.review, session, { trusted: this.factory.isTrusted(), readOnly: this.ref !== undefined, stepId: this.stepId }, stages)) {
      const checked = this.checked(message);
      await this.greeting;
      // Read again meanwhile: the newer overview sends its own step; this one would undo its news.
      if (session !== this.session) return;
      if (checked) void this.panel.webview.postMessage(checked);
      if (first && message.type === 'overview') Object.assign(this.timing, { sent: performance.now(), bytes: JSON.stringify(message).length });
      if (first && message.type === 'step') this.timing.checked = performance.now();
    }
  }

  private post(message: ReviewHostMessage): void {
    if (!this.ready) return;
    const checked = this.checked(message);
    if (checked) void this.panel.webview.postMessage(checked);
  }

  /** The message as the protocol has it, or undefined (logged) when it breaks the protocol. */
  private checked(message: ReviewHostMessage): ReviewHostMessage | undefined {
    const checked = parseReviewHostMessage(message);
    if (checked.ok) return checked.message;
    this.owner.log.error(`Review panel: not sending an invalid message: ${checked.error}`);
    return undefined;
  }

  private notice(level: 'info' | 'warning' | 'error', text: string): void {
    this.post({ type: 'notice', level, text: text.slice(0, 20_000) });
  }

  /** A message that arrived before the panel was built. */
  receive(raw: unknown): void {
    void this.onMessage(raw);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const parsed = parseReviewWebviewMessage(raw);
    if (!parsed.ok) {
      this.owner.log.warn(`Review panel: ${parsed.error}`);
      return;
    }
    const message = parsed.message;
    if (message.type === 'ready') {
      // The first overview is on its way already; a webview that reloaded gets a new one.
      if (this.ready) await this.sendOverview();
      this.ready = true;
      this.timing.ready ||= performance.now();
      this.greeted();
      return;
    }
    if (message.type === 'request') {
      try {
        this.post({ type: 'reply', id: message.id, result: await this.answer(message.request) });
      } catch (error) {
        this.post({ type: 'reply', id: message.id, error: error instanceof Error ? error.message : String(error) });
      }
      return;
    }
    try {
      await this.handle(message);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      this.owner.log.error(`Review panel ${message.type}: ${error instanceof Error ? error.stack : text}`);
      this.notice('error', text);
    }
  }

  private async answer(request: ReviewRequest): Promise<ReviewReplyResult> {
    const review = this.factory.review;
    switch (request.kind) {
      case 'step': {
        const step = this.session.model.steps.find((s) => s.id === request.stepId);
        if (!step) throw new Error(`There is no step ${request.stepId.slice(0, 80)} in this review.`);
        // Every piece of evidence the step shows is re-hashed before it is shown.
        await review.checkIntegrity(this.session, [step.id]);
        await review.reportFailures(this.session, [step.id]);
        return { kind: 'step', step };
      }
      case 'transcript': {
        const t = await review.transcript(this.session, request.attemptId);
        return { kind: 'transcript', attemptId: request.attemptId, header: t.header, entries: t.entries, dropped: t.dropped, integrity: t.integrity };
      }
      case 'evidence':
        return { kind: 'evidence', evidence: await evidenceContent(review, this.session, request.sha256) };
      case 'diffFiles':
        return { kind: 'diffFiles', attemptId: request.attemptId, files: await this.diffFiles(request.attemptId) };
      case 'timeline':
        return { kind: 'timeline', rows: this.session.model.timeline };
    }
  }

  private async handle(message: Exclude<ReviewWebviewMessage, { type: 'ready' | 'request' }>): Promise<void> {
    switch (message.type) {
      case 'selected':
        this.stepId = message.stepId;
        return;
      case 'openDiff': {
        const attemptId = message.attemptId ?? this.currentAttempt()?.attemptId;
        if (!attemptId) throw new Error('Open an attempt step to see its diff.');
        const step = this.factory.review.attemptStep(this.session, attemptId);
        const relativePath = path.isAbsolute(message.path) ? path.relative(this.factory.root, message.path).split(path.sep).join('/') : message.path;
        await openAttemptDiff(this.factory.isTrusted(), step, relativePath);
        return;
      }
      case 'openDiffSet':
        await openDiffSet(this, message.scope, message.id);
        return;
      case 'openEvidence':
        await openEvidenceFullSize(this, message.sha256);
        return;
      case 'hunk':
        await decideHunk(this.owner, { changeId: this.session.model.changeId, attemptId: message.attemptId, path: message.path, hunk: message.hunk, decision: message.decision });
        return;
      case 'decide':
        await this.decide(message);
        return;
      case 'comment': {
        const step = this.session.model.steps.find((s) => s.id === message.stepId);
        if (!step) throw new Error('That step is not in this review.');
        if (this.ref) throw new Error(`This change was read from ${this.ref}: comment in a checkout of that branch.`);
        await this.factory.review.comment({ changeId: this.session.model.changeId, body: message.body, stageId: step.stageId, ...(step.kind === 'attempt' ? { attemptId: step.attemptId } : {}) });
        await this.reload();
        this.notice('info', 'Comment recorded.');
        return;
      }
      case 'export':
        await exportWithDialog(this, message.format);
        return;
    }
  }

  private async decide(message: Extract<ReviewWebviewMessage, { type: 'decide' }>): Promise<void> {
    if (this.ref) throw new Error(`This change was read from ${this.ref}: decide in a checkout of that branch.`);
    const changeId = this.session.model.changeId;
    if (message.action === 'approveChange') {
      const approved = await this.factory.review.approveChange(changeId, message.note);
      this.notice('info', `Approved: ${approved.join(', ')}.`);
    } else if (!message.stageId) {
      throw new Error('Pick a stage first.');
    } else if (message.action === 'approve') {
      await this.factory.approve({ changeId, stageId: message.stageId, ...(message.note ? { note: message.note } : {}) });
      this.notice('info', `Approved ${message.stageId}.`);
    } else {
      await this.factory.sendBack({ changeId, stageId: message.stageId, ...(message.toStage ? { toStage: message.toStage } : {}), note: message.note ?? '' });
      this.notice('info', `Sent back to ${message.toStage ?? message.stageId}.`);
    }
    await this.owner.cockpit.refresh();
    await this.reload();
  }

  currentAttempt(): AttemptStep | undefined {
    const step = this.session.model.steps.find((s) => s.id === this.stepId);
    return step?.kind === 'attempt' ? step : undefined;
  }

  dispose(): void {
    clearTimeout(this.reloadTimer);
    this.subscriptions.forEach((d) => d.dispose());
  }
}

function treeUri(relativePath: string, tree: string | undefined): vscode.Uri {
  return vscode.Uri.from({ scheme: TREE_SCHEME, path: `/${relativePath}`, query: tree ?? '' });
}

function needsTrust(trusted: boolean): void {
  if (!trusted) throw new Error('This workspace is not trusted: diffs are read from git, and git does not run here. Trust the folder (Manage Workspace Trust) to see them.');
}

/** One file of an attempt in the diff editor: its start tree ↔ its end tree, read from git objects. */
export async function openAttemptDiff(trusted: boolean, step: AttemptStep, relativePath: string): Promise<void> {
  needsTrust(trusted);
  if (!step.startTree || !step.endTree) throw new Error('This attempt recorded no start or end tree: there is no diff to show.');
  const file = step.changedFiles.find((f) => f.path === relativePath);
  const before = treeUri(relativePath, file?.status === 'added' ? '' : step.startTree);
  const after = treeUri(relativePath, file?.status === 'deleted' ? '' : step.endTree);
  await vscode.commands.executeCommand('vscode.diff', before, after, `${path.posix.basename(relativePath)} (${step.stageTitle} #${step.number}: ${step.startTree.slice(0, 7)} ↔ ${step.endTree.slice(0, 7)})`, { preview: true });
}

/** All files of an attempt, a stage or the change in VS Code's multi-file diff editor. */
async function openDiffSet(panel: ReviewPanel, scope: 'attempt' | 'stage' | 'change', id: string | undefined): Promise<void> {
  needsTrust(panel.factory.isTrusted());
  const steps = panel.session.model.steps.filter((s): s is AttemptStep => s.kind === 'attempt' && !s.superseded && !s.rolledBack);
  const current = panel.currentAttempt();
  const picked = scope === 'attempt' ? steps.filter((s) => s.attemptId === (id ?? current?.attemptId)) : scope === 'stage' ? steps.filter((s) => s.stageId === (id ?? current?.stageId ?? panel.session.model.steps.find((x) => x.id === panel.currentStepId)?.stageId)) : steps;
  const withTrees = picked.filter((s) => s.startTree && s.endTree);
  if (withTrees.length === 0) throw new Error('No attempt here recorded its start and end trees: there is no diff to show.');
  // The change of several attempts: from the first one's start to each file's last end.
  const first = withTrees[0]!;
  const last = withTrees[withTrees.length - 1]!;
  const from = first.startTree!;
  const to = last.endTree!;
  const files = new Map<string, string>();
  for (const s of withTrees) for (const f of s.changedFiles) files.set(f.path, f.status);
  const resources = [...files].map(([p, status]) => [treeUri(p, to), treeUri(p, status === 'added' && withTrees.length === 1 ? '' : from), treeUri(p, status === 'deleted' && withTrees.length === 1 ? '' : to)]);
  const title = scope === 'attempt' ? `${first.heading} (${files.size} files)` : scope === 'stage' ? `${first.stageTitle}: ${withTrees.length} attempt(s), ${files.size} files` : `${panel.session.model.title}: ${files.size} files`;
  await vscode.commands.executeCommand('vscode.changes', plainLabel(title, 120), resources);
}

async function openEvidenceFullSize(panel: ReviewPanel, sha256: string): Promise<void> {
  const content = await evidenceContent(panel.factory.review, panel.session, sha256);
  if (content.error) throw new Error(content.error);
  if (content.text !== undefined) {
    const doc = await vscode.workspace.openTextDocument({ content: content.text, language: content.name.endsWith('.xml') ? 'xml' : 'log' });
    await vscode.window.showTextDocument(doc, { preview: true });
    return;
  }
  const view = vscode.window.createWebviewPanel('factory.evidence', plainLabel(content.name, 80), vscode.ViewColumn.Beside, { enableScripts: false, localResourceRoots: [] });
  const escape = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
  view.webview.html = `<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:"></head><body><p>${escape(content.name)} — sha256 ${content.sha256} verified</p><img alt="${escape(content.name)}" src="${content.dataUri ?? ''}"></body></html>`;
}

async function exportWithDialog(panel: ReviewPanel, format: ExportFormat): Promise<void> {
  const name = `${panel.session.model.changeId}-review.${format}`;
  const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(panel.factory.root, name)), filters: format === 'md' ? { Markdown: ['md'] } : { HTML: ['html'] }, saveLabel: 'Export Review' });
  if (!target) return;
  await writeExport(panel, format, target.fsPath);
}

export async function writeExport(panel: ReviewPanel, format: ExportFormat, file: string): Promise<string> {
  const text = await exportReview(panel.factory.review, panel.session, format);
  await fs.writeFile(file, text);
  void notify.info(`Factory: the review was exported to ${plainMessage(path.basename(file))}.`);
  return file;
}

async function decideHunk(panels: ReviewPanels, input: { changeId: string; attemptId: string; path: string; hunk: string; decision: 'accepted' | 'rejected' }): Promise<void> {
  const panel = panels.panelFor(input.changeId);
  if (!panel) throw new Error('Open the change in the review panel first.');
  await panel.factory.review.decideHunk(panel.session, input);
  void notify.info(`Factory: hunk ${input.decision === 'rejected' ? 'rejected and reverted' : 'kept'} in ${plainMessage(input.path)}.`);
  await panels.cockpit.refresh();
  await panel.reload();
}

/** Registers the review panel, its commands and its providers. */
export function registerReview(context: vscode.ExtensionContext, cockpit: Cockpit, log: vscode.LogOutputChannel): { panels: ReviewPanels; disposables: vscode.Disposable[] } {
  const panels = new ReviewPanels(context.extensionUri, cockpit, log);
  const run = reportingCommands(log);
  const pick = async (): Promise<{ changeId: string; ref?: string } | undefined> => {
    const changes = await cockpit.factory.review.listChanges();
    const picked = await vscode.window.showQuickPick(
      changes
        .slice()
        .reverse()
        .map((c) => ({
          label: plainLabel(c.title),
          description: [c.ticket, c.ref ? `⎇ ${c.ref.replace(/^refs\/(heads|remotes)\//, '')} (another branch)` : c.branch ? `⎇ ${c.branch}` : undefined, c.completed ? 'completed' : c.activeStage].filter(Boolean).map((x) => plainLabel(x)).join(' · '),
          change: c,
        })),
      { title: 'Review change', placeHolder: changes.length ? 'Pick the change to review (changes on other branches are read through git)' : 'There is no change to review', matchOnDescription: true },
    );
    return picked ? { changeId: picked.change.id, ...(picked.change.ref ? { ref: picked.change.ref } : {}) } : undefined;
  };
  const disposables = [
    panels,
    run('factory.reviewChange', async (arg?: ReviewArg) => {
      let target: { changeId: string; ref?: string; stepId?: string } | undefined;
      if (typeof arg === 'string') target = { changeId: arg };
      else if (arg && 'changeId' in arg) target = arg;
      else if (arg && 'kind' in arg && arg.change) target = { changeId: arg.change.id, ...(arg.attempt ? { stepId: `attempt:${arg.attempt.id}` } : arg.stage ? { stepId: `stage:${arg.stage.id}` } : {}) };
      else target = await pick();
      if (!target) return undefined;
      const panel = await panels.open(target.changeId, target.ref, target.stepId);
      return panel.session.model.changeId;
    }),
    run('factory.review.nextStep', async () => panels.current?.move({ delta: 1 })),
    run('factory.review.previousStep', async () => panels.current?.move({ delta: -1 })),
    run('factory.review.acceptHunk', async (arg: { changeId: string; attemptId: string; path: string; hunk: string }) => decideHunk(panels, { ...arg, decision: 'accepted' })),
    run('factory.review.rejectHunk', async (arg: { changeId: string; attemptId: string; path: string; hunk: string }) => decideHunk(panels, { ...arg, decision: 'rejected' })),
    // In the diff editor (whose CodeLens VS Code hides by default): the hunk at the cursor, on either side.
    run('factory.review.keepHunkAtCursor', async () => decideHunk(panels, { ...(await panels.hunkAtCursor()), decision: 'accepted' })),
    run('factory.review.rejectHunkAtCursor', async () => decideHunk(panels, { ...(await panels.hunkAtCursor()), decision: 'rejected' })),
    run('factory.review.openDiffSet', async (scope: 'attempt' | 'stage' | 'change' = 'attempt') => {
      const panel = panels.current;
      if (!panel) throw new Error('Open a review first.');
      await openDiffSet(panel, scope, undefined);
    }),
    run('factory.review.export', async (arg?: { format?: ExportFormat; path?: string; changeId?: string }) => {
      const panel = arg?.changeId ? panels.panelFor(arg.changeId) : panels.current;
      if (!panel) throw new Error('Open a review first.');
      const format = arg?.format ?? 'md';
      if (arg?.path) return writeExport(panel, format, arg.path);
      await exportWithDialog(panel, format);
      return undefined;
    }),
  ];
  context.subscriptions.push(...disposables);
  return { panels, disposables };
}
