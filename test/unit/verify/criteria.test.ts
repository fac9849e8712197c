// File-exists and human-approval criteria, the stage-level run (required vs advisory,
// cancellation, feedback) and freshness against a real git working tree.
import assert from 'node:assert/strict';
import { mkdtemp, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freshnessOf, isFresh } from '../../../src/core/freshness';
import type { Approval, ApprovalRequest } from '../../../src/verify/ports';
import { runCriteria, runCriterion, verificationRecordedData } from '../../../src/verify/runner';
import { EventPayloads } from '../../../src/core/events';
import { context, criterion, gitTreeHasher, makeWorkspace, NODE, removeDir, writeIn } from './helpers';

describe('verify/fileExists criterion', function () {
  this.timeout(20_000);
  let dir: string;
  let outside: string;
  beforeEach(async () => {
    dir = await makeWorkspace();
    outside = await mkdtemp(path.join(os.tmpdir(), 'verify-outside-'));
  });
  afterEach(async () => {
    await removeDir(dir);
    await removeDir(outside);
  });

  it('passes when every path or glob matches a file, storing the files as evidence', async () => {
    await writeIn(dir, 'PLAN.md', '# plan\n');
    await writeIn(dir, 'dist/a.js', 'a');
    await writeIn(dir, 'dist/b.js', 'b');
    const ctx = context(dir);
    const result = await runCriterion(criterion({ id: 'outputs', kind: 'fileExists', paths: ['PLAN.md', 'dist/*.js'] }), ctx);
    assert.equal(result.outcome, 'passed', result.message);
    assert.deepEqual(result.files, [
      { path: 'PLAN.md', exists: true },
      { path: 'dist/a.js', exists: true },
      { path: 'dist/b.js', exists: true },
    ]);
    assert.equal(ctx.evidence.text('outputs.PLAN.md'), '# plan\n');
  });

  it('fails naming what is missing', async () => {
    await writeIn(dir, 'PLAN.md', '# plan\n');
    const result = await runCriterion(criterion({ id: 'outputs', kind: 'fileExists', paths: ['PLAN.md', 'CHANGELOG.md', 'dist/*.js'] }), context(dir));
    assert.equal(result.outcome, 'failed');
    assert.equal(result.message, 'missing: CHANGELOG.md, dist/*.js');
    assert.match(result.failureFeedback ?? '', /These required outputs do not exist: CHANGELOG\.md, dist\/\*\.js/);
  });

  it('refuses a path that escapes the workspace, even when the file exists', async () => {
    await writeFile(path.join(outside, 'secret.txt'), 'secret');
    const relative = path.relative(dir, path.join(outside, 'secret.txt'));
    for (const given of [relative, path.join(outside, 'secret.txt')]) {
      const ctx = context(dir);
      const result = await runCriterion(criterion({ id: 'sneaky', kind: 'fileExists', paths: [given] }), ctx);
      assert.equal(result.outcome, 'error', given);
      assert.match(result.message, /resolves outside the workspace/);
      assert.equal(ctx.evidence.items.length, 0);
    }
  });

  it('refuses a symlink inside the workspace that points outside it', async () => {
    await writeFile(path.join(outside, 'secret.txt'), 'secret');
    await symlink(path.join(outside, 'secret.txt'), path.join(dir, 'link.txt'));
    await symlink(outside, path.join(dir, 'linkdir'));
    for (const given of ['link.txt', 'linkdir/secret.txt']) {
      const result = await runCriterion(criterion({ id: 'sneaky', kind: 'fileExists', paths: [given] }), context(dir));
      assert.equal(result.outcome, 'error', given);
      assert.match(result.message, /resolves outside the workspace/);
    }
  });
});

class Approvals {
  requests: ApprovalRequest[] = [];
  constructor(private readonly approval: Approval | undefined) {}
  async approvalFor(request: ApprovalRequest) {
    this.requests.push(request);
    return this.approval;
  }
}

describe('verify/humanApproval criterion', function () {
  this.timeout(20_000);
  let dir: string;
  before(async () => {
    dir = await makeWorkspace();
  });
  after(() => removeDir(dir));
  const reviewCriterion = () => criterion({ id: 'approved', kind: 'humanApproval', approver: 'reviewer' });

  it('reports waiting for approval when none is given', async () => {
    const approvals = new Approvals(undefined);
    const result = await runCriterion(reviewCriterion(), context(dir, { approvals }));
    assert.equal(result.outcome, 'skipped');
    assert.equal(result.waitingForApproval, true);
    assert.equal(result.message, 'waiting for approval by reviewer');
    assert.deepEqual(approvals.requests, [{ stageId: 'test', criterionId: 'approved', approver: 'reviewer' }]);
    // Without an approvals port at all it waits too.
    assert.equal((await runCriterion(reviewCriterion(), context(dir))).waitingForApproval, true);
  });

  it('passes with who and when when the named role approves', async () => {
    const approval: Approval = { by: 'ana', roles: ['reviewer'], at: '2025-01-02T03:04:05.000Z', decision: 'approved' };
    const result = await runCriterion(reviewCriterion(), context(dir, { approvals: new Approvals(approval) }));
    assert.equal(result.outcome, 'passed');
    assert.equal(result.message, 'approved by ana at 2025-01-02T03:04:05.000Z');
    assert.deepEqual(result.approval, approval);
  });

  it('keeps waiting when someone else approves, or approved another tree', async () => {
    const wrongPerson = await runCriterion(reviewCriterion(), context(dir, { approvals: new Approvals({ by: 'bob', at: '2025-01-01T00:00:00Z', decision: 'approved' }) }));
    assert.equal(wrongPerson.outcome, 'skipped');
    assert.match(wrongPerson.message, /bob is not reviewer/);
    const otherTree = await runCriterion(
      reviewCriterion(),
      context(dir, { approvals: new Approvals({ by: 'reviewer', at: '2025-01-01T00:00:00Z', decision: 'approved', tree: '0'.repeat(40) }) }),
    );
    assert.equal(otherTree.outcome, 'skipped');
    assert.match(otherTree.message, /another working tree/);
  });

  it('a rejection fails with the note fed back', async () => {
    const result = await runCriterion(
      reviewCriterion(),
      context(dir, { approvals: new Approvals({ by: 'reviewer', at: '2025-01-01T00:00:00Z', decision: 'rejected', note: 'the button overlaps the title' }) }),
    );
    assert.equal(result.outcome, 'failed');
    assert.match(result.failureFeedback ?? '', /the button overlaps the title/);
  });
});

describe('verify/runCriteria for a stage', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(async () => {
    dir = await makeWorkspace();
  });
  afterEach(() => removeDir(dir));

  it('an advisory failure is reported but does not block; a required one does, with its feedback', async () => {
    const ok = criterion({ id: 'ok', kind: 'command', argv: [NODE, '-e', ''] });
    const advisory = criterion({ id: 'style', kind: 'command', required: false, argv: [NODE, '-e', 'process.exit(2)'] });
    const passing = await runCriteria([ok, advisory], context(dir));
    assert.equal(passing.passed, true);
    assert.deepEqual(
      passing.results.map((r) => [r.criterionId, r.required, r.outcome]),
      [
        ['ok', true, 'passed'],
        ['style', false, 'failed'],
      ],
    );
    assert.equal(passing.failureFeedback, undefined);

    const broken = criterion({ id: 'tests', kind: 'command', argv: [NODE, '-e', "console.error('2 tests failed'); process.exit(1)"] });
    const failing = await runCriteria([ok, broken, advisory], context(dir));
    assert.equal(failing.passed, false);
    assert.equal(failing.waitingForApproval, false);
    assert.match(failing.failureFeedback ?? '', /Verification "tests" \(command\) failed/);
    assert.match(failing.failureFeedback ?? '', /2 tests failed/);
    assert.doesNotMatch(failing.failureFeedback ?? '', /style/);
  });

  it('says the stage is waiting when only an approval is missing', async () => {
    const verification = await runCriteria(
      [criterion({ id: 'ok', kind: 'command', argv: [NODE, '-e', ''] }), criterion({ id: 'qa', kind: 'humanApproval', approver: 'qa' })],
      context(dir),
    );
    assert.equal(verification.passed, false);
    assert.equal(verification.waitingForApproval, true);
    assert.equal(verification.failureFeedback, undefined);
  });

  it('cancellation stops the running criterion and skips the rest', async () => {
    const controller = new AbortController();
    const pending = runCriteria(
      [criterion({ id: 'slow', kind: 'command', argv: [NODE, '-e', 'setInterval(() => {}, 1000)'] }), criterion({ id: 'after', kind: 'fileExists', paths: ['README.md'] })],
      context(dir, { signal: controller.signal, progress: { criterionStarted: () => setTimeout(() => controller.abort(), 300) } }),
    );
    const verification = await pending;
    assert.equal(verification.cancelled, true);
    assert.equal(verification.passed, false);
    assert.deepEqual(
      verification.results.map((r) => [r.criterionId, r.outcome, r.message]),
      [
        ['slow', 'error', 'cancelled'],
        ['after', 'skipped', 'not run: verification was cancelled'],
      ],
    );
  });

  it('stopOnFailure skips what follows a failed required criterion', async () => {
    const verification = await runCriteria(
      [criterion({ id: 'first', kind: 'fileExists', paths: ['nope.txt'] }), criterion({ id: 'second', kind: 'fileExists', paths: ['README.md'] })],
      context(dir),
      { stopOnFailure: true },
    );
    assert.deepEqual(
      verification.results.map((r) => r.outcome),
      ['failed', 'skipped'],
    );
  });

  it('bounds the combined feedback', async () => {
    const noisy = (id: string) => criterion({ id, kind: 'command', argv: [NODE, '-e', "console.error('x'.repeat(100000)); process.exit(1)"] });
    const verification = await runCriteria([noisy('a'), noisy('b'), noisy('c')], context(dir, { limits: { feedbackChars: 1000 } }));
    assert.ok((verification.failureFeedback ?? '').length <= 1000);
    for (const result of verification.results) assert.ok((result.failureFeedback ?? '').length <= 1000);
  });

  it('gives the engine a valid verification.recorded payload', async () => {
    const [result] = (await runCriteria([criterion({ id: 'ok', kind: 'command', argv: [NODE, '-e', ''] })], context(dir))).results;
    const parsed = EventPayloads['verification.recorded'].parse(verificationRecordedData('implement', result!));
    assert.equal(parsed.outcome, 'passed');
    assert.equal(parsed.evidence.length, 2);
    assert.equal(parsed.verified?.tree, result!.verified.tree);
  });
});

describe('freshness of a result against the working tree', function () {
  this.timeout(20_000);
  let dir: string;
  before(async () => {
    dir = await makeWorkspace();
  });
  after(() => removeDir(dir));

  it('is a pure comparison that never calls a result fresh without both hashes', () => {
    assert.equal(freshnessOf('abc', 'abc').state, 'fresh');
    assert.equal(freshnessOf('abc', 'def').state, 'stale');
    assert.match(freshnessOf('abc', 'def').reason, /changed since it was verified/);
    assert.equal(freshnessOf(undefined, 'abc').state, 'stale');
    assert.equal(freshnessOf('abc', undefined).state, 'stale');
  });

  it('goes stale on an edit, fresh again when the edit is undone, and ignores .factory/', async () => {
    const hasher = gitTreeHasher(dir);
    const result = await runCriterion(criterion({ id: 'ok', kind: 'fileExists', paths: ['README.md'] }), context(dir));
    const verified = result.verified.tree;
    assert.ok(verified);
    assert.equal(isFresh(verified, await hasher.workingTreeHash()), true);

    await writeIn(dir, 'src/new.ts', 'export {};\n');
    assert.equal(freshnessOf(verified, await hasher.workingTreeHash()).state, 'stale');

    await unlink(path.join(dir, 'src/new.ts'));
    assert.equal(isFresh(verified, await hasher.workingTreeHash()), true);

    await writeIn(dir, '.factory/changes/x/events/01.json', '{}');
    assert.equal(isFresh(verified, await hasher.workingTreeHash()), true, 'writing the record does not stale a result');
  });

  it('a check that edits the tree is stale from the start', async () => {
    const result = await runCriterion(criterion({ id: 'writes', kind: 'command', argv: [NODE, '-e', "require('fs').writeFileSync('generated.txt', 'x')"] }), context(dir));
    assert.equal(result.outcome, 'passed');
    assert.equal(result.treeChangedDuringRun, true);
    assert.equal(isFresh(result.verified.tree, await gitTreeHasher(dir).workingTreeHash()), false);
  });
});
