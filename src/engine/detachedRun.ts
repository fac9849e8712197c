// Runs that outlive the window: a stage run owned by a detached runner process (the
// CLI's `run --detach`), which spawns the agent, writes the record and the transcript,
// enforces budgets and timeouts, and ends by itself. Every surface finds it through
// files in the repository's per-user cache folder (cacheDir.ts), never in the
// repository:
//
//   <cache>/<repo>/runners/<change>.json          who runs the change now (pid, process
//                                                 start time, host, stage, attempt,
//                                                 heartbeat); created exclusively, so a
//                                                 second runner for the change is refused
//   <cache>/<repo>/runners/<change>.events.jsonl  what the runner's engine reports as it
//                                                 goes (attempt started, agent events,
//                                                 gates, the end): the editor shows the
//                                                 run live from it and re-attaches after
//                                                 a reload
//   <cache>/<repo>/runners/<change>.last.json     how the last runner of the change ended
//   <cache>/<repo>/runner.log                     every runner's own log (doctor and
//                                                 Factory: Show Runner Log open it)
//
// A runner is alive when its pid is alive and the process with that pid started when
// the runner did (Linux: /proc/<pid>/stat; elsewhere a heartbeat younger than
// HEARTBEAT_STALE_MS), so a pid reused after a reboot or a `kill -9` is not taken for
// it. The raw transcript stays a temporary file of the runner until the attempt ends,
// when the engine stores it as evidence. No `vscode` here.
import { appendFileSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../store/atomicFile';
import { repositoryCacheDir } from '../store/cacheDir';
import { groupAlive, killRecordedGroup, pidAlive, processStartTime, type SpawnedGroup } from '../backends/processTree';

export { processStartTime };

export const RUNNER_RECORD_VERSION = 1;
export const HEARTBEAT_MS = 2_000;
export const HEARTBEAT_STALE_MS = 20_000;

export interface RunnerRecord {
  version: number;
  changeId: string;
  /** The runner process. */
  pid: number;
  /** Its start time as the OS says it (Linux: clock ticks since boot, from /proc), to tell it from a reused pid. */
  processStart?: string;
  hostname: string;
  startedAt: string;
  heartbeatAt: string;
  /** Who started it: `cli` in a terminal or CI, `editor` from a window. */
  startedBy: string;
  stageId?: string;
  attemptId?: string;
  backend?: string;
  /** The runner's own log. */
  log: string;
  /** What it reports as it goes (RunnerLine per line). */
  events: string;
  /**
   * The agents' process groups it runs now, written the moment each is spawned: when
   * the runner is found dead (or a Stop has to kill it), these are ended with it.
   */
  agents?: SpawnedGroup[];
}

/** One line of a runner's events file. */
export type RunnerLine =
  | { t: 'attemptStarted'; info: AttemptLineInfo; prompt: string }
  | { t: 'agentEvent'; info: AttemptLineInfo; event: unknown }
  | { t: 'attemptFinished'; info: AttemptLineInfo; result: unknown; verification?: unknown }
  | { t: 'gate'; gate: { changeId: string; stageId: string; reason: string; detail: string } }
  | { t: 'changed' }
  | { t: 'ended'; exitCode: number; report?: unknown; error?: string };

export interface AttemptLineInfo {
  changeId: string;
  stageId: string;
  attemptId: string;
  backend: string;
  number: number;
}

/** How the last runner of a change ended. */
export interface RunnerEnd {
  changeId: string;
  pid: number;
  endedAt: string;
  exitCode: number;
  report?: { stopped: string; stageId: string; attempts: string[]; detail: string };
  error?: string;
}

export function runnersDir(root: string, cacheRoot?: string): string {
  return path.join(repositoryCacheDir(root, cacheRoot), 'runners');
}

export function runnerLogPath(root: string, cacheRoot?: string): string {
  return path.join(repositoryCacheDir(root, cacheRoot), 'runner.log');
}

/** Whether the runner a record names is still running (on this machine). */
export function runnerAlive(record: RunnerRecord, now = Date.now()): boolean {
  if (record.hostname !== os.hostname()) {
    // Another machine sharing the cache: only its heartbeat can tell.
    return now - Date.parse(record.heartbeatAt) < HEARTBEAT_STALE_MS;
  }
  if (!pidAlive(record.pid)) return false;
  const start = processStartTime(record.pid);
  if (start !== undefined && record.processStart !== undefined) return start === record.processStart;
  return now - Date.parse(record.heartbeatAt) < HEARTBEAT_STALE_MS;
}

function isRecord(value: unknown): value is RunnerRecord {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return typeof v.changeId === 'string' && typeof v.pid === 'number' && typeof v.hostname === 'string' && typeof v.heartbeatAt === 'string';
}

export class RunnerRefusal extends Error {
  constructor(
    message: string,
    readonly running: RunnerRecord,
  ) {
    super(message);
    this.name = 'RunnerRefusal';
  }
}

/** Describes a running runner for a refusal or a status line. */
export function describeRunner(record: RunnerRecord): string {
  const what = record.stageId ? `stage "${record.stageId}"${record.attemptId ? ` (attempt ${record.attemptId})` : ''}` : 'a stage';
  return `${what} of change ${record.changeId} is running in runner pid ${record.pid} on ${record.hostname}, started ${record.startedAt} from the ${record.startedBy}`;
}

/** The runners of one repository: who runs which change, their liveness, stopping them. */
export class RunnerRegistry {
  readonly dir: string;
  readonly logFile: string;

  constructor(
    readonly root: string,
    cacheRoot?: string,
  ) {
    this.dir = runnersDir(root, cacheRoot);
    this.logFile = runnerLogPath(root, cacheRoot);
  }

  fileOf(changeId: string): string {
    return path.join(this.dir, `${safeName(changeId)}.json`);
  }

  eventsFileOf(changeId: string): string {
    return path.join(this.dir, `${safeName(changeId)}.events.jsonl`);
  }

  lastFileOf(changeId: string): string {
    return path.join(this.dir, `${safeName(changeId)}.last.json`);
  }

  /** The record of the change's runner, alive or not. */
  readSync(changeId: string): RunnerRecord | undefined {
    try {
      const value = JSON.parse(readFileSync(this.fileOf(changeId), 'utf8')) as unknown;
      return isRecord(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /** The change's runner when it is alive. */
  live(changeId: string): RunnerRecord | undefined {
    const record = this.readSync(changeId);
    return record && runnerAlive(record) ? record : undefined;
  }

  /** Every runner record of the repository (alive or left behind by a runner that died). */
  list(): { record: RunnerRecord; alive: boolean }[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: { record: RunnerRecord; alive: boolean }[] = [];
    for (const name of names) {
      if (!name.endsWith('.json') || name.endsWith('.last.json')) continue;
      try {
        const value = JSON.parse(readFileSync(path.join(this.dir, name), 'utf8')) as unknown;
        if (isRecord(value)) out.push({ record: value, alive: runnerAlive(value) });
      } catch {
        /* torn or foreign: ignored */
      }
    }
    return out;
  }

  /**
   * Whether the process `pid` (named by an attempt's `runner`) is still the one that
   * started it: false when it is gone, or when a runner record names that pid with
   * another start time (the pid was reused after a reboot or a kill). A runner found
   * dead here is one whose attempt the engine is about to record as interrupted: the
   * agents it recorded are orphans nobody can see or stop any more, so they are ended.
   */
  isAlive(pid: number): boolean {
    const records = this.list().filter(({ record }) => record.pid === pid && record.hostname === os.hostname());
    const alive = records.length > 0 ? records.some((r) => r.alive) : pidAlive(pid);
    if (!alive) records.forEach(({ record }) => this.endAgentsOf(record));
    return alive;
  }

  /**
   * KILLs the agents' groups a runner recorded (never a group whose leader pid now
   * belongs to another process). The runner is gone or being killed: nobody would
   * read their output or give them a grace period any more.
   */
  endAgentsOf(record: RunnerRecord): SpawnedGroup[] {
    if (record.hostname !== os.hostname()) return [];
    const ended = (record.agents ?? []).filter((group) => killRecordedGroup(group, 'SIGKILL'));
    if (ended.length > 0) this.logLine(`${record.changeId}: runner ${record.pid} is gone; ended its agents' process groups ${ended.map((g) => g.pgid).join(', ')}`);
    return ended;
  }

  /**
   * Claims the change for this process: creates its record exclusively. A live runner
   * of the change makes it throw RunnerRefusal naming the running attempt; the record
   * of a dead one is replaced.
   */
  async claim(input: { changeId: string; startedBy: string; stageId?: string }): Promise<RunnerRecord> {
    await fs.mkdir(this.dir, { recursive: true });
    const now = new Date().toISOString();
    const record: RunnerRecord = {
      version: RUNNER_RECORD_VERSION,
      changeId: input.changeId,
      pid: process.pid,
      ...(processStartTime(process.pid) !== undefined ? { processStart: processStartTime(process.pid)! } : {}),
      hostname: os.hostname(),
      startedAt: now,
      heartbeatAt: now,
      startedBy: input.startedBy,
      ...(input.stageId ? { stageId: input.stageId } : {}),
      log: this.logFile,
      events: this.eventsFileOf(input.changeId),
    };
    const file = this.fileOf(input.changeId);
    for (let tries = 0; tries < 3; tries++) {
      try {
        await fs.writeFile(file, `${JSON.stringify(record)}\n`, { flag: 'wx', mode: 0o600 });
        await fs.writeFile(record.events, '', { mode: 0o600 });
        return record;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const existing = this.readSync(input.changeId);
        if (existing && existing.pid !== process.pid && runnerAlive(existing)) {
          throw new RunnerRefusal(`A runner already runs this change: ${describeRunner(existing)}. Stop it first (factory-cockpit stop).`, existing);
        }
        // Dead (or torn): its attempt is recovered as interrupted by the next read; take its place.
        if (existing) this.endAgentsOf(existing);
        await fs.rm(file, { force: true });
      }
    }
    throw new Error(`Could not claim ${file}: another runner keeps taking it.`);
  }

  /**
   * Rewrites this process's record (heartbeat, stage, attempt, agents); never another
   * runner's. Synchronous: an agent's group is on disk before the spawn returns to its
   * caller, and two updates cannot interleave and bring back an older agents list.
   */
  update(changeId: string, patch: Partial<RunnerRecord>): void {
    const current = this.readSync(changeId);
    if (!current || current.pid !== process.pid) return;
    writeFileAtomic().sync(this.fileOf(changeId), `${JSON.stringify({ ...current, ...patch, heartbeatAt: new Date().toISOString() })}\n`, { mode: 0o600 });
  }

  /** Releases the change (only when this process holds it) and says how the run ended. */
  async release(changeId: string, end: RunnerEnd): Promise<void> {
    await writeFileAtomic()(this.lastFileOf(changeId), `${JSON.stringify(end)}\n`, { mode: 0o600 }).catch(() => undefined);
    const current = this.readSync(changeId);
    if (current && current.pid === process.pid) await fs.rm(this.fileOf(changeId), { force: true });
  }

  lastEnd(changeId: string): RunnerEnd | undefined {
    try {
      return JSON.parse(readFileSync(this.lastFileOf(changeId), 'utf8')) as RunnerEnd;
    } catch {
      return undefined;
    }
  }

  /**
   * Stops the change's runner: SIGTERM (it stops the agent's whole process tree and
   * records the attempt as cancelled), then, if it is still there after `graceMs`,
   * SIGKILL to the runner and to the agents' groups it recorded, and waits (up to
   * `settleMs`) until they are gone. Resolves with the record it stopped, or undefined
   * when none runs.
   */
  async stop(changeId: string, options: { graceMs?: number; pollMs?: number; settleMs?: number } = {}): Promise<RunnerRecord | undefined> {
    const record = this.live(changeId);
    if (!record) return undefined;
    if (record.hostname !== os.hostname()) throw new Error(`The runner of ${changeId} runs on ${record.hostname}; stop it there.`);
    try {
      process.kill(record.pid, 'SIGTERM');
    } catch {
      return record;
    }
    const pollMs = options.pollMs ?? 100;
    const deadline = Date.now() + (options.graceMs ?? 30_000);
    while (Date.now() < deadline) {
      if (!runnerAlive(record)) return record;
      await new Promise((r) => setTimeout(r, pollMs));
    }
    this.logLine(`${changeId}: runner ${record.pid} did not stop within ${options.graceMs ?? 30_000} ms; killing it and its agents`);
    try {
      process.kill(record.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    // The agents it spawned after we first read its record are in the file now.
    const latest = this.readSync(changeId);
    const groups = this.endAgentsOf(latest?.pid === record.pid && latest.processStart === record.processStart ? latest : record);
    const settle = Date.now() + (options.settleMs ?? 5_000);
    while (Date.now() < settle && (runnerAlive(record) || groups.some((g) => groupAlive(g.pgid)))) await new Promise((r) => setTimeout(r, Math.min(pollMs, 50)));
    return record;
  }

  /** Appends a line to the runner log (never throws). */
  logLine(message: string): void {
    try {
      // Synchronous: a runner killed right after still leaves the line.
      mkdirSync(path.dirname(this.logFile), { recursive: true });
      appendFileSync(this.logFile, `${new Date().toISOString()} [${process.pid}] ${message}\n`);
    } catch {
      /* the log is best effort */
    }
  }

  /** The last `lines` lines of the runner log. */
  logTail(lines = 20): string[] {
    try {
      const text = readFileSync(this.logFile, 'utf8');
      return text.trimEnd().split('\n').slice(-lines);
    } catch {
      return [];
    }
  }
}

/**
 * Follows a runner's events file: calls `onLine` for each complete line as it is
 * written, from the start of the file (so re-attaching after a reload replays the
 * attempt so far), until an `ended` line or until the runner is no longer alive.
 */
export class RunnerFollower {
  private offset = 0;
  private partial = '';
  private timer: NodeJS.Timeout | undefined;
  private done = false;
  readonly finished: Promise<{ ended?: Extract<RunnerLine, { t: 'ended' }>; died: boolean }>;
  private resolveFinished!: (value: { ended?: Extract<RunnerLine, { t: 'ended' }>; died: boolean }) => void;

  constructor(
    private readonly registry: RunnerRegistry,
    readonly record: RunnerRecord,
    private readonly onLine: (line: RunnerLine) => void,
    private readonly pollMs = 200,
  ) {
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.poll();
  }

  private poll(): void {
    if (this.done) return;
    for (const line of this.readNew()) {
      try {
        const parsed = JSON.parse(line) as RunnerLine;
        this.onLine(parsed);
        if (parsed.t === 'ended') return this.finish({ ended: parsed, died: false });
      } catch {
        /* a torn line of a killed runner */
      }
    }
    if (!runnerAlive(this.record)) {
      // One last read: it may have written its end just before exiting.
      for (const line of this.readNew()) {
        try {
          const parsed = JSON.parse(line) as RunnerLine;
          this.onLine(parsed);
          if (parsed.t === 'ended') return this.finish({ ended: parsed, died: false });
        } catch {
          /* torn */
        }
      }
      this.finish({ died: true });
    }
  }

  private readNew(): string[] {
    let fd: number | undefined;
    try {
      if (!existsSync(this.record.events)) return [];
      fd = openSync(this.record.events, 'r');
      const size = fstatSync(fd).size;
      if (size < this.offset) this.offset = 0; // a new runner of the change truncated it
      if (size === this.offset) return [];
      const buffer = Buffer.alloc(size - this.offset);
      readSync(fd, buffer, 0, buffer.length, this.offset);
      this.offset = size;
      const text = this.partial + buffer.toString('utf8');
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      return lines.filter((l) => l.trim().length > 0);
    } catch {
      return [];
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  private finish(value: { ended?: Extract<RunnerLine, { t: 'ended' }>; died: boolean }): void {
    this.done = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.resolveFinished(value);
  }

  dispose(): void {
    this.finish({ died: false });
  }
}

/** Whether `file` exists and is not empty. */
export function nonEmpty(file: string): boolean {
  try {
    return statSync(file).size > 0;
  } catch {
    return false;
  }
}

function safeName(changeId: string): string {
  return changeId.replace(/[^A-Za-z0-9._-]/g, '_');
}
