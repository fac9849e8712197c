// The CLI's commands, loaded only when a command runs (main.ts imports this lazily).
// Each builds the factory through the engine's one entry point with the CLI's ports —
// settings from flags, environment and the user config; secrets from the environment
// and the config; trust from --untrusted — and calls the same use cases the editor
// calls, so both refuse and allow alike.
import './zodOneShot';
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { AgentEvent } from '../core/agentEvents';
import { terminalText } from '../core/safeText';
import type { ChangeState } from '../core/fold';
import { nextRun } from '../core/actions';
import { describeUnknownKey, unknownPipelineKeys } from '../core/pipelineKeys';
import { createFactory, FactoryRefusal, WorkspaceNotTrustedError, type ActionContext, type Factory, type RecordProblem, type RunReport } from '../engine/factory';
import { PipelineInvalidError } from '../engine/changes';
import { RunnerRefusal, RunnerRegistry, describeRunner, type RunnerRecord } from '../engine/detachedRun';
import type { DetachedSpec } from '../engine/detachedStart';
import { onFirstUse } from '../engine/onFirstUse';
import { writeFile } from 'node:fs/promises';
import { OUTPUT_VERSION } from './outputVersion';
import { ConfigError, resolveSettings, UsageError, type ResolvedSettings } from './settings';
import { EXIT, UNTRUSTED_ENV } from './paths';
import { userCacheRoot } from '../store/cacheDir';
import { RecordReadOnlyError, UnsafeRecordPathError } from '../store/recordFs';
import { InvalidChangeIdError } from '../store/recordStore';

/** An environment or record problem (exit 3). */
export class EnvironmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvironmentError';
  }
}

interface Globals {
  json?: boolean;
  root?: string;
  untrusted?: boolean;
  config?: string;
  set?: string[];
}

// ---------------------------------------------------------------------------------
// Output

const colourOn = (stream: NodeJS.WriteStream) => Boolean(stream.isTTY) && !('NO_COLOR' in process.env && process.env.NO_COLOR !== undefined) && process.env.TERM !== 'dumb';
const paint = (stream: NodeJS.WriteStream, code: number) => (text: string) => (colourOn(stream) ? `\u001b[${code}m${text}\u001b[0m` : text);
const c = {
  green: paint(process.stdout, 32),
  red: paint(process.stdout, 31),
  yellow: paint(process.stdout, 33),
  dim: paint(process.stdout, 2),
  bold: paint(process.stdout, 1),
  errRed: paint(process.stderr, 31),
  errDim: paint(process.stderr, 2),
  errYellow: paint(process.stderr, 33),
};

function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}
function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}
function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Control and bidirectional characters from the record or an agent are shown escaped, never interpreted by the terminal. */
/** One line of text from the record or an agent (a title, a path): nothing in it acts on the terminal, not even a line feed. */
export const plain = (text: string): string => terminalText(text);
/** Lines of it (an error message, an agent's text, a document): line feeds and tabs kept. */
const plainLines = (text: string): string => terminalText(text, { multiline: true });

/**
 * A document the record or the workspace wrote (a rendered context pack, a review
 * export, a CSV): byte for byte into a pipe or a file, where a program reads it, but
 * escaped on a terminal like every other text from the record.
 */
function writeDocument(text: string): void {
  process.stdout.write(process.stdout.isTTY ? plainLines(text) : text);
}

// ---------------------------------------------------------------------------------
// Errors → exit codes

export async function guard(run: () => Promise<number>, command: Command): Promise<number> {
  try {
    return await run();
  } catch (error) {
    const code = exitCodeOf(error);
    const message = error instanceof Error ? error.message : String(error);
    const globals = command.optsWithGlobals<Globals>();
    if (globals.json) printJson({ kind: 'error', version: OUTPUT_VERSION, exitCode: code, message });
    process.stderr.write(`${c.errRed('factory-cockpit:')} ${plainLines(message)}\n`);
    if (process.env.FACTORY_COCKPIT_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return code;
  }
}

export function exitCodeOf(error: unknown): number {
  // A change id that names no change folder (`../x`, a control character) is a mistyped argument.
  if (error instanceof UsageError || error instanceof InvalidChangeIdError) return EXIT.usage;
  if (error instanceof ConfigError || error instanceof EnvironmentError || error instanceof PipelineInvalidError || error instanceof WorkspaceNotTrustedError) return EXIT.environment;
  // The record itself stands in the way: a part of .factory/ that is a link or a file where a folder belongs, or Restricted Mode.
  if (error instanceof UnsafeRecordPathError || error instanceof RecordReadOnlyError) return EXIT.environment;
  if (error instanceof FactoryRefusal && /not trusted|not a git repository/i.test(error.message)) return EXIT.environment;
  return EXIT.failed;
}

// ---------------------------------------------------------------------------------
// The factory for this invocation

/** The workspace folder: --root, else the nearest folder with .factory/ up to the git top level, else the top level, else here. */
export function findRoot(start: string): { root: string; gitTop?: string } {
  let dir = path.resolve(start);
  let withRecord: string | undefined;
  for (;;) {
    if (!withRecord && existsSync(path.join(dir, '.factory', 'pipeline.json'))) withRecord = dir;
    if (existsSync(path.join(dir, '.git'))) return { root: withRecord ?? dir, gitTop: dir };
    const parent = path.dirname(dir);
    if (parent === dir) return { root: withRecord ?? path.resolve(start) };
    dir = parent;
  }
}

export interface CliContext {
  globals: Globals;
  root: string;
  trusted: boolean;
  settings: ResolvedSettings;
  factory: Factory;
  runners: RunnerRegistry;
  problems: RecordProblem[];
}

function setup(command: Command, observer?: Parameters<typeof createFactory>[0]['observer']): CliContext {
  const globals = command.optsWithGlobals<Globals>();
  const root = globals.root ? path.resolve(globals.root) : findRoot(process.cwd()).root;
  if (globals.root && !existsSync(root)) throw new UsageError(`--root ${globals.root}: no such folder.`);
  if (globals.root && !statSync(root).isDirectory()) throw new UsageError(`--root ${globals.root}: not a folder.`);
  const trusted = !(globals.untrusted || /^(1|true|yes)$/i.test(process.env[UNTRUSTED_ENV] ?? ''));
  const settings = resolveSettings({ flags: globals.set ?? [], env: process.env, ...(globals.config ? { configPath: path.resolve(globals.config) } : {}) });
  const runners = new RunnerRegistry(root);
  const problems: RecordProblem[] = [];
  const factory = createFactory({
    root,
    settings: { get: <T>(key: string) => settings.values[key] as T | undefined },
    secrets: { get: (name) => Promise.resolve(process.env[name] || settings.secrets[name] || undefined) },
    trust: { isTrusted: () => trusted },
    isAlive: (pid) => runners.isAlive(pid),
    onProblem: (p) => problems.push(p),
    ...(observer ? { observer } : {}),
  });
  return { globals, root, trusted, settings, factory, runners, problems };
}

async function requireRepository(ctx: CliContext): Promise<void> {
  if (!ctx.trusted) return;
  if (!(await ctx.factory.git.isRepository())) throw new EnvironmentError(`${ctx.root} is not a git repository: the factory checkpoints and verifies stages against git trees. Run \`git init\` (and commit) first, or pass --root.`);
}

function requireTrusted(ctx: CliContext, what: string): void {
  if (!ctx.trusted) throw new EnvironmentError(`The folder is treated as untrusted (--untrusted or ${UNTRUSTED_ENV}): Factory Cockpit does not ${what} here.`);
}

async function requirePipeline(ctx: CliContext): Promise<void> {
  const load = await ctx.factory.store.loadPipeline({ createIfMissing: false });
  if (!load.pipeline) {
    if (load.problems.length === 0) throw new EnvironmentError(`There is no .factory/pipeline.json in ${ctx.root}: run \`factory-cockpit init\` first.`);
    throw new PipelineInvalidError(load.problems);
  }
}

/** The change a command is about: --change, else the current one. */
async function targetChange(ctx: CliContext, explicit?: string): Promise<ChangeState> {
  if (explicit) return ctx.factory.change(explicit);
  const state = await ctx.factory.readState();
  if (!state.current) {
    // No pipeline to fold changes with, or no changes folder to list: the record is what
    // is wrong (exit 3), not the user's choice of change.
    const unreadable = state.pipeline ? state.problems.filter((p) => p.path === '.factory' || p.path === '.factory/changes') : state.problems;
    if (unreadable.length > 0) throw new EnvironmentError(`${state.pipeline ? 'The record cannot be read' : 'The pipeline does not load'}, so no change can be: ${recordProblemsText(unreadable)}`);
    throw new FactoryRefusal('No change is current: start one with `factory-cockpit change start <title>` or pick one with `factory-cockpit change switch <id>`.');
  }
  return state.current;
}

/** The first few problems, each with its path, for one message. */
function recordProblemsText(problems: readonly RecordProblem[]): string {
  const shown = problems.slice(0, 3).map((p) => `${p.path}${p.field ? ` (${p.field})` : ''}: ${p.message}`);
  return `${shown.join('; ')}${problems.length > shown.length ? ` (and ${problems.length - shown.length} more: factory-cockpit doctor)` : ''}.`;
}

function stdinIsTerminal(): boolean {
  return Boolean(process.stdin.isTTY);
}

/** Asks a person on the terminal; without one, a missing answer is a usage error naming the flag. */
async function ask(question: string, flag: string, choices?: readonly string[]): Promise<string> {
  if (!stdinIsTerminal()) throw new UsageError(`${flag} is required when stdin is not a terminal${choices ? ` (one of ${choices.join(', ')})` : ''}.`);
  // Loaded here only: a command that asks nothing does not load readline.
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    for (;;) {
      const answer = (await rl.question(`${question}${choices ? ` [${choices.join('/')}]` : ''}: `)).trim();
      if (!answer) continue;
      if (choices && !choices.includes(answer)) {
        process.stderr.write(`Answer one of ${choices.join(', ')}.\n`);
        continue;
      }
      return answer;
    }
  } finally {
    rl.close();
  }
}

// ---------------------------------------------------------------------------------
// Shapes (schemas.ts)

/** `known`: the trust and repository facts a state read already has (saves asking git again). */
export async function changeOutput(factory: Factory, change: ChangeState, known?: ActionContext) {
  const context = known ?? (await factory.actionContext());
  return {
    id: change.id,
    title: change.title,
    ...(change.ticket ? { ticket: change.ticket } : {}),
    ...(change.description ? { description: change.description } : {}),
    ...(change.branch ? { branch: change.branch } : {}),
    ...(change.createdAt ? { createdAt: change.createdAt } : {}),
    completed: change.completed,
    ...(change.activeStageId ? { activeStageId: change.activeStageId } : {}),
    verification: change.verification,
    stages: change.stages.map((s) => ({
      id: s.id,
      title: s.title,
      status: s.status,
      owner: s.owner,
      handedOff: s.handedOff,
      approved: s.approved,
      attempts: s.attempts.map((a) => ({
        id: a.id,
        ...(a.number !== undefined ? { number: a.number } : {}),
        backend: a.backend,
        ...(a.model ? { model: a.model } : {}),
        ...(a.startedAt ? { startedAt: a.startedAt } : {}),
        ...(a.finishedAt ? { finishedAt: a.finishedAt } : {}),
        ...(a.outcome ? { outcome: a.outcome } : {}),
        ...(a.reason ? { reason: a.reason } : {}),
        ...(a.durationMs !== undefined ? { durationMs: a.durationMs } : {}),
        ...(a.costUsd !== undefined ? { costUsd: a.costUsd } : {}),
        ...(a.tokens !== undefined ? { tokens: a.tokens } : {}),
        ...(a.transcript ? { transcript: a.transcript } : {}),
        ...(a.diff ? { diff: a.diff } : {}),
        ...(a.mcpStatus ? { mcpStatus: a.mcpStatus } : {}),
        ...(a.mcpTools?.length ? { mcpTools: a.mcpTools } : {}),
        rolledBack: a.rolledBack,
        superseded: a.superseded,
      })),
      results: s.results.map((r) => ({
        criterionId: r.criterionId,
        outcome: r.outcome,
        required: r.required,
        ...(r.message ? { message: r.message } : {}),
        ...(r.verifiedTree ? { verifiedTree: r.verifiedTree } : {}),
        stale: s.status === 'stale',
      })),
      allowed: factory.allowedWith(change, s, context),
    })),
  };
}

function summaryOutput(change: ChangeState, currentId: string | undefined) {
  return {
    id: change.id,
    title: change.title,
    ...(change.ticket ? { ticket: change.ticket } : {}),
    ...(change.branch ? { branch: change.branch } : {}),
    completed: change.completed,
    ...(change.activeStageId ? { activeStageId: change.activeStageId } : {}),
    current: change.id === currentId,
    stages: change.stages.map((s) => ({ id: s.id, status: s.status })),
  };
}

function runnerOutput(record: RunnerRecord, alive: boolean) {
  return {
    changeId: record.changeId,
    pid: record.pid,
    hostname: record.hostname,
    alive,
    startedAt: record.startedAt,
    startedBy: record.startedBy,
    ...(record.stageId ? { stageId: record.stageId } : {}),
    ...(record.attemptId ? { attemptId: record.attemptId } : {}),
    log: record.log,
  };
}

const problemOutput = (p: RecordProblem) => ({ path: p.path, field: p.field, message: p.message, ...(p.quarantinedTo ? { quarantinedTo: p.quarantinedTo } : {}) });

// ---------------------------------------------------------------------------------
// Human-readable rendering

const STATUS_MARK: Record<string, (s: string) => string> = {
  passed: (s) => c.green(s),
  failed: (s) => c.red(s),
  running: (s) => c.yellow(s),
  needsApproval: (s) => c.yellow(s),
  stale: (s) => c.yellow(s),
  sentBack: (s) => c.yellow(s),
  pending: (s) => c.dim(s),
};
const ICON: Record<string, string> = { passed: '✓', failed: '✗', running: '▶', needsApproval: '?', stale: '~', sentBack: '↩', pending: '·' };

// What only some commands need is imported when they run: `status` then evaluates none of it.
async function printChange(change: Awaited<ReturnType<typeof changeOutput>>, runner?: RunnerRecord): Promise<void> {
  const { mcpSummary } = await import('../engine/viewModels');
  print(`${c.bold(plain(change.title))}${change.ticket ? ` ${c.dim(`[${plain(change.ticket)}]`)}` : ''}  ${c.dim(change.id)}`);
  if (change.branch) print(`  branch ${plain(change.branch)}`);
  print(`  verification ${change.verification.state} (${change.verification.passed}/${change.verification.total} passed${change.verification.stale ? `, ${change.verification.stale} stale` : ''})${change.completed ? ' · completed' : ''}`);
  for (const stage of change.stages) {
    const mark = (STATUS_MARK[stage.status] ?? ((s: string) => s))(`${ICON[stage.status] ?? ' '} ${stage.status}`);
    const owner = plain(stage.owner.person ? `${stage.owner.backend}:${stage.owner.person}` : stage.owner.backend);
    const last = stage.attempts.at(-1);
    const lastText = last ? ` · attempt ${last.number ?? stage.attempts.length} ${last.outcome ?? 'running'}${last.reason ? `: ${plain(last.reason).slice(0, 120)}` : ''}` : '';
    print(`  ${stage.id === change.activeStageId ? '›' : ' '} ${stage.id.padEnd(12)} ${mark.padEnd(colourOn(process.stdout) ? 26 : 17)} ${c.dim(owner)}${lastText}`);
    // #18: what the last attempt did with the factory's MCP server.
    const mcp = last ? mcpSummary(last) : undefined;
    if (mcp?.failed && mcp.server) print(`      ${c.yellow(plain(mcp.server))}`);
    if (mcp?.tools) print(`      ${c.dim(plain(mcp.tools))}`);
    if (stage.allowed.length) print(`      ${c.dim(`allowed: ${stage.allowed.join(', ')}`)}`);
  }
  if (runner) print(`  ${c.yellow('runner')} ${describeRunner(runner)}`);
}

/** Streams an agent's events to stderr as it works; `end()` closes a text line left open. */
function transcriptPrinter(): ((event: AgentEvent) => void) & { end(): void } {
  let inText = false;
  const endText = () => {
    if (inText) process.stderr.write('\n');
    inText = false;
  };
  const printer = (event: AgentEvent) => {
    switch (event.kind) {
      case 'text':
        process.stderr.write(plainLines(event.text));
        inText = true;
        return;
      case 'toolStarted':
        endText();
        progress(c.errDim(`  ⚙ ${plain(event.name)}${event.paths?.length ? ` ${plain(event.paths.join(', '))}` : ''}`));
        return;
      case 'fileEdited':
        endText();
        progress(c.errDim(`  ✎ ${event.change} ${plain(event.path)}`));
        return;
      case 'commandRun':
        endText();
        progress(c.errDim(`  $ ${plain(event.command)}${event.exitCode !== undefined && event.exitCode !== null ? ` (exit ${event.exitCode})` : ''}`));
        return;
      case 'error':
        endText();
        progress(c.errRed(`  ! ${plain(event.message)}`));
        return;
      default:
        return;
    }
  };
  return Object.assign(printer, { end: endText });
}

// ---------------------------------------------------------------------------------
// Commands

export async function init(command: Command): Promise<number> {
  const ctx = setup(command);
  requireTrusted(ctx, 'write the record');
  await requireRepository(ctx);
  const load = await ctx.factory.store.loadPipeline({ createIfMissing: true });
  if (!load.pipeline) throw new PipelineInvalidError(load.problems);
  await ctx.factory.store.ensureGitignore();
  if (ctx.globals.json) {
    printJson({ kind: 'init', version: OUTPUT_VERSION, root: ctx.root, pipeline: ctx.factory.store.pipelinePath, created: load.created, stages: load.pipeline.stages.map((s) => s.id) });
  } else {
    print(`${load.created ? 'Created' : 'Found'} ${path.relative(process.cwd(), ctx.factory.store.pipelinePath) || ctx.factory.store.pipelinePath}: ${load.pipeline.stages.map((s) => s.id).join(' → ')}`);
    print('Next: factory-cockpit change start "<title>" --branch bindCurrent');
  }
  return EXIT.ok;
}

export async function status(command: Command): Promise<number> {
  const ctx = setup(command);
  const opts = command.opts<{ change?: string }>();
  // Every read detects attempts whose runner died (kill -9, reboot) and records them as
  // interrupted; the state is read again only when that changed the record.
  let state = await ctx.factory.readState();
  const interrupted = ctx.trusted ? await ctx.factory.recoverInterrupted(state).catch(() => []) : [];
  if (interrupted.length > 0) state = await ctx.factory.readState(state.currentTree ? { currentTree: state.currentTree } : {});
  if (!state.pipeline && state.problems.length === 0 && !ctx.globals.json) {
    print(`No record in ${ctx.root} yet: run \`factory-cockpit init\`.`);
    return EXIT.ok;
  }
  const change = opts.change ? await ctx.factory.change(opts.change, state.currentTree ?? (state.isRepository ? await ctx.factory.git.workingTreeHash().catch(() => undefined) : undefined)) : state.current;
  const shown = change ? await changeOutput(ctx.factory, change, { trusted: state.trusted, isRepository: state.isRepository }) : null;
  const runners = ctx.runners.list();
  const problems = [...state.problems, ...ctx.problems];
  // The record cannot be read without its pipeline: a record error (exit 3), as the README says.
  const pipelineInvalid = !state.pipeline && state.problems.some((p) => p.path === '.factory/pipeline.json');
  if (ctx.globals.json) {
    printJson({
      kind: 'status',
      version: OUTPUT_VERSION,
      root: ctx.root,
      isRepository: state.isRepository,
      trusted: state.trusted,
      ...(state.branch ? { branch: state.branch } : {}),
      change: shown,
      currentChangeId: state.current?.id ?? null,
      changes: state.changes.map((c) => summaryOutput(c, state.current?.id)),
      runners: runners.map((r) => runnerOutput(r.record, r.alive)),
      interrupted,
      problems: dedupe(problems).map(problemOutput),
    });
  } else {
    if (!state.isRepository && ctx.trusted) print(c.yellow(`${ctx.root} is not a git repository: the record is shown, nothing can run.`));
    if (!ctx.trusted) print(c.yellow('Untrusted: the record is only read.'));
    for (const i of interrupted) print(c.yellow(`Attempt ${i.attemptId} of ${i.stageId} was interrupted (its runner is gone) and is recorded so; retry it with \`factory-cockpit retry ${i.stageId}\`.`));
    if (shown) await printChange(shown, runners.find((r) => r.alive && r.record.changeId === shown.id)?.record);
    else if (pipelineInvalid) print(c.red('.factory/pipeline.json does not load, so no change can be shown: fix the problem below (factory-cockpit doctor).'));
    else print('No change is current: factory-cockpit change start "<title>"');
    const others = state.changes.filter((x) => x.id !== shown?.id && !x.completed);
    if (others.length) print(c.dim(`${others.length} other open change(s): factory-cockpit change list`));
    for (const p of dedupe(problems)) print(c.yellow(`problem: ${plain(p.path)}${p.field ? ` (${plain(p.field)})` : ''}: ${plain(p.message)}${p.quarantinedTo ? ` — set aside to ${plain(p.quarantinedTo)}` : ''}`));
  }
  return pipelineInvalid ? EXIT.environment : EXIT.ok;
}

function dedupe(problems: RecordProblem[]): RecordProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.field}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export async function changeStart(title: string, command: Command): Promise<number> {
  const ctx = setup(command);
  const opts = command.opts<{ ticket?: string; description?: string; branch?: 'bindCurrent' | 'createBranch' | 'none' }>();
  requireTrusted(ctx, 'start a change');
  await requireRepository(ctx);
  if (!title.trim()) throw new UsageError('A change needs a title: factory-cockpit change start "<title>".');
  const branchMode = opts.branch ?? ctx.factory.defaultBranchMode() ?? ((await ask('Where does the change live? bindCurrent = the checked-out branch, createBranch = a new factory/<change> branch, none', '--branch', ['bindCurrent', 'createBranch', 'none'])) as 'bindCurrent' | 'createBranch' | 'none');
  const change = await ctx.factory.startChange({ title, ...(opts.ticket ? { ticket: opts.ticket } : {}), ...(opts.description ? { description: opts.description } : {}), branchMode });
  const shown = await changeOutput(ctx.factory, await ctx.factory.change(change.id));
  if (ctx.globals.json) printJson({ kind: 'changeStarted', version: OUTPUT_VERSION, change: shown });
  else {
    print(`Started ${c.bold(plain(change.title))} ${c.dim(change.id)}${change.branch ? ` on ${plain(change.branch)}` : ''}; it is current.`);
    print('Next: factory-cockpit context add <files>, then factory-cockpit run');
  }
  return EXIT.ok;
}

export async function changeList(command: Command): Promise<number> {
  const ctx = setup(command);
  const state = await ctx.factory.readState();
  const currentId = state.current?.id;
  if (ctx.globals.json) {
    printJson({ kind: 'changes', version: OUTPUT_VERSION, currentChangeId: currentId ?? null, changes: state.changes.map((x) => summaryOutput(x, currentId)) });
    return EXIT.ok;
  }
  if (state.changes.length === 0) print('No changes yet: factory-cockpit change start "<title>"');
  for (const change of state.changes) {
    const stage = change.stages.find((s) => s.id === change.activeStageId);
    print(`${change.id === currentId ? '*' : ' '} ${change.id}  ${plain(change.title)}${change.ticket ? ` [${plain(change.ticket)}]` : ''}  ${c.dim(change.completed ? 'completed' : stage ? `${stage.id}: ${stage.status}` : 'all stages passed')}`);
  }
  return EXIT.ok;
}

export async function changeSwitch(id: string, command: Command): Promise<number> {
  const ctx = setup(command);
  await ctx.factory.setCurrent(id);
  if (ctx.globals.json) printJson({ kind: 'changeSwitched', version: OUTPUT_VERSION, changeId: id });
  else print(`Current change: ${id}`);
  return EXIT.ok;
}

async function contextOutput(ctx: CliContext, changeId: string, touched?: string[]) {
  const pack = await ctx.factory.context.load(changeId);
  return { kind: 'context' as const, version: OUTPUT_VERSION, changeId, packVersion: pack.version, items: pack.items, ...(touched ? { touched } : {}) };
}

function printContext(out: Awaited<ReturnType<typeof contextOutput>>): void {
  print(`Context pack ${c.dim(out.packVersion)} · ${out.items.length} item(s)`);
  for (const item of out.items) print(`  ${item.pinned ? '*' : ' '} ${item.kind.padEnd(10)} ${plain(item.title)}  ${c.dim(`~${item.tokens} tokens`)}`);
}

export async function contextAdd(paths: string[], command: Command): Promise<number> {
  const ctx = setup(command);
  requireTrusted(ctx, 'change the context pack');
  const change = await targetChange(ctx);
  const touched: string[] = [];
  for (const given of paths) {
    const absolute = path.resolve(process.cwd(), given);
    const rel = path.relative(ctx.root, absolute).split(path.sep).join('/');
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new UsageError(`${given} is outside the workspace ${ctx.root}.`);
    let isDir: boolean;
    try {
      isDir = statSync(absolute).isDirectory();
    } catch {
      throw new UsageError(`${given}: no such file or folder.`);
    }
    const edit = isDir ? await ctx.factory.context.addFolderItem(change.id, { path: rel || '.' }) : await ctx.factory.context.addFileItem(change.id, { path: rel });
    touched.push(...edit.itemIds);
    if (!ctx.globals.json) progress(`${edit.changed ? 'added' : 'unchanged'} ${plain(rel)}`);
  }
  const out = await contextOutput(ctx, change.id, touched);
  if (ctx.globals.json) printJson(out);
  else printContext(out);
  return EXIT.ok;
}

export async function contextNote(text: string, command: Command): Promise<number> {
  const ctx = setup(command);
  requireTrusted(ctx, 'change the context pack');
  if (!text.trim()) throw new UsageError('A note needs text.');
  const change = await targetChange(ctx);
  const edit = await ctx.factory.context.addNote(change.id, { text });
  const out = await contextOutput(ctx, change.id, edit.itemIds);
  if (ctx.globals.json) printJson(out);
  else printContext(out);
  return EXIT.ok;
}

export async function contextList(command: Command): Promise<number> {
  const ctx = setup(command);
  const change = await targetChange(ctx);
  const out = await contextOutput(ctx, change.id);
  if (ctx.globals.json) printJson(out);
  else printContext(out);
  return EXIT.ok;
}

export async function contextRender(command: Command): Promise<number> {
  const ctx = setup(command);
  const opts = command.opts<{ budget?: number }>();
  const change = await targetChange(ctx);
  const rendered = await ctx.factory.context.render(change.id, opts.budget ? { budgetTokens: opts.budget } : {});
  if (ctx.globals.json) printJson({ kind: 'contextRender', version: OUTPUT_VERSION, changeId: change.id, packVersion: rendered.version, tokens: rendered.tokens, withinBudget: rendered.withinBudget, included: rendered.included, text: rendered.text });
  else {
    writeDocument(rendered.text.endsWith('\n') ? rendered.text : `${rendered.text}\n`);
    progress(c.errDim(`~${rendered.tokens} tokens${opts.budget ? ` of ${opts.budget}` : ''}${rendered.withinBudget ? '' : ' (over budget)'}`));
  }
  return EXIT.ok;
}

const PASSING_STOPS = new Set(['completed', 'handedOff', 'approval', 'waitingForPerson']);

export function exitCodeOfReport(report: { stopped: string }): number {
  return PASSING_STOPS.has(report.stopped) ? EXIT.ok : EXIT.failed;
}

/** The stage `run` would start: the named one, else what "run next" picks. */
function stageToRun(change: ChangeState, stageId: string | undefined): string | undefined {
  return stageId ?? change.activeStageId;
}

async function applyBackend(ctx: CliContext, change: ChangeState, stageId: string | undefined, backend: string | undefined): Promise<void> {
  if (!backend) return;
  if (!stageId) throw new FactoryRefusal('Every stage has passed: there is nothing to run.');
  if (!onFirstUse.catalog().backendEntry(backend) && !ctx.factory.backends.has(backend)) throw new UsageError(`--backend ${backend}: no such backend (known: ${[...ctx.factory.backends.keys()].join(', ')}).`);
  const stage = change.stages.find((s) => s.id === stageId);
  if (!stage) throw new FactoryRefusal(`There is no stage "${stageId}" in the pipeline (stages: ${change.stages.map((s) => s.id).join(', ')}).`);
  if (stage.owner.backend === backend) return;
  await ctx.factory.changeOwner({ changeId: change.id, stageId, owner: { backend } });
  progress(c.errDim(`${stageId} is now owned by ${backend} (recorded).`));
}

/**
 * `--backend` records the stage's new owner before the run: the rules are asked first,
 * so a run they refuse (another stage running, a stage out of order, one waiting for
 * approval) leaves the record as it was instead of changing the owner on the way out.
 */
async function refuseBeforeOwnerChange(ctx: CliContext, change: ChangeState, stageId: string, input: { mode: DetachedSpec['mode']; backend?: string; outOfOrder?: boolean }): Promise<void> {
  const entry = input.backend ? onFirstUse.catalog().backendEntry(input.backend) : undefined;
  if (input.backend && !entry && !ctx.factory.backends.has(input.backend)) return; // applyBackend says it is no backend (a usage error)
  if (entry?.inEditor) {
    throw new FactoryRefusal(`${input.backend} runs inside the editor (vscode.lm): run the stage from VS Code, or pick another --backend.`);
  }
  if (input.mode === 'next') {
    const next = nextRun(change, await ctx.factory.actionContext());
    if ('reason' in next) throw new FactoryRefusal(`${next.reason.charAt(0).toUpperCase()}${next.reason.slice(1)}.`);
    return;
  }
  if (!change.stages.some((s) => s.id === stageId)) return; // applyBackend names the stage that is not there
  const verdict = await ctx.factory.check(input.mode === 'retry' ? 'retry' : 'run', change, stageId, { outOfOrder: Boolean(input.outOfOrder) });
  if (!verdict.allowed) throw new FactoryRefusal(`${verdict.reason.charAt(0).toUpperCase()}${verdict.reason.slice(1)}.`);
}

function refuseInEditorBackend(change: ChangeState, stageId: string | undefined): void {
  const stage = change.stages.find((s) => s.id === stageId);
  if (stage && onFirstUse.catalog().backendEntry(stage.owner.backend)?.inEditor) {
    throw new FactoryRefusal(`"${stage.title}" is owned by ${stage.owner.backend}, which runs inside the editor (vscode.lm): run it from VS Code, or change its owner (--backend).`);
  }
}

export async function run(stageId: string | undefined, command: Command): Promise<number> {
  const opts = command.opts<{ backend?: string; auto?: boolean; detach?: boolean; outOfOrder?: boolean; runnerChild?: boolean }>();
  if (opts.runnerChild) return (await import('./runnerChild')).runnerChild();
  return startRun(command, { mode: stageId ? 'run' : 'next', ...(stageId ? { stageId } : {}), ...opts });
}

export async function retry(stageId: string | undefined, command: Command): Promise<number> {
  const opts = command.opts<{ detach?: boolean }>();
  return startRun(command, { mode: 'retry', ...(stageId ? { stageId } : {}), ...opts });
}

/** A FACTORY_BACKENDS_* variable that names no setting, in a sentence. */
function unknownVariableText(v: { name: string; suggestion?: string }): string {
  return `${v.name} is not a setting, so it is ignored${v.suggestion ? ` (did you mean ${v.suggestion}?)` : ''}`;
}

async function startRun(command: Command, input: { mode: DetachedSpec['mode']; stageId?: string; backend?: string; auto?: boolean; detach?: boolean; outOfOrder?: boolean }): Promise<number> {
  const live = { print: transcriptPrinter() };
  const ctx = setup(command, {
    attemptStarted: (info) => progress(c.errDim(`▶ ${info.stageId} · attempt ${info.number} · ${info.backend} · ${info.attemptId}`)),
    agentEvent: (_info, event) => live.print(event),
    attemptFinished: (info, result, verification) => {
      live.print.end();
      progress(`${result.outcome === 'succeeded' ? '■' : c.errRed('■')} ${info.stageId} attempt ${info.number}: ${result.outcome}${result.reason ? ` — ${plain(result.reason)}` : ''}${verification ? ` · verification ${verification.passed ? 'passed' : verification.waitingForApproval ? 'waits for approval' : 'failed'}` : ''}`);
    },
    gate: (gate) => progress(c.errDim(`gate: ${gate.reason} — ${plain(gate.detail)}`)),
  });
  // First: a misspelt timeout or path would otherwise only show in how the run goes.
  for (const v of ctx.settings.unknownEnvironment) progress(c.errYellow(`warning: ${plain(unknownVariableText(v))}`));
  requireTrusted(ctx, 'run agents');
  await requireRepository(ctx);
  await requirePipeline(ctx);
  await ctx.factory.recoverInterrupted().catch(() => []);
  const change = await targetChange(ctx);
  const running = ctx.runners.live(change.id);
  if (running) throw new RunnerRefusal(`A runner already runs this change: ${describeRunner(running)}. Stop it first (factory-cockpit stop).`, running);
  const retryStage = input.mode === 'retry' ? (input.stageId ?? change.stages.find((s) => s.status === 'failed' || s.status === 'sentBack')?.id ?? change.activeStageId) : undefined;
  const stageId = input.mode === 'retry' ? retryStage : stageToRun(change, input.stageId);
  if (input.backend && stageId) await refuseBeforeOwnerChange(ctx, change, stageId, input);
  await applyBackend(ctx, change, stageId, input.backend);
  const fresh = await ctx.factory.change(change.id);
  refuseInEditorBackend(fresh, stageId);
  // Ask the rules first, so a refusal comes before a runner is started.
  if (stageId && input.mode !== 'next') {
    const verdict = await ctx.factory.check(input.mode === 'retry' ? 'retry' : 'run', fresh, stageId, { outOfOrder: Boolean(input.outOfOrder) });
    if (!verdict.allowed) throw new FactoryRefusal(`${verdict.reason.charAt(0).toUpperCase()}${verdict.reason.slice(1)}.`);
  }

  if (input.detach) {
    const spec: DetachedSpec = {
      root: ctx.root,
      changeId: change.id,
      mode: input.mode,
      ...(stageId && input.mode !== 'next' ? { stageId } : {}),
      ...(input.outOfOrder ? { outOfOrder: true } : {}),
      advance: Boolean(input.auto),
      startedBy: 'cli',
      settings: ctx.settings.values,
      secrets: ctx.settings.secrets,
      trusted: ctx.trusted,
    };
    const { startDetachedRunner } = await import('../engine/detachedStart');
    const started = await startDetachedRunner({ node: process.execPath, cli: process.argv[1] ?? __filename, spec, env: process.env });
    if (!started.ok) {
      if (started.exitCode === EXIT.failed && started.running) throw new RunnerRefusal(started.error, started.running);
      if (ctx.globals.json) printJson({ kind: 'error', version: OUTPUT_VERSION, exitCode: started.exitCode, message: started.error });
      process.stderr.write(`${c.errRed('factory-cockpit:')} ${plain(started.error)}\n`);
      return started.exitCode;
    }
    const report = started.ended?.report;
    if (ctx.globals.json) {
      printJson({
        kind: 'run',
        version: OUTPUT_VERSION,
        changeId: change.id,
        stopped: report ? report.stopped : 'detached',
        ...(started.stageId ?? stageId ? { stageId: started.stageId ?? stageId } : {}),
        attempts: report?.attempts ?? (started.attemptId ? [started.attemptId] : []),
        detail: report ? report.detail : `runner pid ${started.pid} runs it; follow with factory-cockpit status`,
        runner: { pid: started.pid, ...(started.attemptId ? { attemptId: started.attemptId } : {}), log: ctx.runners.logFile },
      });
    } else {
      print(report ? `The runner ended at once: ${report.stopped} — ${plain(report.detail)}` : `Runner pid ${started.pid} runs ${started.stageId ?? stageId ?? 'the next stage'}${started.attemptId ? ` (attempt ${started.attemptId})` : ''} of "${plain(change.title)}" detached.`);
      if (!report) print(c.dim(`Follow: factory-cockpit status · stop: factory-cockpit stop · log: ${ctx.runners.logFile}`));
    }
    return report ? exitCodeOfReport(report) : started.ended?.exitCode ?? EXIT.ok;
  }

  // In the foreground, this process owns the attempt: it claims the change like a runner does.
  const claim = await ctx.runners.claim({ changeId: change.id, startedBy: 'cli', ...(stageId ? { stageId } : {}) });
  const stopHere = () => void ctx.factory.stop(change.id);
  process.once('SIGINT', stopHere);
  process.once('SIGTERM', stopHere);
  let report: RunReport;
  try {
    report =
      input.mode === 'retry'
        ? await ctx.factory.retry({ changeId: change.id, stageId: stageId ?? '' })
        : input.mode === 'next'
          ? await ctx.factory.runNext(change.id, Boolean(input.auto))
          : await ctx.factory.run({ changeId: change.id, stageId: stageId!, outOfOrder: Boolean(input.outOfOrder), advance: Boolean(input.auto) });
  } catch (error) {
    await ctx.runners.release(change.id, { changeId: change.id, pid: claim.pid, endedAt: new Date().toISOString(), exitCode: exitCodeOf(error), error: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    process.off('SIGINT', stopHere);
    process.off('SIGTERM', stopHere);
  }
  const code = exitCodeOfReport(report);
  await ctx.runners.release(change.id, { changeId: change.id, pid: claim.pid, endedAt: new Date().toISOString(), exitCode: code, report });
  const after = await changeOutput(ctx.factory, await ctx.factory.change(change.id));
  if (ctx.globals.json) printJson({ kind: 'run', version: OUTPUT_VERSION, changeId: change.id, stopped: report.stopped, stageId: report.stageId, attempts: report.attempts, detail: report.detail, change: after });
  else {
    print(`${code === EXIT.ok ? c.green('●') : c.red('●')} ${report.stageId}: ${report.stopped} — ${plain(report.detail)}`);
    await printChange(after);
  }
  return code;
}

export async function stop(command: Command): Promise<number> {
  const ctx = setup(command);
  const opts = command.opts<{ change?: string }>();
  const change = await targetChange(ctx, opts.change);
  const record = ctx.runners.live(change.id);
  if (!record) {
    if (ctx.globals.json) printJson({ kind: 'stop', version: OUTPUT_VERSION, changeId: change.id, stopped: false });
    process.stderr.write(`Nothing of "${plain(change.title)}" runs in a runner on this machine.\n`);
    return EXIT.failed;
  }
  progress(c.errDim(`Stopping runner pid ${record.pid} (${record.stageId ?? 'stage'})…`));
  await ctx.runners.stop(change.id);
  // A runner that had to be killed after the grace could not record its attempt: record it interrupted now.
  await ctx.factory.recoverInterrupted().catch(() => []);
  // How this runner ended (a runner killed after the grace wrote nothing: not an older runner's end).
  const end = [ctx.runners.lastEnd(change.id)].find((e) => e?.pid === record.pid);
  if (ctx.globals.json) printJson({ kind: 'stop', version: OUTPUT_VERSION, changeId: change.id, stopped: true, pid: record.pid, ...(record.attemptId ? { attemptId: record.attemptId } : {}), ...(end?.report ? { report: end.report } : {}) });
  else print(`Stopped ${record.stageId ?? 'the stage'} of "${plain(change.title)}"${end?.report ? `: ${end.report.stopped}` : ''}.`);
  return EXIT.ok;
}

async function actionDone(ctx: CliContext, action: string, changeId: string, stageId: string, message: string): Promise<number> {
  const after = await changeOutput(ctx.factory, await ctx.factory.change(changeId));
  if (ctx.globals.json) printJson({ kind: 'action', version: OUTPUT_VERSION, action, changeId, stageId, change: after });
  else {
    print(message);
    await printChange(after);
  }
  return EXIT.ok;
}

export async function approve(stageId: string, command: Command): Promise<number> {
  const ctx = setup(command);
  const opts = command.opts<{ note?: string }>();
  requireTrusted(ctx, 'record decisions');
  const change = await targetChange(ctx);
  await ctx.factory.approve({ changeId: change.id, stageId, ...(opts.note ? { note: opts.note } : {}) });
  return actionDone(ctx, 'approve', change.id, stageId, `Approved ${stageId}: it handed off.`);
}

export async function sendBack(stageId: string, command: Command): Promise<number> {
  const ctx = setup(command);
  const opts = command.opts<{ to?: string; note?: string }>();
  requireTrusted(ctx, 'record decisions');
  const change = await targetChange(ctx);
  // Ask the rules first, so a refusal comes before the question.
  const verdict = await ctx.factory.check('sendBack', change, stageId, { toStage: opts.to ?? stageId });
  if (!verdict.allowed) throw new FactoryRefusal(`${verdict.reason.charAt(0).toUpperCase()}${verdict.reason.slice(1)}.`);
  const note = opts.note ?? (await ask('What must change? (fed into its next run)', '--note'));
  await ctx.factory.sendBack({ changeId: change.id, stageId, ...(opts.to ? { toStage: opts.to } : {}), note });
  return actionDone(ctx, 'sendBack', change.id, stageId, `Sent ${stageId} back to ${opts.to ?? stageId}.`);
}

export async function done(stageId: string, command: Command): Promise<number> {
  const ctx = setup(command);
  const opts = command.opts<{ note?: string }>();
  requireTrusted(ctx, 'record decisions');
  const change = await targetChange(ctx);
  const verdict = await ctx.factory.check('completeByHand', change, stageId);
  if (!verdict.allowed) throw new FactoryRefusal(`${verdict.reason.charAt(0).toUpperCase()}${verdict.reason.slice(1)}.`);
  const note = opts.note ?? (await ask('What was done? (the handoff summary)', '--note'));
  await ctx.factory.completeByHand({ changeId: change.id, stageId, note });
  return actionDone(ctx, 'completeByHand', change.id, stageId, `Marked ${stageId} done by hand.`);
}

export async function verify(stageId: string | undefined, command: Command): Promise<number> {
  const ctx = setup(command);
  requireTrusted(ctx, 'run verification commands');
  await requireRepository(ctx);
  const change = await targetChange(ctx);
  const stage = stageId ?? ctx.factory.stageToVerify(change)?.id;
  if (!stage) throw new FactoryRefusal(`"${change.title}" has no stage to verify.`);
  progress(c.errDim(`Verifying ${stage} of "${plain(change.title)}"…`));
  const result = await ctx.factory.verifyStage({ changeId: change.id, stageId: stage });
  if (ctx.globals.json) {
    printJson({
      kind: 'verify',
      version: OUTPUT_VERSION,
      changeId: change.id,
      stageId: stage,
      passed: result.passed,
      waitingForApproval: result.waitingForApproval,
      tree: result.tree,
      results: result.results.map((r) => ({ criterionId: r.criterionId, outcome: r.outcome, required: r.required, ...(r.message ? { message: r.message } : {}) })),
      ...(result.failureFeedback ? { failureFeedback: result.failureFeedback } : {}),
    });
  } else {
    for (const r of result.results) print(`  ${r.outcome === 'passed' ? c.green('✓') : r.outcome === 'skipped' ? c.dim('-') : c.red('✗')} ${r.criterionId}${r.required ? '' : c.dim(' (advisory)')}${r.message ? ` — ${plain(r.message).slice(0, 300)}` : ''}`);
    print(result.passed ? c.green(`${stage} passed`) : result.waitingForApproval ? c.yellow(`${stage} waits for approval`) : c.red(`${stage} did not pass`));
  }
  return result.passed || result.waitingForApproval ? EXIT.ok : EXIT.failed;
}

export async function reviewExport(changeId: string, command: Command): Promise<number> {
  const ctx = setup(command);
  const opts = command.opts<{ format?: string; output?: string; ref?: string }>();
  const format = opts.format ?? 'md';
  if (format !== 'md' && format !== 'html') throw new UsageError(`--format must be md or html (got "${plain(format)}").`);
  const session = await ctx.factory.review.open(changeId, opts.ref ? { ref: opts.ref } : {});
  const { exportReview } = await import('../engine/reviewExport');
  const text = await exportReview(ctx.factory.review, session, format);
  if (opts.output) {
    const file = path.resolve(opts.output);
    await writeFile(file, text);
    progress(`The review of "${plain(session.model.title)}" was written to ${file}.`);
  } else writeDocument(text);
  return EXIT.ok;
}

export async function evidenceVerify(command: Command): Promise<number> {
  const ctx = setup(command);
  const opts = command.opts<{ change?: string; all?: boolean }>();
  const changeId = opts.all ? undefined : (opts.change ?? (await ctx.factory.readState()).current?.id);
  const check = await ctx.factory.verifyEvidence(changeId);
  if (ctx.globals.json) printJson({ kind: 'evidence', version: OUTPUT_VERSION, changeId: changeId ?? null, checked: check.checked, mismatches: check.mismatches });
  else {
    print(`${check.checked} evidence file(s) checked${changeId ? ` for ${changeId}` : ''}: ${check.mismatches.length === 0 ? c.green('all match their sha256') : c.red(`${check.mismatches.length} do not match`)}`);
    for (const m of check.mismatches) print(`  ${c.red('✗')} ${plain(JSON.stringify(m))}`);
  }
  return check.mismatches.length === 0 ? EXIT.ok : EXIT.failed;
}

async function backendRows(ctx: CliContext) {
  const { backendEntry } = onFirstUse.catalog();
  const checks = await ctx.factory.checkBackends(0);
  return checks.map((b) => ({ ...b, capabilities: { ...b.capabilities }, inEditor: Boolean(backendEntry(b.id)?.inEditor) }));
}

export async function backends(command: Command): Promise<number> {
  const ctx = setup(command);
  const rows = await backendRows(ctx);
  const { MCP_CAPABLE_BACKENDS } = await import('../engine/mcpRun');
  // Whether a run passes the factory's MCP server to the agent (#18): per run only, never by editing the agent's own configuration.
  const mcpOf = (id: string): 'perRun' | 'off' | 'none' => (!MCP_CAPABLE_BACKENDS.has(id) ? 'none' : ctx.settings.values[`factory.backends.${id}.mcp`] === false ? 'off' : 'perRun');
  if (ctx.globals.json) printJson({ kind: 'backends', version: OUTPUT_VERSION, backends: rows.map((b) => ({ ...b, mcp: mcpOf(b.id) })) });
  else
    for (const b of rows) {
      printBackend(b);
      if (b.id !== 'human' && !b.inEditor) print(`    ${c.dim(mcpOf(b.id) === 'perRun' ? 'MCP: the factory server is passed to each run' : mcpOf(b.id) === 'off' ? 'MCP: off (factory.backends.' + b.id + '.mcp)' : 'no MCP: the factory server is not passed to its runs')}`);
    }
  return EXIT.ok;
}

function printBackend(b: Awaited<ReturnType<typeof backendRows>>[number]): void {
  const caps = b.capabilities as Record<string, unknown>;
  const reports = ['toolCalls', 'fileEdits', 'tokenUsage', 'turns', 'sessionResume'].filter((k) => caps[k] === true);
  const cost = caps.cost === 'agent' ? "cost from the agent" : caps.cost === 'estimate' ? 'cost estimated from tokens' : 'cost unknown';
  print(`${b.available ? c.green('✓') : b.inEditor ? c.dim('-') : c.red('✗')} ${b.displayName.padEnd(24)} ${b.version ? plain(b.version) : ''}${b.path ? c.dim(` ${plain(b.path)}`) : ''}`);
  print(`    ${c.dim(`reports: ${[...reports, cost].join(', ')}`)}`);
  if (b.inEditor) print(`    ${c.dim('runs inside VS Code only')}`);
  else if (b.problem) print(`    ${c.yellow(plain(b.problem))}`);
}

/**
 * `factory-cockpit mcp`: the factory as an MCP server over stdio. The server and the SDK
 * live in dist/mcp.js beside this bundle (esbuild.config.mjs), loaded here only; from
 * the sources (tsx) it is src/mcp/main.ts.
 */
export async function mcp(command: Command): Promise<number> {
  const { factory } = setup(command);
  const options = command.opts<{ change?: string; attempt?: string; agent?: string }>();
  const bundled = path.join(__dirname, 'mcp.js');
  const file = existsSync(bundled) ? bundled : path.join(__dirname, '..', 'mcp', 'main.ts');
  // An agent starts this server for every run: Node ≥ 22.1 keeps the compiled SDK bundle in
  // the user's cache folder for the next start (Node 20 has no such API; the rest of the CLI
  // is one file whose commands keep their own code cache, embedded.ts).
  // node:module is required here only: it loads Node's ESM loader, which no other command needs.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- on first use, synchronously
  (require('node:module') as { enableCompileCache?: (directory: string) => unknown }).enableCompileCache?.(path.join(userCacheRoot(), 'compile-cache'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a sibling bundle, required at run time so the CLI never parses the SDK otherwise
  const server = require(file) as typeof import('../mcp/main');
  await server.serveStdio(factory, { ...(options.change ? { changeId: options.change } : {}), ...(options.attempt ? { attemptId: options.attempt } : {}), ...(options.agent ? { agent: options.agent } : {}) }, command.parent?.version() ?? '0.0.0');
  return EXIT.ok;
}

export async function doctor(command: Command): Promise<number> {
  const ctx = setup(command);
  const isRepository = ctx.trusted ? await ctx.factory.git.isRepository() : false;
  const load = await ctx.factory.store.loadPipeline({ createIfMissing: false });
  const state = await ctx.factory.readState().catch(() => undefined);
  const problems = dedupe([...load.problems, ...(state?.problems ?? []), ...ctx.problems]);
  const quarantineDir = path.join(ctx.factory.store.factoryDir, 'quarantine');
  const quarantined = listFiles(quarantineDir).map((f) => path.relative(ctx.root, f).split(path.sep).join('/'));
  const rows = await backendRows(ctx);
  const runners = ctx.runners.list();
  const healthy = (isRepository || !ctx.trusted) && Boolean(load.pipeline) && problems.length === 0 && quarantined.length === 0;
  // Kept and ignored, so not a problem (a newer version may know them), but most often a typo.
  const unknownKeys = load.pipeline ? unknownPipelineKeys(load.pipeline) : [];
  const settingSources = Object.fromEntries(Object.entries(ctx.settings.sources).sort());
  if (ctx.globals.json) {
    printJson({
      kind: 'doctor',
      version: OUTPUT_VERSION,
      root: ctx.root,
      isRepository,
      trusted: ctx.trusted,
      healthy,
      config: { path: ctx.settings.configPath, found: ctx.settings.configFound, settings: settingSources, unknownEnvironment: ctx.settings.unknownEnvironment },
      pipeline: { path: ctx.factory.store.pipelinePath, valid: Boolean(load.pipeline), stages: load.pipeline?.stages.map((s) => s.id) ?? [], unknownKeys },
      problems: problems.map(problemOutput),
      quarantined,
      backends: rows,
      runners: runners.map((r) => runnerOutput(r.record, r.alive)),
      runnerLog: { path: ctx.runners.logFile, tail: ctx.runners.logTail(20) },
    });
  } else {
    print(c.bold(`Factory Cockpit doctor — ${ctx.root}`));
    print(`  ${isRepository ? c.green('✓') : c.red('✗')} git repository${ctx.trusted ? '' : c.dim(' (not checked: untrusted)')}`);
    print(`  ${load.pipeline ? c.green('✓') : c.red('✗')} pipeline ${path.relative(ctx.root, ctx.factory.store.pipelinePath)}${load.pipeline ? `: ${load.pipeline.stages.map((s) => s.id).join(' → ')}` : load.problems.length ? ' is invalid' : ' is missing (factory-cockpit init)'}`);
    for (const k of unknownKeys) print(`      ${c.yellow('!')} ${plain(describeUnknownKey(k))}`);
    print(`  ${problems.length === 0 ? c.green('✓') : c.red('✗')} record: ${problems.length} problem(s)`);
    for (const p of problems) print(`      ${plain(p.path)}${p.field ? ` (${plain(p.field)})` : ''}: ${plain(p.message)}${p.quarantinedTo ? ` → ${plain(p.quarantinedTo)}` : ''}`);
    print(`  ${quarantined.length === 0 ? c.green('✓') : c.yellow('!')} quarantine: ${quarantined.length} file(s) set aside${quarantined.length ? ' (look, fix or delete them)' : ''}`);
    for (const q of quarantined.slice(0, 20)) print(`      ${plain(q)}`);
    print(`  config ${ctx.settings.configPath}${ctx.settings.configFound ? '' : c.dim(' (none)')}`);
    for (const [key, source] of Object.entries(settingSources)) print(`      ${key} ${c.dim(`from ${source}`)}`);
    for (const v of ctx.settings.unknownEnvironment) print(`      ${c.yellow('!')} ${plain(unknownVariableText(v))}`);
    print('  backends:');
    for (const b of rows) printBackend(b);
    print(`  runners: ${runners.length === 0 ? 'none' : ''}`);
    for (const r of runners) print(`      ${r.alive ? c.green('alive') : c.yellow('gone')} ${describeRunner(r.record)}`);
    print(`  runner log ${ctx.runners.logFile}`);
    for (const line of ctx.runners.logTail(10)) print(`      ${c.dim(plain(line))}`);
  }
  return healthy ? EXIT.ok : EXIT.environment;
}

function listFiles(dir: string): string[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name)) : e.isFile() ? [path.join(dir, e.name)] : []));
}

/** `metrics`: the lead's numbers (the Flow Dashboard's) from every branch's record and the working folder. */
export async function metrics(command: Command): Promise<number> {
  const ctx = setup(command);
  const opts = command.opts<{ since?: string; format?: string; stuckDays?: string }>();
  const { metricsCsv, metricsJson, metricsTable } = await import('../engine/metrics');
  let since: number | undefined;
  if (opts.since) {
    const relative = /^(\d+)([dw])$/.exec(opts.since);
    since = relative ? Date.now() - Number(relative[1]) * (relative[2] === 'w' ? 7 : 1) * 86_400_000 : Date.parse(opts.since);
    if (!Number.isFinite(since)) throw new UsageError(`--since ${opts.since}: a date (2026-11-01) or a span (14d, 8w).`);
  }
  const stuckDays = opts.stuckDays ? Number(opts.stuckDays) : undefined;
  if (stuckDays !== undefined && !(Number.isInteger(stuckDays) && stuckDays > 0)) throw new UsageError(`--stuck-days ${opts.stuckDays}: a whole number of days.`);
  const format = ctx.globals.json ? 'json' : (opts.format ?? 'table');
  if (!['table', 'json', 'csv'].includes(format)) throw new UsageError(`--format ${format}: table, json or csv.`);
  const { facts: _facts, ...report } = await ctx.factory.teamReport({ ...(since !== undefined ? { filter: { since } } : {}), ...(stuckDays ? { stuckDays } : {}) });
  if (format === 'json') print(metricsJson(report));
  else if (format === 'csv') writeDocument(metricsCsv(report).stages);
  else process.stdout.write(metricsTable(report));
  return EXIT.ok;
}
