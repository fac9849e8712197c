// The review panel's progressive protocol on a real review model (test/support/
// reviewHistory.ts): the overview goes out with the first step and the timeline's row
// count only, the same step again once its evidence is re-hashed, and the timeline as
// the reply to the webview's own request; each checked by the schemas both sides use.
import * as assert from 'node:assert/strict';
import { mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFactory } from '../../../src/engine/factory';
import { overviewOf, parseReviewHostMessage, parseReviewWebviewMessage } from '../../../src/engine/reviewView';
import { makeReviewHistory } from '../../support/reviewHistory';

describe('review: the panel protocol, first step first', function () {
  this.timeout(60_000);

  it('sends the steps without the timeline, the step again after its re-hash, and the timeline on request', async () => {
    const dir = join(realpathSync(mkdtempSync(join(tmpdir(), 'fc-review-protocol-'))), 'repo');
    const history = await makeReviewHistory(dir, { otherBranch: false });
    const factory = createFactory({ root: dir, settings: { get: () => undefined }, secrets: { get: async () => undefined }, trust: { isTrusted: () => true } });
    const session = await factory.review.open(history.changeId);
    const step = session.model.steps.find((s) => s.id === `attempt:${history.attempts.test2}`)!;
    const overview = overviewOf(session.model, { trusted: true, readOnly: false }, []);
    const first = parseReviewHostMessage(JSON.parse(JSON.stringify({ type: 'overview', overview, stepId: step.id, step })));
    assert.ok(first.ok, first.ok ? '' : first.error);
    assert.equal(first.message.type === 'overview' && first.message.overview.timelineRows, session.model.timeline.length);
    assert.equal('timeline' in overview, false, 'the rows come later');
    assert.ok(step.kind === 'attempt' && step.verifications.flatMap((v) => v.evidence).every((e) => e.integrity === 'unchecked'), 'sent before the re-hash');

    await factory.review.checkIntegrity(session, [step.id]);
    const again = parseReviewHostMessage(JSON.parse(JSON.stringify({ type: 'step', step })));
    assert.ok(again.ok && again.message.type === 'step' && again.message.step.kind === 'attempt');
    assert.ok(again.message.step.verifications.flatMap((v) => v.evidence).some((e) => e.ref.sha256 === history.screenshotSha && e.integrity === 'verified'));
    assert.equal(parseReviewHostMessage({ type: 'step' }).ok, false, 'a step message carries a step');

    assert.ok(parseReviewWebviewMessage({ type: 'request', id: 3, request: { kind: 'timeline' } }).ok);
    assert.equal(parseReviewWebviewMessage({ type: 'request', id: 3, request: { kind: 'timeline', stepId: 'x' } }).ok, false);
    const rows = parseReviewHostMessage(JSON.parse(JSON.stringify({ type: 'reply', id: 3, result: { kind: 'timeline', rows: session.model.timeline } })));
    assert.ok(rows.ok && rows.message.type === 'reply' && rows.message.result?.kind === 'timeline');
    assert.equal(rows.message.result.rows.length, session.model.timeline.length);
  });
});
