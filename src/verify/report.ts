// What a parsed test report looks like, whichever format it came from (JUnit XML or
// TAP). Counts are taken from the cases themselves; a report's own summary (suite
// attributes, TAP plan) is only compared against them and a disagreement is noted.

export type TestCaseStatus = 'passed' | 'failed' | 'error' | 'skipped' | 'todo';

export interface TestProblem {
  kind: 'failure' | 'error';
  message?: string;
  /** Exception / assertion type when the report names one. */
  type?: string;
  /** The body: stack trace, diff, diagnostics. */
  details?: string;
  expected?: string;
  actual?: string;
}

export interface TestLocation {
  file: string;
  line?: number;
  column?: number;
}

export interface TestCase {
  name: string;
  /** Enclosing suites, outermost first. */
  suite: string[];
  classname?: string;
  /** One status per case: error over failed over skipped/todo over passed. */
  status: TestCaseStatus;
  /** Every failure/error the case has (a JUnit case may carry several). */
  problems: TestProblem[];
  skipMessage?: string;
  durationMs?: number;
  location?: TestLocation;
  /** Subtests (TAP); shown, but not counted in the totals. */
  children?: TestCase[];
}

/** Counted from the cases. A JUnit case with both a <failure> and an <error> counts in each. */
export interface TestTotals {
  tests: number;
  passed: number;
  failures: number;
  errors: number;
  skipped: number;
  todo: number;
}

export interface ParsedReport {
  format: 'junit' | 'tap';
  cases: TestCase[];
  totals: TestTotals;
  /** What the report says about itself (suite attributes, TAP plan), when it says anything. */
  declared?: Partial<Pick<TestTotals, 'tests' | 'failures' | 'errors' | 'skipped'>>;
  /** "declared totals disagree", bail outs and other things a reader should know. */
  notes: string[];
  /** TAP `Bail out!` reason (true when none was given). */
  bailout?: string | true;
}

/** A report that could not be read as its format: the message says what and where. */
export class ReportParseError extends Error {
  constructor(
    readonly source: string,
    readonly detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.name = 'ReportParseError';
  }
}

export function emptyTotals(): TestTotals {
  return { tests: 0, passed: 0, failures: 0, errors: 0, skipped: 0, todo: 0 };
}

/** Compares what the report declares with what was counted; one note per disagreeing field. */
export function declaredTotalsNote(declared: ParsedReport['declared'], counted: TestTotals, what: string): string | undefined {
  if (!declared) return undefined;
  const diffs: string[] = [];
  for (const key of ['tests', 'failures', 'errors', 'skipped'] as const) {
    const value = declared[key];
    if (value !== undefined && value !== counted[key]) diffs.push(`${key}=${value} declared, ${counted[key]} counted`);
  }
  if (diffs.length === 0) return undefined;
  return `declared totals disagree with the cases (${what}): ${diffs.join('; ')}; the counted cases are used`;
}
