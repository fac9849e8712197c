// What the engine needs from the world, passed in by the composition root (or the
// CLI, or a test). Nothing here reaches for a global clock, prompt or process.
import type { RecordStore } from '../store/recordStore';
import type { EvidencePort } from '../store/evidence';
import type { CheckpointPort, GitPort, GitTreePort } from '../git/gitAdapter';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Everything git the engine uses: branch and identity, tree hashes and diffs, checkpoints. */
export type EngineGit = GitPort & GitTreePort & CheckpointPort;

export interface EngineDeps {
  store: RecordStore;
  git: EngineGit;
  evidence: EvidencePort;
  clock: Clock;
}
