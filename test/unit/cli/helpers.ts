// Spawns the built CLI (dist/cli.js, built once per test run with `node
// esbuild.config.mjs --cli`) in generated git repositories, with its own cache and
// config folders so nothing of the user's is read or written.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '..', '..', '..');
export const CLI = join(REPO, 'dist', 'cli.js');
export const SCRIPTED = join(REPO, 'test', 'fixtures', 'agents', 'scripted-claude-code.mjs');

let built = false;
/** Builds dist/cli.js once per mocha run. */
export function buildCli(): void {
  if (built) return;
  execFileSync(process.execPath, ['esbuild.config.mjs', '--cli'], { cwd: REPO, stdio: 'inherit' });
  built = true;
}

export interface Sandbox {
  dir: string;
  home: string;
  cache: string;
  config: string;
  steps: string;
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

/** A git repository with one commit, and a home, cache and config of its own. */
export function sandbox(options: { git?: boolean; steps?: unknown[] } = {}): Sandbox {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'fc-cli-')));
  const dir = join(base, 'repo');
  const home = join(base, 'home');
  const cache = join(base, 'cache');
  mkdirSync(dir, { recursive: true });
  mkdirSync(home, { recursive: true });
  if (options.git !== false) {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe' });
    git('init', '-q', '-b', 'main');
    git('config', 'user.name', 'Casey CLI');
    git('config', 'user.email', 'casey@example.com');
    git('config', 'commit.gpgsign', 'false');
    writeFileSync(join(dir, 'README.md'), '# app\n');
    writeFileSync(join(dir, 'notes.md'), 'Remember the edge cases.\n');
    git('add', '-A');
    git('commit', '-qm', 'init');
  }
  const steps = join(base, 'steps.json');
  writeFileSync(steps, JSON.stringify(options.steps ?? [{ text: 'Done.' }]));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    FACTORY_COCKPIT_CACHE_DIR: cache,
    FACTORY_COCKPIT_CONFIG: join(home, 'config.json'),
    FACTORY_BACKENDS_CLAUDE_CODE_PATH: SCRIPTED,
    SCRIPTED_AGENT_STEPS: steps,
    GIT_CONFIG_NOSYSTEM: '1',
  };
  return { dir, home, cache, config: join(home, 'config.json'), steps, env, cleanup: () => rmSync(base, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its end with stdin closed (not a terminal). */
export function cli(box: Pick<Sandbox, 'dir' | 'env'>, args: string[], extraEnv: NodeJS.ProcessEnv = {}, cwd?: string): CliResult {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd: cwd ?? box.dir, env: { ...box.env, ...extraEnv }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  if (result.error) throw result.error;
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Runs the CLI asynchronously (the event loop keeps turning while it runs). */
export function cliAsync(box: Pick<Sandbox, 'dir' | 'env'>, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: box.dir, env: { ...box.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

export function json<T>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${result.code}):\n${result.stdout}\n--- stderr\n${result.stderr}`);
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
