// Runs one agent process: spawn in its own group, stream stdout/stderr line by line
// (bounded memory), redact, copy to the transcript sink, cap the total output, stop the
// whole tree on cancel / timeout / budget, and say why it stopped.
import type { ChildProcess } from 'node:child_process';
import type { AttemptOutcome } from '../core/events';
import { joinCutJsonLine } from './cutJson';
import { LineSplitter } from './lineSplitter';
import { jsonObjectOf, type Json } from './parsers/common';
import { killTree, signalTree, spawnInGroup } from './processTree';
import type { Redactor } from './redact';
import type { TranscriptSink } from './types';

export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024;
export const DEFAULT_KILL_GRACE_MS = 3000;

export interface StopRequest {
  outcome: Extract<AttemptOutcome, 'cancelled' | 'timedOut' | 'budgetExceeded'>;
  reason: string;
}

export interface RunProcessOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  env: Record<string, string | undefined>;
  /** Written to stdin, which is then closed; without it stdin is closed at once (agents must not wait on it). */
  stdin?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  killGraceMs?: number;
  /** stdout + stderr bytes after which the rest is dropped and a marker written. */
  maxOutputBytes?: number;
  maxLineBytes?: number;
  redactor: Redactor;
  sink?: TranscriptSink;
  /**
   * Lines are redacted before they get here. `cut`: the line was longer than maxLineBytes.
   * `overCap`: the output cap was reached; the line is no longer in the transcript, and is
   * passed on only so the caller can still learn how the run ended. `value`: the line as a
   * JSON object when it is one (parsed here once: the transcript stores such a line as it
   * is, and the parser takes the value instead of parsing it again).
   */
  onStdoutLine(line: string, cut: boolean, overCap: boolean, value: Json | undefined): void;
  onStderrLine?(line: string): void;
}

export interface ProcessExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the runner stopped the process (cancel, timeout, budget). */
  stopped?: StopRequest;
  outputTruncated: boolean;
  /** The process could not be started at all (ENOENT, EACCES…). */
  spawnError?: Error;
}

export interface RunningProcess {
  readonly pid: number | undefined;
  /** Stops the whole tree (TERM, then KILL after the grace period). The first stop's reason wins. */
  stop(request: StopRequest): void;
  readonly exit: Promise<ProcessExit>;
  /** Back-pressure from a slow consumer: stop reading stdout (the agent blocks on a full pipe), then go on. */
  pauseOutput(): void;
  resumeOutput(): void;
}

export function truncationMarker(bytes: number): string {
  return `[factory: output truncated after ${bytes} bytes; the rest of the agent's output was dropped]`;
}

export function runProcess(options: RunProcessOptions): RunningProcess {
  const grace = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const { redactor, sink } = options;
  sink?.write({ stream: 'meta', line: `$ ${redactor.redactArgv([options.command, ...options.args]).map(quoteForDisplay).join(' ')}` });

  let child: ChildProcess;
  try {
    child = spawnInGroup(options.command, options.args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (error) {
    return { pid: undefined, stop: () => undefined, pauseOutput: () => undefined, resumeOutput: () => undefined, exit: Promise.resolve({ exitCode: null, signal: null, outputTruncated: false, spawnError: error as Error }) };
  }

  let stopped: StopRequest | undefined;
  let timer: NodeJS.Timeout | undefined;
  const output = outputLines(options);
  // Reading stops while anyone holds it: the event consumer (pauseOutput) or the
  // transcript's disk; the agent then blocks on a full pipe instead of memory growing.
  const holds = new Set<'consumer' | 'transcript'>();
  const hold = (why: 'consumer' | 'transcript') => {
    if (holds.size === 0) {
      child.stdout?.pause();
      child.stderr?.pause();
    }
    holds.add(why);
  };
  const release = (why: 'consumer' | 'transcript') => {
    if (!holds.delete(why) || holds.size > 0) return;
    child.stdout?.resume();
    child.stderr?.resume();
  };
  const afterChunk = () => {
    if (holds.has('transcript') || !sink?.onceWritten || !sink.isBacklogged?.()) return;
    hold('transcript');
    sink.onceWritten(() => release('transcript'));
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    output.stdout.push(chunk);
    afterChunk();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output.stderr.push(chunk);
    afterChunk();
  });
  // An agent that exits before reading its stdin makes the write fail with EPIPE: not our error.
  child.stdin?.on('error', () => undefined);
  if (options.stdin !== undefined) child.stdin?.end(options.stdin);
  else child.stdin?.end();

  const stop = (request: StopRequest) => {
    if (stopped || exited) return;
    stopped = request;
    sink?.write({ stream: 'meta', line: `[factory: stopping the agent: ${request.reason}]` });
    void killTree(child, grace);
  };
  const onAbort = () => stop({ outcome: 'cancelled', reason: abortReason(options.signal) });
  if (options.signal?.aborted) queueMicrotask(onAbort);
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.timeoutMs !== undefined && options.timeoutMs > 0) {
    timer = setTimeout(() => stop({ outcome: 'timedOut', reason: `timed out after ${formatMs(options.timeoutMs ?? 0)}` }), options.timeoutMs);
  }

  let exited = false;
  const exit = new Promise<ProcessExit>((resolve) => {
    let spawnError: Error | undefined;
    child.once('error', (error) => {
      spawnError = error;
      // 'close' may never come for a process that never started.
      if (child.pid === undefined) finish(null, null);
    });
    let exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    child.once('exit', (code, signal) => {
      exitStatus = { code, signal };
      exited = true;
      // Grandchildren left behind would hold the pipes open (and live on): end the group.
      signalTree(child, 'SIGTERM');
      const forceTimer = setTimeout(() => signalTree(child, 'SIGKILL'), grace);
      forceTimer.unref?.();
    });
    child.once('close', (code, signal) => finish(exitStatus?.code ?? code, exitStatus?.signal ?? signal));
    let finished = false;
    function finish(code: number | null, signal: NodeJS.Signals | null) {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      output.stdout.end();
      output.stderr.end();
      resolve({ exitCode: code, signal, stopped, outputTruncated: output.truncated, ...(spawnError ? { spawnError } : {}) });
    }
  });

  return { pid: child.pid, stop, exit, pauseOutput: () => hold('consumer'), resumeOutput: () => release('consumer') };
}

export type OutputLinesOptions = Pick<RunProcessOptions, 'maxOutputBytes' | 'maxLineBytes' | 'redactor' | 'sink' | 'onStdoutLine' | 'onStderrLine'>;

/**
 * What happens to an agent's output bytes, apart from the process: split into lines,
 * redact, count against the output cap, copy to the transcript sink, hand on. The
 * runner feeds it the pipes; a bench can feed it a file and measure the same code.
 */
export function outputLines(options: OutputLinesOptions): { stdout: LineSplitter; stderr: LineSplitter; readonly truncated: boolean } {
  const maxOutput = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const { redactor, sink } = options;
  let outputBytes = 0;
  let truncated = false;
  const countAndCheck = (bytes: number): boolean => {
    if (truncated) return false;
    outputBytes += bytes;
    if (outputBytes <= maxOutput) return true;
    truncated = true;
    sink?.write({ stream: 'meta', line: truncationMarker(maxOutput) });
    return false;
  };
  // A line redaction left as it was is recorded from the bytes it came in (no re-encoding),
  // and without escaping when it is JSON (`json`).
  const record = (stream: 'stdout' | 'stderr', raw: string, line: string, source: Buffer, start: number, bytes: number, json = false) => {
    if (line === raw && sink?.writeUtf8) sink.writeUtf8(stream, source, start, start + bytes, line, json);
    else sink?.write({ stream, line });
  };
  // A cut line waits for its tail: joined around its dropped middle it may still be whole JSON (cutJson.ts).
  let cutHead: { raw: string; bytes: number; source: Buffer; start: number } | undefined;
  const stdoutLine = (raw: string, cut: boolean, bytes: number, source: Buffer, start: number) => {
    const line = cut ? redactor.redactCut(raw) : redactor.redact(raw);
    const value = cut ? undefined : jsonObjectOf(line);
    if (!countAndCheck(bytes + 1)) return options.onStdoutLine(line, cut, true, value);
    record('stdout', raw, line, source, start, bytes, value !== undefined);
    options.onStdoutLine(line, cut, false, value);
  };
  const stdout = new LineSplitter({
    maxLineBytes,
    keepTailBytes: Math.floor(maxLineBytes / 4),
    onLine: (raw, cut, bytes, source, start) => {
      // The head's bytes are only valid during this call: a cut head is kept decoded, with a copy of its bytes.
      if (cut) cutHead = { raw, bytes, source: Buffer.from(source.subarray(start, start + bytes)), start: 0 };
      else stdoutLine(raw, false, bytes, source, start);
    },
    onCutTail: (tail, droppedBytes) => {
      const head = cutHead;
      cutHead = undefined;
      if (!head) return;
      // Each side is redacted as a cut piece first: a secret the cuts split leaves no part of it.
      const joined = joinCutJsonLine(head.raw, tail.toString('utf8'), droppedBytes, (s) => redactor.redactCut(s), (s) => redactor.redactCutStart(s));
      if (joined === undefined) return stdoutLine(head.raw, true, head.bytes, head.source, head.start);
      const buffer = Buffer.from(joined, 'utf8');
      stdoutLine(joined, false, buffer.length, buffer, 0);
    },
  });
  const stderr = new LineSplitter({
    maxLineBytes,
    onLine: (raw, cut, bytes, source, start) => {
      if (!countAndCheck(bytes + 1)) return;
      const line = cut ? redactor.redactCut(raw) : redactor.redact(raw);
      record('stderr', raw, line, source, start, bytes);
      options.onStderrLine?.(line);
    },
  });
  return {
    stdout,
    stderr,
    get truncated() {
      return truncated;
    },
  };
}

function abortReason(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  if (typeof reason === 'string' && reason) return `cancelled: ${reason}`;
  if (reason instanceof Error && reason.name !== 'AbortError' && reason.message) return `cancelled: ${reason.message}`;
  return 'cancelled by the user';
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10}s` : `${ms}ms`;
}

function quoteForDisplay(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
