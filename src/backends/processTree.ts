// Spawning an agent in its own process group, so cancelling it takes its whole tree
// (the shells, test runners and servers it started) with it: TERM to the group, then
// KILL after a grace period. Always an argument array, never a shell. child_process is
// required by the first spawn: a read that only asks whether a runner lives loads none of it.
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { access, constants, stat } from 'node:fs/promises';
import path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- on first use (see the header)
const childProcess = () => require('node:child_process') as typeof import('node:child_process');

export interface GroupSpawnOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  stdio: StdioOptions;
}

/**
 * A process group this process started and has not seen end: a detached runner writes
 * these into its record, so whoever finds the runner dead can end its orphaned agents.
 */
export interface SpawnedGroup {
  /** The group id (= the agent's pid: it leads its group). */
  pgid: number;
  /** The leader's start time (processStartTime), so a reused pid is never signalled. */
  processStart?: string;
  /** The watchdog that ends the group when this process dies. */
  watchdog?: number;
}

const liveGroups = new Map<number, SpawnedGroup>();
const groupListeners = new Set<(groups: SpawnedGroup[]) => void>();

/** The groups this process started that still run. */
export function spawnedGroups(): SpawnedGroup[] {
  return [...liveGroups.values()];
}

/** Calls `listener` synchronously, right after a group is spawned and after one has ended. */
export function onSpawnedGroupsChange(listener: (groups: SpawnedGroup[]) => void): () => void {
  groupListeners.add(listener);
  return () => groupListeners.delete(listener);
}

function groupsChanged(): void {
  const groups = spawnedGroups();
  for (const listener of groupListeners) listener(groups);
}

/**
 * The watchdog an agent's group gets, so it dies with the process that started it even
 * after a `kill -9` of that process (Linux's PR_SET_PDEATHSIG is out of Node's reach).
 * It reads the group id, then blocks on its stdin, whose other end only this process
 * holds: "done" means the group ended normally; end of file means this process died,
 * and the group gets TERM, then KILL after the grace. A `/bin/sh` (about 1.7 MB and
 * 6 ms to spawn here) rather than a second Node (about 42 MB), in its own session so a
 * terminal's Ctrl-C or hang-up does not take it first.
 */
const WATCHDOG_SCRIPT = 'read -r pgid || exit 0; read -r line; [ "$line" = done ] && exit 0; kill -s TERM -- "-$pgid" 2>/dev/null || exit 0; sleep "$1"; kill -s KILL -- "-$pgid" 2>/dev/null; exit 0';
export const WATCHDOG_GRACE_S = 3;

function startWatchdog(pgid: number): ChildProcess | undefined {
  try {
    const watchdog = childProcess().spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'factory-cockpit-watchdog', String(WATCHDOG_GRACE_S)], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
      // Only what `sleep` needs: the agent's secrets stay out of one more process's environment.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    watchdog.on('error', () => undefined);
    watchdog.stdin?.on('error', () => undefined);
    watchdog.stdin?.write(`${pgid}\n`);
    // Neither the watchdog nor its pipe keeps this process alive.
    watchdog.unref();
    (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return watchdog;
  } catch {
    return undefined;
  }
}

export function spawnInGroup(command: string, args: readonly string[], options: GroupSpawnOptions): ChildProcess {
  const child = childProcess().spawn(command, [...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: options.stdio,
    // Own process group (pgid = pid): `kill(-pid)` reaches every descendant that did not leave it.
    detached: process.platform !== 'win32',
    windowsHide: true,
  });
  if (child.pid !== undefined && process.platform !== 'win32') trackGroup(child, child.pid);
  return child;
}

function trackGroup(child: ChildProcess, pgid: number): void {
  const watchdog = startWatchdog(pgid);
  const start = processStartTime(pgid);
  liveGroups.set(pgid, { pgid, ...(start !== undefined ? { processStart: start } : {}), ...(watchdog?.pid !== undefined ? { watchdog: watchdog.pid } : {}) });
  groupsChanged();
  const ended = () => {
    watchdog?.stdin?.end('done\n');
    liveGroups.delete(pgid);
    groupsChanged();
  };
  child.once('exit', () => {
    // The leader is gone; what it started in its group may still run (the caller ends it).
    if (!groupAlive(pgid)) return ended();
    const poll = setInterval(() => {
      if (groupAlive(pgid)) return;
      clearInterval(poll);
      ended();
    }, 100);
    poll.unref?.();
  });
}

/**
 * Ends a group another process started and recorded (a dead runner's agent): KILL,
 * unless its leader's pid now belongs to another process (start time differs). A
 * group whose leader has exited is still ours: a pid is not handed out again while a
 * group with that id exists. Returns whether it was signalled.
 */
export function killRecordedGroup(group: SpawnedGroup, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  if (process.platform === 'win32' || !Number.isInteger(group.pgid) || group.pgid <= 1) return false;
  if (pidAlive(group.pgid) && group.processStart !== undefined) {
    const start = processStartTime(group.pgid);
    if (start !== undefined && start !== group.processStart) return false;
  }
  try {
    process.kill(-group.pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Linux: the process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat). Undefined elsewhere or when it is gone. */
export function processStartTime(pid: number): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
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
