// Starting a detached runner (detachedRun.ts): the CLI's `run --detach` and the
// editor both call this. The runner is the CLI bundle (dist/cli.js, one self-contained
// file, so an extension update that replaces the install folder cannot pull anything
// from under a runner that already started) run by the Node the caller runs on
// (`process.execPath`; in the editor with ELECTRON_RUN_AS_NODE=1), never a `node`
// found on PATH. It gets its spec — settings, secrets, trust — on stdin, never in argv
// or a file, answers one line on stdout once its attempt has started (or it refused),
// and from then on writes only to its log, its events file and the record.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import * as path from 'node:path';
import { backendEntry, manifestSettings } from '../backends/catalog';
import { RunnerRegistry, type RunnerEnd, type RunnerRecord } from './detachedRun';

export interface DetachedSpec {
  root: string;
  changeId: string;
  /** run: the named stage; next: what "run next" picks; retry: retry the named stage. */
  mode: 'run' | 'next' | 'retry';
  stageId?: string;
  outOfOrder?: boolean;
  /** Go on to the next stages while their gates allow it. */
  advance: boolean;
  startedBy: 'cli' | 'editor';
  /** Settings by full key, as the starter resolved them. */
  settings: Record<string, unknown>;
  /** API keys by environment variable name (the editor's SecretStorage). */
  secrets: Record<string, string>;
  trusted: boolean;
}

export type RunnerHandshake =
  | { ok: true; pid: number; attemptId?: string; stageId?: string; ended?: RunnerEnd }
  | { ok: false; error: string; exitCode: number; running?: RunnerRecord; pid?: number };

export interface StartInput {
  /** The Node to run it with: process.execPath. */
  node: string;
  /** The CLI bundle (dist/cli.js). */
  cli: string;
  spec: DetachedSpec;
  env: NodeJS.ProcessEnv;
  /** How long to wait for the runner to say its attempt started. */
  timeoutMs?: number;
  /** Called with the runner's pid as soon as it exists (a test harness tracks it). */
  onSpawn?(pid: number): void;
}

/** Starts a detached runner and resolves once its attempt has started (or it refused or ended). */
export function startDetachedRunner(input: StartInput): Promise<RunnerHandshake> {
  const registry = new RunnerRegistry(input.spec.root);
  mkdirSync(path.dirname(registry.logFile), { recursive: true });
  const logFd = openSync(registry.logFile, 'a', 0o600);
  let child;
  try {
    child = spawn(input.node, [input.cli, 'run', '--runner-child'], {
      cwd: input.spec.root,
      // Its own session: a closed terminal or window does not take it along.
      detached: true,
      stdio: ['pipe', 'pipe', logFd],
      // Under Electron (desktop VS Code) process.execPath is the editor: run it as plain Node.
      env: { ...input.env, ELECTRON_RUN_AS_NODE: '1' },
      windowsHide: true,
    });
  } finally {
    closeSync(logFd);
  }
  if (child.pid !== undefined) input.onSpawn?.(child.pid);
  return new Promise<RunnerHandshake>((resolve) => {
    let buffer = '';
    let settled = false;
    const settle = (value: RunnerHandshake) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout?.removeAllListeners('data');
      child.stdout?.destroy();
      child.removeAllListeners('exit');
      child.unref();
      resolve(value);
    };
    const timer = setTimeout(
      () => settle({ ok: false, exitCode: 1, error: `The runner (pid ${child.pid}) did not report its start within ${Math.round((input.timeoutMs ?? 120_000) / 1000)} s; see ${registry.logFile}.`, ...(child.pid ? { pid: child.pid } : {}) }),
      input.timeoutMs ?? 120_000,
    );
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      try {
        settle(JSON.parse(buffer.slice(0, nl)) as RunnerHandshake);
      } catch {
        settle({ ok: false, exitCode: 1, error: `The runner answered something unexpected; see ${registry.logFile}.` });
      }
    });
    child.on('error', (error) => settle({ ok: false, exitCode: 3, error: `Could not start the runner with ${input.node}: ${error.message}` }));
    child.on('exit', (code, signal) => {
      const tail = registry.logTail(5).join('\n');
      settle({ ok: false, exitCode: code ?? 1, error: `The runner exited before it started the attempt (${signal ?? `code ${code}`}). Its log (${registry.logFile}) ends:\n${tail}` });
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(JSON.stringify(input.spec));
  });
}

/**
 * Whether a stage owned by `backend` can be handed to a detached runner: an agent
 * that runs as a process can; one that lives in the editor (vscode.lm) cannot, and a
 * person's stage has nothing to run.
 */
export function canRunDetached(backend: string): boolean {
  const entry = backendEntry(backend);
  return backend !== 'human' && !entry?.inEditor;
}

/** Every setting a runner needs, by full key: the backends table's and the factory's own. */
export function runnerSettingKeys(): string[] {
  return [...Object.keys(manifestSettings()), 'factory.prices', 'factory.startChange.branch', 'factory.verify.browserPath'];
}
