// TAP (Test Anything Protocol) reports, read with tap-parser. Pure: text in, cases out.
// Top-level test points are the counted tests; subtests are kept as children so a
// reader can see which inner test broke, but they are not counted (MANIFEST rules).
import { Parser, type FinalResults, type Result } from 'tap-parser';
import { declaredTotalsNote, emptyTotals, ReportParseError, type ParsedReport, type TestCase, type TestLocation, type TestProblem } from './report';

export function parseTap(input: string | Uint8Array, source = 'TAP report'): ParsedReport {
  const text = typeof input === 'string' ? input : new TextDecoder('utf-8').decode(input);
  const cases: TestCase[] = [];
  let final: FinalResults | undefined;

  const parser = new Parser({ passes: true }, (results) => {
    final = results;
  });
  attachCases(parser, cases);
  try {
    parser.end(text);
  } catch (error) {
    throw new ReportParseError(source, `TAP parser failed: ${(error as Error).message}`);
  }
  if (!final) throw new ReportParseError(source, 'the TAP stream did not complete');
  // tap-parser invents a version and a "no tests found" plan for any text; ask the text itself.
  if (!/^\s*(TAP version \d+|\d+\.\.\d+|(not )?ok\b|Bail out!)/m.test(text)) {
    throw new ReportParseError(source, 'no TAP content: no version line, no plan and no test points');
  }

  const totals = emptyTotals();
  for (const testCase of cases) {
    totals.tests++;
    if (testCase.status === 'failed') totals.failures++;
    else if (testCase.status === 'skipped') totals.skipped++;
    else if (testCase.status === 'todo') totals.todo++;
    else totals.passed++;
  }

  const notes: string[] = [];
  const plan = final.plan;
  // tap-parser also reports a plan it made up when the stream had none.
  const sawPlan = /^\d+\.\.\d+/m.test(text);
  const declared = sawPlan && !plan.skipAll && plan.end !== null && plan.start !== null ? { tests: Math.max(0, plan.end - plan.start + 1) } : undefined;
  const disagreement = declaredTotalsNote(declared, totals, `plan ${plan.start}..${plan.end}`);
  if (disagreement) notes.push(disagreement);
  if (sawPlan && plan.skipAll) notes.push(`the plan skips everything (1..0${plan.skipReason ? ` # ${plan.skipReason}` : ''})`);
  if (final.bailout) notes.push(`Bail out!${typeof final.bailout === 'string' && final.bailout ? ` ${final.bailout}` : ''}`);
  if (totals.tests === 0) notes.push('the report has no test points');
  const bailout = final.bailout ? (typeof final.bailout === 'string' && final.bailout ? final.bailout : true) : undefined;
  return { format: 'tap', cases, totals, ...(declared ? { declared } : {}), notes, ...(bailout !== undefined ? { bailout } : {}) };
}

/** Collects a parser's own test points into `out`, and each subtest's points as children of the point that closes it. */
function attachCases(parser: Parser, out: TestCase[]): void {
  let pendingChildren: TestCase[] = [];
  parser.on('child', (child: Parser) => {
    const children: TestCase[] = [];
    attachCases(child, children);
    child.on('complete', () => {
      pendingChildren = pendingChildren.concat(children);
    });
  });
  parser.on('assert', (result: Result) => {
    const testCase = toCase(result);
    if (pendingChildren.length > 0) {
      testCase.children = pendingChildren;
      pendingChildren = [];
    }
    out.push(testCase);
  });
}

function toCase(result: Result): TestCase {
  const diag: Record<string, unknown> = isRecord(result.diag) ? result.diag : {};
  const status = result.todo ? 'todo' : result.skip ? 'skipped' : result.ok ? 'passed' : 'failed';
  const problems: TestProblem[] = status === 'failed' ? [toProblem(result, diag)] : [];
  const skipReason = result.todo || result.skip;
  const durationMs = typeof diag.duration_ms === 'number' ? diag.duration_ms : typeof result.time === 'number' ? result.time : undefined;
  const location = locationOf(diag);
  return {
    name: result.name || `test ${result.id}`,
    suite: [],
    status,
    problems,
    ...(status === 'skipped' || status === 'todo' ? { skipMessage: typeof skipReason === 'string' ? skipReason : '' } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(location ? { location } : {}),
  };
}

function toProblem(result: Result, diag: Record<string, unknown>): TestProblem {
  const message = str(diag.error) ?? str(diag.message) ?? result.name;
  const details = [str(diag.diff), str(diag.stack)].filter(Boolean).join('\n');
  // node:test writes expected/actual; node-tap writes wanted/found.
  const expected = 'expected' in diag ? show(diag.expected) : 'wanted' in diag ? show(diag.wanted) : undefined;
  const actual = 'actual' in diag ? show(diag.actual) : 'found' in diag ? show(diag.found) : undefined;
  const type = str(diag.name) ?? str(diag.failureType);
  return {
    kind: 'failure',
    ...(message ? { message: message.trim() } : {}),
    ...(type ? { type } : {}),
    ...(details ? { details } : {}),
    ...(expected !== undefined ? { expected } : {}),
    ...(actual !== undefined ? { actual } : {}),
  };
}

function locationOf(diag: Record<string, unknown>): TestLocation | undefined {
  // node:test: `location: '/path/file.js:4:1'`
  const location = str(diag.location);
  if (location) {
    const match = /^(.*?):(\d+):(\d+)$/.exec(location);
    return match?.[1] ? { file: match[1], line: Number(match[2]), column: Number(match[3]) } : { file: location };
  }
  // node-tap: `at: { file, line, column }`
  const at = diag.at;
  if (isRecord(at) && typeof at.file === 'string') {
    return { file: at.file, ...(typeof at.line === 'number' ? { line: at.line } : {}), ...(typeof at.column === 'number' ? { column: at.column } : {}) };
  }
  return undefined;
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
