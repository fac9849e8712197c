// The verification use cases against a real git repository, real processes (a real
// `node --test` run writing JUnit), the real record store and evidence store.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEvent, type FactoryEvent } from '../../../src/core/events';
import { FileRecordStore } from '../../../src/store/recordStore';
import { FileEvidenceStore } from '../../../src/store/evidence';
import { GitAdapter } from '../../../src/git/gitAdapter';
import { loadChange, listChanges } from '../../../src/engine/changes';
import type { EngineDeps } from '../../../src/engine/ports';
import { CannotVerifyError, UnknownCriterionError, UnknownStageError, verifyEvidence, verifyStage } from '../../../src/engine/verification';

const NODE = process.execPath;

const TESTS = `
import test from 'node:test';
import assert from 'node:assert';
test('adds', () => assert.equal(1 + 1, 2));
test('compares', () => assert.strictEqual(1 + 1, 3));
`;

function pipeline(criteria: unknown[], extraStages: unknown[] = []) {
  return {
    version: 1,
    stages: [
      { id: 'implement', title: 'Implement', owner: { backend: 'claude-code' }, verification: criteria },
      { id: 'review', title: 'Review', owner: { backend: 'human', person: 'reviewer' }, verification: [{ id: 'approved', kind: 'humanApproval', approver: 'Ada' }] },
      ...extraStages,
    ],
  };
}

const PASSING = { id: 'builds', title: 'Builds', kind: 'command', argv: [NODE, '-e', 'console.log("build ok")'] };
const FAILING = { id: 'lint', kind: 'command', argv: [NODE, '-e', 'console.error("lint: 2 problems"); process.exit(3)'] };
const REPORT = { id: 'unit', kind: 'testReport', argv: [NODE, '--test', '--test-reporter=junit', '--test-reporter-destination=reports/junit.xml', 'math.test.mjs'], reports: ['reports/junit.xml'] };
const ADVISORY = { id: 'style', kind: 'command', required: false, argv: [NODE, '-e', 'process.exit(1)'] };

describe('engine: verification', function () {
  this.timeout(60_000);
  let dir: string;
  let deps: EngineDeps;
  let changeId: string;

  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim();

  async function setUp(criteria: unknown[]): Promise<void> {
    mkdirSync(join(dir, '.factory'), { recursive: true });
    writeFileSync(join(dir, '.factory', 'pipeline.json'), JSON.stringify(pipeline(criteria), null, 2));
    changeId = deps.store.newChangeId('Verify me');
    await deps.store.append(changeId, { type: 'change.created', data: { title: 'Verify me', branch: 'main' } });
  }

  async function recorded(): Promise<FactoryEvent[]> {
    return (await deps.store.readChange(changeId)).events.filter((e) => e.type === 'verification.recorded');
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fc-verification-'));
    git('init', '-q', '-b', 'main');
    git('config', 'user.name', 'Ada');
    git('config', 'user.email', 'ada@example.com');
    writeFileSync(join(dir, 'math.test.mjs'), TESTS);
    // Reports are build output: ignored, so writing one does not change the verified tree.
    writeFileSync(join(dir, '.gitignore'), 'reports/\n');
    mkdirSync(join(dir, 'reports'));
    git('add', '-A');
    git('commit', '-qm', 'init');
    const store = new FileRecordStore(dir);
    deps = { store, git: new GitAdapter(dir), evidence: new FileEvidenceStore(dir), clock: { now: () => new Date() } };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs a passing and a failing command and a real JUnit run, recording one event per criterion bound to the tree', async () => {
    await setUp([PASSING, FAILING, REPORT]);
    const tree = await deps.git.workingTreeHash();
    const head = git('rev-parse', 'HEAD');
    const started: string[] = [];
    const output: string[] = [];
    const run = await verifyStage(deps, {
      changeId,
      stageId: 'implement',
      progress: { criterionStarted: (c) => started.push(c.id), output: (_c, _s, text) => output.push(text) },
    });

    assert.deepEqual(started, ['builds', 'lint', 'unit']);
    assert.ok(output.join('').includes('build ok'));
    assert.equal(run.passed, false);
    assert.equal(run.tree, tree);
    assert.deepEqual(run.results.map((r) => [r.criterionId, r.outcome]), [['builds', 'passed'], ['lint', 'failed'], ['unit', 'failed']]);
    const unit = run.results[2]!;
    assert.equal(unit.message, '1 of 2 tests passed, 1 failed');
    const failing = unit.tests!.cases.find((c) => c.name === 'compares')!;
    assert.equal(failing.problems[0]!.expected, '3');
    assert.equal(failing.problems[0]!.actual, '2');
    // What the stage engine feeds into the next attempt's prompt.
    assert.match(run.failureFeedback ?? '', /"lint" \(command\) failed: exited with code 3/);
    assert.match(run.failureFeedback ?? '', /lint: 2 problems/);
    assert.match(run.failureFeedback ?? '', /FAILED: compares/);
    assert.doesNotMatch(run.failureFeedback ?? '', /builds/);

    const events = await recorded();
    assert.deepEqual(events.map((e) => e.id), run.events.map((e) => e.id));
    for (const event of events) {
      assert.ok(isEvent(event, 'verification.recorded'));
      assert.equal(event.data.stageId, 'implement');
      assert.deepEqual(event.data.verified, { commit: head, tree });
      assert.equal(event.by?.name, 'Ada');
    }
    const unitEvent = events.find((e) => e.data.criterionId === 'unit')!;
    assert.deepEqual(unitEvent.data.totals, { tests: 2, passed: 1, failures: 1, errors: 0, skipped: 0, todo: 0 });
    // Logs and the report are stored by content and still match their hashes.
    const evidence = (unitEvent.data.evidence as { sha256: string; name: string }[]).map((e) => e.name);
    assert.deepEqual(evidence.sort(), ['unit.reports__junit.xml', 'unit.stderr.log', 'unit.stdout.log']);
    const report = (unitEvent.data.evidence as { sha256: string; name: string }[]).find((e) => e.name === 'unit.reports__junit.xml')!;
    assert.match((await deps.evidence.read(report)).toString('utf8'), /<testcase name="compares"/);
    assert.deepEqual((await verifyEvidence(deps, changeId)).mismatches, []);

    // The fold sees the results; an edit after the run makes the passing one stale.
    const fresh = (await loadChange(deps, changeId, { currentTree: tree })).state;
    assert.equal(fresh.stages[0]!.status, 'failed');
    assert.deepEqual(fresh.verification, { state: 'failed', passed: 1, failed: 2, stale: 0, total: 3 });
    writeFileSync(join(dir, 'math.test.mjs'), TESTS.replace('3)', '2)'));
    const now = await deps.git.workingTreeHash();
    assert.notEqual(now, tree);
    const list = await listChanges(deps, { currentTree: now });
    assert.equal(list.changes[0]!.verification.stale, 3);

    // Re-run after the fix: fresh again and green.
    const again = await verifyStage(deps, { changeId, stageId: 'implement', criterionIds: ['unit', 'builds'] });
    assert.equal(again.passed, true, JSON.stringify(again.results.map((r) => r.message)));
    assert.equal(again.failureFeedback, undefined);
    const after = (await loadChange(deps, changeId, { currentTree: now })).state;
    assert.deepEqual(after.stages[0]!.results.filter((r) => r.verifiedTree === now).map((r) => r.criterionId).sort(), ['builds', 'unit']);
  });

  it('runs only what was asked: some criteria, or only the required ones', async () => {
    await setUp([PASSING, ADVISORY, FAILING]);
    const some = await verifyStage(deps, { changeId, stageId: 'implement', criterionIds: ['lint'] });
    assert.deepEqual(some.results.map((r) => r.criterionId), ['lint']);
    const required = await verifyStage(deps, { changeId, stageId: 'implement', requiredOnly: true });
    assert.deepEqual(required.criteria.map((c) => c.id), ['builds', 'lint']);
    assert.equal((await recorded()).length, 3);
    await assert.rejects(verifyStage(deps, { changeId, stageId: 'implement', criterionIds: ['nope'] }), (e: unknown) => e instanceof UnknownCriterionError && /no verification criterion "nope" \(criteria: builds, style, lint\)/.test(e.message));
    await assert.rejects(verifyStage(deps, { changeId, stageId: 'ship' }), (e: unknown) => e instanceof UnknownStageError && /stages: implement, review/.test(e.message));
    await assert.rejects(verifyStage(deps, { changeId: 'no-such-change', stageId: 'implement' }), /no change "no-such-change"/);
  });

  it('an advisory failure is reported but the stage still passes', async () => {
    await setUp([PASSING, ADVISORY]);
    const run = await verifyStage(deps, { changeId, stageId: 'implement' });
    assert.equal(run.passed, true);
    assert.equal(run.results[1]!.outcome, 'failed');
    assert.equal(run.failureFeedback, undefined);
  });

  it('cancellation stops the running command with its process tree and records nothing for the criteria not reached', async () => {
    const pidFile = join(dir, 'reports', 'grandchild.pid');
    // A child that starts a grandchild which would outlive it, then both wait.
    const slow = {
      id: 'slow',
      kind: 'command',
      argv: [NODE, '-e', `const {spawn}=require('child_process');const g=spawn(process.execPath,['-e','setInterval(()=>{},1000)'],{stdio:'ignore'});require('fs').writeFileSync(${JSON.stringify(pidFile)},String(g.pid));setInterval(()=>{},1000);`],
    };
    await setUp([PASSING, slow, FAILING]);
    const controller = new AbortController();
    const running = verifyStage(deps, {
      changeId,
      stageId: 'implement',
      signal: controller.signal,
      progress: {
        criterionStarted: (c) => {
          if (c.id !== 'slow') return;
          const poll = setInterval(() => {
            if (existsSync(pidFile) && readFileSync(pidFile, 'utf8')) {
              clearInterval(poll);
              controller.abort();
            }
          }, 20);
        },
      },
    });
    const run = await running;
    assert.equal(run.cancelled, true);
    assert.deepEqual(run.results.map((r) => [r.criterionId, r.outcome]), [['builds', 'passed'], ['slow', 'error'], ['lint', 'skipped']]);
    assert.equal(run.results[1]!.message, 'cancelled');
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    assert.equal(alive(grandchild), false, 'the grandchild was killed with the tree');
    assert.deepEqual((await recorded()).map((e) => e.data.criterionId), ['builds', 'slow']);
  });

  it('takes approvals from the record: the latest review decision on the stage counts', async () => {
    await setUp([PASSING]);
    const waiting = await verifyStage(deps, { changeId, stageId: 'review' });
    assert.equal(waiting.waitingForApproval, true);
    assert.equal(waiting.results[0]!.outcome, 'skipped');
    await deps.store.append(changeId, { type: 'review.decided', by: { name: 'Ada' }, data: { stageId: 'review', decision: 'sentBack', note: 'needs tests' } });
    const rejected = await verifyStage(deps, { changeId, stageId: 'review' });
    assert.equal(rejected.results[0]!.outcome, 'failed');
    assert.match(rejected.failureFeedback ?? '', /Ada rejected the work: needs tests/);
    await deps.store.append(changeId, { type: 'review.decided', by: { name: 'Ada' }, data: { stageId: 'review', decision: 'approved' } });
    const approved = await verifyStage(deps, { changeId, stageId: 'review' });
    assert.equal(approved.passed, true);
    assert.match(approved.results[0]!.message, /^approved by Ada at /);
    // A decision on another stage, or by someone else, does not count.
    const other = await verifyStage(deps, { changeId, stageId: 'review', approvals: { approvalFor: async () => ({ by: 'Bob', at: new Date().toISOString(), decision: 'approved' }) } });
    assert.equal(other.results[0]!.outcome, 'skipped');
  });

  it('refuses before starting anything when the tree cannot be hashed (untrusted workspace, not a repository)', async () => {
    const marker = join(dir, 'ran.txt');
    await setUp([{ id: 'marks', kind: 'command', argv: [NODE, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran')`] }]);
    const refusing = { ...deps, git: Object.assign(Object.create(deps.git) as EngineDeps['git'], { workingTreeHash: () => Promise.reject(new Error('This workspace is not trusted: Factory Cockpit does not run git here.')) }) };
    await assert.rejects(verifyStage(refusing, { changeId, stageId: 'implement' }), (e: unknown) => e instanceof CannotVerifyError && /Cannot verify: This workspace is not trusted/.test(e.message));
    assert.equal(existsSync(marker), false, 'the command never ran');
    assert.equal((await recorded()).length, 0);
  });

  it('verifies evidence: all files match, a tampered one and a deleted one are named', async () => {
    await setUp([PASSING, FAILING]);
    await verifyStage(deps, { changeId, stageId: 'implement' });
    const all = await verifyEvidence(deps);
    assert.equal(all.mismatches.length, 0);
    const events = await recorded();
    const refs = events.flatMap((e) => e.data.evidence as { sha256: string; name: string }[]);
    // Two commands × two logs; the empty stderr of "builds" and empty stdout of "lint" share one file.
    assert.equal(all.checked, new Set(refs.map((r) => r.sha256)).size);
    assert.equal((await verifyEvidence(deps, changeId)).checked, all.checked);

    const stdout = refs.find((r) => r.name === 'builds.stdout.log')!;
    const file = join(dir, deps.evidence.pathOf(stdout));
    writeFileSync(file, 'build FAILED (edited)\n');
    const stderr = refs.find((r) => r.name === 'lint.stderr.log')!;
    rmSync(join(dir, deps.evidence.pathOf(stderr)));

    const whole = await verifyEvidence(deps);
    assert.deepEqual(whole.mismatches.map((m) => [m.problem, m.names]), [['altered', ['builds.stdout.log']]]);
    assert.match(whole.mismatches[0]!.message, new RegExp(`^\\.factory/evidence/${stdout.sha256.slice(0, 2)}/${stdout.sha256.slice(2)}: the bytes were altered`));
    // Per change, the record says what should be there, so a deleted file is found too.
    const perChange = await verifyEvidence(deps, changeId);
    assert.deepEqual(perChange.mismatches.map((m) => m.problem).sort(), ['altered', 'missing']);
    assert.deepEqual(perChange.mismatches.find((m) => m.problem === 'missing')!.names, ['lint.stderr.log']);
    assert.deepEqual(perChange.mismatches[0]!.changes, [changeId]);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
