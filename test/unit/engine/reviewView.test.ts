// The review's first paint comes before its evidence check: the panel's messages
// (engine/reviewView.ts reviewMessages) are the overview with the step to show as the
// record has it — nothing read or hashed yet, its evidence "unchecked" — and only then
// the same step with every piece re-hashed, an altered one flagged. A large change's
// first step is then drawn without reading its evidence (bench/review*.{ts,mjs}).
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReviewEvidence } from '../../../src/core/review';
import { createFactory, type Factory } from '../../../src/engine/factory';
import type { ReviewSession } from '../../../src/engine/review';
import { attemptStepId, reviewMessages } from '../../../src/engine/reviewView';
import { makeReviewHistory, type ReviewHistory } from '../../support/reviewHistory';

type Message = Awaited<ReturnType<ReturnType<typeof reviewMessages>['next']>>['value'];

/** The screenshot's integrity as the message says it, read when the message arrives (the model changes later). */
function screenshotIntegrity(message: Message, sha: string): ReviewEvidence['integrity'] | undefined {
  const copy = JSON.parse(JSON.stringify(message)) as { step?: { verifications: { evidence: ReviewEvidence[] }[] } };
  return copy.step?.verifications.flatMap((v) => v.evidence).find((e) => e.ref.sha256 === sha)?.integrity;
}

/** Counts what the session reads or hashes of its evidence store. */
function counting(session: ReviewSession): { reads: number; checks: string[][] } {
  const seen = { reads: 0, checks: [] as string[][] };
  const { read, check } = session.record;
  session.record.read = (ref) => (seen.reads++, read(ref));
  session.record.check = (refs) => (seen.checks.push(refs.map((r) => r.sha256)), check(refs));
  return seen;
}

describe('review: the first step comes before its evidence check', function () {
  this.timeout(60_000);
  let history: ReviewHistory;
  let factory: Factory;
  const options = { trusted: true, readOnly: false };

  before(async () => {
    const dir = join(realpathSync(mkdtempSync(join(tmpdir(), 'fc-review-view-'))), 'repo');
    history = await makeReviewHistory(dir);
    factory = createFactory({ root: dir, settings: { get: () => undefined }, secrets: { get: async () => undefined }, trust: { isTrusted: () => true } });
  });

  it('sends the overview with the step unchecked, reading nothing, then the step with altered evidence flagged', async () => {
    const shot = join(history.dir, '.factory', 'evidence', history.screenshotSha.slice(0, 2), history.screenshotSha.slice(2));
    const original = readFileSync(shot);
    try {
      writeFileSync(shot, Buffer.concat([original, Buffer.from('tampered')]));
      const session = await factory.review.open(history.changeId);
      const seen = counting(session);
      const stepId = attemptStepId(history.attempts.test2);
      const messages = reviewMessages(factory.review, session, { ...options, stepId }, []);

      const first = await messages.next();
      assert.equal(first.value?.type, 'overview');
      assert.equal(first.value.type === 'overview' && first.value.stepId, stepId, 'the step the command named');
      assert.equal(first.value.type === 'overview' && first.value.overview.steps.length, session.model.steps.length, 'every step listed');
      assert.equal(screenshotIntegrity(first.value, history.screenshotSha), 'unchecked', 'shown as not checked yet');
      assert.equal(seen.reads + seen.checks.length, 0, 'nothing read or hashed before the first step goes out');

      const second = await messages.next();
      assert.equal(second.value?.type, 'step');
      assert.equal(second.value.type === 'step' && second.value.step.id, stepId);
      assert.equal(screenshotIntegrity(second.value, history.screenshotSha), 'altered', 'the check flags the altered screenshot');
      assert.equal(seen.checks.length, 1, 'one check');
      assert.ok(seen.checks[0]!.includes(history.screenshotSha));
      const otherSteps = session.model.steps.filter((s) => s.id !== stepId);
      const otherEvidence = otherSteps.flatMap((s) => [...(s.kind === 'attempt' ? [s.transcript?.ref.sha256] : []), ...s.verifications.flatMap((v) => v.evidence.map((e) => e.ref.sha256))]);
      const shownEvidence = session.model.steps.find((s) => s.id === stepId)!;
      const own = new Set([...(shownEvidence.kind === 'attempt' ? [shownEvidence.transcript?.ref.sha256, shownEvidence.diff?.ref.sha256] : []), ...shownEvidence.verifications.flatMap((v) => v.evidence.map((e) => e.ref.sha256))]);
      assert.ok(otherEvidence.some((sha) => sha && !own.has(sha)), 'the history has evidence of other steps');
      assert.ok(seen.checks[0]!.every((sha) => own.has(sha)), 'only the shown step’s evidence is checked');

      assert.equal((await messages.next()).done, true, 'the timeline is not pushed: the panel asks for it');
    } finally {
      writeFileSync(shot, original);
    }
  });

  it('opens on the first step when none is named', async () => {
    const session = await factory.review.open(history.changeId);
    const first = (await reviewMessages(factory.review, session, options, []).next()).value;
    assert.equal(first?.type === 'overview' && first.stepId, session.model.steps[0]!.id);
  });

  it('marks intact evidence verified once checked', async () => {
    const session = await factory.review.open(history.changeId);
    const messages = reviewMessages(factory.review, session, { ...options, stepId: attemptStepId(history.attempts.test2) }, []);
    await messages.next();
    const second = (await messages.next()).value;
    assert.equal(second?.type, 'step');
    const step = second?.type === 'step' ? second.step : undefined;
    const runs: { evidence: ReviewEvidence[] }[] = step?.verifications ?? [];
    const evidence: ReviewEvidence[] = [...(step?.kind === 'attempt' && step.transcript ? [step.transcript] : []), ...runs.flatMap((v) => v.evidence)];
    assert.ok(evidence.some((e) => e.ref.sha256 === history.screenshotSha), 'the screenshot is among them');
    assert.ok(evidence.every((e) => e.integrity === 'verified'), `every piece verified: ${evidence.map((e) => e.integrity).join(', ')}`);
  });
});
