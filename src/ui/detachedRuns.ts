// Stage runs that outlive the window, as the editor sees them: a run the editor
// starts is handed to a detached runner (the CLI bundle dist/cli.js, started with the
// Node the extension host runs on, with ELECTRON_RUN_AS_NODE=1 on desktop), which owns
// the attempt. The window follows what the runner writes (engine/detachedRun.ts) and
// feeds it to the transcript view, the Stages tree and the status bar; Stop ends the
// runner (and with it the agent's process tree); after a reload, and whenever another
// surface (the CLI in a terminal) starts a runner, the window attaches to it. A stage
// whose backend lives in the editor (vscode.lm) still runs in this window.
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { notify } from './surface';
import type { AgentEvent, AttemptResult } from '../core/agentEvents';
import type { ChangeState } from '../core/fold';
import { RunnerFollower, RunnerRegistry, type RunnerLine, type RunnerRecord } from '../engine/detachedRun';
import { canRunDetached, runnerSettingKeys, startDetachedRunner, type DetachedSpec } from '../engine/detachedStart';
import { FactoryRefusal, type RunReport } from '../engine/factory';
import type { AttemptInfo, GateReason, RunObserver, VerifyOutcome } from '../engine/stageRunner';
import type { Cockpit } from './cockpit';

export interface DetachedRunsDeps {
  cockpit: Cockpit;
  log: vscode.LogOutputChannel;
  /** dist/cli.js of this installation. */
  cliPath: string;
  /** SecretStorage, by environment variable name. */
  secret(name: string): Promise<string | undefined>;
  /** Where what a runner reports goes: the transcript view and friends. */
  observers: RunObserver[];
  announceGate(gate: { changeId: string; stageId: string; reason: GateReason; detail: string }): void;
}

export class DetachedRuns implements vscode.Disposable {
  readonly registry: RunnerRegistry;
  private readonly following = new Map<string, { follower: RunnerFollower; done: Promise<RunReport> }>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly deps: DetachedRunsDeps) {
    this.registry = new RunnerRegistry(deps.cockpit.factory.root);
    // A runner another surface started (the CLI in a terminal) writes to the record: attach then.
    this.disposables.push(deps.cockpit.onDidChange(() => this.attachAll()));
  }

  /** Whether the stage a run would start can be handed to a runner. */
  canDetach(change: ChangeState, stageId: string | undefined): boolean {
    const stage = change.stages.find((s) => s.id === (stageId ?? change.activeStageId));
    return Boolean(stage) && canRunDetached(stage!.owner.backend);
  }

  /** The runners this window follows now (their pids). */
  followed(): { changeId: string; pid: number }[] {
    return [...this.following.values()].map(({ follower }) => ({ changeId: follower.record.changeId, pid: follower.record.pid }));
  }

  isRunning(changeId: string): boolean {
    return this.registry.live(changeId) !== undefined;
  }

  /** Starts a runner for the run and resolves with its report when it ends. */
  async run(input: { change: ChangeState; mode: DetachedSpec['mode']; stageId?: string; outOfOrder?: boolean; advance?: boolean }): Promise<RunReport> {
    const { cockpit, log } = this.deps;
    const factory = cockpit.factory;
    const config = vscode.workspace.getConfiguration();
    const settings: Record<string, unknown> = {};
    for (const key of runnerSettingKeys()) {
      const value = config.get(key);
      if (value !== undefined) settings[key] = value;
    }
    const secrets: Record<string, string> = {};
    for (const name of factory.secretVariables()) {
      const value = await this.deps.secret(name);
      if (value) secrets[name] = value;
    }
    const spec: DetachedSpec = {
      root: factory.root,
      changeId: input.change.id,
      mode: input.mode,
      ...(input.stageId ? { stageId: input.stageId } : {}),
      ...(input.outOfOrder ? { outOfOrder: true } : {}),
      advance: input.advance ?? true,
      startedBy: 'editor',
      settings,
      secrets,
      trusted: vscode.workspace.isTrusted,
    };
    const started = await startDetachedRunner({ node: process.execPath, cli: this.deps.cliPath, spec, env: process.env, onSpawn: (pid) => log.info(`Runner pid ${pid} started for ${input.change.id} (log: ${this.registry.logFile})`) });
    if (!started.ok) throw new FactoryRefusal(started.error);
    if (started.ended) {
      await cockpit.refresh();
      return started.ended.report ? (started.ended.report as RunReport) : { stopped: 'failed', stageId: input.stageId ?? '', attempts: [], detail: started.ended.error ?? 'the runner ended' };
    }
    const record = this.registry.readSync(input.change.id) ?? ({ ...this.fallbackRecord(input.change.id, started.pid) } as RunnerRecord);
    return this.follow(record);
  }

  private fallbackRecord(changeId: string, pid: number): Partial<RunnerRecord> {
    const now = new Date().toISOString();
    return { version: 1, changeId, pid, hostname: os.hostname(), startedAt: now, heartbeatAt: now, startedBy: 'editor', log: this.registry.logFile, events: this.registry.eventsFileOf(changeId) };
  }

  /** Attaches to every live runner of the workspace not followed yet (after a reload, or one the CLI started). */
  attachAll(): void {
    for (const { record, alive } of this.registry.list()) {
      if (!alive || this.following.has(record.changeId) || record.pid === process.pid) continue;
      this.deps.log.info(`Attached to runner pid ${record.pid} (${record.changeId}${record.stageId ? `/${record.stageId}` : ''}, started from the ${record.startedBy}).`);
      void this.follow(record);
    }
  }

  /** Follows a runner until it ends; the report it ended with (or interrupted). */
  follow(record: RunnerRecord): Promise<RunReport> {
    const existing = this.following.get(record.changeId);
    if (existing) return existing.done;
    const { observers, cockpit } = this.deps;
    let lastStage = record.stageId ?? '';
    const attempts: string[] = [];
    const follower = new RunnerFollower(this.registry, record, (line: RunnerLine) => {
      switch (line.t) {
        case 'attemptStarted':
          lastStage = line.info.stageId;
          attempts.push(line.info.attemptId);
          observers.forEach((o) => o.attemptStarted?.({ ...(line.info as AttemptInfo), prompt: line.prompt }));
          void cockpit.refresh();
          return;
        case 'agentEvent':
          observers.forEach((o) => o.agentEvent?.(line.info as AttemptInfo, line.event as AgentEvent));
          return;
        case 'attemptFinished':
          observers.forEach((o) => o.attemptFinished?.(line.info as AttemptInfo, line.result as AttemptResult, line.verification as VerifyOutcome | undefined));
          void cockpit.refresh();
          return;
        case 'gate':
          this.deps.announceGate(line.gate as { changeId: string; stageId: string; reason: GateReason; detail: string });
          return;
        case 'changed':
          void cockpit.refresh();
          return;
        default:
          return;
      }
    });
    const done = follower.finished.then(async ({ ended, died }): Promise<RunReport> => {
      this.following.delete(record.changeId);
      if (died) {
        // kill -9, a reboot: the next read records its attempt as interrupted.
        this.deps.log.warn(`Runner pid ${record.pid} of ${record.changeId} is gone without saying how it ended.`);
        await cockpit.factory.recoverInterrupted().catch(() => []);
      }
      await cockpit.refresh();
      const report = ended?.report as RunReport | undefined;
      return report ?? { stopped: died ? ('failed' as const) : ('cancelled' as const), stageId: lastStage, attempts, detail: ended?.error ?? (died ? 'the runner ended without a report; the attempt is recorded as interrupted' : 'no longer followed') };
    });
    this.following.set(record.changeId, { follower, done });
    return done;
  }

  /** Stops the change's runner (SIGTERM: it stops the agent's tree and records the attempt as cancelled). */
  async stop(changeId: string): Promise<boolean> {
    const stopped = await this.registry.stop(changeId);
    if (stopped) this.deps.log.info(`Stopped runner pid ${stopped.pid} of ${changeId}.`);
    return stopped !== undefined;
  }

  /** Opens the runners' own log. */
  async showLog(): Promise<void> {
    const file = this.registry.logFile;
    try {
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
      await vscode.window.showTextDocument(doc, { preview: true });
    } catch {
      void notify.info(`Factory: no runner has written its log yet (${path.basename(file)} in the per-user cache).`);
    }
  }

  dispose(): void {
    for (const { follower } of this.following.values()) follower.dispose();
    this.following.clear();
    this.disposables.forEach((d) => d.dispose());
  }
}
