// Shared by the store and git tests: temp workspaces, git, and worker processes.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The summary index lives in the per-user cache: tests keep theirs in one temp folder,
// never in the home folder of whoever runs them.
process.env.FACTORY_COCKPIT_CACHE_DIR ??= mkdtempSync(join(tmpdir(), 'fc-cache-'));

export function tempWorkspace(prefix: string): { dir: string; cleanup: () => void } {
  // realpath: macOS's /tmp is a symbolic link, and the store compares real paths.
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `fc-${prefix}-`)));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function initRepo(dir: string): void {
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.name', 'Ada');
  git(dir, 'config', 'user.email', 'ada@example.com');
  git(dir, 'config', 'commit.gpgsign', 'false');
}

/** What the user's index and stash look like: must be the same before and after. */
export function userState(dir: string): string {
  return [git(dir, 'ls-files', '--stage'), git(dir, 'diff', '--cached'), git(dir, 'stash', 'list')].join('\n--\n');
}

export const WORKER = join(__dirname, 'fixtures', 'appendWorker.ts');

/** Starts a TypeScript script under node + tsx, with an argument array. */
export function spawnTs(script: string, args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Collects complete stdout lines of a child as they arrive. */
export function collectLines(child: ChildProcess): { lines: string[]; onLine: (fn: (line: string) => void) => void } {
  const lines: string[] = [];
  const listeners: Array<(line: string) => void> = [];
  let buffer = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (const fn of listeners) fn(line);
    }
  });
  return { lines, onLine: (fn) => listeners.push(fn) };
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** A small seeded generator, so a failing fuzz case can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
