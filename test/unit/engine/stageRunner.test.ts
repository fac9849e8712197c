// The engine end to end without VS Code: the factory built through its one entry
// point on a real git repository — the real record, evidence and context stores, the
// real Claude Code backend spawning a scripted agent CLI
// (test/fixtures/agents/scripted-claude-code.mjs), and the real verification.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { startChange } from '../../../src/engine/changes';
import { createFactory, type Factory } from '../../../src/engine/factory';
import type { StageRunner } from '../../../src/engine/stageRunner';
import { foldChange } from '../../../src/core/fold';
import { isEvent, type FactoryEvent } from '../../../src/core/events';
import type { EngineDeps } from '../../../src/engine/ports';

const SCRIPTED = resolve(__dirname, '..', '..', 'fixtures', 'agents', 'scripted-claude-code.mjs');

interface Setup {
  dir: string;
  factory: Factory;
  deps: EngineDeps;
  runner: StageRunner;
  gates: string[];
  steps(list: unknown[]): void;
  events(changeId: string): Promise<FactoryEvent[]>;
  alive(pid: number): boolean;
}

function pipeline(stages: unknown[], budget: unknown = {}) {
  return JSON.stringify({ version: 1, budget, stages }, null, 2);
}

const stage = (id: string, extra: Record<string, unknown> = {}) => ({ id, title: id[0]!.toUpperCase() + id.slice(1), owner: { backend: 'claude-code' }, autonomy: 'auto', ...extra });

function setup(pipelineJson: string, extraSettings: Record<string, unknown> = {}, extraEnv: Record<string, string> = {}): Setup {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'fc-engine-')));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  git('config', 'user.name', 'Eve Engineer');
  git('config', 'user.email', 'eve@example.com');
  writeFileSync(join(dir, 'README.md'), '# app\n');
  writeFileSync(join(dir, '.gitignore'), 'node_modules\n');
  git('add', '-A');
  git('commit', '-qm', 'init');
  execFileSync('mkdir', ['-p', join(dir, '.factory')]);
  writeFileSync(join(dir, '.factory', 'pipeline.json'), pipelineJson);
  const stepsFile = join(dir, '..', `${dir.split('/').pop()}-steps.json`);
  const gates: string[] = [];
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const settings: Record<string, unknown> = { 'factory.backends.claude-code.path': SCRIPTED, 'factory.backends.killGraceMs': 500, ...extraSettings };
  const factory = createFactory({
    root: dir,
    settings: { get: <T>(key: string) => settings[key] as T | undefined },
    secrets: { get: async (name) => (name === 'ANTHROPIC_API_KEY' ? 'sk-test-secret-123' : undefined) },
    trust: { isTrusted: () => true },
    env: { ...process.env, SCRIPTED_AGENT_STEPS: stepsFile, SCRIPTED_AGENT_PIDS: `${stepsFile}.pids`, ...extraEnv },
    observer: { gate: (g) => gates.push(`${g.stageId}:${g.reason}`) },
  });
  const deps: EngineDeps = factory.deps;
  const runner = factory.runner;
  const store = factory.store;
  return {
    dir,
    factory,
    deps,
    runner,
    gates,
    steps: (list) => {
      writeFileSync(stepsFile, JSON.stringify(list));
      rmSync(`${stepsFile}.count`, { force: true });
    },
    events: async (changeId) => (await store.readChange(changeId)).events,
    alive,
  };
}

describe('engine: stage runner', function () {
  this.timeout(60_000);
  const cleanups: string[] = [];
  afterEach(() => cleanups.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('a plain-text agent whose output passes the kept answer: the summary is the end of its output, not a window from the middle', async () => {
    // fake-aider's flood: its banner, about 200 KB of 1000-character lines, then "Done.".
    const fakeAider = resolve(__dirname, '..', '..', 'fixtures', 'agents', 'fake-aider.mjs');
    const s = setup(pipeline([{ ...stage('build'), owner: { backend: 'aider' } }]), { 'factory.backends.aider.path': fakeAider }, { FAKE_SCENARIO: 'flood', FAKE_FLOOD_MB: '0.2', FAKE_DELAY_MS: '0' });
    cleanups.push(s.dir);
    const change = await startChange(s.deps, { title: 'Flood', description: 'Much output.', branchMode: 'bindCurrent' });
    await s.runner.run({ changeId: change.id });
    const finished = (await s.events(change.id)).find((e) => isEvent(e, 'attempt.finished'));
    assert.equal(finished?.data.outcome, 'succeeded', finished?.data.reason);
    const summary = String(finished?.data.summary);
    assert.equal(summary.length, 2000);
    assert.ok(summary.startsWith('[…] x'), summary.slice(0, 40));
    assert.ok(summary.endsWith('x\nDone.\n'), JSON.stringify(summary.slice(-40)));
  });

  it('runs a pipeline unattended to the end, recording attempts, handoffs and the context versions consumed', async () => {
    const s = setup(
      pipeline([
        stage('plan', { outputs: ['PLAN.md'], verification: [{ id: 'plan-written', kind: 'fileExists', paths: ['PLAN.md'] }], prompt: 'Plan {{change.title}}.\n{{context}}' }),
        stage('implement', { prompt: 'Implement. {{previous.summary}}\n{{context}}', verification: [{ id: 'builds', kind: 'command', argv: ['node', '-e', "require('fs').accessSync('src/app.js')"] }] }),
      ]),
    );
    cleanups.push(s.dir);
    s.steps([
      { text: 'Planned: two steps.', read: ['README.md'], write: { 'PLAN.md': '# Plan\n1. app\n' } },
      { text: 'Implemented app.js.', read: ['PLAN.md'], write: { 'src/app.js': 'console.log(1)\n' } },
    ]);
    const change = await startChange(s.deps, { title: 'Add app', description: 'An app.', branchMode: 'bindCurrent' });
    const report = await s.runner.run({ changeId: change.id });
    assert.equal(report.stopped, 'completed', report.detail);
    assert.equal(report.attempts.length, 2);

    const events = await s.events(change.id);
    const state = foldChange(change.id, (await s.deps.store.loadPipeline()).pipeline!, events);
    assert.deepEqual(state.stages.map((x) => x.status), ['passed', 'passed']);
    const started = events.filter((e) => isEvent(e, 'attempt.started'));
    const handoffs = events.filter((e) => isEvent(e, 'handoff.recorded'));
    assert.equal(handoffs.length, 2);
    // The implement attempt consumed exactly the pack version the plan handoff carried forward,
    // and that pack holds the plan as a stage output.
    assert.equal(started[1]!.data.contextVersion, handoffs[0]!.data.contextVersion);
    assert.notEqual(started[0]!.data.contextVersion, handoffs[0]!.data.contextVersion);
    assert.match(String(started[1]!.data.prompt), /Implement\. Planned: two steps\./);
    assert.match(String(started[1]!.data.prompt), /# Plan/);
    const finished = events.filter((e) => isEvent(e, 'attempt.finished'));
    assert.equal(finished[0]!.data.outcome, 'succeeded');
    assert.ok((finished[0]!.data.usage?.costUsd ?? 0) > 0, 'the agent-reported cost is recorded');
    assert.deepEqual(finished[0]!.data.filesRead, ['README.md']);
    assert.deepEqual(finished[1]!.data.changedFiles, [{ status: 'added', path: 'src/app.js' }]);
    assert.ok(finished[1]!.data.transcript && finished[1]!.data.diff, 'transcript and diff kept as evidence');
    const transcript = await s.deps.evidence.read(finished[1]!.data.transcript!);
    assert.ok(transcript.includes('Implemented app.js.'));
    assert.equal((await s.deps.evidence.read(finished[1]!.data.diff!)).toString().includes('+console.log(1)'), true);
    assert.equal(events.find((e) => isEvent(e, 'attempt.started'))!.by?.name, 'Eve Engineer');
  });

  it('retries a failing stage with the failure text in the next rendered prompt, up to its limit', async () => {
    const s = setup(pipeline([stage('implement', { retry: { maxAttempts: 3 }, prompt: 'Do it.\n{{failures}}', verification: [{ id: 'has-file', kind: 'fileExists', paths: ['out.txt'] }] })]));
    cleanups.push(s.dir);
    s.steps([{ text: 'I forgot the file.' }, { fail: 'compiler exploded', exit: 1 }, { text: 'Fixed.', write: { 'out.txt': 'ok' } }]);
    const change = await startChange(s.deps, { title: 'Retry me', branchMode: 'none' });
    const report = await s.runner.run({ changeId: change.id });
    assert.equal(report.stopped, 'completed', report.detail);
    assert.equal(report.attempts.length, 3);
    const started = (await s.events(change.id)).filter((e) => isEvent(e, 'attempt.started'));
    assert.doesNotMatch(String(started[0]!.data.prompt), /did not pass/);
    assert.match(String(started[1]!.data.prompt), /Verification "has-file" failed: .*out\.txt/s);
    assert.match(String(started[2]!.data.prompt), /compiler exploded/);
    assert.deepEqual(started.map((e) => e.data.trigger), ['run', 'retry', 'retry']);
  });

  it('a succeeded attempt that leaves a declared output missing fails the stage in the record, and the next run retries it with why', async () => {
    // The default Plan stage declares PLAN.md and asks for approval: a run without it must read as failed, not waiting.
    const s = setup(pipeline([stage('plan', { autonomy: 'approve', retry: { maxAttempts: 1 }, prompt: 'Plan.\n{{failures}}', outputs: ['PLAN.md'] })]));
    cleanups.push(s.dir);
    s.steps([{ text: 'Planned in my head.' }, { text: 'Written.', write: { 'PLAN.md': 'the plan' } }]);
    const change = await s.factory.startChange({ title: 'No plan file', branchMode: 'none' });
    assert.equal((await s.factory.run({ changeId: change.id })).stopped, 'failed');
    const failed = await s.factory.change(change.id);
    assert.equal(failed.stages[0]!.status, 'failed');
    assert.deepEqual(failed.stages[0]!.results.map((r) => [r.criterionId, r.outcome, r.message]), [['stage:outputs', 'failed', 'The stage must produce PLAN.md, which is missing.']]);
    assert.ok((await s.factory.allowed(failed, 'plan')).includes('retry'), 'Retry is offered, Approve is not');
    assert.ok(!(await s.factory.allowed(failed, 'plan')).includes('approve'));

    // Retried (the limit raised, as a person would in pipeline.json): the prompt says what was missing; the new attempt is checked anew.
    writeFileSync(join(s.dir, '.factory', 'pipeline.json'), pipeline([stage('plan', { autonomy: 'approve', retry: { maxAttempts: 2 }, prompt: 'Plan.\n{{failures}}', outputs: ['PLAN.md'] })]));
    assert.equal((await s.factory.runNext(change.id)).stopped, 'approval');
    const started = (await s.events(change.id)).filter((e) => isEvent(e, 'attempt.started'));
    assert.match(String(started[1]!.data.prompt), /The stage must produce PLAN\.md, which is missing\./);
    const waiting = await s.factory.change(change.id);
    assert.equal(waiting.stages[0]!.status, 'needsApproval');
    assert.deepEqual(waiting.stages[0]!.results, [], 'the first attempt\'s missing output no longer stands');
  });

  it('gives up after the retry limit and says so', async () => {
    const s = setup(pipeline([stage('implement', { retry: { maxAttempts: 2 } })]));
    cleanups.push(s.dir);
    s.steps([{ fail: 'nope' }]);
    const change = await startChange(s.deps, { title: 'Fails', branchMode: 'none' });
    const report = await s.runner.run({ changeId: change.id });
    assert.equal(report.stopped, 'failed');
    assert.equal(report.attempts.length, 2);
    assert.deepEqual(s.gates, ['implement:failed']);
    const again = await s.runner.run({ changeId: change.id });
    assert.equal(again.stopped, 'retriesExhausted');
    assert.match(again.detail, /used its 2 attempts/);
  });

  it('stops at an approval gate, and an approval hands off and lets the next stage run', async () => {
    const s = setup(pipeline([stage('plan', { autonomy: 'approve' }), stage('implement')]));
    cleanups.push(s.dir);
    s.steps([{ text: 'Plan ready.' }, { text: 'Built.' }]);
    const change = await startChange(s.deps, { title: 'Gated', branchMode: 'none' });
    const first = await s.runner.run({ changeId: change.id });
    assert.equal(first.stopped, 'approval');
    let state = foldChange(change.id, (await s.deps.store.loadPipeline()).pipeline!, await s.events(change.id));
    assert.equal(state.stages[0]!.status, 'needsApproval');
    assert.equal(state.stages[1]!.attempts.length, 0, 'the next stage did not start');
    await s.runner.decide({ changeId: change.id, stageId: 'plan', decision: 'approved', note: 'ok' });
    const second = await s.runner.run({ changeId: change.id });
    assert.equal(second.stopped, 'completed');
    state = foldChange(change.id, (await s.deps.store.loadPipeline()).pipeline!, await s.events(change.id));
    assert.deepEqual(state.stages.map((x) => x.status), ['passed', 'passed']);
    const review = (await s.events(change.id)).find((e) => isEvent(e, 'review.decided'))!;
    assert.equal(review.by?.email, 'eve@example.com');
  });

  it('stops an attempt that goes over its cost budget and records why', async () => {
    const s = setup(pipeline([stage('implement', { budget: { costUsd: 0.001 } })]));
    cleanups.push(s.dir);
    s.steps([{ hang: true }]);
    const change = await startChange(s.deps, { title: 'Expensive', branchMode: 'none' });
    const report = await s.runner.run({ changeId: change.id });
    assert.equal(report.stopped, 'budget', report.detail);
    const finished = (await s.events(change.id)).find((e) => isEvent(e, 'attempt.finished'))!;
    assert.equal(finished.data.outcome, 'budgetExceeded');
    assert.match(String(finished.data.reason), /cost/i);
  });

  it('cancels a running attempt and leaves no process behind', async () => {
    const s = setup(pipeline([stage('implement')]));
    cleanups.push(s.dir);
    s.steps([{ hang: true }]);
    const change = await startChange(s.deps, { title: 'Stop me', branchMode: 'none' });
    const running = s.runner.run({ changeId: change.id });
    const pidsFile = join(s.dir, '..', `${s.dir.split('/').pop()}-steps.json.pids`);
    for (let i = 0; i < 100 && !existsSync(pidsFile); i++) await new Promise((r) => setTimeout(r, 100));
    const pids = JSON.parse(readFileSync(pidsFile, 'utf8')) as { pid: number; grandchild: number };
    assert.ok(s.runner.isRunning(change.id));
    assert.equal(s.runner.stop(change.id, 'Eve Engineer'), true);
    const report = await running;
    assert.equal(report.stopped, 'cancelled');
    for (let i = 0; i < 50 && (s.alive(pids.pid) || s.alive(pids.grandchild)); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.alive(pids.pid), false, 'agent killed');
    assert.equal(s.alive(pids.grandchild), false, 'its grandchild killed too');
    const finished = (await s.events(change.id)).find((e) => isEvent(e, 'attempt.finished'))!;
    assert.equal(finished.data.outcome, 'cancelled');
    assert.equal(finished.data.stoppedBy, 'Eve Engineer');
  });

  it('rolls an attempt back after confirmation, restoring files and recording the rollback', async () => {
    const s = setup(pipeline([stage('implement', { autonomy: 'approve' })]));
    cleanups.push(s.dir);
    writeFileSync(join(s.dir, 'notes.txt'), 'mine, uncommitted\n');
    s.steps([{ text: 'Rewrote things.', write: { 'README.md': '# broken\n', 'new.txt': 'added' } }]);
    const change = await startChange(s.deps, { title: 'Undo me', branchMode: 'none' });
    const report = await s.runner.run({ changeId: change.id });
    const attemptId = report.attempts[0]!;
    assert.equal(readFileSync(join(s.dir, 'README.md'), 'utf8'), '# broken\n');
    let shown: string[] = [];
    assert.equal(await s.runner.rollback({ changeId: change.id, attemptId, confirm: async (files) => ((shown = files.map((f) => `${f.action}:${f.path}`)), false) }), false);
    assert.equal(readFileSync(join(s.dir, 'README.md'), 'utf8'), '# broken\n', 'declined: nothing changed');
    assert.deepEqual(shown.sort(), ['remove:new.txt', 'revert:README.md']);
    assert.equal(await s.runner.rollback({ changeId: change.id, attemptId, confirm: async () => true }), true);
    assert.equal(readFileSync(join(s.dir, 'README.md'), 'utf8'), '# app\n');
    assert.equal(existsSync(join(s.dir, 'new.txt')), false);
    assert.equal(readFileSync(join(s.dir, 'notes.txt'), 'utf8'), 'mine, uncommitted\n', 'the user\'s own uncommitted file is untouched');
    const state = foldChange(change.id, (await s.deps.store.loadPipeline()).pipeline!, await s.events(change.id));
    assert.equal(state.stages[0]!.attempts[0]!.rolledBack, true);
    assert.equal(state.stages[0]!.status, 'pending');
  });

  it('records a person\'s stage when they mark it done, with the diff of what they changed', async () => {
    const s = setup(pipeline([{ id: 'review', title: 'Review', owner: { backend: 'human', person: 'Rita' }, autonomy: 'auto' }]));
    cleanups.push(s.dir);
    const change = await startChange(s.deps, { title: 'Human', branchMode: 'none' });
    const report = await s.runner.run({ changeId: change.id });
    assert.equal(report.stopped, 'waitingForPerson');
    writeFileSync(join(s.dir, 'README.md'), '# app\nreviewed\n');
    await s.runner.completeByHand({ changeId: change.id, stageId: 'review', note: 'Looks good, fixed a typo.' });
    const events = await s.events(change.id);
    const finished = events.find((e) => isEvent(e, 'attempt.finished'))!;
    assert.equal(finished.data.outcome, 'succeeded');
    assert.deepEqual(finished.data.changedFiles, [{ status: 'modified', path: 'README.md' }]);
    const state = foldChange(change.id, (await s.deps.store.loadPipeline()).pipeline!, events);
    assert.equal(state.stages[0]!.status, 'passed');
  });

  it("a person's stage waiting for them can be sent back: their attempt is finished, then reopened or superseded", async () => {
    const s = setup(
      pipeline([
        { id: 'implement', title: 'Implement', owner: { backend: 'human', person: 'Dev' }, autonomy: 'auto' },
        { id: 'review', title: 'Review', owner: { backend: 'human', person: 'Rita' }, autonomy: 'auto' },
      ]),
    );
    cleanups.push(s.dir);
    const change = await startChange(s.deps, { title: 'Reviewed', branchMode: 'none' });
    await s.runner.run({ changeId: change.id });
    await s.factory.completeByHand({ changeId: change.id, stageId: 'implement', note: 'Done.' });
    assert.equal((await s.runner.run({ changeId: change.id })).stopped, 'waitingForPerson');
    const fold = async () => foldChange(change.id, (await s.deps.store.loadPipeline()).pipeline!, await s.events(change.id));

    // The reviewer sends it back to the stage under review (as `send-back review --to implement` does).
    await s.factory.sendBack({ changeId: change.id, stageId: 'review', toStage: 'implement', note: 'Handle expired tokens' });
    let state = await fold();
    assert.deepEqual(state.stages.map((x) => x.status), ['sentBack', 'pending']);
    const reviewAttempt = state.stages[1]!.attempts[0]!;
    assert.equal(reviewAttempt.outcome, 'succeeded', 'the reviewer\'s turn ended with their decision');
    assert.equal(reviewAttempt.superseded, true);

    // And to itself: the review reopens, its finished attempt named.
    await s.factory.completeByHand({ changeId: change.id, stageId: 'implement', note: 'Tokens expire now.' });
    assert.equal((await s.runner.run({ changeId: change.id })).stopped, 'waitingForPerson');
    await s.factory.sendBack({ changeId: change.id, stageId: 'review', note: 'Ask Sam as well' });
    state = await fold();
    assert.equal(state.stages[1]!.status, 'sentBack');
    assert.equal(state.stages[1]!.sentBack?.note, 'Ask Sam as well');
    assert.ok(state.stages[1]!.attempts.every((a) => a.outcome === 'succeeded'));
  });

  it('a send-back opens a new visit with the whole retry budget: a stage that used its attempts runs again', async () => {
    const s = setup(
      pipeline([
        { id: 'implement', title: 'Implement', owner: { backend: 'human', person: 'Dev' }, autonomy: 'auto', retry: { maxAttempts: 1 } },
        { id: 'review', title: 'Review', owner: { backend: 'human', person: 'Rita' }, autonomy: 'auto' },
      ]),
    );
    cleanups.push(s.dir);
    const change = await startChange(s.deps, { title: 'Sent back twice', branchMode: 'none' });
    for (const round of [1, 2, 3]) {
      const implement = await s.runner.run({ changeId: change.id });
      assert.equal(implement.stopped, 'waitingForPerson', `round ${round}: ${implement.detail}`);
      assert.equal(implement.stageId, 'implement');
      await s.factory.completeByHand({ changeId: change.id, stageId: 'implement', note: `Done, round ${round}.` });
      assert.equal((await s.runner.run({ changeId: change.id })).stageId, 'review');
      await s.factory.sendBack({ changeId: change.id, stageId: 'review', toStage: 'implement', note: `Not yet (${round}).` });
    }
    assert.equal((await s.runner.run({ changeId: change.id })).stopped, 'waitingForPerson', 'the fourth visit runs too');
    const started = (await s.events(change.id)).filter((e) => isEvent(e, 'attempt.started') && e.data.stageId === 'implement');
    assert.equal(started.length, 4);
  });

  it('does not retry an agent that never started (not installed): one failed attempt says what to install, the rest stay for after', async () => {
    const s = setup(pipeline([stage('implement', { retry: { maxAttempts: 3 } })]), { 'factory.backends.claude-code.path': join(tmpdir(), 'no-such-dir', 'claude') });
    cleanups.push(s.dir);
    const change = await startChange(s.deps, { title: 'No agent here', branchMode: 'none' });
    const report = await s.runner.run({ changeId: change.id });
    assert.equal(report.stopped, 'failed');
    assert.equal(report.attempts.length, 1);
    assert.match(report.detail, /Claude Code is not available/);
    // Its other attempts were not used up: a retry (once the agent is installed) still runs.
    const again = await s.runner.run({ changeId: change.id, trigger: 'retry' });
    assert.equal(again.stopped, 'failed', again.detail);
    assert.equal(again.attempts.length, 1);
  });

  it('marks attempts whose process is gone as interrupted, and leaves live ones alone', async () => {
    const s = setup(pipeline([stage('implement')]));
    cleanups.push(s.dir);
    const change = await startChange(s.deps, { title: 'Crashed', branchMode: 'none' });
    const dead = '01KAAAAAAAAAAAAAAAAAAAAAA1';
    const live = '01KAAAAAAAAAAAAAAAAAAAAAA2';
    await s.deps.store.append(change.id, { type: 'attempt.started', data: { stageId: 'implement', attemptId: dead, backend: 'claude-code', runner: { pid: 999_999_9, host: hostname() } } });
    await s.deps.store.append(change.id, { type: 'attempt.started', data: { stageId: 'implement', attemptId: live, backend: 'claude-code', runner: { pid: process.pid, host: hostname() } } });
    const recovered = await s.runner.recoverInterrupted([change.id]);
    assert.deepEqual(recovered.map((r) => r.attemptId), [dead]);
    const finished = (await s.events(change.id)).filter((e) => isEvent(e, 'attempt.finished'));
    assert.equal(finished.length, 1);
    assert.equal(finished[0]!.data.outcome, 'interrupted');
  });

  it('names the pipeline field to fix when a stage owner is not a known backend', async () => {
    const s = setup(pipeline([{ id: 'plan', title: 'Plan', owner: { backend: 'claude-cod' } }]));
    cleanups.push(s.dir);
    const change = await startChange(s.deps, { title: 'Typo', branchMode: 'none' });
    await assert.rejects(s.runner.run({ changeId: change.id }), /backend "claude-cod".*stages\.0\.owner\.backend/);
    assert.equal(s.runner.isRunning(change.id), false);
  });
});

describe('engine: the factory entry point decides every rule', function () {
  this.timeout(60_000);
  const cleanups: string[] = [];
  afterEach(() => cleanups.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const prompts = (s: Setup) =>
    readFileSync(join(s.dir, '..', `${s.dir.split('/').pop()}-steps.json.prompts.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { prompt: string }).prompt);
  const statuses = async (s: Setup, changeId: string) => (await s.factory.change(changeId)).stages.map((x) => `${x.id}:${x.status}`);

  it('refuses, with a sentence, what the state does not allow — and changes nothing', async () => {
    const s = setup(pipeline([stage('plan', { autonomy: 'approve' }), stage('implement', { autonomy: 'approve' })]));
    cleanups.push(s.dir);
    s.steps([{ hang: true }]);
    const change = await s.factory.startChange({ title: 'Rules', branchMode: 'none' });
    const before = (await s.events(change.id)).length;
    await assert.rejects(s.factory.approve({ changeId: change.id, stageId: 'plan' }), /"Plan" has not asked for approval \(it is pending\)/);
    await assert.rejects(s.factory.retry({ changeId: change.id, stageId: 'plan' }), /"Plan" has no attempt to retry; run it/);
    await assert.rejects(s.factory.run({ changeId: change.id, stageId: 'implement' }), /"Implement" comes after "Plan", which has not handed off \(it is pending\)/);
    await assert.rejects(s.factory.sendBack({ changeId: change.id, stageId: 'plan', note: 'redo' }), /"Plan" has nothing to send back \(it is pending\)/);
    await assert.rejects(s.factory.completeByHand({ changeId: change.id, stageId: 'plan', note: '  ' }), /needs a note/);
    assert.equal((await s.events(change.id)).length, before, 'a refusal records nothing');

    // While an agent runs: marking the stage done, changing its owner and running another stage are refused.
    const running = s.factory.run({ changeId: change.id, stageId: 'plan' });
    for (let i = 0; i < 100 && (await statuses(s, change.id))[0] !== 'plan:running'; i++) await new Promise((r) => setTimeout(r, 50));
    const live = await s.factory.change(change.id);
    await assert.rejects(s.factory.completeByHand({ changeId: change.id, stageId: 'plan', note: 'done' }), /"Plan" is running; stop it first/);
    await assert.rejects(s.factory.changeOwner({ changeId: change.id, stageId: 'plan', owner: { backend: 'codex' } }), /"Plan" is running/);
    await assert.rejects(s.factory.run({ changeId: change.id, stageId: 'implement', outOfOrder: true }), /"Plan" of this change is running; stop it first/);
    assert.deepEqual(await s.factory.allowed(live, 'plan'), ['stop', 'verify'], 'a running stage offers Stop (and Verify, bound to the tree it checks) only');
    assert.equal(await s.factory.stop(change.id), true);
    assert.equal((await running).stopped, 'cancelled');
    assert.deepEqual(await statuses(s, change.id), ['plan:failed', 'implement:pending']);
  });

  it('refuses to run anything in an untrusted folder or outside git, saying which', async () => {
    const s = setup(pipeline([stage('plan')]));
    cleanups.push(s.dir);
    const change = await s.factory.startChange({ title: 'Trust', branchMode: 'none' });
    const untrusted = createFactory({ root: s.dir, settings: { get: () => undefined }, secrets: { get: async () => undefined }, trust: { isTrusted: () => false } });
    await assert.rejects(untrusted.run({ changeId: change.id, stageId: 'plan' }), /not trusted.*trust the folder/i);
    await assert.rejects(untrusted.startChange({ title: 'No', branchMode: 'none' }), /not trusted/);
    // Decisions are records too: in Restricted Mode nothing is written, so nothing is offered.
    assert.deepEqual(await untrusted.allowed(await untrusted.change(change.id), 'plan'), []);
    await assert.rejects(untrusted.completeByHand({ changeId: change.id, stageId: 'plan', note: 'done' }), /not trusted: decisions are recorded once/);
    await assert.rejects(untrusted.changeOwner({ changeId: change.id, stageId: 'plan', owner: { backend: 'human', person: 'Rita' } }), /not trusted: decisions are recorded once/);
    assert.deepEqual(await statuses(s, change.id), ['plan:pending'], 'nothing was recorded');
    rmSync(join(s.dir, '.git'), { recursive: true, force: true });
    await assert.rejects(s.factory.run({ changeId: change.id, stageId: 'plan' }), /not a git repository/);
  });

  it('sends a stage back to itself: it reopens, the note reaches its next run whichever command starts it, and the signal holds', async () => {
    const s = setup(pipeline([stage('plan', { autonomy: 'approve', prompt: 'Plan {{change.title}}.\n{{failures}}' }), stage('implement', { verification: [{ id: 'readme', kind: 'fileExists', paths: ['README.md'] }] })]));
    cleanups.push(s.dir);
    s.steps([{ text: 'Plan v1.' }, { text: 'Plan v2.' }, { text: 'Built.' }]);
    const change = await s.factory.startChange({ title: 'Send back', branchMode: 'none' });
    assert.equal((await s.factory.run({ changeId: change.id })).stopped, 'approval');
    await s.factory.sendBack({ changeId: change.id, stageId: 'plan', note: 'Cover the error paths.' });
    const reopened = await s.factory.change(change.id);
    assert.deepEqual(reopened.stages.map((x) => x.status), ['sentBack', 'pending'], 'Send Back no longer leaves the stage passed');
    assert.equal(reopened.stages[0]!.sentBack?.note, 'Cover the error paths.');
    assert.equal(reopened.activeStageId, 'plan');
    const sent = (await s.events(change.id)).find((e) => isEvent(e, 'stage.sentBack'));
    assert.ok(sent && isEvent(sent, 'stage.sentBack'));
    assert.equal(sent.data.toStage, 'plan');
    assert.equal(sent.by?.email, 'eve@example.com');
    assert.equal((await s.events(change.id)).some((e) => isEvent(e, 'handoff.recorded') && e.data.toStage === e.data.fromStage), false, 'not recorded as a handoff to itself');

    // Run Stage (not Retry) after a send-back still feeds the note back.
    assert.equal((await s.factory.run({ changeId: change.id, stageId: 'plan' })).stopped, 'approval');
    assert.match(prompts(s)[1]!, /A reviewer sent it back: Cover the error paths\./);
    const attempts = (await s.factory.change(change.id)).stages[0]!.attempts;
    assert.equal(attempts[1]!.trigger, 'sentBack');
    await s.factory.approve({ changeId: change.id, stageId: 'plan' });
    assert.equal((await s.factory.run({ changeId: change.id })).stopped, 'completed');
    const { changeSignal } = await import('../../../src/core/signal');
    const signal = changeSignal(change.id, (await s.deps.store.loadPipeline()).pipeline!, await s.events(change.id));
    assert.equal(signal.verdict, true, JSON.stringify(signal.recreated));
  });

  it('a lesson promoted while a change waits between stages reaches the next stage\'s prompt through the pack, and the signal holds', async () => {
    const s = setup(pipeline([stage('plan', { autonomy: 'approve' }), stage('implement', { prompt: 'Implement.\n{{context}}', verification: [{ id: 'readme', kind: 'fileExists', paths: ['README.md'] }] })]));
    cleanups.push(s.dir);
    s.steps([{ text: 'Plan ready.' }, { text: 'Built.' }]);
    const change = await s.factory.startChange({ title: 'Learn', branchMode: 'none' });
    const done = await s.factory.startChange({ title: 'Finished earlier', branchMode: 'none' });
    await s.deps.store.append(done.id, { type: 'change.completed', data: {} });
    assert.equal((await s.factory.run({ changeId: change.id })).stopped, 'approval');
    await s.factory.approve({ changeId: change.id, stageId: 'plan' });

    const promoted = await s.factory.promoteLesson({ lessonId: 'implement:timeout', text: 'Split long builds: implement timed out 3 times.', stageId: 'implement' });
    assert.equal(promoted.target, '.factory/conventions.md');
    assert.equal(promoted.changesTree, false);
    assert.deepEqual(promoted.packsRefreshed, [change.id], 'the open change takes the conventions, the completed one is left alone');
    assert.match(readFileSync(join(s.dir, '.factory', 'conventions.md'), 'utf8'), /^# Project conventions\n[\s\S]*\n- Split long builds: implement timed out 3 times\.\n$/);
    // The same lesson again changes neither the file nor any pack.
    const again = await s.factory.promoteLesson({ lessonId: 'implement:timeout', text: 'Split long builds: implement timed out 3 times.' });
    assert.deepEqual(again.packsRefreshed, []);
    assert.equal(readFileSync(join(s.dir, '.factory', 'conventions.md'), 'utf8').split('Split long builds').length, 2);

    assert.equal((await s.factory.run({ changeId: change.id })).stopped, 'completed');
    assert.match(prompts(s)[1]!, /\.factory\/conventions\.md[\s\S]*- Split long builds: implement timed out 3 times\./, 'the implement prompt carries the promoted lesson');
    const { changeSignal } = await import('../../../src/core/signal');
    const signal = changeSignal(change.id, (await s.deps.store.loadPipeline()).pipeline!, await s.events(change.id));
    assert.equal(signal.verdict, true, JSON.stringify(signal.recreated));
    assert.match(signal.stages[1]!.attempts[0]!.reason, /conventions refreshed since/);
    assert.equal((await s.events(done.id)).some((e) => e.type.startsWith('context.')), false);
  });

  it('sends back to an earlier stage: it reopens, later stages go pending with their attempts kept as superseded', async () => {
    const s = setup(
      pipeline([
        stage('plan', { prompt: 'Plan.\n{{failures}}', outputs: ['PLAN.md'], verification: [{ id: 'plan', kind: 'fileExists', paths: ['PLAN.md'] }] }),
        stage('implement', { prompt: 'Build.\n{{failures}}', verification: [{ id: 'readme', kind: 'fileExists', paths: ['README.md'] }] }),
        stage('review', { autonomy: 'approve', prompt: 'Review.' }),
      ]),
    );
    cleanups.push(s.dir);
    s.steps([{ text: 'Plan 1.', write: { 'PLAN.md': '1' } }, { text: 'Built 1.' }, { text: 'Looks off.' }, { text: 'Plan 2.', write: { 'PLAN.md': '2' } }, { text: 'Built 2.' }, { text: 'Fine.' }]);
    const change = await s.factory.startChange({ title: 'Back to plan', branchMode: 'none' });
    assert.equal((await s.factory.run({ changeId: change.id })).stopped, 'approval');
    await assert.rejects(s.factory.sendBack({ changeId: change.id, stageId: 'implement', toStage: 'review', note: 'x' }), /comes after "Implement"/);
    await s.factory.sendBack({ changeId: change.id, stageId: 'review', toStage: 'plan', note: 'The plan misses the migration.' });
    const back = await s.factory.change(change.id);
    assert.deepEqual(back.stages.map((x) => x.status), ['sentBack', 'pending', 'pending']);
    assert.deepEqual(back.stages.map((x) => x.attempts.map((a) => a.superseded)), [[false], [true], [true]], 'kept, shown as superseded');
    assert.equal(back.activeStageId, 'plan');
    assert.equal((await s.factory.actionContext()).trusted, true);
    assert.deepEqual(
      (await s.factory.allowed(back, 'implement')).includes('run'),
      false,
      'Implement cannot run before the reopened Plan hands off again',
    );

    assert.equal((await s.factory.runNext(change.id)).stopped, 'approval');
    assert.match(prompts(s)[3]!, /A reviewer sent it back from review: The plan misses the migration\./);
    assert.doesNotMatch(prompts(s)[4]!, /migration/, 'the note is for the reopened stage, not the ones after it');
    const after = await s.factory.change(change.id);
    assert.deepEqual(after.stages.map((x) => x.status), ['passed', 'passed', 'needsApproval']);
    assert.equal(after.stages[1]!.attempts.length, 2, 'the superseded attempt is still in the history');
    const { changeSignal } = await import('../../../src/core/signal');
    await s.factory.approve({ changeId: change.id, stageId: 'review' });
    const signal = changeSignal(change.id, (await s.deps.store.loadPipeline()).pipeline!, await s.events(change.id));
    assert.equal(signal.verdict, true, JSON.stringify(signal.recreated));
  });

  it('keeps the current change where every surface reads it: a second factory on the same folder agrees', async () => {
    const s = setup(pipeline([stage('plan')]));
    cleanups.push(s.dir);
    const first = await s.factory.startChange({ title: 'First', branchMode: 'none' });
    const second = await s.factory.startChange({ title: 'Second', branchMode: 'none' });
    await s.factory.setCurrent(first.id);
    const other = createFactory({ root: s.dir, settings: { get: () => undefined }, secrets: { get: async () => undefined }, trust: { isTrusted: () => true } });
    assert.equal((await other.readState()).current?.id, first.id);
    await other.setCurrent(second.id);
    assert.equal((await s.factory.readState()).current?.id, second.id);
    await assert.rejects(other.setCurrent('no-such-change'), /There is no change "no-such-change"/);
    // A checkout of a branch bound to a change makes it current (the branch-bound rule).
    execFileSync('git', ['checkout', '-q', '-b', 'feature'], { cwd: s.dir });
    const bound = await s.factory.startChange({ title: 'Bound', branchMode: 'bindCurrent' });
    execFileSync('git', ['checkout', '-q', 'main'], { cwd: s.dir });
    await s.factory.setCurrent(first.id);
    execFileSync('git', ['checkout', '-q', 'feature'], { cwd: s.dir });
    assert.equal((await other.readState()).current?.id, bound.id);
    assert.ok(!existsSync(join(s.dir, '.factory', 'current.json')), 'nothing about the pointer is written into the repository');
  });

  it('records who did it on every path, and an attempt recorded with no runner at all is interrupted', async () => {
    const s = setup(pipeline([stage('plan')]));
    cleanups.push(s.dir);
    const change = await s.factory.startChange({ title: 'Who', branchMode: 'none' });
    await s.factory.context.addNote(change.id, { text: 'A note' });
    await s.factory.changeOwner({ changeId: change.id, stageId: 'plan', owner: { backend: 'codex' } });
    const orphan = '01JZZZZZZZZZZZZZZZZZZZZZZ1';
    await s.factory.store.append(change.id, { type: 'attempt.started', data: { stageId: 'plan', attemptId: orphan, backend: 'codex' } });
    assert.equal((await s.factory.change(change.id)).stages[0]!.status, 'running');
    const recovered = await s.factory.recoverInterrupted();
    assert.deepEqual(recovered.map((r) => r.attemptId), [orphan]);
    const state = await s.factory.change(change.id);
    assert.equal(state.stages[0]!.status, 'failed');
    assert.match(state.stages[0]!.attempts[0]!.reason ?? '', /no process running it/);
    const events = await s.events(change.id);
    const unsigned = events.filter((e) => !e.by && e.data.attemptId !== orphan);
    assert.deepEqual(unsigned.map((e) => e.type), [], 'every event the factory wrote names who did it');
  });
});

describe('engine: every run recorded exactly as it happened', function () {
  this.timeout(60_000);
  const cleanups: string[] = [];
  afterEach(() => cleanups.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const received = (s: Setup) =>
    readFileSync(join(s.dir, '..', `${s.dir.split('/').pop()}-steps.json.prompts.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { prompt: string; argv: string[] }));

  it('records the model asked for (the setting), the model and version the agent reported, and the prompt byte for byte', async () => {
    const s = setup(pipeline([stage('plan', { prompt: 'Plan "{{change.title}}".\n\n{{context}}\n\nTabs\tand  spaces stay.' })]));
    cleanups.push(s.dir);
    s.steps([{ text: 'First I look.' }]);
    const change = await s.factory.startChange({ title: 'Model & prompt', branchMode: 'none' });
    await s.factory.context.addNote(change.id, { text: 'The pack: use the v2 API.' });
    // The backend's model setting, read per run.
    (s.factory as unknown as { ports: { settings: { get: (k: string) => unknown } } }).ports.settings.get = (key: string) =>
      ({ 'factory.backends.claude-code.path': SCRIPTED, 'factory.backends.killGraceMs': 500, 'factory.backends.claude-code.model': 'claude-opus-4' })[key];
    s.factory.reloadBackends();
    await s.factory.runNext(change.id);
    const events = await s.events(change.id);
    const started = events.find((e) => isEvent(e, 'attempt.started'))!;
    const finished = events.find((e) => isEvent(e, 'attempt.finished'))!;
    assert.ok(isEvent(started, 'attempt.started') && isEvent(finished, 'attempt.finished'));
    assert.equal(started.data.model, 'claude-opus-4', 'the model asked for, from the setting');
    assert.equal(finished.data.reportedModel, 'claude-sonnet-4-5', 'the model the agent said answered');
    assert.equal(finished.data.agentVersion, '2.1.197 (Claude Code)');
    const agentGot = received(s)[0]!;
    assert.equal(started.data.prompt, agentGot.prompt, 'the stored prompt is the bytes the agent received');
    const pack = (await s.factory.context.render(change.id)).text;
    assert.ok(pack.includes('The pack: use the v2 API.'));
    assert.equal(agentGot.prompt.split(pack).length, 2, 'the context pack reaches the agent once, where the template puts it');
    assert.deepEqual(agentGot.argv.slice(agentGot.argv.indexOf('--model'), agentGot.argv.indexOf('--model') + 2), ['--model', 'claude-opus-4']);
    const state = await s.factory.change(change.id);
    assert.equal(state.stages[0]!.attempts[0]!.reportedModel, 'claude-sonnet-4-5');
  });

  it('a stage that had handed off shows the truth about its latest attempt: stopped, failed or rolled back — never passed', async () => {
    const s = setup(pipeline([stage('plan', { retry: { maxAttempts: 3 }, verification: [{ id: 'readme', kind: 'fileExists', paths: ['README.md'] }] }), stage('implement', { autonomy: 'approve' })]));
    cleanups.push(s.dir);
    s.steps([{ text: 'Planned.' }, { text: 'Built.' }, { hang: true, write: { 'half.txt': 'half-way\n' } }, { fail: 'the model refused' }, { text: 'Redone.', write: { 'redo.txt': 'x\n' } }]);
    const change = await s.factory.startChange({ title: 'Truth', branchMode: 'none' });
    assert.equal((await s.factory.runNext(change.id)).stopped, 'approval');
    assert.equal((await s.factory.change(change.id)).stages[0]!.status, 'passed');

    // Re-run the handed-off plan and stop it half-way through editing files.
    const running = s.factory.run({ changeId: change.id, stageId: 'plan', advance: false });
    for (let i = 0; i < 100 && !existsSync(join(s.dir, 'half.txt')); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await s.factory.change(change.id)).stages[0]!.status, 'running', 'a new attempt reopens the stage');
    await s.factory.stop(change.id);
    assert.equal((await running).stopped, 'cancelled');
    let state = await s.factory.change(change.id);
    assert.equal(state.stages[0]!.status, 'failed', 'stopped half-way: not passed');
    assert.equal(state.activeStageId, 'plan', 'the status bar and every surface move back to it');
    assert.equal(state.stages[0]!.attempts.length, 2, 'the earlier handoff stays in the history');

    // A failed attempt after a handoff (its last allowed one, so no automatic retry follows).
    assert.equal((await s.factory.retry({ changeId: change.id, stageId: 'plan' })).stopped, 'failed');
    state = await s.factory.change(change.id);
    assert.equal(state.stages[0]!.status, 'failed');
    assert.match(state.stages[0]!.attempts.at(-1)!.reason ?? '', /the model refused/);
    // Rolling the failed one back frees an attempt for the next run.
    assert.equal(await s.factory.rollback({ changeId: change.id, attemptId: state.stages[0]!.attempts.at(-1)!.id, confirm: async () => true }), true);

    // A good attempt, then rolled back: the stage is not passed on work that was undone.
    assert.equal((await s.factory.run({ changeId: change.id, stageId: 'plan', advance: false })).stopped, 'handedOff');
    const last = (await s.factory.change(change.id)).stages[0]!.attempts.at(-1)!;
    assert.equal((await s.factory.change(change.id)).stages[0]!.status, 'passed');
    assert.equal(await s.factory.rollback({ changeId: change.id, attemptId: last.id, confirm: async () => true }), true);
    state = await s.factory.change(change.id);
    assert.equal(state.stages[0]!.status, 'pending');
    assert.ok(!existsSync(join(s.dir, 'redo.txt')));
  });

  it('a stage with no criteria hands off as passed, unverified, and the signal says so', async () => {
    const s = setup(pipeline([stage('plan', { verification: [{ id: 'readme', kind: 'fileExists', paths: ['README.md'] }] }), stage('test')]));
    cleanups.push(s.dir);
    s.steps([{ text: 'Planned.' }, { text: 'Tests? Looks fine to me.' }]);
    const change = await s.factory.startChange({ title: 'Phantom', branchMode: 'none' });
    assert.equal((await s.factory.runNext(change.id)).stopped, 'completed');
    const state = await s.factory.change(change.id);
    assert.deepEqual(state.stages.map((x) => [x.id, x.status, x.unverified === true]), [['plan', 'passed', false], ['test', 'passed', true]]);
    const listed = (await s.factory.readState()).changes.find((c) => c.id === change.id)!;
    assert.equal(listed.stages[1]!.unverified, true, 'lists read from the summary index say it too');
    const { changeSignal } = await import('../../../src/core/signal');
    const signal = changeSignal(change.id, (await s.deps.store.loadPipeline()).pipeline!, await s.events(change.id));
    assert.equal(signal.verdict, 'unverified');
    assert.deepEqual(signal.unverified, ['test']);
  });
  describe("the factory's MCP server (#18)", () => {
    const saved = process.env.FACTORY_COCKPIT_CLI;
    // The engine offers the server only when it finds the CLI bundle to start it with: any existing file stands in.
    beforeEach(() => (process.env.FACTORY_COCKPIT_CLI = SCRIPTED));
    afterEach(() => (saved === undefined ? delete process.env.FACTORY_COCKPIT_CLI : (process.env.FACTORY_COCKPIT_CLI = saved)));

    const runOnce = async (settings: Record<string, unknown>, step: Record<string, unknown>) => {
      const s = setup(pipeline([stage('plan', { prompt: 'Plan {{change.title}}.' })]), settings);
      cleanups.push(s.dir);
      s.steps([{ text: 'Planned.', ...step }]);
      const change = await startChange(s.deps, { title: 'Add app', branchMode: 'bindCurrent' });
      await s.runner.run({ changeId: change.id, advance: false });
      const events = await s.events(change.id);
      const started = events.find((e) => isEvent(e, 'attempt.started'))!;
      const finished = events.find((e) => isEvent(e, 'attempt.finished'))!;
      const state = foldChange(change.id, (await s.deps.store.loadPipeline()).pipeline!, events);
      return { prompt: String(started.data.prompt), finished: finished.data as { mcpStatus?: { status: string; detail?: string } }, attempt: state.stages[0]!.attempts[0]! };
    };

    it('the prompt tells of the tools only when the run passes the server; the backend\'s mcp setting off means neither', async () => {
      const on = await runOnce({}, {});
      assert.match(on.prompt, /mcp__factory__\*/);
      assert.deepEqual(on.finished.mcpStatus, { status: 'connected' }, 'what Claude Code reported in its init event');
      assert.deepEqual(on.attempt.mcpStatus, { status: 'connected' });

      const off = await runOnce({ 'factory.backends.claude-code.mcp': false }, {});
      assert.equal(off.prompt, 'Plan Add app.', 'no MCP paragraph when the server is not passed');
      assert.equal(off.finished.mcpStatus, undefined);
      assert.equal(off.attempt.mcpStatus, undefined);
    });

    it('records that the server did not start when the agent says so (the attempt itself still succeeds)', async () => {
      const failed = await runOnce({}, { mcpStatus: 'failed' });
      assert.equal(failed.attempt.outcome, 'succeeded');
      assert.deepEqual(failed.finished.mcpStatus, { status: 'failed', detail: 'status failed' });
      assert.equal(failed.attempt.mcpStatus?.status, 'failed');
    });
  });
});
