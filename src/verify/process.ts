// Child processes for verification: an argument array (never a shell), its own process
// group so a timeout or a cancel stops the whole tree (TERM, then KILL after a grace),
// output kept in memory only as a capped head and tail while the full log streams to
// files that become evidence.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';

export interface ProcessOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Stop the tree after this long (the result says timedOut). */
  timeoutMs?: number;
  signal?: AbortSignal;
  killGraceMs?: number;
  /** Full stdout / stderr are streamed here when given. */
  stdoutPath?: string;
  stderrPath?: string;
  /** Bytes kept in memory at each end of each stream. */
  captureBytes?: number;
  onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  /** After the program exits, how long its leftover children may hold its output open. */
  closeGraceMs?: number;
}

export interface ProcessResult {
  pid?: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  cancelled: boolean;
  spawnError?: string;
  stdout: CapturedOutput;
  stderr: CapturedOutput;
  durationMs: number;
}

export interface RunningProcess {
  pid?: number;
  /** Settles when the process has exited and its logs are flushed. */
  done: Promise<ProcessResult>;
  /** Output so far (head and tail). */
  readonly stdout: CapturedOutput;
  readonly stderr: CapturedOutput;
  /** Stops the whole tree (TERM, then KILL) and waits for the result. */
  stop(): Promise<ProcessResult>;
}

/** Keeps the first and the last `limit` bytes of a stream. */
export class CapturedOutput {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  totalBytes = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.totalBytes += chunk.length;
    if (this.headBytes < this.limit) {
      const take = chunk.subarray(0, this.limit - this.headBytes);
      this.head.push(take);
      this.headBytes += take.length;
      chunk = chunk.subarray(take.length);
    }
    if (chunk.length === 0) return;
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    while (this.tailBytes - (this.tail[0]?.length ?? 0) >= this.limit) {
      this.tailBytes -= this.tail.shift()!.length;
    }
  }

  get truncated(): boolean {
    return this.totalBytes > this.headBytes + Math.min(this.tailBytes, this.limit);
  }

  /** Head, a marker for what was left out, tail. */
  text(): string {
    const tail = Buffer.concat(this.tail);
    const keptTail = tail.subarray(Math.max(0, tail.length - this.limit));
    const omitted = this.totalBytes - this.headBytes - keptTail.length;
    const head = Buffer.concat(this.head).toString('utf8');
    return omitted > 0 ? `${head}\n… [${omitted} bytes omitted] …\n${keptTail.toString('utf8')}` : head + keptTail.toString('utf8');
  }

  /** The last `chars` characters of what is kept. */
  tailText(chars: number): string {
    const text = this.text();
    return text.length > chars ? text.slice(text.length - chars) : text;
  }
}

export function startProcess(argv: readonly string[], options: ProcessOptions): RunningProcess {
  const [program, ...args] = argv;
  if (!program) throw new Error('empty argv: no program to run');
  const captureBytes = options.captureBytes ?? 64 * 1024;
  const killGraceMs = options.killGraceMs ?? 3000;
  const closeGraceMs = options.closeGraceMs ?? 1000;
  const stdout = new CapturedOutput(captureBytes);
  const stderr = new CapturedOutput(captureBytes);
  const started = Date.now();
  let timedOut = false;
  let cancelled = false;
  let spawnError: string | undefined;

  let child: ChildProcess;
  try {
    child = spawn(program, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: the group id is the pid, so -pid signals the whole tree.
      detached: true,
      windowsHide: true,
    });
  } catch (error) {
    // Synchronous spawn failures (bad cwd type, invalid args) become a result, like ENOENT.
    const result: ProcessResult = {
      exitCode: null,
      signal: null,
      timedOut: false,
      cancelled: false,
      spawnError: (error as Error).message,
      stdout,
      stderr,
      durationMs: 0,
    };
    return { done: Promise.resolve(result), stdout, stderr, stop: () => Promise.resolve(result) };
  }

  const files: WriteStream[] = [];
  const pipe = (stream: NodeJS.ReadableStream | null, capture: CapturedOutput, path: string | undefined, name: 'stdout' | 'stderr') => {
    const file = path ? createWriteStream(path) : undefined;
    if (file) files.push(file);
    stream?.on('data', (chunk: Buffer) => {
      capture.push(chunk);
      file?.write(chunk);
      options.onOutput?.(name, chunk.toString('utf8'));
    });
  };
  pipe(child.stdout, stdout, options.stdoutPath, 'stdout');
  pipe(child.stderr, stderr, options.stderrPath, 'stderr');

  let killTimer: NodeJS.Timeout | undefined;
  const killTree = () => {
    if (child.pid === undefined) return;
    signalGroup(child.pid, 'SIGTERM');
    killTimer ??= setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), killGraceMs);
  };

  const timeout = options.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        killTree();
      }, options.timeoutMs)
    : undefined;
  const onAbort = () => {
    cancelled = true;
    killTree();
  };
  if (options.signal?.aborted) queueMicrotask(onAbort);
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  const done = new Promise<ProcessResult>((resolve) => {
    let exitCode: number | null = null;
    let exitSignal: NodeJS.Signals | null = null;
    let settled = false;
    let closeTimer: NodeJS.Timeout | undefined;

    const finish = async () => {
      if (settled) return;
      settled = true;
      if (timeout) clearTimeout(timeout);
      if (closeTimer) clearTimeout(closeTimer);
      options.signal?.removeEventListener('abort', onAbort);
      // Leftover children of a killed tree get their KILL before we forget the group.
      if ((timedOut || cancelled) && child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      if (killTimer) clearTimeout(killTimer);
      await Promise.all(files.map((file) => new Promise<void>((r) => file.end(r))));
      resolve({
        ...(child.pid !== undefined ? { pid: child.pid } : {}),
        exitCode,
        signal: exitSignal,
        timedOut,
        cancelled,
        ...(spawnError ? { spawnError } : {}),
        stdout,
        stderr,
        durationMs: Date.now() - started,
      });
    };

    child.once('error', (error) => {
      // Spawn failure (ENOENT, EACCES, bad cwd): there is no process to wait for.
      if (child.pid === undefined) {
        spawnError = error.message;
        void finish();
      }
    });
    child.once('exit', (code, signal) => {
      exitCode = code;
      exitSignal = signal;
      // A grandchild that inherited stdout keeps 'close' from coming; stop it after a grace.
      closeTimer = setTimeout(() => {
        if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
        child.stdout?.destroy();
        child.stderr?.destroy();
        void finish();
      }, closeGraceMs);
    });
    child.once('close', (code, signal) => {
      exitCode ??= code;
      exitSignal ??= signal;
      void finish();
    });
  });

  return {
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
    done,
    stdout,
    stderr,
    stop: () => {
      killTree();
      return done;
    },
  };
}

export function runProcess(argv: readonly string[], options: ProcessOptions): Promise<ProcessResult> {
  return startProcess(argv, options).done;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  if (process.platform === 'win32') {
    // No process groups: taskkill walks the tree (/T) and forces it (/F).
    spawn('taskkill', ['/pid', String(pid), '/T', '/F'], { stdio: 'ignore', windowsHide: true }).on('error', () => undefined);
    return;
  }
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}
