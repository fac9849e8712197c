// The reviewer's walk, without VS Code: the review model of a generated history
// (test/support/reviewHistory.ts) built through the factory's one entry point — the
// timeline, the steps and what each shows, the signal's verdict per stage, evidence
// re-hashed, a branch's change read through git objects with who committed it, hunk
// decisions (a reverse three-way revert after later edits; a conflict refused with
// its lines), comments, and an approval bound to its tree going stale.
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFactory, type Factory } from '../../../src/engine/factory';
import { HunkConflictError } from '../../../src/engine/review';
import { makeReviewHistory, type ReviewHistory } from '../../support/reviewHistory';
import type { AttemptStep, StageStep } from '../../../src/core/review';
import { foldChange } from '../../../src/core/fold';

function factoryFor(dir: string, trusted = true): Factory {
  return createFactory({ root: dir, settings: { get: () => undefined }, secrets: { get: async () => undefined }, trust: { isTrusted: () => trusted } });
}

describe('review: the model of a change', function () {
  this.timeout(60_000);
  let history: ReviewHistory;
  let factory: Factory;

  before(async () => {
    const dir = join(realpathSync(mkdtempSync(join(tmpdir(), 'fc-review-'))), 'repo');
    history = await makeReviewHistory(dir);
    factory = factoryFor(dir);
  });

  it('lists every step, stage by stage, each attempt after its stage, with a heading', async () => {
    const { model } = await factory.review.open(history.changeId);
    assert.deepEqual(
      model.steps.map((s) => s.heading),
      [
        'Stage 1 of 5: Plan',
        'Plan — attempt 1',
        'Stage 2 of 5: Implement',
        'Implement — attempt 1',
        'Implement — attempt 2 (retry)',
        'Stage 3 of 5: Test',
        'Test — attempt 1, rolled back',
        'Test — attempt 2 (retry)',
        'Stage 4 of 5: Review',
        'Stage 5 of 5: QA / evidence',
      ],
    );
  });

  it('orders the timeline and says who or what acted, with durations, costs and trees', async () => {
    const { model } = await factory.review.open(history.changeId);
    const ids = model.timeline.map((t) => t.id);
    assert.deepEqual(ids, [...ids].sort());
    const kinds = new Set(model.timeline.map((t) => t.kind));
    for (const kind of ['change', 'attempt', 'verification', 'handoff', 'decision', 'rollback']) assert.ok(kinds.has(kind as never), `a ${kind} entry`);
    const failed = model.timeline.find((t) => t.kind === 'attempt' && t.outcome === 'failed')!;
    assert.equal(failed.actor, 'codex (gpt-5-codex)');
    assert.equal(failed.durationMs, 6 * 60_000);
    assert.equal(failed.costUsd, 0.11);
    assert.match(failed.tree ?? '', /^[0-9a-f]{40}$/);
    const approval = model.timeline.find((t) => t.text.startsWith('Approved Plan'))!;
    assert.equal(approval.actor, 'Rita Reviewer');
    assert.match(model.timeline.find((t) => t.kind === 'verification' && t.outcome === 'failed')!.text, /unit-tests failed \(2 passed, 1 failed\)/);
  });

  it('shows per attempt the pack consumed beside the one handed forward, with the signal in a sentence', async () => {
    const { model } = await factory.review.open(history.changeId);
    const attempt = (id: string) => model.steps.find((s) => s.id === `attempt:${id}`) as AttemptStep;
    assert.equal(attempt(history.attempts.implement2).context.sentence, 'consumed v2 as handed forward');
    assert.equal(attempt(history.attempts.implement2).context.handedForward?.number, 2);
    assert.equal(attempt(history.attempts.test2).context.sentence, "started without the handoff's pack (v3): context re-created");
    assert.equal(attempt(history.attempts.test2).context.recreated, true);
    assert.deepEqual(attempt(history.attempts.implement1).packChange, { from: 1, to: 2, added: ['plan output'], removed: [], changed: [] });
    const test = model.steps.find((s) => s.id === 'stage:test') as StageStep;
    assert.equal(test.context?.recreated, true);
    assert.equal(test.handedIn?.number, 3);
  });

  it('shows per attempt the prompt, files read, the diff files and the verification with totals and evidence', async () => {
    const session = await factory.review.open(history.changeId);
    const step = session.model.steps.find((s) => s.id === `attempt:${history.attempts.implement1}`) as AttemptStep;
    assert.equal(step.prompt, 'Implement PLAN.md.');
    assert.deepEqual(step.changedFiles, [{ status: 'modified', path: 'src/auth.js' }]);
    const [run] = step.verifications;
    assert.equal(run?.outcome, 'failed');
    assert.deepEqual(run?.totals, { passed: 2, failed: 1, skipped: 0, errors: 0, total: 3 });
    assert.equal(run?.command, 'npm test');
    assert.equal(run?.exitCode, 1);
    assert.equal(run?.current, false, 'the failed run was fixed by a later one');
    await factory.review.reportFailures(session, [step.id]);
    assert.deepEqual(run?.failures, ['auth › rejects a wrong password: expected false, got true'], 'the failed cases of the JUnit report');
    const integrity = await factory.review.checkIntegrity(session, [step.id]);
    assert.equal(integrity.get(history.junitSha), 'verified');
    assert.equal(run?.evidence[0]?.integrity, 'verified');
  });

  it('replays a transcript with the live view model, and flags altered and missing evidence on every read', async () => {
    const session = await factory.review.open(history.changeId);
    const transcript = await factory.review.transcript(session, history.attempts.plan);
    assert.equal(transcript.integrity, 'verified');
    assert.ok(transcript.entries.some((e) => e.kind === 'tool'), 'tool calls as entries');
    const shot = join(history.dir, '.factory', 'evidence', history.screenshotSha.slice(0, 2), history.screenshotSha.slice(2));
    const original = readFileSync(shot);
    try {
      writeFileSync(shot, Buffer.concat([original, Buffer.from('x')]));
      const fresh = await factory.review.open(history.changeId);
      const status = await factory.review.checkIntegrity(fresh);
      assert.equal(status.get(history.screenshotSha), 'altered');
      await assert.rejects(factory.review.evidenceBytes(fresh, history.screenshotSha), /altered/);
    } finally {
      writeFileSync(shot, original);
    }
  });

  it('lists the change only another branch holds and reads it through git, naming who committed each event', async () => {
    const listed = await factory.review.listChanges();
    const other = listed.find((c) => c.id === history.otherBranch.changeId);
    assert.equal(other?.ref, history.otherBranch.ref);
    const session = await factory.review.open(history.otherBranch.changeId, { ref: history.otherBranch.ref });
    const created = session.model.timeline.find((t) => t.kind === 'change')!;
    assert.equal(created.actor, history.otherBranch.actor);
    assert.equal(created.committedBy?.name, history.otherBranch.committer);
    const transcript = await factory.review.transcript(session, (session.model.steps[1] as AttemptStep).attemptId);
    assert.equal(transcript.integrity, 'verified');
  });

  it('lists only this folder’s changes and reads no git when the workspace is not trusted', async () => {
    const untrusted = factoryFor(history.dir, false);
    const listed = await untrusted.review.listChanges();
    assert.ok(!listed.some((c) => c.ref));
    await assert.rejects(untrusted.review.open(history.otherBranch.changeId, { ref: history.otherBranch.ref }), /not trusted/);
    const session = await untrusted.review.open(history.changeId);
    assert.ok(session.model.steps.length > 0);
    await assert.rejects(untrusted.review.decideHunk(session, { changeId: history.changeId, attemptId: history.attempts.implement2, path: 'src/auth.js', hunk: 'x', decision: 'rejected' }), /not trusted/);
  });
});

describe('review: decisions', function () {
  this.timeout(60_000);
  let history: ReviewHistory;
  let factory: Factory;

  beforeEach(async () => {
    const dir = join(realpathSync(mkdtempSync(join(tmpdir(), 'fc-review-'))), 'repo');
    history = await makeReviewHistory(dir, { otherBranch: false });
    factory = factoryFor(dir);
  });

  it('rejects a hunk after a later edit elsewhere in the file (reverse three-way) and records it by identity', async () => {
    const file = join(history.dir, 'src', 'auth.js');
    // A later edit far from the hunk.
    writeFileSync(file, readFileSync(file, 'utf8').replace('return `Hello, ${user}`;', 'return `Hi, ${user}`;'));
    const session = await factory.review.open(history.changeId);
    const [diff] = await factory.review.diffFiles(session, history.attempts.implement2);
    const second = diff!.hunks[1]!;
    assert.match(second.lines.join('\n'), /session.token/);
    await factory.review.decideHunk(session, { changeId: history.changeId, attemptId: history.attempts.implement2, path: 'src/auth.js', hunk: second.id, decision: 'rejected' });
    const now = readFileSync(file, 'utf8');
    assert.ok(!now.includes('session.token'), 'the hunk is reverted');
    assert.ok(now.includes('Hi, ${user}'), 'the later edit is kept');
    assert.ok(now.includes('user.length > 0'), 'the other hunk is kept');
    const after = await factory.review.open(history.changeId);
    assert.deepEqual(after.model.hunks.map((h) => [h.path, h.hunk, h.decision]), [['src/auth.js', second.id, 'rejected']]);
  });

  it('refuses to reject a hunk whose lines were edited since, naming the lines, and changes nothing', async () => {
    const file = join(history.dir, 'src', 'auth.js');
    const edited = readFileSync(file, 'utf8').replace('session.token = undefined;', 'session.token = null;');
    writeFileSync(file, edited);
    const session = await factory.review.open(history.changeId);
    const [diff] = await factory.review.diffFiles(session, history.attempts.implement2);
    await assert.rejects(
      factory.review.decideHunk(session, { changeId: history.changeId, attemptId: history.attempts.implement2, path: 'src/auth.js', hunk: diff!.hunks[1]!.id, decision: 'rejected' }),
      (error: unknown) => error instanceof HunkConflictError && /lines? \d+/.test(error.message),
    );
    assert.equal(readFileSync(file, 'utf8'), edited);
    assert.equal((await factory.review.open(history.changeId)).model.hunks.length, 0);
  });

  it('binds an approval to the tree it was given on: an edit afterwards shows the stage stale', async () => {
    await factory.approve({ changeId: history.changeId, stageId: 'test' });
    const tree = await factory.git.workingTreeHash();
    const events = await factory.events(history.changeId);
    const { pipeline } = await factory.store.loadPipeline();
    const decided = events.filter((e) => e.type === 'review.decided').at(-1)!;
    assert.equal((decided.data as { at?: { tree?: string } }).at?.tree, tree);
    assert.equal(foldChange(history.changeId, pipeline!, events, { currentTree: tree }).stages.find((s) => s.id === 'test')!.status, 'passed');
    writeFileSync(join(history.dir, 'src', 'auth.js'), '// edited after the approval\n');
    const later = await factory.git.workingTreeHash();
    const stage = foldChange(history.changeId, pipeline!, events, { currentTree: later }).stages.find((s) => s.id === 'test')!;
    assert.equal(stage.status, 'stale');
    assert.equal(stage.approvalStale, true);
    const session = await factory.review.open(history.changeId);
    assert.equal((session.model.steps.find((s) => s.id === 'stage:test') as StageStep).approvalStale, true);
  });

  it('records comments on a step and on a diff line, shown again on the next read', async () => {
    await factory.review.comment({ changeId: history.changeId, body: 'Why codex here?', stageId: 'implement', attemptId: history.attempts.implement1 });
    await factory.review.comment({ changeId: history.changeId, body: 'Nice.', stageId: 'implement', attemptId: history.attempts.implement2, path: 'src/auth.js', line: 2, side: 'end' });
    const { model } = await factory.review.open(history.changeId);
    assert.deepEqual(model.comments.map((c) => [c.body, c.path ?? null, c.line ?? null]), [['Why codex here?', null, null], ['Nice.', 'src/auth.js', 2]]);
    const step = model.steps.find((s) => s.id === `attempt:${history.attempts.implement2}`) as AttemptStep;
    assert.equal(step.comments.length, 1);
  });

  it('approves the whole change: every stage waiting for approval, through the engine rules', async () => {
    assert.deepEqual(await factory.review.approveChange(history.changeId), ['test']);
    await assert.rejects(factory.review.approveChange(history.changeId), /No stage/);
  });

  it('sends back to an earlier stage with a note', async () => {
    await factory.sendBack({ changeId: history.changeId, stageId: 'test', toStage: 'implement', note: 'Token handling is wrong.' });
    const { model } = await factory.review.open(history.changeId);
    const implement = model.steps.find((s) => s.id === 'stage:implement') as StageStep;
    assert.equal(implement.status, 'sentBack');
    assert.ok(model.timeline.some((t) => t.kind === 'sentBack' && t.text === 'Sent back from Test to Implement: Token handling is wrong. (2 later attempts superseded)'));
    assert.ok((model.steps.find((s) => s.id === `attempt:${history.attempts.test2}`) as AttemptStep).superseded);
  });
});
