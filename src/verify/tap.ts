// TAP (Test Anything Protocol) reports, read with tap-parser. Pure: text in, cases out.
// Top-level test points are the counted tests; subtests are kept as children so a
// reader can see which inner test broke, but they are not counted (MANIFEST rules).
//
// A stream that was cut short is refused, saying where it ends: one that ends inside a
// YAML diagnostics block or inside a subtest, or before the test points its leading
// plan announced. A stream without any plan may have been cut before its trailing
// plan; that is noted, with where it ends.
import { Parser, type FinalResults, type Result } from 'tap-parser';
import { positionOf } from '../core/json';
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

  const shape = streamShape(text);
  const where = endOf(text, typeof input === 'string' ? undefined : input.byteLength);
  if (!final.bailout) {
    if (shape.openYaml !== undefined) throw new ReportParseError(source, `${where} inside the YAML diagnostics block opened at line ${shape.openYaml}: is the file truncated?`);
    if (shape.openSubtestLine !== undefined) throw new ReportParseError(source, `${where} inside a subtest (line ${shape.openSubtestLine} is its last line, and no test point closes it): is the file truncated?`);
    if (shape.leadingPlan !== undefined && cases.length < shape.leadingPlan) {
      throw new ReportParseError(source, `${where} after ${cases.length} of the ${shape.leadingPlan} test points its plan announced: is the file truncated?`);
    }
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
  if (!sawPlan && !final.bailout && totals.tests > 0) notes.push(`the stream has no plan, so it may have been cut short: ${where}`);
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

/** "the stream ends at line 12, column 9 (after 301 bytes)". */
function endOf(text: string, totalBytes: number | undefined): string {
  const end = positionOf(text, text.length);
  return `the stream ends at line ${end.line}, column ${end.column} (after ${totalBytes ?? end.bytes} bytes)`;
}

const TEST_POINT = /^(not )?ok\b/;
const PLAN = /^(\d+)\.\.(\d+)/;

/**
 * What the text shows of its own structure, line by line: a plan before the first
 * top-level test point (a leading plan, which promises how many follow), a YAML block
 * left open at the end, a subtest left open at the end (its last line indented, with
 * no top-level point after it).
 */
function streamShape(text: string): { leadingPlan?: number; openYaml?: number; openSubtestLine?: number } {
  // Plain character tests, not a regex per line: this runs over every line of large reports.
  const lines = text.split('\n');
  let leadingPlan: number | undefined;
  let sawTopLevelPoint = false;
  let yamlOpenedAt: number | undefined;
  let yamlIndent = 0;
  let previousWasPoint = false;
  let lastSignificant: { line: number; indented: boolean } | undefined;
  const onlySpaceAfter = (line: string, from: number) => from >= line.length || line.slice(from).trim() === '';
  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index]!;
    let indent = 0;
    while (indent < raw.length && (raw.charCodeAt(indent) === 0x20 || raw.charCodeAt(indent) === 0x09)) indent++;
    if (yamlOpenedAt !== undefined) {
      if (indent === yamlIndent && raw.startsWith('...', indent) && onlySpaceAfter(raw, indent + 3)) {
        yamlOpenedAt = undefined;
        lastSignificant = { line: index + 1, indented: indent > 2 };
      }
      continue;
    }
    const first = raw.charCodeAt(indent);
    if (indent >= raw.length || first === 0x23 /* # */ || (first === 0x0d && indent === raw.length - 1)) continue;
    if (previousWasPoint && first === 0x2d && raw.startsWith('---', indent) && onlySpaceAfter(raw, indent + 3)) {
      yamlOpenedAt = index + 1;
      yamlIndent = indent;
      previousWasPoint = false;
      continue;
    }
    const body = indent === 0 ? raw : raw.slice(indent);
    const point = (first === 0x6f /* o */ || first === 0x6e) /* n */ && TEST_POINT.test(body);
    const plan = first >= 0x30 && first <= 0x39 ? PLAN.exec(body) : null;
    previousWasPoint = point;
    if (indent === 0) {
      if (plan && !sawTopLevelPoint && leadingPlan === undefined) leadingPlan = Math.max(0, Number(plan[2]) - Number(plan[1]) + 1);
      if (point) sawTopLevelPoint = true;
    }
    if (point || plan || (first === 0x54 && body.startsWith('TAP version')) || (first === 0x42 && body.startsWith('Bail out!'))) lastSignificant = { line: index + 1, indented: indent > 0 };
  }
  return {
    ...(leadingPlan !== undefined ? { leadingPlan } : {}),
    ...(yamlOpenedAt !== undefined ? { openYaml: yamlOpenedAt } : {}),
    ...(lastSignificant?.indented ? { openSubtestLine: lastSignificant.line } : {}),
  };
}
