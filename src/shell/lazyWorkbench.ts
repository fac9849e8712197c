// Loads the workbench (dist/lazy/workbench.mjs: the engine, the views' host code, and
// their chunks) once, on first use, and says in the log why and what it cost.
// Activation itself loads none of it: a window that opens a repository with a record
// but never looks at the factory pays for the shell only.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import * as vscode from 'vscode';
import type { ShellParts, Workbench, WorkbenchModule } from './contract';

export class LazyWorkbench implements vscode.Disposable {
  private loading: Promise<Workbench> | undefined;
  private workbench: Workbench | undefined;
  private why: string | undefined;
  private readonly loadedEmitter = new vscode.EventEmitter<Workbench>();
  /** Fires once, when the workbench is up (the shell then swaps its placeholders for the real parts). */
  readonly onDidLoad = this.loadedEmitter.event;

  constructor(
    /** The shell's parts; asked for when the workbench starts (the shell builds some of them around this object). */
    private readonly parts: () => ShellParts,
    /** Runs just before the workbench starts: the shell gives back what the workbench will register itself. */
    private readonly beforeStart: () => void,
  ) {}

  get loaded(): Workbench | undefined {
    return this.workbench;
  }

  get reason(): string | undefined {
    return this.why;
  }

  /** The workbench, loading it first if needed; `reason` says which use asked (for the log). */
  load(reason: string): Promise<Workbench> {
    this.loading ??= this.start(reason);
    return this.loading;
  }

  private async start(reason: string): Promise<Workbench> {
    this.why = reason;
    const started = performance.now();
    const parts = this.parts();
    const file = parts.context.asAbsolutePath('dist/lazy/workbench.mjs');
    const module = (await import(pathToFileURL(file).href)) as WorkbenchModule;
    const imported = performance.now();
    this.beforeStart();
    this.workbench = module.start(parts);
    const built = performance.now();
    parts.log.info(`Loaded the cockpit on first use (${reason}): ${(imported - started).toFixed(0)} ms to load its code, ${(built - imported).toFixed(0)} ms to build it.`);
    this.loadedEmitter.fire(this.workbench);
    return this.workbench;
  }

  dispose(): void {
    this.loadedEmitter.dispose();
  }
}
