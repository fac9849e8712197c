// Every git call of the factory but the few porcelain ones (gitAdapter.ts, simple-git): a private GIT_INDEX_FILE per call where one is needed
// (simple-git's env() would also refuse a user's EDITOR or PAGER passed through), stdin
// input (checkout-index --stdin, cat-file --batch) and NUL-separated binary-safe output.
// Always an argument array, never a shell. child_process is required by the first call:
// a read the files answer (layoutFiles.ts, headFile.ts) loads none of it.

export class GitCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`git ${args.join(' ')} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim() || 'no message'}`);
    this.name = 'GitCommandError';
  }
}

export interface RunGitOptions {
  cwd: string;
  /** Added to the environment of the process (on top of process.env). */
  env?: Record<string, string>;
  input?: string | Buffer;
  /** Exit codes that are not errors (default [0]). */
  okCodes?: number[];
}

export interface GitResult {
  stdout: Buffer;
  stderr: string;
  exitCode: number;
}

export function runGit(args: readonly string[], options: RunGitOptions): Promise<GitResult> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- on first use (see the header)
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd: options.cwd,
      // Reads never take optional locks on the user's index (as `git status` would).
      env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.stdin.on('error', () => undefined); // git may exit before reading all input; its exit code tells
    child.on('close', (code) => {
      const stderr = Buffer.concat(err).toString('utf8');
      if (code !== null && (options.okCodes ?? [0]).includes(code)) resolve({ stdout: Buffer.concat(out), stderr, exitCode: code });
      else reject(new GitCommandError(args, code, stderr));
    });
    child.stdin.end(options.input ?? '');
  });
}

export async function gitText(args: readonly string[], options: RunGitOptions): Promise<string> {
  return (await runGit(args, options)).stdout.toString('utf8').trim();
}

/** Splits `-z` output into its NUL-separated fields, dropping the empty tail. */
export function splitNul(output: Buffer | string): string[] {
  const text = typeof output === 'string' ? output : output.toString('utf8');
  const parts = text.split('\0');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}
