// Factory: Open Flow Dashboard — the lead's view of the whole factory. A webview panel
// (src/webview/dashboard.main.ts) drawn from the report the engine computes from the
// team's history (every branch's record and the working folder). This host turns
// webview messages into engine calls: filter, open a change, export, accept an
// autonomy recommendation, promote a lesson. No numbers are computed here.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DashboardFilter, DashboardHostMessage, DashboardWebviewMessage } from '../core/dashboardProtocol';
import { metricsCsv, metricsJson, parseDashboardHostMessage, parseDashboardWebviewMessage, type MetricsReport } from '../engine/metrics';
import type { Cockpit } from './cockpit';
import { webviewHtml, webviewRoots } from './webviewHtml';
import { reportingCommands } from './reportingCommand';

export const DASHBOARD_VIEW_TYPE = 'factory.flowDashboard';

export interface DashboardApi {
  /** The report the panel shows now (tests compare it with the engine's). */
  current(): MetricsReport | undefined;
  /** CSP violations the webview reported. */
  cspViolations(): string[];
}

export function registerDashboard(context: vscode.ExtensionContext, cockpit: Cockpit, log: vscode.LogOutputChannel): { disposables: vscode.Disposable[]; api: DashboardApi } {
  const host = new DashboardHost(context.extensionUri, cockpit, log);
  const run = reportingCommands(log);
  const disposables = [
    host,
    run('factory.openFlowDashboard', () => host.open()),
    run('factory.exportMetrics', (args?: { format?: 'csv' | 'json'; path?: string }) => host.export(args?.format ?? 'json', args?.path)),
  ];
  return { disposables, api: { current: () => host.report, cspViolations: () => [...host.violations] } };
}

class DashboardHost implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private ready = false;
  report: MetricsReport | undefined;
  readonly violations: string[] = [];
  private filter: DashboardFilter = {};
  private stuckDays = 3;
  private readonly timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly cockpit: Cockpit,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(cockpit.onDidChange(() => void (this.panel?.visible ? this.refresh() : undefined)));
  }

  dispose(): void {
    this.panel?.dispose();
    this.disposables.forEach((d) => d.dispose());
  }

  async open(): Promise<void> {
    if (this.panel) {
      this.panel.reveal();
      return;
    }
    const panel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, 'Flow Dashboard', vscode.ViewColumn.Active, { enableScripts: true, retainContextWhenHidden: true, localResourceRoots: webviewRoots(this.extensionUri) });
    this.panel = panel;
    this.ready = false;
    panel.webview.html = webviewHtml(panel.webview, this.extensionUri, { element: 'factory-dashboard', script: 'dashboard', stylesheet: 'dashboard.css', title: 'Flow Dashboard' });
    const sub = panel.webview.onDidReceiveMessage((raw: unknown) => void this.onMessage(raw));
    panel.onDidDispose(() => {
      sub.dispose();
      if (this.panel === panel) this.panel = undefined;
    });
    await this.refresh();
  }

  private post(message: DashboardHostMessage): void {
    if (!this.panel || !this.ready) return;
    const checked = parseDashboardHostMessage(message);
    if (!checked.ok) {
      this.log.error(checked.error);
      return;
    }
    void this.panel.webview.postMessage(checked.message);
  }

  private async refresh(): Promise<void> {
    try {
      const started = Date.now();
      const { facts: _facts, ...report } = await this.cockpit.factory.teamReport({ filter: this.filter, stuckDays: this.stuckDays, timeZone: this.timeZone });
      this.report = report;
      this.log.info(`Flow dashboard: ${report.metrics.changes} changes from ${report.history.stats.refs} branches (${report.history.stats.refolded} re-read) in ${Date.now() - started} ms`);
      this.postState();
    } catch (error) {
      this.log.error(`Flow dashboard: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      this.post({ type: 'notice', level: 'error', text: error instanceof Error ? error.message : String(error) });
    }
  }

  private postState(): void {
    if (!this.report) return;
    this.post({ type: 'state', report: this.report as unknown as Extract<DashboardHostMessage, { type: 'state' }>['report'], filter: this.filter, stuckDays: this.stuckDays, timeZone: this.timeZone });
  }

  private async onMessage(raw: unknown): Promise<void> {
    const parsed = parseDashboardWebviewMessage(raw);
    if (!parsed.ok) {
      this.log.warn(parsed.error);
      return;
    }
    try {
      await this.handle(parsed.message);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      this.log.error(`Flow dashboard ${parsed.message.type}: ${text}`);
      this.post({ type: 'notice', level: 'error', text });
    }
  }

  private async handle(message: DashboardWebviewMessage): Promise<void> {
    switch (message.type) {
      case 'ready':
        this.ready = true;
        this.postState();
        return;
      case 'setFilter':
        this.filter = message.filter;
        this.stuckDays = message.stuckDays;
        this.post({ type: 'loading' });
        await this.refresh();
        return;
      case 'openChange': {
        // The review of the change when the review panel is there, else its stage tree.
        const commands = await vscode.commands.getCommands(true);
        if (commands.includes('factory.reviewChange')) await vscode.commands.executeCommand('factory.reviewChange', { changeId: message.changeId, ...(message.ref ? { ref: message.ref } : {}) });
        else if (!message.ref) await vscode.commands.executeCommand('factory.switchChange', message.changeId);
        else throw new Error(`That change lives on ${message.ref}: check it out to open it in the Stages view.`);
        return;
      }
      case 'export':
        await this.export(message.format);
        return;
      case 'accept': {
        const evidence = this.report?.autonomy.evidence.find((e) => e.stageId === message.stageId && e.owner === message.owner);
        const recommendation = this.report?.autonomy.recommendations.find((r) => r.stageId === message.stageId && r.owner === message.owner && r.action === message.action);
        await this.cockpit.factory.decideAutonomy({
          stageId: message.stageId,
          action: message.action,
          owner: message.owner,
          ...(evidence ? { evidence: { n: evidence.n, firstPass: evidence.firstPass, interval: evidence.interval, sendBacks: evidence.sendBacks, rollbacks: evidence.rollbacks, changes: evidence.visits.map((v) => v.changeId) } } : {}),
          ...(recommendation ? { note: recommendation.why } : {}),
        });
        this.post({ type: 'notice', level: 'info', text: `${message.action === 'grant' ? 'Granted auto-advance to' : 'Revoked auto-advance of'} ${message.stageId}.` });
        await this.cockpit.refresh();
        await this.refresh();
        return;
      }
      case 'promoteLesson': {
        const lesson = this.report?.lessons.find((l) => l.id === message.lessonId);
        if (!lesson) throw new Error('That lesson is no longer proposed; refresh the dashboard.');
        const result = await this.cockpit.factory.promoteLesson({ lessonId: lesson.id, text: lesson.text, stageId: lesson.stageId, kind: lesson.kind, examples: lesson.examples.map((e) => ({ changeId: e.changeId, reason: e.reason })) });
        this.post({ type: 'notice', level: 'info', text: `Promoted into ${result.target}.` });
        await this.refresh();
        return;
      }
      case 'cspViolation':
        this.violations.push(`${message.directive}: ${message.blocked}`);
        this.log.warn(`Flow dashboard: Content-Security-Policy violation (${message.directive}: ${message.blocked})`);
        return;
    }
  }

  async export(format: 'csv' | 'json', target?: string): Promise<string | undefined> {
    if (!this.report) {
      const { facts, ...report } = await this.cockpit.factory.teamReport({ filter: this.filter, stuckDays: this.stuckDays, timeZone: this.timeZone });
      this.report = report;
      void facts;
    }
    const report = this.report;
    let file = target;
    if (!file) {
      const uri = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(this.cockpit.factory.root, `factory-metrics.${format}`)), filters: format === 'csv' ? { CSV: ['csv'] } : { JSON: ['json'] } });
      if (!uri) return undefined;
      file = uri.fsPath;
    }
    if (format === 'json') await fs.writeFile(file, metricsJson(report));
    else {
      // One file per table: <name>.csv is the changes, <name>-stages.csv and <name>-weekly.csv beside it.
      const csv = metricsCsv(report);
      const base = file.replace(/\.csv$/i, '');
      await fs.writeFile(`${base}.csv`, csv.changes);
      await fs.writeFile(`${base}-stages.csv`, csv.stages);
      await fs.writeFile(`${base}-weekly.csv`, csv.weekly);
    }
    this.log.info(`Flow dashboard: exported ${format} to ${file}`);
    return file;
  }
}
