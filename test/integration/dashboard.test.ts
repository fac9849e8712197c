// The lead's Flow Dashboard in a real VS Code, on a generated team history: the
// teammates' branches are fetched into the sample workspace as remote-tracking
// branches (as a pull would), so the dashboard reads them through git objects. Its
// headline numbers equal the engine's computation, its charts and table are drawn
// without a single CSP violation, in light and dark themes; a row opens the change;
// exports are valid CSV and JSON; accepting a recommendation records it and the Stages
// view shows it; promoting a lesson writes it into the conventions and the open change's pack.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { writeSampleHistory } from '../../scripts/sample-history';
import { teamMetrics } from '../../src/engine/metrics';
import { effectiveAutonomy } from '../../src/core/autonomy';
import { FileRecordStore } from '../../src/store/recordStore';
import { DecisionLog } from '../../src/store/decisionLog';
import { foldContextPack, sha256Hex } from '../../src/core/contextPack';
import { browser, eventually, runConfig } from './support/driver';
import { cockpitApi, snapshotWhere } from './support/cockpit';
import { assertNoCspViolation } from './support/csp';

const EL = 'factory-dashboard';
const pct = (x: number | undefined) => (x === undefined ? '—' : `${Math.round(x * 100)}%`);

describe('Flow dashboard', function () {
  this.timeout(300_000);
  const config = runConfig();
  const ws = config.workspace;
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  // The engine's computation, made here without the editor (the same functions the panel's host calls).
  const engineReport = async () => {
    const store = new FileRecordStore(ws);
    const { pipeline } = await store.loadPipeline();
    return teamMetrics({ root: ws, pipeline: pipeline!, store, useGit: true }, { timeZone: tz, stuckDays: 3 });
  };
  const stageAutonomy = async () => effectiveAutonomy((await new FileRecordStore(ws).loadPipeline()).pipeline!, (await new DecisionLog(ws).read()).events);

  before(async () => {
    // The team's history, made elsewhere and fetched here as remote-tracking branches.
    const team = mkdtempSync(join(os.tmpdir(), 'team-'));
    await writeSampleHistory(join(team, 'repo'), { changes: 30, weeks: 8, branches: 6, seed: 3 });
    execFileSync('git', ['fetch', '-q', join(team, 'repo'), '+refs/heads/*:refs/remotes/team/*', '+refs/remotes/origin/*:refs/remotes/team-origin/*'], { cwd: ws });
    // A policy that a small history can satisfy, so a recommendation shows.
    const pipelinePath = join(ws, '.factory', 'pipeline.json');
    const pipeline = JSON.parse(readFileSync(pipelinePath, 'utf8'));
    pipeline.autonomyPolicy = { minSample: 3, threshold: 0.3, window: 20 };
    writeFileSync(pipelinePath, JSON.stringify(pipeline, null, 2));
    await cockpitApi();
  });

  async function openDashboard(): Promise<void> {
    await vscode.commands.executeCommand('factory.openFlowDashboard');
    await eventually(async () => (await browser.frameEval(`${EL}[data-changes]`, 'tagName')).length > 0, 'the dashboard to draw', 120_000);
  }

  it('shows the headline numbers the engine computes, the charts and the table, with no CSP violation', async () => {
    await openDashboard();
    const report = await engineReport();
    assert.ok(report.metrics.changes >= 32, `every change of every branch (${report.metrics.changes})`);
    assert.ok(report.history.stats.refs > 3);
    const signal = (await browser.frameTexts(`${EL} [data-headline="signal"] .n`))[0];
    assert.equal(signal, pct(report.metrics.headline.signalShare));
    assert.equal((await browser.frameTexts(`${EL} [data-headline="firstPass"] .n`))[0], pct(report.metrics.headline.firstPassRate));
    assert.equal((await browser.frameTexts(`${EL} [data-headline="wip"] .n`))[0], String(report.metrics.headline.wip));
    assert.equal((await browser.frameEval(`${EL} figure[data-chart] svg`, 'tagName')).length, 6, 'six charts');
    assert.ok((await browser.frameEval(`${EL} figure[data-chart] svg polyline, ${EL} figure[data-chart] svg rect, ${EL} figure[data-chart] svg polygon`, 'tagName')).length > 10, 'the charts have marks');
    const rows = await browser.frameEval(`${EL} tr.row[data-change]`, 'tagName');
    assert.ok(rows.length > 10 && rows.length < report.metrics.rows.length + 1, `the table draws a window of rows (${rows.length})`);
    // A chart as a table.
    await browser.frameClick(`${EL} button[data-toggle="signal"]`);
    await eventually(async () => (await browser.frameEval(`${EL} figure[data-chart="signal"] table`, 'tagName')).length === 1, 'the signal chart as a table');
    await browser.frameClick(`${EL} button[data-toggle="signal"]`);
    await assertNoCspViolation(EL, 'while the dashboard draws');
  });

  it('looks right in dark and light themes (screenshots)', async () => {
    const settings = vscode.workspace.getConfiguration();
    const original = settings.inspect<string>('workbench.colorTheme')?.globalValue;
    try {
      for (const [theme, name, bodyClass] of [
        ['Default Dark Modern', 'dashboard-dark', 'vscode-dark'],
        ['Default Light Modern', 'dashboard-light', 'vscode-light'],
      ] as const) {
        await settings.update('workbench.colorTheme', theme, vscode.ConfigurationTarget.Global);
        await eventually(async () => ((await browser.frameEval('body', 'className')) as string[]).some((c) => c.includes(bodyClass)), `the webview to take the ${theme} theme`);
        await openDashboard();
        await new Promise((r) => setTimeout(r, 800));
        await browser.screenshot(name);
      }
    } finally {
      await settings.update('workbench.colorTheme', original, vscode.ConfigurationTarget.Global);
    }
    await assertNoCspViolation(EL, 'while the dashboard draws');
  });

  it('a row opens its change', async () => {
    await openDashboard();
    const { otherChangeId } = config.sample;
    await browser.frameClick(`${EL} input[type="search"]`);
    await browser.type(otherChangeId);
    await eventually(async () => (await browser.frameEval(`${EL} tr.row[data-change="${otherChangeId}"]`, 'tagName')).length === 1, 'the filtered row');
    await browser.frameClick(`${EL} tr.row[data-change="${otherChangeId}"]`);
    const commands = await vscode.commands.getCommands(true);
    if (commands.includes('factory.reviewChange')) {
      await eventually(() => vscode.window.tabGroups.all.flatMap((g) => g.tabs).some((t) => t.label.startsWith('Review') && t.isActive), 'the change’s review to open', 60_000);
      await browser.screenshot('dashboard-row-opens-review');
      // A change only on a teammate's branch opens from that branch.
      await openDashboard();
      const remote = (await engineReport()).metrics.rows.find((r) => !r.local && r.branches.some((b) => b.startsWith('team')));
      assert.ok(remote);
      await browser.frameClick(`${EL} input[type="search"]`);
      await browser.press('Control+A');
      await browser.type(remote.id);
      await browser.frameClick(`${EL} tr.row[data-change="${remote.id}"]`);
      await eventually(() => vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.label.startsWith('Review')).length >= 2, 'the remote change’s review to open', 60_000);
    } else {
      const api = await cockpitApi();
      await snapshotWhere(api, (s) => s.current?.id === otherChangeId, 'the change to open in the Stages view', 30_000);
    }
  });

  it('exports valid CSV and JSON with the same numbers', async () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'export-'));
    await vscode.commands.executeCommand('factory.exportMetrics', { format: 'json', path: join(dir, 'm.json') });
    const json = JSON.parse(readFileSync(join(dir, 'm.json'), 'utf8'));
    const report = await engineReport();
    assert.equal(json.metrics.headline.signalShare, report.metrics.headline.signalShare);
    assert.equal(json.metrics.changes, report.metrics.changes);
    await vscode.commands.executeCommand('factory.exportMetrics', { format: 'csv', path: join(dir, 'm.csv') });
    const lines = readFileSync(join(dir, 'm.csv'), 'utf8').trimEnd().split('\r\n');
    assert.equal(lines.length, report.metrics.rows.length + 1);
    assert.match(lines[0]!, /^id,title,/);
    const stages = readFileSync(join(dir, 'm-stages.csv'), 'utf8').trimEnd().split('\r\n');
    assert.equal(stages.length, report.metrics.stages.length + report.metrics.stageOwners.length + 1);
  });

  it('accepting a recommendation records it, with the evidence, and the Stages view shows it', async () => {
    await openDashboard();
    const report = await engineReport();
    const grant = report.autonomy.recommendations.find((r) => r.action === 'grant');
    assert.ok(grant, `a grant is recommended (${JSON.stringify(report.autonomy.evidence.map((e) => [e.stageId, e.owner, e.n, e.interval.low]))})`);
    await browser.frameClick(`${EL} vscode-button[data-accept="${grant.stageId}:grant"]`);
    const event = await eventually(async () => (await new DecisionLog(ws).read()).events.find((e) => e.type === 'autonomy.granted'), 'the grant to be recorded', 30_000);
    assert.equal((event.data as { stageId: string }).stageId, grant.stageId);
    assert.ok((event.data as { evidence?: { n?: number } }).evidence?.n);
    assert.ok(event.by?.name);
    const autonomy = await stageAutonomy();
    assert.equal(autonomy.find((s) => s.stageId === grant.stageId)?.effective, 'auto');
    await vscode.commands.executeCommand('factory.stages.focus');
    await eventually(async () => (await browser.texts('.part.sidebar .monaco-list-row')).some((t) => /auto-advance/.test(t)), 'the Stages view to show the stage’s auto-advance', 30_000);
    await browser.screenshot('dashboard-autonomy-stages');
  });

  it('promoting a lesson writes it into the conventions and records it', async () => {
    await openDashboard();
    const report = await engineReport();
    const lesson = report.lessons.find((l) => !l.promoted);
    assert.ok(lesson, 'a lesson is proposed');
    await browser.frameClick(`${EL} vscode-button[data-promote="${lesson.id}"]`);
    await eventually(async () => (await new DecisionLog(ws).read()).events.some((e) => e.type === 'lesson.promoted' && (e.data as { lessonId: string }).lessonId === lesson.id), 'the promotion to be recorded', 30_000);
    const conventions = readFileSync(join(ws, '.factory', 'conventions.md'), 'utf8');
    assert.ok(conventions.includes(lesson.text.replace(/\s+/g, ' ').trim()));
    // The open change's next stage gets it: its pack holds the conventions file as it is now.
    const pack = foldContextPack((await new FileRecordStore(ws).readChange(config.sample.mainChangeId)).events);
    const item = pack.items.find((i) => i.kind === 'convention' && i.source.path === '.factory/conventions.md');
    assert.equal(item?.contentHash, sha256Hex(conventions), 'the pack carries the promoted lesson');
  });
});
