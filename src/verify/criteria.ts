// One checker per criterion kind. Each gathers evidence and says passed / failed /
// error on positive evidence only (see DESIGN.md "Verdicts and the signal"); the
// runner (runner.ts) adds the tree binding, timing, environment and feedback bounds.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EvidenceRef } from '../core/events';
import type { Criterion } from '../core/pipeline';
import { parseJUnit } from './junit';
import { isPlainRelativePath, matchWorkspaceFiles, mediaTypeFor, PathOutsideWorkspaceError, resolveInside, toWorkspaceRelative } from './paths';
import type { CommandRun, ReportFileResult, TestRunSummary, VerifyContext } from './ports';
import { commandEnv, limitsOf, MAX_EVIDENCE_FILE_BYTES, MAX_EVIDENCE_FILES, withTempDir, type CheckResult } from './support';
import { runProcess, type ProcessResult } from './process';
import { emptyTotals, ReportParseError, type ParsedReport, type TestCase } from './report';
import { checkScreenshots } from './screenshot';
import { parseTap } from './tap';

export type CommandCriterion = Extract<Criterion, { kind: 'command' }>;
export type TestReportCriterion = Extract<Criterion, { kind: 'testReport' }>;
export type FileExistsCriterion = Extract<Criterion, { kind: 'fileExists' }>;
export type HumanApprovalCriterion = Extract<Criterion, { kind: 'humanApproval' }>;

interface LoggedRun {
  run: CommandRun;
  process: ProcessResult;
  evidence: EvidenceRef[];
}

/** Runs a criterion's command with its logs streamed to evidence. */
async function runLogged(
  criterion: Criterion & { argv: string[]; cwd?: string; env?: Record<string, string>; timeoutMs: number },
  ctx: VerifyContext,
): Promise<LoggedRun> {
  const cwd = await resolveInside(ctx.workspaceRoot, criterion.cwd ?? '.', `cwd of criterion "${criterion.id}"`);
  const limits = limitsOf(ctx);
  return withTempDir(ctx, async (dir) => {
    const stdoutPath = path.join(dir, 'stdout.log');
    const stderrPath = path.join(dir, 'stderr.log');
    const result = await runProcess(criterion.argv, {
      cwd,
      env: commandEnv(ctx, criterion.env),
      timeoutMs: criterion.timeoutMs,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      killGraceMs: limits.killGraceMs,
      captureBytes: limits.captureBytes,
      stdoutPath,
      stderrPath,
      onOutput: (stream, text) => ctx.progress?.output?.(criterion, stream, text),
    });
    const evidence: EvidenceRef[] = [];
    if (!result.spawnError) {
      evidence.push(await ctx.evidence.putFile(stdoutPath, `${criterion.id}.stdout.log`, 'text/plain'));
      evidence.push(await ctx.evidence.putFile(stderrPath, `${criterion.id}.stderr.log`, 'text/plain'));
    }
    const run: CommandRun = {
      argv: [...criterion.argv],
      cwd: toWorkspaceRelative(ctx.workspaceRoot, cwd),
      ...(result.pid !== undefined ? { pid: result.pid } : {}),
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut: result.timedOut,
      cancelled: result.cancelled,
      durationMs: result.durationMs,
      ...(result.spawnError ? { spawnError: result.spawnError } : {}),
    };
    return { run, process: result, evidence };
  });
}

/** Why a run did not end normally, or undefined when it exited by itself. */
function abnormalEnd(logged: LoggedRun, timeoutMs: number): { outcome: 'failed' | 'error'; message: string } | undefined {
  const { run } = logged;
  if (run.spawnError) return { outcome: 'error', message: `could not start ${run.argv[0]}: ${run.spawnError}` };
  if (run.cancelled) return { outcome: 'error', message: 'cancelled' };
  if (run.timedOut) return { outcome: 'failed', message: `timed out after ${timeoutMs} ms; the process tree was stopped` };
  if (run.exitCode === null) return { outcome: 'failed', message: `the process was killed by ${run.signal ?? 'a signal'}` };
  return undefined;
}

function logTail(process: ProcessResult, chars: number): string {
  const parts: string[] = [];
  const err = process.stderr.tailText(chars).trim();
  const out = process.stdout.tailText(chars).trim();
  if (err) parts.push(`--- stderr (end) ---\n${err}`);
  if (out) parts.push(`--- stdout (end) ---\n${out}`);
  return parts.join('\n');
}

// ---- command -------------------------------------------------------------------------

export async function checkCommand(criterion: CommandCriterion, ctx: VerifyContext): Promise<CheckResult> {
  const logged = await runLogged(criterion, ctx);
  const evidence = [...logged.evidence, ...(await collectEvidenceGlobs(criterion.evidence, criterion.id, ctx))];
  const tail = logTail(logged.process, 1500);
  const abnormal = abnormalEnd(logged, criterion.timeoutMs);
  if (abnormal) return { ...abnormal, evidence, command: logged.run, feedback: tail };
  const code = logged.run.exitCode!;
  if (!criterion.expectExitCodes.includes(code)) {
    return {
      outcome: 'failed',
      message: `exited with code ${code}, expected ${criterion.expectExitCodes.join(' or ')}`,
      evidence,
      command: logged.run,
      feedback: `$ ${criterion.argv.join(' ')}\nexit code ${code}\n${tail}`,
    };
  }
  return { outcome: 'passed', message: `exited with code ${code}`, evidence, command: logged.run };
}

async function collectEvidenceGlobs(patterns: string[], criterionId: string, ctx: VerifyContext): Promise<EvidenceRef[]> {
  const refs: EvidenceRef[] = [];
  for (const pattern of patterns) {
    const files = await matchWorkspaceFiles(ctx.workspaceRoot, pattern, `evidence glob of criterion "${criterionId}"`);
    for (const file of files) {
      if (refs.length >= MAX_EVIDENCE_FILES) return refs;
      if ((await stat(file)).size > MAX_EVIDENCE_FILE_BYTES) continue;
      const relative = toWorkspaceRelative(ctx.workspaceRoot, file);
      refs.push(await ctx.evidence.putFile(file, `${criterionId}.${relative.replace(/\//g, '__')}`, mediaTypeFor(file)));
    }
  }
  return refs;
}

// ---- test report ---------------------------------------------------------------------

interface FileStamp {
  mtimeMs: number;
  size: number;
  ino: number;
}

async function stampReports(patterns: string[], ctx: VerifyContext, criterionId: string): Promise<Map<string, FileStamp>> {
  const stamps = new Map<string, FileStamp>();
  for (const pattern of patterns) {
    for (const file of await matchWorkspaceFiles(ctx.workspaceRoot, pattern, `report path of criterion "${criterionId}"`)) {
      const info = await stat(file);
      stamps.set(file, { mtimeMs: info.mtimeMs, size: info.size, ino: info.ino });
    }
  }
  return stamps;
}

/**
 * Makes the missing folder of each report named by a plain path before the run: some
 * runners (node --test's reporter destination) do not, and then write no report at all.
 * The first folder made gets a `.gitignore` of `*`: it holds only the run's output, which
 * must not change the working tree the result is bound to (nor show up in git status).
 */
async function prepareReportFolders(patterns: string[], ctx: VerifyContext, criterionId: string): Promise<void> {
  for (const pattern of patterns.filter(isPlainRelativePath)) {
    const file = await resolveInside(ctx.workspaceRoot, pattern, `report path of criterion "${criterionId}"`);
    const made = await mkdir(path.dirname(file), { recursive: true });
    if (made) await writeFile(path.join(made, '.gitignore'), '*\n', { flag: 'wx' });
  }
}

export async function checkTestReport(criterion: TestReportCriterion, ctx: VerifyContext): Promise<CheckResult> {
  await prepareReportFolders(criterion.reports, ctx, criterion.id);
  // A report left over from an earlier run must not vouch for this one: remember what was there.
  const before = await stampReports(criterion.reports, ctx, criterion.id);
  const logged = await runLogged(criterion, ctx);
  const after = await stampReports(criterion.reports, ctx, criterion.id);
  const written = [...after].filter(([file, stamp]) => {
    const old = before.get(file);
    return !old || old.mtimeMs !== stamp.mtimeMs || old.size !== stamp.size || old.ino !== stamp.ino;
  });
  const leftovers = [...after.keys()].filter((file) => !written.some(([w]) => w === file));

  const evidence = [...logged.evidence];
  const reports: ReportFileResult[] = [];
  const cases: TestCase[] = [];
  const totals = emptyTotals();
  const notes: string[] = [];
  let bailout: string | undefined;
  const parseErrors: string[] = [];
  const expectExitCodes = criterion.expectExitCodes ?? [0];

  for (const [file] of written) {
    const relative = toWorkspaceRelative(ctx.workspaceRoot, file);
    const format = criterion.format;
    evidence.push(await ctx.evidence.putFile(file, `${criterion.id}.${relative.replace(/\//g, '__')}`, format === 'tap' ? 'text/x-tap' : 'application/xml'));
    let report: ParsedReport;
    try {
      const bytes = await readFile(file);
      report = format === 'tap' ? parseTap(bytes, relative) : parseJUnit(bytes, relative);
    } catch (error) {
      const detail = error instanceof ReportParseError ? error.message : `${relative}: ${(error as Error).message}`;
      parseErrors.push(detail);
      reports.push({ path: relative, format, notes: [], parseError: detail });
      continue;
    }
    reports.push({ path: relative, format, totals: report.totals, notes: report.notes });
    cases.push(...report.cases);
    for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += report.totals[key];
    notes.push(...report.notes.map((note) => (written.length > 1 ? `${relative}: ${note}` : note)));
    if (report.bailout !== undefined) bailout = report.bailout === true ? relative : `${relative}: ${report.bailout}`;
  }
  if (leftovers.length > 0) {
    notes.push(`ignored ${leftovers.map((f) => toWorkspaceRelative(ctx.workspaceRoot, f)).join(', ')}: not written by this run`);
  }
  const tests: TestRunSummary = { reports, cases, totals, notes };
  const base = { evidence, command: logged.run, tests };
  const summary = describeTotals(totals);
  const tail = logTail(logged.process, 1500);

  const abnormal = abnormalEnd(logged, criterion.timeoutMs);
  if (abnormal) return { ...abnormal, ...base, feedback: [failuresText(cases), tail].filter(Boolean).join('\n') };
  if (written.length === 0) {
    return {
      outcome: 'failed',
      message: `no report matching ${criterion.reports.join(', ')} was written by this run`,
      ...base,
      feedback: `The test command ran (exit code ${logged.run.exitCode}) but wrote no ${criterion.format} report to ${criterion.reports.join(', ')}.\n${tail}`,
    };
  }
  if (parseErrors.length > 0) {
    return { outcome: 'failed', message: `unreadable report: ${parseErrors[0]}`, ...base, feedback: `${parseErrors.join('\n')}\n${tail}` };
  }
  if (bailout !== undefined) {
    return { outcome: 'failed', message: `the run bailed out (${bailout}); ${summary}`, ...base, feedback: [failuresText(cases), tail].filter(Boolean).join('\n') };
  }
  if (totals.failures > 0 || totals.errors > 0) {
    return { outcome: 'failed', message: summary, ...base, feedback: [summary, failuresText(cases), tail].filter(Boolean).join('\n') };
  }
  if (totals.tests === 0) {
    return { outcome: 'failed', message: 'the report has no tests: nothing was verified', ...base, feedback: `The report contains zero tests.\n${tail}` };
  }
  if (totals.passed === 0) {
    return { outcome: 'failed', message: `no test passed (${summary}): skipped tests are not evidence`, ...base, feedback: summary };
  }
  const code = logged.run.exitCode!;
  if (!expectExitCodes.includes(code)) {
    return {
      outcome: 'failed',
      message: `the report shows no failures but the command exited with code ${code} (expected ${expectExitCodes.join(' or ')})`,
      ...base,
      feedback: `exit code ${code} although the report shows ${summary}\n${tail}`,
    };
  }
  return { outcome: 'passed', message: summary, ...base };
}

export function describeTotals(totals: TestRunSummary['totals']): string {
  const parts = [`${totals.passed} of ${totals.tests} tests passed`];
  if (totals.failures) parts.push(`${totals.failures} failed`);
  if (totals.errors) parts.push(`${totals.errors} errored`);
  if (totals.skipped) parts.push(`${totals.skipped} skipped`);
  if (totals.todo) parts.push(`${totals.todo} todo`);
  return parts.join(', ');
}

/** The first failing tests, deepest subtest first, for a prompt. */
function failuresText(cases: TestCase[], max = 3): string {
  const failing: { path: string[]; testCase: TestCase }[] = [];
  const visit = (list: TestCase[], trail: string[]) => {
    for (const testCase of list) {
      if (failing.length >= max) return;
      const here = [...trail, ...testCase.suite, testCase.name];
      const childFailures = (testCase.children ?? []).some((c) => c.status === 'failed' || c.status === 'error');
      if (childFailures) visit(testCase.children ?? [], here);
      else if (testCase.status === 'failed' || testCase.status === 'error') failing.push({ path: here, testCase });
    }
  };
  visit(cases, []);
  return failing
    .map(({ path: names, testCase }) => {
      const problem = testCase.problems[0];
      const lines = [`FAILED: ${names.join(' > ')}`];
      if (testCase.location) lines.push(`  at ${testCase.location.file}${testCase.location.line ? `:${testCase.location.line}` : ''}`);
      if (problem?.message) lines.push(`  ${problem.message}`);
      if (problem?.expected !== undefined || problem?.actual !== undefined) lines.push(`  expected: ${problem?.expected ?? '?'}\n  actual:   ${problem?.actual ?? '?'}`);
      if (problem?.details) lines.push(indent(clip(problem.details, 800)));
      return lines.join('\n');
    })
    .join('\n');
}

// ---- file exists ---------------------------------------------------------------------

export async function checkFilesExist(criterion: FileExistsCriterion, ctx: VerifyContext): Promise<CheckResult> {
  const files: { path: string; exists: boolean }[] = [];
  const evidence: EvidenceRef[] = [];
  for (const pattern of criterion.paths) {
    const matches = await matchWorkspaceFiles(ctx.workspaceRoot, pattern, `path of criterion "${criterion.id}"`);
    if (matches.length === 0) files.push({ path: pattern, exists: false });
    for (const file of matches) {
      const relative = toWorkspaceRelative(ctx.workspaceRoot, file);
      files.push({ path: relative, exists: true });
      if (evidence.length < MAX_EVIDENCE_FILES && (await stat(file)).size <= MAX_EVIDENCE_FILE_BYTES) {
        evidence.push(await ctx.evidence.putFile(file, `${criterion.id}.${relative.replace(/\//g, '__')}`, mediaTypeFor(file)));
      }
    }
  }
  const missing = files.filter((f) => !f.exists).map((f) => f.path);
  if (missing.length > 0) {
    return { outcome: 'failed', message: `missing: ${missing.join(', ')}`, evidence, files, feedback: `These required outputs do not exist: ${missing.join(', ')}` };
  }
  return { outcome: 'passed', message: `${files.length} file${files.length === 1 ? '' : 's'} present`, evidence, files };
}

// ---- human approval ------------------------------------------------------------------

export async function checkApproval(criterion: HumanApprovalCriterion, ctx: VerifyContext, currentTree: string | undefined): Promise<CheckResult> {
  const who = criterion.approver ?? 'a reviewer';
  const approval = await ctx.approvals?.approvalFor({
    ...(ctx.stageId ? { stageId: ctx.stageId } : {}),
    criterionId: criterion.id,
    ...(criterion.approver ? { approver: criterion.approver } : {}),
  });
  const waiting = (message: string): CheckResult => ({ outcome: 'skipped', message, evidence: [], waitingForApproval: true });
  if (!approval) return waiting(`waiting for approval by ${who}`);
  if (criterion.approver && !approverMatches(criterion.approver, approval)) {
    return waiting(`waiting for approval by ${who} (${approval.by} is not ${criterion.approver})`);
  }
  if (approval.tree && currentTree && approval.tree !== currentTree) {
    return waiting(`waiting for approval by ${who} (the approval by ${approval.by} was given for another working tree)`);
  }
  if (approval.decision === 'rejected') {
    return {
      outcome: 'failed',
      message: `rejected by ${approval.by} at ${approval.at}${approval.note ? `: ${approval.note}` : ''}`,
      evidence: [],
      approval,
      feedback: `${approval.by} rejected the work${approval.note ? `: ${approval.note}` : ''}`,
    };
  }
  return { outcome: 'passed', message: `approved by ${approval.by} at ${approval.at}`, evidence: [], approval };
}

function approverMatches(approver: string, approval: { by: string; roles?: string[] }): boolean {
  const wanted = approver.trim().toLowerCase();
  return approval.by.trim().toLowerCase() === wanted || (approval.roles ?? []).some((role) => role.trim().toLowerCase() === wanted);
}

// ---- dispatch ------------------------------------------------------------------------

export async function check(criterion: Criterion, ctx: VerifyContext, currentTree: string | undefined): Promise<CheckResult> {
  try {
    switch (criterion.kind) {
      case 'command':
        return await checkCommand(criterion, ctx);
      case 'testReport':
        return await checkTestReport(criterion, ctx);
      case 'fileExists':
        return await checkFilesExist(criterion, ctx);
      case 'humanApproval':
        return await checkApproval(criterion, ctx, currentTree);
      case 'screenshot':
        return await checkScreenshots(criterion, ctx);
    }
  } catch (error) {
    if (error instanceof PathOutsideWorkspaceError) return { outcome: 'error', message: `refused: ${error.message}`, evidence: [] };
    return { outcome: 'error', message: `the check itself failed: ${(error as Error).message}`, evidence: [] };
  }
  return { outcome: 'error', message: `unknown criterion kind "${(criterion as { kind: string }).kind}"`, evidence: [] };
}

export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}
