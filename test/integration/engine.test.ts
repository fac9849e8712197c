// The stage engine in a real VS Code: running stages through the real commands with
// the real Claude Code backend spawning a scripted agent CLI, gates, budgets, retries,
// stop and rollback — checked in the record, the cockpit's state and the workbench.
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { FileRecordStore } from '../../src/store/recordStore';
import { isEvent, type FactoryEvent } from '../../src/core/events';
import type { RunReport } from '../../src/engine/stageRunner';
import { answerQuickInput, browser, eventually, runConfig } from './support/driver';
import { cockpitApi, snapshotWhere } from './support/cockpit';

const config = runConfig();
const SIDEBAR_ROWS = '.part.sidebar .monaco-list-row';
const ws = config.workspace;
const scripted = join(config.repo, 'test', 'fixtures', 'agents', 'scripted-claude-code.mjs');
const stepsDir = mkdtempSync(join(tmpdir(), 'fc-steps-'));
let stepsFile = '';
let round = 0;

/** The next runs of the agent take these steps, in order. */
async function agentSteps(steps: unknown[]): Promise<void> {
  stepsFile = join(stepsDir, `steps-${round++}.json`);
  writeFileSync(stepsFile, JSON.stringify(steps));
  await vscode.workspace.getConfiguration('factory.backends').update('claude-code.extraArgs', ['--steps', stepsFile], vscode.ConfigurationTarget.Global);
}

function writePipeline(stages: unknown[]): void {
  writeFileSync(join(ws, '.factory', 'pipeline.json'), JSON.stringify({ version: 1, stages }, null, 2));
}

const agentStage = (id: string, extra: Record<string, unknown> = {}) => ({ id, title: id[0]!.toUpperCase() + id.slice(1), owner: { backend: 'claude-code' }, autonomy: 'auto', ...extra });

async function events(changeId: string): Promise<FactoryEvent[]> {
  return (await new FileRecordStore(ws).readChange(changeId)).events;
}

async function newChange(title: string): Promise<string> {
  const id = await vscode.commands.executeCommand<string>('factory.startChange', { title, branch: 'none' });
  assert.ok(id);
  await snapshotWhere(await cockpitApi(), (s) => s.current?.id === id, `change ${title} current`);
  return id;
}

describe('Stage engine in the editor', function () {
  this.timeout(300_000);

  before(async () => {
    await vscode.workspace.getConfiguration('factory.backends').update('claude-code.path', scripted, vscode.ConfigurationTarget.Global);
  });
  after(() => rmSync(stepsDir, { recursive: true, force: true }));

  it('runs a pipeline unattended to its person-owned stage, recording attempts, handoffs and context versions', async () => {
    writePipeline([
      agentStage('plan', { outputs: ['PLAN.md'], verification: [{ id: 'plan-written', kind: 'fileExists', paths: ['PLAN.md'] }], prompt: 'Plan {{change.title}}.\n{{context}}' }),
      agentStage('implement', { prompt: 'Implement.\n{{previous.summary}}\n{{context}}', verification: [{ id: 'module-loads', kind: 'command', argv: ['node', 'src/reset.js'] }] }),
      { id: 'review', title: 'Review', owner: { backend: 'human', person: 'Rita' }, autonomy: 'auto' },
    ]);
    await agentSteps([
      { text: 'Plan: a reset module.', read: ['README.md'], write: { 'PLAN.md': '# Plan\n- src/reset.js\n' } },
      { text: 'Implemented src/reset.js.', read: ['PLAN.md'], write: { 'src/reset.js': 'console.log("reset")\n' } },
    ]);
    const id = await newChange('Password reset, unattended');
    const report = await vscode.commands.executeCommand<RunReport>('factory.runNext');
    assert.equal(report?.stopped, 'waitingForPerson', report?.detail);
    const all = await events(id);
    const started = all.filter((e) => isEvent(e, 'attempt.started'));
    const handoffs = all.filter((e) => isEvent(e, 'handoff.recorded'));
    assert.deepEqual(started.map((e) => e.data.stageId), ['plan', 'implement', 'review']);
    assert.deepEqual(handoffs.map((e) => `${e.data.fromStage}->${e.data.toStage}`), ['plan->implement', 'implement->review']);
    assert.equal(started[1]!.data.contextVersion, handoffs[0]!.data.contextVersion, 'implement consumed the version plan handed forward');
    assert.equal(started[2]!.data.contextVersion, handoffs[1]!.data.contextVersion, 'review consumed the version implement handed forward');
    assert.match(String(started[1]!.data.prompt), /Implement\.\nPlan: a reset module\./);
    // The view reads the record asynchronously: wait for it to show all three.
    const s = await snapshotWhere(await cockpitApi(), (x) => x.current?.stages.map((st) => st.status).join() === 'passed,passed,running', 'plan and implement passed, review open in the view');
    assert.equal(s.current!.stages[2]!.owner.person, 'Rita');
    // The person finishes their stage by hand: the note is asked for in the editor.
    const done = vscode.commands.executeCommand('factory.completeByHand', { changeId: id, stageId: 'review' });
    await answerQuickInput('Reviewed: reset flow reads well.');
    assert.equal(await done, true);
    const after = await snapshotWhere(await cockpitApi(), (x) => x.current?.stages[2]?.status === 'passed', 'review passed');
    assert.equal(after.current!.activeStageId, undefined);
    const closing = (await events(id)).filter((e) => isEvent(e, 'attempt.finished')).pop()!;
    assert.equal(closing.data.summary, 'Reviewed: reset flow reads well.');
  });

  it('retries a failing stage with the failure text in the next rendered prompt', async () => {
    writePipeline([agentStage('implement', { retry: { maxAttempts: 2 }, prompt: 'Implement.\n{{failures}}', verification: [{ id: 'has-output', kind: 'fileExists', paths: ['out/result.txt'] }] })]);
    await agentSteps([{ text: 'Done, I think.' }, { text: 'Now really done.', write: { 'out/result.txt': 'ok\n' } }]);
    const id = await newChange('Retry with feedback');
    const report = await vscode.commands.executeCommand<RunReport>('factory.runNext');
    assert.equal(report?.stopped, 'completed', report?.detail);
    const started = (await events(id)).filter((e) => isEvent(e, 'attempt.started'));
    assert.equal(started.length, 2);
    assert.match(String(started[1]!.data.prompt), /Verification "has-output" failed/);
    assert.match(String(started[1]!.data.prompt), /out\/result\.txt/);
  });

  it('stops an attempt over its budget, records why, and asks the owner what next', async () => {
    writePipeline([agentStage('implement', { budget: { costUsd: 0.001 } })]);
    await agentSteps([{ hang: true }]);
    const id = await newChange('Over budget');
    const report = await vscode.commands.executeCommand<RunReport>('factory.runNext');
    assert.equal(report?.stopped, 'budget');
    const finished = (await events(id)).find((e) => isEvent(e, 'attempt.finished'))!;
    assert.equal(finished.data.outcome, 'budgetExceeded');
    assert.match(String(finished.data.reason), /cost/i);
    await vscode.commands.executeCommand('notifications.showList');
    await eventually(async () => (await browser.texts('.notifications-center .notification-list-item')).some((t) => /stopped: .*cost/i.test(t) && t.includes('Change Owner')), 'the budget notification with its choices');
    await vscode.commands.executeCommand('notifications.hideList');
  });

  it('stops at an approval gate; approving from the notification hands off', async () => {
    writePipeline([agentStage('plan', { autonomy: 'approve' }), agentStage('implement')]);
    await agentSteps([{ text: 'Plan ready.' }, { text: 'Built.' }]);
    const id = await newChange('Gated plan');
    const report = await vscode.commands.executeCommand<RunReport>('factory.runNext');
    assert.equal(report?.stopped, 'approval');
    await snapshotWhere(await cockpitApi(), (x) => x.current?.stages[0]?.status === 'needsApproval', 'plan needs approval');
    const rows = await eventually(async () => {
      const labels = (await browser.attributes('.part.sidebar .monaco-list-row', 'aria-label')) as string[];
      return labels.some((l) => l?.startsWith('Plan, needs approval')) ? labels : undefined;
    }, 'the needs-approval row');
    assert.ok(rows.length > 0);
    await vscode.commands.executeCommand('notifications.showList');
    await browser.click('.notifications-center .monaco-button:has-text("Approve")');
    await vscode.commands.executeCommand('notifications.hideList');
    const s = await snapshotWhere(await cockpitApi(), (x) => x.current?.stages[0]?.status === 'passed', 'plan approved');
    assert.equal(s.current!.stages[1]!.attempts.length, 0, 'approval hands off; the next stage waits for a run');
    const review = (await events(id)).find((e) => isEvent(e, 'review.decided'))!;
    assert.equal(review.data.decision, 'approved');
    assert.equal(review.by?.name, 'Dana Developer');
  });

  it('sends back from the approval notification: the stage reopens in the view, and its next run gets the note', async () => {
    writePipeline([agentStage('plan', { autonomy: 'approve', prompt: 'Plan.\n{{failures}}' }), agentStage('implement')]);
    await agentSteps([{ text: 'Plan v1.' }, { text: 'Plan v2.' }]);
    const id = await newChange('Sent back from the notification');
    await vscode.commands.executeCommand('notifications.clearAll');
    const report = await vscode.commands.executeCommand<RunReport>('factory.runNext');
    assert.equal(report?.stopped, 'approval');
    await vscode.commands.executeCommand('notifications.showList');
    await browser.click('.notifications-center .monaco-button:has-text("Send Back")');
    await vscode.commands.executeCommand('notifications.hideList');
    await answerQuickInput('Say how the token expires.');
    const s = await snapshotWhere(await cockpitApi(), (x) => x.current?.id === id && x.current.stages[0]?.status === 'sentBack', 'plan reopened (sent back), not passed');
    assert.equal(s.current!.stages[0]!.sentBack?.note, 'Say how the token expires.');
    await eventually(async () => ((await browser.attributes(`${SIDEBAR_ROWS}`, 'aria-label')) as string[]).some((l) => l?.startsWith('Plan, sent back')), 'the Plan row reads "sent back"');
    const sent = (await events(id)).find((e) => isEvent(e, 'stage.sentBack'))!;
    assert.ok(isEvent(sent, 'stage.sentBack'));
    assert.deepEqual([sent.data.fromStage, sent.data.toStage, sent.by?.name], ['plan', 'plan', 'Dana Developer']);
    // Run Next re-runs the reopened stage with the reviewer's note as its failure text.
    assert.equal((await vscode.commands.executeCommand<RunReport>('factory.runNext'))?.stopped, 'approval');
    const started = (await events(id)).filter((e) => isEvent(e, 'attempt.started'));
    assert.match(String(started[1]!.data.prompt), /A reviewer sent it back: Say how the token expires\./);
  });

  it('offers in the tree only what the engine allows, refuses the rest from the palette with its sentence, and sends back to an earlier stage from the menu', async () => {
    writePipeline([agentStage('plan'), agentStage('implement', { autonomy: 'approve' })]);
    await agentSteps([{ text: 'Plan.' }, { text: 'Built.' }]);
    const id = await newChange('Back to the plan');
    assert.equal((await vscode.commands.executeCommand<RunReport>('factory.runNext'))?.stopped, 'approval');
    await snapshotWhere(await cockpitApi(), (x) => x.current?.id === id && x.current.stages.map((st) => st.status).join() === 'passed,needsApproval', 'plan passed, implement waiting');
    await vscode.commands.executeCommand('notifications.clearAll');
    await vscode.commands.executeCommand('factory.showStages');

    // The tree re-renders a moment after the snapshot changes: a menu opened on the row
    // before that shows the row's previous actions, so it is opened again until it is current.
    const menuOf = async (label: string, current: (items: string[]) => boolean = () => true): Promise<string[]> =>
      eventually(async () => {
        await browser.contextClick(`${SIDEBAR_ROWS}:visible[aria-label^="${label},"]`, 3_000);
        const items = await browser.texts('.context-view .monaco-menu .action-label', 2_000);
        if (items.length && current(items)) return items;
        await browser.press('Escape');
        return undefined;
      }, `the context menu of ${label}`);
    const planMenu = await menuOf('Plan', (items) => items.includes('Send Stage Back'));
    await browser.screenshot('stage-menu-passed');
    await browser.press('Escape');
    assert.ok(planMenu.includes('Send Stage Back'), JSON.stringify(planMenu));
    for (const refused of ['Approve Stage', 'Stop Stage', 'Mark Stage Done by Hand']) assert.ok(!planMenu.includes(refused), `${refused} is not offered on a passed stage: ${JSON.stringify(planMenu)}`);

    // From the palette (or a keybinding), the engine's own sentence.
    await vscode.commands.executeCommand('factory.approveStage', { changeId: id, stageId: 'plan' });
    await vscode.commands.executeCommand('notifications.showList');
    await eventually(async () => (await browser.texts('.notification-list-item-message')).some((t) => t.includes('"Plan" has not asked for approval (it is passed)')), 'the engine refusal as a notification');
    await vscode.commands.executeCommand('notifications.clearAll');
    await vscode.commands.executeCommand('notifications.hideList');

    const implementMenu = await menuOf('Implement', (items) => items.includes('Approve Stage'));
    assert.ok(implementMenu.includes('Approve Stage') && implementMenu.includes('Send Stage Back'), JSON.stringify(implementMenu));
    assert.ok(!implementMenu.includes('Stop Stage'), JSON.stringify(implementMenu));
    // Which stage reopens: the earlier one, picked like a person would. A refresh can
    // re-render the row under an open menu and close it: open it again until the pick shows.
    await eventually(async () => {
      if ((await browser.texts('.context-view .monaco-menu .action-label', 1_000)).length === 0) {
        await browser.contextClick(`${SIDEBAR_ROWS}:visible[aria-label^="Implement,"]`, 3_000);
      }
      await browser.click('.context-view .monaco-menu .action-label:has-text("Send Stage Back")', 3_000);
      await browser.waitFor('.quick-input-widget .quick-input-list', 10_000);
      return true;
    }, 'the target-stage pick after Send Stage Back', 60_000);
    await browser.type('Plan');
    await browser.press('Enter');
    await answerQuickInput('The plan forgot the rate limit.');
    const s = await snapshotWhere(await cockpitApi(), (x) => x.current?.id === id && x.current.stages.map((st) => st.status).join() === 'sentBack,pending', 'plan reopened, implement back to pending');
    assert.deepEqual(s.current!.stages[1]!.attempts.map((a) => a.superseded), [true], 'the implement attempt is kept, superseded');
    await browser.screenshot('sent-back-to-plan');
  });

  it('cancels a running stage and leaves no process behind', async () => {
    writePipeline([agentStage('implement')]);
    await agentSteps([{ hang: true }]);
    const id = await newChange('Stop me');
    const api = await cockpitApi();
    const running = vscode.commands.executeCommand<RunReport>('factory.runNext');
    const pidsFile = `${stepsFile}.pids`;
    await eventually(() => existsSync(pidsFile), 'the agent to start');
    const pids = JSON.parse(readFileSync(pidsFile, 'utf8')) as { pid: number; grandchild: number };
    await snapshotWhere(await cockpitApi(), (x) => x.current?.stages[0]?.status === 'running', 'the stage shown running');
    // The status bar follows the record by event: wait for its next render.
    await eventually(() => /Stop me · Implement \$\(sync~spin\)/.test(api.statusBarText()), `the running stage in the status bar (${api.statusBarText()})`);
    await vscode.commands.executeCommand('factory.stopStage');
    const report = await running;
    assert.equal(report?.stopped, 'cancelled');
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await eventually(() => !alive(pids.pid) && !alive(pids.grandchild), 'agent and grandchild gone');
    const finished = (await events(id)).find((e) => isEvent(e, 'attempt.finished'))!;
    assert.equal(finished.data.outcome, 'cancelled');
    assert.equal(finished.data.stoppedBy, 'Dana Developer');
  });

  it('streams a running stage into the live transcript view: text and tool calls as they happen', async () => {
    writePipeline([agentStage('implement')]);
    await agentSteps([{ hang: true, text: 'Writing the reset handler now.', read: ['README.md'], write: { 'src/handler.js': 'export {}\n' } }]);
    await newChange('Watch it live');
    // Only this attempt's panel on screen: the checks below read every webview frame.
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const running = vscode.commands.executeCommand<RunReport>('factory.runNext');
    const texts = await eventually(async () => {
      const found = await browser.frameTexts('factory-transcript .entry.text');
      return found.some((t) => /still working \(\d+\)/.test(t)) ? found : undefined;
    }, 'streamed text in the live transcript', 60_000);
    assert.ok(texts.some((t) => t.includes('Writing the reset handler now.')), JSON.stringify(texts));
    const tools = (await browser.frameTexts('factory-transcript .entry.tool summary')).join('\n');
    assert.match(tools, /Read/);
    assert.match(tools, /Write/);
    assert.match(tools, /src\/handler\.js/);
    const header = (await browser.frameTexts('factory-transcript .header')).join('\n');
    assert.match(header, /running/i);
    await browser.screenshot('transcript-live');
    await vscode.commands.executeCommand('factory.stopStage');
    assert.equal((await running)?.stopped, 'cancelled');
    await eventually(async () => /cancel/i.test((await browser.frameTexts('factory-transcript .header')).join('\n')), 'the outcome in the header');
  });

  it('rolls an attempt back after the confirmation listing its files, and records the rollback', async () => {
    writePipeline([agentStage('implement', { autonomy: 'approve' })]);
    await agentSteps([{ text: 'Rewrote auth.', write: { 'src/auth.js': 'export const broken = true;\n', 'src/extra.js': '// new\n' } }]);
    const before = readFileSync(join(ws, 'src', 'auth.js'), 'utf8');
    const id = await newChange('Undo this');
    const report = await vscode.commands.executeCommand<RunReport>('factory.runNext');
    assert.equal(report?.stopped, 'approval');
    assert.notEqual(readFileSync(join(ws, 'src', 'auth.js'), 'utf8'), before);
    const rollback = vscode.commands.executeCommand<boolean>('factory.rollbackAttempt', { changeId: id, attemptId: report!.attempts[0] });
    try {
      await browser.waitFor('.quick-input-widget .quick-input-list', 20_000);
    } catch (error) {
      await vscode.commands.executeCommand('notifications.showList');
      throw new Error(`no confirmation; notifications: ${JSON.stringify(await browser.texts('.notifications-center .notification-list-item'))}`, { cause: error });
    }
    const confirmation = (await browser.texts('.quick-input-widget')).join('\n');
    assert.match(confirmation, /2 file\(s\) will change/);
    assert.match(confirmation, /reverted: src\/auth\.js/);
    assert.match(confirmation, /removed: src\/extra\.js/);
    await browser.screenshot('rollback-confirmation');
    // Answered like a person, and robust to a busy machine: the filter box has the text before Enter.
    await answerQuickInput('Roll Back');
    const done = await Promise.race([rollback, new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), 60_000))]);
    assert.equal(done, true, 'the confirmed rollback finished');
    assert.equal(readFileSync(join(ws, 'src', 'auth.js'), 'utf8'), before);
    assert.equal(existsSync(join(ws, 'src', 'extra.js')), false);
    const rolled = (await events(id)).find((e) => isEvent(e, 'attempt.rolledBack'))!;
    assert.equal(rolled.data.attemptId, report!.attempts[0]);
  });
});
