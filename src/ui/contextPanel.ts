// The Context view: a webview under Stages that shows the current change's context
// pack and edits it, plus the commands and menus that add to the pack from the
// palette, the Explorer and the editor. The pack logic is the ContextPackStore's and
// engine/contextPanel's; this file turns VS Code input into their calls and their
// results into messages for the webview (src/webview/contextPanel.main.ts).
//
// Adding context only reads workspace files and appends to the record, so it works
// in untrusted workspaces too; nothing here runs anything.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { notify } from './surface';
import { webviewHtml, webviewRoots } from './webviewHtml';
import type { ContextItem } from '../core/contextPack';
import type { HostMessage, PanelState, WebviewMessage } from '../core/contextPanelProtocol';
import { assessStaleness, foldContextPack, isDiskBacked, normalizeWorkspacePath, parseHostMessage, parseWebviewMessage } from '../engine/viewModels';
import { currentHashes, detectConventions, sliceRange, type ContextPackStore, type PackEdit } from '../engine/context';
import { buildPanelState, orderAfterMove, panelDiff } from '../engine/contextPanel';
import type { Cockpit } from './cockpit';
import type { Prompter } from './prompts';
import { reportingCommands } from './reportingCommand';

export const CONTEXT_VIEW_ID = 'factory.context';
/** Saves and file changes come in bursts (save all, a branch switch): wait for the end. */
const STALENESS_DEBOUNCE_MS = 300;
const TEXT_KINDS = new Set(['note', 'ticket', 'lesson']);

/** The Context view's provider (the activation shell registers the view and delegates to it) and its commands. */
export function registerContextPanel(context: vscode.ExtensionContext, cockpit: Cockpit, prompter: Prompter, log: vscode.LogOutputChannel): { provider: vscode.WebviewViewProvider; disposables: vscode.Disposable[] } {
  const host = new ContextPanelHost(context.extensionUri, cockpit, prompter, log);
  return { provider: host, disposables: [host, ...host.registerCommands()] };
}

class ContextPanelHost implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  /** The webview said `ready`: messages posted now are received. */
  private ready = false;
  private state: PanelState | undefined;
  private updating: Promise<PanelState | undefined> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  /** Workspace paths whose change can stale the pack: files, and folders (prefixes). */
  private watched: { files: Set<string>; folders: string[] } = { files: new Set(), folders: [] };
  private readonly disposables: vscode.Disposable[] = [];
  private readonly root: string;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly cockpit: Cockpit,
    private readonly prompter: Prompter,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.root = cockpit.factory.root;
    const onPathChanged = (uri: vscode.Uri) => {
      if (this.isWatched(uri)) this.schedule(STALENESS_DEBOUNCE_MS);
    };
    // Edits on disk by agents, git or other tools stale the pack as much as saves in the editor.
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(this.root), '**/*'));
    this.disposables.push(
      watcher,
      watcher.onDidChange(onPathChanged),
      watcher.onDidCreate(onPathChanged),
      watcher.onDidDelete(onPathChanged),
      vscode.workspace.onDidSaveTextDocument((doc) => onPathChanged(doc.uri)),
      cockpit.onDidChange(() => this.schedule(0)),
      { dispose: () => clearTimeout(this.timer) },
    );
  }

  // -------------------------------------------------------------------------------
  // The webview

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    view.webview.options = { enableScripts: true, localResourceRoots: webviewRoots(this.extensionUri) };
    view.webview.html = webviewHtml(view.webview, this.extensionUri, { element: 'factory-context-panel', script: 'contextPanel', stylesheet: 'contextPanel.css', title: 'Context' });
    const subscriptions = [
      view.webview.onDidReceiveMessage((raw: unknown) => void this.onMessage(raw)),
      view.onDidChangeVisibility(() => {
        // A hidden webview view is torn down; when shown again it reloads and says `ready`.
        if (!view.visible) this.ready = false;
      }),
    ];
    view.onDidDispose(() => {
      subscriptions.forEach((d) => d.dispose());
      if (this.view === view) {
        this.view = undefined;
        this.ready = false;
      }
    });
  }

  private post(message: HostMessage): void {
    if (!this.view || !this.ready) return;
    // The webview checks this too; checking here names a bug on this side in the log.
    const checked = parseHostMessage(message);
    if (!checked.ok) {
      this.log.error(`Context panel: not sending an invalid message: ${checked.error}`);
      return;
    }
    void this.view.webview.postMessage(checked.message);
  }

  private notice(level: 'info' | 'warning' | 'error', text: string): void {
    this.post({ type: 'notice', level, text: text.slice(0, 20_000) });
  }

  private async onMessage(raw: unknown): Promise<void> {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.log.warn(`Context panel: ${parsed.error}`);
      return;
    }
    const message = parsed.message;
    if (message.type === 'ready') {
      this.ready = true;
      if (this.state) this.post({ type: 'state', state: this.state });
      // Shown (again): check staleness now rather than trust the last look.
      this.schedule(0);
      return;
    }
    try {
      await this.handle(message);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      this.log.error(`Context panel ${message.type}: ${error instanceof Error ? error.stack : text}`);
      this.notice('error', text);
    }
  }

  private async handle(message: Exclude<WebviewMessage, { type: 'ready' }>): Promise<void> {
    switch (message.type) {
      case 'addFile':
        await this.addFromPicker();
        return;
      case 'addNote':
        await this.edit((packs, changeId, options) => packs.addNote(changeId, { ...options, text: message.text }));
        return;
      case 'addConventions': {
        const edit = await this.edit((packs, changeId, options) => packs.addConventionItems(changeId, { ...options, ...(message.paths.length ? { paths: message.paths } : {}) }));
        if (!edit.changed) this.notice('info', 'Those conventions are already in the pack, unchanged.');
        return;
      }
      case 'removeItem':
        await this.edit((packs, changeId, options) => packs.removeItem(changeId, message.itemId, options));
        return;
      case 'moveItem':
        await this.edit(async (packs, changeId, options) => {
          const pack = await packs.load(changeId);
          const order = orderAfterMove(pack.items, message.itemId, message.direction);
          if (!order) return { pack, changed: false, itemIds: [], events: [] };
          return packs.reorder(changeId, order, options);
        });
        return;
      case 'pinItem':
        await this.edit((packs, changeId, options) => packs.pin(changeId, message.itemId, message.pinned, options));
        return;
      case 'refreshItem': {
        const edit = await this.edit((packs, changeId, options) => packs.refreshItem(changeId, message.itemId, options));
        if (!edit.changed) this.notice('info', 'The item already matches the workspace.');
        return;
      }
      case 'refreshStale':
        await this.refreshStale();
        return;
      case 'openItem':
        await this.openItem(message.itemId);
        return;
      case 'dropUris':
        await this.addDropped(message.uris);
        return;
      case 'requestDiff': {
        const change = this.requireChange();
        const events = await this.cockpit.factory.events(change.id);
        this.post({ type: 'diff', diff: panelDiff(foldContextPack(events), message.from, message.to) });
        return;
      }
      case 'startChange':
        await vscode.commands.executeCommand('factory.startChange');
        return;
    }
  }

  // -------------------------------------------------------------------------------
  // Keeping the view current

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.update(), delayMs);
  }

  /** Re-reads the pack and re-checks staleness; concurrent calls coalesce into one more run. */
  update(): Promise<PanelState | undefined> {
    if (this.updating) {
      this.again = true;
      return this.updating;
    }
    this.updating = this.computeState()
      .then((state) => {
        this.state = state;
        this.post({ type: 'state', state });
        return state;
      })
      .catch((error: unknown) => {
        this.log.error(`Context panel: reading the pack failed: ${error instanceof Error ? error.stack : String(error)}`);
        this.notice('error', `Reading the context pack failed: ${error instanceof Error ? error.message : String(error)}`);
        return this.state;
      })
      .finally(() => {
        this.updating = undefined;
        if (this.again) {
          this.again = false;
          void this.update();
        }
      });
    return this.updating;
  }

  private async computeState(): Promise<PanelState> {
    const snapshot = this.cockpit.state.ready ? this.cockpit.state : await this.cockpit.refresh();
    const conventions = await detectConventions(this.root).catch((error: unknown) => {
      this.log.warn(`Context panel: detecting conventions failed: ${String(error)}`);
      return [];
    });
    const change = snapshot.current;
    if (!change) {
      this.watched = { files: new Set(), folders: [] };
      return buildPanelState({ events: [], conventions, ...(snapshot.pipeline ? { pipeline: snapshot.pipeline } : {}) });
    }
    const events = await this.cockpit.factory.events(change.id);
    const pack = foldContextPack(events);
    this.watchItems(pack.items);
    const stale = assessStaleness(pack.items, await currentHashes(this.root, pack.items)).items;
    const { contents } = await this.packStore().loadContents(pack.items.filter((item) => TEXT_KINDS.has(item.kind)));
    return buildPanelState({
      change,
      ...(snapshot.pipeline ? { pipeline: snapshot.pipeline } : {}),
      events,
      stale,
      conventions,
      previews: contents,
      checkedAt: new Date().toISOString(),
    });
  }

  private watchItems(items: readonly ContextItem[]): void {
    const files = new Set<string>();
    const folders: string[] = [];
    for (const item of items) {
      if (!isDiskBacked(item)) continue;
      const rel = normalizeWorkspacePath(item.source.path);
      if (item.kind === 'folder') folders.push(rel === '.' || rel === '' ? '' : `${rel}/`);
      else files.add(rel);
    }
    this.watched = { files, folders };
  }

  private isWatched(uri: vscode.Uri): boolean {
    if (uri.scheme !== 'file') return false;
    const rel = path.relative(this.root, uri.fsPath).split(path.sep).join('/');
    if (!rel || rel.startsWith('../') || rel === '..' || rel.startsWith('.git/') || rel.startsWith('.factory/')) return false;
    return this.watched.files.has(rel) || this.watched.folders.some((prefix) => rel.startsWith(prefix));
  }

  // -------------------------------------------------------------------------------
  // Edits

  /** The factory's pack store: every edit is recorded with who made it. */
  private packStore(): ContextPackStore {
    return this.cockpit.factory.context;
  }

  private requireChange() {
    const change = this.cockpit.state.current;
    if (!change) throw new Error('No change is current: start or switch to a change first (Factory: Start Change).');
    return change;
  }

  /** Runs one pack edit for the current change, as its active stage, by the git identity; then shows the result. */
  private async edit(fn: (packs: ContextPackStore, changeId: string, options: { stageId?: string }) => Promise<PackEdit>): Promise<PackEdit> {
    if (!this.cockpit.state.ready) await this.cockpit.refresh();
    const change = this.requireChange();
    const result = await fn(this.packStore(), change.id, change.activeStageId ? { stageId: change.activeStageId } : {});
    if (result.changed) this.log.info(`Context of ${change.id}: ${result.events.map((e) => e.type).join(', ')} → version ${result.pack.version.slice(0, 12)}`);
    await this.update();
    return result;
  }

  /** A workspace-relative path for a URI, or an error naming it. */
  private relativePath(uri: vscode.Uri): string {
    if (uri.scheme !== 'file' && uri.scheme !== 'vscode-remote') throw new Error(`${uri.toString(true)} is not a file in the workspace.`);
    const rel = path.posix.relative(vscode.Uri.file(this.root).path, uri.path);
    if (!rel || rel.startsWith('../') || rel === '..' || path.posix.isAbsolute(rel)) throw new Error(`${uri.fsPath} is not inside the workspace ${this.root}.`);
    this.cockpit.factory.resolvePath(rel);
    return rel;
  }

  /** Files become file items, folders folder items. */
  private async addUris(uris: readonly vscode.Uri[]): Promise<string> {
    const problems: string[] = [];
    let last: PackEdit | undefined;
    for (const uri of uris) {
      try {
        const rel = this.relativePath(uri);
        const stat = await fs.stat(this.cockpit.factory.resolvePath(rel));
        last = await this.edit((packs, changeId, options) => (stat.isDirectory() ? packs.addFolderItem(changeId, { ...options, path: rel }) : packs.addFileItem(changeId, { ...options, path: rel })));
      } catch (error) {
        problems.push(error instanceof Error ? error.message : String(error));
      }
    }
    if (problems.length > 0) throw new Error(problems.join('\n'));
    return last?.pack.version ?? (await this.packStore().load(this.requireChange().id)).version;
  }

  private async addDropped(raw: readonly string[]): Promise<void> {
    const uris: vscode.Uri[] = [];
    const bad: string[] = [];
    for (const text of raw) {
      try {
        uris.push(vscode.Uri.parse(text, true));
      } catch {
        bad.push(`"${text.slice(0, 200)}" is not a URI.`);
      }
    }
    try {
      if (uris.length) await this.addUris(uris);
    } finally {
      if (bad.length) this.notice('error', bad.join('\n'));
    }
  }

  private async addFromPicker(): Promise<string | undefined> {
    this.requireChange();
    const active = vscode.window.activeTextEditor?.document.uri;
    const picked = await vscode.window.showOpenDialog({
      title: 'Add to the context pack',
      openLabel: 'Add to Context',
      canSelectFiles: true,
      canSelectFolders: true,
      canSelectMany: true,
      defaultUri: active?.scheme === 'file' ? vscode.Uri.file(path.dirname(active.fsPath)) : vscode.Uri.file(this.root),
    });
    if (!picked?.length) return undefined;
    return this.addUris(picked);
  }

  private async addSelections(editor: vscode.TextEditor | undefined): Promise<string> {
    if (!editor) throw new Error('No editor is active: open a file and select the lines to add.');
    const rel = this.relativePath(editor.document.uri);
    const selections = editor.selections.filter((s) => !s.isEmpty);
    if (selections.length === 0) throw new Error(`Nothing is selected in ${rel}: select the lines to add.`);
    const text = editor.document.getText();
    let last: PackEdit | undefined;
    for (const selection of selections) {
      const range = contextRange(selection);
      // The same slice staleness will compare with, so an unchanged file is not stale.
      const content = sliceRange(text, range, rel, false);
      last = await this.edit((packs, changeId, options) => packs.addSelectionItem(changeId, { ...options, path: rel, range, text: content }));
    }
    return last!.pack.version;
  }

  private async refreshStale(): Promise<string> {
    const change = this.requireChange();
    const check = await this.packStore().checkStaleness(change.id);
    if (!check.stale) {
      this.notice('info', 'Every item matches the workspace.');
      await this.update();
      return check.pack.version;
    }
    const problems: string[] = [];
    let version = check.pack.version;
    for (const item of check.items) {
      try {
        version = (await this.edit((packs, changeId, options) => packs.refreshItem(changeId, item.itemId, options))).pack.version;
      } catch (error) {
        problems.push(error instanceof Error ? error.message : String(error));
      }
    }
    if (problems.length) throw new Error(`Some items could not be refreshed (remove them, or restore their files):\n${problems.join('\n')}`);
    return version;
  }

  private async openItem(itemId: string): Promise<void> {
    const change = this.requireChange();
    const packs = this.packStore();
    const item = (await packs.load(change.id)).items.find((i) => i.id === itemId);
    if (!item) throw new Error(`No item ${itemId} in the context pack of ${change.id}.`);
    if (isDiskBacked(item)) {
      const uri = vscode.Uri.file(this.cockpit.factory.resolvePath(item.source.path));
      if (item.kind === 'folder') {
        await vscode.commands.executeCommand('revealInExplorer', uri);
        return;
      }
      const range = item.source.range;
      const selection = range
        ? new vscode.Range(range.startLine - 1, range.startCharacter ?? 0, range.endLine - 1, range.endCharacter ?? Number.MAX_SAFE_INTEGER)
        : undefined;
      const document = await vscode.workspace.openTextDocument(uri);
      await vscode.window.showTextDocument(document, { preview: true, ...(selection ? { selection: document.validateRange(selection) } : {}) });
      return;
    }
    // Notes, tickets, text outputs: the stored snapshot, in an untitled editor.
    const { contents, problems } = await packs.loadContents([item]);
    const text = contents.get(item.id);
    if (text === undefined) throw new Error(problems[0]?.message ?? `The content of ${item.title} is not in the store.`);
    const document = await vscode.workspace.openTextDocument({ content: text, language: item.content.mediaType?.startsWith('text/markdown') ? 'markdown' : 'plaintext' });
    await vscode.window.showTextDocument(document, { preview: true });
  }

  // -------------------------------------------------------------------------------
  // Commands

  registerCommands(): vscode.Disposable[] {
    const run = reportingCommands(this.log);
    return [
      // From the Explorer: (clicked, all selected); from the palette: a picker.
      run('factory.addFileToContext', async (uri?: vscode.Uri, uris?: vscode.Uri[]) => {
        const targets = uris?.length ? uris : uri instanceof vscode.Uri ? [uri] : undefined;
        return targets ? this.addUris(targets) : this.addFromPicker();
      }),
      run('factory.addSelectionToContext', async () => this.addSelections(vscode.window.activeTextEditor)),
      // "Add to Factory Context" in the Explorer and editor menus: the selection when there is one.
      run('factory.addToContext', async (uri?: vscode.Uri, uris?: vscode.Uri[]) => {
        const editor = vscode.window.activeTextEditor;
        const fromEditor = editor && (!(uri instanceof vscode.Uri) || editor.document.uri.toString() === uri.toString()) && !uris?.length;
        if (fromEditor && editor.selections.some((s) => !s.isEmpty)) return this.addSelections(editor);
        const targets = uris?.length ? uris : uri instanceof vscode.Uri ? [uri] : editor ? [editor.document.uri] : undefined;
        if (!targets) throw new Error('Nothing to add: select a file in the Explorer or open one in an editor.');
        return this.addUris(targets);
      }),
      run('factory.addNoteToContext', async (text?: string) => {
        this.requireChange();
        const note = typeof text === 'string' ? text : await this.prompter.input({ title: 'Add note to context', prompt: 'A note for the next stages (markdown)', required: true });
        if (!note?.trim()) return undefined;
        return (await this.edit((packs, changeId, options) => packs.addNote(changeId, { ...options, text: note }))).pack.version;
      }),
      run('factory.addConventionsToContext', async (paths?: string[]) => {
        this.requireChange();
        let chosen = Array.isArray(paths) ? paths.filter((p): p is string => typeof p === 'string') : undefined;
        if (!chosen) {
          const detected = (await detectConventions(this.root)).filter((d) => !d.problem && d.files.length > 0);
          if (detected.length === 0) {
            void notify.info('Factory: no convention files found (AGENTS.md, CLAUDE.md, .github/copilot-instructions.md, .cursorrules, .cursor/rules, .kiro/steering).');
            return undefined;
          }
          chosen = await this.prompter.pick<string[]>({ title: 'Add conventions to context', placeHolder: 'Which of the detected conventions?' }, [
            ...(detected.length > 1 ? [{ label: `All ${detected.length} detected`, description: detected.map((d) => d.path).join(', '), value: detected.map((d) => d.path) }] : []),
            ...detected.map((d) => ({ label: d.path, description: d.tool, detail: `${d.files.length} file${d.files.length === 1 ? '' : 's'}, ${d.bytes} bytes`, value: [d.path] })),
          ]);
          if (!chosen) return undefined;
        }
        const wanted = chosen;
        return (await this.edit((packs, changeId, options) => packs.addConventionItems(changeId, { ...options, ...(wanted.length ? { paths: wanted } : {}) }))).pack.version;
      }),
      run('factory.refreshStaleContext', async () => this.refreshStale()),
      run('factory.showContext', async () => vscode.commands.executeCommand(`${CONTEXT_VIEW_ID}.focus`)),
    ];
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}

/**
 * A VS Code selection as a context range: whole lines when it starts at a line's
 * start and ends at one (the usual line selection), characters otherwise.
 */
export function contextRange(selection: vscode.Selection | vscode.Range): { startLine: number; endLine: number; startCharacter?: number; endCharacter?: number } {
  const endsAtLineStart = selection.end.character === 0 && selection.end.line > selection.start.line;
  const endLine = endsAtLineStart ? selection.end.line : selection.end.line + 1;
  return {
    startLine: selection.start.line + 1,
    endLine,
    ...(selection.start.character !== 0 ? { startCharacter: selection.start.character } : {}),
    ...(!endsAtLineStart ? { endCharacter: selection.end.character } : {}),
  };
}
