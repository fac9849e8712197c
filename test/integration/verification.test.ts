// Verification in a real VS Code: criteria added to the sample's pipeline show in the
// Testing view, run from the Testing API and the Verify commands with real processes
// (a `node --test` run writing JUnit), land in the record bound to the working tree,
// go stale after an edit in every view, turn fresh on a re-run, and their evidence is
// checked against its hash.
import * as assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { browser, eventually, runConfig } from './support/driver';
import { cockpitApi, snapshotWhere } from './support/cockpit';

const SIDEBAR_ROWS = '.part.sidebar .monaco-list-row';
/** A visible row of the side bar showing `text` (the Testing view's rows carry no aria-label of their own). */
const row = (text: string) => `${SIDEBAR_ROWS}:visible:has-text(${JSON.stringify(text)})`;
const iconClasses = async (text: string) => (await browser.attributes(`${row(text)} .computed-state`, 'class')).map((c) => c ?? '');
const NODE = process.execPath;

const MATH_TESTS = (expected: number) => `import test from 'node:test';
import assert from 'node:assert';
test('adds', () => assert.equal(1 + 1, 2));
test('compares', () => assert.strictEqual(1 + 1, ${expected}));
`;

interface RecordedEvent {
  id: string;
  type: string;
  data: { stageId: string; criterionId: string; outcome: string; verified?: { tree?: string }; evidence: { sha256: string; name: string }[] };
}

describe('Verification (Testing view, Verify commands, freshness, evidence)', () => {
  const config = runConfig();
  const { mainChangeId } = config.sample;
  const ws = config.workspace;
  const eventsDir = join(ws, '.factory', 'changes', mainChangeId, 'events');

  const verifications = (): RecordedEvent[] =>
    readdirSync(eventsDir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => JSON.parse(readFileSync(join(eventsDir, f), 'utf8')) as RecordedEvent)
      .filter((e) => e.type === 'verification.recorded' && e.data.stageId === 'implement');

  const implementOf = (s: ReturnType<Awaited<ReturnType<typeof cockpitApi>>['snapshot']>) => s.current?.stages.find((st) => st.id === 'implement');

  before(async () => {
    const api = await cockpitApi();
    await snapshotWhere(api, (s) => s.current?.id === mainChangeId, 'the sample change to be current');
    // Reports are build output: ignored, so writing one does not change the verified tree.
    writeFileSync(join(ws, '.gitignore'), 'reports/\n');
    mkdirSync(join(ws, 'reports'), { recursive: true });
    writeFileSync(join(ws, 'math.test.mjs'), MATH_TESTS(3));
    const pipelineFile = join(ws, '.factory', 'pipeline.json');
    const pipeline = JSON.parse(readFileSync(pipelineFile, 'utf8')) as { stages: { id: string; verification?: unknown[] }[] };
    pipeline.stages.find((s) => s.id === 'implement')!.verification = [
      // Slow enough for the "verifying" state to be seen.
      { id: 'builds', title: 'Builds', kind: 'command', argv: [NODE, '-e', 'setTimeout(() => console.log("build ok"), 1500)'] },
      {
        id: 'unit',
        title: 'Unit tests',
        kind: 'testReport',
        argv: [NODE, '--test', '--test-reporter=junit', '--test-reporter-destination=reports/junit.xml', 'math.test.mjs'],
        reports: ['reports/junit.xml'],
      },
    ];
    writeFileSync(pipelineFile, JSON.stringify(pipeline, null, 2));
    await vscode.commands.executeCommand('factory.refresh');
    await snapshotWhere(api, (s) => s.pipeline?.stages.find((st) => st.id === 'implement')?.verification.length === 2, 'the pipeline with the new criteria');
  });

  it('lists each stage’s criteria as tests in the Testing view', async () => {
    await vscode.commands.executeCommand('workbench.view.testing.focus');
    const rows = await eventually(async () => {
      const texts = await browser.texts(`${SIDEBAR_ROWS}:visible`);
      return texts.some((t) => /^Implement\s*stage ·/.test(t)) ? texts : undefined;
    }, 'stage rows in the Testing view');
    assert.ok(rows.some((t) => /^Plan\s*stage · passed/.test(t)), JSON.stringify(rows));
    // Stages without criteria (Implement had none before) are not listed.
    assert.ok(!rows.some((t) => /^Test\s*stage/.test(t)), JSON.stringify(rows));
    // Expand Implement to see its criteria with kind and required/advisory.
    await browser.click(row('Implement'));
    await browser.press('ArrowRight');
    const texts = await eventually(async () => {
      const t = await browser.texts(`${SIDEBAR_ROWS}:visible`);
      return t.some((x) => x.includes('Unit tests')) ? t : undefined;
    }, 'criteria rows');
    assert.ok(texts.some((t) => /Builds\s*command · required/.test(t)), JSON.stringify(texts));
    assert.ok(texts.some((t) => /Unit tests\s*test report · required/.test(t)), JSON.stringify(texts));
  });

  it('runs them from the Testing API: results in the record, the snapshot and the view', async () => {
    const api = await cockpitApi();
    const before = verifications().length;
    const running = vscode.commands.executeCommand('testing.runAll');
    // While it runs, the status bar says so.
    await eventually(() => /verifying \d\/2/.test(api.statusBarText()), 'the verifying state in the status bar');
    await running;
    const recorded = await eventually(() => {
      const v = verifications().slice(before);
      return v.length >= 2 ? v : undefined;
    }, 'two verification.recorded events', 60_000);
    assert.deepEqual(recorded.map((e) => [e.data.criterionId, e.data.outcome]), [
      ['builds', 'passed'],
      ['unit', 'failed'],
    ]);
    assert.match(recorded[0]!.data.verified?.tree ?? '', /^[0-9a-f]{40}$/);
    const s = await snapshotWhere(api, (x) => implementOf(x)?.results.some((r) => r.criterionId === 'unit') === true && x.current?.verification.state === 'failed', 'the failed verification in the snapshot');
    assert.deepEqual(s.current!.verification, { state: 'failed', passed: 1, failed: 1, stale: 0, total: 2 });
    assert.equal(s.currentTree, recorded[0]!.data.verified?.tree);
    await eventually(() => /\$\(error\) 1\/2 failed/.test(api.statusBarText()), `"1/2 failed" in the status bar (${api.statusBarText()})`);

    // Pass and fail icons in the Testing view.
    await vscode.commands.executeCommand('workbench.view.testing.focus');
    await eventually(async () => (await iconClasses('Builds')).some((c) => /testing-passed-icon/.test(c)), 'a passed icon on Builds');
    await eventually(async () => (await iconClasses('Unit tests')).some((c) => /testing-failed-icon/.test(c)), 'a failed icon on Unit tests');
    await browser.screenshot('testing-view');
  });

  it('shows the failing test with its expected/actual diff in the test results', async () => {
    await vscode.commands.executeCommand('testing.showMostRecentOutput');
    const texts = await eventually(async () => {
      const t = await browser.texts('.monaco-workbench .test-output-peek-tree .monaco-list-row, .monaco-workbench .testing-result-tree .monaco-list-row, .pane-body .monaco-list-row');
      return t.some((x) => x.includes('compares')) ? t : undefined;
    }, 'the failing case in the results tree', 20_000);
    assert.ok(texts.some((t) => /compares: Expected values to be strictly equal/.test(t)), JSON.stringify(texts));
    await browser.screenshot('testing-results');
  });

  it('re-runs from Verify Change after a fix: fresh and green everywhere', async () => {
    const api = await cockpitApi();
    writeFileSync(join(ws, 'math.test.mjs'), MATH_TESTS(2));
    const result = await vscode.commands.executeCommand<{ passed: boolean; results: { criterionId: string; outcome: string }[] }>('factory.verifyChange');
    assert.ok(result, 'the command returns its outcome');
    assert.equal(result.passed, true, JSON.stringify(result));
    assert.deepEqual(result.results.map((r) => [r.criterionId, r.outcome]), [
      ['builds', 'passed'],
      ['unit', 'passed'],
    ]);
    const s = await snapshotWhere(api, (x) => x.current?.verification.state === 'passed', 'a passed verification');
    assert.deepEqual(s.current!.verification, { state: 'passed', passed: 2, failed: 0, stale: 0, total: 2 });
    await eventually(() => /\$\(pass\) 2\/2 passed/.test(api.statusBarText()), `"2/2 passed" in the status bar (${api.statusBarText()})`);
    // The record's results reach the Testing view too.
    await vscode.commands.executeCommand('workbench.view.testing.focus');
    await eventually(async () => (await iconClasses('Unit tests')).some((c) => /testing-passed-icon/.test(c) && !/retired/.test(c)), 'a passed icon on Unit tests');
  });

  it('an edit after a green run makes it stale in the snapshot, the status bar and the Testing view', async () => {
    const api = await cockpitApi();
    const treeBefore = api.snapshot().currentTree;
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(join(ws, 'src', 'auth.js')));
    const editor = await vscode.window.showTextDocument(doc);
    await editor.edit((b) => b.insert(new vscode.Position(0, 0), '// reviewed\n'));
    await doc.save();
    const s = await snapshotWhere(api, (x) => x.current?.verification.state === 'stale', 'a stale verification', 20_000);
    assert.notEqual(s.currentTree, treeBefore);
    assert.deepEqual(s.current!.verification, { state: 'stale', passed: 0, failed: 0, stale: 2, total: 2 });
    await eventually(() => /\$\(history\) 2 stale/.test(api.statusBarText()), `"2 stale" in the status bar (${api.statusBarText()})`);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    await vscode.commands.executeCommand('workbench.view.testing.focus');
    await eventually(async () => (await iconClasses('Unit tests')).some((c) => /testing-passed-icon/.test(c) && /retired/.test(c)), 'the outdated (retired) result on Unit tests');
    await browser.screenshot('testing-view-stale');
  });

  it('re-runs from the Stages view’s inline Verify Stage action: fresh again', async function () {
    // A real verification run (a build and a test command) on a busy 2-core machine.
    this.timeout(180_000);
    const api = await cockpitApi();
    const before = verifications().length;
    await vscode.commands.executeCommand('factory.showStages');
    const stageRow = `${SIDEBAR_ROWS}:visible[aria-label^="Implement"]`;
    await eventually(async () => (await browser.attributes(stageRow, 'aria-label')).length > 0, 'the Implement row');
    // Inline actions show on the selected row; a refresh (the tree hash of the previous
    // test's edit) can re-render the rows in between, so select and click as one step.
    await eventually(async () => {
      await browser.click(stageRow, 3_000);
      await browser.click(`${stageRow} .action-label[aria-label="Verify Stage"]`, 3_000);
      return true;
    }, 'the inline Verify Stage action clicked', 30_000);
    await eventually(() => verifications().length >= before + 2, 'two more verification.recorded events', 60_000);
    const s = await snapshotWhere(api, (x) => x.current?.verification.state === 'passed', 'fresh and passed again', 20_000);
    const tree = s.currentTree;
    assert.ok(verifications().slice(before).every((e) => e.data.verified?.tree === tree));
    await eventually(() => /\$\(pass\) 2\/2 passed/.test(api.statusBarText()), `"2/2 passed" in the status bar (${api.statusBarText()})`);
  });

  it('Verify Evidence reports every file matching, then names a tampered one', async () => {
    const clean = await vscode.commands.executeCommand<{ checked: number; mismatches: unknown[] }>('factory.verifyEvidence');
    assert.ok(clean && clean.checked >= 4, JSON.stringify(clean));
    assert.deepEqual(clean.mismatches, []);
    await vscode.commands.executeCommand('notifications.showList');
    await eventually(async () => (await browser.texts('.notification-list-item-message')).some((t) => new RegExp(`all ${clean.checked} evidence files match`).test(t)), 'the all-match notification');
    await vscode.commands.executeCommand('notifications.clearAll');

    const stdout = verifications()
      .flatMap((e) => e.data.evidence)
      .find((e) => e.name === 'builds.stdout.log')!;
    const rel = `.factory/evidence/${stdout.sha256.slice(0, 2)}/${stdout.sha256.slice(2)}`;
    writeFileSync(join(ws, rel), 'build FAILED\n');
    const tampered = await vscode.commands.executeCommand<{ checked: number; mismatches: { path: string; problem: string; names: string[] }[] }>('factory.verifyEvidence');
    assert.deepEqual(tampered!.mismatches.map((m) => [m.path, m.problem, m.names]), [[rel, 'altered', ['builds.stdout.log']]]);
    await vscode.commands.executeCommand('notifications.showList');
    await eventually(async () => (await browser.texts('.notification-list-item-message')).some((t) => t.includes(rel) && /do not match their hash/.test(t)), 'the mismatch notification naming the file');
    await browser.screenshot('verify-evidence-mismatch');
    await vscode.commands.executeCommand('notifications.clearAll');
    await vscode.commands.executeCommand('notifications.hideList');
  });
});
