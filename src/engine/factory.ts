// The one entry point to the factory. It builds everything — the record, git, the
// evidence store, the context pack, the agent backends, verification and the stage
// engine — from a root folder and the ports a surface provides (settings, secrets,
// trust, confirmations, clock, log), and it decides every rule: which change is
// current, what "run next" means, which stage "verify change" checks, and whether an
// action is allowed in a stage's state. The editor builds one (extension.ts), the CLI
// builds one, the MCP server builds one: they act on the same record through the same
// rules, and refuse alike with the same sentence.
import * as os from 'node:os';
import { allowedActions, decide, decideAttempt, nextRun, parseTicketOrDescription, primaryAction, stageToVerify, type ActionContext, type AttemptAction, type StageAction, type Verdict } from '../core/actions';
import type { Actor, EventDraft, FactoryEvent } from '../core/events';
import type { AttemptState, ChangeState, StageState } from '../core/fold';
import { defaultPipeline, type DetectedTests, type Owner, type Pipeline } from '../core/pipeline';
import { detectTestCommand } from '../store/projectTests';
import type { BackendCheck } from '../backends/check';
import type { BackendRegistry } from '../backends/registry';
import type { PriceTable } from '../backends/types';
import type { LanguageModelPort } from '../backends/vscodeLm';
import { GitAdapter } from '../git/gitAdapter';
import type { GitObjectReader } from '../git/gitObjects';
import type { ContextPackStore } from '../store/contextPackStore';
import { CurrentPointerFile } from '../store/currentPointer';
import { FileEvidenceStore } from '../store/evidence';
import { resolveInsideWorkspace } from '../store/paths';
import { FileRecordStore, type RecordProblem, type RecordStore } from '../store/recordStore';
import { byCreation, changeForBranch, changeIdOfBranch, listChangeSummaries, loadChange, startChange, type BranchMode, type ChangeList, type ListOptions, type LoadedChange, type StartChangeInput } from './changes';
import { systemClock, type Clock, type EngineDeps, type EngineGit } from './ports';
import type { StageRunner, RunObserver, RunReport } from './stageRunner';
import type { RecordedAttempt } from './transcriptReplay';
import type { ReviewService } from './review';
import { trustGatedGit, WorkspaceNotTrustedError, type TrustPort } from './trust';
import { interruptedHere, type RunnerHost } from './interruption';
import type { EvidenceCheck, StageVerificationRun, VerifyStageInput } from './verification';
import type { MetricsReport, MetricsRequest } from './metrics';
import type { StageAutonomy } from '../core/autonomy';
import { isEvent } from '../core/events';
import type { ChangeFact } from '../core/metrics';
import { onFirstUse } from './onFirstUse';

/** Settings by their full key (`factory.backends.codex.model`): the editor's configuration, the CLI's flags, environment and user config. */
export interface SettingsPort {
  get<T>(key: string): T | undefined;
}

/** Secrets by environment variable name (`ANTHROPIC_API_KEY`): SecretStorage in the editor, the environment in the CLI. */
export interface SecretsPort {
  get(name: string): Promise<string | undefined>;
}

export interface LogPort {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Asks a person to confirm something that changes their files. */
export interface Confirmer {
  confirm(message: string, detail: string, action: string): Promise<boolean>;
}

export interface FactoryPorts {
  root: string;
  settings: SettingsPort;
  secrets: SecretsPort;
  trust: TrustPort;
  clock?: Clock;
  log?: LogPort;
  confirmer?: Confirmer;
  /** `vscode.lm` in the editor; absent elsewhere. */
  languageModels?: LanguageModelPort;
  /** What the engine tells the surface while stages run. */
  observer?: RunObserver;
  /** Every problem any reader of the record finds (a file that failed validation, a path refused). */
  onProblem?: (problem: RecordProblem) => void;
  /** The environment agents and commands start from; default this process's. */
  env?: Record<string, string | undefined>;
  /**
   * Whether the process named by an attempt's `runner` still runs it; default: the pid is
   * alive. Detached runners (detachedRun.ts) also compare the process start time, so a
   * pid reused after a reboot or a `kill -9` is not taken for the runner.
   */
  isAlive?: (pid: number) => boolean;
}

/** The factory as a surface shows it. */
export interface FactoryState {
  isRepository: boolean;
  trusted: boolean;
  branch?: string;
  pipeline?: Pipeline;
  /** Every change, oldest first; the current one in full, the others from the summary index (statuses only). */
  changes: ChangeState[];
  current?: ChangeState;
  problems: RecordProblem[];
  /** The working-tree hash: the caller's, else set when the current change needed it (a result or an approval bound to a tree). */
  currentTree?: string;
  /** How many changes the summary index had to re-read (the first read after a clone). */
  refolded?: number;
  /** How many change folders this read looked at: every one on a full check, those a watcher named on a targeted one. */
  checked?: number;
  /** While the changes are being indexed (told through ReadStateOptions.onProgress): how many of how many are listed. */
  indexing?: { done: number; total: number };
}

export interface ReadStateOptions {
  /** The working-tree hash the caller already knows (the editor keeps it current from file events). */
  currentTree?: string;
  /**
   * What a file watcher saw change since this factory's last read: only these change
   * folders are re-read (the changes folder is still listed, so a new change shows), and
   * git is asked for the branch again only when `branch` is set (HEAD moved). Without
   * it every change folder is checked against the summary index: the safety net.
   */
  changed?: { changeIds: readonly string[]; branch?: boolean };
  /**
   * The state as it fills in when many changes must be indexed (the first read after a
   * clone, a pull that brought thousands): the current change first, then the list in
   * batches, with `indexing`.
   */
  onProgress?: (state: FactoryState) => void;
}

/** An action the rules do not allow in the state the change is in; the message says why. */
export class FactoryRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FactoryRefusal';
  }
}

const silentLog: LogPort = { info: () => undefined, warn: () => undefined, error: () => undefined };

export class Factory {
  readonly root: string;
  readonly store: FileRecordStore;
  readonly git: EngineGit;
  readonly evidence: FileEvidenceStore;
  readonly clock: Clock;
  private readonly log: LogPort;
  private readonly pointer: CurrentPointerFile;
  /** What every event the factory writes goes through: it says who did it. */
  private readonly recordedBy: RecordStore;
  // Built on first use (onFirstUse.ts): a read of the record needs none of them.
  private registryBuilt: BackendRegistry | undefined;
  private contextStore: ContextPackStore | undefined;
  private stageRunner: StageRunner | undefined;

  constructor(private readonly ports: FactoryPorts) {
    this.root = ports.root;
    this.clock = ports.clock ?? systemClock;
    this.log = ports.log ?? silentLog;
    // Restricted Mode writes nothing into the repository: no event, evidence, quarantine move or .gitignore.
    this.store = new FileRecordStore(ports.root, {
      now: () => this.clock.now(),
      mayWrite: () => ports.trust.isTrusted(),
      // The first pipeline verifies Implement and Test with the project's own tests when it has some.
      defaultPipeline: () => defaultPipeline(proposedTests(ports.root)),
      ...(ports.onProblem ? { onProblem: ports.onProblem } : {}),
    });
    this.evidence = this.store.evidence;
    // The user's name is looked up only if an untrusted folder asks for an identity (os.userInfo() costs a command-line start milliseconds).
    this.git = trustGatedGit(new GitAdapter(ports.root), ports.trust, () => os.userInfo().username || 'unknown');
    this.pointer = new CurrentPointerFile(ports.root);
    this.recordedBy = actorStamped(this.store, () => this.actor());
  }

  /** The context packs of the changes. */
  get context(): ContextPackStore {
    const { ContextPackStore } = onFirstUse.contextPackStore();
    this.contextStore ??= new ContextPackStore({ records: this.recordedBy, content: new (onFirstUse.contextContent().EvidenceContentStore)(this.evidence) });
    return this.contextStore;
  }

  /** The stage engine: runs, decisions, rollbacks. */
  get runner(): StageRunner {
    this.stageRunner ??= this.buildRunner();
    return this.stageRunner;
  }

  private buildRunner(): StageRunner {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the runner reads the registry through a getter, so a settings change applies to the next run
    const factory = this;
    return new (onFirstUse.stageRunner().StageRunner)(
      {
        ...this.deps,
        store: this.recordedBy,
        // Settings are read per run, so a changed path or model applies without a restart.
        get backends() {
          return factory.registry;
        },
        context: this.context,
        // The engine verifies the attempt it just ran: the rules were asked when the run started.
        verify: (input) => this.runVerification(input).then((run) => ({ passed: run.passed, waitingForApproval: run.waitingForApproval, ...(run.failureFeedback ? { failureFeedback: run.failureFeedback } : {}) })),
        agentEnv: () => this.agentEnvironment(),
        contextTokensFor: (backend) => onFirstUse.catalog().backendEntry(backend)?.contextTokens,
        autonomyOf: (stageId, changeId) => this.autonomyOf(stageId, changeId),
        modelFor: (backend) => this.ports.settings.get<string>(`factory.backends.${backend}.model`) || undefined,
        versionOf: (backend) => this.versionOf(backend),
        host: this.runnerHost,
      },
      this.ports.observer ?? {},
    );
  }

  /** What the record, git and evidence need: the ports every use case takes. */
  get deps(): EngineDeps {
    return { store: this.store, git: this.git, evidence: this.evidence, clock: this.clock };
  }

  get backends(): BackendRegistry {
    return this.registry;
  }

  /** This process as attempts name their runner. */
  private get runnerHost(): RunnerHost {
    return { pid: process.pid, hostname: os.hostname(), isAlive: this.ports.isAlive ?? processIsAlive };
  }

  /** Re-reads the backend settings (after the user changed them). */
  reloadBackends(): void {
    this.registryBuilt = this.buildBackends();
    this.versions.clear();
  }

  private get registry(): BackendRegistry {
    this.registryBuilt ??= this.buildBackends();
    return this.registryBuilt;
  }

  private buildBackends(): BackendRegistry {
    const config = onFirstUse.catalog().backendsConfigFrom((key) => this.ports.settings.get(key));
    const prices: PriceTable = { ...onFirstUse.usageMeter().DEFAULT_PRICES, ...(this.ports.settings.get<PriceTable>('factory.prices') ?? {}) };
    return onFirstUse.backendRegistry().createBackends({ ...config, prices }, this.ports.languageModels ? { languageModels: this.ports.languageModels } : {});
  }

  isTrusted(): boolean {
    return this.ports.trust.isTrusted();
  }

  async actionContext(): Promise<ActionContext> {
    return { trusted: this.isTrusted(), isRepository: await this.git.isRepository() };
  }

  // ---------------------------------------------------------------------------------
  // State

  /**
   * The factory now: every change (from the summary index), the current one in full.
   * The current change is read first, so a first read that must index thousands of
   * changes can show it at once (options.onProgress); see ReadStateOptions.
   */
  async readState(options: ReadStateOptions = {}): Promise<FactoryState> {
    // A watcher that saw only change folders move: the repository and branch are as last read.
    if (!options.changed || options.changed.branch || !this.lastGit) {
      const [isRepository, branch] = await Promise.all([this.git.isRepository(), this.git.currentBranch()]);
      this.lastGit = { isRepository, branch };
    }
    const { isRepository, branch } = this.lastGit;
    // Hashing the working tree costs git processes: done at most once per read, and only
    // when a change read has a result or an approval bound to a tree (changes.ts dependsOnTree).
    let currentTree = isRepository ? options.currentTree : undefined;
    let hashing: Promise<string | undefined> | undefined;
    const treeWhenNeeded = () => (hashing ??= this.git.workingTreeHash().then((tree) => (currentTree = tree), () => undefined));
    const fold = (id: string, pipeline?: Pipeline) => loadChange(this.deps, id, currentTree ? { currentTree } : isRepository ? { treeWhenNeeded } : {}, pipeline).catch(() => undefined);
    const stateOf = (list: ChangeList, loaded: LoadedChange | undefined, extra: Partial<FactoryState> = {}): FactoryState => {
      const current = loaded && loaded.eventCount > 0 ? loaded.state : undefined;
      return {
        isRepository,
        trusted: this.isTrusted(),
        ...(branch ? { branch } : {}),
        ...(currentTree ? { currentTree } : {}),
        ...(list.pipeline ? { pipeline: list.pipeline } : {}),
        changes: current ? withChange(list.changes, current) : list.changes,
        ...(current ? { current } : {}),
        problems: [...list.problems, ...(loaded?.problems ?? [])],
        ...extra,
      };
    };
    // The change the pointer (or a `factory/<id>` branch, or the last read) names is
    // folded before the list, so a read that must index many changes shows it from the
    // start (alone, when no index was read yet): checked against the rules once the
    // list is complete, and read again only if they pick another.
    const { onProgress } = options;
    const guessed = onProgress ? await this.likelyCurrentId(branch) : undefined;
    let early = guessed ? await fold(guessed) : undefined;
    if (early && early.eventCount > 0 && !this.store.hasIndex) onProgress?.(stateOf({ pipeline: early.pipeline, changes: [], problems: [] }, early, { indexing: { done: 0, total: 0 } }));
    // While the others are indexed (seconds at 10,000 changes) the current change is read
    // again at each step, one read at a time, so a write to it meanwhile (an attempt that
    // finished) shows before the list is complete; nothing is told once the list is.
    let latest: Parameters<NonNullable<ListOptions['onProgress']>>[0] | undefined;
    let listed = false;
    let refolding: Promise<void> | undefined;
    const tell = () => onProgress!(stateOf(latest!, early, { indexing: latest!.indexing }));
    const progressed = (partial: NonNullable<typeof latest>) => {
      latest = partial;
      tell();
      if (guessed === undefined || refolding) return;
      refolding = fold(guessed, partial.pipeline).then((again) => {
        refolding = undefined;
        if (listed || !again) return;
        const moved = again.eventCount !== early?.eventCount;
        early = again;
        if (moved) tell();
      });
    };
    const list = await listChangeSummaries(this.deps, {
      ...(options.changed ? { changed: options.changed.changeIds } : {}),
      ...(onProgress ? { onProgress: progressed } : {}),
    });
    listed = true;
    await refolding;
    const currentId = await this.currentChangeId(list.changes, branch);
    this.lastCurrent = { id: currentId, branch };
    // Folded again, not taken from the early fold: the list may have waited on a check under
    // way, and events written meanwhile (a runner's finish) must not be shown older than the list.
    const full = currentId === undefined ? undefined : await fold(currentId, list.pipeline);
    return stateOf(list, full, {
      ...(list.refolded !== undefined ? { refolded: list.refolded } : {}),
      ...(list.checked !== undefined ? { checked: list.checked } : {}),
    });
  }
  private lastGit: { isRepository: boolean; branch: string | undefined } | undefined;
  private lastCurrent: { id: string | undefined; branch: string | undefined } | undefined;

  /**
   * The current change as far as it is known without the list: the one picked here
   * while the branch stays, the one the last read found on this branch, or the change a
   * `factory/<id>` branch is named after.
   */
  private async likelyCurrentId(branch: string | undefined): Promise<string | undefined> {
    const pointer = await this.pointer.read();
    if (pointer.changeId && pointer.branch === branch) return pointer.changeId;
    if (this.lastCurrent?.id && this.lastCurrent.branch === branch) return this.lastCurrent.id;
    return changeIdOfBranch(branch);
  }

  /**
   * Which change is current: the one a person picked here, until a checkout of a branch
   * bound to a change switches to that one; else the newest open change bound to the
   * branch; else the newest open change.
   */
  private async currentChangeId(changes: readonly ChangeState[], branch: string | undefined): Promise<string | undefined> {
    const pointer = await this.pointer.read();
    let picked = pointer.changeId;
    // An empty pointer has nothing to carry across a checkout: the rules below pick without it.
    if (branch !== pointer.branch && (pointer.changeId !== undefined || pointer.branch !== undefined)) {
      const bound = changeForBranch(changes, branch);
      if (bound) picked = bound.id;
      // Written only if nobody changed it since it was read: a change started meanwhile (its
      // pointer written after this read's listing) must stay current.
      const now = await this.pointer.read();
      if (now.changeId === pointer.changeId && now.branch === pointer.branch) {
        await this.pointer.write({ ...(picked ? { changeId: picked } : {}), ...(branch ? { branch } : {}) }).catch((e: unknown) => this.log.warn(`Could not remember the current change: ${String(e)}`));
      } else if (now.branch === branch) picked = now.changeId;
    }
    const open = changes.filter((c) => !c.completed);
    return (changes.find((c) => c.id === picked) ?? changeForBranch(changes, branch) ?? open.at(-1))?.id;
  }

  /** Makes `changeId` current in this working folder, for every surface. */
  async setCurrent(changeId: string | undefined): Promise<void> {
    if (changeId !== undefined) await this.requireChange(changeId);
    const branch = await this.git.currentBranch();
    await this.pointer.write({ ...(changeId ? { changeId } : {}), ...(branch ? { branch } : {}) });
  }

  /** A change in full (attempts, results, staleness against `currentTree`). */
  async change(changeId: string, currentTree?: string): Promise<ChangeState> {
    return (await this.requireChange(changeId, currentTree)).state;
  }

  private async requireChange(changeId: string, currentTree?: string) {
    const loaded = await loadChange(this.deps, changeId, currentTree ? { currentTree } : {});
    if (loaded.eventCount === 0) throw new FactoryRefusal(`There is no change "${changeId}" in .factory/changes.`);
    return loaded;
  }

  async startChange(input: StartChangeInput): Promise<ChangeState> {
    this.requireTrustToWrite('start a change');
    const change = await startChange({ ...this.deps, store: actorStamped(this.store, () => this.actor()) }, input);
    await this.setCurrent(change.id);
    return change;
  }

  /** A ticket id or a description typed in one field. */
  parseTicketOrDescription(text: string): { ticket?: string; description?: string } {
    return parseTicketOrDescription(text);
  }

  /** Where a new change lives when the user has not said: the setting, else ask (undefined). */
  defaultBranchMode(): BranchMode | undefined {
    const setting = this.ports.settings.get<string>('factory.startChange.branch');
    return setting === 'bindCurrent' || setting === 'createBranch' || setting === 'none' ? setting : undefined;
  }

  // ---------------------------------------------------------------------------------
  // Rules

  /** Whether `action` is allowed on the stage now, and why not. */
  async check(action: StageAction, change: ChangeState, stageId: string, request: { outOfOrder?: boolean; toStage?: string } = {}): Promise<Verdict> {
    return decide(action, change, this.stageOf(change, stageId), await this.actionContext(), request);
  }

  /** The actions a surface offers on the stage (a tree row's menu, the CLI's status). */
  async allowed(change: ChangeState, stageId: string): Promise<StageAction[]> {
    return allowedActions(change, this.stageOf(change, stageId), await this.actionContext());
  }

  allowedWith(change: ChangeState, stage: StageState, context: ActionContext): StageAction[] {
    return allowedActions(change, stage, context);
  }

  /** The one action a row offers first (its inline button). */
  primaryAction(change: ChangeState, stage: StageState, context: ActionContext): StageAction | undefined {
    return primaryAction(change, stage, context);
  }

  allowedOnAttempt(change: ChangeState, attempt: AttemptState, context: ActionContext): AttemptAction[] {
    return (['rollback', 'showTranscript'] as const).filter((a) => decideAttempt(a, change, attempt, context).allowed);
  }

  /** Throws the rules' refusal as a FactoryRefusal: a surface asks this before its questions (a note, a target stage). */
  async ensure(action: StageAction, change: ChangeState, stageId: string, request: { outOfOrder?: boolean; toStage?: string } = {}): Promise<StageState> {
    const stage = this.stageOf(change, stageId);
    const verdict = decide(action, change, stage, await this.actionContext(), request);
    if (!verdict.allowed) throw new FactoryRefusal(capitalize(verdict.reason) + '.');
    return stage;
  }

  private stageOf(change: ChangeState, stageId: string): StageState {
    const stage = change.stages.find((s) => s.id === stageId);
    if (!stage) throw new FactoryRefusal(`There is no stage "${stageId}" in the pipeline (stages: ${change.stages.map((s) => s.id).join(', ')}).`);
    return stage;
  }

  private requireTrustToWrite(what: string): void {
    if (!this.isTrusted()) throw new FactoryRefusal(`This workspace is not trusted: Factory Cockpit does not ${what} here. Trust the folder (Manage Workspace Trust) first.`);
  }

  // ---------------------------------------------------------------------------------
  // Actions: each asks the rules first, on the change as the record has it now.

  /** Runs a stage (the change's next one when `stageId` is omitted). */
  async run(input: { changeId: string; stageId?: string; outOfOrder?: boolean; advance?: boolean }): Promise<RunReport> {
    const change = await this.change(input.changeId);
    if (!input.stageId) return this.runNext(change.id, input.advance);
    const stage = await this.ensure('run', change, input.stageId, input);
    // A send-back's note reaches the reopened stage's next run, whichever command starts it.
    const trigger = stage.status === 'sentBack' ? 'sentBack' : 'run';
    return this.runner.run({ changeId: change.id, stageId: stage.id, trigger, ...(input.advance !== undefined ? { advance: input.advance } : {}) });
  }

  /** What "run next" means: run, retry or re-run after a send-back the active stage. */
  async runNext(changeId: string, advance?: boolean): Promise<RunReport> {
    const change = await this.change(changeId);
    const next = nextRun(change, await this.actionContext());
    if ('reason' in next) throw new FactoryRefusal(capitalize(next.reason) + '.');
    return this.runner.run({ changeId, stageId: next.stageId, trigger: next.trigger, ...(advance !== undefined ? { advance } : {}) });
  }

  async retry(input: { changeId: string; stageId: string }): Promise<RunReport> {
    const change = await this.change(input.changeId);
    const stage = await this.ensure('retry', change, input.stageId);
    return this.runner.run({ changeId: change.id, stageId: stage.id, trigger: stage.status === 'sentBack' ? 'sentBack' : 'retry' });
  }

  /** Stops the change's running attempt in this process; false when nothing of it runs here. */
  async stop(changeId: string): Promise<boolean> {
    const identity = await this.git.identity().catch(() => ({ name: 'unknown' }));
    return this.runner.stop(changeId, identity.name);
  }

  isRunningHere(changeId: string): boolean {
    return this.runner.isRunning(changeId);
  }

  async approve(input: { changeId: string; stageId: string; note?: string }): Promise<void> {
    const change = await this.change(input.changeId);
    await this.ensure('approve', change, input.stageId);
    // The hunks and comments since the last decision go to the next stage's pack with the note.
    await onFirstUse.reviewFeedback().handOnReviewFeedback(this, change, { decision: 'approved', fromStage: input.stageId, ...(input.note ? { note: input.note } : {}), by: (await this.actor()).name });
    await this.runner.decide({ changeId: change.id, stageId: input.stageId, decision: 'approved', ...(input.note ? { note: input.note } : {}) });
  }

  /** Sends the change back from `stageId` to `toStage` (the same stage by default) with a note for its next run. */
  async sendBack(input: { changeId: string; stageId: string; toStage?: string; note: string }): Promise<void> {
    if (!input.note.trim()) throw new FactoryRefusal('A send-back needs a note: it is what the reopened stage is asked to fix.');
    const change = await this.change(input.changeId);
    const toStage = input.toStage ?? input.stageId;
    await this.ensure('sendBack', change, input.stageId, { toStage });
    await onFirstUse.reviewFeedback().handOnReviewFeedback(this, change, { decision: 'sentBack', fromStage: input.stageId, toStage, note: input.note.trim(), by: (await this.actor()).name });
    await this.runner.sendBack({ changeId: change.id, fromStage: input.stageId, toStage, note: input.note.trim() });
  }

  async completeByHand(input: { changeId: string; stageId: string; note: string }): Promise<void> {
    if (!input.note.trim()) throw new FactoryRefusal('Marking a stage done needs a note: it is the handoff summary the next stage reads.');
    const change = await this.change(input.changeId);
    await this.ensure('completeByHand', change, input.stageId);
    await this.runner.completeByHand({ changeId: change.id, stageId: input.stageId, note: input.note });
  }

  async changeOwner(input: { changeId: string; stageId: string; owner: Owner }): Promise<void> {
    const change = await this.change(input.changeId);
    await this.ensure('changeOwner', change, input.stageId);
    await this.runner.changeOwner(input);
  }

  /** What a person owning a stage is asked to do: their stage's view (it has no agent transcript). */
  async stageTask(changeId: string, stageId: string): Promise<string> {
    const { pipeline } = await this.store.loadPipeline({ createIfMissing: false });
    if (!pipeline) throw new FactoryRefusal('The pipeline definition is invalid: fix .factory/pipeline.json first.');
    return onFirstUse.stageTask().stageTaskText(await this.change(changeId), pipeline, stageId);
  }

  /** Who can own a stage: every backend of the table, and a person. */
  ownerChoices(): { label: string; backend: string }[] {
    return onFirstUse.catalog().BACKENDS.map((b) => ({ label: b.ownerLabel, backend: b.id }));
  }

  /** Rolls an attempt back after the confirmer agreed to the files it will change. */
  async rollback(input: { changeId: string; attemptId: string; confirm?: (files: { path: string; action: string }[]) => Promise<boolean> }): Promise<boolean> {
    const change = await this.change(input.changeId);
    const attempt = change.stages.flatMap((s) => s.attempts).find((a) => a.id === input.attemptId);
    if (!attempt) throw new FactoryRefusal(`There is no attempt ${input.attemptId} in "${change.title}".`);
    const verdict = decideAttempt('rollback', change, attempt, await this.actionContext());
    if (!verdict.allowed) throw new FactoryRefusal(capitalize(verdict.reason) + '.');
    const confirm = input.confirm ?? ((files) => this.confirmRollback(attempt, files));
    return this.runner.rollback({ changeId: change.id, attemptId: attempt.id, confirm });
  }

  private async confirmRollback(attempt: AttemptState, files: { path: string; action: string }[]): Promise<boolean> {
    if (files.length === 0) return true;
    if (!this.ports.confirmer) throw new FactoryRefusal('Rolling back changes files, and nothing here can ask for confirmation.');
    const words: Record<string, string> = { restore: 'restored', revert: 'reverted', remove: 'removed' };
    const detail = files.slice(0, 30).map((f) => `${words[f.action] ?? f.action}: ${f.path}`).join('\n') + (files.length > 30 ? `\n… and ${files.length - 30} more` : '');
    return this.ports.confirmer.confirm(`Roll back attempt ${attempt.number ?? ''} of ${attempt.stageId}? ${files.length} file(s) will change.`, detail, 'Roll Back');
  }

  /**
   * The attempts that started here and whose process is gone are recorded as interrupted.
   * `state`: a state just read (saves reading it again).
   */
  async recoverInterrupted(state?: FactoryState): Promise<{ changeId: string; attemptId: string; stageId: string }[]> {
    if (!this.isTrusted()) return [];
    state ??= await this.readState();
    const host = this.runnerHost;
    // A change read in full is asked here whether an attempt of it was interrupted (one from
    // the summary index, with no attempts, is left to the stage engine): with nothing to
    // recover, a read does not build the stage engine.
    const mayBeInterrupted = (c: ChangeState) => c.stages.some((s) => (s.status === 'running' && s.attempts.length === 0) || s.attempts.some((a) => interruptedHere(a, host)));
    const candidates = state.changes.filter((c) => !c.completed && c.stages.some((s) => s.status === 'running') && mayBeInterrupted(c));
    if (candidates.length === 0) return [];
    return this.runner.recoverInterrupted(candidates.map((c) => c.id));
  }

  // ---------------------------------------------------------------------------------
  // Verification

  /** The stage "verify change" checks: the active one, or the last once all have passed. */
  stageToVerify(change: ChangeState): StageState | undefined {
    return stageToVerify(change);
  }

  async verifyStage(input: VerifyStageInput): Promise<StageVerificationRun> {
    await this.ensure('verify', await this.change(input.changeId), input.stageId);
    return this.runVerification(input);
  }

  private runVerification(rest: VerifyStageInput): Promise<StageVerificationRun> {
    const browser = this.ports.settings.get<string>('factory.verify.browserPath');
    return onFirstUse.verification().verifyStage(
      { ...this.deps, store: actorStamped(this.store, () => this.actor()) },
      { ...rest, ...(browser && !rest.browserExecutablePath ? { browserExecutablePath: browser } : {}), env: rest.env ?? (this.ports.env as NodeJS.ProcessEnv | undefined) ?? process.env },
    );
  }

  async verifyEvidence(changeId?: string): Promise<EvidenceCheck> {
    return onFirstUse.verification().verifyEvidence(this.deps, changeId);
  }

  // ---------------------------------------------------------------------------------
  // Agents

  async agentEnvironment(): Promise<{ env: Record<string, string | undefined>; secrets: string[] }> {
    const env: Record<string, string | undefined> = { ...(this.ports.env ?? process.env) };
    const values: string[] = [];
    for (const name of onFirstUse.catalog().secretVariables()) {
      const stored = await this.ports.secrets.get(name);
      if (stored) env[name] = stored;
      const value = env[name];
      if (value) values.push(value);
    }
    return { env, secrets: values };
  }

  /** The environment variables whose values the editor keeps in SecretStorage. */
  secretVariables(): string[] {
    return onFirstUse.catalog().secretVariables();
  }

  /** An agent's `--version`, asked once per backend and process (its stream rarely says it). */
  private versionOf(backendId: string): Promise<string | undefined> {
    let known = this.versions.get(backendId);
    if (!known) {
      const backend = this.registry.get(backendId);
      known = backend
        ? this.agentEnvironment().then(({ env }) => onFirstUse.backendCheck().checkBackends([backend], { env, cwd: this.root, timeoutMs: 5_000 })).then((checks) => checks[0]?.version)
        : Promise.resolve(undefined);
      this.versions.set(backendId, known);
    }
    return known;
  }
  private readonly versions = new Map<string, Promise<string | undefined>>();

  async checkBackends(languageModelCount?: number): Promise<BackendCheck[]> {
    const { env } = await this.agentEnvironment();
    return onFirstUse.backendCheck().checkBackends(this.registry.values(), { env, cwd: this.root, ...(languageModelCount !== undefined ? { languageModelCount } : {}) });
  }

  // ---------------------------------------------------------------------------------
  // Reading the record for views

  async findAttempt(changeId: string, attemptId: string): Promise<RecordedAttempt | undefined> {
    return onFirstUse.transcriptReplay().findRecordedAttempt((await this.store.readChange(changeId)).events, attemptId);
  }

  async events(changeId: string): Promise<FactoryEvent[]> {
    return (await this.store.readChange(changeId)).events;
  }

  /** A file of a git tree (an attempt's start or end), read from git objects: it still works after the branch moved on. */
  async readBlob(tree: string, relativePath: string): Promise<Buffer | undefined> {
    // Git can run commands a repository configures, so nothing runs in an untrusted workspace.
    if (!this.isTrusted()) throw new WorkspaceNotTrustedError('read files from git');
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(tree)) throw new FactoryRefusal(`"${tree.slice(0, 80)}" is not a git tree hash.`);
    this.objects ??= new (onFirstUse.gitObjects().GitObjectReader)(this.root);
    this.prefix ??= this.objects.workspacePrefix();
    const repoPath = `${await this.prefix}${relativePath}`;
    const entry = (await this.objects.listTree(tree, repoPath)).find((e) => e.type === 'blob' && e.path === repoPath);
    if (!entry) return undefined;
    return (await this.objects.readBlobs([entry.oid])).get(entry.oid);
  }
  private objects: GitObjectReader | undefined;
  private prefix: Promise<string> | undefined;

  /** The reviewer's use cases: the review of a change (any branch's), per-step evidence, hunk decisions, comments (engine/review.ts). */
  get review(): ReviewService {
    this.reviewService ??= new (onFirstUse.review().ReviewService)(this);
    return this.reviewService;
  }
  private reviewService: ReviewService | undefined;

  /** A workspace-relative path from the record, as an absolute path that stays inside the workspace (or an error naming it). */
  resolvePath(relativePath: string): string {
    return resolveInsideWorkspace(this.root, relativePath);
  }

  // ---------------------------------------------------------------------------------
  // The lead: flow metrics, autonomy earned from evidence, lessons (engine/metrics.ts)

  /** The team's history (every branch and the working folder) as the dashboard's numbers. Git runs only when trusted. */
  async teamReport(request: MetricsRequest = {}): Promise<MetricsReport & { facts: ChangeFact[] }> {
    const { pipeline, problems } = await this.store.loadPipeline({ createIfMissing: false });
    if (!pipeline) throw new FactoryRefusal(`pipeline.json cannot be read: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`);
    const useGit = this.isTrusted() && (await this.git.isRepository());
    return onFirstUse.metrics().teamMetrics({ root: this.root, pipeline, store: this.store, useGit }, request);
  }

  /** Each stage's effective autonomy and why (the lead's grants and revocations within pipeline.json's limits). */
  async stageAutonomy(): Promise<StageAutonomy[]> {
    const { pipeline } = await this.store.loadPipeline({ createIfMissing: false });
    if (!pipeline) return [];
    return onFirstUse.autonomy().effectiveAutonomy(pipeline, (await new (onFirstUse.decisionLog().DecisionLog)(this.root).read()).events);
  }

  /** Whether a stage auto-advances on this change: its effective autonomy, unless the change touched one of its risk paths. */
  private async autonomyOf(stageId: string, changeId: string): Promise<'auto' | 'approve'> {
    const stage = (await this.stageAutonomy()).find((s) => s.stageId === stageId);
    if (!stage) return 'approve';
    if (stage.effective !== 'auto' || stage.riskPaths.length === 0) return stage.effective;
    const touched = (await this.store.readChange(changeId)).events.flatMap((e) => (isEvent(e, 'attempt.finished') ? (e.data.changedFiles ?? []).map((f) => f.path) : []));
    return onFirstUse.autonomy().mayAutoAdvance(stage, touched).allowed ? 'auto' : 'approve';
  }

  /** Records a lead's grant or revocation of a stage's auto-advance, with the evidence at that moment. */
  async decideAutonomy(input: { stageId: string; action: 'grant' | 'revoke'; owner?: string; evidence?: Record<string, unknown>; note?: string }): Promise<FactoryEvent> {
    this.requireTrustToWrite('record an autonomy decision');
    const { pipeline } = await this.store.loadPipeline({ createIfMissing: false });
    const stage = pipeline?.stages.find((s) => s.id === input.stageId);
    if (!stage) throw new FactoryRefusal(`There is no stage "${input.stageId}" in the pipeline.`);
    if (input.action === 'grant' && (stage as { maxAutonomy?: string }).maxAutonomy === 'approve') throw new FactoryRefusal(`pipeline.json caps ${stage.title} at approve (maxAutonomy): it cannot be granted auto-advance.`);
    const data = { stageId: input.stageId, ...(input.owner ? { owner: input.owner } : {}), ...(input.evidence ? { evidence: input.evidence } : {}), ...(input.note ? { note: input.note } : {}) };
    const log = new (onFirstUse.decisionLog().DecisionLog)(this.root, { now: () => this.clock.now(), mayWrite: () => this.isTrusted() });
    return input.action === 'grant' ? log.append({ type: 'autonomy.granted', by: await this.actor(), data: { ...data, autonomy: 'auto' } }) : log.append({ type: 'autonomy.revoked', by: await this.actor(), data: { ...data, autonomy: 'approve' } });
  }

  /**
   * Promotes a lesson into the project's conventions: a line in `target` (default
   * `.factory/conventions.md`, which does not stale verified results; another tracked
   * file changes the tree), a `lesson.promoted` decision, and every open change's pack
   * takes the file again so its next stage gets the lesson (engine/lessonPromotion.ts).
   */
  async promoteLesson(input: { lessonId: string; text: string; stageId?: string; kind?: string; target?: string; examples?: { changeId: string; reason?: string }[] }): Promise<{ event: FactoryEvent; target: string; changesTree: boolean; packsRefreshed: string[] }> {
    this.requireTrustToWrite('promote a lesson');
    const { carryIntoOpenPacks, changesTree, PROMOTED_LESSONS_FILE, writeLessonLine } = onFirstUse.lessonPromotion();
    const target = input.target ?? PROMOTED_LESSONS_FILE;
    await writeLessonLine(this.root, target, input.text);
    const open = (await listChangeSummaries(this.deps)).changes.filter((c) => !c.completed).map((c) => c.id);
    const carried = await carryIntoOpenPacks(this.context, open, target);
    for (const f of carried.failed) this.log.warn(`The promoted lesson did not reach the pack of ${f.changeId}: ${f.message}`);
    // Recorded last: once the decision shows, the open changes' packs already carry the lesson.
    const event = await new (onFirstUse.decisionLog().DecisionLog)(this.root, { now: () => this.clock.now(), mayWrite: () => this.isTrusted() }).append({
      type: 'lesson.promoted',
      by: await this.actor(),
      data: { lessonId: input.lessonId, text: input.text, target, ...(input.stageId ? { stageId: input.stageId } : {}), ...(input.kind ? { kind: input.kind } : {}), examples: (input.examples ?? []).slice(0, 5) },
    });
    return { event, target, changesTree: changesTree(target), packsRefreshed: carried.refreshed };
  }

  private async actor(): Promise<Actor> {
    return { ...(await this.git.identity().catch(() => ({ name: os.userInfo().username || 'unknown' }))) };
  }
}

/** The list with `change` in place of its summary (or added, when the list does not have it yet). */
function withChange(changes: readonly ChangeState[], change: ChangeState): ChangeState[] {
  const at = changes.findIndex((c) => c.id === change.id);
  if (at === -1) return byCreation([...changes, change]);
  const copy = [...changes];
  copy[at] = change;
  return copy;
}

/** Every event the factory writes says who did it, the same way on every path. */
function actorStamped(store: RecordStore, actor: () => Promise<Actor>): RecordStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'append') {
        return async (changeId: string, draft: EventDraft) => target.append(changeId, draft.by ? draft : ({ ...draft, by: await actor() } as EventDraft));
      }
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The project's test command, proposed in the first pipeline.json (and editable there). */
function proposedTests(root: string): { tests?: DetectedTests } {
  const tests = detectTestCommand(root);
  return tests ? { tests } : {};
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function createFactory(ports: FactoryPorts): Factory {
  return new Factory(ports);
}

export { WorkspaceNotTrustedError };
export type { TrustPort };
export type { StageAction, AttemptAction, ActionContext, Verdict, BranchMode, StartChangeInput, RunReport, RunObserver, RecordProblem, RecordedAttempt, BackendCheck, EvidenceCheck, StageVerificationRun, VerifyStageInput };
