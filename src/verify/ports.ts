// What the verification runner needs from the world, passed in by the caller (engine,
// CLI, a test): where the workspace is, where evidence goes, how to hash the tree, the
// clock, cancellation and who approved what. Nothing here reaches for a global.
import type { Criterion } from '../core/pipeline';
import type { EvidenceRef } from '../core/events';
import type { ParsedReport, TestCase, TestTotals } from './report';

/** Stores evidence content-addressed (the record's evidence store implements it). */
export interface EvidenceSink {
  /** Stores a file's bytes (the file may be removed afterwards). */
  putFile(path: string, name: string, mediaType?: string): Promise<EvidenceRef>;
  putBytes(bytes: Uint8Array, name: string, mediaType?: string): Promise<EvidenceRef>;
}

/** The git adapter's view of "which tree is this" (implemented in src/git). */
export interface TreeHasher {
  /** HEAD's commit id, undefined before the first commit. */
  headCommit(): Promise<string | undefined>;
  /** A hash of the working tree as it is on disk (tracked and untracked files, `.factory/` excluded). */
  workingTreeHash(): Promise<string>;
}

export interface VerifyClock {
  now(): Date;
}

export interface Approval {
  /** Who approved (a person's name or handle). */
  by: string;
  /** Roles the person acts in, matched against the criterion's `approver`. */
  roles?: string[];
  /** ISO time of the decision. */
  at: string;
  decision: 'approved' | 'rejected';
  note?: string;
  /** The working-tree hash the person looked at; an approval of another tree does not count. */
  tree?: string;
}

export interface ApprovalRequest {
  stageId?: string;
  criterionId: string;
  approver?: string;
}

export interface ApprovalSource {
  approvalFor(request: ApprovalRequest): Promise<Approval | undefined>;
}

/** The slice of playwright-core the screenshot criterion uses; loaded lazily. */
export type PlaywrightModule = Pick<typeof import('playwright-core'), 'chromium'>;

export interface VerifyProgress {
  criterionStarted?(criterion: Criterion): void;
  /** Output of a command as it runs (already decoded, may split lines). */
  output?(criterion: Criterion, stream: 'stdout' | 'stderr', text: string): void;
  criterionFinished?(criterion: Criterion, result: CriterionResult): void;
}

export interface VerifyContext {
  /** Absolute path of the workspace; every path a criterion names must resolve inside it. */
  workspaceRoot: string;
  /** The stage being verified (for approvals and messages). */
  stageId?: string;
  evidence: EvidenceSink;
  tree: TreeHasher;
  clock: VerifyClock;
  signal?: AbortSignal;
  approvals?: ApprovalSource;
  /** Environment the commands start from (criterion `env` is laid over it); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Browser for screenshots (a setting); else well-known Chromium locations are tried. */
  browserExecutablePath?: string;
  /** Loads playwright-core; default a dynamic import, so bundles carry it only when used. */
  loadPlaywright?: () => Promise<PlaywrightModule>;
  progress?: VerifyProgress;
  /** Where temporary logs are written before they go to the evidence sink; default os.tmpdir(). */
  tempDir?: string;
  limits?: Partial<VerifyLimits>;
}

export interface VerifyLimits {
  /** Bytes of each output stream kept in memory at the head and at the tail. */
  captureBytes: number;
  /** Upper bound of a failureFeedback text, in characters. */
  feedbackChars: number;
  /** Between SIGTERM and SIGKILL when a process tree is stopped. */
  killGraceMs: number;
  /** How long a screenshot page may take to load and a selector to become visible. */
  pageTimeoutMs: number;
}

export const DEFAULT_LIMITS: VerifyLimits = {
  captureBytes: 64 * 1024,
  feedbackChars: 4000,
  killGraceMs: 3000,
  pageTimeoutMs: 30_000,
};

// ---- results -------------------------------------------------------------------------

/**
 * passed: positive evidence; failed: the evidence says no (including timeouts, zero
 * tests, a bail out, a missing report); error: the check could not be carried out
 * (bad definition, spawn failure, no browser, cancelled); skipped: not run (waiting
 * for an approval, or cancelled before its turn). Only `passed` passes.
 */
export type CriterionOutcome = 'passed' | 'failed' | 'error' | 'skipped';

export interface VerifiedTree {
  commit?: string;
  tree?: string;
}

export interface VerifyEnvironment {
  node: string;
  platform: string;
  arch: string;
  /** Browser version, for screenshot criteria. */
  browser?: string;
}

export interface CommandRun {
  argv: string[];
  /** Workspace-relative working directory ('' for the root). */
  cwd: string;
  pid?: number;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
  /** The spawn failed (e.g. program not found). */
  spawnError?: string;
}

export interface ReportFileResult {
  /** Workspace-relative path. */
  path: string;
  format: ParsedReport['format'];
  totals?: TestTotals;
  notes: string[];
  /** Set when the file could not be parsed. */
  parseError?: string;
}

export interface TestRunSummary {
  reports: ReportFileResult[];
  cases: TestCase[];
  totals: TestTotals;
  notes: string[];
}

export interface PageShot {
  page: string;
  url: string;
  viewport: { width: number; height: number };
  status?: number;
  screenshot?: EvidenceRef;
  selector?: string;
  selectorVisible?: boolean;
  error?: string;
}

export interface CriterionResult {
  criterionId: string;
  kind: Criterion['kind'];
  title?: string;
  required: boolean;
  outcome: CriterionOutcome;
  /** One line: why this outcome. */
  message: string;
  startedAt: string;
  durationMs: number;
  evidence: EvidenceRef[];
  /** The commit and working-tree hash this result verified (taken before the check ran). */
  verified: VerifiedTree;
  /** The tree hash differed after the check: the result is stale from the start. */
  treeChangedDuringRun?: boolean;
  environment: VerifyEnvironment;
  /** Bounded text for the next attempt's prompt when the criterion did not pass. */
  failureFeedback?: string;
  waitingForApproval?: boolean;
  approval?: Approval;
  command?: CommandRun;
  tests?: TestRunSummary;
  screenshots?: PageShot[];
  files?: { path: string; exists: boolean }[];
}

export interface StageVerification {
  results: CriterionResult[];
  /** Every required criterion passed. */
  passed: boolean;
  /** Some required criterion is waiting for a human approval (and nothing required failed). */
  waitingForApproval: boolean;
  cancelled: boolean;
  /** Feedback of the required criteria that did not pass, bounded; undefined when passed. */
  failureFeedback?: string;
}
