// Spawning an agent in its own process group, so cancelling it takes its whole tree
// (the shells, test runners and servers it started) with it: TERM to the group, then
// KILL after a grace period. Always an argument array, never a shell.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { access, constants, stat } from 'node:fs/promises';
import path from 'node:path';

export interface GroupSpawnOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  stdio: StdioOptions;
}

export function spawnInGroup(command: string, args: readonly string[], options: GroupSpawnOptions): ChildProcess {
  return spawn(command, [...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: options.stdio,
    // Own process group (pgid = pid): `kill(-pid)` reaches every descendant that did not leave it.
    detached: process.platform !== 'win32',
    windowsHide: true,
  });
}

/** Signals the child's whole process group; quietly does nothing if it is gone. */
export function signalTree(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    if (process.platform === 'win32') child.kill(signal);
    else process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** TERM the tree, then KILL it if anything of it is still there after `graceMs`. */
export function killTree(child: ChildProcess, graceMs: number): Promise<void> {
  signalTree(child, 'SIGTERM');
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signalTree(child, 'SIGKILL');
      resolve();
    }, graceMs);
    const pid = child.pid;
    // Finish early once the whole group is gone.
    const poll = setInterval(() => {
      if (pid === undefined || !groupAlive(pid)) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      }
    }, 25);
  });
}

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True while the process runs. A zombie (dead, not yet reaped by its new parent) counts as dead. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  try {
    // /proc/<pid>/stat: "pid (comm) state …"; comm may contain spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * The executable for `name`: a configured path (absolute, or relative to `cwd`), or the
 * first match on PATH. Undefined when there is none.
 */
export async function resolveExecutable(name: string, envPath: string | undefined, cwd: string): Promise<string | undefined> {
  const isExecutableFile = async (candidate: string) => {
    try {
      await access(candidate, constants.X_OK);
      return (await stat(candidate)).isFile();
    } catch {
      return false;
    }
  };
  if (name.includes('/') || name.includes(path.sep)) {
    const candidate = path.resolve(cwd, name);
    return (await isExecutableFile(candidate)) ? candidate : undefined;
  }
  const extensions = process.platform === 'win32' ? ['.exe', '.cmd', '.bat', ''] : [''];
  for (const dir of (envPath ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of extensions) {
      const candidate = path.join(dir, name + ext);
      if (await isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}
