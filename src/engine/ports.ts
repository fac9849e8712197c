// What the engine needs from the world, passed in by the composition root (or the
// CLI, or a test). Nothing here reaches for a global clock, prompt or process.
import type { RecordStore } from '../store/recordStore';
import type { GitPort } from '../git/gitAdapter';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export interface EngineDeps {
  store: RecordStore;
  git: GitPort;
  clock: Clock;
}
