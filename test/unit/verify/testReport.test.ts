// Test-report criteria end to end: a real `node --test` run writes JUnit or TAP into the
// workspace and the verdict follows the rules: only positive evidence passes.
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { runCriterion } from '../../../src/verify/runner';
import { context, criterion, git, makeWorkspace, NODE, removeDir, writeIn } from './helpers';

const PASSING = `
import test from 'node:test';
import assert from 'node:assert';
test('adds', () => assert.equal(1 + 1, 2));
test('later', { skip: 'not yet' }, () => {});
`;
const FAILING = `
import test from 'node:test';
import assert from 'node:assert';
test('adds', () => assert.equal(1 + 1, 2));
test('compares', () => assert.strictEqual(1 + 1, 3));
`;
const ALL_SKIPPED = `
import test from 'node:test';
test('one', { skip: true }, () => {});
test('two', { todo: true }, () => {});
`;

function nodeTest(format: 'junit' | 'tap', destination: string, files: string[]): string[] {
  return [NODE, '--test', `--test-reporter=${format}`, `--test-reporter-destination=${destination}`, ...files];
}

describe('verify/testReport criterion', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(async () => {
    dir = await makeWorkspace();
    // Reports are build output: ignored, so writing them does not change the verified tree.
    await writeIn(dir, '.gitignore', 'reports/\n');
    await mkdir(path.join(dir, 'reports'));
    await writeIn(dir, 'passing.test.mjs', PASSING);
    await writeIn(dir, 'failing.test.mjs', FAILING);
    await writeIn(dir, 'skipped.test.mjs', ALL_SKIPPED);
  });
  afterEach(() => removeDir(dir));

  it('passes a run whose JUnit report has passing tests; skipped ones are shown as skipped', async () => {
    const ctx = context(dir);
    const result = await runCriterion(
      criterion({ id: 'unit', kind: 'testReport', argv: nodeTest('junit', 'reports/junit.xml', ['passing.test.mjs']), reports: ['reports/*.xml'] }),
      ctx,
    );
    assert.equal(result.outcome, 'passed', result.message);
    assert.equal(result.message, '1 of 2 tests passed, 1 skipped');
    assert.deepEqual(result.tests?.totals, { tests: 2, passed: 1, failures: 0, errors: 0, skipped: 1, todo: 0 });
    assert.deepEqual(result.tests?.reports.map((r) => r.path), ['reports/junit.xml']);
    assert.ok(result.evidence.some((e) => e.name === 'unit.reports__junit.xml' && e.mediaType === 'application/xml'));
    assert.match(ctx.evidence.text('unit.reports__junit.xml'), /<testcase name="adds"/);
    assert.equal(result.treeChangedDuringRun, undefined);
    assert.match(result.verified.tree ?? '', /^[0-9a-f]{40}$/);
    assert.match(result.verified.commit ?? '', /^[0-9a-f]{40}$/);
  });

  it('fails on failing tests and feeds the first failure back with expected/actual', async () => {
    const result = await runCriterion(
      criterion({ id: 'unit', kind: 'testReport', argv: nodeTest('junit', 'reports/junit.xml', ['failing.test.mjs']), reports: ['reports/junit.xml'] }),
      context(dir),
    );
    assert.equal(result.outcome, 'failed');
    assert.equal(result.message, '1 of 2 tests passed, 1 failed');
    const feedback = result.failureFeedback ?? '';
    assert.match(feedback, /FAILED: compares/);
    assert.match(feedback, /Expected values to be strictly equal/);
    assert.match(feedback, /expected: 3\n {2}actual: {3}2/);
    assert.ok(feedback.length <= 4000);
  });

  it('reads TAP reports too', async () => {
    const result = await runCriterion(
      criterion({ id: 'tap', kind: 'testReport', format: 'tap', argv: nodeTest('tap', 'reports/out.tap', ['failing.test.mjs']), reports: ['reports/out.tap'] }),
      context(dir),
    );
    assert.equal(result.outcome, 'failed');
    assert.deepEqual(result.tests?.totals, { tests: 2, passed: 1, failures: 1, errors: 0, skipped: 0, todo: 0 });
    assert.equal(result.tests?.cases[1]?.location?.file, path.join(dir, 'failing.test.mjs'));
  });

  it('a run with zero tests fails even though the runner exits 0', async () => {
    await mkdir(path.join(dir, 'no-tests'));
    const result = await runCriterion(
      criterion({ id: 'unit', kind: 'testReport', argv: nodeTest('junit', 'reports/junit.xml', ['no-tests/']), reports: ['reports/junit.xml'] }),
      context(dir),
    );
    assert.equal(result.command?.exitCode, 0);
    assert.equal(result.outcome, 'failed');
    assert.match(result.message, /no tests/);
  });

  it('a run where every test is skipped or todo fails: skips are not evidence', async () => {
    const result = await runCriterion(
      criterion({ id: 'unit', kind: 'testReport', format: 'tap', argv: nodeTest('tap', 'reports/out.tap', ['skipped.test.mjs']), reports: ['reports/out.tap'] }),
      context(dir),
    );
    assert.equal(result.command?.exitCode, 0);
    assert.equal(result.outcome, 'failed');
    assert.match(result.message, /no test passed \(0 of 2 tests passed, 1 skipped, 1 todo\)/);
  });

  it('Bail out! fails the criterion even when the counted tests passed and the exit code is 0', async () => {
    await writeIn(dir, 'bail.cjs', "require('fs').writeFileSync('reports/out.tap', 'TAP version 13\\nok 1 - first\\nBail out! lost the database\\n1..3\\n');");
    const result = await runCriterion(criterion({ id: 'bail', kind: 'testReport', format: 'tap', argv: [NODE, 'bail.cjs'], reports: ['reports/out.tap'] }), context(dir));
    assert.equal(result.outcome, 'failed');
    assert.match(result.message, /bailed out \(reports\/out\.tap: lost the database\)/);
  });

  it('a missing report fails, naming the paths it looked for', async () => {
    const result = await runCriterion(criterion({ id: 'unit', kind: 'testReport', argv: [NODE, '-e', ''], reports: ['reports/*.xml'] }), context(dir));
    assert.equal(result.outcome, 'failed');
    assert.equal(result.message, 'no report matching reports/*.xml was written by this run');
  });

  it("makes a report's missing folder, which node --test does not, and keeps it out of the verified tree", async () => {
    const ctx = context(dir);
    const result = await runCriterion(
      criterion({ id: 'unit', kind: 'testReport', argv: nodeTest('junit', 'test-results/junit.xml', ['passing.test.mjs']), reports: ['test-results/junit.xml'] }),
      ctx,
    );
    assert.equal(result.outcome, 'passed', result.message);
    assert.equal(result.treeChangedDuringRun, undefined, 'the report does not change the tree it verified');
    assert.equal(await readFile(path.join(dir, 'test-results', '.gitignore'), 'utf8'), '*\n');
    assert.equal(await git(dir, ['status', '--porcelain', '--untracked-files=all', '--', 'test-results']), '');
    // A folder that exists is the project's: nothing is written into it.
    const again = await runCriterion(
      criterion({ id: 'unit', kind: 'testReport', argv: nodeTest('junit', 'reports/junit.xml', ['passing.test.mjs']), reports: ['reports/junit.xml'] }),
      ctx,
    );
    assert.equal(again.outcome, 'passed', again.message);
    await assert.rejects(readFile(path.join(dir, 'reports', '.gitignore')));
  });

  it('a report left over from an earlier run does not count', async () => {
    const first = await runCriterion(
      criterion({ id: 'unit', kind: 'testReport', argv: nodeTest('junit', 'reports/junit.xml', ['passing.test.mjs']), reports: ['reports/junit.xml'] }),
      context(dir),
    );
    assert.equal(first.outcome, 'passed');
    const second = await runCriterion(criterion({ id: 'unit', kind: 'testReport', argv: [NODE, '-e', 'process.exit(0)'], reports: ['reports/junit.xml'] }), context(dir));
    assert.equal(second.outcome, 'failed');
    assert.ok(second.tests?.notes.some((n) => n.includes('ignored reports/junit.xml: not written by this run')));
  });

  it('a timeout fails the criterion', async () => {
    const result = await runCriterion(
      criterion({ id: 'unit', kind: 'testReport', argv: [NODE, '-e', 'setInterval(() => {}, 1000)'], reports: ['reports/junit.xml'], timeoutMs: 800 }),
      context(dir),
    );
    assert.equal(result.outcome, 'failed');
    assert.match(result.message, /timed out after 800 ms/);
  });

  it('a runner that crashes after writing a clean report fails', async () => {
    await writeIn(
      dir,
      'crash.cjs',
      "require('fs').writeFileSync('reports/junit.xml', '<testsuite><testcase name=\"a\"/></testsuite>'); throw new Error('reporter crashed');",
    );
    const result = await runCriterion(criterion({ id: 'unit', kind: 'testReport', argv: [NODE, 'crash.cjs'], reports: ['reports/junit.xml'] }), context(dir));
    assert.equal(result.outcome, 'failed');
    assert.match(result.message, /the report shows no failures but the command exited with code 1/);
    assert.match(result.failureFeedback ?? '', /reporter crashed/);
  });

  it('an unreadable report fails with the parse error', async () => {
    await writeIn(dir, 'cut.cjs', "require('fs').writeFileSync('reports/junit.xml', '<testsuites><testsuite><testcase name=\"a\">');");
    const result = await runCriterion(criterion({ id: 'unit', kind: 'testReport', argv: [NODE, 'cut.cjs'], reports: ['reports/junit.xml'] }), context(dir));
    assert.equal(result.outcome, 'failed');
    assert.match(result.message, /unreadable report: reports\/junit\.xml: not well-formed XML/);
  });

  it('a report glob that climbs out of the workspace is refused', async () => {
    const result = await runCriterion(criterion({ id: 'unit', kind: 'testReport', argv: [NODE, '-e', ''], reports: ['../**/*.xml'] }), context(dir));
    assert.equal(result.outcome, 'error');
    assert.match(result.message, /resolves outside the workspace/);
  });
});
