// What the activation shell (src/extension.ts) and the lazily loaded workbench
// (src/workbench.ts, dist/lazy/workbench.mjs) hand each other. The shell owns what VS
// Code needs at activation — command ids, the Stages tree view, the Context view, the
// status bar item, the MCP provider — and the workbench fills them in on first use.
import type * as vscode from 'vscode';
// A type only: the shell never loads ui/cockpit.ts.
import type { CockpitSnapshot } from '../ui/cockpit';

/** The public API other extensions (and the integration tests) read. */
export interface FactoryCockpitApi {
  readonly apiVersion: 1;
  /** The cockpit's current view of the record (asking for it loads the cockpit). */
  snapshot(): CockpitSnapshot;
  /** Re-reads the record now. */
  refresh(): Promise<CockpitSnapshot>;
  readonly onDidChange: vscode.Event<CockpitSnapshot>;
  /** The status bar text as shown. */
  statusBarText(): string;
  /** The detached runners this window follows (runs that outlive the window). */
  detachedRuns?(): { changeId: string; pid: number }[];
  /** Whether the workbench (engine, views) is loaded yet, and why it was. */
  loaded?(): { loaded: boolean; reason?: string };
}


/** The status bar text the last window showed, kept in workspace state for the next activation. */
export interface RememberedStatus {
  text: string;
  tooltip: string;
  /** A stage was running: the next window loads the workbench at once to follow it. */
  running: boolean;
}
export const REMEMBERED_STATUS_KEY = 'factory.lastStatus';

/** What the shell built at activation, given to the workbench when it loads. */
export interface ShellParts {
  readonly context: vscode.ExtensionContext;
  readonly folder: vscode.WorkspaceFolder;
  /** The log, every line plain text. */
  readonly log: vscode.LogOutputChannel;
  readonly stagesView: vscode.TreeView<unknown>;
  readonly statusItem: vscode.StatusBarItem;
}

/** What the workbench gives back: the parts the shell delegates to. */
export interface Workbench {
  readonly stagesTree: vscode.TreeDataProvider<unknown>;
  readonly contextView: vscode.WebviewViewProvider;
  readonly tools: Record<string, vscode.LanguageModelTool<Record<string, unknown>>>;
  readonly api: Omit<FactoryCockpitApi, 'loaded' | 'statusBarText'>;
  /** Stops what runs in this window (a vscode.lm stage) while the window closes. */
  deactivate(): Promise<void>;
}

/** The lazily loaded module's shape. */
export interface WorkbenchModule {
  start(parts: ShellParts): Workbench;
}
