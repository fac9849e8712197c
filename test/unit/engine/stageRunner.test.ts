// The engine end to end without VS Code: a real git repository, the real record,
// evidence and context stores, the real Claude Code backend spawning a scripted agent
// CLI (test/fixtures/agents/scripted-claude-code.mjs), and the real verification.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { FileRecordStore } from '../../../src/store/recordStore';
import { FileEvidenceStore } from '../../../src/store/evidence';
import { EvidenceContentStore } from '../../../src/store/contextContent';
import { ContextPackStore } from '../../../src/store/contextPackStore';
import { GitAdapter } from '../../../src/git/gitAdapter';
import { createBackends } from '../../../src/backends';
import { startChange } from '../../../src/engine/changes';
import { verifyStage } from '../../../src/engine/verification';
import { StageRunner, type RunObserver } from '../../../src/engine/stageRunner';
import { foldChange } from '../../../src/core/fold';
import { isEvent, type FactoryEvent } from '../../../src/core/events';
import type { EngineDeps } from '../../../src/engine/ports';

const SCRIPTED = resolve(__dirname, '..', '..', 'fixtures', 'agents', 'scripted-claude-code.mjs');

interface Setup {
  dir: string;
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

function setup(pipelineJson: string): Setup {
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
  const store = new FileRecordStore(dir);
  const evidence = new FileEvidenceStore(dir);
  const deps: EngineDeps = { store, git: new GitAdapter(dir), evidence, clock: { now: () => new Date() } };
  const context = new ContextPackStore({ records: store, content: new EvidenceContentStore(evidence) });
  const gates: string[] = [];
  const observer: RunObserver = { gate: (g) => gates.push(`${g.stageId}:${g.reason}`) };
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const runner = new StageRunner(
    {
      ...deps,
      backends: createBackends({ 'claude-code': { path: SCRIPTED }, killGraceMs: 500 }),
      context,
      verify: (input) => verifyStage(deps, input),
      agentEnv: async () => ({ env: { ...process.env, SCRIPTED_AGENT_STEPS: stepsFile, SCRIPTED_AGENT_PIDS: `${stepsFile}.pids`, ANTHROPIC_API_KEY: 'sk-test-secret-123' }, secrets: ['sk-test-secret-123'] }),
      host: { pid: process.pid, hostname: hostname(), isAlive: alive },
    },
    observer,
  );
  return {
    dir,
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
    assert.match(String(started[1]!.data.prompt), /Handoff from plan: Planned: two steps\./);
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
