// Which attempts were interrupted: started, never finished, not a person's, and run on
// this machine by a process that is gone, or naming no process at all. Another
// machine's attempt is left alone: only that machine can tell whether it still runs.
// The stage engine records them; the factory asks first, so a read with nothing to
// recover does not build the stage engine.
import type { AttemptState } from '../core/fold';

/** This process, as attempts name their runner, and how to tell whether a pid still runs it. */
export interface RunnerHost {
  pid: number;
  hostname: string;
  isAlive(pid: number): boolean;
}

export function interruptedHere(attempt: AttemptState, host: RunnerHost): boolean {
  if (!attempt.startedAt || attempt.outcome || attempt.backend === 'human') return false;
  const runner = attempt.runner;
  return !runner || (runner.host === host.hostname && !host.isAlive(runner.pid));
}
