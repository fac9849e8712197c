// The shapes of the lead's numbers (metrics.ts computes them): types only, so the
// dashboard's webview can use them without pulling in the fold and the signal.
import type { StageStatus } from './fold';

/** As signal.ts decides it: kept, re-created, unverified (on an agent's word), or not through yet. */
export type SignalVerdict = true | false | 'unverified' | 'incomplete';

/** Why an attempt or a stage visit did not pass, grouped for the hotspots. */
export type FailureKind = 'timeout' | 'budget' | 'agentError' | 'verificationFailed' | 'sentBack' | 'rolledBack' | 'interrupted' | 'cancelled';

export interface FailureFact {
  kind: FailureKind;
  stageId: string;
  /** The owner whose work it was (label, see ownerLabel). */
  owner: string;
  attemptId?: string;
  /** The agent's reason, the failing criterion's message, or the reviewer's note. */
  reason?: string;
  at?: number;
}

export interface StageFact {
  stageId: string;
  status: StageStatus;
  /** Owner of the stage's first live attempt, else the stage's owner. */
  owner: string;
  backend: string;
  /** The first attempt's start and the standing handoff's time. */
  startedAt?: number;
  endedAt?: number;
  attempts: number;
  retries: number;
  /** Times a reviewer reopened this stage (sent back to it). */
  sendBacks: number;
  rollbacks: number;
  /** Handed off on its first live attempt, never reopened or rolled back; undefined while undecided. */
  firstPass?: boolean;
  /** Agent time (attempt durations). */
  workMs: number;
  /** Time waiting for a person: approval requested → decided, and attempts a person owns. */
  personWaitMs: number;
  costUsd: number;
  tokens: number;
}

export interface SignalBreak {
  stageId: string;
  attemptId: string;
  reason: string;
  at?: number;
}

/** A decision whose committer (read from git) is not the actor the event names. */
export interface ActorMismatch {
  eventId: string;
  type: string;
  actor?: string;
  committer: string;
}

export interface ChangeFact {
  id: string;
  title: string;
  ticket?: string;
  branch?: string;
  /** Every branch (ref) the change was read from; the working folder is "(working folder)". */
  branches: string[];
  author?: string;
  createdAt?: number;
  lastEventAt?: number;
  lastEventId?: string;
  eventCount: number;
  completed: boolean;
  /** When the change was completed, or its last stage handed off. */
  doneAt?: number;
  activeStageId?: string;
  activeStatus?: StageStatus;
  /** What the active stage waits for. */
  waitingFor?: 'person' | 'agent' | 'start';
  stages: StageFact[];
  failures: FailureFact[];
  signal: { verdict: SignalVerdict; decidedAt?: number; breaks: SignalBreak[] };
  costUsd: number;
  tokens: number;
  actorMismatches: ActorMismatch[];
  /** Its record is (also) in the working folder; otherwise only on other branches. */
  local?: boolean;
}

export interface Actorish {
  name: string;
  email?: string;
}

export interface ChangeFactsOptions {
  /** Who committed each event file (read from git), by event id. */
  committers?: ReadonlyMap<string, Actorish>;
  branches?: readonly string[];
}

export interface Spread {
  median?: number;
  p90?: number;
  n: number;
}

export interface MetricsFilter {
  since?: number;
  until?: number;
  stage?: string;
  owner?: string;
  backend?: string;
  branch?: string;
  author?: string;
}

export interface MetricsOptions {
  /** Now, for "no event for N days" and work in progress. */
  now: number;
  /** Changes with no event for this many days are stuck. Default 3. */
  stuckDays?: number;
  timeZone?: string;
  filter?: MetricsFilter;
}

export interface SignalMetrics {
  kept: number;
  recreated: number;
  /** Through without re-creating context, but some stage passed on an agent's word (counted against the share). */
  unverified: number;
  incomplete: number;
  share?: number;
  /** Per week (decided that week). */
  weekly: { week: string; kept: number; recreated: number; share?: number }[];
  /** The changes that broke it, newest first, with the stage and why. */
  broken: { changeId: string; title: string; stageId: string; reason: string; at?: number }[];
  /** Breaks per stage. */
  byStage: { stageId: string; count: number }[];
}

export interface StuckChange {
  changeId: string;
  title: string;
  stageId?: string;
  waitingFor?: ChangeFact['waitingFor'];
  lastEventAt?: number;
  idleDays: number;
}

export interface StageOwnerRow {
  stageId: string;
  /** Owner label, or `*` for the stage over every owner. */
  owner: string;
  backend: string;
  visits: number;
  attempts: number;
  /** Stage visits decided (passed or failed at least once). */
  decided: number;
  firstPass: number;
  firstPassRate?: number;
  retries: number;
  sendBacks: number;
  rollbacks: number;
  timeInStage: Spread;
  workMs: number;
  personWaitMs: number;
  costUsd: number;
  tokens: number;
  failures: Partial<Record<FailureKind, number>>;
}

export interface Hotspot {
  stageId: string;
  kind: FailureKind;
  count: number;
  /** A few examples: change, owner and reason. */
  examples: { changeId: string; owner: string; reason?: string }[];
}

export interface FlowMetrics {
  weekly: { week: string; done: number; started: number; leadTimeMedianMs?: number }[];
  leadTime: Spread;
  wip: number;
  /** Cumulative flow: per week, how many changes were in each stage (or done) at the week's end. */
  cumulative: { week: string; counts: Record<string, number> }[];
}

export interface ChangeRow {
  id: string;
  title: string;
  ticket?: string;
  branch?: string;
  branches: string[];
  author?: string;
  stage?: string;
  state: 'done' | 'open' | 'stuck';
  waitingFor?: string;
  createdAt?: number;
  lastEventAt?: number;
  leadTimeMs?: number;
  attempts: number;
  costUsd: number;
  signal: 'kept' | 'recreated' | 'unverified' | 'incomplete';
  mismatches: number;
  local?: boolean;
}

export interface Metrics {
  generatedAt: number;
  timeZone: string;
  filter: MetricsFilter;
  changes: number;
  headline: {
    signalShare?: number;
    signalShareBefore?: number;
    firstPassRate?: number;
    firstPassRateBefore?: number;
    throughputLastWeek: number;
    throughputWeekBefore: number;
    leadTimeMedianMs?: number;
    wip: number;
    stuck: number;
    costUsd: number;
  };
  signal: SignalMetrics;
  stuck: StuckChange[];
  stages: StageOwnerRow[];
  stageOwners: StageOwnerRow[];
  hotspots: Hotspot[];
  flow: FlowMetrics;
  rows: ChangeRow[];
  /** What the filters can choose from. */
  choices: { stages: string[]; owners: string[]; backends: string[]; branches: string[]; authors: string[] };
  actorMismatches: (ActorMismatch & { changeId: string })[];
}
