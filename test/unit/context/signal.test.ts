import { strict as assert } from 'node:assert';
import { ulid } from 'ulid';
import { defaultPipeline } from '../../../src/core/pipeline';
import { changeSignal, checkAttemptsContext, contextRereads, signalShare } from '../../../src/core/signal';
import { foldContextPack } from '../../../src/core/contextPack';
import { makeWorkspace, type Workspace } from './helpers';

// Recorded attempts and handoffs in a real record, as the engine will write them.
describe('re-created context: the signal', () => {
  let ws: Workspace;
  const pipeline = defaultPipeline();
  const stageOrder = pipeline.stages.map((s) => s.id);

  beforeEach(async () => {
    ws = await makeWorkspace({ 'src/a.ts': 'a\n', 'src/b.ts': 'b\n', 'PLAN.md': '# plan\n', 'notes/x.md': 'x\n' });
  });
  afterEach(() => ws.cleanup());

  async function startAttempt(stageId: string, contextVersion?: string): Promise<string> {
    const attemptId = ulid();
    await ws.records.append('c1', { type: 'attempt.started', data: { stageId, attemptId, backend: 'claude-code', ...(contextVersion ? { contextVersion } : {}) } });
    await ws.records.append('c1', { type: 'attempt.finished', data: { stageId, attemptId, outcome: 'succeeded' } });
    return attemptId;
  }

  /** A handoff on positive evidence: a required criterion of the stage passed first (a send-back to the same stage needs none). */
  async function handoff(fromStage: string, contextVersion?: string, toStage?: string, evidence = toStage !== fromStage): Promise<void> {
    if (evidence) await ws.records.append('c1', { type: 'verification.recorded', data: { stageId: fromStage, criterionId: 'checked', outcome: 'passed', required: true } });
    await ws.records.append('c1', { type: 'handoff.recorded', data: { fromStage, ...(toStage ? { toStage } : {}), ...(contextVersion ? { contextVersion } : {}) } });
  }

  async function version(): Promise<string> {
    return (await ws.packs.load('c1')).version;
  }

  /** plan → implement → test → review → qa, each consuming what the previous stage handed forward. */
  async function cleanRun(): Promise<Record<string, string>> {
    await ws.packs.addTicket('c1', { text: 'Do the thing.' });
    await ws.packs.addFileItem('c1', { path: 'src/a.ts' });
    const attempts: Record<string, string> = {};
    for (const stageId of stageOrder) {
      attempts[stageId] = await startAttempt(stageId, await version());
      if (stageId === 'plan') await ws.packs.addStageOutput('c1', { stageId: 'plan', path: 'PLAN.md' });
      await handoff(stageId, await version());
    }
    return attempts;
  }

  it('an attempt that consumed the version the previous handoff carried forward did not re-create context', async () => {
    const attempts = await cleanRun();
    const checks = checkAttemptsContext((await ws.records.readChange('c1')).events, stageOrder);
    assert.equal(checks.length, stageOrder.length);
    for (const check of checks) assert.equal(check.recreated, false, `${check.stageId}: ${check.reason}`);
    assert.match(checks[0]!.reason, /first stage consumed the pack as gathered/);
    const implement = checks.find((c) => c.attemptId === attempts.implement)!;
    assert.equal(implement.consumedVersion, implement.expectedVersion);
    assert.match(implement.reason, /handoff from plan carried forward/);

    const signal = changeSignal('c1', pipeline, (await ws.records.readChange('c1')).events);
    assert.equal(signal.verdict, true);
    assert.deepEqual(signal.recreated, []);
    assert.ok(signal.stages.every((s) => s.through));
  });

  it('an attempt that consumed another version, or none, or had no handoff to consume, re-created context', async () => {
    await ws.packs.addFileItem('c1', { path: 'src/a.ts' });
    await startAttempt('plan', await version());
    await handoff('plan', await version());
    // The implementer gathered context again instead of taking the handed-forward pack.
    await ws.packs.addFileItem('c1', { path: 'src/b.ts' });
    const implement = await startAttempt('implement', await version());
    const implementRetry = await startAttempt('implement');
    // test starts before implement handed off.
    const test = await startAttempt('test', await version());
    const events = (await ws.records.readChange('c1')).events;
    const checks = checkAttemptsContext(events, stageOrder);
    const byId = new Map(checks.map((c) => [c.attemptId, c]));
    assert.equal(byId.get(implement)?.recreated, true);
    assert.match(byId.get(implement)!.reason, /^consumed version [0-9a-f]{12}, but the handoff from plan carried [0-9a-f]{12}$/);
    assert.equal(byId.get(implementRetry)?.recreated, true);
    assert.match(byId.get(implementRetry)!.reason, /started without a context version/);
    assert.equal(byId.get(test)?.recreated, true);
    assert.match(byId.get(test)!.reason, /no handoff to consume: implement had not handed off/);

    const signal = changeSignal('c1', pipeline, events);
    assert.equal(signal.verdict, false, 'false even though the change is not through: it can no longer pass');
    assert.deepEqual(signal.recreated.map((c) => c.attemptId).sort(), [implement, implementRetry, test].sort());
  });

  it('taking the project\'s conventions again between stages (a promoted lesson) is no re-creation; any other edit still is', async () => {
    await ws.write('.factory/conventions.md', '# Project conventions\n\n- Cover the error paths.\n');
    await ws.packs.addFileItem('c1', { path: 'src/a.ts' });
    await startAttempt('plan', await version());
    await handoff('plan', await version());
    // The lead promotes a lesson while the change waits: the pack takes the conventions file (added, then refreshed).
    await ws.packs.addConventionItems('c1', { paths: ['.factory/conventions.md'] });
    await ws.write('.factory/conventions.md', '# Project conventions\n\n- Cover the error paths.\n- Name the flaky test.\n');
    await ws.packs.addConventionItems('c1', { paths: ['.factory/conventions.md'] });
    const implement = await startAttempt('implement', await version());
    await handoff('implement', await version());
    await ws.packs.addConventionItems('c1', { paths: ['.factory/conventions.md'] }); // unchanged: no new version
    await ws.packs.addNote('c1', { text: 'The tester gathered this again.' });
    const test = await startAttempt('test', await version());
    const events = (await ws.records.readChange('c1')).events;
    const byId = new Map(checkAttemptsContext(events, stageOrder).map((c) => [c.attemptId, c]));
    // Without a pack given, the one folded from the change's context events alone: the same as from all of them.
    assert.deepEqual([...byId.values()], checkAttemptsContext(events, stageOrder, foldContextPack(events)));
    assert.equal(byId.get(implement)?.recreated, false, byId.get(implement)?.reason);
    assert.match(byId.get(implement)!.reason, /handoff from plan carried forward, with the project's conventions refreshed since/);
    assert.notEqual(byId.get(implement)!.consumedVersion, byId.get(implement)!.expectedVersion);
    assert.equal(byId.get(test)?.recreated, true, 'a note added after the handoff is not a convention');
  });

  it('the first stage re-creates context when it starts without the pack or with a version the pack never had', async () => {
    await ws.packs.addFileItem('c1', { path: 'src/a.ts' });
    const none = await startAttempt('plan');
    const foreign = await startAttempt('plan', 'e'.repeat(64));
    const checks = checkAttemptsContext((await ws.records.readChange('c1')).events, stageOrder);
    assert.deepEqual(
      checks.map((c) => [c.attemptId, c.recreated]),
      [
        [none, true],
        [foreign, true],
      ],
    );
    assert.match(checks[1]!.reason, /which this change's pack never had/);
  });

  it('a handoff that carried no version breaks the chain; a send-back handoff counts for the stage it goes to', async () => {
    await ws.packs.addFileItem('c1', { path: 'src/a.ts' });
    await startAttempt('plan', await version());
    await handoff('plan'); // no contextVersion
    const implement = await startAttempt('implement', await version());
    // Review sends the change back to implement with a new pack version.
    await ws.packs.addNote('c1', { text: 'Reviewer: handle empty input.' });
    await handoff('review', await version(), 'implement');
    const again = await startAttempt('implement', await version());
    const checks = checkAttemptsContext((await ws.records.readChange('c1')).events, stageOrder);
    const byId = new Map(checks.map((c) => [c.attemptId, c]));
    assert.equal(byId.get(implement)?.recreated, true);
    assert.match(byId.get(implement)!.reason, /handoff from plan carried no context version/);
    assert.equal(byId.get(again)?.recreated, false);
    assert.match(byId.get(again)!.reason, /handoff from review/);
  });

  it('the verdict is incomplete until every covered stage is through, and the share counts decided changes only', async () => {
    await ws.packs.addFileItem('c1', { path: 'src/a.ts' });
    await startAttempt('plan', await version());
    await handoff('plan', await version());
    await startAttempt('implement', await version());
    const events = (await ws.records.readChange('c1')).events;
    const partial = changeSignal('c1', pipeline, events);
    assert.equal(partial.verdict, 'incomplete');
    assert.deepEqual(
      partial.stages.map((s) => [s.stageId, s.through]),
      [
        ['plan', true],
        ['implement', false],
        ['test', false],
        ['review', false],
        ['qa', false],
      ],
    );
    assert.equal(changeSignal('c1', pipeline, events, { stages: ['plan'] }).verdict, true);
    assert.throws(() => changeSignal('c1', pipeline, events, { stages: ['evidence'] }), /does not have: evidence/);
    assert.deepEqual(signalShare([{ verdict: true }, { verdict: true }, { verdict: false }, { verdict: 'incomplete' }, { verdict: 'unverified' }]), {
      kept: 2,
      recreated: 1,
      unverified: 1,
      incomplete: 1,
      total: 5,
      share: 2 / 4,
    });
    assert.equal(signalShare([{ verdict: 'incomplete' }]).share, undefined);
  });

  it('a stage that handed off on nothing but the agent\'s word is passed, unverified, and the change does not count as kept', async () => {
    await ws.packs.addFileItem('c1', { path: 'src/a.ts' });
    for (const stageId of stageOrder) {
      await startAttempt(stageId, await version());
      // The test stage hands off with no criterion passed: the phantom completion.
      await handoff(stageId, await version(), undefined, stageId !== 'test');
    }
    const signal = changeSignal('c1', pipeline, (await ws.records.readChange('c1')).events);
    assert.equal(signal.verdict, 'unverified');
    assert.deepEqual(signal.unverified, ['test']);
    assert.deepEqual(signal.recreated, []);
    assert.equal(signal.stages.find((s) => s.stageId === 'test')?.through, true);
    assert.equal(signalShare([signal]).share, 0);
  });

  it('counts files an attempt read that its consumed pack already held, as an advisory figure', async () => {
    await ws.packs.addFileItem('c1', { path: 'src/a.ts' });
    await ws.packs.addSelectionItem('c1', { path: 'src/b.ts', range: { startLine: 1, endLine: 1 }, text: 'b' });
    await ws.packs.addFolderItem('c1', { path: 'notes' });
    const plan = await startAttempt('plan', await version());
    await ws.packs.addStageOutput('c1', { stageId: 'plan', path: 'PLAN.md' });
    await handoff('plan', await version());
    const implement = await startAttempt('implement', await version());
    const reads = new Map<string, string[]>([
      // PLAN.md was not in the pack plan consumed; a folder listing does not hold notes/x.md's content.
      [plan, ['src/a.ts', './src/a.ts', 'PLAN.md', 'notes/x.md', 'src/b.ts']],
      [implement, ['PLAN.md', 'src/c.ts', '../outside.ts']],
      ['01ARZ3NDEKTSV4RRFFQ69G5FAV', ['src/a.ts']],
    ]);
    const events = (await ws.records.readChange('c1')).events;
    const rereads = contextRereads(events, reads);
    const byId = new Map(rereads.map((r) => [r.attemptId, r]));
    assert.deepEqual(byId.get(plan), {
      attemptId: plan,
      stageId: 'plan',
      consumedVersion: byId.get(plan)!.consumedVersion,
      packKnown: true,
      filesRead: 4,
      alreadyHeld: ['src/a.ts', 'src/b.ts'],
    });
    assert.equal(byId.get(implement)?.filesRead, 2);
    assert.deepEqual(byId.get(implement)?.alreadyHeld, ['PLAN.md']);
    const unknown = byId.get('01ARZ3NDEKTSV4RRFFQ69G5FAV')!;
    assert.equal(unknown.packKnown, false);
    assert.deepEqual(unknown.alreadyHeld, []);
    // Re-reads never count in the signal.
    assert.equal(changeSignal('c1', pipeline, events, { stages: ['plan', 'implement'] }).recreated.length, 0);
  });
});
