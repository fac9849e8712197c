// A reviewer's hunk decisions and comments reach the next run: through the factory's
// one entry point on a real git repository with the scripted Claude Code agent, a
// rejected hunk and comments followed by a send-back are in the reopened stage's
// rendered prompt (its context pack's "Review feedback" section), the pack version the
// send-back names is the one that run consumed (the signal holds), an approval with
// nothing new hands nothing stale on, and an approval with a note and a comment
// hands them to the stage after it.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createFactory, type Factory } from '../../../src/engine/factory';
import { isEvent } from '../../../src/core/events';
import { changeSignal } from '../../../src/core/signal';
import { foldContextPack } from '../../../src/core/contextPack';
import { pendingReviewFeedback, renderReviewFeedback } from '../../../src/core/reviewFeedback';

const SCRIPTED = resolve(__dirname, '..', '..', 'fixtures', 'agents', 'scripted-claude-code.mjs');

const lines = (n: number, change: Record<number, string> = {}) => Array.from({ length: n }, (_, i) => change[i + 1] ?? `line ${i + 1}`).join('\n') + '\n';

function setup(): { dir: string; factory: Factory; steps(list: unknown[]): void; prompts(): string[] } {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'fc-feedback-')));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  git('config', 'user.name', 'Rita Reviewer');
  git('config', 'user.email', 'rita@example.com');
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'app.js'), lines(20));
  git('add', '-A');
  git('commit', '-qm', 'init');
  const stage = (id: string, prompt: string) => ({ id, title: id[0]!.toUpperCase() + id.slice(1), owner: { backend: 'claude-code' }, autonomy: 'approve', prompt });
  mkdirSync(join(dir, '.factory'));
  writeFileSync(
    join(dir, '.factory', 'pipeline.json'),
    JSON.stringify({ version: 1, stages: [stage('implement', 'Build.\n{{context}}\n{{failures}}'), stage('review', 'Review.\n{{context}}'), stage('qa', 'QA.\n{{context}}')] }),
  );
  const stepsFile = join(dir, '..', `${dir.split('/').pop()}-steps.json`);
  const settings: Record<string, unknown> = { 'factory.backends.claude-code.path': SCRIPTED };
  const factory = createFactory({
    root: dir,
    settings: { get: <T>(key: string) => settings[key] as T | undefined },
    secrets: { get: async (name) => (name === 'ANTHROPIC_API_KEY' ? 'sk-test' : undefined) },
    trust: { isTrusted: () => true },
    env: { ...process.env, SCRIPTED_AGENT_STEPS: stepsFile, SCRIPTED_AGENT_PIDS: `${stepsFile}.pids` },
  });
  return {
    dir,
    factory,
    steps: (list) => writeFileSync(stepsFile, JSON.stringify(list)),
    prompts: () =>
      readFileSync(`${stepsFile}.prompts.jsonl`, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { prompt: string }).prompt),
  };
}

describe('review feedback: hunk decisions and comments reach the next run', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('a send-back hands the rejected hunks and comments to the reopened stage in its pack; an approval hands nothing stale on, an approval with a note hands on the new', async () => {
    const s = setup();
    dirs.push(s.dir);
    s.steps([
      { text: 'Built.', write: { 'src/app.js': lines(20, { 2: 'const secret = "hunter2";', 18: 'export const answer = 42;' }) } },
      { text: 'Built again.', write: { 'src/app.js': lines(20, { 18: 'export const answer = 42;', 19: 'const SECRET = process.env.SECRET;' }) } },
      { text: 'Reviewed.' },
      { text: 'QA done.' },
    ]);
    const change = await s.factory.startChange({ title: 'Feedback', branchMode: 'none' });
    assert.equal((await s.factory.run({ changeId: change.id })).stopped, 'approval');

    // The reviewer rejects the hunk with the secret, keeps the other one, comments on a line and on the step.
    const session = await s.factory.review.open(change.id);
    const attempt = (await s.factory.change(change.id)).stages[0]!.attempts[0]!.id;
    const [file] = await s.factory.review.diffFiles(session, attempt);
    const secret = file!.hunks.find((h) => h.lines.some((l) => l.includes('hunter2')))!;
    const kept = file!.hunks.find((h) => h !== secret)!;
    chmodSync(join(s.dir, 'src', 'app.js'), 0o755);
    await s.factory.review.decideHunk(session, { changeId: change.id, attemptId: attempt, path: 'src/app.js', hunk: secret.id, decision: 'rejected' });
    await s.factory.review.decideHunk(session, { changeId: change.id, attemptId: attempt, path: 'src/app.js', hunk: kept.id, decision: 'accepted' });
    assert.ok(!readFileSync(join(s.dir, 'src', 'app.js'), 'utf8').includes('hunter2'), 'the rejected hunk is reverted');
    assert.equal(statSync(join(s.dir, 'src', 'app.js')).mode & 0o777, 0o755, 'the revert replaced the file with its mode kept');
    assert.deepEqual(readdirSync(join(s.dir, 'src')), ['app.js'], 'no temporary file left beside it');
    await s.factory.review.comment({ changeId: change.id, body: 'Read secrets from the environment.', stageId: 'implement', attemptId: attempt, path: 'src/app.js', line: 2, side: 'end' });
    await s.factory.review.comment({ changeId: change.id, body: 'Otherwise fine.', stageId: 'implement', attemptId: attempt });
    await s.factory.sendBack({ changeId: change.id, stageId: 'implement', note: 'No secrets in the code.' });

    const sentBack = (await s.factory.events(change.id)).find((e) => isEvent(e, 'stage.sentBack'));
    assert.ok(sentBack && isEvent(sentBack, 'stage.sentBack'));
    const pack = await s.factory.context.load(change.id);
    assert.equal(sentBack.data.contextVersion, pack.version, 'the send-back names the pack with the feedback');
    const item = pack.items.find((i) => i.kind === 'reviewFeedback');
    assert.equal(item?.source.stageId, 'implement');
    assert.equal(item?.pinned, true, 'cut last when the pack is over budget');

    // The reopened stage's next run: its prompt has the feedback section, its attempt consumed that version.
    assert.equal((await s.factory.run({ changeId: change.id, stageId: 'implement' })).stopped, 'approval');
    const rerun = s.prompts()[1]!;
    assert.match(rerun, /## Review feedback/);
    assert.match(rerun, /sent the change back from Implement to Implement: No secrets in the code\./);
    assert.match(rerun, new RegExp(`Rejected hunks.*\\n- src/app\\.js:${secret.newStart} \`@@`));
    assert.match(rerun, /Kept: 1 hunk /);
    assert.match(rerun, /- src\/app\.js:2, Rita Reviewer: Read secrets from the environment\./);
    assert.match(rerun, /- Implement attempt 1, Rita Reviewer: Otherwise fine\./);
    const started = (await s.factory.events(change.id)).filter((e) => isEvent(e, 'attempt.started'));
    assert.equal(started[1]!.data.contextVersion, sentBack.data.contextVersion);

    // Approved with nothing new: the feedback stays with the run that had it.
    await s.factory.approve({ changeId: change.id, stageId: 'implement' });
    assert.equal((await s.factory.context.load(change.id)).items.some((i) => i.kind === 'reviewFeedback'), false);
    assert.equal((await s.factory.run({ changeId: change.id })).stopped, 'approval');
    const review = s.prompts()[2]!;
    assert.match(review, /^Review\./);
    assert.doesNotMatch(review, /Review feedback|secrets|Otherwise fine/);

    // Approved with a note and a new comment: both go to the stage after it, the old ones do not.
    await s.factory.review.comment({ changeId: change.id, body: 'Check the logs for warnings.', stageId: 'review' });
    await s.factory.approve({ changeId: change.id, stageId: 'review', note: 'Ship after QA signs off.' });
    assert.equal((await s.factory.run({ changeId: change.id })).stopped, 'approval');
    const qa = s.prompts()[3]!;
    assert.match(qa, /## Review feedback/);
    assert.match(qa, /approved Review with this note: Ship after QA signs off\./);
    assert.match(qa, /- stage Review, Rita Reviewer: Check the logs for warnings\./);
    assert.doesNotMatch(qa, /hunter2|Otherwise fine|Rejected hunks/);

    await s.factory.approve({ changeId: change.id, stageId: 'qa' });
    const events = await s.factory.events(change.id);
    const signal = changeSignal(change.id, (await s.factory.store.loadPipeline()).pipeline!, events);
    assert.equal(signal.verdict, true, JSON.stringify(signal.recreated));
    assert.equal(foldContextPack(events).items.some((i) => i.kind === 'reviewFeedback'), false, 'nothing left over after the last stage');
  });

  it('counts only what came after the latest decision, and the latest decision on a hunk wins', () => {
    const at = (n: number) => `01J${String(n).padStart(23, '0')}`;
    const event = (n: number, type: string, data: Record<string, unknown>) => ({ v: 1, id: at(n), type, at: new Date(n).toISOString(), by: { name: 'Rita' }, data }) as never;
    const hunk = (n: number, id: string, decision: string) => event(n, 'review.hunkDecided', { stageId: 'implement', path: 'a.js', hunk: id, header: '@@ -3,2 +3,4 @@', decision });
    const events = [
      hunk(1, 'h1', 'rejected'),
      event(2, 'review.commented', { body: 'old', stageId: 'implement' }),
      event(3, 'review.decided', { stageId: 'implement', decision: 'approved' }),
      hunk(4, 'h2', 'rejected'),
      hunk(5, 'h2', 'accepted'),
      hunk(6, 'h3', 'rejected'),
      event(7, 'review.commented', { body: 'new\non two lines', path: 'a.js', line: 4 }),
    ];
    const feedback = pendingReviewFeedback(events);
    assert.deepEqual(feedback.rejected.map((h) => [h.path, h.line]), [['a.js', 3]]);
    assert.equal(feedback.kept, 1);
    assert.deepEqual(feedback.comments.map((c) => c.body), ['new\non two lines']);
    const text = renderReviewFeedback(feedback, { decision: 'approved', fromStage: 'Implement', toStage: 'Review' });
    assert.match(text, /- a\.js:4, Rita: new on two lines/);
    assert.doesNotMatch(text, /old/);
  });
});
